"""Kept only as an alias while branches written against it land: sizes are
rendered by git_exp.ui.format.format_size (Git's style, '1.50 KiB')."""
from __future__ import annotations

from git_exp.ui.format import format_size as human_size  # noqa: F401
