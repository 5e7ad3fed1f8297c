"""The per-call and per-chunk shortcuts of the hot path give what the long way gives.

Each shortcut is there for a figure in bench/results.md; these tests hold it to the
result of the general way, so it can never change an answer:

- ``arli._kwargs.unchecked``: the skins build their ``CallOptions`` on every call without
  the typo checks of ``checks_arguments`` (the object is the same; a user's
  ``CallOptions(...)`` is still checked);
- the text model's cached parameters, read from pydantic's private store, follow every
  assignment.
"""

from __future__ import annotations

from typing import Any

import pytest

from arli import ArliValidationError
from arli._kwargs import unchecked
from arli.text.calls import CallOptions
from langchain_arli import ChatArli
from llama_index_arli import Arli

OPTIONS: dict[str, Any] = {
    "model": "m",
    "instance": {"temperature": 0.5},
    "extra_body": {"x": 1},
    "style": "both",
    "stream_usage": False,
    "check_output": True,
    "allow_local_files": False,
    "allowed_image_hosts": ["img.test"],
    "timeout": 3.0,
    "stall_timeout": 4.0,
}


def test_unchecked_builds_the_same_options_as_the_class() -> None:
    assert unchecked(CallOptions)(**OPTIONS) == CallOptions(**OPTIONS)
    assert type(unchecked(CallOptions)(model="m")) is CallOptions


def test_a_users_call_options_are_still_checked() -> None:
    with pytest.raises(ArliValidationError, match=r"unknown parameter 'modle'"):
        CallOptions(modle="m")  # type: ignore[call-arg]
    with pytest.raises(ArliValidationError, match=r"stream_usage"):
        CallOptions(model="m", stream_usage="yes please")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChatArli(model="m", api_key="k", base_url="http://x.test", temperature=0.5),
        lambda: Arli(model="m", api_key="k", base_url="http://x.test", temperature=0.5),
    ],
    ids=["ChatArli", "LlamaIndex Arli"],
)
def test_the_skins_options_follow_their_fields(make: Any) -> None:
    llm = make()
    assert llm._options().instance == {"temperature": 0.5}
    llm.temperature = 0.25
    llm.check_guided_output = False
    options = llm._options()
    assert options.instance == {"temperature": 0.25}
    assert options.check_output is False
    assert options.model == "m"
