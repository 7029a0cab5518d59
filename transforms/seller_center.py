"""Reading TikTok's own order export (Seller Center → Orders → Export, one row per order SKU), from
a frame of raw text to typed rows: the first step of importing it. Pure: frames in, frames out;
ingest/seller_center.py reads the CSV or XLSX file into that frame.

Decisions (each for a reason the export's own layout gives):

- Columns are matched by name: the header's byte-order mark dropped, spaces (tabs too) trimmed and
  collapsed, letter case ignored. Only `REQUIRED_LABELS` are read; every other column, whatever
  the export version or region adds or leaves out, is ignored. A missing required column, or one
  that appears twice, stops the file with an `OrderExportError` naming the file and the column(s).
- Personal data never enters a frame: the columns of `PERSONAL_LABELS` (recipient, phone, address,
  buyer...) are not among the required ones, so the reader never loads them, and a rejected value
  can only come from a required column (an import-time check keeps the two lists apart).
- Every cell is text; a trailing tab or spaces (TikTok pads IDs with a tab so Excel keeps them as
  text) are stripped, and a cell left empty is null. A row empty in every required column is not
  an order row and is skipped.
- Row numbers are the spreadsheet's: 1 is the header, 2 the first data row. A row of field
  descriptions under the header (XLSX exports carry one) is recognised as the first data row whose
  Order ID is text other than digits while its SKU ID and Quantity are not numbers either, and is
  skipped: the rows after it keep their own numbers (3, 4, ...).
- IDs (Order ID, SKU ID) are kept as text and must be digits only: `5.76461E+17`, left by a
  spreadsheet program that turned an ID into a number, is `invalid_value`, never a wrong ID. An
  XLSX cell holding an ID of more than 15 digits as a *number* has lost digits already (a double
  has 15–17): it is `invalid_value` too (the reader says which cells were numbers).
- Money may carry `$`, spaces and thousands commas; commas must group digits by three
  (`1,249.00`), so that a decimal comma (`12,50`) is `invalid_value` rather than 1,250.00. It is
  read exactly by `transforms.money.parse_fixed` into Int64 cents: more than 2 decimals is
  `sub_cent`. The unit price is required (`missing_value` when empty); an empty discount, fee,
  tax or refund cell is 0. Amounts are never negative in this export: below 0, or beyond
  `schemas.inputs.MAX_AMOUNT_CENTS`, is `out_of_range`.
- Quantity is a whole number from 1 to `MAX_COUNT` (`1.0` reads as 1, `1.5` is `invalid_value`);
  the returned quantity (empty: 0) from 0 to the row's quantity.
- Order-level amounts (shipping fees and their discounts, taxes, the order refund amount) are
  kept as exported: TikTok repeats them on every SKU row of an order; this step neither splits
  nor de-duplicates them.
- Times carry no offset. `MM/DD/YYYY hh:mm:ss AM` (US; month, day and hour may be unpadded) and
  `DD/MM/YYYY HH:mm:ss` or `MM/DD/YYYY HH:mm:ss` (24 h; seconds optional) are read, as is
  `YYYY-MM-DD HH:mm:ss` (what a real date cell of an XLSX reads as). Day and month order is one
  decision for the whole file, from the cells of its three time columns together (one export has
  one layout; an often empty Delivered Time column borrows the decision of Created Time): a cell
  with AM/PM, or whose second field is above 12, says month first; a first field above 12 says
  day first. Both in one column, or two columns deciding differently, stop the file; no evidence
  at all stops it too ("cannot tell day from month in column 'Created Time'"), never a guess.
- Local times are in the explicit IANA `timezone` and become UTC `Datetime("us", "UTC")`. A time
  that does not exist there (the hour skipped when clocks go forward) is `invalid_value`; one that
  happens twice (the hour repeated when they go back) is `ambiguous_time`: rejected, not guessed.
  Created Time is required (`missing_value`); Delivered and Cancelled Time may be empty (null).
- Rejected rows follow staging's discipline (transforms/staging.py): a bad cell rejects its row
  instead of stopping the file, and every order row of the file is either in `rows` or in
  `rejected`, exactly once, with its first failing cell in `REQUIRED_LABELS` order (`file`,
  `row`, `column` as labelled in `REQUIRED_LABELS`, `reason`, `value`: the cell's stripped text).
  Reasons are staging's codes (`missing_value`, `invalid_value`, `sub_cent`, `out_of_range`)
  plus `ambiguous_time`.
- Not checked here (later steps' business): duplicate (order, SKU) rows, order-level amounts that
  differ between the rows of one order, the order status's wording, times out of order.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from schemas.inputs import MAX_AMOUNT_CENTS, MAX_COUNT
from transforms.money import drop_thousands_commas, parse_fixed

UTC = pl.Datetime("us", "UTC")

# The columns the import needs, in the US export's order (the order in which a row's cells are
# checked), each with its output column and how it is read:
# `id` digits, required; `text` required; `name` text, may be empty; `count` a whole number,
# required; `returned` a whole number, empty is 0; `price` money, required; `amount` money, empty
# is 0; `time` a local time, required; `when` a local time, may be empty.
_FIELDS = (
    ("Order ID", "order_id", "id"),
    ("Order Status", "order_status", "text"),
    ("SKU ID", "sku_id", "id"),
    ("Product Name", "product_name", "name"),
    ("Variation", "sku_name", "name"),
    ("Quantity", "quantity", "count"),
    ("Sku Quantity of return", "returned_quantity", "returned"),
    ("SKU Unit Original Price", "unit_price_cents", "price"),
    ("SKU Platform Discount", "sku_platform_discount_cents", "amount"),
    ("SKU Seller Discount", "sku_seller_discount_cents", "amount"),
    ("Original Shipping Fee", "shipping_fee_cents", "amount"),
    ("Shipping Fee Seller Discount", "shipping_seller_discount_cents", "amount"),
    ("Shipping Fee Platform Discount", "shipping_platform_discount_cents", "amount"),
    ("Taxes", "taxes_cents", "amount"),
    ("Order Refund Amount", "order_refund_amount_cents", "amount"),
    ("Created Time", "created_at", "time"),
    ("Delivered Time", "delivered_at", "when"),
    ("Cancelled Time", "cancelled_at", "when"),
)
REQUIRED_LABELS = tuple(label for label, _, _ in _FIELDS)
TIME_LABELS = tuple(label for label, _, kind in _FIELDS if kind in ("time", "when"))
ID_LABELS = tuple(label for label, _, kind in _FIELDS if kind == "id")

# Columns of the export that hold personal data: never read, never shown.
PERSONAL_LABELS = (
    "Recipient",
    "Phone #",
    "Zipcode",
    "Detail Address",
    "Additional address information",
    "House Name or Number",
    "Buyer Username",
    "Buyer Message",
    "Delivery Instruction",
    "Shipping Information",
    "Districts",
    "County",
    "City",
    "State",
)

# `rows`: the file, the spreadsheet row, the fields (the returned quantity after the money), the times.
ROW_COLUMNS = (
    "file",
    "row",
    "order_id",
    "order_status",
    "sku_id",
    "product_name",
    "sku_name",
    "quantity",
    "unit_price_cents",
    "sku_platform_discount_cents",
    "sku_seller_discount_cents",
    "shipping_fee_cents",
    "shipping_seller_discount_cents",
    "shipping_platform_discount_cents",
    "taxes_cents",
    "order_refund_amount_cents",
    "returned_quantity",
    "created_at",
    "delivered_at",
    "cancelled_at",
)
REJECTED_SCHEMA = {"file": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String, "value": pl.String}

_DIGITS = r"^[0-9]+$"
_SLASH = r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?:\s*([AaPp][Mm]))?$"
_ISO = r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$"
_ID_DIGITS = 15  # a number of more digits cannot have come through a double exactly
_FAIL_DTYPE = pl.Struct({"column": pl.String, "reason": pl.String, "value": pl.String})

if {label.lower() for label in REQUIRED_LABELS} & {label.lower() for label in PERSONAL_LABELS}:
    raise AssertionError("a personal-data column among the columns read")  # pragma: no cover


class OrderExportError(ValueError):
    """An order export that cannot be read at all: a required column missing or doubled, day and
    month order undecidable or contradictory, a file that is not readable CSV or XLSX. The message
    names the file, and the column(s) when the problem is a column's."""

    def __init__(self, file: str, message: str, columns: Sequence[str] = ()) -> None:
        self.file = file
        self.columns = tuple(columns)
        super().__init__(f"{file}: {message}")


@dataclass(frozen=True)
class OrderExport:
    """One order export read: `rows` (typed, one per order SKU row, columns `ROW_COLUMNS`) and
    `rejected` (file, row, column, reason, value: one per order row that could not be read), and
    `rejected_orders` (file, order_id): the orders of this file with a rejected row, where the
    row's Order ID itself could be read, so that the import rejects the whole order."""

    rows: pl.DataFrame
    rejected: pl.DataFrame
    rejected_orders: pl.DataFrame


def header_key(header: str | None) -> str:
    """What a header is matched by: BOM dropped, whitespace trimmed and collapsed, lower case."""
    return re.sub(r"\s+", " ", (header or "").replace("\ufeff", "")).strip().lower()


def required_columns(headers: Sequence[str | None], source: str) -> dict[str, int]:
    """The position of each of `REQUIRED_LABELS` among a file's `headers`; raises naming the file
    and every required column missing or appearing twice. Other headers are ignored."""
    wanted = {label.lower(): label for label in REQUIRED_LABELS}
    found: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        label = wanted.get(header_key(header))
        if label is not None:
            found.setdefault(label, []).append(position)
    missing = [label for label in REQUIRED_LABELS if label not in found]
    if missing:
        names = ", ".join(f"'{label}'" for label in missing)
        message = (
            f"required column {names} is missing" if len(missing) == 1 else f"required columns {names} are missing"
        )
        raise OrderExportError(source, message, missing)
    doubled = [label for label in REQUIRED_LABELS if len(found[label]) > 1]
    if doubled:
        names = ", ".join(f"'{label}'" for label in doubled)
        raise OrderExportError(source, f"column {names} appears more than once: which one to read is unclear", doubled)
    return {label: positions[0] for label, positions in found.items()}


def numeric_cell(label: str) -> str:
    """The optional Boolean column of the raw frame telling which cells of `label` were numbers."""
    return f"_number {label}"


def check_timezone(timezone: str) -> None:
    """Stop on anything but an IANA time zone name the time zone database knows."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", timezone or ""):
        raise ValueError(f"time zone {timezone!r} is not an IANA name such as 'America/Los_Angeles'")
    try:
        pl.select(pl.lit(None, pl.Datetime("us")).dt.replace_time_zone(timezone))
    except pl.exceptions.PolarsError:
        raise ValueError(f"unknown time zone {timezone!r}") from None


def order_rows(raw: pl.DataFrame, source: str, timezone: str) -> OrderExport:
    """Typed rows and rejected rows of one export.

    `raw`: `row` (the spreadsheet row), every label of `REQUIRED_LABELS` as text, and optionally
    `numeric_cell(label)` Booleans for the `ID_LABELS` (XLSX). `source` names the file in `rows`,
    `rejected` and errors; `timezone` is the IANA zone the export's times are local to.
    """
    check_timezone(timezone)
    text = text_cells(raw, REQUIRED_LABELS, ID_LABELS)
    text = text.filter(~(_description_row() & (pl.col("row") == pl.col("row").min())))
    month_first = _month_first(text, source)
    counts = _numbers(text, [label for label, _, kind in _FIELDS if kind in ("count", "returned")], "", 0)
    amounts = _numbers(text, [label for label, _, kind in _FIELDS if kind in ("price", "amount")], "$", 2)
    values, reasons = [], []
    for label, name, kind in _FIELDS:
        value, reason = _read(label, kind, month_first, timezone, counts if kind in ("count", "returned") else amounts)
        values.append(value.alias(name))
        reasons.append(reason)
    typed = text.with_columns(values)
    # A check comparing two values read is made on them, once read: no more returned than sold.
    at = REQUIRED_LABELS.index("Sku Quantity of return")
    over = reasons[at].is_null() & (pl.col("returned_quantity") > pl.col("quantity"))
    reasons[at] = pl.when(over).then(pl.lit("out_of_range")).otherwise(reasons[at])
    failure = pl.coalesce(
        [
            pl.when(reason.is_not_null()).then(pl.struct(column=pl.lit(label), reason=reason, value=pl.col(label)))
            for label, reason in zip(REQUIRED_LABELS, reasons, strict=True)
        ]
    ).cast(_FAIL_DTYPE)
    typed = typed.with_columns(failure.alias("_failure"), pl.lit(source, pl.String).alias("file"))
    rows = typed.filter(pl.col("_failure").is_null()).select(ROW_COLUMNS)
    rejected = typed.filter(pl.col("_failure").is_not_null()).select(
        "file",
        "row",
        pl.col("_failure").struct.field("column"),
        pl.col("_failure").struct.field("reason"),
        pl.col("_failure").struct.field("value"),
    )
    rejected_orders = (
        typed.filter(pl.col("_failure").is_not_null() & pl.col("Order ID").str.contains(_DIGITS))
        .select("file", pl.col("Order ID").alias("order_id"))
        .unique(maintain_order=True)
    )
    return OrderExport(rows=rows, rejected=rejected.cast(REJECTED_SCHEMA), rejected_orders=rejected_orders)


def text_cells(raw: pl.DataFrame, names: Sequence[str], ids: Sequence[str]) -> pl.DataFrame:
    """`row`, each of `names` as stripped text (absent: null) and a number flag per ID column of
    `ids` (`numeric_cell`; false when the reader gave none); rows empty in every column dropped.
    The first step of reading any seller-side file (exports, the template, side files)."""
    text = raw.select(
        pl.col("row").cast(pl.Int64),
        *[(_stripped(name) if name in raw.columns else pl.lit(None, pl.String).alias(name)) for name in names],
        *[
            (pl.col(numeric_cell(name)).fill_null(False) if numeric_cell(name) in raw.columns else pl.lit(False))
            .cast(pl.Boolean)
            .alias(numeric_cell(name))
            for name in ids
        ],
    )
    return text.filter(pl.any_horizontal(pl.col(name).is_not_null() for name in names))


def _stripped(label: str) -> pl.Expr:
    """A cell's text without surrounding whitespace (a trailing tab included); empty is null."""
    text = pl.col(label).cast(pl.String).str.strip_chars()
    return pl.when(text != "").then(text).alias(label)


def _description_row() -> pl.Expr:
    """A row of field descriptions: an Order ID of text other than digits, and neither SKU ID nor
    Quantity a number (three cells wrong at once, which an order row of a real export never is)."""
    number = r"^[0-9]+(\.[0-9]+)?$"
    return (
        pl.col("Order ID").is_not_null()
        & ~pl.col("Order ID").str.contains(_DIGITS)
        & ~pl.col("SKU ID").fill_null("").str.contains(number)
        & ~pl.col("Quantity").fill_null("").str.contains(number)
    )


def _read(label: str, kind: str, month_first: bool, timezone: str, numbers: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """(value, reason or null) of one required column, by how it is read (`_FIELDS`); a count or
    an amount is looked up in `numbers` (`_numbers`)."""
    cell = pl.col(label)
    missing = pl.when(cell.is_null()).then(pl.lit("missing_value"))
    if kind == "id":
        number = pl.col(numeric_cell(label)) & (cell.str.len_chars() > _ID_DIGITS)
        reason = missing.when(~cell.str.contains(_DIGITS) | number).then(pl.lit("invalid_value"))
        return cell, reason
    if kind == "text":
        return cell, missing.otherwise(pl.lit(None, pl.String))
    if kind == "name":
        return cell, pl.lit(None, pl.String)
    if kind in ("count", "returned"):
        value, reason = _looked_up(cell, numbers)
        low = 1 if kind == "count" else 0
        reason = within(reason, value, low, MAX_COUNT)
        if kind == "count":
            return value, missing.otherwise(reason)
        return value.fill_null(pl.when(cell.is_null()).then(0)), reason
    if kind in ("price", "amount"):
        value, reason = _looked_up(cell, numbers)
        reason = within(reason, value, 0, MAX_AMOUNT_CENTS)
        if kind == "price":
            return value, missing.otherwise(reason)
        return value.fill_null(pl.when(cell.is_null()).then(0)), reason
    if kind in ("time", "when"):
        value, reason = _local_time(cell, month_first, timezone)
        return value, missing.otherwise(reason) if kind == "time" else reason
    raise AssertionError(kind)  # pragma: no cover - `_FIELDS` has no other kind


def _numbers(text: pl.DataFrame, labels: list[str], symbol: str, scale: int) -> pl.DataFrame:
    """Every distinct text of the `labels` columns once (`text`), with its `value` in units of
    10**-scale and its `reason`: a column of prices repeats a few amounts, so each is read once,
    not once a cell (reading a number's text is the costly part of a large file)."""
    texts = text.unpivot(index="row", on=labels).get_column("value").drop_nulls().unique().alias("text")
    value, reason = parse_fixed(number_text(pl.col("text"), symbol), scale, "sub_cent" if scale else "invalid_value")
    return texts.to_frame().select("text", value.alias("value"), reason.alias("reason"))


def _looked_up(cell: pl.Expr, numbers: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """(value, reason) of a cell's text from its `_numbers` table (null for an empty cell)."""
    old = numbers.get_column("text")
    value = cell.replace_strict(old, numbers.get_column("value"), default=None, return_dtype=pl.Int64)
    reason = cell.replace_strict(old, numbers.get_column("reason"), default=None, return_dtype=pl.String)
    return value, reason


def number_text(cell: pl.Expr, symbol: str = "$") -> pl.Expr:
    """A number's text without `symbol`, spaces and thousands commas; commas that do not group
    digits by three (a decimal comma) leave text that `parse_fixed` rejects."""
    text = cell.str.replace_all(r"\s", "")
    if symbol:
        text = text.str.replace_all(symbol, "", literal=True)
    return drop_thousands_commas(text)


def within(reason: pl.Expr, value: pl.Expr, low: int, high: int) -> pl.Expr:
    """`reason`, or `out_of_range` where the value read is below `low` or above `high`."""
    return pl.when(reason.is_null() & ((value < low) | (value > high))).then(pl.lit("out_of_range")).otherwise(reason)


def _fields(cell: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(first field, second field, AM/PM) of a `D/M/YYYY` or `M/D/YYYY` time's text (null when
    it is not one)."""
    parts = cell.str.extract_groups(_SLASH)
    first = parts.struct.field("1").cast(pl.Int32)
    second = parts.struct.field("2").cast(pl.Int32)
    return first, second, parts.struct.field("7").str.to_uppercase()


def _month_first(text: pl.DataFrame, source: str) -> bool:
    """Whether the file's `D/M` times are month first, from every cell of its time columns (see
    the module's docstring); raises when that cannot be told or is contradicted."""
    evidence = []
    for label in TIME_LABELS:
        first, second, meridiem = _fields(pl.col(label))
        day_says = first.is_between(13, 31) & (second <= 12)
        month_says = meridiem.is_not_null() | (second.is_between(13, 31) & (first <= 12))
        evidence += [
            pl.col("row").filter(day_says).first().alias(f"{label}\tday"),
            pl.col("row").filter(month_says).first().alias(f"{label}\tmonth"),
            pl.col("row").filter(first.is_not_null()).first().alias(f"{label}\tany"),
        ]
    found = text.select(evidence).row(0, named=True)
    decided: dict[str, bool] = {}
    for label in TIME_LABELS:
        day, month = found[f"{label}\tday"], found[f"{label}\tmonth"]
        if day is not None and month is not None:
            raise OrderExportError(
                source,
                f"column '{label}' has dates day first (row {day}) and month first (row {month}): cannot read them",
                [label],
            )
        if day is not None or month is not None:
            decided[label] = month is not None
    if len(set(decided.values())) > 1:
        says = ", ".join(f"'{label}' {'month' if first else 'day'} first" for label, first in decided.items())
        raise OrderExportError(source, f"time columns disagree on day and month order ({says})", list(decided))
    if decided:
        return next(iter(decided.values()))
    undecided = [label for label in TIME_LABELS if found[f"{label}\tany"] is not None]
    if undecided:
        raise OrderExportError(
            source,
            f"cannot tell day from month in column '{undecided[0]}': no day above 12 and no AM/PM in any time column",
            undecided,
        )
    return True  # no D/M time in the file: nothing to decide


def _two(number: pl.Expr) -> pl.Expr:
    return number.cast(pl.String).str.zfill(2)


def _local_time(cell: pl.Expr, month_first: bool, timezone: str) -> tuple[pl.Expr, pl.Expr]:
    """(UTC time, reason) of a local time's text: rebuilt as `YYYY-MM-DD HH:MM:SS` from its
    fields, read strictly (a 31 April is null), then placed in `timezone`."""
    first, second, meridiem = _fields(cell)
    slash = cell.str.extract_groups(_SLASH)
    iso = cell.str.extract_groups(_ISO)
    month, day = (first, second) if month_first else (second, first)
    hour = slash.struct.field("4").cast(pl.Int32)
    # 12 AM is midnight, 12 PM noon; an AM/PM hour outside 1–12 is no time (null, then invalid).
    hour = (
        pl.when(meridiem.is_null())
        .then(hour)
        .when(hour.is_between(1, 12))
        .then(hour % 12 + pl.when(meridiem == "PM").then(12).otherwise(0))
    )
    from_slash = pl.concat_str(
        slash.struct.field("3"),
        pl.lit("-"),
        _two(month),
        pl.lit("-"),
        _two(day),
        pl.lit(" "),
        _two(hour),
        pl.lit(":"),
        slash.struct.field("5"),
        pl.lit(":"),
        slash.struct.field("6").fill_null("00"),
    )
    from_iso = pl.concat_str(
        iso.struct.field("1"),
        pl.lit("-"),
        _two(iso.struct.field("2")),
        pl.lit("-"),
        _two(iso.struct.field("3")),
        pl.lit(" "),
        _two(iso.struct.field("4")),
        pl.lit(":"),
        iso.struct.field("5"),
        pl.lit(":"),
        iso.struct.field("6").fill_null("00"),
    )
    naive = pl.coalesce(from_slash, from_iso).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    placed = naive.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
    earliest = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    reason = (
        pl.when(cell.is_null())
        .then(pl.lit(None, pl.String))
        .when(placed.is_not_null())
        .then(pl.lit(None, pl.String))
        .when(earliest.is_not_null())
        .then(pl.lit("ambiguous_time"))
        .otherwise(pl.lit("invalid_value"))
    )
    return placed.dt.convert_time_zone("UTC"), reason
