"""Structured extraction with guided decoding: free text in, a validated pydantic object out.

    python examples/structured_extraction.py            # against Arli (ARLIAI_API_KEY)
    python examples/structured_extraction.py --offline  # against the local reference server

``with_structured_output`` sends the schema as ``guided_json`` and as
``structured_outputs`` (old and new vLLM/Aphrodite servers each read their form) and
checks the answer here: a server that ignored the constraint raises
``arli.ConstraintViolationError`` instead of returning free text.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from _offline import connection, example_parser, script_entry
from pydantic import BaseModel, Field

from langchain_arli import ChatArli

MODEL = os.environ.get("ARLI_MODEL", "Mistral-Nemo-12B-Instruct-2407")
EMAIL = """Hi team, please book the Gull Point lighthouse for our offsite on 14 March 2026.
We will be 12 people, arriving by ferry around 9:30. Budget is 1,800 EUR. - Marta"""


class Booking(BaseModel):
    """A venue booking request extracted from an email."""

    venue: str = Field(description="the place to book")
    date: str = Field(description="ISO date, YYYY-MM-DD", pattern=r"^\d{4}-\d{2}-\d{2}$")
    people: int = Field(ge=1, le=1000)
    budget_eur: float | None = Field(default=None, ge=0)
    transport: Literal["car", "ferry", "train", "other"]


BOOKING = {
    "venue": "Gull Point lighthouse",
    "date": "2026-03-14",
    "people": 12,
    "budget_eur": 1800,
    "transport": "ferry",
}


def extract(connection: dict[str, Any]) -> Booking:
    """Extract the booking from :data:`EMAIL`."""
    llm = ChatArli(model=MODEL, temperature=0, **connection)
    extractor = llm.with_structured_output(Booking)  # method="guided_json" by default
    result = extractor.invoke(f"Extract the booking request from this email:\n\n{EMAIL}")
    assert isinstance(result, Booking)
    return result


def offline_script() -> list[Any]:
    """What the reference server answers with ``--offline``: the booking as JSON."""
    return [script_entry(match="booking request", reply=json.dumps(BOOKING))]


def main(argv: list[str] | None = None) -> Booking:
    """Run the example; print and return the extracted booking."""
    args = example_parser(__doc__).parse_args(argv)
    with connection(args.offline, offline_script) as options:
        booking = extract(options)
    print(booking.model_dump_json(indent=2))
    return booking


if __name__ == "__main__":
    main()
