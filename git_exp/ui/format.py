"""The words every command renders the same way: counts, sizes, durations, times.

One place, so `git exp push` and `git exp gc` say "3 objects" and "1.50 KiB"
alike. Standard library only, and nothing imported until used: hooks and
`git exp show` call these on their fast paths.
"""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    from datetime import datetime

_SIZE_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 entry', '2 entries': the count and the word that agrees with it.

    MANY defaults to ONE + 's'."""
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"


def format_size(n: int) -> str:
    """A byte count as Git prints it: '1 byte', '512 bytes', '1.50 KiB', '3.00 MiB'."""
    if n == 1:
        return "1 byte"
    value = float(n)
    for unit in _SIZE_UNITS:
        if value < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{n} bytes"  # not reached


def format_duration(seconds: float | None) -> str:
    """'4.2s', '3m05s', '2h07m'; '-' when unknown."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def local_time(iso: str) -> datetime | None:
    """The moment an ISO 8601 text names, as a datetime in the local time zone.

    The one time-zone rule for display: stored times keep their own zone (commit
    dates, queue entries in UTC), what is shown is local time. None when ISO is
    empty or not a date; a text without a zone is taken as local already."""
    from datetime import datetime
    try:
        when = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return when.astimezone() if when.tzinfo is not None else when


def format_timestamp(iso: str) -> str:
    """'2026-12-04 22:07:06' in local time; the text itself when it is no date."""
    when = local_time(iso)
    return when.strftime("%Y-%m-%d %H:%M:%S") if when is not None else (iso or "-")
