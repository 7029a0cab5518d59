"""TikTok-shaped source files made from the input tables: docs/importing.md's mapping read
backwards, for samples and for round-trip tests of the import. The Seller Center order export (one
row per order SKU, every cell text, as downloaded: CSV or XLSX) and the Open API 202309 order and
return pages (JSON, as returned).

What each source says, and what it cannot (the import's assumptions come from these gaps):

- An order is `Cancelled` (`CANCELLED`, with its Cancelled Time / `cancel_time`) when every unit of
  every line was refunded before delivery by refunds whose id ends with `:cancel` (the import's
  own naming of a cancellation's refunds); the Cancelled Time is the latest of them.
- Otherwise a delivered order is `Completed` once delivered `COMPLETED_AFTER` before the latest
  time of the data (what the export was "taken" at), else `Delivered`; an undelivered one is
  `Shipped` (`IN_TRANSIT`) once created `SHIPPED_AFTER` before it, else `To ship`
  (`AWAITING_SHIPMENT`).
- The export's `Sku Quantity of return` counts the units of the refunds whose id ends with
  `:return`: the export has no refund time, id or shipping flag, so other refunds are not in it.
  The Return API pages carry every refund not ending with `:cancel`, one return each.
- TikTok's split of the discounts (`split`) is written as it is given: per SKU row, and per order
  for the shipping discounts; the API spreads a SKU's totals over its units exactly (the one
  `allocate`, equal weights: the cents left over go to the first units).
- Personal-data cells hold recognisable markers (`PII-NAME-<n>`, `PII-PHONE-<n>`, ...; `n` the
  order's position in `orders`, from 1), so that a test can assert they never reach an output.
- Times are whole seconds (the sources carry no fractions): a fraction is dropped.

The inputs are clean tables (schemas/inputs.py `file_schema`; money as Decimal or text, the split
in integer cents): a row the contract rejects (sub-cent money, a duplicate order, a line of an
unknown order) stops here with a `ValueError` naming it, so that a broken source is always made on
purpose, afterwards.
IDs are written as given: the import reads digits only (`O-0001` is rejected there, not here).
Frames in, frames (or dicts) out; the writers are the only functions that touch files.
"""

import base64
import hashlib
import json
import re
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import xlsxwriter

from transforms.allocate import allocate_many
from transforms.money import mul_div_half_up, parse_fixed_typed
from transforms.seller_center import PERSONAL_LABELS, REQUIRED_LABELS, check_timezone

__all__ = [
    "EXPORT_HEADERS",
    "order_api_pages",
    "order_export_frame",
    "return_api_pages",
    "split_from_discount_lines",
    "write_order_export_csv",
    "write_order_export_xlsx",
    "write_pages",
]

# The US order export's headers, in its order (the older layout with County, Districts and the
# Checked columns; docs/importing.md's source issue).
EXPORT_HEADERS = (
    "Order ID", "Order Status", "Order Substatus", "Cancelation/Return Type", "Normal or Pre-order", "SKU ID",
    "Seller SKU", "Product Name", "Variation", "Quantity", "Sku Quantity of return", "SKU Unit Original Price",
    "SKU Subtotal Before Discount", "SKU Platform Discount", "SKU Seller Discount", "SKU Subtotal After Discount",
    "Shipping Fee After Discount", "Original Shipping Fee", "Shipping Fee Seller Discount",
    "Shipping Fee Platform Discount", "Payment platform discount", "Taxes", "Order Amount", "Order Refund Amount",
    "Created Time", "Paid Time", "RTS Time", "Shipped Time", "Delivered Time", "Cancelled Time", "Cancel By",
    "Cancel Reason", "Fulfillment Type", "Warehouse Name", "Tracking ID", "Delivery Option", "Shipping Provider Name",
    "Buyer Message", "Buyer Username", "Recipient", "Phone #", "Zipcode", "Country", "State", "County", "City",
    "Districts", "Detail Address", "Additional address information", "Payment Method", "Weight(kg)",
    "Product Category", "Package ID", "Seller Note", "Checked Status", "Checked Marked by",
)  # fmt: skip

# Money written as `$1,249.00`; every other money column plain (`12.50`), as exports mix them.
DOLLAR_LABELS = (
    "SKU Unit Original Price",
    "SKU Subtotal Before Discount",
    "SKU Subtotal After Discount",
    "Order Amount",
    "Order Refund Amount",
)

# The marker of each personal-data cell of the export (`<marker>-<n>`).
PII_MARKERS = {
    "Buyer Message": "PII-MSG",
    "Buyer Username": "PII-USER",
    "Recipient": "PII-NAME",
    "Phone #": "PII-PHONE",
    "Zipcode": "PII-ZIP",
    "State": "PII-STATE",
    "County": "PII-COUNTY",
    "City": "PII-CITY",
    "Districts": "PII-DISTRICT",
    "Detail Address": "PII-ADDR",
    "Additional address information": "PII-ADDR2",
}

# The row of field descriptions under an XLSX export's header (text, never digits).
DESCRIPTIONS = {
    "Order ID": "Platform unique order ID.",
    "Order Status": "The current status of the order.",
    "SKU ID": "Platform unique SKU ID.",
    "Quantity": "The number of units of the SKU in the order.",
    "Sku Quantity of return": "The number of units of the SKU returned.",
    "Created Time": "The time the order was placed.",
    "Delivered Time": "The time the order was delivered.",
    "Cancelled Time": "The time the order was cancelled.",
}

COMPLETED_AFTER = timedelta(days=15)  # a delivered order completes when its return window closes
SHIPPED_AFTER = timedelta(days=2)  # an undelivered order is in transit once this old
CURRENCY = "USD"  # when `orders` has no `currency` (a US export)

if set(REQUIRED_LABELS) - set(EXPORT_HEADERS) or set(PII_MARKERS) - set(PERSONAL_LABELS):
    raise AssertionError("the export headers miss a column the import reads")  # pragma: no cover

_UTC = pl.Datetime("us", "UTC")
_SAFE_STEM = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_STAGES = {  # stage: (Order Status, Order Substatus, API status)
    "cancelled": ("Cancelled", "Cancelled", "CANCELLED"),
    "completed": ("Completed", "Completed", "COMPLETED"),
    "delivered": ("Delivered", "Delivered", "DELIVERED"),
    "shipped": ("Shipped", "In transit", "IN_TRANSIT"),
    "to_ship": ("To ship", "Awaiting shipment", "AWAITING_SHIPMENT"),
}


# ---------------------------------------------------------------- the facts, from the input tables


def split_from_discount_lines(discount_lines: pl.DataFrame) -> pl.DataFrame:
    """TikTok's split as the run computed it: one row per (order, SKU) of `discount_lines` (SKU
    null: the order's shipping), its seller- and platform-funded amounts summed in cents. Reads
    the published `amount` (Decimal dollars) or the engine's `amount_cents`."""
    column = "amount" if "amount" in discount_lines.columns else "amount_cents"
    cents = (
        pl.col(column).cast(pl.Int64) if column == "amount_cents" else _cents(discount_lines, "discount_lines", column)
    )
    return (
        discount_lines.select("order_id", "sku_id", "funded_by", cents.alias("_cents"))
        .group_by("order_id", "sku_id", maintain_order=True)
        .agg(
            pl.col("_cents").filter(pl.col("funded_by") == "seller").sum().alias("seller_discount_cents"),
            pl.col("_cents").filter(pl.col("funded_by") == "platform").sum().alias("platform_discount_cents"),
        )
        .cast({"seller_discount_cents": pl.Int64, "platform_discount_cents": pl.Int64})
    )


def _facts(
    orders: pl.DataFrame, order_lines: pl.DataFrame, refunds: pl.DataFrame | None, split: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one row per order, one row per order line) with what the sources say of them: money in
    Int64 cents, times in UTC, the split, the returned units, the cancellation and the stage."""
    by_order = _orders(orders)
    lines = order_lines.select(
        pl.col("order_id").cast(pl.String),
        pl.col("sku_id").cast(pl.String),
        pl.col("product_id" if "product_id" in order_lines.columns else "sku_id").cast(pl.String).alias("product_id"),
        pl.col("product_name").cast(pl.String),
        pl.col("sku_name").cast(pl.String),
        pl.col("quantity").cast(pl.Int64),
        _cents(order_lines, "order_lines", "unit_price").alias("unit_price_cents"),
    ).with_row_index("line")
    _must_be_known(lines, by_order, ["order_id"], "order_lines")
    low = lines.filter(pl.col("quantity").is_null() | (pl.col("quantity") < 1))
    if low.height:
        raise ValueError(f"order_lines.quantity: {low['quantity'][0]!r} of order {low['order_id'][0]!r} is below 1")

    split = split if split is not None else pl.DataFrame(schema=_SPLIT_SCHEMA)
    split = split.select(
        pl.col("order_id").cast(pl.String),
        pl.col("sku_id").cast(pl.String),
        pl.col("seller_discount_cents").cast(pl.Int64).fill_null(0),
        pl.col("platform_discount_cents").cast(pl.Int64).fill_null(0),
    )
    sku_split = (
        split.filter(pl.col("sku_id").is_not_null())
        .group_by("order_id", "sku_id")
        .agg(pl.col("seller_discount_cents").sum(), pl.col("platform_discount_cents").sum())
    )
    _must_be_known(sku_split, lines, ["order_id", "sku_id"], "split")
    shipping_split = (
        split.filter(pl.col("sku_id").is_null())
        .group_by("order_id")
        .agg(
            pl.col("seller_discount_cents").sum().alias("shipping_seller_discount_cents"),
            pl.col("platform_discount_cents").sum().alias("shipping_platform_discount_cents"),
        )
    )
    _must_be_known(shipping_split, by_order, ["order_id"], "split")

    refunds = _refunds(refunds)
    returned = (
        refunds.filter(pl.col("refund_id").str.ends_with(":return"))
        .group_by("order_id", "sku_id")
        .agg(pl.col("quantity").sum().alias("returned_quantity"))
    )
    cancels = (
        refunds.filter(pl.col("refund_id").str.ends_with(":cancel"))
        .join(by_order.select("order_id", "delivered_at"), on="order_id")
        .filter(pl.col("delivered_at").is_null() | (pl.col("refunded_at") < pl.col("delivered_at")))
        .group_by("order_id", "sku_id")
        .agg(pl.col("quantity").sum().alias("cancelled_units"), pl.col("refunded_at").max().alias("cancel_time"))
    )
    keys = ["order_id", "sku_id"]
    lines = (
        lines.join(sku_split, on=keys, how="left", maintain_order="left")
        .join(returned, on=keys, how="left", maintain_order="left")
        .join(cancels, on=keys, how="left", maintain_order="left")
        .with_columns(pl.col("^.*_cents$", "returned_quantity", "cancelled_units").fill_null(0))
    )
    cancelled = lines.group_by("order_id").agg(
        (pl.col("cancelled_units") >= pl.col("quantity")).all().alias("is_cancelled"), pl.col("cancel_time").max()
    )
    by_order = (
        by_order.join(shipping_split, on="order_id", how="left", maintain_order="left")
        .join(cancelled, on="order_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("shipping_seller_discount_cents", "shipping_platform_discount_cents").fill_null(0),
            pl.col("is_cancelled").fill_null(False),
        )
        .with_columns(pl.when(pl.col("is_cancelled")).then(pl.col("cancel_time")).alias("cancelled_at"))
        .drop("cancel_time")
    )
    taken_at = by_order.select(pl.max_horizontal(pl.col("created_at", "delivered_at", "cancelled_at").max())).item()
    delivered = pl.col("delivered_at").is_not_null()
    by_order = by_order.with_columns(
        pl.when(pl.col("is_cancelled"))
        .then(pl.lit("cancelled"))
        .when(delivered & (pl.col("delivered_at") <= _shifted(taken_at, COMPLETED_AFTER)))
        .then(pl.lit("completed"))
        .when(delivered)
        .then(pl.lit("delivered"))
        .when(pl.col("created_at") <= _shifted(taken_at, SHIPPED_AFTER))
        .then(pl.lit("shipped"))
        .otherwise(pl.lit("to_ship"))
        .alias("stage")
    )
    lines = lines.drop("cancelled_units", "cancel_time").join(
        by_order, on="order_id", how="left", maintain_order="left"
    )
    return by_order, lines


_SPLIT_SCHEMA = {
    "order_id": pl.String,
    "sku_id": pl.String,
    "seller_discount_cents": pl.Int64,
    "platform_discount_cents": pl.Int64,
}
_REFUNDS_SCHEMA = {
    "refund_id": pl.String,
    "order_id": pl.String,
    "sku_id": pl.String,
    "quantity": pl.Int64,
    "refunded_at": _UTC,
    "refund_shipping": pl.Boolean,
}


def _orders(orders: pl.DataFrame) -> pl.DataFrame:
    """One row per order: its id, times in UTC, money in cents, currency and `buyer` (its position
    in `orders`, from 1: the number in its personal-data markers). A doubled order stops."""
    has = set(orders.columns).__contains__
    by_order = orders.select(
        pl.col("order_id").cast(pl.String),
        _utc(orders, "orders", "created_at"),
        _utc(orders, "orders", "delivered_at") if has("delivered_at") else pl.lit(None, _UTC).alias("delivered_at"),
        _cents(orders, "orders", "shipping_fee").alias("shipping_fee_cents"),
        (_cents(orders, "orders", "sales_tax").fill_null(0) if has("sales_tax") else pl.lit(0, pl.Int64)).alias(
            "sales_tax_cents"
        ),
        (pl.col("currency").fill_null(CURRENCY) if has("currency") else pl.lit(CURRENCY)).alias("currency"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("buyer"),
    )
    doubled = by_order.filter(pl.col("order_id").is_duplicated())
    if doubled.height:
        raise ValueError(f"orders.order_id: {doubled['order_id'][0]!r} appears more than once")
    return by_order


def _refunds(refunds: pl.DataFrame | None) -> pl.DataFrame:
    """`refunds` typed (`refund_shipping` false when absent), in their order."""
    if refunds is None:
        return pl.DataFrame(schema=_REFUNDS_SCHEMA)
    shipping = pl.col("refund_shipping").fill_null(False) if "refund_shipping" in refunds.columns else pl.lit(False)
    return refunds.select(
        pl.col("refund_id", "order_id", "sku_id").cast(pl.String),
        pl.col("quantity").cast(pl.Int64),
        _utc(refunds, "refunds", "refunded_at"),
        shipping.cast(pl.Boolean).alias("refund_shipping"),
    )


def _cents(frame: pl.DataFrame, table: str, column: str) -> pl.Expr:
    """Integer cents of a money column (Decimal, integer dollars or text); raises naming the
    table, the column and the value when one is not money in whole cents."""
    value, reason = parse_fixed_typed(pl.col(column), frame.schema[column], 2)
    bad = frame.select(pl.col(column).cast(pl.String), reason.alias("reason")).filter(pl.col("reason").is_not_null())
    if bad.height:
        raise ValueError(f"{table}.{column}: {bad.item(0, 0)!r} is not money in whole cents ({bad.item(0, 1)})")
    return value


def _utc(frame: pl.DataFrame, table: str, column: str) -> pl.Expr:
    """A time column as `Datetime("us", "UTC")`; a naive or non-time column stops."""
    dtype = frame.schema[column]
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise ValueError(f"{table}.{column}: expected a time-zone-aware Datetime, got {dtype}")
    return pl.col(column).dt.convert_time_zone("UTC").cast(_UTC)


def _must_be_known(rows: pl.DataFrame, known: pl.DataFrame, keys: list[str], table: str) -> None:
    unknown = rows.join(known.select(keys).unique(), on=keys, how="anti", nulls_equal=True)
    if unknown.height:
        key = ", ".join(f"{k}={unknown[k][0]!r}" for k in keys)
        raise ValueError(f"{table}: a row of an unknown {'line' if len(keys) > 1 else 'order'} ({key})")


def _shifted(taken_at: datetime | None, by: timedelta) -> pl.Expr:
    return pl.lit(taken_at - by if taken_at is not None else None, _UTC)


# ---------------------------------------------------------------- the Seller Center order export


def order_export_frame(
    orders: pl.DataFrame,
    order_lines: pl.DataFrame,
    refunds: pl.DataFrame | None,
    split: pl.DataFrame | None,
    timezone: str,
    month_first: bool = True,
) -> pl.DataFrame:
    """The Seller Center order export of the input tables: one row per order line, the
    `EXPORT_HEADERS` as String columns, as TikTok writes the cells (IDs with a trailing tab, money
    as `$1,249.00` or `12.50`, times local to `timezone` as `MM/DD/YYYY h:MM:SS AM`, or
    `DD/MM/YYYY HH:MM:SS` when not `month_first`; personal data as `PII-...` markers).

    `split`: order_id, sku_id (null: the order's shipping), seller_discount_cents,
    platform_discount_cents (`split_from_discount_lines`); `None` is no discount. Lines keep the
    order of `order_lines`. A day-first export whose days are all 12 or less cannot be read back
    (the reader cannot tell day from month, and says so)."""
    check_timezone(timezone)
    _, lines = _facts(orders, order_lines, refunds, split)
    before = pl.col("quantity") * pl.col("unit_price_cents")
    after = before - pl.col("platform_discount_cents") - pl.col("seller_discount_cents")
    shipping_after = (
        pl.col("shipping_fee_cents")
        - pl.col("shipping_seller_discount_cents")
        - pl.col("shipping_platform_discount_cents")
    )
    lines = lines.with_columns(
        before.alias("_before"),
        after.alias("_after"),
        shipping_after.alias("_shipping_after"),
        pl.when(pl.col("stage") == "cancelled")
        .then(pl.lit(None, pl.Int64))
        .otherwise(mul_div_half_up(after, pl.col("returned_quantity"), pl.col("quantity")))  # their share
        .alias("_refunded"),
    ).with_columns(
        (pl.col("_after").sum().over("order_id") + pl.col("_shipping_after") + pl.col("sales_tax_cents")).alias(
            "_amount"
        )
    )
    delivered = pl.col("delivered_at").is_not_null()
    midway = pl.col("created_at") + (pl.col("delivered_at") - pl.col("created_at")) / 2
    sent = pl.col("stage").is_in(["completed", "delivered", "shipped"])
    status, substatus = (
        pl.col("stage").replace_strict({stage: names[i] for stage, names in _STAGES.items()}, return_dtype=pl.String)
        for i in (0, 1)
    )
    cells = {
        "Order ID": _id_text(pl.col("order_id")),
        "Order Status": status,
        "Order Substatus": substatus,
        "Cancelation/Return Type": pl.when(pl.col("stage") == "cancelled")
        .then(pl.lit("Cancel"))
        .when(pl.col("returned_quantity") > 0)
        .then(pl.lit("Return/Refund")),
        "Normal or Pre-order": pl.lit("Normal"),
        "SKU ID": _id_text(pl.col("sku_id")),
        "Seller SKU": pl.lit(None, pl.String),
        "Product Name": pl.col("product_name"),
        "Variation": pl.col("sku_name"),
        "Quantity": pl.col("quantity").cast(pl.String),
        "Sku Quantity of return": pl.col("returned_quantity").cast(pl.String),
        "SKU Unit Original Price": pl.col("unit_price_cents"),
        "SKU Subtotal Before Discount": pl.col("_before"),
        "SKU Platform Discount": pl.col("platform_discount_cents"),
        "SKU Seller Discount": pl.col("seller_discount_cents"),
        "SKU Subtotal After Discount": pl.col("_after"),
        "Shipping Fee After Discount": pl.col("_shipping_after"),
        "Original Shipping Fee": pl.col("shipping_fee_cents"),
        "Shipping Fee Seller Discount": pl.col("shipping_seller_discount_cents"),
        "Shipping Fee Platform Discount": pl.col("shipping_platform_discount_cents"),
        "Payment platform discount": pl.lit(0, pl.Int64),
        "Taxes": pl.col("sales_tax_cents"),
        "Order Amount": pl.col("_amount"),
        "Order Refund Amount": pl.when(pl.col("stage") == "cancelled")
        .then(pl.col("_amount"))
        .otherwise(pl.col("_refunded").sum().over("order_id")),
        "Created Time": _time_text(pl.col("created_at"), timezone, month_first),
        "Paid Time": _time_text(pl.col("created_at"), timezone, month_first),
        "RTS Time": _time_text(pl.when(delivered).then(midway), timezone, month_first),
        "Shipped Time": _time_text(pl.when(delivered).then(midway), timezone, month_first),
        "Delivered Time": _time_text(pl.col("delivered_at"), timezone, month_first),
        "Cancelled Time": _time_text(pl.col("cancelled_at"), timezone, month_first),
        "Cancel By": pl.when(pl.col("stage") == "cancelled").then(pl.lit("Buyer")),
        "Cancel Reason": pl.when(pl.col("stage") == "cancelled").then(pl.lit("No longer needed")),
        "Fulfillment Type": pl.lit("Fulfillment by seller"),
        "Warehouse Name": pl.lit("Main Warehouse"),
        "Tracking ID": pl.when(sent).then(_id_text(pl.format("9400{}", pl.col("buyer").cast(pl.String).str.zfill(18)))),
        "Delivery Option": pl.lit("Standard shipping"),
        "Shipping Provider Name": pl.when(sent).then(pl.lit("USPS")),
        **{label: pl.format(f"{marker}-{{}}", pl.col("buyer")) for label, marker in PII_MARKERS.items()},
        "Country": pl.lit("United States"),
        "Payment Method": pl.lit("Credit card"),
        "Weight(kg)": _money_text(pl.col("quantity") * 25, dollar=False),  # 0.25 kg a unit
        "Product Category": pl.lit("General"),
        "Package ID": _id_text((pl.col("buyer") + 1_150_000_000_000_000_000).cast(pl.String)),
        "Seller Note": pl.lit(None, pl.String),
        "Checked Status": pl.lit("Unchecked"),
        "Checked Marked by": pl.lit(None, pl.String),
    }
    return lines.select(
        (_money_text(cells[label], dollar=label in DOLLAR_LABELS) if label in _MONEY_LABELS else cells[label])
        .cast(pl.String)
        .alias(label)
        for label in EXPORT_HEADERS
    )


_MONEY_LABELS = frozenset(
    {
        "SKU Unit Original Price",
        "SKU Subtotal Before Discount",
        "SKU Platform Discount",
        "SKU Seller Discount",
        "SKU Subtotal After Discount",
        "Shipping Fee After Discount",
        "Original Shipping Fee",
        "Shipping Fee Seller Discount",
        "Shipping Fee Platform Discount",
        "Payment platform discount",
        "Taxes",
        "Order Amount",
        "Order Refund Amount",
    }
)


def _id_text(cell: pl.Expr) -> pl.Expr:
    """An ID as TikTok writes it: followed by a tab, so that a spreadsheet keeps it text."""
    return pl.concat_str(cell, pl.lit("\t"))


def _money_text(cents: pl.Expr, dollar: bool) -> pl.Expr:
    """Integer cents as `$1,249.00` (`dollar`) or `1249.00`."""
    whole = (cents.abs() // 100).cast(pl.String)
    if dollar:  # thousands commas: group the reversed digits by three
        whole = whole.str.reverse().str.replace_all(r"([0-9]{3})", "${1},").str.strip_chars_end(",").str.reverse()
    return pl.concat_str(
        pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        pl.lit("$" if dollar else ""),
        whole,
        pl.lit("."),
        (cents.abs() % 100).cast(pl.String).str.zfill(2),
    )


def _time_text(utc: pl.Expr, timezone: str, month_first: bool) -> pl.Expr:
    """A UTC time as the export's local text (empty when null)."""
    layout = "%m/%d/%Y %-I:%M:%S %p" if month_first else "%d/%m/%Y %H:%M:%S"
    return utc.dt.convert_time_zone(timezone).dt.strftime(layout)


def write_order_export_csv(frame: pl.DataFrame, path: Path, bom: bool = False) -> Path:
    """The export as a downloaded CSV: UTF-8 (with a byte-order mark when `bom`), a header row,
    CRLF line ends, cells quoted only where needed, empty cells empty."""
    frame.write_csv(path, include_bom=bom, line_terminator="\r\n", quote_style="necessary")
    return path


XLSX_CREATED = datetime(2026, 11, 1)  # fixed workbook metadata, so that the bytes are reproducible


def write_order_export_xlsx(frame: pl.DataFrame, path: Path, description_row: bool = True) -> Path:
    """The export as a downloaded XLSX: first sheet `OrderSKUList`, every cell a text cell (an ID
    never becomes a number; a text cell is never a formula either), and under the header a row of
    field descriptions when `description_row`, as TikTok's XLSX exports have."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    book.set_properties({"created": XLSX_CREATED})
    sheet = book.add_worksheet("OrderSKUList")
    for j, header in enumerate(frame.columns):
        sheet.write_string(0, j, header)
    first = 1
    if description_row:
        for j, header in enumerate(frame.columns):
            sheet.write_string(1, j, DESCRIPTIONS.get(header, f"The {header.lower()} of the order SKU."))
        first = 2
    for i, row in enumerate(frame.iter_rows()):
        for j, cell in enumerate(row):
            if cell:
                sheet.write_string(first + i, j, cell)
    book.close()
    return path


# ---------------------------------------------------------------- the Open API 202309 pages


def order_api_pages(
    orders: pl.DataFrame,
    order_lines: pl.DataFrame,
    split: pl.DataFrame | None,
    page_size: int = 50,
    *,
    refunds: pl.DataFrame | None = None,
) -> list[dict]:
    """The Order API 202309 (Search Orders) pages of the input tables, as returned: `orders[]`
    with `line_items[]` one per unit, each carrying its part of the SKU's seller and platform
    discounts (cents spread exactly), amounts as decimal strings, times as Unix seconds.

    Only `refunds` can make an order `CANCELLED` (the `:cancel` rule of the module docstring);
    without them no order is. Orders keep the order of `orders`; `page_size` orders a page."""
    by_order, lines = _facts(orders, order_lines, refunds, split)
    units = _units(lines)
    items: dict[str, list[dict]] = defaultdict(list)
    for unit in units.iter_rows(named=True):
        items[unit["order_id"]].append(
            {
                "id": unit["item_id"],
                "sku_id": unit["sku_id"],
                "product_id": unit["product_id"],
                "product_name": unit["product_name"],
                "sku_name": unit["sku_name"],
                "original_price": _decimal_text(unit["unit_price_cents"]),
                "sale_price": _decimal_text(
                    unit["unit_price_cents"] - unit["unit_seller_discount_cents"] - unit["unit_platform_discount_cents"]
                ),
                "seller_discount": _decimal_text(unit["unit_seller_discount_cents"]),
                "platform_discount": _decimal_text(unit["unit_platform_discount_cents"]),
                "currency": unit["currency"],
                "display_status": _STAGES[unit["stage"]][2],
                "is_gift": False,
            }
        )
    products = lines.group_by("order_id").agg(
        (pl.col("quantity") * pl.col("unit_price_cents")).sum().alias("original_total_product_price_cents"),
        pl.col("seller_discount_cents").sum(),
        pl.col("platform_discount_cents").sum(),
    )
    by_order = by_order.join(products, on="order_id", how="left", maintain_order="left").with_columns(
        pl.col("original_total_product_price_cents", "seller_discount_cents", "platform_discount_cents").fill_null(0),
        *(pl.col(c).dt.epoch("s").alias(c) for c in ("created_at", "delivered_at", "cancelled_at")),
    )
    found = []
    for order in by_order.iter_rows(named=True):
        sub_total = (
            order["original_total_product_price_cents"]
            - order["seller_discount_cents"]
            - order["platform_discount_cents"]
        )
        shipping = (
            order["shipping_fee_cents"]
            - order["shipping_seller_discount_cents"]
            - order["shipping_platform_discount_cents"]
        )
        n = order["buyer"]
        times = [t for t in (order["created_at"], order["delivered_at"], order["cancelled_at"]) if t is not None]
        entry: dict = {
            "id": order["order_id"],
            "status": _STAGES[order["stage"]][2],
            "create_time": order["created_at"],
            "update_time": max(times),
            "paid_time": order["created_at"],
        }
        if order["delivered_at"] is not None:
            entry["delivery_time"] = order["delivered_at"]
        if order["cancelled_at"] is not None:
            entry |= {
                "cancel_time": order["cancelled_at"],
                "cancellation_initiator": "BUYER",
                "cancel_reason": "No longer needed",
            }
        entry |= {
            "payment": {
                "currency": order["currency"],
                "sub_total": _decimal_text(sub_total),
                "shipping_fee": _decimal_text(shipping),
                "seller_discount": _decimal_text(order["seller_discount_cents"]),
                "platform_discount": _decimal_text(order["platform_discount_cents"]),
                "total_amount": _decimal_text(sub_total + shipping + order["sales_tax_cents"]),
                "original_total_product_price": _decimal_text(order["original_total_product_price_cents"]),
                "original_shipping_fee": _decimal_text(order["shipping_fee_cents"]),
                "shipping_fee_seller_discount": _decimal_text(order["shipping_seller_discount_cents"]),
                "shipping_fee_platform_discount": _decimal_text(order["shipping_platform_discount_cents"]),
                "tax": _decimal_text(order["sales_tax_cents"]),
            },
            "recipient_address": {
                "name": f"PII-NAME-{n}",
                "phone_number": f"PII-PHONE-{n}",
                "full_address": f"PII-ADDR-{n}",
                "postal_code": f"PII-ZIP-{n}",
                "region_code": "US",
            },
            "buyer_email": f"PII-EMAIL-{n}",
            "buyer_message": f"PII-MSG-{n}",
            "user_id": f"PII-USER-{n}",
            "line_items": items.get(order["order_id"], []),
        }
        found.append(entry)
    return _pages(found, "orders", page_size)


def return_api_pages(
    refunds: pl.DataFrame,
    orders: pl.DataFrame,
    page_size: int = 50,
    *,
    order_lines: pl.DataFrame | None = None,
    split: pl.DataFrame | None = None,
) -> list[dict]:
    """The Return and Refund API 202309 (Search Returns) pages of the refunds, as returned: one
    completed `RETURN_AND_REFUND` return per refund not ending with `:cancel` (those are the
    order's cancellation), `update_time` its `refunded_at`, one `return_line_items[]` entry per
    unit, naming the order's unit it returns (`order_line_item_id`, as `order_api_pages` numbers
    them: a SKU's refunds take its units in turn, by time).

    `refund_amount.refund_shipping_fee` is the order's original shipping fee when the refund has
    `refund_shipping`, else 0: an order without a shipping fee cannot say it. With `order_lines`
    (and `split`), `refund_subtotal` is the returned units' sale prices and `refund_tax` the
    tax's share of their list prices, and the line items name their product; without, both are 0.
    A refund of an order not in `orders` is kept (in `USD`): the import's `unknown_order`."""
    refunds = _refunds(refunds).filter(~pl.col("refund_id").str.ends_with(":cancel"))
    order_facts = _orders(orders).select("order_id", "created_at", "shipping_fee_cents", "sales_tax_cents", "currency")
    # The units each refund takes: after those of the SKU's earlier refunds.
    taken = (
        refunds.with_row_index("position")
        .with_columns(
            (pl.col("quantity").cum_sum() - pl.col("quantity"))
            .over(["order_id", "sku_id"], order_by=["refunded_at", "refund_id"])
            .alias("first_unit")
        )
        .with_columns(pl.int_ranges("first_unit", pl.col("first_unit") + pl.col("quantity")).alias("unit"))
        .explode("unit")
    )
    if order_lines is not None:
        _, lines = _facts(orders, order_lines, None, split)
        units = _units(lines).select(
            "order_id",
            "sku_id",
            "unit",
            "product_name",
            "sku_name",
            "unit_price_cents",
            (
                pl.col("unit_price_cents")
                - pl.col("unit_seller_discount_cents")
                - pl.col("unit_platform_discount_cents")
            ).alias("sale_price_cents"),
            pl.col("unit_price_cents").sum().over("order_id").alias("order_list_cents"),
        )
        taken = taken.join(units, on=["order_id", "sku_id", "unit"], how="left", maintain_order="left")
    else:
        taken = taken.with_columns(
            pl.lit(None, pl.String).alias("product_name"),
            pl.lit(None, pl.String).alias("sku_name"),
            pl.lit(0, pl.Int64).alias("unit_price_cents"),
            pl.lit(0, pl.Int64).alias("sale_price_cents"),
            pl.lit(0, pl.Int64).alias("order_list_cents"),
        )
    taken = taken.with_columns(pl.col("unit_price_cents", "sale_price_cents", "order_list_cents").fill_null(0))
    items: dict[int, list[dict]] = defaultdict(list)
    for unit in taken.with_columns(_item_id(pl.col("order_id"), pl.col("sku_id"), pl.col("unit"))).iter_rows(
        named=True
    ):
        item = {
            "return_line_item_id": _digits("return", unit["refund_id"], str(unit["unit"])),
            "order_line_item_id": unit["item_id"],
            "sku_id": unit["sku_id"],
        }
        if unit["product_name"] is not None or unit["sku_name"] is not None:
            item |= {"sku_name": unit["sku_name"], "product_name": unit["product_name"]}
        items[unit["position"]].append(item)
    money = (
        taken.group_by("position")
        .agg(
            pl.col("sale_price_cents").sum().alias("subtotal_cents"),
            pl.col("unit_price_cents").sum().alias("list_cents"),
            pl.col("order_list_cents").first(),
        )
        .join(refunds.with_row_index("position"), on="position")
        .join(order_facts, on="order_id", how="left")
        .with_columns(
            pl.when(pl.col("order_list_cents") > 0)
            .then(mul_div_half_up(pl.col("sales_tax_cents"), pl.col("list_cents"), pl.col("order_list_cents")))
            .otherwise(0)
            .alias("tax_cents"),
            pl.when(pl.col("refund_shipping")).then(pl.col("shipping_fee_cents")).otherwise(0).alias("shipping_cents"),
            pl.max_horizontal(pl.col("created_at"), pl.col("refunded_at") - timedelta(days=3))
            .fill_null(pl.col("refunded_at"))
            .dt.epoch("s")
            .alias("create_time"),
            pl.col("refunded_at").dt.epoch("s").alias("update_time"),
            pl.col("currency").fill_null(CURRENCY),
        )
        .with_columns(pl.col("shipping_cents", "tax_cents").fill_null(0))
        .sort("position")
    )
    found = []
    for ret in money.iter_rows(named=True):
        total = ret["subtotal_cents"] + ret["shipping_cents"] + ret["tax_cents"]
        found.append(
            {
                "return_id": _digits("return", ret["refund_id"]),
                "order_id": ret["order_id"],
                "return_type": "RETURN_AND_REFUND",
                "return_status": "RETURN_OR_REFUND_REQUEST_COMPLETE",
                "role": "BUYER",
                "create_time": ret["create_time"],
                "update_time": ret["update_time"],
                "refund_amount": {
                    "currency": ret["currency"],
                    "refund_total": _decimal_text(total),
                    "refund_subtotal": _decimal_text(ret["subtotal_cents"]),
                    "refund_shipping_fee": _decimal_text(ret["shipping_cents"]),
                    "refund_tax": _decimal_text(ret["tax_cents"]),
                },
                "return_line_items": items[ret["position"]],
            }
        )
    return _pages(found, "return_orders", page_size)


def _units(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per unit of every line (`unit` from 0), with its `item_id` and its part of the
    SKU's seller and platform discounts (the one `allocate`: equal weights, the cents left over
    to the first units)."""
    units = (
        lines.with_columns(pl.int_ranges(0, pl.col("quantity")).alias("unit"), pl.lit(1, pl.Int64).alias("_weight"))
        .explode("unit")
        .with_columns(pl.col("line").cast(pl.Int64), pl.col("unit").cast(pl.Int64))
    )
    units = allocate_many(
        units,
        {
            "unit_seller_discount_cents": "seller_discount_cents",
            "unit_platform_discount_cents": "platform_discount_cents",
        },
        "_weight",
        "line",
        tie_break="unit",
    )
    return units.drop("_weight").with_columns(_item_id(pl.col("order_id"), pl.col("sku_id"), pl.col("unit")))


def _item_id(order_id: pl.Expr, sku_id: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """The API's line item ID of a unit: digits from the (order, SKU) and the unit's number, so
    that the order pages and the return pages name the same unit alike."""
    key = pl.concat_str(order_id, sku_id, separator="\x1f")
    prefix = key.map_batches(
        lambda keys: pl.Series([_digits("item", k)[:13] for k in keys], dtype=pl.String), return_dtype=pl.String
    )
    return pl.concat_str(prefix, unit.cast(pl.String).str.zfill(6)).alias("item_id")


def _digits(kind: str, *parts: str) -> str:
    """An 18-digit ID made from `parts` (stable: sha256, not Python's salted hash)."""
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).digest()
    return str(10**17 + int.from_bytes(digest[:8], "big") % (9 * 10**17))


def _decimal_text(cents: int) -> str:
    """Integer cents as the API's decimal string, `12.50`."""
    return f"{Decimal(cents).scaleb(-2):.2f}"


def _pages(entries: list[dict], key: str, page_size: int) -> list[dict]:
    """The API responses listing `entries` under `data[key]`, `page_size` a page (one empty page
    for none), each with the next page's token (empty on the last) and the total count."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    chunks = [entries[i : i + page_size] for i in range(0, len(entries), page_size)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        token = base64.b64encode(f"{key}:{number + 1}".encode()).decode() if number < len(chunks) else ""
        pages.append(
            {
                "code": 0,
                "message": "Success",
                "request_id": hashlib.sha256(f"{key}:{number}:{len(entries)}".encode()).hexdigest()[:32].upper(),
                "data": {key: chunk, "next_page_token": token, "total_count": len(entries)},
            }
        )
    return pages


def write_pages(pages: list[dict], directory: Path, stem: str) -> list[Path]:
    """Write `pages` as `directory/<stem>-0001.json`, ... (the API's field order, compact
    separators, UTF-8: the same pages give the same bytes); returns the paths written."""
    if not re.fullmatch(_SAFE_STEM, stem):
        raise ValueError(f"stem {stem!r} is not a safe file name stem (letters, digits, '_', '.', '-')")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, page in enumerate(pages, start=1):
        path = directory / f"{stem}-{number:04d}.json"
        path.write_bytes(json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode())
        paths.append(path)
    return paths
