"""Small wording helpers the pages share."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2,041 errors` (`many` when the plural is not `word` + s)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
