"""Numbers typed into forms, and numbers in field names and query strings: anything else is a ValueError, which
each view turns into the plain words it gives for a word typed where a number goes."""
from __future__ import annotations

import math

# Ids are 64-bit in the database; 18 digits always fit, so a longer "id" never reaches a query (SQLite raises
# OverflowError on a larger one instead of finding nothing).
ID_DIGITS = 18


def finite_number(text: str) -> float:
    """The number typed; ValueError also for inf, nan and 1e400, which float() takes but no position or size is."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def whole_number(text: str) -> int:
    """A whole number in the digits 0-9, as ids and numbered field names (alt_3) are written; usable as `type=`.

    str.isdigit alone lets "²" through, which int() refuses."""
    if not (text.isascii() and text.isdigit() and len(text) <= ID_DIGITS):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def numbered(fields, prefix: str) -> dict[int, str]:
    """The fields named prefix and a whole number (alt_3, remove_12), by that number; other names are not ours."""
    found = {}
    for name, value in fields.items():
        if name.startswith(prefix):
            try:
                found[whole_number(name[len(prefix):])] = value
            except ValueError:
                continue
    return found
