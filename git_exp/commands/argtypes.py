"""Argument types shared by several commands' parsers."""
from __future__ import annotations

import argparse


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
