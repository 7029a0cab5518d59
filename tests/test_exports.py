"""The Seller Center CSV exports: one file per shop and statement, byte for byte what formatting
each statement apart gives, whichever way the chunked writer took (slices or fallback)."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import exports
from schemas.layout import ORDER_DETAILS_LABELS, snake

MONEY = pl.Decimal(18, 2)


def _order_details(statement_of_row: list[int], names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Order details rows (every layout column) for statements S0, S1, … of two shops, in the given row order."""
    n = len(statement_of_row)
    columns = {}
    for label in ORDER_DETAILS_LABELS:
        name = snake(label)
        columns[name] = pl.Series(name, [f"{name}-{i}" for i in range(n)], pl.String)
    sid = [f"S{s}" for s in statement_of_row]
    frame = pl.DataFrame(columns).with_columns(
        pl.Series("statement_id", sid),
        pl.Series("product_name", names),
        pl.Series("quantity", range(n), pl.Int64),
        pl.Series("total_settlement_amount", [f"{i}.05" for i in range(n)]).cast(MONEY),
        pl.lit(date(2026, 10, 1)).alias("order_created_date"),
    )
    statements = pl.DataFrame({"statement_id": sorted(set(sid), key=lambda s: int(s[1:]))}).with_columns(
        pl.when(pl.col("statement_id").str.slice(1).cast(pl.Int64) % 2 == 0).then(pl.lit("SHOP01")).otherwise(pl.lit("SHOP02")).alias("shop_id")
    )
    return frame, statements


def _one_by_one(order_details: pl.DataFrame, statements: pl.DataFrame, directory: Path) -> None:
    """The reference: one `write_csv` per statement, its rows in their input order."""
    labelled = exports._labelled(order_details, ORDER_DETAILS_LABELS, "statement_id")
    shop = dict(zip(statements["statement_id"], statements["shop_id"], strict=True))
    for (sid,), rows in labelled.partition_by("statement_id", as_dict=True, maintain_order=True, include_key=False).items():
        (directory / shop[sid]).mkdir(parents=True, exist_ok=True)
        rows.write_csv(directory / shop[sid] / f"{sid}.csv")


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*.csv"))}


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["Mug", "Tee, large", 'Say "hi"', "two\nlines", "a\r\nb", ""])), min_size=1, max_size=40),
    chunk=st.integers(1, 12),
)
def test_exports_equal_one_write_per_statement(tmp_path_factory, rows, chunk):
    order_details, statements = _order_details([s for s, _ in rows], [name for _, name in rows])
    fast, reference = tmp_path_factory.mktemp("fast"), tmp_path_factory.mktemp("reference")
    assert exports.write_exports(order_details, statements, fast, xlsx=False, chunk_rows=chunk) == statements.height
    _one_by_one(order_details, statements, reference)
    written = _files(fast)
    assert written == _files(reference)
    assert len(written) == statements.height


def test_exports_header_and_rows(tmp_path):
    order_details, statements = _order_details([1, 0, 1, 2], ["Mug", "Tee", "Cap", "Hat"])
    exports.write_exports(order_details, statements, tmp_path, xlsx=False)
    lines = (tmp_path / "SHOP02" / "S1.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["Statement date (UTC)", "Statement ID", "Payment ID"]
    assert len(lines) == 3  # header + its two rows, in input order
    assert [line.split(",")[ORDER_DETAILS_LABELS.index("Product name")] for line in lines[1:]] == ["Mug", "Cap"]
    assert sorted(p.name for p in tmp_path.rglob("*.csv")) == ["S0.csv", "S1.csv", "S2.csv"]


def test_exports_refuse_rows_of_an_unknown_statement(tmp_path):
    order_details, statements = _order_details([0, 1], ["Mug", "Tee"])
    with pytest.raises(ValueError, match="S1"):
        exports.write_exports(order_details, statements.filter(pl.col("statement_id") == "S0"), tmp_path, xlsx=False)
