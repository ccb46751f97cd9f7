"""Normalisation of human input: NFKC folds full-width letters and digits and half-width kana."""

from __future__ import annotations

import unicodedata

from domain.shared.errors import InvalidInput


def clean_text(value: str, *, field: str, max_length: int, allow_empty: bool = False) -> str:
    """NFKC-normalise, trim, and refuse control characters (PostgreSQL text cannot hold NUL)."""
    text = unicodedata.normalize("NFKC", value).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in text):
        raise InvalidInput("must not contain control or unassigned characters", field=field)
    if not text and not allow_empty:
        raise InvalidInput("must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return text
