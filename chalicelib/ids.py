"""Ids and whole numbers from outside (API.md §1): ASCII digits only, within what the store holds.

pydantic's lax int takes "+5", "1_000", " 12 " and "12.0", and no upper bound by default: a 40-digit number
reaches boto3, which cannot serialise it (DynamoDB numbers have 38 digits), and fails as a 500. Every id and
integer of every input model is one of these types, so that the rule is written once.
"""
import re
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

# Ids are zero-padded to ten digits in keys (store/schema.py), so that string order is number order.
MAX_ID = 9_999_999_999
# The largest whole number a field may hold: well inside DynamoDB's 38 significant digits.
MAX_WHOLE = 10 ** 15
_ASCII_DIGITS = re.compile(r"[0-9]{1,20}")


def _whole_number(value):
    # bool is an int to Python and to pydantic's lax mode: `"type": true` would silently pick type 1.
    if isinstance(value, bool):
        raise PydanticCustomError("whole_number", "a whole number is expected, not true or false")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        return int(value)
    raise PydanticCustomError("whole_number", "a whole number in ASCII digits (0-9) is expected")


def whole(ge: int = 0, le: int = MAX_WHOLE, description: str | None = None):
    """A whole number from ge to le: a JSON integer, or a string of ASCII digits (a query string's value)."""
    return Annotated[int, BeforeValidator(_whole_number), Field(ge=ge, le=le, description=description)]


Id = whole(1, MAX_ID)
"""A numeric id: 1 to 9,999,999,999, as an integer or a string of ASCII digits; booleans are refused."""


def parse_digits(text: str) -> int | None:
    """The id `text` (a path segment) names, or None when it is not 1 to MAX_ID in ASCII digits."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
