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


_TEXT = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t;é0.-')), max_size=6))
_CELL = {
    "text": _TEXT,
    "money": st.one_of(st.none(), st.integers(-10**6, 10**6)),
    "int": st.one_of(st.none(), st.integers(-5, 5)),
}


@settings(max_examples=200, deadline=None)
@given(
    spec=st.lists(st.tuples(st.sampled_from(sorted(_CELL)), st.booleans()), min_size=1, max_size=12),
    height=st.integers(0, 6),
    data=st.data(),
)
def test_compact_rows_write_the_bytes_of_necessary_quoting(spec, height, data):
    """Runs of constant columns merged, text quoted by hand, written unquoted: the same bytes as
    Polars' own `necessary` quoting of the frame as it is, for any text, nulls and constants."""
    columns = {}
    for i, (kind, constant) in enumerate(spec):
        values = [data.draw(_CELL[kind])] * height if constant else [data.draw(_CELL[kind]) for _ in range(height)]
        series = pl.Series(f"c{i}", values, {"text": pl.String, "money": pl.Int64, "int": pl.Int64}[kind])
        columns[f"c{i}"] = series.cast(MONEY) / 100 if kind == "money" else series
    frame = pl.DataFrame(columns).with_columns(pl.col(c).cast(MONEY) for c, (kind, _) in zip(columns, spec, strict=True) if kind == "money")
    compact = exports._compact(frame)
    assert bytes(exports._csv_bytes(compact, header=False, quote_style="never")) == bytes(exports._csv_bytes(frame, header=False))
    assert compact.width <= frame.width


def test_compact_merges_adjacent_constant_columns():
    frame = pl.DataFrame({"a": ["x", "y"], "b": ["", ""], "c": ["Computed", "Computed"], "d": ["1,5", "2"], "e": [0, 0]})
    compact = exports._compact(frame)
    assert compact.columns == ["a", "b", "d", "e"]  # b and c as one field; e alone stays a column
    assert bytes(exports._csv_bytes(compact, header=False, quote_style="never")) == b'x,"",Computed,"1,5",0\ny,"",Computed,2,0\n'


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
