"""Orchestration only: the Prefect flow, its tasks, the deployment, the command line."""

import os

# Polars' allocator (jemalloc) gives freed memory back to the OS after 0.5 s (`polars/__init__.py`
# sets `dirty_decay_ms:500,muzzy_decay_ms:1000`), so a batch job that frees and allocates gigabytes
# per step faults the same pages in again. Freed pages are kept 1 s here: longer (20 s until
# session 14) saved a few per cent of the time but kept gigabytes that each task thread's arena
# had freed out of reach of the others, and so added them to the peak (BENCHMARKS.md, "Session
# 14"). jemalloc reads this when Polars is first imported, so it is set here, before any module of
# the job imports Polars; a value already in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:1000")
