"""Orchestration only: the Prefect flow, its tasks, the deployment, the command line."""

import os

# Polars' allocator (jemalloc) gives freed memory back to the OS after 0.5 s (`polars/__init__.py`
# sets `dirty_decay_ms:500,muzzy_decay_ms:1000`), so a batch job that frees and allocates gigabytes
# per step faults the pages in again: at 10M order lines, about an eighth of the CPU went to page
# faults and `madvise` in the kernel. Keeping freed pages 20 s: partitions 95.8 -> 86.5 s, CPU 182 -> 163 s,
# peak RSS 5.9 -> 6.6 GiB (measured; BENCHMARKS.md). jemalloc reads this when Polars is first
# imported, so it is set here, before any module of the job imports Polars; a value already in
# the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:20000,muzzy_decay_ms:20000")
