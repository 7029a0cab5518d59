"""Reading TikTok's Seller Center order export (ingest/seller_center.py, transforms/seller_center.py).

"One row per order SKU; CSV or XLSX as downloaded. Columns matched by name (case, spaces, BOM),
only the needed ones required, the rest ignored; a missing one stops the file naming it. Every
cell text (19-digit IDs exact), trailing tabs stripped, money with `$` and separators in cents,
times local to an explicit time zone in UTC, day and month order decided from the whole column.
Personal data never read. A bad cell rejects its row (file, row, column, reason, value)."
"""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.seller_center import read_order_export
from schemas.inputs import REASONS
from synthetic.sources import EXPORT_HEADERS
from transforms.seller_center import (
    PERSONAL_LABELS,
    REJECTED_SCHEMA,
    REQUIRED_LABELS,
    ROW_COLUMNS,
    OrderExportError,
    header_key,
)

LA = "America/Los_Angeles"

# The US export's headers as downloaded (older layout: County, Districts and the Checked columns).
US_HEADERS = list(EXPORT_HEADERS)  # the generator of sample sources writes the same export
NEWER_EXTRA = ["Retail Delivery Fee", "Delivery Option Type", "House Name or Number", "Delivery Instruction",
               "Shipping Information"]  # fmt: skip
OLDER_MISSING = ["County", "Districts", "Checked Status", "Checked Marked by"]

ORDER_ID = "5764612345678912345"  # 19 digits: beyond a double's 15–17
SKU_ID = "1729384756102938475"


def cells(**changes: str) -> dict[str, str]:
    """One good row of the US export (personal cells filled with recognisable markers), with
    `changes` by header (underscores for spaces, e.g. `Order_ID`) or as `**{"Phone #": ...}`."""
    row = {header: "" for header in US_HEADERS + NEWER_EXTRA}
    row.update(
        {
            "Order ID": ORDER_ID + "\t",
            "Order Status": "Delivered",
            "SKU ID": SKU_ID + "\t",
            "Seller SKU": "MUG-BLUE",
            "Product Name": "Mug, large",
            "Variation": "Blue",
            "Quantity": "2",
            "Sku Quantity of return": "0",
            "SKU Unit Original Price": "$12.50",
            "SKU Platform Discount": "$1.00",
            "SKU Seller Discount": "$0.50",
            "Original Shipping Fee": "$5.99",
            "Shipping Fee Seller Discount": "$1.00",
            "Shipping Fee Platform Discount": "$2.00",
            "Taxes": "$1.80",
            "Order Refund Amount": "$0.00",
            "Created Time": "07/04/2026 09:05:01 PM",
            "Delivered Time": "07/09/2026 10:00:00 AM",
            "Cancelled Time": "",
        }
    )
    row.update({label: f"PII-{i}-secret" for i, label in enumerate(PERSONAL_LABELS)})
    row.update({key.replace("_", " "): value for key, value in changes.items()})
    return row


def write_csv(path: Path, rows: list[dict[str, str]], headers: list[str] | None = None, bom: bool = False) -> Path:
    """A CSV as Seller Center writes it (quoted where needed); `headers` as written in the file,
    matched to the row keys by `header_key`."""
    headers = headers or US_HEADERS
    by_key = lambda row: {header_key(k): v for k, v in row.items()}  # noqa: E731
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows([by_key(row).get(header_key(h), "") for h in headers] for row in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode())
    return path


def write_xlsx(
    path: Path,
    rows: list[dict[str, str]],
    description: bool = False,
    numbers: dict[tuple[int, str], float] | None = None,
) -> Path:
    """An XLSX export: text cells (as TikTok writes them), a row of field descriptions under the
    header when `description`, and `numbers` (data row index, header) written as number cells."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("OrderSKUList")
    sheet.write_row(0, 0, US_HEADERS)
    first = 1
    if description:
        sheet.write_row(1, 0, [f"The {h.lower()} of the order, as described." for h in US_HEADERS])
        sheet.write_string(1, US_HEADERS.index("Order ID"), "Platform unique order ID.")
        first = 2
    for i, row in enumerate(rows):
        for j, header in enumerate(US_HEADERS):
            if (i, header) in (numbers or {}):
                sheet.write_number(first + i, j, numbers[(i, header)])
            elif row.get(header):
                sheet.write_string(first + i, j, row[header])
    book.close()
    return path


def read(path: Path, timezone: str = LA):
    return read_order_export(path, timezone)


def rejected(export) -> list[tuple]:
    return export.rejected.select("row", "column", "reason", "value").rows()


# ---------------------------------------------------------------- headers


def test_a_us_export_reads_into_the_typed_rows(tmp_path):
    [row] = read(write_csv(tmp_path / "orders.csv", [cells()])).rows.to_dicts()
    assert row == {
        "file": str(tmp_path / "orders.csv"),
        "row": 2,
        "order_id": ORDER_ID,
        "order_status": "Delivered",
        "sku_id": SKU_ID,
        "product_name": "Mug, large",
        "sku_name": "Blue",
        "quantity": 2,
        "unit_price_cents": 1250,
        "sku_platform_discount_cents": 100,
        "sku_seller_discount_cents": 50,
        "shipping_fee_cents": 599,
        "shipping_seller_discount_cents": 100,
        "shipping_platform_discount_cents": 200,
        "taxes_cents": 180,
        "order_refund_amount_cents": 0,
        "returned_quantity": 0,
        "created_at": datetime(2026, 7, 5, 4, 5, 1, tzinfo=UTC),  # 9:05:01 PM PDT (UTC-7)
        "delivered_at": datetime(2026, 7, 9, 17, 0, 0, tzinfo=UTC),
        "cancelled_at": None,
    }


def test_the_typed_frames_have_their_declared_columns_and_types(tmp_path):
    export = read(write_csv(tmp_path / "orders.csv", [cells(), cells(Quantity="x")]))
    assert tuple(export.rows.columns) == ROW_COLUMNS
    assert export.rows.schema["created_at"] == pl.Datetime("us", "UTC")
    assert all(export.rows.schema[c] == pl.Int64 for c in ROW_COLUMNS if c.endswith(("_cents", "quantity")))
    assert dict(export.rejected.schema) == REJECTED_SCHEMA


def test_headers_match_whatever_their_case_spacing_and_bom(tmp_path):
    headers = [
        f"  {h.upper()}\t" if i % 3 == 0 else h.lower().replace(" ", "   ") if i % 3 == 1 else h
        for i, h in enumerate(US_HEADERS)
    ]
    export = read(write_csv(tmp_path / "orders.csv", [cells()], headers=headers, bom=True))
    assert export.rejected.height == 0
    assert export.rows.select("order_id", "unit_price_cents", "quantity").row(0) == (ORDER_ID, 1250, 2)


@pytest.mark.parametrize(
    "headers",
    [
        [h for h in US_HEADERS if h not in OLDER_MISSING],  # an export without the optional columns
        US_HEADERS + NEWER_EXTRA + ["A column of next year"],  # a newer one with more
        [h for h in reversed(US_HEADERS) if h not in PERSONAL_LABELS],  # another order, no personal data
        list(REQUIRED_LABELS),  # exactly the required ones
    ],
    ids=["older", "newer", "reordered", "required-only"],
)
def test_optional_columns_may_be_missing_extra_ones_are_ignored(tmp_path, headers):
    export = read(write_csv(tmp_path / "orders.csv", [cells()], headers=headers))
    assert export.rejected.height == 0
    assert export.rows.select("order_id", "sku_id", "taxes_cents").row(0) == (ORDER_ID, SKU_ID, 180)


def test_a_missing_required_column_stops_the_file_naming_the_file_and_the_column(tmp_path):
    path = write_csv(tmp_path / "orders.csv", [cells()], headers=[h for h in US_HEADERS if h != "Taxes"])
    with pytest.raises(OrderExportError, match=r"orders\.csv: required column 'Taxes' is missing") as caught:
        read(path)
    assert caught.value.columns == ("Taxes",)
    assert caught.value.file == str(path)


def test_every_missing_required_column_is_named(tmp_path):
    gone = ("Sku Quantity of return", "Delivered Time")
    path = write_csv(tmp_path / "orders.csv", [cells()], headers=[h for h in US_HEADERS if h not in gone])
    with pytest.raises(OrderExportError, match="required columns 'Sku Quantity of return', 'Delivered Time' are"):
        read(path)


def test_a_required_column_twice_stops_the_file(tmp_path):
    path = write_csv(tmp_path / "orders.csv", [cells()], headers=[*US_HEADERS, "quantity "])
    with pytest.raises(OrderExportError, match="column 'Quantity' appears more than once"):
        read(path)


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_an_export_of_no_orders_gives_empty_frames_of_the_declared_shape(tmp_path, suffix):
    export = read((write_csv if suffix == "csv" else write_xlsx)(tmp_path / f"orders.{suffix}", []))
    assert (export.rows.height, export.rejected.height) == (0, 0)
    assert tuple(export.rows.columns) == ROW_COLUMNS
    assert dict(export.rejected.schema) == REJECTED_SCHEMA


def test_an_xlsx_missing_a_required_column_or_not_an_xlsx_stops_naming_the_file(tmp_path):
    book = xlsxwriter.Workbook(tmp_path / "orders.xlsx")
    book.add_worksheet().write_row(0, 0, [h for h in US_HEADERS if h != "SKU ID"])
    book.close()
    with pytest.raises(OrderExportError, match=r"orders\.xlsx: required column 'SKU ID' is missing"):
        read(tmp_path / "orders.xlsx")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(OrderExportError, match=r"broken\.xlsx: cannot be read as XLSX \(\w+\)$"):
        read(tmp_path / "broken.xlsx")


def test_no_header_at_all_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "orders.csv").write_text("")
    with pytest.raises(OrderExportError, match=r"orders\.csv: is empty"):
        read(tmp_path / "orders.csv")


def test_a_file_that_is_not_utf8_stops_naming_the_row(tmp_path):
    path = write_csv(tmp_path / "orders.csv", [cells(), cells()])
    path.write_bytes(path.read_bytes().replace(b"Mug, large", b"Mug, grande \xe9"))
    with pytest.raises(OrderExportError, match="row 2: not UTF-8 text"):
        read(path)


def test_an_upper_case_suffix_is_read_and_another_suffix_refused(tmp_path):
    assert read(write_csv(tmp_path / "Orders.CSV", [cells()])).rows.height == 1
    (tmp_path / "orders.txt").write_text("Order ID\n1\n")
    with pytest.raises(OrderExportError, match="not a CSV or XLSX file"):
        read(tmp_path / "orders.txt")


# ---------------------------------------------------------------- XLSX


def test_the_xlsx_description_row_is_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path):
    rows = [cells(), cells(Quantity="two"), cells(Order_ID="5764612345678912399")]
    export = read(write_xlsx(tmp_path / "orders.xlsx", rows, description=True))
    assert export.rows["row"].to_list() == [3, 5]  # 1 the header, 2 the descriptions
    assert rejected(export) == [(4, "Quantity", "invalid_value", "two")]


def test_an_xlsx_without_description_row_starts_at_row_2(tmp_path):
    export = read(write_xlsx(tmp_path / "orders.xlsx", [cells(), cells()]))
    assert export.rows["row"].to_list() == [2, 3]


def test_a_first_row_with_a_bad_order_id_is_rejected_not_taken_for_descriptions(tmp_path):
    export = read(write_xlsx(tmp_path / "orders.xlsx", [cells(Order_ID="5.76461E+17"), cells()]))
    assert rejected(export) == [(2, "Order ID", "invalid_value", "5.76461E+17")]
    assert export.rows["row"].to_list() == [3]


def test_19_digit_ids_are_kept_exactly_from_csv_and_xlsx_text_cells(tmp_path):
    ids = ["5764612345678912345", "9999999999999999999", "1000000000000000001"]
    rows = [cells(Order_ID=i, SKU_ID=i[::-1]) for i in ids]
    for export in (read(write_csv(tmp_path / "o.csv", rows)), read(write_xlsx(tmp_path / "o.xlsx", rows))):
        assert export.rows["order_id"].to_list() == ids
        assert export.rows["sku_id"].to_list() == [i[::-1] for i in ids]


def test_an_xlsx_id_stored_as_a_number_has_lost_digits_and_is_rejected(tmp_path):
    rows = [cells(), cells(), cells()]
    numbers = {(0, "Order ID"): 5764612345678912345.0, (1, "SKU ID"): 42.0}  # a small number is exact
    export = read(write_xlsx(tmp_path / "orders.xlsx", rows, numbers=numbers))
    # The cell holds the double nearest the ID: 19 digits that look like an ID, but another one.
    assert rejected(export) == [(2, "Order ID", "invalid_value", "5764612345678912512")]
    assert export.rows.select("row", "sku_id").rows() == [(3, "42"), (4, SKU_ID)]


def test_an_xlsx_date_cell_reads_as_a_local_time(tmp_path):
    path = tmp_path / "orders.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, list(REQUIRED_LABELS))
    row = cells()
    for j, label in enumerate(REQUIRED_LABELS):
        if label == "Created Time":
            sheet.write_datetime(1, j, datetime(2026, 1, 15, 21, 5, 1), book.add_format({"num_format": "m/d/yyyy"}))
        elif row[label]:
            sheet.write_string(1, j, row[label])
    book.close()
    assert read(path).rows["created_at"].to_list() == [datetime(2026, 1, 16, 5, 5, 1, tzinfo=UTC)]  # PST, UTC-8


# ---------------------------------------------------------------- cells


def test_trailing_tabs_and_spaces_are_stripped_from_every_cell(tmp_path):
    row = cells(**{label.replace(" ", "_"): cells()[label].strip() + "\t " for label in REQUIRED_LABELS})
    row["Cancelled Time"] = "\t"
    export = read(write_csv(tmp_path / "orders.csv", [row]))
    assert export.rejected.height == 0
    assert export.rows.drop("file").row(0) == read(write_csv(tmp_path / "clean.csv", [cells()])).rows.drop("file").row(
        0
    )


@pytest.mark.parametrize(
    ("text", "cents"),
    [("$1,249.00", 124900), ("1,249.00", 124900), ("$ 1,234,567.5", 123456750), ("1249", 124900), ("$0.99", 99),
     ("12.10", 1210), ("$1,249.00\t", 124900)],
)  # fmt: skip
def test_money_with_a_dollar_sign_and_thousands_separators_reads_in_cents(tmp_path, text, cents):
    export = read(write_csv(tmp_path / "orders.csv", [cells(SKU_Unit_Original_Price=text)]))
    assert export.rows["unit_price_cents"].to_list() == [cents]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("12,50", "invalid_value"), ("1,24,900.00", "invalid_value"), ("abc", "invalid_value"),
     ("1.005", "sub_cent"), ("-1.00", "out_of_range"), ("2000000000.00", "out_of_range"),
     ("", "missing_value")],
)  # fmt: skip
def test_a_price_that_cannot_be_read_rejects_its_row(tmp_path, text, reason):
    export = read(write_csv(tmp_path / "orders.csv", [cells(SKU_Unit_Original_Price=text)]))
    assert rejected(export) == [(2, "SKU Unit Original Price", reason, text or None)]


def test_an_empty_discount_fee_tax_or_refund_is_zero(tmp_path):
    empty = {label.replace(" ", "_"): "" for label in REQUIRED_LABELS[8:15]}
    export = read(write_csv(tmp_path / "orders.csv", [cells(**empty)]))
    assert export.rows.select(pl.col("^.*_cents$").exclude("unit_price_cents")).row(0) == (0,) * 7


@pytest.mark.parametrize(
    ("quantity", "returned", "found"),
    [("1.0", "", (1, 0)), ("3", "3", (3, 3)), ("1,000", "0", (1000, 0)),
     ("1.5", "0", ("Quantity", "invalid_value")), ("0", "0", ("Quantity", "out_of_range")),
     ("", "0", ("Quantity", "missing_value")), ("2", "3", ("Sku Quantity of return", "out_of_range")),
     ("2", "-1", ("Sku Quantity of return", "out_of_range"))],
)  # fmt: skip
def test_quantities_are_whole_numbers_and_no_more_are_returned_than_sold(tmp_path, quantity, returned, found):
    export = read(write_csv(tmp_path / "orders.csv", [cells(Quantity=quantity, Sku_Quantity_of_return=returned)]))
    if isinstance(found[0], int):
        assert export.rows.select("quantity", "returned_quantity").row(0) == found
    else:
        assert export.rejected.select("column", "reason").row(0) == found


def test_a_bad_cell_rejects_its_row_with_where_and_why_and_the_other_rows_are_kept(tmp_path):
    rows = [
        cells(),
        cells(Order_ID=""),
        cells(SKU_Seller_Discount="$0.5O"),
        cells(Created_Time="07/04/2026 25:00:00 PM"),
        cells(Order_Status=" "),
        cells(SKU_ID="SKU-1", Taxes="x"),  # two bad cells: the first in the export's order is named
        cells(),
    ]
    path = write_csv(tmp_path / "orders.csv", rows)
    export = read(path)
    assert export.rejected.to_dicts() == [
        {"file": str(path), "row": 3, "column": "Order ID", "reason": "missing_value", "value": None},
        {"file": str(path), "row": 4, "column": "SKU Seller Discount", "reason": "invalid_value", "value": "$0.5O"},
        {"file": str(path), "row": 5, "column": "Created Time", "reason": "invalid_value", "value": rows[3]["Created Time"]},
        {"file": str(path), "row": 6, "column": "Order Status", "reason": "missing_value", "value": None},
        {"file": str(path), "row": 7, "column": "SKU ID", "reason": "invalid_value", "value": "SKU-1"},
    ]  # fmt: skip
    assert export.rows["row"].to_list() == [2, 8]


def test_blank_rows_are_skipped_and_the_rows_after_keep_their_numbers(tmp_path):
    path = write_csv(tmp_path / "orders.csv", [cells(), cells(Quantity="x")])
    text = path.read_text().splitlines(keepends=True)
    path.write_text("".join([text[0], text[1], "\r\n", ",,,,\r\n", text[2]]))
    export = read(path)
    assert export.rows["row"].to_list() == [2]
    assert rejected(export) == [(5, "Quantity", "invalid_value", "x")]


def test_an_empty_product_name_or_variation_is_null_not_a_rejection(tmp_path):
    export = read(write_csv(tmp_path / "orders.csv", [cells(Variation="", Product_Name="\t")]))
    assert export.rows.select("product_name", "sku_name").row(0) == (None, None)


# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("9/7/2026 9:05:01 PM", datetime(2026, 9, 8, 4, 5, 1)),  # September 7, PDT (UTC-7), unpadded
        ("12/7/2026 9:05:01 PM", datetime(2026, 12, 8, 5, 5, 1)),  # December 7, PST (UTC-8)
        ("03/08/2026 01:59:59 AM", datetime(2026, 3, 8, 9, 59, 59)),  # the last second of PST
        ("03/08/2026 03:00:00 AM", datetime(2026, 3, 8, 10, 0, 0)),  # the first of PDT
        ("1/1/2026 12:00:00 AM", datetime(2026, 1, 1, 8, 0, 0)),  # midnight
        ("1/1/2026 12:30:00 PM", datetime(2026, 1, 1, 20, 30, 0)),  # noon
        ("07/04/2026 9:05 pm", datetime(2026, 7, 5, 4, 5, 0)),  # no seconds, lower case
    ],
)
def test_us_times_with_am_pm_are_local_to_the_time_zone_given_and_come_out_in_utc(tmp_path, text, utc):
    export = read(write_csv(tmp_path / "orders.csv", [cells(Created_Time=text, Delivered_Time="")]))
    assert export.rows["created_at"].to_list() == [utc.replace(tzinfo=UTC)]


def test_the_same_export_in_another_time_zone_gives_other_instants(tmp_path):
    path = write_csv(tmp_path / "orders.csv", [cells(Created_Time="9/7/2026 9:05:01 PM")])
    assert read(path, "America/New_York").rows["created_at"].item() == datetime(2026, 9, 8, 1, 5, 1, tzinfo=UTC)
    assert read(path, "UTC").rows["created_at"].item() == datetime(2026, 9, 7, 21, 5, 1, tzinfo=UTC)


def test_a_time_clocks_skip_is_invalid_and_one_they_repeat_is_ambiguous(tmp_path):
    rows = [cells(Created_Time="03/08/2026 02:30:00 AM"), cells(Created_Time="11/01/2026 01:30:00 AM")]
    assert rejected(read(write_csv(tmp_path / "orders.csv", rows))) == [
        (2, "Created Time", "invalid_value", "03/08/2026 02:30:00 AM"),
        (3, "Created Time", "ambiguous_time", "11/01/2026 01:30:00 AM"),
    ]
    # Every reason the import gives is one the published rejected_rows contract knows.
    assert {reason for _, _, reason, _ in rejected(read(write_csv(tmp_path / "orders.csv", rows)))} <= set(REASONS)


def test_day_first_times_are_told_from_a_day_above_12_in_the_column(tmp_path):
    rows = [
        cells(Created_Time="03/07/2026 21:05:01", Delivered_Time=""),
        cells(Created_Time="13/07/2026 08:00:00", Delivered_Time="05/08/2026 10:00"),  # decided by Created Time
    ]
    export = read(write_csv(tmp_path / "orders.csv", rows), "Europe/London")
    assert export.rows["created_at"].to_list() == [
        datetime(2026, 7, 3, 20, 5, 1, tzinfo=UTC),  # 3 July, BST (UTC+1)
        datetime(2026, 7, 13, 7, 0, 0, tzinfo=UTC),
    ]
    assert export.rows["delivered_at"].to_list() == [None, datetime(2026, 8, 5, 9, 0, tzinfo=UTC)]


def test_month_first_24_hour_times_are_told_from_a_second_field_above_12(tmp_path):
    rows = [cells(Created_Time="03/07/2026 21:05:01"), cells(Created_Time="07/13/2026 08:00:00")]
    export = read(write_csv(tmp_path / "orders.csv", rows), "UTC")
    assert export.rows["created_at"].dt.date().to_list() == [datetime(2026, 3, 7).date(), datetime(2026, 7, 13).date()]


def test_a_column_whose_days_are_all_12_or_less_and_without_am_pm_is_an_error_naming_it(tmp_path):
    rows = [
        cells(Created_Time="03/07/2026 21:05:01", Delivered_Time=""),
        cells(Created_Time="12/11/2026 08:00:00", Delivered_Time="01/02/2026 08:00:00"),
    ]
    with pytest.raises(OrderExportError, match="cannot tell day from month in column 'Created Time'") as caught:
        read(write_csv(tmp_path / "orders.csv", rows), "UTC")
    assert caught.value.columns == ("Created Time", "Delivered Time")  # every undecided one, the first named


def test_day_first_and_month_first_in_one_file_is_an_error(tmp_path):
    rows = [cells(Created_Time="13/07/2026 21:05:01"), cells(Created_Time="07/13/2026 08:00:00")]
    with pytest.raises(OrderExportError, match=r"column 'Created Time' has dates day first \(row 2\) and month first"):
        read(write_csv(tmp_path / "orders.csv", rows), "UTC")
    rows = [cells(Created_Time="13/07/2026 21:05:01", Delivered_Time="07/14/2026 21:05:01")]
    with pytest.raises(OrderExportError, match="time columns disagree"):
        read(write_csv(tmp_path / "orders.csv", rows), "UTC")


def test_empty_delivered_and_cancelled_times_are_null_and_an_empty_created_time_is_missing(tmp_path):
    rows = [cells(Delivered_Time="", Cancelled_Time=""), cells(Created_Time="")]
    export = read(write_csv(tmp_path / "orders.csv", rows))
    assert export.rows.select("delivered_at", "cancelled_at").row(0) == (None, None)
    assert rejected(export) == [(3, "Created Time", "missing_value", None)]


@pytest.mark.parametrize("timezone", ["", "+08:00", "Mars/Olympus_Mons", "America/Los Angeles"])
def test_the_time_zone_must_be_a_known_iana_name(tmp_path, timezone):
    with pytest.raises(ValueError, match="time zone"):
        read(write_csv(tmp_path / "orders.csv", [cells()]), timezone)


# ---------------------------------------------------------------- personal data


def test_no_personal_column_is_among_the_columns_read():
    assert not {header_key(h) for h in REQUIRED_LABELS} & {header_key(h) for h in PERSONAL_LABELS}


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_personal_data_is_in_neither_rows_nor_rejected(tmp_path, suffix):
    rows = [cells(), cells(Quantity="x"), cells(Order_ID="")]
    write = write_csv if suffix == "csv" else write_xlsx
    export = read(write(tmp_path / f"orders.{suffix}", rows))
    assert export.rows.height == 1 and export.rejected.height == 2
    for frame in (export.rows, export.rejected):
        text = frame.select(pl.all().cast(pl.String)).write_csv()
        assert "PII-" not in text and "secret" not in text
        assert not {header_key(c) for c in frame.columns} & {header_key(h) for h in PERSONAL_LABELS}


# ---------------------------------------------------------------- generated exports

_NAMES = st.text(st.sampled_from("abcXYZ 0123,;\"'\n-éü漢$"), max_size=20)
_LOCAL = st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31)).map(lambda t: t.replace(microsecond=0))


def _unambiguous(local: datetime) -> bool:
    """A local time that happens exactly once in Los Angeles (not skipped, not repeated)."""
    zone = ZoneInfo(LA)
    once = local.replace(tzinfo=zone, fold=0).utcoffset() == local.replace(tzinfo=zone, fold=1).utcoffset()
    there = local.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local
    return once and there


def _us_time(local: datetime, padded: bool) -> str:
    hour = local.hour % 12 or 12
    text = f"{local.month}/{local.day}/{local.year} {hour}:{local:%M:%S} {'AM' if local.hour < 12 else 'PM'}"
    return f"{local:%m/%d/%Y} {hour:02d}:{local:%M:%S} {local:%p}" if padded else text


def _money(cents: int, style: int) -> str:
    whole, part = divmod(cents, 100)
    return [f"{whole}.{part:02d}", f"${whole:,}.{part:02d}", f"{whole:,}.{part:02d}\t"][style]


_ROW = st.fixed_dictionaries(
    {
        "order_id": st.integers(10**17, 10**19 - 1).map(str),
        "sku_id": st.integers(1, 10**19 - 1).map(str),
        "order_status": st.sampled_from(["Delivered", "Completed", "Cancelled", "In transit"]),
        "product_name": _NAMES,
        "sku_name": _NAMES,
        "quantity": st.integers(1, 1000),
        "returned": st.integers(0, 1000),
        "money": st.lists(st.integers(0, 10**11), min_size=8, max_size=8),
        "created": _LOCAL.filter(_unambiguous),
        "delivered": st.none() | _LOCAL.filter(_unambiguous),
        "style": st.integers(0, 2),
        "padded": st.booleans(),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(_ROW, min_size=1, max_size=8))
def test_generated_rows_written_in_the_export_layout_read_back_to_the_same_values(tmp_path, rows):
    money_labels = REQUIRED_LABELS[7:15]
    written = [
        cells(
            Order_ID=r["order_id"] + "\t",
            SKU_ID=r["sku_id"] + "\t",
            Order_Status=r["order_status"],
            Product_Name=r["product_name"],
            Variation=r["sku_name"],
            Quantity=str(r["quantity"]),
            Sku_Quantity_of_return=str(min(r["returned"], r["quantity"])),
            Created_Time=_us_time(r["created"], r["padded"]),
            Delivered_Time="" if r["delivered"] is None else _us_time(r["delivered"], not r["padded"]),
            **{
                label.replace(" ", "_"): _money(c, r["style"])
                for label, c in zip(money_labels, r["money"], strict=True)
            },
        )
        for r in rows
    ]
    export = read(write_csv(tmp_path / "generated.csv", written))
    assert export.rejected.height == 0
    utc = lambda local: None if local is None else local.replace(tzinfo=ZoneInfo(LA)).astimezone(UTC)  # noqa: E731
    expected = [
        (
            i + 2,
            r["order_id"],
            r["order_status"],
            r["sku_id"],
            r["product_name"].strip() or None,
            r["sku_name"].strip() or None,
            r["quantity"],
            *r["money"],
            min(r["returned"], r["quantity"]),
            utc(r["created"]),
            utc(r["delivered"]),
            None,
        )
        for i, r in enumerate(rows)
    ]
    assert export.rows.drop("file").rows() == expected
