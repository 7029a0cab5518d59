"""The seller's own side files of the import (docs/importing.md, docs/template.md), from frames of
raw text to typed tables and rejected rows: the promotions template (`promotions`,
`promotion_products`, `opt_out_events`), the order attributes and the catalog (SKU → product).
Pure: frames in, frames out; ingest/side_files.py reads the CSV and XLSX files into those frames.

Decisions:

- Columns are matched by name: byte-order mark dropped, surrounding spaces trimmed, letter case
  ignored, and runs of spaces, hyphens and underscores read as one `_`, so a header may be written
  in words (`Promotion ID` is `promotion_id`, `SKU ID` is `sku_id`). Other columns are ignored
  (never loaded). A required column missing, or a column appearing twice, stops the file with a
  `SideFileError` naming the file, the sheet and the column; such a message never quotes a cell.
- Every cell is text; surrounding spaces and tabs are stripped and an empty cell is null. A row
  empty in every column read is no row (skipped: a spreadsheet's blank line). Rows keep their
  spreadsheet numbers: 1 is the header, 2 the first data row.
- Nothing is lost: every other row is either in its table or in `rejected`, exactly once, with
  its first failing cell in contract order (`column` is the contract's name, `value` the cell's
  stripped text) and staging's reason codes (`schemas.inputs.REASONS`).
- Template tables come out in the contract's columns and file types (`schemas.inputs.file_schema`):
  IDs and enums String, money and discount values Decimal(18,2), counts Int64, times
  Datetime(us, UTC), flags Boolean; so written as Parquet they are input files, and staging reads
  from them exactly what the template says. Only what a cast needs is checked here (a value that
  cannot be read as its type, a required value missing, a value beyond the contract's bounds
  `MAX_AMOUNT_CENTS` / `MAX_COUNT`, a value outside its enum): rules between columns or rows
  (duplicate keys, kinds a type does not allow, tiers, windows, scopes, negative amounts) are
  staging's, which the run applies to these tables like any input; they are not copied here.
- Template values are read in a spreadsheet user's words: enums in any case, with spaces or
  hyphens for underscores (`Flash Deal` is `flash_deal`); flags `true`/`false`, `yes`/`no`, `1`/`0`
  in any case; money with `$`, spaces and thousands commas grouping by three (`$1,000.00`), more
  than 2 decimals `sub_cent`; `discount_value` in percent units for `percent_off` (`15` or `15%`
  is 15 %, at most 2 decimals else `too_precise`) and in dollars otherwise (`$5` allowed): a `%`
  on a row of another kind, or a `$` on a `percent_off` row, is `invalid_value`; counts are whole
  numbers (`1.0` reads as 1). An empty `tier` is 1, an empty `condition` is `none`.
- Times: ISO 8601 `YYYY-MM-DD HH:MM[:SS[.ffffff]]` (`T` or a space between date and time). With an
  offset (`Z`, `+05:30`, `-0700`, `-07`) it is taken as given; without one it is local to the
  explicit IANA `timezone` (no default): a local time that does not exist there (clocks forward)
  is `invalid_value`, one that happens twice (clocks back) `ambiguous_time`, never guessed. A date
  alone is midnight at its start (a real date cell of an XLSX reads as `YYYY-MM-DD 00:00:00`):
  as `ends_at` is the first instant outside the window, a July promotion ends `2026-08-01`.
- IDs are text, kept as written (`00123` stays `00123`). An XLSX cell holding an ID of more than
  15 digits as a *number* has lost digits already (a double keeps 15–17): `invalid_value`.
- Order attributes (grain: one row per order listed; key `order_id`, digits only): a column
  present answers for every order listed, so an empty cell there means none / false / 0: `channel`
  (`live`, `video`, `shop`, any case) empty is `shop` (sold in neither LIVE nor video), an empty
  `buyer_is_new` false, an empty coupon ID or `affiliate_commission_rate` null (none), an empty
  `label_cost` 0. The rate is a fraction (`0.05`) or a percent (`5%`), from 0 to 1, at most 6
  decimals as a fraction (`too_precise`); `label_cost` is money as above, 0 or more. An order
  listed on several rows has all of them rejected (`duplicate_key`): which one to believe is unclear.
- Catalog (grain: one row per SKU; key `sku_id`): SKU ID and Product ID are required digits. Rows
  of field descriptions at the top of an export (before the first row with a SKU ID or Product ID
  of digits, neither cell a number) are skipped, like the order export's description row. A SKU
  listed with two products has every row rejected (`duplicate_key`); listed twice with the same
  product it is kept once.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from schemas.inputs import CHANNELS, INPUT_TABLES, MAX_AMOUNT_CENTS, MAX_COUNT, Col, file_schema
from transforms.money import parse_fixed, units_to_decimal
from transforms.seller_center import check_timezone, number_text, numeric_cell, text_cells, within

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "CATALOG_COLUMNS",
    "REJECTED_SCHEMA",
    "TEMPLATE_REJECTED_SCHEMA",
    "TEMPLATE_TABLES",
    "SideFileError",
    "SideTable",
    "SideTables",
    "catalog",
    "check_timezone",
    "column_name",
    "match_columns",
    "numeric_cell",
    "order_attributes",
    "read_time",
    "template_table",
]

TEMPLATE_TABLES = ("promotions", "promotion_products", "opt_out_events")
ATTRIBUTE_COLUMNS = (
    "channel",
    "buyer_is_new",
    "seller_coupon_id",
    "platform_coupon_id",
    "affiliate_commission_rate",
    "label_cost",
)
CATALOG_COLUMNS = ("sku_id", "product_id")

REJECTED_SCHEMA = {"file": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String, "value": pl.String}
TEMPLATE_REJECTED_SCHEMA = {
    "file": pl.String,
    "sheet": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "reason": pl.String,
    "value": pl.String,
}

_ID_DIGITS = 15  # a number of more digits cannot have come through a double exactly
_DIGITS = r"^[0-9]+$"
_NUMBER = r"^[+-]?[0-9][0-9,]*(\.[0-9]*)?([eE][+-]?[0-9]+)?$"  # what a spreadsheet may make of an ID
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_TIME = (
    r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$"
)
_OFFSET = r"^([+-])([0-9]{2}):?([0-9]{2})?$"
_FAIL_DTYPE = pl.Struct({"column": pl.String, "reason": pl.String, "value": pl.String})
_UTC = pl.Datetime("us", "UTC")


class SideFileError(ValueError):
    """A side file that cannot be read at all: unreadable, not the expected kind, a required sheet
    or column missing, a column or sheet appearing twice. The message names the file, and the
    sheet and column when the problem is theirs; it never quotes a cell."""

    def __init__(self, file: str, message: str, sheet: str | None = None, column: str | None = None) -> None:
        self.file = file
        self.sheet = sheet
        self.column = column
        where = file if sheet is None else f"{file}, sheet '{sheet}'"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class SideTables:
    """The promotions template read: `tables` (`promotions`, `promotion_products`,
    `opt_out_events`, each in `file_schema(table)`'s columns and types, rows in sheet order) and
    `rejected` (`TEMPLATE_REJECTED_SCHEMA`: file, sheet, row, column, reason, value)."""

    tables: dict[str, pl.DataFrame]
    rejected: pl.DataFrame


@dataclass(frozen=True)
class SideTable:
    """One side file read: `frame` (typed, one row per key), `columns` (the columns the file
    answers for beside its key, as named in the file's contract) and `rejected` (`REJECTED_SCHEMA`)."""

    frame: pl.DataFrame
    columns: tuple[str, ...]
    rejected: pl.DataFrame


# ---------------------------------------------------------------- headers


def column_name(header: str | None) -> str:
    """What a header (or a sheet or file name) is matched by: `Promotion ID` → `promotion_id`."""
    return re.sub(r"[\s_-]+", "_", (header or "").replace("\ufeff", "").strip().lower()).strip("_")


def match_columns(
    headers: Sequence[str | None], wanted: Sequence[str], required: Sequence[str], file: str, sheet: str | None = None
) -> dict[str, int]:
    """The position of each of the `wanted` columns among a header row, in `wanted` order; raises
    naming the file, sheet and column when a `required` one is missing or any appears twice."""
    found: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        name = column_name(header)
        if name in wanted:
            found.setdefault(name, []).append(position)
    for name in required:
        if name not in found:
            raise SideFileError(file, f"required column '{name}' is missing (row 1 is the header)", sheet, name)
    for name in wanted:
        if len(found.get(name, ())) > 1:
            raise SideFileError(
                file, f"column '{name}' appears more than once: which one to read is unclear", sheet, name
            )
    return {name: found[name][0] for name in wanted if name in found}


# ---------------------------------------------------------------- cells


def _id(name: str, pattern: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(ID, reason): `invalid_value` for a number cell of more than 15 digits, or text not matching `pattern`."""
    cell = pl.col(name)
    bad = pl.col(numeric_cell(name)) & (cell.str.len_chars() > _ID_DIGITS)
    if pattern is not None:
        bad = bad | ~cell.str.contains(pattern)
    return cell, pl.when(cell.is_not_null() & bad).then(pl.lit("invalid_value"))


def _enum(cell: pl.Expr, allowed: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """(value, reason): lower case, runs of spaces, hyphens and underscores one `_`; else `bad_enum`."""
    value = cell.str.to_lowercase().str.replace_all(r"[\s_-]+", "_")
    return value, pl.when(value.is_not_null() & ~value.is_in(list(allowed))).then(pl.lit("bad_enum"))


def _flag(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(Boolean, reason): true/yes/1 or false/no/0 in any case, else `invalid_value`."""
    word = cell.str.to_lowercase()
    value = pl.when(word.is_in(list(_TRUE))).then(True).when(word.is_in(list(_FALSE))).then(False)
    return value, pl.when(cell.is_not_null() & value.is_null()).then(pl.lit("invalid_value"))


def _money(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(Int64 cents, reason) of a money cell, within the contract's bound in magnitude."""
    value, reason = parse_fixed(number_text(cell), 2, "sub_cent")
    return value, within(reason, value, -MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS)


def _count(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(Int64, reason) of a whole number, within the contract's bound in magnitude."""
    value, reason = parse_fixed(number_text(cell), 0, "invalid_value")
    return value, within(reason, value, -MAX_COUNT, MAX_COUNT)


def _discount_value(cell: pl.Expr, kind: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(Int64 hundredths, reason): percent points for `percent_off` (a `%` allowed), cents
    otherwise (a `$` allowed); the other symbol on the row is `invalid_value`."""
    percent = cell.str.ends_with("%")
    dollar = cell.str.contains("$", literal=True)
    value, reason = parse_fixed(number_text(cell.str.strip_suffix("%")), 2, "too_precise")
    is_percent = kind == "percent_off"
    wrong = (percent & ~is_percent.fill_null(False)) | (dollar & is_percent.fill_null(False))
    reason = pl.when(reason.is_null() & wrong).then(pl.lit("invalid_value")).otherwise(reason)
    return value, within(reason, value, -MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS)


def _rate(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(Int64 millionths, reason) of a fraction (`0.05`) or percent (`5%`) from 0 to 1."""
    percent = cell.str.ends_with("%")
    text = cell.str.strip_suffix("%").str.replace_all(r"\s", "")
    fraction, fraction_reason = parse_fixed(text, 6, "too_precise")
    points, points_reason = parse_fixed(text, 4, "too_precise")  # hundredths of a percent point are millionths
    value = pl.when(percent).then(points).otherwise(fraction)
    reason = pl.when(percent).then(points_reason).otherwise(fraction_reason)
    return value, within(reason, value, 0, 1_000_000)


def read_time(cell: pl.Expr, timezone: str) -> tuple[pl.Expr, pl.Expr]:
    """(UTC time, reason) of an ISO 8601 time's text: with an offset taken as given, without one
    local to `timezone` (a time skipped there `invalid_value`, a time repeated `ambiguous_time`)."""
    parts = cell.str.extract_groups(_TIME)
    field = parts.struct.field

    def two(number: pl.Expr) -> pl.Expr:
        return number.str.zfill(2)

    naive = pl.concat_str(
        field("1"),
        pl.lit("-"),
        two(field("2")),
        pl.lit("-"),
        two(field("3")),
        pl.lit(" "),
        two(field("4").fill_null("0")),
        pl.lit(":"),
        field("5").fill_null("00"),
        pl.lit(":"),
        field("6").fill_null("00"),
    ).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    micros = field("7").str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    naive = naive + pl.duration(microseconds=micros)
    offset = field("8").str.to_uppercase()
    signed = offset.str.extract_groups(_OFFSET)
    hours = signed.struct.field("2").cast(pl.Int64)
    minutes = signed.struct.field("3").cast(pl.Int64).fill_null(0)
    offset_minutes = (
        pl.when(offset == "Z")
        .then(0)
        .when((hours <= 23) & (minutes <= 59))
        .then((hours * 60 + minutes) * pl.when(signed.struct.field("1") == "-").then(-1).otherwise(1))
    )
    given = (naive - pl.duration(minutes=offset_minutes)).dt.replace_time_zone("UTC")
    placed = naive.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
    earliest = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    value = pl.when(offset.is_not_null()).then(given).otherwise(placed.dt.convert_time_zone("UTC"))
    reason = (
        pl.when(cell.is_null())
        .then(pl.lit(None, pl.String))
        .when(naive.is_null())
        .then(pl.lit("invalid_value"))
        .when(offset.is_not_null())
        .then(pl.when(offset_minutes.is_null()).then(pl.lit("invalid_value")))
        .when(placed.is_not_null())
        .then(pl.lit(None, pl.String))
        .when(earliest.is_not_null())
        .then(pl.lit("ambiguous_time"))
        .otherwise(pl.lit("invalid_value"))
    )
    return value.dt.cast_time_unit("us"), reason


# ---------------------------------------------------------------- rows


def _first_failure(names: Sequence[str], reasons: Sequence[pl.Expr]) -> pl.Expr:
    """The first failing cell in column order (column, reason, the cell's text), or null."""
    return pl.coalesce(
        [
            pl.when(reason.is_not_null()).then(pl.struct(column=pl.lit(name), reason=reason, value=pl.col(name)))
            for name, reason in zip(names, reasons, strict=True)
        ]
        or [pl.lit(None, _FAIL_DTYPE)]
    ).cast(_FAIL_DTYPE)


def _reject_where(frame: pl.DataFrame, condition: pl.Expr, column: str, reason: str) -> pl.DataFrame:
    """Give rows not yet rejected that meet `condition` the failure (`column`, `reason`, its cell)."""
    hit = pl.col("_failure").is_null() & condition.fill_null(False)
    failure = pl.struct(column=pl.lit(column), reason=pl.lit(reason), value=pl.col(column))
    return frame.with_columns(
        pl.when(hit).then(failure).otherwise(pl.col("_failure")).cast(_FAIL_DTYPE).alias("_failure")
    )


def _rejected(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    failure = pl.col("_failure").struct
    return (
        frame.filter(pl.col("_failure").is_not_null())
        .select(
            *[pl.col(name) for name in schema if name not in ("column", "reason", "value")],
            failure.field("column"),
            failure.field("reason"),
            failure.field("value"),
        )
        .cast(schema)
    )


def _require_columns(raw: pl.DataFrame, required: Sequence[str], file: str, sheet: str | None = None) -> None:
    for name in required:
        if name not in raw.columns:
            raise SideFileError(file, f"required column '{name}' is missing", sheet, name)


# ---------------------------------------------------------------- the promotions template


def _template_cell(col: Col, timezone: str) -> tuple[pl.Expr, pl.Expr]:
    """(value in the file type of `col`, reason or null) of one template cell."""
    cell = pl.col(col.name)
    if col.kind == "id":
        value, reason = _id(col.name)
    elif col.kind == "text":
        value, reason = cell, pl.lit(None, pl.String)
    elif col.kind == "enum":
        value, reason = _enum(cell, col.enum)
        if col.name == "condition":  # SPEC §2: a null condition means `none`
            value = value.fill_null("none")
    elif col.kind == "money":
        cents, reason = _money(cell)
        value = units_to_decimal(cents, 2)
    elif col.kind == "value":
        hundredths, reason = _discount_value(cell, _enum(pl.col("discount_kind"), ())[0])
        value = units_to_decimal(hundredths, 2)
    elif col.kind == "count":
        value, reason = _count(cell)
    elif col.kind == "bool":
        value, reason = _flag(cell)
    elif col.kind == "timestamp":
        value, reason = read_time(cell, timezone)
    else:  # pragma: no cover - the template's tables have no other kind
        raise AssertionError(col.kind)
    if col.default is None and not col.nullable:
        reason = pl.when(cell.is_null()).then(pl.lit("missing_value")).otherwise(reason)
    elif col.default is not None:
        value = value.fill_null(col.default)
    return value, reason


def template_table(
    table: str, raw: pl.DataFrame, file: str, sheet: str, timezone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed table, rejected rows) of one template sheet.

    `raw`: `row` (the spreadsheet row), the contract's columns present as text, and optionally
    `numeric_cell(column)` Booleans for its ID columns (XLSX). The typed table has exactly
    `file_schema(table)`; rejected rows have `TEMPLATE_REJECTED_SCHEMA`."""
    if table not in TEMPLATE_TABLES:
        raise ValueError(f"'{table}' is not a table of the promotions template ({', '.join(TEMPLATE_TABLES)})")
    check_timezone(timezone)
    cols = INPUT_TABLES[table]
    _require_columns(raw, [col.name for col in cols if col.required], file, sheet)
    names = [col.name for col in cols]
    text = text_cells(raw, names, [col.name for col in cols if col.kind == "id"])
    casts = [_template_cell(col, timezone) for col in cols]
    typed = text.with_columns(
        *[value.alias(f"_value {name}") for (value, _), name in zip(casts, names, strict=True)],
        _first_failure(names, [reason for _, reason in casts]).alias("_failure"),
        pl.lit(file, pl.String).alias("file"),
        pl.lit(sheet, pl.String).alias("sheet"),
    )
    schema = file_schema(table)
    frame = typed.filter(pl.col("_failure").is_null()).select(
        pl.col(f"_value {name}").cast(dtype).alias(name) for name, dtype in schema.items()
    )
    return frame, _rejected(typed, TEMPLATE_REJECTED_SCHEMA)


# ---------------------------------------------------------------- order attributes


def order_attributes(raw: pl.DataFrame, file: str) -> SideTable:
    """The order attributes a seller keeps (grain: one row per order listed).

    `raw`: `row`, `order_id` and any of `ATTRIBUTE_COLUMNS` as text, optionally `numeric_cell`
    flags of the ID columns. `frame`: `order_id` String, then the columns present typed —
    `channel` String, `buyer_is_new` Boolean, `seller_coupon_id` / `platform_coupon_id` String
    (null: none), `affiliate_commission_rate` Decimal(18,6) (null: none), `label_cost_cents` Int64."""
    _require_columns(raw, ["order_id"], file)
    present = tuple(name for name in ATTRIBUTE_COLUMNS if name in raw.columns)
    names = ["order_id", *present]
    text = text_cells(raw, names, ["order_id", "seller_coupon_id", "platform_coupon_id"])
    values: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    order_id, reason = _id("order_id", _DIGITS)
    values.append(order_id.alias("order_id"))
    reasons.append(pl.when(order_id.is_null()).then(pl.lit("missing_value")).otherwise(reason))
    for name in present:
        cell = pl.col(name)
        if name == "channel":
            value, reason = _enum(cell, CHANNELS)
            value = value.fill_null("shop")
        elif name == "buyer_is_new":
            value, reason = _flag(cell)
            value = value.fill_null(False)
        elif name in ("seller_coupon_id", "platform_coupon_id"):
            value, reason = _id(name)
        elif name == "affiliate_commission_rate":
            ppm, reason = _rate(cell)
            value = units_to_decimal(ppm, 6)
        else:  # label_cost
            cents, reason = _money(cell)
            reason = within(reason, cents, 0, MAX_AMOUNT_CENTS)
            value = cents.fill_null(pl.when(cell.is_null()).then(0))
            name = "label_cost_cents"
        values.append(value.alias(f"_value {name}"))
        reasons.append(reason)
    typed = text.with_columns(
        *values[1:], _first_failure(names, reasons).alias("_failure"), pl.lit(file, pl.String).alias("file")
    )
    typed = _reject_where(typed, pl.len().over("order_id") > 1, "order_id", "duplicate_key")
    outputs = ["label_cost_cents" if name == "label_cost" else name for name in present]
    frame = typed.filter(pl.col("_failure").is_null()).select(
        "order_id", *[pl.col(f"_value {name}").alias(name) for name in outputs]
    )
    return SideTable(frame=frame, columns=present, rejected=_rejected(typed, REJECTED_SCHEMA))


# ---------------------------------------------------------------- catalog


def catalog(raw: pl.DataFrame, file: str) -> SideTable:
    """SKU → product from a Seller Center product export (grain: one row per SKU).

    `raw`: `row`, `sku_id` and `product_id` as text, optionally their `numeric_cell` flags.
    `frame`: `sku_id`, `product_id` (String, digits)."""
    _require_columns(raw, CATALOG_COLUMNS, file)
    text = text_cells(raw, CATALOG_COLUMNS, CATALOG_COLUMNS)
    digits = pl.col("sku_id").str.contains(_DIGITS) | pl.col("product_id").str.contains(_DIGITS)
    not_number = ~pl.col("sku_id").fill_null("").str.contains(_NUMBER) & ~pl.col("product_id").fill_null(
        ""
    ).str.contains(_NUMBER)
    before_data = ~digits.fill_null(False).cum_max()
    text = text.filter(~(before_data & not_number))
    reasons = []
    for name in CATALOG_COLUMNS:
        value, reason = _id(name, _DIGITS)
        reasons.append(pl.when(value.is_null()).then(pl.lit("missing_value")).otherwise(reason))
    typed = text.with_columns(
        _first_failure(CATALOG_COLUMNS, reasons).alias("_failure"), pl.lit(file, pl.String).alias("file")
    )
    ok = pl.col("_failure").is_null()
    products = pl.col("product_id").filter(ok).n_unique().over("sku_id")
    typed = _reject_where(typed, products > 1, "sku_id", "duplicate_key")
    frame = (
        typed.filter(pl.col("_failure").is_null())
        .select(CATALOG_COLUMNS)
        .unique("sku_id", keep="first", maintain_order=True)
    )
    return SideTable(frame=frame, columns=("product_id",), rejected=_rejected(typed, REJECTED_SCHEMA))
