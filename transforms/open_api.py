"""Reading TikTok Shop Open API pages, saved as the API returns them, into typed rows: the first
step of importing them (docs/importing.md). Order API 202309 (Get Order Detail, Search Orders:
`data.orders[]`) gives `ApiOrders`, one row per (order, SKU) in the layout of the Seller Center
export's rows (transforms/seller_center.py `ROW_COLUMNS`) plus `product_id`, `currency` and
`version`; Return and Refund API 202309 (Search Returns: `data.return_orders[]`) gives
`ApiReturns`, one refund per (completed return, SKU). Pure: frames in, frames out;
ingest/open_api.py parses each page and hands over the raw cells of the fields below.

Decisions (each for a reason the API's own layout gives):

- Only the fields of `ORDER_FIELDS`, `ITEM_FIELDS`, `RETURN_FIELDS`, `REFUND_FIELDS` and
  `RETURN_ITEM_FIELDS` are read; every other field, whatever the API version adds, is ignored.
  Personal data never enters a frame: `PERSONAL_FIELDS` (recipient address, buyer e-mail and
  message, user ID...) are not among them (an import-time check keeps the lists apart), so a
  rejected value can only come from a field read.
- A raw cell is the field's text and its JSON kind (`KINDS`; null when the field is absent or
  JSON `null`). A number's text is its digits as written when it is a whole number; a number with
  a fraction or an exponent is kind `decimal`, its exact digits lost to a double by the JSON
  reader, and is never read as money or time (`invalid_value`), rather than guessed.
- `file` is the page's path; `row` is the order's (return's) 1-based position in the page's
  `data.orders` (`data.return_orders`): every row of one order carries it. Line items are
  numbered within their order (`item`), for the order in which failures are reported.
- IDs (`id`, `sku_id`, `product_id`, `return_id`, `order_id`) are text of digits only. The API
  sends them as strings; a JSON number is accepted when it has at most 15 digits: a longer one
  may have been through a double before the page was saved (a JavaScript tool does that) and have
  lost digits already, so it is `invalid_value`, never a wrong ID. Empty or absent: `missing_value`.
- Money (decimal strings: `payment.*`, `line_items[].original_price`, ...) is read exactly by
  `transforms.money.parse_fixed` into Int64 cents: more than 2 decimals is `sub_cent`, text that
  is not a plain decimal `invalid_value`, below 0 or beyond `schemas.inputs.MAX_AMOUNT_CENTS`
  `out_of_range`. A whole JSON number is read as its digits; a JSON number with a fraction is
  `invalid_value` (above). `original_price` is required (`missing_value`); an absent or empty
  discount, fee or tax is 0 (`payment.tax` absent on a shop that collects none).
- Times are Unix seconds (UTC), a whole number (a string of digits too), to
  `Datetime("us", "UTC")`. Negative or beyond `MAX_UNIX_SECONDS` (2100: a time in milliseconds
  lands there) is `out_of_range`. `create_time` and `update_time` are required (0 or absent:
  `missing_value`); `delivery_time` and `cancel_time` absent or 0 (the API's "not yet") are null.
- `payment.currency` is required, three capital letters (`invalid_value` otherwise). The order's
  status is required text, `UNPAID` and `CANCELLED` in the export's words (`Unpaid`,
  `Cancelled`), every other status kept as given: whether an order is a sale is decided later.
- The API lists one line item per unit: the items of one SKU make one row, `quantity` their
  number, `sku_seller_discount_cents` and `sku_platform_discount_cents` the sums of their
  `seller_discount` and `platform_discount`, the unit price their `original_price`. Items of one
  SKU that disagree on `original_price`, `product_id`, `product_name` or `sku_name`, or an item
  whose `currency` is not the payment's, reject the order: `inconsistent_order` (the column the
  disagreement is in, the value of the first item that differs from the SKU's first item).
- Order-level amounts (shipping fee and its discounts, tax) are repeated on every SKU row of the
  order, as the export does; `order_refund_amount_cents` and `returned_quantity` are 0 (returns
  come from the Return API) and `version` is the order's `update_time`.
- A bad cell rejects its whole order: `rejected` has exactly one row per rejected order, its first
  failing cell — the order's fields in `ORDER_FIELDS` order, then its line items in their order,
  each in `ITEM_FIELDS` order, then `inconsistent_order` (only looked for once every cell read).
  An order without line items is `missing_value` in `line_items`. Every order of every page is
  either in `rows` (all its SKUs) or in `rejected` once. `column` is a JSON path
  (`create_time`, `payment.tax`, `line_items[].original_price`), `value` the cell's text (a
  list or an object shows as `<array>` or `<object>`). Reasons are staging's codes
  (`missing_value`, `invalid_value`, `sub_cent`, `out_of_range`) and `inconsistent_order`.
- Returns: `return_id`, `order_id` and `return_status` are read for every return. Only a
  completed one (`COMPLETED`) is a refund, and only for it are `update_time` (the refund's time),
  `refund_amount.refund_shipping_fee` and `return_line_items[].sku_id` read; the others are kept
  in `pending`, neither refunds nor rejected. A completed return's line items of one SKU make one
  refund (`<return_id>:<sku_id>`) of as many units, `refund_shipping` true on the return's first
  SKU in `sku_id` text order when its refund shipping fee is above 0. Every return is in
  `refunds` (all its SKUs), `pending` or `rejected`, once.
- Not checked here (later steps' business): an order or return present twice (the import keeps
  the latest version), whether an order is paid, a return of an order not imported, discounts
  larger than the price, times out of order.
"""

from dataclasses import dataclass

import polars as pl

from schemas.inputs import MAX_AMOUNT_CENTS
from transforms.money import parse_fixed
from transforms.seller_center import REJECTED_SCHEMA, ROW_COLUMNS

UTC = pl.Datetime("us", "UTC")
COMPLETED = "RETURN_OR_REFUND_REQUEST_COMPLETE"
MAX_UNIX_SECONDS = 4_102_444_800  # 2100-01-01T00:00:00Z
STATUS_WORDS = {"UNPAID": "Unpaid", "CANCELLED": "Cancelled"}  # the export's wording, where it matters

# The JSON kind of a raw cell, as the reader gives it: a whole number is `integer`, one with a
# fraction or an exponent `decimal`; null is a field absent or JSON null.
KINDS = ("string", "integer", "decimal", "boolean", "array", "object")

# The fields read, each (JSON path in its object, output column, how it is read), in the order a
# record's cells are checked: `id` digits, required; `text` required; `name` text, may be absent;
# `currency` three capital letters, required; `price` money, required; `amount` money, absent is 0;
# `time` Unix seconds, required; `when` Unix seconds, absent or 0 is null; `list` a non-empty array.
ORDERS_LIST = "orders"  # under `data`
ORDER_FIELDS = (
    ("id", "order_id", "id"),
    ("status", "order_status", "text"),
    ("create_time", "created_at", "time"),
    ("update_time", "version", "time"),
    ("delivery_time", "delivered_at", "when"),
    ("cancel_time", "cancelled_at", "when"),
    ("payment.currency", "currency", "currency"),
    ("payment.original_shipping_fee", "shipping_fee_cents", "amount"),
    ("payment.shipping_fee_seller_discount", "shipping_seller_discount_cents", "amount"),
    ("payment.shipping_fee_platform_discount", "shipping_platform_discount_cents", "amount"),
    ("payment.tax", "taxes_cents", "amount"),
    ("line_items", "line_items", "list"),
)
ITEMS_LIST = "line_items"  # of each order
ITEM_FIELDS = (
    ("sku_id", "sku_id", "id"),
    ("product_id", "product_id", "id"),
    ("product_name", "product_name", "name"),
    ("sku_name", "sku_name", "name"),
    ("original_price", "unit_price_cents", "price"),
    ("seller_discount", "sku_seller_discount_cents", "amount"),
    ("platform_discount", "sku_platform_discount_cents", "amount"),
    ("currency", "item_currency", "name"),
)
RETURNS_LIST = "return_orders"  # under `data`
RETURN_FIELDS = (  # read for every return
    ("return_id", "return_id", "id"),
    ("order_id", "order_id", "id"),
    ("return_status", "return_status", "text"),
)
REFUND_FIELDS = (  # read for a completed return only
    ("update_time", "refunded_at", "time"),
    ("refund_amount.refund_shipping_fee", "refund_shipping_fee_cents", "amount"),
    ("return_line_items", "return_line_items", "list"),
)
RETURN_ITEMS_LIST = "return_line_items"  # of each return
RETURN_ITEM_FIELDS = (("sku_id", "sku_id", "id"),)

# Fields of an order (or return) that hold personal data: never read, never shown.
PERSONAL_FIELDS = (
    "recipient_address",
    "buyer_email",
    "buyer_message",
    "user_id",
    "buyer_nickname",
    "cpf",
    "cpf_name",
    "shipping_address",
    "return_warehouse_address",
)

ORDER_ROW_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "row": pl.Int64(),
    "order_id": pl.String(),
    "order_status": pl.String(),
    "sku_id": pl.String(),
    "product_name": pl.String(),
    "sku_name": pl.String(),
    "quantity": pl.Int64(),
    "unit_price_cents": pl.Int64(),
    "sku_platform_discount_cents": pl.Int64(),
    "sku_seller_discount_cents": pl.Int64(),
    "shipping_fee_cents": pl.Int64(),
    "shipping_seller_discount_cents": pl.Int64(),
    "shipping_platform_discount_cents": pl.Int64(),
    "taxes_cents": pl.Int64(),
    "order_refund_amount_cents": pl.Int64(),
    "returned_quantity": pl.Int64(),
    "created_at": UTC,
    "delivered_at": UTC,
    "cancelled_at": UTC,
    "product_id": pl.String(),
    "currency": pl.String(),
    "version": UTC,
}
REFUND_SCHEMA: dict[str, pl.DataType] = {
    "refund_id": pl.String(),
    "order_id": pl.String(),
    "sku_id": pl.String(),
    "quantity": pl.Int64(),
    "refunded_at": UTC,
    "refund_shipping": pl.Boolean(),
    "file": pl.String(),
    "row": pl.Int64(),
}
PENDING_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "row": pl.Int64(),
    "return_id": pl.String(),
    "order_id": pl.String(),
    "return_status": pl.String(),
}

_KEYS = ["page", "row"]  # a record: the page's position among those read, and its row in the page
_ID_DIGITS = 15  # a number of more digits cannot have come through a double exactly
_FAIL_DTYPE = pl.Struct({"column": pl.String, "reason": pl.String, "value": pl.String})

if tuple(ORDER_ROW_SCHEMA)[: len(ROW_COLUMNS)] != ROW_COLUMNS:
    raise AssertionError("the API's rows do not start with the export's columns")  # pragma: no cover
_READ = ORDER_FIELDS + ITEM_FIELDS + RETURN_FIELDS + REFUND_FIELDS + RETURN_ITEM_FIELDS
if {path.split(".")[0] for path, _, _ in _READ} & set(PERSONAL_FIELDS):
    raise AssertionError("a personal-data field among the fields read")  # pragma: no cover


class ApiPageError(ValueError):
    """A page that cannot be read at all: not UTF-8 JSON, not an API response (no `code`, no
    `data`), an error response (`code` not 0), not a page of the expected list. The message names
    the file and never quotes the page's contents (they may hold personal data)."""

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


@dataclass(frozen=True)
class ApiOrders:
    """Order API pages read: `rows` (one per order SKU, `ORDER_ROW_SCHEMA`) and `rejected`
    (`REJECTED_SCHEMA`: one per order that could not be read)."""

    rows: pl.DataFrame
    rejected: pl.DataFrame
    # (file, order_id): the rejected orders whose ID itself could be read, so that the import
    # rejects the order rather than take an older copy of it from another page.
    rejected_orders: pl.DataFrame


@dataclass(frozen=True)
class ApiReturns:
    """Return API pages read: `refunds` (one per completed return SKU, `REFUND_SCHEMA`), `pending`
    (one per return not completed, `PENDING_SCHEMA`) and `rejected` (one per return not read)."""

    refunds: pl.DataFrame
    pending: pl.DataFrame
    rejected: pl.DataFrame


def kind_column(path: str) -> str:
    """The raw frame's column holding the JSON kind of field `path`."""
    return f"{path}:kind"


def raw_schema(fields: tuple[tuple[str, str, str], ...], items: bool = False) -> dict[str, pl.DataType]:
    """The raw frame of `fields` the reader hands over: `page` (the page's position among those
    read), `file`, `row` (the record's position in the page, from 1), `item` for line items (the
    item's position in its record, from 1), then per field its text (String; for a `list` field the
    number of elements, Int64, null when not an array) and `kind_column(path)` (one of `KINDS`)."""
    schema: dict[str, pl.DataType] = {"page": pl.Int64(), "file": pl.String(), "row": pl.Int64()}
    if items:
        schema["item"] = pl.Int64()
    for path, _, kind in fields:
        schema[path] = pl.Int64() if kind == "list" else pl.String()
        schema[kind_column(path)] = pl.String()
    return schema


def order_rows(orders: pl.DataFrame, items: pl.DataFrame) -> ApiOrders:
    """Typed rows and rejected orders of Order API pages: `orders` the raw frame of
    `ORDER_FIELDS`, `items` that of `ITEM_FIELDS` (`raw_schema`)."""
    orders = _typed(_conformed(orders, raw_schema(ORDER_FIELDS)), "", _failure=ORDER_FIELDS)
    items = _typed(_conformed(items, raw_schema(ITEM_FIELDS, items=True)), f"{ITEMS_LIST}[].", _failure=ITEM_FIELDS)
    orders = orders.join(_first_item_failure(items), on=_KEYS, how="left")
    clean = orders.filter(pl.col("_failure").is_null() & pl.col("_item_failure").is_null())
    # Items of orders whose every cell read, one row per SKU; disagreement is only looked for there.
    skus = (
        items.join(clean.select(*_KEYS, pl.col("currency").alias("_order_currency")), on=_KEYS, how="inner")
        .group_by(*_KEYS, "sku_id")
        .agg(
            pl.col("item").min(),
            pl.len().cast(pl.Int64).alias("quantity"),
            pl.col("unit_price_cents", "product_id", "product_name", "sku_name").first(),
            pl.col("sku_seller_discount_cents", "sku_platform_discount_cents").sum(),
            pl.coalesce(
                _disagreement("unit_price_cents", "original_price"),
                _disagreement("product_id", "product_id"),
                _disagreement("product_name", "product_name"),
                _disagreement("sku_name", "sku_name"),
                _foreign_currency(),
            )
            .cast(_FAIL_DTYPE)
            .alias("_inconsistent"),
        )
    )
    inconsistent = (
        skus.filter(pl.col("_inconsistent").is_not_null())
        .group_by(_KEYS)
        .agg(pl.col("_inconsistent").sort_by("item").first())
    )
    orders = orders.join(inconsistent, on=_KEYS, how="left").with_columns(
        pl.coalesce("_failure", "_item_failure", "_inconsistent").alias("_failure")
    )
    rows = (
        orders.filter(pl.col("_failure").is_null())
        .join(skus, on=_KEYS, how="inner")
        .sort(*_KEYS, "item")
        .with_columns(
            pl.col("order_status").replace(STATUS_WORDS),
            pl.lit(0, pl.Int64).alias("order_refund_amount_cents"),
            pl.lit(0, pl.Int64).alias("returned_quantity"),
        )
        .select(list(ORDER_ROW_SCHEMA))
        .cast(ORDER_ROW_SCHEMA)
    )
    rejected_orders = (
        orders.filter(pl.col("_failure").is_not_null() & pl.col("order_id").str.contains(r"^[0-9]+$"))
        .select("file", "order_id")
        .unique(maintain_order=True)
    )
    return ApiOrders(rows=rows, rejected=_rejected(orders), rejected_orders=rejected_orders)


def return_rows(returns: pl.DataFrame, items: pl.DataFrame) -> ApiReturns:
    """Refunds, pending and rejected returns of Return API pages: `returns` the raw frame of
    `RETURN_FIELDS + REFUND_FIELDS`, `items` that of `RETURN_ITEM_FIELDS` (`raw_schema`)."""
    returns = _conformed(returns, raw_schema(RETURN_FIELDS + REFUND_FIELDS))
    returns = _typed(returns, "", _failure=RETURN_FIELDS, _refund_failure=REFUND_FIELDS)
    items = _conformed(items, raw_schema(RETURN_ITEM_FIELDS, items=True))
    items = _typed(items, f"{RETURN_ITEMS_LIST}[].", _failure=RETURN_ITEM_FIELDS)
    completed = pl.col("return_status") == COMPLETED
    returns = returns.join(_first_item_failure(items), on=_KEYS, how="left").with_columns(
        pl.coalesce("_failure", pl.when(completed).then(pl.coalesce("_refund_failure", "_item_failure"))).alias(
            "_failure"
        )
    )
    read = returns.filter(pl.col("_failure").is_null())
    refunds = (
        read.filter(completed)
        .join(items.select(*_KEYS, "sku_id"), on=_KEYS, how="inner")
        .group_by(*_KEYS, "sku_id")
        .agg(
            pl.len().cast(pl.Int64).alias("quantity"),
            pl.col("file", "return_id", "order_id", "refunded_at", "refund_shipping_fee_cents").first(),
        )
        .sort(*_KEYS, "sku_id")
        .with_columns(
            pl.concat_str("return_id", pl.lit(":"), "sku_id").alias("refund_id"),
            (
                (pl.col("refund_shipping_fee_cents") > 0) & (pl.col("sku_id") == pl.col("sku_id").min().over(_KEYS))
            ).alias("refund_shipping"),
        )
        .select(list(REFUND_SCHEMA))
        .cast(REFUND_SCHEMA)
    )
    pending = read.filter(~completed).sort(_KEYS).select(list(PENDING_SCHEMA)).cast(PENDING_SCHEMA)
    return ApiReturns(refunds=refunds, pending=pending, rejected=_rejected(returns))


def _conformed(raw: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """`raw`'s columns of `schema`, in its types (a raw frame of no rows may come untyped)."""
    missing = [name for name in schema if name not in raw.columns]
    if missing:
        raise ValueError(f"raw API frame lacks column(s) {', '.join(repr(m) for m in missing)}")
    return raw.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def _typed(raw: pl.DataFrame, prefix: str, **failures: tuple[tuple[str, str, str], ...]) -> pl.DataFrame:
    """`raw` with each field's value under its output name and, per keyword of `failures`, a column
    of that name holding the first failing cell of its fields (column `prefix` + path, reason,
    value) or null. Every value, reason and shown text is taken from `raw`'s own cells first."""
    fields = [field for group in failures.values() for field in group]
    numbers = _numbers(raw, [path for path, _, kind in fields if kind in ("price", "amount")])
    cells = []
    for path, _, kind in fields:
        value, reason = _read(path, kind, numbers)
        cells += [
            value.alias(f"_value:{path}"),
            reason.alias(f"_reason:{path}"),
            _shown(path, kind).alias(f"_shown:{path}"),
        ]
    firsts = [
        pl.coalesce(
            pl.when(pl.col(f"_reason:{path}").is_not_null()).then(
                pl.struct(
                    column=pl.lit(prefix + path), reason=pl.col(f"_reason:{path}"), value=pl.col(f"_shown:{path}")
                )
            )
            for path, _, _ in group
        )
        .cast(_FAIL_DTYPE)
        .alias(name)
        for name, group in failures.items()
    ]
    return (
        raw.lazy()
        .with_columns(cells)
        .with_columns(*[pl.col(f"_value:{path}").alias(name) for path, name, _ in fields], *firsts)
        .drop(pl.selectors.starts_with("_value:", "_reason:", "_shown:"))
        .collect()
    )


def _numbers(raw: pl.DataFrame, paths: list[str]) -> pl.DataFrame:
    """Every distinct text of the money fields `paths` once (`text`), with its `cents` and its
    `reason` (`parse_fixed`): a page repeats a few amounts, so each is read once, not once a cell
    (reading a number's text is the costly part)."""
    texts = pl.DataFrame(schema={"text": pl.String})
    if paths:
        texts = raw.select(paths).unpivot(value_name="text").select(pl.col("text").drop_nulls().unique())
    cents, reason = parse_fixed(pl.col("text"), 2, "sub_cent")
    return texts.select("text", cents.alias("cents"), reason.alias("reason"))


def _read(path: str, kind: str, numbers: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """(value, reason or null) of one field, by how it is read (see `ORDER_FIELDS`); money is
    looked up in `numbers` (`_numbers`)."""
    text, json = pl.col(path), pl.col(kind_column(path))
    if kind == "list":
        reason = (
            pl.when(json.is_null())
            .then(pl.lit("missing_value"))
            .when(json != "array")
            .then(pl.lit("invalid_value"))
            .when(text == 0)
            .then(pl.lit("missing_value"))
        )
        return text, reason
    string = (json == "string").fill_null(False)
    blank = json.is_null() | (string & (text.str.strip_chars() == "")).fill_null(False)
    missing = pl.when(blank).then(pl.lit("missing_value"))
    if kind == "id":
        digits = text.str.contains(r"^[0-9]+$").fill_null(False)
        short = (text.str.len_chars() <= _ID_DIGITS).fill_null(False)
        readable = (string & digits) | ((json == "integer").fill_null(False) & digits & short)
        return text, missing.when(~readable).then(pl.lit("invalid_value"))
    if kind == "text":
        return text, missing.when(~string).then(pl.lit("invalid_value"))
    if kind == "currency":
        code = string & text.str.contains(r"^[A-Z]{3}$").fill_null(False)
        return text, missing.when(~code).then(pl.lit("invalid_value"))
    if kind == "name":
        return pl.when(string & ~blank).then(text), pl.when(~blank & ~string).then(pl.lit("invalid_value"))
    if kind in ("time", "when"):
        number = json.is_in(["integer", "string"]).fill_null(False) & text.str.contains(r"^-?[0-9]+$").fill_null(False)
        seconds = pl.when(number).then(text.cast(pl.Int64, strict=False))
        unset = blank | (seconds == 0).fill_null(False)
        within = seconds.is_between(1, MAX_UNIX_SECONDS).fill_null(False)
        reason = (
            pl.when(unset)
            .then(pl.lit("missing_value" if kind == "time" else None, pl.String))
            .when(~number)
            .then(pl.lit("invalid_value"))
            .when(~within)
            .then(pl.lit("out_of_range"))
        )
        value = pl.when(within).then(seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        return value, reason
    if kind in ("price", "amount"):
        readable = json.is_in(["integer", "string"]).fill_null(False)
        old = numbers.get_column("text")
        cents = text.replace_strict(old, numbers.get_column("cents"), default=None, return_dtype=pl.Int64)
        parsed = text.replace_strict(old, numbers.get_column("reason"), default=None, return_dtype=pl.String)
        reason = (
            pl.when(blank)
            .then(pl.lit("missing_value" if kind == "price" else None, pl.String))
            .when(~readable)  # a `decimal` number: its digits went through a double; a list, a Boolean
            .then(pl.lit("invalid_value"))
            .when(parsed.is_not_null())
            .then(parsed)
            .when((cents < 0) | (cents > MAX_AMOUNT_CENTS))
            .then(pl.lit("out_of_range"))
        )
        return pl.when(blank).then(pl.lit(0 if kind == "amount" else None, pl.Int64)).otherwise(cents), reason
    raise AssertionError(kind)  # pragma: no cover - the field lists have no other kind


def _shown(path: str, kind: str) -> pl.Expr:
    """A rejected cell's value: its text; a list or an object by its kind (`<object>`), an empty
    list as `[]`."""
    json = pl.col(kind_column(path))
    nested = pl.concat_str(pl.lit("<"), json, pl.lit(">"))
    if kind == "list":
        return pl.when(json == "array").then(pl.lit("[]")).otherwise(nested)
    return pl.when(json.is_in(["array", "object"])).then(nested).otherwise(pl.col(path))


def _first_item_failure(items: pl.DataFrame) -> pl.DataFrame:
    """Per record (`_KEYS`), the first failing cell of its line items, in item order."""
    return (
        items.filter(pl.col("_failure").is_not_null())
        .group_by(_KEYS)
        .agg(pl.col("_failure").sort_by("item").first().alias("_item_failure"))
    )


def _disagreement(name: str, path: str) -> pl.Expr:
    """In a SKU's group of items: `inconsistent_order` when column `name` differs between them,
    with the raw text of `path` of the first item that differs from the group's first."""
    differs = pl.col(name).ne_missing(pl.col(name).sort_by("item").first())
    return pl.when(differs.any()).then(
        pl.struct(
            column=pl.lit(f"{ITEMS_LIST}[].{path}"),
            reason=pl.lit("inconsistent_order"),
            value=pl.col(path).sort_by("item").filter(differs.sort_by("item")).first(),
        )
    )


def _foreign_currency() -> pl.Expr:
    """In a SKU's group of items: `inconsistent_order` when an item's currency is not the
    order's payment currency."""
    foreign = pl.col("item_currency").is_not_null() & (pl.col("item_currency") != pl.col("_order_currency"))
    return pl.when(foreign.any()).then(
        pl.struct(
            column=pl.lit(f"{ITEMS_LIST}[].currency"),
            reason=pl.lit("inconsistent_order"),
            value=pl.col("item_currency").sort_by("item").filter(foreign.sort_by("item")).first(),
        )
    )


def _rejected(records: pl.DataFrame) -> pl.DataFrame:
    """One row per record with a failure: file, row and its first failing cell."""
    return (
        records.filter(pl.col("_failure").is_not_null())
        .sort(_KEYS)
        .select(
            "file",
            "row",
            pl.col("_failure").struct.field("column"),
            pl.col("_failure").struct.field("reason"),
            pl.col("_failure").struct.field("value"),
        )
        .cast(REJECTED_SCHEMA)
    )
