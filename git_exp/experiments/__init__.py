"""Experiments as Git commits under refs/exps/<baseline-sha>/<name>."""
