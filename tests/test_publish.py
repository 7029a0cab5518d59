"""Publishing swaps whole runs in: readers of the old database and outputs are never disturbed."""

import duckdb
import polars as pl
import pytest

from flows import io
from tests.conftest import duckdb_file


def _run(out, run_id, value):
    building = io.new_run_dir(out, run_id)
    frame = pl.DataFrame({"x": [value]})
    io.write_parquet(frame, building / "t.parquet")
    duckdb_file(building / io.DATABASE_NAME, f"CREATE TABLE t AS SELECT {value} AS x")
    return io.publish(out, building, run_id)


def test_an_open_reader_keeps_the_old_database_while_the_next_run_is_published(tmp_path):
    out = tmp_path / "out"
    _run(out, "20260101T000000Z", 1)
    with duckdb.connect(str(out / io.DATABASE_NAME), read_only=True) as reader:
        _run(out, "20260102T000000Z", 2)
        # The analyst's open connection still reads the file it opened...
        assert reader.execute("SELECT x FROM t").fetchone() == (1,)
    # ...and the next connection sees the new run, as does `current/`.
    with duckdb.connect(str(out / io.DATABASE_NAME), read_only=True) as fresh:
        assert fresh.execute("SELECT x FROM t").fetchone() == (2,)
    assert pl.read_parquet(out / io.CURRENT / "t.parquet")["x"].to_list() == [2]


def test_old_runs_are_pruned_and_current_is_kept(tmp_path):
    out = tmp_path / "out"
    for day in range(1, 6):
        _run(out, f"202601{day:02d}T000000Z", day)
    runs = sorted(p.name for p in (out / io.RUNS).iterdir())
    assert runs == [f"202601{day:02d}T000000Z" for day in (3, 4, 5)]
    assert (out / io.CURRENT).resolve().name == "20260105T000000Z"


def test_a_missing_input_file_names_it(tmp_path):
    with pytest.raises(io.InputError, match=r"orders\.parquet: required input file is missing"):
        io.read_inputs(tmp_path)
