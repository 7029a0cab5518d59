"""The job keeps freed memory in Polars' allocator (jemalloc) for 1 s (see `flows/__init__.py`)."""

import os
import subprocess
import sys

# Import the job, then Polars, and have jemalloc print the options it runs with.
CODE = "import flows, os; os.environ['_RJEM_MALLOC_CONF'] += ',stats_print:true'; import polars as pl; pl.DataFrame({'a': [1]}).sum()"


def _jemalloc_options(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True).stderr


def test_importing_the_job_sets_polars_allocator_decay_before_polars_loads():
    env = {key: value for key, value in os.environ.items() if key != "_RJEM_MALLOC_CONF"}
    options = _jemalloc_options(env)
    assert "opt.dirty_decay_ms: 1000 " in options
    assert "opt.muzzy_decay_ms: 1000 " in options


def test_an_allocator_setting_in_the_environment_wins():
    options = _jemalloc_options({**os.environ, "_RJEM_MALLOC_CONF": "dirty_decay_ms:3000"})
    assert "opt.dirty_decay_ms: 3000 " in options
    assert "opt.muzzy_decay_ms: 1000 " in options  # Polars' own default, untouched
