"""Reading reported exports as downloaded (transforms/reported.py, ingest/reported.py), docs/reconciliation.md.

"Header labels matched case-insensitively after trimming spaces and a byte-order mark; numbers
may be strings, with `$`, thousands separators or parentheses for negatives; dates as
`YYYY-MM-DD`, `YYYY/MM/DD` or `MM/DD/YYYY`; columns this product does not know are kept in the
raw data, never an error; a missing required column (the statement date, the ID, the type, the
total) is an error naming the file. Two files holding the same Statement ID stop the run with a
message naming both." Inputs (docs/stacking.md): `reported/<shop_id>/*`, CSV or XLSX ("Order details"
sheet, optionally "Statements"), or Parquet with the same labels.
"""

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from ingest.reported import read_reported
from tests.conftest import table
from transforms.reported import REQUIRED_DETAIL_LABELS, ReportedFileError, order_detail_rows, statement_rows

SOURCE = "reported/S1/june.csv"


def typed(text: str, source: str = SOURCE) -> pl.DataFrame:
    """Typed Order details rows of an export given as a pipe table of raw cells."""
    return order_detail_rows(table(text), source, "S1")


def one_cell(column: str, value: str | None) -> pl.DataFrame:
    """An export of one row whose `column` holds `value`, the required cells filled in."""
    row = {
        "Statement date (UTC)": "2025-07-10",
        "Statement ID": "S1-1",
        "Order/adjustment ID": "O1",
        "Type": "Order",
        "Total settlement amount": "0",
        column: value,
    }
    return order_detail_rows(pl.DataFrame([row], schema={k: pl.String for k in row}), SOURCE, "S1")


# ---------------------------------------------------------------- headers


def test_headers_match_case_insensitively_after_trimming_spaces_and_a_bom():
    # Every required header is written the way a re-saved spreadsheet may spell it: a BOM glued
    # to the first one, stray spaces, other letter cases. All are recognised as the labels.
    frame = pl.DataFrame(
        {
            "\ufeffStatement Date (UTC)": ["2025-07-10"],
            "  STATEMENT ID ": ["S1-1"],
            "order/adjustment id": ["O1"],
            " type": ["Order"],
            "TOTAL SETTLEMENT AMOUNT": ["9.20"],
            "net Sales ": ["10.00"],
        }
    )
    rows = order_detail_rows(frame, SOURCE, "S1")
    assert rows.select(
        "statement_date",
        "statement_id",
        "order_adjustment_id",
        "type",
        "total_settlement_amount_cents",
        "net_sales_cents",
    ).rows() == [(date(2025, 7, 10), "S1-1", "O1", "Order", 920, 1000)]
    assert rows["raw"].to_list() == [None]  # nothing unknown: the odd spellings are not "extra" columns


def test_unknown_columns_are_kept_in_raw_and_never_an_error():
    rows = typed(
        """
        | Statement date (UTC) | Statement ID | Order/adjustment ID | Type  | Total settlement amount | Warehouse | Note   |
        | 2025-07-10           | S1-1         | O1                  | Order | 9.20                    | W1        | fragile|
        | 2025-07-10           | S1-1         | O2                  | Order | 1.00                    |           |        |
        """
    )
    assert [json.loads(r) for r in rows["raw"]] == [
        {"Warehouse": "W1", "Note": "fragile"},
        {"Warehouse": None, "Note": None},
    ]
    assert rows["total_settlement_amount_cents"].to_list() == [920, 100]


def test_money_columns_not_in_the_file_are_zero_and_text_columns_null():
    # An export may leave out columns it does not use; they read as 0 (money) or empty (text).
    rows = typed(
        """
        | Statement date (UTC) | Statement ID | Order/adjustment ID | Type  | Total settlement amount |
        | 2025-07-10           | S1-1         | O1                  | Order | 9.20                    |
        """
    )
    assert rows.select(
        "net_sales_cents", "referral_fee_cents", "adjustment_amount_cents", "related_order_id", "payment_id"
    ).row(0) == (0, 0, 0, None, None)
    assert rows.select("shop_id", "source").row(0) == ("S1", SOURCE)


@pytest.mark.parametrize("missing", REQUIRED_DETAIL_LABELS)
def test_a_missing_required_column_is_an_error_naming_the_file(missing):
    # The required columns: the statement date, the IDs (statement and order/adjustment), the
    # type, the total. Without one the file cannot be reconciled at all.
    row = {
        "Statement date (UTC)": "2025-07-10",
        "Statement ID": "S1-1",
        "Order/adjustment ID": "O1",
        "Type": "Order",
        "Total settlement amount": "9.20",
        "Net sales": "10.00",
    }
    del row[missing]
    with pytest.raises(ReportedFileError) as error:
        order_detail_rows(pl.DataFrame([row]), SOURCE, "S1")
    assert str(error.value) == f"{SOURCE}: Order details: required column '{missing}' is missing"


def test_a_statements_sheet_needs_its_date_id_and_total():
    frame = pl.DataFrame({"Statement date (UTC)": ["2025-07-10"], "Statement ID": ["S1-1"], "Net sales": ["10.00"]})
    with pytest.raises(
        ReportedFileError, match=r"^x\.xlsx: Statements: required column 'Total settlement amount' is missing$"
    ):
        statement_rows(frame, "x.xlsx", "S1")


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("9.20", 920),
        ("-0.80", -80),
        ("$9.20", 920),  # a currency sign
        ("1,234.56", 123456),  # thousands separators
        ("$1,234,567.00", 123456700),
        ("(0.80)", -80),  # parentheses: negative
        ("($1,234.56)", -123456),
        ("$(1,234.56)", -123456),  # Excel's accounting format puts the sign outside
        ("$ (5.00)", -500),
        ("-$5.00", -500),
        ("+3", 300),
        (" 7.5 ", 750),
        ("10", 1000),
        ("", 0),  # an empty cell: nothing reported in that column
        (None, 0),
    ],
)
def test_money_as_exported(text, cents):
    assert one_cell("Net sales", text)["net_sales_cents"].to_list() == [cents]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12.345", "sub_cent"),  # docs/stacking.md: finer than a cent is rejected, never rounded
        ("abc", "invalid_value"),
        ("(1.00", "invalid_value"),  # an unbalanced parenthesis is not a negative
        ("1.2.3", "invalid_value"),
        ("USD 5", "invalid_value"),
        ("12,50", "invalid_value"),  # a decimal comma: never read as 1,250.00
        ("1,23,456.00", "invalid_value"),  # commas that do not group by three
    ],
)
def test_a_malformed_amount_names_file_row_and_column(text, reason):
    with pytest.raises(ReportedFileError) as error:
        one_cell("Referral fee", text)
    # Row 2: the spreadsheet row of the first data row (row 1 is the header).
    assert str(error.value) == f"{SOURCE}: Order details row 2, column 'Referral fee': cannot read {text!r} ({reason})"


@pytest.mark.parametrize(
    ("values", "dtype", "cents"),
    [
        ([Decimal("-1234.50"), Decimal("0.07"), None], pl.Decimal(18, 2), 7),
        ([Decimal("-1234.5"), Decimal("0.1"), None], pl.Decimal(10, 1), 10),
        ([-1234.5, 0.07, None], pl.Float64, 7),
        (["($1,234.50)", "0.07", ""], pl.String, 7),
    ],
)
def test_typed_money_columns_give_the_cents_text_gives(values, dtype, cents):
    """Parquet's Decimal columns convert exactly without text; floats and text are parsed (one answer)."""
    rows = pl.DataFrame(
        {
            "Statement date (UTC)": ["2025-07-10"] * 3,
            "Statement ID": ["S1-1"] * 3,
            "Order/adjustment ID": ["O1", "O2", "O3"],
            "Type": ["Order"] * 3,
            "Total settlement amount": pl.Series(values, dtype=dtype),
            "Referral fee": pl.Series([1, -2, None], dtype=pl.Int32),
        }
    )
    typed_rows = order_detail_rows(rows, SOURCE, "S1")
    assert typed_rows["total_settlement_amount_cents"].to_list() == [-123450, cents, 0]
    assert typed_rows["referral_fee_cents"].to_list() == [100, -200, 0]  # integer amounts are whole dollars


def test_a_sub_cent_decimal_column_is_read_as_text_and_rejected():
    rows = pl.DataFrame(
        {
            "Statement date (UTC)": ["2025-07-10"],
            "Statement ID": ["S1-1"],
            "Order/adjustment ID": ["O1"],
            "Type": ["Order"],
            "Total settlement amount": pl.Series([Decimal("1.005")], dtype=pl.Decimal(18, 3)),
        }
    )
    with pytest.raises(
        ReportedFileError, match=r"row 2, column 'Total settlement amount': cannot read '1.005' \(sub_cent\)"
    ):
        order_detail_rows(rows, SOURCE, "S1")


def test_the_error_names_the_bad_cells_by_row_then_column():
    # Row 2 is fine; row 3 has two bad cells: both are named, the leftmost first.
    with pytest.raises(ReportedFileError) as error:
        typed(
            """
            | Statement date (UTC) | Statement ID | Order/adjustment ID | Type  | Total settlement amount | Net sales | Fees  |
            | 2025-07-10           | S1-1         | O1                  | Order | 9.20                    | 10.00     | -0.80 |
            | 2025-07-10           | S1-1         | O2                  | Order | 9.2O                    | 1O.00     | -0.80 |
            """
        )
    assert str(error.value) == (
        f"{SOURCE}: Order details row 3, column 'Total settlement amount': cannot read '9.2O' (invalid_value); "
        "row 3, column 'Net sales': cannot read '1O.00' (invalid_value)"
    )


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text", ["2025-07-01", "2025/07/01", "07/01/2025", "7/1/2025", "2025-07-01 00:00:00", " 2025-07-01 "]
)
def test_statement_dates_in_each_exported_form(text):
    # YYYY-MM-DD, YYYY/MM/DD and MM/DD/YYYY (July 1st, not January 7th); a spreadsheet's date
    # cell may come with a midnight time.
    assert one_cell("Statement date (UTC)", text)["statement_date"].to_list() == [date(2025, 7, 1)]


@pytest.mark.parametrize("text", ["2025-13-01", "31/12/2025", "July 1, 2025", "", None])
def test_a_statement_date_that_cannot_be_read_names_file_row_and_column(text):
    with pytest.raises(ReportedFileError) as error:
        one_cell("Statement date (UTC)", text)
    assert (
        str(error.value)
        == f"{SOURCE}: Order details row 2, column 'Statement date (UTC)': cannot read {text!r} (invalid_date)"
    )


# ---------------------------------------------------------------- files


EXPORT = """
| Statement date (UTC) | Statement ID | Payment ID | Status | Currency | Type                    | Order/adjustment ID | SKU ID | Quantity | Total settlement amount | Net sales | Referral fee | Adjustment amount | Related order ID | Warehouse |
| 07/10/2025           | S1-20250710  | P9         | Paid   | USD      | Order                   | O1                  | A      | 1        | $9.20                   | $10.00    | (0.80)       | 0                 |                  | W1        |
| 07/10/2025           | S1-20250710  | P9         | Paid   | USD      | Logistics reimbursement | ADJ1                |        |          | "$1,234.50"             | 0         | 0            | "$1,234.50"       | O1               |           |
"""

# What every format of EXPORT must read as (cents; the unknown `Warehouse` kept in raw).
EXPECTED = [
    (2, date(2025, 7, 10), "S1-20250710", "Order", "O1", None, 920, 1000, -80, 0, '{"Warehouse":"W1"}'),
    (
        3,
        date(2025, 7, 10),
        "S1-20250710",
        "Logistics reimbursement",
        "ADJ1",
        "O1",
        123450,
        0,
        0,
        123450,
        '{"Warehouse":null}',
    ),
]
COMPARED = [
    "_row",
    "statement_date",
    "statement_id",
    "type",
    "order_adjustment_id",
    "related_order_id",
    "total_settlement_amount_cents",
    "net_sales_cents",
    "referral_fee_cents",
    "adjustment_amount_cents",
    "raw",
]


def export_text() -> pl.DataFrame:
    return table(EXPORT).with_columns(pl.col(pl.String).str.strip_chars('"'))


def export_typed_values() -> pl.DataFrame:
    """EXPORT with real cell types: numbers as decimals, the statement date as a date."""
    return (
        export_text()
        .with_columns(
            pl.Series("Total settlement amount", [Decimal("9.20"), Decimal("1234.50")], pl.Decimal(18, 2)),
            pl.Series("Net sales", [Decimal("10.00"), Decimal("0")], pl.Decimal(18, 2)),
            pl.Series("Referral fee", [Decimal("-0.80"), Decimal("0")], pl.Decimal(18, 2)),
            pl.Series("Adjustment amount", [Decimal("0"), Decimal("1234.50")], pl.Decimal(18, 2)),
            pl.Series("Statement date (UTC)", [date(2025, 7, 10)] * 2),
            pl.col("Quantity").cast(pl.Int64),
        )
        .select(export_text().columns)
    )


def write_csv(path: Path, frame: pl.DataFrame, bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.write_csv()
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())


def write_xlsx(path: Path, details: pl.DataFrame, statements: pl.DataFrame | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(path) as workbook:
        details.write_excel(workbook, worksheet="Order details")
        if statements is not None:
            statements.write_excel(workbook, worksheet="Statements")


def test_csv_xlsx_and_parquet_read_the_same(tmp_path):
    # The same export downloaded three ways: CSV text (`$`, separators, parentheses, MM/DD/YYYY,
    # with a BOM); XLSX with numeric and date cells; Parquet with Decimal and Date columns.
    write_csv(tmp_path / "csv" / "reported" / "S1" / "june.csv", export_text(), bom=True)
    write_xlsx(tmp_path / "xlsx" / "reported" / "S1" / "june.xlsx", export_typed_values())
    (tmp_path / "parquet" / "reported" / "S1").mkdir(parents=True)
    export_typed_values().write_parquet(tmp_path / "parquet" / "reported" / "S1" / "june.parquet")
    for kind in ("csv", "xlsx", "parquet"):
        details, statements, files = read_reported(tmp_path / kind)
        assert files == [str(tmp_path / kind / "reported" / "S1" / f"june.{kind}")]
        assert details.select(COMPARED).rows() == EXPECTED, kind
        assert details["shop_id"].unique().to_list() == ["S1"]  # the folder names the shop
        assert statements is None  # no Statements sheet in any of them


def test_xlsx_statements_sheet_is_read_with_the_order_details(tmp_path):
    sheet = pl.DataFrame(
        {
            "Statement date (UTC)": [date(2025, 7, 10)],
            "Statement ID": ["S1-20250710"],
            "Payment ID": ["P9"],
            "Status": ["Paid"],
            "Total settlement amount": [1243.70],
            "Net sales": [10.0],
            "Shipping": [0.0],
            "Fees": [-0.8],
            "Adjustments": [1234.5],
            "Reserve amount": [-5.0],
            "Payable amount": [1238.70],
            "Bank account": ["****1234"],
        }
    )
    write_xlsx(tmp_path / "reported" / "S1" / "june.xlsx", export_typed_values(), sheet)
    details, statements, _ = read_reported(tmp_path)
    assert details.height == 2
    assert statements.select(
        "statement_date",
        "statement_id",
        "total_settlement_amount_cents",
        "net_sales_cents",
        "fees_cents",
        "adjustments_cents",
        "reserve_amount_cents",
        "payable_amount_cents",
        "raw",
        "shop_id",
    ).rows() == [
        (date(2025, 7, 10), "S1-20250710", 124370, 1000, -80, 123450, -500, 123870, '{"Bank account":"****1234"}', "S1")
    ]


def test_xlsx_without_an_order_details_sheet_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "reported" / "S1" / "june.xlsx"
    path.parent.mkdir(parents=True)
    export_typed_values().write_excel(path, worksheet="Sheet1")
    with pytest.raises(
        ReportedFileError, match=rf"^{re.escape(str(path))}: no sheet 'Order details' \(sheets: Sheet1\)$"
    ):
        read_reported(tmp_path)


def test_a_malformed_value_in_a_file_names_the_file_row_and_column(tmp_path):
    path = tmp_path / "reported" / "S1" / "june.csv"
    write_csv(path, export_text().with_columns(pl.Series("Referral fee", ["(0.80)", "0.0o"])))
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert str(error.value) == f"{path}: Order details row 3, column 'Referral fee': cannot read '0.0o' (invalid_value)"


def test_a_file_missing_a_required_column_is_named(tmp_path):
    path = tmp_path / "reported" / "S1" / "june.parquet"
    path.parent.mkdir(parents=True)
    export_typed_values().drop("Type").write_parquet(path)
    with pytest.raises(
        ReportedFileError, match=rf"^{re.escape(str(path))}: Order details: required column 'Type' is missing$"
    ):
        read_reported(tmp_path)


def test_two_files_holding_one_statement_id_stop_the_run_naming_both(tmp_path):
    # june.csv and june-again.csv both hold S1-20250710 (a statement downloaded twice).
    first, second = tmp_path / "reported" / "S1" / "june.csv", tmp_path / "reported" / "S1" / "june-again.csv"
    write_csv(first, export_text())
    write_csv(second, export_text().head(1))
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert str(error.value) == f"Statement ID S1-20250710 is in two files: {second} and {first}"


def test_a_statements_sheet_and_order_details_of_another_file_holding_one_statement_clash(tmp_path):
    write_csv(tmp_path / "reported" / "S1" / "a.csv", export_text())
    sheet = pl.DataFrame(
        {
            "Statement date (UTC)": ["2025-07-10"],
            "Statement ID": ["S1-20250710"],
            "Total settlement amount": ["1243.70"],
        }
    )
    write_xlsx(
        tmp_path / "reported" / "S1" / "b.xlsx",
        export_text().with_columns(pl.lit("S1-OTHER").alias("Statement ID")),
        sheet,
    )
    with pytest.raises(ReportedFileError, match=r"Statement ID S1-20250710 is in two files: .*a\.csv and .*b\.xlsx"):
        read_reported(tmp_path)


def test_one_file_with_its_own_statements_sheet_and_distinct_statements_across_files_are_fine(tmp_path):
    # The Statements sheet repeats its own file's Statement ID: not a clash. Another file with
    # another statement, a blank Statement ID in each, and an upper-case suffix are all fine.
    sheet = pl.DataFrame(
        {
            "Statement date (UTC)": ["2025-07-10"],
            "Statement ID": ["S1-20250710"],
            "Total settlement amount": ["1243.70"],
        }
    )
    write_xlsx(tmp_path / "reported" / "S1" / "june.xlsx", export_text(), sheet)
    blank_id = export_text().with_columns(
        pl.Series("Statement ID", ["S1-20250711", None]), pl.lit("07/11/2025").alias("Statement date (UTC)")
    )
    write_csv(tmp_path / "reported" / "S1" / "JULY.CSV", blank_id)
    write_csv(
        tmp_path / "reported" / "S2" / "june.csv",
        export_text().with_columns(pl.Series("Statement ID", ["S2-20250710", None])),
    )
    details, statements, files = read_reported(tmp_path)
    assert len(files) == 3
    assert details.group_by("shop_id", "statement_id").len().sort(
        "shop_id", "statement_id", nulls_last=True
    ).rows() == [
        ("S1", "S1-20250710", 2),
        ("S1", "S1-20250711", 1),
        ("S1", None, 1),
        ("S2", "S2-20250710", 1),
        ("S2", None, 1),
    ]
    assert statements.height == 1


def test_no_reported_folder_reads_nothing(tmp_path):
    assert read_reported(tmp_path) == (None, None, [])


def test_many_files_of_mixed_layouts_read_together_as_each_alone_in_file_order(tmp_path):
    # A history is a file per statement: the sheets of one layout are typed together
    # (transforms/reported.py `_typed_sheets`), which must give each file's rows as reading it
    # alone does, in the order the files are read, whatever layouts alternate between them.
    layouts = {
        "csv": lambda path, frame: write_csv(path, frame),
        "parquet": lambda path, frame: frame.write_parquet(path),
    }
    written = []
    for shop in ("S1", "S2"):
        for day in range(10, 16):
            kind = ("csv", "parquet")[day % 2]
            frame = (export_text() if kind == "csv" else export_typed_values()).with_columns(
                pl.lit(f"{shop}-2025-07-{day}").alias("Statement ID")
            )
            if day == 13:  # a layout of its own: a column the others do not have
                frame = frame.with_columns(pl.lit("x").alias("Note"))
            path = tmp_path / "all" / "reported" / shop / f"{day}.{kind}"
            path.parent.mkdir(parents=True, exist_ok=True)
            layouts[kind](path, frame)
            alone = tmp_path / "alone" / f"{shop}-{day}" / "reported" / shop / path.name
            alone.parent.mkdir(parents=True)
            alone.write_bytes(path.read_bytes())
            written.append((path, alone))
    details, _, files = read_reported(tmp_path / "all")
    assert files == [str(path) for path, _ in written]
    each = [
        read_reported(alone.parents[2])[0].with_columns(pl.lit(str(path)).alias("source")) for path, alone in written
    ]
    assert details.equals(pl.concat(each, how="vertical"))


def test_errors_of_files_typed_together_name_each_file_in_read_order(tmp_path):
    paths = [tmp_path / "reported" / "S1" / f"{day}.csv" for day in (10, 11, 12)]
    for day, path in zip((10, 11, 12), paths, strict=True):
        fee = "0.0o" if day != 11 else "(0.80)"
        write_csv(
            path,
            export_text().with_columns(
                pl.Series("Referral fee", ["(0.80)", fee]), pl.lit(f"S1-{day}").alias("Statement ID")
            ),
        )
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert str(error.value) == "; ".join(
        f"{path}: Order details row 3, column 'Referral fee': cannot read '0.0o' (invalid_value)"
        for path in (paths[0], paths[2])
    )
