"""Key resolution order, URLs, timeouts and secret hygiene of the settings."""

from __future__ import annotations

import base64
import logging

import pytest

from arli import DEFAULT_BASE_URL, ArliConfigError, ArliSettings, TextClient

FAKE = "sk-arli-FAKE-0123456789abcdef-SECRET"


def test_explicit_argument_wins_over_everything() -> None:
    env = {"ARLI_TEXT_KEY": "env-text", "ARLI_IMAGE_KEY": "env-img", "ARLIAI_API_KEY": "env-all"}
    s = ArliSettings.resolve(api_key="arg-all", image_api_key="arg-img", env=env)
    assert s.text_api_key is not None
    assert s.text_api_key.get_secret_value() == "arg-all"
    assert s.image_api_key is not None
    assert s.image_api_key.get_secret_value() == "arg-img"


def test_specific_env_then_shared_env() -> None:
    s = ArliSettings.resolve(env={"ARLI_TEXT_KEY": "t", "ARLIAI_API_KEY": "shared"})
    assert s.text_api_key is not None
    assert s.text_api_key.get_secret_value() == "t"
    assert s.image_api_key is not None
    assert s.image_api_key.get_secret_value() == "shared"


def test_blank_values_are_ignored() -> None:
    s = ArliSettings.resolve(api_key="  ", env={"ARLI_TEXT_KEY": "", "ARLIAI_API_KEY": "k"})
    assert s.text_api_key is not None
    assert s.text_api_key.get_secret_value() == "k"


def test_missing_key_is_a_clear_error_before_any_request() -> None:
    s = ArliSettings.resolve(env={})
    with pytest.raises(ArliConfigError) as info:
        s.require_api_key("text")
    assert "ARLI_TEXT_KEY" in str(info.value)
    assert "ARLIAI_API_KEY" in str(info.value)
    with pytest.raises(ArliConfigError):
        TextClient(settings=s)


def test_keyless_when_not_required() -> None:
    s = ArliSettings.resolve(env={}, require_key=False)
    assert s.authorization_for("text") is None


def test_base_urls_and_overrides() -> None:
    s = ArliSettings.resolve(env={})
    assert s.base_url_for("text") == DEFAULT_BASE_URL
    s = ArliSettings.resolve(
        env={"ARLI_BASE_URL": "http://gw.example/api/", "ARLI_IMAGE_BASE_URL": "http://img:9/"}
    )
    assert s.base_url_for("text") == "http://gw.example/api"
    assert s.base_url_for("image") == "http://img:9"
    s = ArliSettings.resolve(base_url="https://api.arliai.com/v1/", env={})
    assert s.base_url_for("text") == "https://api.arliai.com"
    s = ArliSettings.resolve(text_base_url="http://127.0.0.1:8000", env={})
    assert s.base_url_for("text") == "http://127.0.0.1:8000"
    assert s.base_url_for("image") == DEFAULT_BASE_URL


@pytest.mark.parametrize("url", ["api.arliai.com", "ftp://x.y", "http://", "http://h/?k=1", ""])
def test_bad_urls_are_rejected(url: str) -> None:
    with pytest.raises(ArliConfigError):
        ArliSettings.resolve(base_url=url or " ", env={})


def test_invalid_option_is_a_config_error() -> None:
    with pytest.raises(ArliConfigError, match="max_retries"):
        ArliSettings.resolve(env={}, max_retries=-1)


def test_timeouts_defaults() -> None:
    s = ArliSettings()
    assert s.connect_timeout == 10
    assert s.read_timeout("image") == 300
    assert s.read_timeout("listing") == 30
    assert s.read_timeout("text") > 0


def test_bearer_and_basic_headers() -> None:
    s = ArliSettings.resolve(api_key="k1", env={})
    auth = s.authorization_for("text")
    assert auth is not None
    assert auth.get_secret_value() == "Bearer k1"
    s = ArliSettings.resolve(api_key="k1", env={}, image_auth="basic")
    auth = s.authorization_for("image")
    assert auth is not None
    assert auth.get_secret_value() == "Basic " + base64.b64encode(b"k1").decode()
    text_auth = s.authorization_for("text")
    assert text_auth is not None
    assert text_auth.get_secret_value() == "Bearer k1"  # basic applies to images only
    s = ArliSettings.resolve(api_key="k1", env={}, image_auth="basic", basic_auth_username="u")
    auth = s.authorization_for("image")
    assert auth is not None
    assert auth.get_secret_value() == "Basic " + base64.b64encode(b"u:k1").decode()


def test_key_never_in_repr_dump_json_pickle_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s = ArliSettings.resolve(api_key=FAKE, env={})
    client = TextClient(settings=s)
    texts = [
        repr(s),
        str(s),
        s.model_dump_json(),
        str(s.model_dump()),
        repr(client),
        repr(client.transport),
        s.key_fingerprint("text"),
    ]
    for text in texts:
        assert FAKE not in text
        assert "0123456789abcdef" not in text
    assert FAKE not in caplog.text


# -- the keyless proxy and parallel limits -------------------------------------------------------


def test_the_proxy_never_gets_a_key_and_has_the_documented_limits() -> None:
    env = {"ARLIAI_API_KEY": FAKE, "ARLI_TEXT_KEY": FAKE, "ARLI_PROXY_BASE_URL": "http://p/api"}
    s = ArliSettings.resolve(provider="arli-proxy", api_key=FAKE, text_api_key=FAKE, env=env)
    assert s.text_api_key is None
    assert s.image_api_key is None
    assert s.authorization_for("text") is None
    assert s.base_url_for("text") == "http://p/api"
    assert s.max_concurrency_for("text") == s.max_concurrency_for("image") == 6
    assert ArliSettings.resolve(api_key="k", env={}).max_concurrency_for("text") is None


@pytest.mark.parametrize("name", ["text_max_concurrency", "image_max_concurrency"])
def test_parallel_limits_are_checked_against_the_provider(name: str) -> None:
    with pytest.raises(ArliConfigError, match=f"{name}=0 would let no request through"):
        ArliSettings.resolve(api_key="k", env={}, **{name: 0})
    with pytest.raises(ArliConfigError, match=f"{name}=7 is more than the keyless Arli proxy"):
        ArliSettings.resolve(provider="arli-proxy", env={}, **{name: 7})
    assert (
        ArliSettings.resolve(api_key="k", env={}, **{name: 50}).max_concurrency_for(
            "text" if name.startswith("text") else "image"
        )
        == 50
    )  # Arli's own text limit is per plan: not capped here


def test_text_and_images_share_one_limiter_on_the_proxy_only() -> None:
    from arli import ImageClient

    proxy_text = TextClient(provider="arli-proxy", base_url="http://proxy.test/api")
    proxy_images = ImageClient(provider="arli-proxy", base_url="http://proxy.test/api")
    assert proxy_text.transport.limiter is proxy_images.transport.limiter
    arli_text = TextClient(api_key="k", base_url="http://arli.test", max_concurrent_requests=6)
    arli_images = ImageClient(api_key="k", base_url="http://arli.test")
    assert arli_text.transport.limiter is not None
    assert arli_text.transport.limiter is not arli_images.transport.limiter


def test_max_concurrent_requests_is_the_text_limit() -> None:
    client = TextClient(api_key="k", base_url="http://limit.test", max_concurrent_requests=3)
    assert client.settings.text_max_concurrency == 3
    with pytest.raises(ArliConfigError, match=r"max_concurrent_requests=-2 .* integer >= 1"):
        TextClient(api_key="k", max_concurrent_requests=-2)
    with pytest.raises(ArliConfigError, match="max_concurrent_requests=True is not a number"):
        TextClient(api_key="k", max_concurrent_requests=True)
    with pytest.raises(ArliConfigError, match="unknown provider 'nope'"):
        TextClient(api_key="k", provider="nope", max_concurrent_requests=2)
