"""Orchestration only: the Prefect flow, its tasks, the deployment, the command line."""

import os

# Polars' allocator (jemalloc) gives freed memory back to the OS after 0.5 s (`polars/__init__.py`
# sets `dirty_decay_ms:500,muzzy_decay_ms:1000`), so a batch job that frees and allocates gigabytes
# per step faults the same pages in again and again. Keeping freed pages 20 s trades some peak
# memory for that CPU (BENCHMARKS.md, "Choices in the code"). jemalloc reads this when Polars is
# first imported, so it is set here, before any module of the job imports Polars; a value already
# in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:20000,muzzy_decay_ms:20000")
