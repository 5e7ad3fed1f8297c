"""Helpers shared by the tests: fixture paths and raw HTTP capture parsing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
WIRE = FIXTURES / "wire" / "examples"
CAPTURES = FIXTURES / "wire" / "captures-vllm-0.32"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def dechunk(data: bytes) -> bytes:
    """Decode an HTTP/1.1 chunked body."""
    out = bytearray()
    rest = data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


def parse_raw_response(path: Path) -> RawResponse:
    """Parse a raw HTTP/1.1 response capture (status line, headers, body)."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return RawResponse(status, headers, body)
