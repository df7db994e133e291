"""Argument types shared by several commands' parsers."""
from __future__ import annotations

import argparse

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from typing import Callable


def positive_int(text: str) -> int:
    """A count such as -j N: a whole number of at least 1."""
    return _whole_number(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """A count that may be zero, such as --limit N: a whole number of at least 0."""
    return _whole_number(text, 0, "must not be negative")


def _whole_number(text: str, lowest: int, too_low: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(too_low)
    return value


def whole_number_in(lowest: int, highest: int, noun: str = "whole number") -> Callable[[str], int]:
    """An argparse type: a whole number from LOWEST to HIGHEST, called NOUN when refused
    (a port out of range is the user's mistake, not the socket's OverflowError)."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lowest - 1
        if not lowest <= value <= highest:
            raise argparse.ArgumentTypeError(f"'{text}' is not a {noun} from {lowest} to {highest}")
        return value
    return check
