"""The project's file names, defined once: the pipeline, its lock, the default params file.

Tiny and import-free, so hooks and every layer may use it.
"""
from __future__ import annotations

PIPELINE_FILE = "exp.yaml"    # the pipeline: stages, deps, outs, params
LOCK_FILE = "exp.lock"        # what the last run of each stage used and made
PARAMS_FILE = "params.yaml"   # where params are read from unless a stage names another file
