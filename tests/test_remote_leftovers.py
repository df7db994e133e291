"""What an interrupted push leaves on a directory data remote, a later push clears (issue 14, 9)."""
from __future__ import annotations

import os
import time

from tests.remote_common import assert_whole, ml, objects_under  # noqa: F401  (ml is a fixture)


def test_a_later_push_removes_stale_temp_files_and_keeps_fresh_ones(ml, tmp_path):
    origin = ml.add_bare_remote(tmp_path / "origin.git")
    ml.exp("push", "origin", "first")
    shard = next((origin / "exp" / "cache" / "files" / "sha256").iterdir())
    # What a SIGKILLed push leaves: a hidden temp file beside the objects.
    stale = shard / ".0123abcd.5f5f5f5f5f5f.tmp"
    stale.write_bytes(b"half an obj")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    # A push under way in another clone right now: not ours to remove.
    live = shard / ".4567abcd.6e6e6e6e6e6e.tmp"
    live.write_bytes(b"being written")

    proc = ml.exp("push", "origin", "first", "second")
    assert "Sent 7 data objects" in proc.stdout
    assert not stale.exists() and live.exists()
    live.unlink()
    assert_whole(objects_under(origin / "exp" / "cache"))
