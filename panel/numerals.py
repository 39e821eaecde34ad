"""Numbers as residents type them, in any script.

A resident writing Arabic may type Arabic-Indic digits (١٩٩٠), a phone keyboard may give
full-width ones (１２). Both are read as the digits 0-9 wherever the panel asks for a number
or a code: the survey number question (surveys.forms), the birth year and postcode of the
member forms, and the code from a recruitment letter.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script (Unicode category Nd) as 0-9; the rest unchanged."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch
                   for ch in text)


def parse_whole_number(value: Any) -> int | None:
    """An integer from what a resident typed: "12", "1 000", "−3", "٣", "１２"; else None."""
    if not isinstance(value, str):
        return None
    text = ascii_digits(value.strip().replace("\u2212", "-"))
    for space in (" ", "\u00a0", "\u202f", "\u2009"):
        text = text.replace(space, "")
    if not text or len(text) > 20:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdecimal()):
        return None
    return int(text)
