"""The deterministic toy tokenizer and its simulated log-probabilities."""

from __future__ import annotations

import re
import zlib

_TOKEN_RE = re.compile(
    r"<\|[a-z_]+\|>|</?s>| ?[^\W\d_]+| ?\d| ?_+| ?[^\s\w]|\s+(?!\S)|\s+", re.UNICODE
)
_SPECIAL_TOKENS = {
    "<unk>": 0,
    "<s>": 1,
    "</s>": 2,
    "<|im_start|>": 3,
    "<|im_end|>": 4,
    "<|image|>": 5,
}
_VOCAB_BASE = 1000
_VOCAB_SIZE = 131072


class Tokenizer:
    """A deterministic toy tokenizer used consistently for every token count.

    Text splits into words with their leading space, single digits,
    punctuation characters and whitespace runs (GPT-2 style); ids are stable
    CRC32-based integers. ``"".join(split(text)) == text`` always holds.
    """

    _vocab: dict[int, str] = {v: k for k, v in _SPECIAL_TOKENS.items()}

    @staticmethod
    def split(text: str) -> list[str]:
        """Split text into token strings."""
        return _TOKEN_RE.findall(text)

    @classmethod
    def token_id(cls, token: str) -> int:
        """Return the id of a token string (and remember it for decoding)."""
        special = _SPECIAL_TOKENS.get(token)
        if special is not None:
            return special
        tid = _VOCAB_BASE + zlib.crc32(token.encode()) % (_VOCAB_SIZE - _VOCAB_BASE)
        cls._vocab.setdefault(tid, token)
        return tid

    @classmethod
    def encode(cls, text: str, *, add_bos: bool = False) -> list[int]:
        """Encode text to ids, optionally prefixed by the BOS id (1)."""
        ids = [cls.token_id(tok) for tok in cls.split(text)]
        return [1, *ids] if add_bos else ids

    @classmethod
    def decode(cls, ids: list[int]) -> str:
        """Decode ids produced by :meth:`encode`.

        Raises:
            ValueError: For ids outside the vocabulary range.
        """
        out = []
        for tid in ids:
            if not 0 <= tid < _VOCAB_SIZE:
                raise ValueError(f"Token id {tid} is out of vocabulary")
            out.append(cls._vocab.get(tid, ""))
        return "".join(out)

    @classmethod
    def count(cls, text: str) -> int:
        """Number of tokens in ``text``."""
        return len(cls.split(text))


def _logprob(token: str, position: int) -> float:
    h = zlib.crc32(f"{position}:{token}".encode())
    return -round((h % 4000) / 1000 + 0.001, 6)


_ALTERNATIVES = [" the", ",", ".", " and", " a", " of", " to", "!", " I", " is", " it", " you"]


def _top_alternatives(token: str, position: int, count: int) -> list[tuple[str, float]]:
    chosen = _logprob(token, position)
    out = [(token, chosen)]
    h = zlib.crc32(f"alt:{position}:{token}".encode())
    k = 0
    while len(out) < count + 1 and k < len(_ALTERNATIVES) * 2:
        alt = _ALTERNATIVES[(h + k) % len(_ALTERNATIVES)]
        k += 1
        if alt == token or any(alt == t for t, _ in out):
            continue
        out.append((alt, round(chosen - 0.75 * len(out) - (h % 97) / 1000, 6)))
    return out
