"""Reading the seller's side files (ingest/side_files.py, transforms/side_files.py, synthetic/template.py).

"The promotions template (XLSX sheets or a directory of CSVs) reads into the three input tables
in the contract's columns and file types, every bad cell rejecting its row with staging's codes,
and what it reads is what staging accepts. Times with an offset as given, without one local to
an explicit time zone. Order attributes and the catalog read exactly, duplicates rejected. A file
that cannot be read at all is a SideFileError naming it, never quoting a cell."
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.side_files import SideFileError, read_catalog, read_order_attributes, read_promotions_template
from schemas.inputs import INPUT_TABLES, MAX_AMOUNT_CENTS, MAX_COUNT, REASONS, file_schema
from synthetic.template import write_template
from tests.conftest import table
from transforms.side_files import REJECTED_SCHEMA, TEMPLATE_REJECTED_SCHEMA, TEMPLATE_TABLES
from transforms.staging import stage

LA = "America/Los_Angeles"
SKU = "1729384756102938475"  # 19 digits: beyond a double's 15–17
PRODUCT = "1729384756102930001"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    """A CSV as a spreadsheet program saves it (quoted where needed)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def pipe_csv(path: Path, text: str) -> Path:
    """A CSV from a pipe table (an empty cell or `null` is an empty cell)."""
    frame = table(text)
    return write_csv(path, [frame.columns, *[["" if v is None else v for v in row] for row in frame.rows()]])


# One good promotions row, as a seller would type it; tests change the cells that matter.
GOOD = {
    "promotion_id": "FD1",
    "tier": "",
    "promotion_type": "flash_deal",
    "shop_id": "S1",
    "starts_at": "2026-07-01 00:00",
    "ends_at": "2026-08-01 00:00",
    "discount_kind": "percent_off",
    "discount_value": "15",
    "min_spend": "",
    "min_quantity": "",
    "max_discount": "",
    "condition": "",
    "campaign_id": "",
}


def promotions_dir(tmp_path: Path, rows: list[dict[str, str]], **sheets: str) -> Path:
    """A `promotions/` directory: `promotions.csv` from `rows` (each a change of `GOOD`), and the
    other sheets from pipe tables."""
    directory = tmp_path / "promotions"
    write_csv(directory / "promotions.csv", [list(GOOD), *[list({**GOOD, **row}.values()) for row in rows]])
    for name, text in sheets.items():
        pipe_csv(directory / f"{name}.csv", text)
    return directory


def rejected_cells(result) -> list[tuple]:
    return result.rejected.select("sheet", "row", "column", "reason", "value").rows()


# ---------------------------------------------------------------- the template, as typed by hand


def test_a_hand_filled_workbook_is_read_in_the_sellers_words(tmp_path):
    """Sheet names and headers in words and any case, an instructions sheet, a real date cell,
    number and boolean cells, `15%`, `$1,000.00`, `Flash Deal`, empty tier and condition."""
    path = tmp_path / "promotions.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Instructions").write_string(0, 0, "Fill one row per promotion tier.")
    sheet = book.add_worksheet("Promotions")
    headers = ["Promotion ID", "Tier", " Promotion Type ", "Shop ID", "Starts At", "Ends At", "Discount Kind",
               "Discount Value", "Min Spend", "Min Quantity", "Max Discount", "Condition", "Campaign ID", "Notes"]  # fmt: skip
    sheet.write_row(0, 0, headers)
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    # Row 2: a flash deal typed in words; row 3 left blank; rows 4-5: two BMSM tiers.
    sheet.write_row(1, 0, ["FD1\t", "", "Flash Deal", "S1"])
    sheet.write_datetime(1, 4, datetime(2026, 7, 1, 9, 0), when)
    sheet.write_string(1, 5, "2026-08-01")
    sheet.write_row(1, 6, ["Percent Off", "15%", "", "", "$3.00", "", "", "a note"])
    for row, tier, spend, quantity in ((3, 1, "$1,000.00", ""), (4, 2, "", 4)):
        sheet.write_row(row, 0, ["SB1", tier, "seller_bmsm", "S1", "2026-07-01T00:00:00Z", "2026-08-01T00:00:00-07:00"])
        sheet.write_row(row, 6, ["amount_off", "$5", spend, quantity, "", "NEW BUYER", "C-7"])
    products = book.add_worksheet("Promotion Products")
    products.write_row(0, 0, ["promotion_id", "product_id"])
    products.write_row(1, 0, ["FD1", "00123"])
    products.write_row(2, 0, ["FD1", 123456789012345])  # a number cell of 15 digits is exact
    events = book.add_worksheet("OPT_OUT_EVENTS")
    events.write_row(0, 0, ["shop_id", "promotion_type", "changed_at", "participating"])
    events.write_row(1, 0, ["S1", "product_coupon", "2026-07-10 12:00"])
    events.write_boolean(1, 3, False)
    events.write_row(2, 0, ["S1", "product_coupon", "2026-07-20 12:00", "Yes"])
    events.write_row(3, 0, ["S1", "platform_bmsm", "2026-07-21 12:00"])
    events.write_number(3, 3, 1)
    book.close()

    result = read_promotions_template(path, LA)

    assert result.rejected.height == 0, result.rejected
    expected = pl.DataFrame(
        [
            ("FD1", 1, "flash_deal", "S1", utc(2026, 7, 1, 16), utc(2026, 8, 1, 7), "percent_off",
             Decimal("15"), None, None, Decimal("3"), "none", None),
            ("SB1", 1, "seller_bmsm", "S1", utc(2026, 7, 1), utc(2026, 8, 1, 7), "amount_off",
             Decimal("5"), Decimal("1000"), None, None, "new_buyer", "C-7"),
            ("SB1", 2, "seller_bmsm", "S1", utc(2026, 7, 1), utc(2026, 8, 1, 7), "amount_off",
             Decimal("5"), None, 4, None, "new_buyer", "C-7"),
        ],
        schema=file_schema("promotions"),
        orient="row",
    )  # fmt: skip
    assert_frame_equal(result.tables["promotions"], expected)
    assert result.tables["promotion_products"]["product_id"].to_list() == ["00123", "123456789012345"]
    events_read = result.tables["opt_out_events"]
    assert events_read["participating"].to_list() == [False, True, True]
    assert events_read["changed_at"].to_list() == [utc(2026, 7, 10, 19), utc(2026, 7, 20, 19), utc(2026, 7, 21, 19)]
    for name, frame in result.tables.items():
        assert frame.schema == pl.Schema(file_schema(name)), name


def test_a_directory_of_csv_files_is_a_template_and_blank_rows_keep_row_numbers(tmp_path):
    directory = promotions_dir(
        tmp_path,
        [{}, {"promotion_id": ""}],
        promotion_products="""
        | promotion_id | product_id |
        | FD1          | 00123      |
        """,
    )
    # A blank line between rows is no row, and the rows after it keep their spreadsheet numbers.
    lines = (directory / "promotions.csv").read_text().splitlines()
    (directory / "promotions.csv").write_text("\r\n".join([*lines[:2], ",,,", *lines[2:]]))

    result = read_promotions_template(directory, LA)

    assert result.tables["promotions"]["promotion_id"].to_list() == ["FD1"]
    assert result.tables["promotion_products"].rows() == [("FD1", "00123")]
    assert result.tables["opt_out_events"].height == 0  # absent: an empty table of its contract
    assert rejected_cells(result) == [("promotions", 4, "promotion_id", "missing_value", None)]
    assert result.rejected["file"].to_list() == [str(directory / "promotions.csv")]


def test_a_sheet_starting_further_right_and_an_empty_optional_sheet(tmp_path):
    """Columns are found wherever the header puts them (here from column C); a sheet without a
    cell is an absent table."""
    path = tmp_path / "promotions.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("promotions")
    sheet.write_row(0, 2, list(GOOD))
    sheet.write_row(1, 2, list(GOOD.values()))
    sheet.write_number(2, 2, float(PRODUCT))  # a long ID typed as a number
    sheet.write_row(2, 3, list(GOOD.values())[1:])
    book.add_worksheet("opt_out_events")
    book.close()
    result = read_promotions_template(path, LA)
    assert result.tables["promotions"]["promotion_id"].to_list() == ["FD1"]
    assert result.rejected.select("row", "column", "reason").rows() == [(3, "promotion_id", "invalid_value")]
    assert result.tables["opt_out_events"].schema == pl.Schema(file_schema("opt_out_events"))


# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-07-01 09:00", utc(2026, 7, 1, 16)),  # local (PDT, -07:00)
        ("2026-07-01T09:00:00", utc(2026, 7, 1, 16)),
        ("2026-7-1 9:00", utc(2026, 7, 1, 16)),
        ("2026-07-01", utc(2026, 7, 1, 7)),  # a date alone is midnight local
        ("2026-01-15 09:00", utc(2026, 1, 15, 17)),  # PST, -08:00
        ("2026-07-01 09:00:00.25", datetime(2026, 7, 1, 16, 0, 0, 250000, tzinfo=UTC)),
        ("2026-07-01T09:00:00Z", utc(2026, 7, 1, 9)),  # an offset is taken as given
        ("2026-07-01T09:00:00+05:30", utc(2026, 7, 1, 3, 30)),
        ("2026-07-01T09:00:00-0700", utc(2026, 7, 1, 16)),
        ("2026-07-01 09:00-07", utc(2026, 7, 1, 16)),
        ("2026-11-01 01:30:00-07:00", utc(2026, 11, 1, 8, 30)),  # the repeated hour, told by its offset
        ("2026-11-01 01:30:00-08:00", utc(2026, 11, 1, 9, 30)),
        ("2026-11-01 01:30", "ambiguous_time"),  # clocks back: 01:30 happens twice, never guessed
        ("2026-03-08 02:30", "invalid_value"),  # clocks forward: 02:30 never happens
        ("07/01/2026 09:00", "invalid_value"),
        ("2026-02-30 09:00", "invalid_value"),
        ("2026-07-01 24:00", "invalid_value"),
        ("2026-07-01T09:00:00+24:00", "invalid_value"),
        ("2026-07-01 09:00:00.1234567", "invalid_value"),  # finer than a microsecond: not cut
        ("2026-07-01 09:00 PDT", "invalid_value"),
    ],
)
def test_times_with_an_offset_are_as_given_and_without_one_are_local(tmp_path, cell, expected):
    result = read_promotions_template(promotions_dir(tmp_path, [{"starts_at": cell}]), LA)
    if isinstance(expected, datetime):
        assert result.tables["promotions"]["starts_at"].to_list() == [expected]
    else:
        assert rejected_cells(result) == [("promotions", 2, "starts_at", expected, cell)]


def test_the_time_zone_is_explicit_and_known(tmp_path):
    directory = promotions_dir(tmp_path, [{}])
    for bad in ("", "PST", "Mars/Olympus"):
        with pytest.raises(ValueError, match="time zone"):
            read_promotions_template(directory, bad)


# ---------------------------------------------------------------- what a cell may hold


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"promotion_id": " "}, "promotion_id", "missing_value"),
        ({"promotion_type": "buy_one_get_one"}, "promotion_type", "bad_enum"),
        ({"discount_kind": ""}, "discount_kind", "missing_value"),
        ({"starts_at": ""}, "starts_at", "missing_value"),
        ({"ends_at": "soon"}, "ends_at", "invalid_value"),
        ({"tier": "two"}, "tier", "invalid_value"),
        ({"tier": "1.5"}, "tier", "invalid_value"),
        ({"tier": str(MAX_COUNT + 1)}, "tier", "out_of_range"),
        ({"discount_value": "12.345"}, "discount_value", "too_precise"),
        ({"discount_value": "$5"}, "discount_value", "invalid_value"),  # dollars on a percent row
        ({"discount_kind": "amount_off", "discount_value": "5%"}, "discount_value", "invalid_value"),
        ({"discount_value": "12,5"}, "discount_value", "invalid_value"),  # a decimal comma is not read as 125
        ({"min_spend": "1.005"}, "min_spend", "sub_cent"),
        ({"min_spend": "12,50"}, "min_spend", "invalid_value"),
        ({"min_spend": "1000000000.01"}, "min_spend", "out_of_range"),
        ({"max_discount": "ten"}, "max_discount", "invalid_value"),
        ({"min_quantity": "1.5"}, "min_quantity", "invalid_value"),
        ({"min_quantity": "1,000,001"}, "min_quantity", "out_of_range"),
        ({"condition": "vip"}, "condition", "bad_enum"),
        # The first failing cell in contract order is the one reported.
        ({"promotion_type": "nope", "discount_kind": "nope"}, "promotion_type", "bad_enum"),
    ],
)
def test_a_cell_that_cannot_be_read_rejects_its_row(tmp_path, changes, column, reason):
    result = read_promotions_template(promotions_dir(tmp_path, [changes]), LA)
    assert result.tables["promotions"].height == 0
    value = changes.get(column, GOOD[column]).strip() or None
    assert rejected_cells(result) == [("promotions", 2, column, reason, value)]


def test_the_other_sheets_reject_with_the_same_codes(tmp_path):
    directory = promotions_dir(
        tmp_path,
        [{}],
        promotion_products="""
        | promotion_id | product_id |
        | FD1          |            |
        | FD1          | P2         |
        """,
        opt_out_events="""
        | shop_id | promotion_type | changed_at       | participating |
        | S1      | flash_deal     | 2026-07-01 00:00 | false         |
        | S1      | product_coupon | 2026-07-01 00:00 | maybe         |
        | S1      | Product Coupon | 2026-07-01 00:00 | NO            |
        """,
    )
    result = read_promotions_template(directory, LA)
    assert rejected_cells(result) == [
        ("promotion_products", 2, "product_id", "missing_value", None),
        ("opt_out_events", 2, "promotion_type", "bad_enum", "flash_deal"),  # a seller type has no opt-out
        ("opt_out_events", 3, "participating", "invalid_value", "maybe"),
    ]
    assert result.tables["opt_out_events"].rows() == [("S1", "product_coupon", utc(2026, 7, 1, 7), False)]


def test_an_id_typed_as_a_long_number_in_excel_is_rejected_not_cut(tmp_path):
    path = tmp_path / "promotions.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("promotions")
    sheet.write_row(0, 0, list(GOOD))
    sheet.write_row(1, 0, list(GOOD.values()))
    products = book.add_worksheet("promotion_products")
    products.write_row(0, 0, ["promotion_id", "product_id"])
    products.write_row(1, 0, ["FD1", PRODUCT])  # text: exact
    products.write_string(2, 0, "FD1")
    products.write_number(2, 1, float(PRODUCT))  # a number: already cut to a double's digits
    book.close()
    result = read_promotions_template(path, LA)
    assert result.tables["promotion_products"]["product_id"].to_list() == [PRODUCT]
    assert result.rejected.select("sheet", "row", "column", "reason").rows() == [
        ("promotion_products", 3, "product_id", "invalid_value")
    ]


# ---------------------------------------------------------------- staging reads what the template says


def promotions_tables() -> dict[str, pl.DataFrame]:
    """Valid template tables: a flash deal on one product, a two-tier BMSM, a shipping discount
    for every shop, and a coupon opt-out and back."""
    promotions = pl.DataFrame(
        [
            ("FD1", 1, "flash_deal", "S1", utc(2026, 7, 1, 7), utc(2026, 8, 1, 7), "percent_off",
             Decimal("12.50"), None, None, Decimal("3.00"), "none", None),
            ("SB1", 1, "seller_bmsm", "S1", utc(2026, 7, 1, 7), utc(2026, 8, 1, 7), "amount_off",
             Decimal("5.00"), Decimal("1000.00"), None, None, "none", "C1"),
            ("SB1", 2, "seller_bmsm", "S1", utc(2026, 7, 1, 7), utc(2026, 8, 1, 7), "amount_off",
             Decimal("9.00"), None, 4, None, "none", "C1"),
            ("PS1", 1, "platform_shipping_discount", None, utc(2026, 11, 1, 8, 30), utc(2026, 11, 1, 9, 30),
             "free_shipping", None, Decimal("0.01"), None, None, "live_only", None),
        ],
        schema=file_schema("promotions"),
        orient="row",
    )  # fmt: skip
    products = pl.DataFrame([("FD1", "00123"), ("FD1", SKU)], schema=file_schema("promotion_products"), orient="row")
    events = pl.DataFrame(
        [("S1", "product_coupon", utc(2026, 7, 10), False), ("S1", "product_coupon", utc(2026, 7, 10), True)],
        schema=file_schema("opt_out_events"),
        orient="row",
    )
    return {"promotions": promotions, "promotion_products": products, "opt_out_events": events}


@pytest.mark.parametrize("timezone", [None, LA])
def test_staging_accepts_every_row_the_template_reads(tmp_path, timezone):
    """Written, read, saved as Parquet input files and staged: every row accepted, values exact
    (12.50 % is 1250 hundredths, $1,000.00 is 100000 cents, the times the same instants)."""
    tables = promotions_tables()
    path = write_template(tmp_path / "promotions.xlsx", tables, timezone)
    result = read_promotions_template(path, LA)
    assert result.rejected.height == 0
    for name, frame in result.tables.items():
        assert_frame_equal(frame, tables[name])
        frame.write_parquet(tmp_path / f"{name}.parquet")
    raw = {name: pl.read_parquet(tmp_path / f"{name}.parquet") for name in TEMPLATE_TABLES}
    empty = {name: pl.DataFrame(schema=file_schema(name)) for name in ("orders", "order_lines")}
    staged = stage({**empty, **raw})
    assert staged.rejected_rows.height == 0, staged.rejected_rows
    for name in TEMPLATE_TABLES:
        assert staged.counts[name] == {"rows_in": tables[name].height, "accepted": tables[name].height, "rejected": 0}
    promotions = staged.tables["promotions"].sort("promotion_id", "tier")
    assert promotions.select("promotion_id", "discount_value_x100", "min_spend_cents", "max_discount_cents").rows() == [
        ("FD1", 1250, None, 300),
        ("PS1", None, 1, None),
        ("SB1", 500, 100000, None),
        ("SB1", 900, None, None),
    ]


def test_rules_between_rows_and_columns_are_left_to_staging(tmp_path):
    """The template reads these rows (each cell is readable), and the run's staging rejects them
    with their own reasons: the rules live in one place."""
    rows = [
        {"promotion_id": "DUP"},
        {"promotion_id": "DUP"},
        {"promotion_id": "KIND", "discount_kind": "free_shipping"},
        {"promotion_id": "WINDOW", "ends_at": "2026-07-01 00:00"},
        {"promotion_id": "TIER", "tier": "0"},
        {"promotion_id": "NEG", "promotion_type": "seller_coupon", "min_spend": "-$5"},
        {"promotion_id": "SHOP", "shop_id": ""},
    ]
    result = read_promotions_template(promotions_dir(tmp_path, rows), LA)
    assert result.rejected.height == 0
    empty = {name: pl.DataFrame(schema=file_schema(name)) for name in ("orders", "order_lines")}
    staged = stage({**empty, **result.tables})
    reasons = staged.rejected_rows.filter(pl.col("table") == "promotions").select("row_number", "reason").rows()
    assert reasons == [
        (1, "duplicate_key"),
        (2, "duplicate_key"),
        (3, "kind_not_allowed"),
        (4, "ends_before_start"),
        (5, "out_of_range"),
        (6, "out_of_range"),
        (7, "platform_shop_required"),
    ]


# ---------------------------------------------------------------- the writer's round trip


def _cell(col):
    if col.kind == "id":
        value = st.text(alphabet="AZaz09-_=+@ é", min_size=1, max_size=10).map(str.strip).filter(bool)
    elif col.kind == "enum":
        value = st.sampled_from(col.enum)
    elif col.kind in ("money", "value"):
        value = st.integers(-MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS).map(lambda cents: Decimal(cents).scaleb(-2))
    elif col.kind == "count":
        value = st.integers(-MAX_COUNT, MAX_COUNT)
    elif col.kind == "bool":
        value = st.booleans()
    else:  # timestamp
        value = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC))
    # A null condition reads back as `none`, a null tier as 1: valid tables say so.
    nullable = col.nullable and col.name != "condition"
    return st.none() | value if nullable else value


def _tables():
    def rows(name):
        schema = file_schema(name)
        row = st.tuples(*[_cell(col) for col in INPUT_TABLES[name]])
        return st.lists(row, max_size=5).map(lambda rows: pl.DataFrame(rows, schema=schema, orient="row"))

    return st.fixed_dictionaries({name: rows(name) for name in TEMPLATE_TABLES})


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    tables=_tables(),
    written_in=st.sampled_from([None, LA, "Australia/Lord_Howe", "Asia/Kolkata"]),
    read_in=st.sampled_from([LA, "Pacific/Auckland"]),
)
def test_a_written_template_reads_back_the_same_tables(tmp_path, tables, written_in, read_in):
    """Any valid tables → template → read: the same tables (times written local are read in the
    zone they were written in; with `Z` in any zone). IDs like `=A1` or `007` stay text."""
    path = write_template(tmp_path / "promotions.xlsx", tables, written_in)
    result = read_promotions_template(path, written_in or read_in)
    assert result.rejected.height == 0, result.rejected
    for name in TEMPLATE_TABLES:
        assert_frame_equal(result.tables[name], tables[name])


def test_the_blank_template_reads_as_empty_tables(tmp_path):
    result = read_promotions_template(write_template(tmp_path / "blank.xlsx", {}), LA)
    assert result.rejected.schema == pl.Schema(TEMPLATE_REJECTED_SCHEMA)
    for name in TEMPLATE_TABLES:
        assert result.tables[name].height == 0
        assert result.tables[name].schema == pl.Schema(file_schema(name))


_CELLS = st.sampled_from(
    ["", " ", "FD1", "S1", "1", "0", "-3", "1.5", "12.345", "$5", "5%", "yes", "maybe", "flash_deal",
     "product_coupon", "percent_off", "amount_off", "2026-07-01 09:00", "2026-11-01 01:30", "2026-03-08 02:30",
     "2026-07-01T09:00:00Z", "none", "1e400", "99999999999999999999"]
)  # fmt: skip


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    sheets=st.fixed_dictionaries(
        {
            name: st.lists(
                st.lists(_CELLS, min_size=len(INPUT_TABLES[name]), max_size=len(INPUT_TABLES[name])), max_size=6
            )
            for name in TEMPLATE_TABLES
        }
    )
)
def test_nothing_is_lost(tmp_path, sheets):
    """On arbitrary cells every non-blank row is in its table or rejected, exactly once, with a
    declared reason."""
    directory = tmp_path / "promotions"
    for name, rows in sheets.items():
        write_csv(directory / f"{name}.csv", [[col.name for col in INPUT_TABLES[name]], *rows])
    result = read_promotions_template(directory, LA)
    for name, rows in sheets.items():
        filled = sum(any(cell.strip() for cell in row) for row in rows)
        rejected = result.rejected.filter(pl.col("sheet") == name)
        assert rejected["row"].n_unique() == rejected.height
        assert result.tables[name].height + rejected.height == filled, name
    assert set(result.rejected["reason"]) <= set(REASONS)


# ---------------------------------------------------------------- a template that cannot be read


def test_a_template_without_its_promotions_sheet_stops(tmp_path):
    path = tmp_path / "promotions.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("promotion_products").write_row(0, 0, ["promotion_id", "product_id"])
    book.close()
    with pytest.raises(SideFileError, match="'promotions' sheet is missing") as error:
        read_promotions_template(path, LA)
    assert error.value.file == str(path)
    directory = tmp_path / "promotions"
    pipe_csv(directory / "promotion_products.csv", "| promotion_id | product_id |")
    with pytest.raises(SideFileError, match=r"promotions\.csv is missing"):
        read_promotions_template(directory, LA)


def test_a_missing_column_names_file_sheet_and_column_and_no_cell(tmp_path):
    directory = promotions_dir(tmp_path, [{"promotion_id": "SECRET-CELL"}])
    pipe_csv(
        directory / "opt_out_events.csv",
        """
        | shop_id | promotion type | participating |
        | S1      | product_coupon | SECRET-CELL   |
        """,
    )
    with pytest.raises(SideFileError) as error:
        read_promotions_template(directory, LA)
    message = str(error.value)
    assert message == (
        f"{directory / 'opt_out_events.csv'}, sheet 'opt_out_events': "
        "required column 'changed_at' is missing (row 1 is the header)"
    )
    assert (error.value.sheet, error.value.column) == ("opt_out_events", "changed_at")
    assert "SECRET" not in message


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("promotions.xlsx", b"PK\x03\x04 not really a zip SECRET", r"cannot be read as XLSX \(\w+\)"),
        ("promotions.txt", b"promotion_id\n", "not a promotions template"),
    ],
)
def test_an_unreadable_template_stops_naming_it(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SideFileError, match=match) as error:
        read_promotions_template(path, LA)
    assert str(error.value).startswith(str(path)) and "SECRET" not in str(error.value)


def test_a_csv_that_is_not_utf8_stops_naming_the_row(tmp_path):
    directory = promotions_dir(tmp_path, [{}])
    (directory / "promotions.csv").write_bytes(
        (directory / "promotions.csv").read_bytes() + "Caf\xe9,1\r\n".encode("latin-1")
    )
    with pytest.raises(SideFileError, match=r"row 3: not UTF-8 text"):
        read_promotions_template(directory, LA)


def test_a_table_twice_or_a_column_twice_is_unclear(tmp_path):
    path = tmp_path / "promotions.xlsx"
    book = xlsxwriter.Workbook(path)
    for name in ("promotions", "Promotions "):
        book.add_worksheet(name[:31]).write_row(0, 0, list(GOOD))
    book.close()
    with pytest.raises(SideFileError, match="several sheets hold the 'promotions' table"):
        read_promotions_template(path, LA)
    directory = tmp_path / "twice"
    write_csv(directory / "promotions.csv", [[*GOOD, "Promotion ID"], [*GOOD.values(), "X"]])
    with pytest.raises(SideFileError, match="column 'promotion_id' appears more than once"):
        read_promotions_template(directory, LA)


# ---------------------------------------------------------------- order attributes


def test_order_attributes_are_typed_and_an_empty_cell_is_none_false_or_zero(tmp_path):
    path = pipe_csv(
        tmp_path / "order_attributes.csv",
        """
        | Order ID             | Channel | Buyer is new | seller_coupon_id | platform_coupon_id | affiliate_commission_rate | Label Cost |
        | 576461234567891234   | LIVE    | yes          | SC1              |                    | 0.1                       | $1,234.56  |
        | 576461234567891235   |         |              |                  | PC9                | 12.5%                     |            |
        | 576461234567891236   | video   | 0            |                  |                    |                           | 7          |
        """,
    )
    result = read_order_attributes(path)
    assert result.columns == (
        "channel", "buyer_is_new", "seller_coupon_id", "platform_coupon_id", "affiliate_commission_rate", "label_cost",
    )  # fmt: skip
    expected = pl.DataFrame(
        [
            ("576461234567891234", "live", True, "SC1", None, Decimal("0.1"), 123456),
            ("576461234567891235", "shop", False, None, "PC9", Decimal("0.125"), 0),
            ("576461234567891236", "video", False, None, None, None, 700),
        ],
        schema={
            "order_id": pl.String, "channel": pl.String, "buyer_is_new": pl.Boolean, "seller_coupon_id": pl.String,
            "platform_coupon_id": pl.String, "affiliate_commission_rate": pl.Decimal(18, 6),
            "label_cost_cents": pl.Int64,
        },
        orient="row",
    )  # fmt: skip
    assert_frame_equal(result.frame, expected)
    assert result.rejected.height == 0


def test_only_the_attribute_columns_present_are_answered(tmp_path):
    path = write_csv(tmp_path / "order_attributes.csv", [["order_id", "label_cost", "notes"], ["1\t", "2.50", "x"]])
    result = read_order_attributes(path)
    assert result.columns == ("label_cost",)
    assert result.frame.rows() == [("1", 250)]
    assert result.frame.schema == pl.Schema({"order_id": pl.String, "label_cost_cents": pl.Int64})


@pytest.mark.parametrize(
    ("column", "cell", "reason"),
    [
        ("order_id", "", "missing_value"),
        ("order_id", "5.76461E+17", "invalid_value"),
        ("order_id", "A-1", "invalid_value"),
        ("channel", "tv", "bad_enum"),
        ("buyer_is_new", "maybe", "invalid_value"),
        ("affiliate_commission_rate", "1.5", "out_of_range"),
        ("affiliate_commission_rate", "-0.1", "out_of_range"),
        ("affiliate_commission_rate", "0.1234567", "too_precise"),
        ("affiliate_commission_rate", "101%", "out_of_range"),
        ("affiliate_commission_rate", "ten", "invalid_value"),
        ("label_cost", "-1.00", "out_of_range"),
        ("label_cost", "1.005", "sub_cent"),
        ("label_cost", "12,50", "invalid_value"),
    ],
)
def test_an_attribute_cell_that_cannot_be_read_rejects_its_row(tmp_path, column, cell, reason):
    good = {"order_id": "100", "channel": "shop", "buyer_is_new": "no", "affiliate_commission_rate": "0.05",
            "label_cost": "3.10"}  # fmt: skip
    path = write_csv(tmp_path / "order_attributes.csv", [list(good), list({**good, column: cell}.values())])
    result = read_order_attributes(path)
    assert result.frame.height == 0
    assert result.rejected.rows() == [(str(path), 2, column, reason, cell or None)]
    assert result.rejected.schema == pl.Schema(REJECTED_SCHEMA)


def test_an_order_listed_twice_has_every_row_rejected(tmp_path):
    path = pipe_csv(
        tmp_path / "order_attributes.csv",
        """
        | order_id | channel |
        | 100      | live    |
        | 200      | shop    |
        | 100      | live    |
        | 300      | tv      |
        | 300      | live    |
        """,
    )
    result = read_order_attributes(path)
    assert result.frame.rows() == [("200", "shop")]
    # A row with a bad cell keeps its own reason; the order's other rows are duplicates all the same.
    assert result.rejected.select("row", "column", "reason").rows() == [
        (2, "order_id", "duplicate_key"),
        (4, "order_id", "duplicate_key"),
        (5, "channel", "bad_enum"),
        (6, "order_id", "duplicate_key"),
    ]


def test_order_attributes_without_order_id_stop(tmp_path):
    path = write_csv(tmp_path / "order_attributes.csv", [["order", "channel"], ["1", "live"]])
    with pytest.raises(SideFileError, match="required column 'order_id' is missing"):
        read_order_attributes(path)


# ---------------------------------------------------------------- catalog


def test_a_catalog_csv_maps_skus_to_products(tmp_path):
    path = tmp_path / "catalog.csv"
    rows = [
        ["\ufeffProduct ID", "Product Name", "SKU ID", "Price"],
        ["Platform product ID.", "Name.", "Platform SKU ID.", "Price."],  # a description row: skipped
        [PRODUCT + "\t", "Mug", SKU + "\t", "12.50"],
        [PRODUCT, "Mug", SKU, "12.50"],  # the same mapping twice: kept once
        ["1001", "Cap", "2001", "5"],
        ["1002", "Cap", "2001", "5"],  # a SKU under two products: which one is unclear
        ["1.72938E+18", "Hat", "2002", "5"],
        ["1003", "Scarf", "", "5"],
    ]
    result = read_catalog(write_csv(path, rows))
    assert result.frame.rows() == [(SKU, PRODUCT)]
    assert result.frame.schema == pl.Schema({"sku_id": pl.String, "product_id": pl.String})
    assert result.rejected.select("row", "column", "reason", "value").rows() == [
        (5, "sku_id", "duplicate_key", "2001"),
        (6, "sku_id", "duplicate_key", "2001"),
        (7, "product_id", "invalid_value", "1.72938E+18"),
        (8, "sku_id", "missing_value", None),
    ]


def test_a_catalog_xlsx_rejects_an_id_kept_as_a_number(tmp_path):
    path = tmp_path / "catalog.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Template")
    sheet.write_row(0, 0, ["sku_id", "product_id", "product_name"])
    sheet.write_row(1, 0, ["SKU ID", "Product ID", "Name"])
    sheet.write_row(2, 0, [SKU, PRODUCT, "Mug"])
    sheet.write_number(3, 0, float(SKU))
    sheet.write_string(3, 1, PRODUCT)
    sheet.write_number(4, 0, 2001)  # a short number is exact
    sheet.write_number(4, 1, 1001)
    book.close()
    result = read_catalog(path)
    assert result.frame.rows() == [(SKU, PRODUCT), ("2001", "1001")]
    assert result.rejected.select("row", "column", "reason").rows() == [(4, "sku_id", "invalid_value")]


def test_a_catalog_without_product_id_stops(tmp_path):
    path = write_csv(tmp_path / "catalog.csv", [["SKU ID", "Name"], ["1", "Mug"]])
    with pytest.raises(SideFileError, match=r"catalog\.csv: required column 'product_id' is missing"):
        read_catalog(path)
