"""ui/format.py: the one place counts, sizes, durations and times are worded."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from git_exp.ui.format import format_duration, format_size, format_timestamp, plural
from tests.conftest import ROOT


def test_plural_agrees_with_the_count():
    assert plural(1, "object") == "1 object" and plural(0, "object") == "0 objects"
    assert plural(2, "entry", "entries") == "2 entries" and plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "data object is", "data objects are") == "3 data objects are"


def test_sizes_read_as_git_prints_them():
    assert [format_size(n) for n in (0, 1, 512, 1536, 3 * 1024 ** 2, 5 * 1024 ** 3)] == [
        "0 bytes", "1 byte", "512 bytes", "1.50 KiB", "3.00 MiB", "5.00 GiB"]


def test_durations():
    assert [format_duration(s) for s in (None, 4.24, 185, 7620)] == ["-", "4.2s", "3m05s", "2h07m"]


def _in_zone(tz: str, code: str) -> str:
    """Run CODE with TZ set, as a user in that zone would (tzset needs a fresh process)."""
    env = dict(os.environ, TZ=tz)
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
                          + textwrap.dedent(code)], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_times_are_shown_in_local_time_whatever_zone_they_were_stored_in():
    code = """
        from git_exp.ui.format import format_timestamp
        print(format_timestamp("2026-12-04T23:30:00+09:00"), format_timestamp("2026-12-04T14:30:00+00:00"))
    """
    assert _in_zone("UTC", code) == "2026-12-04 14:30:00 2026-12-04 14:30:00"
    assert _in_zone("America/New_York", code) == "2026-12-04 09:30:00 2026-12-04 09:30:00"
    assert format_timestamp("not a date") == "not a date" and format_timestamp("") == "-"


def test_show_and_queue_agree_on_the_zone():
    """show's Created column (commit dates in their author's zone) and queue's
    timestamps (stored in UTC) both land in the viewer's local time."""
    code = """
        from types import SimpleNamespace
        from git_exp.commands.show import created_texts
        from git_exp.ui.format import format_timestamp
        rows = [SimpleNamespace(created="2026-12-04T23:30:00+09:00"),
                SimpleNamespace(created="2026-12-04T15:00:00+00:00")]
        print(created_texts(rows, this_year="2026"), format_timestamp("2026-12-04T14:30:00+00:00"))
    """
    assert _in_zone("UTC", code) == "['14:30', '15:00'] 2026-12-04 14:30:00"
    # In Tokyo the two commits fall on two days, so the column shows dates.
    assert _in_zone("Asia/Tokyo", code) == "['Dec 04', 'Dec 05'] 2026-12-04 23:30:00"
