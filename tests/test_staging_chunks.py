"""Staging a table in chunks (`ParquetChunks`, as every run reads the order tables) gives the
frame staging it whole gives: the same accepted rows, rejections, row numbers and counts,
whatever the chunk size, bad rows and duplicates across chunk boundaries included."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest.input_tables import CHUNKED_TABLES, InputError, ParquetChunks, read_inputs
from synthetic.generate import generate_inputs
from tests import fuzzing
from transforms.staging import Staged, stage

SEEDS = [seed for seed in range(80) if not fuzzing.make_case(seed).must_stop][:30]


def _chunks(frame: pl.DataFrame, rows: int) -> list[pl.DataFrame]:
    return [frame.slice(offset, rows) for offset in range(0, max(frame.height, 1), rows)]


def _assert_same(one: Staged, other: Staged) -> None:
    assert one.tables.keys() == other.tables.keys()
    for name in one.tables:
        assert_frame_equal(one.tables[name], other.tables[name], check_exact=True)
    assert_frame_equal(one.rejected_rows, other.rejected_rows, check_exact=True)
    assert one.counts == other.counts
    assert_frame_equal(one.invalid_promotion_ids, other.invalid_promotion_ids)


@pytest.mark.parametrize("rows", [3, 11])
def test_bad_inputs_staged_in_chunks_as_whole(rows):
    cases = [fuzzing.make_case(seed) for seed in SEEDS]
    assert sum(1 for case in cases if case.must_reject) > 10  # bad rows do fall in later chunks
    for case in cases:
        chunked = {name: _chunks(frame, rows) if name in CHUNKED_TABLES else frame for name, frame in case.raw.items()}
        _assert_same(stage(case.raw), stage(chunked))


def test_a_duplicate_key_in_another_chunk_is_rejected():
    raw = generate_inputs(40, 5, n_shops=2)
    lines = raw["order_lines"]
    raw["order_lines"] = pl.concat([lines, lines.head(1)])
    staged = stage({**raw, "order_lines": _chunks(raw["order_lines"], 10)})
    duplicates = staged.rejected_rows.filter(pl.col("reason") == "duplicate_key")
    assert duplicates["row_number"].to_list() == [1, lines.height + 1]
    _assert_same(staged, stage(raw))


def test_parquet_read_in_chunks_stages_as_read_whole(tmp_path: Path):
    raw = generate_inputs(300, 9, n_shops=3)
    for name, frame in raw.items():
        frame.write_parquet(tmp_path / f"{name}.parquet", row_group_size=50)
    chunked = read_inputs(tmp_path, chunk_rows=64)
    assert {name for name, table in chunked.items() if isinstance(table, ParquetChunks)} == set(CHUNKED_TABLES)
    assert sum(1 for _ in chunked["order_lines"]) == -(-raw["order_lines"].height // 64)
    _assert_same(stage(chunked), stage(read_inputs(tmp_path)))


def test_an_empty_file_is_one_empty_chunk(tmp_path: Path):
    path = tmp_path / "refunds.parquet"
    pl.DataFrame(schema={"refund_id": pl.String}).write_parquet(path)
    assert [chunk.height for chunk in ParquetChunks(path, 10)] == [0]


def test_a_file_that_breaks_while_read_in_chunks_is_named(tmp_path: Path):
    path = tmp_path / "order_lines.parquet"
    pl.DataFrame({"order_id": [f"O{i}" for i in range(1000)]}).write_parquet(path, row_group_size=100)
    data = path.read_bytes()
    path.write_bytes(data[:200] + b"\xff" * 4000 + data[4200:])  # pages broken, footer intact
    with pytest.raises(InputError, match=f"^{path}: cannot be read as Parquet"):
        list(ParquetChunks(path, 100))
