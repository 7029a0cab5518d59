"""Errors as data: a malformed reported export reports every bad cell it finds (file, row,
column, value, up to a limit), not only the first (transforms/reported.py, ingest/reported.py).

"A malformed reported export reports every bad cell it finds (file, row, column, value, up to a
limit), not only the first." Row numbers are spreadsheet rows: 1 is the header, 2 the first data
row, in CSV, XLSX and Parquet alike.
"""

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from ingest.reported import read_reported
from transforms.reported import LIMIT, VALUE_CHARS, BadCell, ReportedFileError, order_detail_rows

SOURCE = "reported/S1/june.csv"


def export(n: int = 3, statement_id: str = "S1-1", **columns: list[str | None]) -> pl.DataFrame:
    """An export of `n` good Order details rows (all text), some columns replaced by `columns`."""
    rows = {
        "Statement date (UTC)": ["2025-07-10"] * n,
        "Statement ID": [statement_id] * n,
        "Order/adjustment ID": [f"O{i}" for i in range(n)],
        "Type": ["Order"] * n,
        "Total settlement amount": ["9.20"] * n,
        "Net sales": ["10.00"] * n,
        "Referral fee": ["(0.80)"] * n,
    }
    rows.update(columns)
    return pl.DataFrame(rows, schema={name: pl.String for name in rows})


def error_of(frame: pl.DataFrame, source: str = SOURCE) -> ReportedFileError:
    with pytest.raises(ReportedFileError) as error:
        order_detail_rows(frame, source, "S1")
    return error.value


def write_csv(path: Path, frame: pl.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


def test_three_bad_cells_in_two_columns_are_all_reported_with_file_row_column_and_value():
    frame = export(
        4, **{"Net sales": ["10.00", "1O.00", "10.00", "abc"], "Referral fee": ["(0.80)", "(0.80)", "0.805", "(0.80)"]}
    )
    error = error_of(frame)
    assert error.cells == (
        BadCell(SOURCE, "Order details", 3, "Net sales", "1O.00", "invalid_value"),
        BadCell(SOURCE, "Order details", 4, "Referral fee", "0.805", "sub_cent"),
        BadCell(SOURCE, "Order details", 5, "Net sales", "abc", "invalid_value"),
    )
    assert error.count == 3
    assert error.problems == ()
    assert str(error) == (
        f"{SOURCE}: Order details row 3, column 'Net sales': cannot read '1O.00' (invalid_value); "
        "row 4, column 'Referral fee': cannot read '0.805' (sub_cent); "
        "row 5, column 'Net sales': cannot read 'abc' (invalid_value)"
    )


def test_bad_cells_of_every_kind_in_one_row_are_listed_left_to_right():
    # An unreadable date, a text amount and an out-of-range integer amount (Parquet), one row.
    frame = export(2, **{"Statement date (UTC)": ["2025-07-10", "2025-13-01"], "Net sales": ["10.00", "$1.2.3"]})
    frame = frame.with_columns(pl.Series("Referral fee", [1, 10**16], pl.Int64))
    assert [(c.row, c.column, c.value, c.reason) for c in error_of(frame).cells] == [
        (3, "Statement date (UTC)", "2025-13-01", "invalid_date"),
        (3, "Net sales", "$1.2.3", "invalid_value"),
        (3, "Referral fee", str(10**16), "out_of_range"),
    ]


def test_fifty_bad_cells_list_twenty_and_count_the_rest():
    assert LIMIT == 20
    frame = export(50, **{"Net sales": [f"x{i}" for i in range(50)]})
    error = error_of(frame)
    assert error.count == 50
    assert [cell.row for cell in error.cells] == list(range(2, 22))  # the first twenty, in row order
    message = str(error)
    assert message.startswith(f"{SOURCE}: Order details row 2, column 'Net sales': cannot read 'x0' (invalid_value); ")
    assert message.count("cannot read") == 20
    assert "row 21, column 'Net sales': cannot read 'x19'" in message
    assert "'x20'" not in message
    assert message.endswith("; and 30 more")


def test_the_limit_takes_the_first_cells_by_row_whichever_column_they_are_in():
    # 30 bad cells in a right-hand column, 30 in a left-hand one lower down: the twenty listed
    # are the first twenty rows' cells, not the first column's.
    frame = export(60, **{"Net sales": [None] * 30 + ["bad"] * 30, "Referral fee": ["bad"] * 30 + [None] * 30})
    error = error_of(frame)
    assert error.count == 60
    assert [(cell.row, cell.column) for cell in error.cells] == [(row, "Referral fee") for row in range(2, 22)]
    assert str(error).endswith("; and 40 more")


def test_a_shown_value_is_the_raw_text_cut_at_a_sane_length_on_one_line():
    long = "$ 1,234.5x " + "9" * 100
    frame = export(2, **{"Net sales": [long, " 12\n3x "]})
    first, second = error_of(frame).cells
    assert first.value == long[: VALUE_CHARS - 1] + "…"  # the cell as written: its spaces and `$` kept
    assert len(first.value) == VALUE_CHARS
    assert second.value == " 12\n3x "
    assert "\n" not in str(error_of(frame))  # a line break inside a cell is shown escaped


def test_every_missing_required_column_is_named_and_the_cells_of_the_others_checked():
    frame = export(2, **{"Net sales": ["10.00", "ten"]}).drop("Type", "Statement date (UTC)")
    error = error_of(frame)
    assert error.problems == (
        f"{SOURCE}: Order details: required column 'Statement date (UTC)' is missing",
        f"{SOURCE}: Order details: required column 'Type' is missing",
    )
    assert error.cells == (BadCell(SOURCE, "Order details", 3, "Net sales", "ten", "invalid_value"),)
    assert str(error) == "; ".join(
        [*error.problems, f"{SOURCE}: Order details row 3, column 'Net sales': cannot read 'ten' (invalid_value)"]
    )


# ---------------------------------------------------------------- files


def test_bad_cells_in_two_files_are_all_reported(tmp_path):
    a = write_csv(tmp_path / "reported" / "S1" / "a.csv", export(3, "S1-A", **{"Net sales": ["1", "x", "2"]}))
    b = write_csv(
        tmp_path / "reported" / "S2" / "b.csv",
        export(3, "S2-B", **{"Statement date (UTC)": ["2025-07-10", "2025-07-10", "soon"], "Referral fee": ["?"] * 3}),
    )
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert [(c.file, c.row, c.column, c.value) for c in error.value.cells] == [
        (str(a), 3, "Net sales", "x"),
        (str(b), 2, "Referral fee", "?"),
        (str(b), 3, "Referral fee", "?"),
        (str(b), 4, "Statement date (UTC)", "soon"),
        (str(b), 4, "Referral fee", "?"),
    ]
    assert error.value.count == 5
    assert str(error.value) == (
        f"{a}: Order details row 3, column 'Net sales': cannot read 'x' (invalid_value); "
        f"{b}: Order details row 2, column 'Referral fee': cannot read '?' (invalid_value); "
        "row 3, column 'Referral fee': cannot read '?' (invalid_value); "
        "row 4, column 'Statement date (UTC)': cannot read 'soon' (invalid_date); "
        "row 4, column 'Referral fee': cannot read '?' (invalid_value)"
    )


def test_the_limit_holds_across_files(tmp_path):
    for name in ("a", "b", "c"):
        write_csv(tmp_path / "reported" / "S1" / f"{name}.csv", export(15, f"S1-{name}", **{"Net sales": ["x"] * 15}))
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert error.value.count == 45
    assert [(Path(c.file).name, c.row) for c in error.value.cells] == [("a.csv", r) for r in range(2, 17)] + [
        ("b.csv", r) for r in range(2, 7)
    ]
    assert str(error.value).endswith("; and 25 more")


def test_both_sheets_of_an_xlsx_are_checked_and_named_with_spreadsheet_rows(tmp_path):
    path = tmp_path / "reported" / "S1" / "june.xlsx"
    path.parent.mkdir(parents=True)
    statements = pl.DataFrame(
        {
            "Statement date (UTC)": ["2025-07-10", "2025-07-10"],
            "Statement ID": ["S1-1", "S1-1"],
            "Total settlement amount": ["1.00", "1.0.0"],
        }
    )
    with xlsxwriter.Workbook(path) as workbook:
        export(2, **{"Net sales": ["oops", "1"]}).write_excel(workbook, worksheet="Order details")
        statements.write_excel(workbook, worksheet="Statements")
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert error.value.cells == (
        BadCell(str(path), "Order details", 2, "Net sales", "oops", "invalid_value"),
        BadCell(str(path), "Statements", 3, "Total settlement amount", "1.0.0", "invalid_value"),
    )
    assert str(error.value) == (
        f"{path}: Order details row 2, column 'Net sales': cannot read 'oops' (invalid_value); "
        f"{path}: Statements row 3, column 'Total settlement amount': cannot read '1.0.0' (invalid_value)"
    )


def test_parquet_decimal_cells_are_collected_with_the_text_ones(tmp_path):
    path = tmp_path / "reported" / "S1" / "june.parquet"
    path.parent.mkdir(parents=True)
    export(2, **{"Net sales": ["x", "1"]}).with_columns(
        pl.Series("Total settlement amount", [Decimal("1.005"), Decimal("2.000")], pl.Decimal(18, 3))
    ).write_parquet(path)
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert [(c.row, c.column, c.value, c.reason) for c in error.value.cells] == [
        (2, "Total settlement amount", "1.005", "sub_cent"),
        (2, "Net sales", "x", "invalid_value"),
    ]


def test_unreadable_files_missing_columns_and_bad_cells_of_other_files_are_collected(tmp_path):
    latin = tmp_path / "reported" / "S1" / "a.csv"
    latin.parent.mkdir(parents=True)
    latin.write_bytes(export(1, "S1-A").write_csv().replace(",Order,", ",Caf\xe9,").encode("latin-1"))
    untyped = write_csv(tmp_path / "reported" / "S1" / "b.csv", export(1, "S1-B").drop("Type"))
    bad = write_csv(tmp_path / "reported" / "S1" / "c.csv", export(2, "S1-C", **{"Net sales": ["1", "one"]}))
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert error.value.problems == (
        f"{latin}: row 2: not UTF-8 text (byte 0xe9); export it again as CSV (UTF-8)",
        f"{untyped}: Order details: required column 'Type' is missing",
    )
    assert error.value.cells == (BadCell(str(bad), "Order details", 3, "Net sales", "one", "invalid_value"),)
    assert str(error.value) == "; ".join([*error.value.problems, str(error.value.cells[0])])


def test_every_statement_id_in_two_files_is_named(tmp_path):
    for name in ("a", "b"):
        write_csv(tmp_path / "reported" / "S1" / f"{name}-1.csv", export(1, "S1-1"))
        write_csv(tmp_path / "reported" / "S1" / f"{name}-2.csv", export(1, "S1-2"))
    write_csv(tmp_path / "reported" / "S1" / "c-2.csv", export(1, "S1-2"))
    folder = tmp_path / "reported" / "S1"
    with pytest.raises(ReportedFileError) as error:
        read_reported(tmp_path)
    assert error.value.problems == (
        f"Statement ID S1-1 is in two files: {folder / 'a-1.csv'} and {folder / 'b-1.csv'}",
        f"Statement ID S1-2 is in 3 files: {folder / 'a-2.csv'}, {folder / 'b-2.csv'} and {folder / 'c-2.csv'}",
    )
    assert error.value.cells == ()
    assert error.value.count == 0
