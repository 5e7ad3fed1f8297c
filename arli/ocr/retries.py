"""The semantic retries: what only OCR can judge in an answer that the server sent as fine.

The transport retries failed requests (429, 5xx, timeouts). Two answers succeed on the
wire yet are bad transcriptions, and only the engine can tell:

- an answer stuck in a repetition loop (:func:`~arli.ocr.prompts.looks_repetitive`) is
  asked again at each of ``retry_temperatures`` until one does not loop; when none helps
  the first answer is kept and marked ``repetition``;
- an answer cut off by ``max_tokens`` (``finish_reason == "length"``) is asked again once
  with ``length_retry_factor`` times the tokens, then kept (and marked ``truncated`` by
  the engine).

A retry that fails is a warning on the page, never its failure; fatal errors propagate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from arli._errors import ArliError
from arli.ocr.policy import FATAL
from arli.ocr.prompts import looks_repetitive
from arli.ocr.results import PageResult

__all__ = ["Answer", "Ask", "improve"]


@dataclass
class Answer:
    """One model answer for a page.

    Attributes:
        text: the answer's text.
        finish_reason: the model's finish reason.
        model: the model that answered.
        temperature: the temperature it was asked at (``None``: the engine's).
    """

    text: str
    finish_reason: str | None
    model: str
    temperature: float | None


#: ``ask(temperature, max_tokens)``: the page asked again (``None``: the engine's value).
Ask = Callable[[float | None, int | None], Awaitable[Answer]]


async def improve(
    answer: Answer,
    ask: Ask,
    result: PageResult,
    *,
    retry_temperatures: Sequence[float],
    length_retry_factor: float,
    max_tokens: int,
) -> Answer:
    """The semantic retries of ``answer``: a repetition loop, then a cut-off answer.

    Args:
        answer: the first answer.
        ask: asks the page again.
        result: the page (its warnings and ``repetition`` flag are set here).
        retry_temperatures: the temperatures tried, in order, when the answer loops.
        length_retry_factor: the ``max_tokens`` multiplier of the one retry of a cut-off
            answer (``1``: no retry).
        max_tokens: the engine's ``max_tokens``.

    Returns:
        The answer to keep.
    """
    if looks_repetitive(answer.text):
        for temperature in retry_temperatures:
            try:
                retry = await ask(temperature, None)
            except FATAL:
                raise
            except ArliError as exc:
                result.warnings.append(f"the retry of a looping answer failed: {exc}")
                break
            if not looks_repetitive(retry.text):
                answer = retry
                break
        if looks_repetitive(answer.text):
            result.repetition = True
            result.warnings.append("the answer ends in a repetition loop; kept the first answer")
            return answer
    if answer.finish_reason == "length" and length_retry_factor > 1:
        bigger = max(max_tokens + 1, int(max_tokens * length_retry_factor))
        try:
            retry = await ask(answer.temperature, bigger)
        except FATAL:
            raise
        except ArliError as exc:
            result.warnings.append(
                f"the retry of a cut-off answer with max_tokens={bigger} failed: {exc}"
            )
        else:
            answer = retry
        if answer.finish_reason == "length":
            result.warnings.append("the answer was cut off by max_tokens")
    return answer
