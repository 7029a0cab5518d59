"""Publishing swaps whole runs in: readers of the old database and outputs are never disturbed."""

import duckdb
import polars as pl
import pytest

from flows.steps import RunFailed, beside
from ingest.accounts import read_accounts
from ingest.input_tables import InputError, read_inputs
from publish import parquet, store, warehouse
from schemas.layout import ORDER_DETAILS_CONSTANTS, snake
from tests.conftest import duckdb_file, run
from transforms.journal import computed_journals, statement_sums
from transforms.summaries import orders_table


def _run(out, run_id, value):
    building = store.new_run_dir(out, run_id)
    frame = pl.DataFrame({"x": [value]})
    parquet.write_parquet(frame, building / "t.parquet")
    duckdb_file(building / store.DATABASE_NAME, f"CREATE TABLE t AS SELECT {value} AS x")
    return store.publish(out, building, run_id)


def test_an_open_reader_keeps_the_old_database_while_the_next_run_is_published(tmp_path):
    out = tmp_path / "out"
    _run(out, "20260101T000000Z", 1)
    with duckdb.connect(str(out / store.DATABASE_NAME), read_only=True) as reader:
        _run(out, "20260102T000000Z", 2)
        # The analyst's open connection still reads the file it opened...
        assert reader.execute("SELECT x FROM t").fetchone() == (1,)
    # ...and the next connection sees the new run, as does `current/`.
    with duckdb.connect(str(out / store.DATABASE_NAME), read_only=True) as fresh:
        assert fresh.execute("SELECT x FROM t").fetchone() == (2,)
    assert pl.read_parquet(out / store.CURRENT / "t.parquet")["x"].to_list() == [2]


def test_old_runs_are_pruned_and_current_is_kept(tmp_path):
    out = tmp_path / "out"
    for day in range(1, 6):
        _run(out, f"202601{day:02d}T000000Z", day)
    runs = sorted(p.name for p in (out / store.RUNS).iterdir())
    assert runs == [f"202601{day:02d}T000000Z" for day in (3, 4, 5)]
    assert (out / store.CURRENT).resolve().name == "20260105T000000Z"


def test_the_next_run_clears_what_a_killed_run_left_half_made(tmp_path):
    """`kill -9` runs no clean-up: a `.building-*` directory (or a `.current.*` link made just
    before the swap) stays. The next run, holding the lock, is sure no one owns it, and removes it."""
    out = tmp_path / "out"
    _run(out, "20260101T000000Z", 1)
    killed = store.new_run_dir(out, "20260102T000000Z")
    (killed / "order_details").mkdir()
    (killed / "order_details" / "part-00000.parquet").write_bytes(b"half")
    (out / ".current.dead0000").symlink_to("runs/20260102T000000Z")
    _run(out, "20260103T000000Z", 3)
    assert sorted(p.name for p in (out / store.RUNS).iterdir()) == ["20260101T000000Z", "20260103T000000Z"]
    assert sorted(p.name for p in out.iterdir()) == sorted([store.CURRENT, store.DATABASE_NAME, store.RUNS])
    assert pl.read_parquet(out / store.CURRENT / "t.parquet")["x"].to_list() == [3]


def test_a_missing_input_file_names_it(tmp_path):
    with pytest.raises(InputError, match=r"orders\.parquet: required input file is missing"):
        read_inputs(tmp_path)


@pytest.mark.parametrize("batch_rows", [1, 3, 1_000])
def test_statement_dated_tables_are_written_one_file_per_date_for_the_whole_run(tmp_path, batch_rows):
    # Two partitions' files, each sorted by date (as `write_scratch(..., sorted_by=...)` leaves them).
    parts = []
    for index, (dates, shop) in enumerate(
        [(["2026-01-02", "2026-01-01", "2026-01-02"], "A"), (["2026-01-03", "2026-01-01"], "B")]
    ):
        frame = pl.DataFrame({"statement_date_utc": dates, "shop_id": shop, "row": range(len(dates))})
        parts.append(tmp_path / "scratch" / f"part-{index:05d}.parquet")
        parquet.write_scratch(frame, parts[-1], sorted_by="statement_date_utc")
    table = tmp_path / "order_details"
    (table / "stale").mkdir(parents=True)  # left by an earlier try: cleared
    assert parquet.write_by_date(parts, table, "statement_date_utc", batch_rows=batch_rows) == 3
    written = {p.parent.name: pl.read_parquet(p) for p in sorted(table.rglob("*.parquet"))}
    assert sorted(p.relative_to(table).as_posix() for p in table.rglob("*")) == [
        "statement_date_utc=2026-01-01",
        "statement_date_utc=2026-01-01/data.parquet",
        "statement_date_utc=2026-01-02",
        "statement_date_utc=2026-01-02/data.parquet",
        "statement_date_utc=2026-01-03",
        "statement_date_utc=2026-01-03/data.parquet",
    ]
    # Part order, then each part's own order; nothing lost or repeated.
    assert written["statement_date_utc=2026-01-01"].select("shop_id", "row").rows() == [("A", 1), ("B", 1)]
    assert written["statement_date_utc=2026-01-02"].select("shop_id", "row").rows() == [("A", 0), ("A", 2)]
    assert written["statement_date_utc=2026-01-03"].select("shop_id", "row").rows() == [("B", 0)]
    before = {p: p.read_bytes() for p in table.rglob("*.parquet")}
    parquet.write_by_date(parts, table, "statement_date_utc", batch_rows=2)
    assert {p: p.read_bytes() for p in table.rglob("*.parquet")} == before  # any batch size: the same bytes


def test_a_statement_dated_table_without_rows_is_one_empty_file_with_its_columns(tmp_path):
    part = tmp_path / "part-00000.parquet"
    parquet.write_scratch(
        pl.DataFrame(schema={"statement_date_utc": pl.String, "x": pl.Int64}), part, sorted_by="statement_date_utc"
    )
    assert parquet.write_by_date([part], tmp_path / "t", "statement_date_utc") == 1
    empty = pl.read_parquet(tmp_path / "t" / "empty.parquet")
    assert empty.height == 0 and empty.columns == ["statement_date_utc", "x"]


def test_beside_runs_both_and_the_main_error_wins():
    done = []
    assert beside(lambda: done.append("side"), lambda: "main") == "main"
    assert done == ["side"]

    def side_fails():
        raise ValueError("side")

    def main_fails():
        raise RunFailed("main")

    with pytest.raises(RunFailed, match="main"):  # the main error, though the side failed too
        beside(side_fails, main_fails)
    with pytest.raises(ValueError, match="side"):  # the side error alone, once main is done
        beside(side_fails, lambda: done.append("main"))
    assert done == ["side", "main"]


def _run_files(directory) -> dict[str, list]:
    """One Parquet file per database table, from a run of one settled order."""
    results = run(
        orders=[{"order_id": "O1", "delivered_at": "2025-06-03T00:00:00Z"}],
        order_lines="| order_id | sku_id | product_id | unit_price |\n| O1 | A | P1 | 10.00 |",
    )
    published = results.published()
    journals = computed_journals(statement_sums(published["order_details"].lazy()), read_accounts())
    tables = published | {"orders": orders_table(results), "journal_lines": journals}
    files = {}
    for name, frame in tables.items():
        parquet.write_parquet(frame, directory / f"{name}.parquet")
        files[name] = [directory / f"{name}.parquet"]
    return files, tables["order_details"]


def _details(con) -> pl.DataFrame:
    return con.sql("SELECT * FROM order_details ORDER BY ALL").pl()


def test_constant_columns_are_generated_in_the_database_and_read_as_in_the_files(tmp_path):
    files, details = _run_files(tmp_path)
    db = tmp_path / "new.duckdb"
    warehouse.update(
        tmp_path / "none.duckdb", db, files, ["S1"], None, None, {"run_id": "r1", "as_of": "2026-11-01T00:00:00Z"}
    )
    constants = sorted((snake(label),) for label in ORDER_DETAILS_CONSTANTS)
    with duckdb.connect(str(db), read_only=True) as con:
        generated = con.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'order_details' AND is_generated = 'ALWAYS' ORDER BY ALL"
        ).fetchall()
        assert generated == constants and len(constants) == 23
        assert details.height == 1 and _details(con).equals(details)

    # A database built when every column was stored: the same run fills every column, as it did then.
    old = tmp_path / "old.duckdb"
    duckdb_file(old, f"CREATE TABLE order_details AS SELECT * FROM read_parquet('{files['order_details'][0]}') LIMIT 0")
    warehouse.update(
        old, tmp_path / "old-next.duckdb", files, ["S1"], None, None, {"run_id": "r2", "as_of": "2026-11-01T00:00:00Z"}
    )
    with duckdb.connect(str(tmp_path / "old-next.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM information_schema.columns WHERE is_generated = 'ALWAYS'").fetchall() == [
            (0,)
        ]
        assert _details(con).equals(details)
