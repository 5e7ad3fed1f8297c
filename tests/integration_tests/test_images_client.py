"""ImageClient against the reference server: routes, concurrency, faults, auth, inputs.

The reference server speaks SDNext's wire format (JPEG by default, ``info`` as a JSON
string, 429 above its parallel cap with ``Retry-After: 1``).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from PIL import Image

from arli import (
    ArliTimeoutError,
    AuthenticationError,
    ImageClient,
    ImageRoutes,
    NotFoundError,
    UnprocessableEntityError,
)
from tests.helpers import FIXTURES, QuietFiles, serve_http
from tests.reference_server import Fault, ReferenceServer

KEY = "test-key"
INIT = FIXTURES / "image_api" / "init_96x64.png"
MASK = FIXTURES / "image_api" / "mask_96x64.png"
MASK_SMALL = FIXTURES / "image_api" / "mask_48x32_rgba.png"
SMALL = {"width": 64, "height": 64, "steps": 4}


def client_for(server: ReferenceServer, **options: Any) -> ImageClient:
    options.setdefault("retry_initial_backoff", 0.01)
    options.setdefault("retry_max_backoff", 0.05)
    options.setdefault("model", "FLUX.2-klein-4B")
    return ImageClient(api_key=options.pop("api_key", KEY), base_url=server.url, **options)


@pytest.fixture
def server(reference_server: ReferenceServer) -> ReferenceServer:
    return reference_server


@pytest.fixture
def image_url() -> Iterator[str]:
    """An http URL on 127.0.0.1 serving the fixture init image."""
    with serve_http(directory=INIT.parent) as url:
        yield f"{url}/{INIT.name}"


ROUTE_FORMS = {
    "arli": (
        ImageRoutes.arli(),
        {
            "txt2img": "/v1/txt2img",
            "img2img": "/v1/img2img",
            "upscale": "/v1/upscale-img",
            "models": "/sdapi/v1/sd-models",
            "samplers": "/v1/img-samplers",
            "upscalers": "/v1/upscalers",
            "options": "/v1/img-options",
        },
    ),
    "sdapi": (
        ImageRoutes.sdapi(),
        {
            "txt2img": "/sdapi/v1/txt2img",
            "img2img": "/sdapi/v1/img2img",
            "upscale": "/sdapi/v1/extra-single-image",
            "models": "/sdapi/v1/sd-models",
            "samplers": "/sdapi/v1/samplers",
            "upscalers": "/sdapi/v1/upscalers",
            "options": "/sdapi/v1/options",
        },
    ),
    "v1-models": (ImageRoutes().with_(models="/v1/img-models"), {"models": "/v1/img-models"}),
}


@pytest.mark.parametrize("form", sorted(ROUTE_FORMS))
def test_every_endpoint_through_each_route_form(server: ReferenceServer, form: str) -> None:
    routes, paths = ROUTE_FORMS[form]
    client = client_for(server, routes=routes)
    generated = client.txt2img(prompt="a red square", seed=42, batch_size=2, **SMALL)
    assert [img.mime_type for img in generated] == ["image/jpeg"] * 2  # SDNext's default
    assert generated.seeds == [42, 43]
    assert (generated.image.width, generated.image.height) == (64, 64)
    edited = client.img2img(init_images=INIT, mask=MASK, prompt="a door", seed=7, steps=4)
    assert (edited.image.width, edited.image.height) == (96, 64)
    assert edited.info.extra_generation_params["Mask size"] == "96x64"
    upscaled = client.upscale(
        image=generated.image.data, upscaler_1="ESRGAN_4x", upscaling_resize=2
    )
    assert (upscaled.image.width, upscaled.image.height) == (128, 128)
    assert upscaled.info.upscaler == "ESRGAN_4x"
    extra = client.upscale(
        image=generated.image.data,
        upscaler_1="Resize Lanczos",
        upscaler_2="None",
        extras_upscaler_2_visibility=0.5,
        upscaling_resize=3,
    )
    assert (extra.image.width, extra.image.height) == (192, 192)
    assert extra.info.text is not None
    assert "Size: 192x192" in extra.info.text
    assert "sdxl-base" in [m.name for m in client.list_models()]
    assert "Euler a" in [s.name for s in client.list_samplers()]
    assert "ESRGAN_4x" in [u.name for u in client.list_upscalers()]
    assert client.get_options()["samples_format"] == "jpg"
    assert client.parallel_requests().parallel_requests == 6
    seen = [r.path for r in server.requests]
    for name, path in paths.items():
        assert path in seen, (name, path)
    assert "/sdapi/v1/extra-single-image" in seen
    assert "/v1/parallel-requests" in seen
    assert not any(r.method == "POST" and r.path.endswith("options") for r in server.requests)


async def test_every_endpoint_async(server: ReferenceServer, image_url: str) -> None:
    client = client_for(server, routes=ImageRoutes.sdapi())
    generated = await client.atxt2img(prompt="p", seed=1, **SMALL)
    edited = await client.aimg2img(init_images=image_url, mask=MASK_SMALL, prompt="q", steps=4)
    assert (edited.image.width, edited.image.height) == (96, 64)
    assert server.stats["last_mask_size"] == (96, 64)
    upscaled = await client.aupscale(image=generated.image.data, upscaler_1="ESRGAN_4x")
    assert upscaled.image.width == 128  # extra-single-image's default factor 2
    assert next(m.name for m in await client.alist_models()) == "sdxl-base"
    assert await client.alist_samplers()
    assert await client.alist_upscalers()
    assert "sd_model_checkpoint" in await client.aget_options()
    assert (await client.aparallel_requests()).parallel_requests == 6
    await client.aclose()


def test_mask_of_another_size_is_sent_at_the_init_size(server: ReferenceServer) -> None:
    client = client_for(server)
    result = client.img2img(init_images=[INIT, INIT], mask=MASK_SMALL, prompt="p", steps=4)
    assert server.stats["last_init_image_sizes"] == [(96, 64), (96, 64)]
    assert server.stats["last_mask_size"] == (96, 64)
    assert result.info.extra_generation_params == {"Mask blur": 4, "Mask size": "96x64"}
    (req,) = server.requests_for("/v1/img2img")
    mask = Image.open(io.BytesIO(base64.b64decode(req.json["mask"])))
    assert (mask.mode, mask.size) == ("L", (96, 64))


def test_url_inputs(server: ReferenceServer, image_url: str) -> None:
    client = client_for(server)
    result = client.img2img(init_images=image_url, prompt="p", steps=4)
    assert (result.image.width, result.image.height) == (96, 64)
    up = client.upscale(image=image_url, upscaler_1="ESRGAN_4x", upscaling_resize=2)
    assert (up.image.width, up.image.height) == (192, 128)
    (req,) = server.requests_for("/v1/img2img")
    assert "authorization" in req.headers  # the key goes to the image API...


def test_the_key_is_never_sent_to_image_urls(server: ReferenceServer) -> None:
    seen: list[dict[str, str]] = []

    class Handler(QuietFiles):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            super().do_GET()

    with serve_http(partial(Handler, directory=str(INIT.parent))) as url:
        client_for(server).upscale(image=f"{url}/{INIT.name}", upscaler_1="ESRGAN_4x")
    assert seen
    assert all("Authorization" not in h and "authorization" not in h for h in seen)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_other_samples_formats(fmt: str) -> None:
    with ReferenceServer(api_key=KEY, samples_format=fmt) as srv:
        result = client_for(srv).txt2img(prompt="p", **SMALL)
    assert result.mime_type == f"image/{fmt}"
    assert result.image.extension == fmt
    assert result.to_pil().size == (64, 64)


def test_sd_models_as_names() -> None:
    with ReferenceServer(api_key=KEY, sd_models_as_names=True) as srv:
        models = client_for(srv).list_models()
    assert [(m.title, m.model_name) for m in models][:2] == [
        ("sdxl-base", "sdxl-base"),
        ("FLUX.1-dev", "FLUX.1-dev"),
    ]


def test_model_per_request(server: ReferenceServer) -> None:
    client = client_for(server, model="FLUX.2-klein-4B")
    default = client.txt2img(prompt="p", **SMALL)
    assert default.model == "FLUX.2-klein-4B"
    chosen = client.txt2img(prompt="p", model="SDXL-zukiBestAnimeMix", **SMALL)
    assert chosen.model == "SDXL-zukiBestAnimeMix"
    bodies = [r.json for r in server.requests_for("/v1/txt2img")]
    assert [b["sd_model_checkpoint"] for b in bodies] == [
        "FLUX.2-klein-4B",
        "SDXL-zukiBestAnimeMix",
    ]
    assert bodies[1]["override_settings"] == {"sd_model_checkpoint": "SDXL-zukiBestAnimeMix"}
    # The server's global option is untouched.
    assert client.get_options()["sd_model_checkpoint"] == "sdxl/sdxl-base [31e35c80fc]"
    with pytest.raises(NotFoundError, match="Checkpoint not found: nope"):
        client.txt2img(prompt="p", model="nope", **SMALL)


def test_server_errors_are_typed(server: ReferenceServer) -> None:
    client = client_for(server)
    with pytest.raises(NotFoundError, match="Sampler not found"):
        client.txt2img(prompt="p", sampler_name="DPM++ 2M Karras", **SMALL)
    with pytest.raises(UnprocessableEntityError) as info:
        client.txt2img(prompt="p", clip_skip="lots", **SMALL)
    assert info.value.param == "clip_skip"
    assert len(server.requests_for("/v1/txt2img")) == 2  # 4xx are never retried


# -- concurrency ------------------------------------------------------------------------------


def test_thirty_threads_never_hit_the_cap() -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        client = client_for(srv, max_retries=0)
        with ThreadPoolExecutor(30) as pool:
            results = list(
                pool.map(lambda i: client.txt2img(prompt=f"p{i}", seed=i, **SMALL), range(30))
            )
        stats = srv.stats
    assert [r.seeds[0] for r in results] == list(range(30))
    assert stats["rate_limited"] == 0
    assert stats["max_in_flight_images"] == 6
    limiter = client.transport.limiter
    assert limiter is not None
    assert limiter.max_in_flight == 6


async def test_thirty_tasks_never_hit_the_cap() -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.05) as srv:
        client = client_for(srv, max_retries=0)
        results = await asyncio.gather(
            *(client.atxt2img(prompt="p", seed=i, **SMALL) for i in range(30))
        )
        stats = srv.stats
        await client.aclose()
    assert len(results) == 30
    assert stats["rate_limited"] == 0
    assert stats["max_in_flight_images"] == 6


def test_mixed_operations_share_the_limit() -> None:
    with ReferenceServer(api_key=KEY, image_parallel_limit=6, image_latency=0.03) as srv:
        client = client_for(srv, max_retries=0)
        jobs = [
            partial(client.txt2img, prompt="p", **SMALL),
            partial(client.img2img, init_images=INIT, prompt="p", steps=4),
            partial(client.upscale, image=INIT, upscaler_1="ESRGAN_4x"),
        ] * 8
        with ThreadPoolExecutor(24) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        assert srv.stats["rate_limited"] == 0


def test_parallel_requests_feeds_the_limiter() -> None:
    with ReferenceServer(api_key="limit-key", image_parallel_limit=3, image_latency=0.05) as srv:
        client = client_for(srv, api_key="limit-key", max_retries=0, limit_from_server=True)
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(lambda i: client.txt2img(prompt="p", **SMALL), range(12)))
        stats = srv.stats
        limiter = client.transport.limiter
        assert limiter is not None
        assert limiter.limit == 3
        assert stats["rate_limited"] == 0
        assert stats["max_in_flight_images"] == 3
        assert len(srv.requests_for("/v1/parallel-requests")) == 1
        # Explicitly, too (and it changes the one process-wide limiter of this key).
        other = client_for(srv, api_key="limit-key")
        limiter.set_limit(6)
        assert other.parallel_requests(apply=True).parallel_requests == 3
        assert limiter.limit == 3


def test_a_429_that_still_comes_is_retried_after_retry_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="arli")
    # Another process uses the key: the server allows 2, our limiter 6.
    with ReferenceServer(api_key=KEY, image_parallel_limit=2, image_latency=0.2) as srv:
        client = client_for(srv)
        start = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda i: client.txt2img(prompt="p", **SMALL), range(6)))
        elapsed = time.monotonic() - start
        assert len(results) == 6
        assert srv.stats["rate_limited"] > 0
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    delays = [r.getMessage() for r in caplog.records if "Retrying POST" in r.getMessage()]
    assert delays
    assert all(" in 1.00 s " in d for d in delays)


def test_a_single_429_with_retry_after(server: ReferenceServer) -> None:
    server.add_fault(
        Fault(path="/v1/txt2img", kind="status", status=429, headers={"Retry-After": "1"})
    )
    start = time.monotonic()
    assert client_for(server).txt2img(prompt="p", **SMALL).images
    assert time.monotonic() - start >= 1.0
    assert len(server.requests_for("/v1/txt2img")) == 2


# -- timeouts --------------------------------------------------------------------------------


def test_a_generation_that_timed_out_is_not_sent_again(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/v1/txt2img", kind="delay", delay=1.0))
    client = client_for(server, image_timeout=0.3, max_retries=3)
    with pytest.raises(ArliTimeoutError) as info:
        client.txt2img(prompt="p", **SMALL)
    assert info.value.phase == "read"
    time.sleep(0.8)
    assert len(server.requests_for("/v1/txt2img")) == 1


def test_a_timed_out_generation_is_sent_again_when_asked(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/v1/txt2img", kind="delay", delay=1.0))
    client = client_for(server, image_timeout=0.3)
    result = client.txt2img(prompt="p", retry_read_timeouts=True, **SMALL)
    assert result.images
    assert len(server.requests_for("/v1/txt2img")) == 2


def test_listings_use_the_short_timeout(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/sdapi/v1/sd-models", kind="delay", delay=1.0, times=5))
    client = client_for(server, listing_timeout=0.2, max_retries=1)
    with pytest.raises(ArliTimeoutError):
        client.list_models()
    assert len(server.requests_for("/sdapi/v1/sd-models")) == 2  # a GET may be retried
    server.clear_faults()
    server.add_fault(Fault(path="/v1/txt2img", kind="delay", delay=0.5))
    assert client.txt2img(prompt="p", **SMALL).images  # generations get image_timeout


def test_per_call_timeout(server: ReferenceServer) -> None:
    server.add_fault(Fault(path="/v1/txt2img", kind="delay", delay=1.0))
    with pytest.raises(ArliTimeoutError, match=r"after 0\.2 s"):
        client_for(server).txt2img(prompt="p", timeout=0.2, **SMALL)


# -- auth and secrets ------------------------------------------------------------------------


SECRET = "sk-arli-FAKE-KEY-for-tests-0123456789"


@pytest.mark.parametrize(
    ("options", "header_start"),
    [
        ({}, "Bearer "),
        ({"image_auth": "basic"}, "Basic "),
        ({"image_auth": "basic", "basic_auth_username": "me"}, "Basic "),
    ],
)
def test_bearer_and_basic_auth(options: dict[str, Any], header_start: str) -> None:
    with ReferenceServer(api_key=SECRET) as srv:
        client = ImageClient(model="FLUX.2-klein-4B", api_key=SECRET, base_url=srv.url, **options)
        assert client.txt2img(prompt="p", **SMALL).images
        assert client.list_models()
        (req,) = srv.requests_for("/v1/txt2img")
        assert req.headers["authorization"].startswith(header_start)


def test_a_wrong_key_is_reported_without_any_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with ReferenceServer(api_key="the-right-key-000000") as srv:
        srv.add_fault(Fault(path="/v1/txt2img", kind="status", status=503))
        client = ImageClient(
            model="FLUX.2-klein-4B", api_key=SECRET, base_url=srv.url, retry_initial_backoff=0.01
        )
        with pytest.raises(AuthenticationError) as info:
            client.txt2img(prompt="p", **SMALL)
    texts = [str(info.value), repr(info.value), info.value.body, caplog.text, repr(client)]
    for text in texts:
        assert SECRET not in text
    assert base64.b64encode(SECRET.encode()).decode() not in caplog.text
    assert "Not authenticated" in str(info.value)


async def test_parallel_requests_feeds_the_limiter_async() -> None:
    with ReferenceServer(api_key="limit-key-2", image_parallel_limit=2, image_latency=0.05) as srv:
        client = client_for(srv, api_key="limit-key-2", max_retries=0, limit_from_server=True)
        await asyncio.gather(*(client.atxt2img(prompt="p", **SMALL) for _ in range(10)))
        assert srv.stats["rate_limited"] == 0
        assert srv.stats["max_in_flight_images"] == 2
        assert len(srv.requests_for("/v1/parallel-requests")) == 1
        await client.aclose()
