"""From TikTok's own rows (the Seller Center order export, the Open API pages) to the input tables
of docs/stacking.md: which copy of an order wins, the orders, lines and refunds, TikTok's own
discount split, and what is assumed where the sources are silent. Pure: frames in, frames out;
the readers (ingest/seller_center.py, ingest/open_api.py, ingest/side_files.py) make the frames.
The rules, and why, are docs/importing.md; this module follows that page section by section.

Every source row ends in exactly one place: imported (an order's rows, as its lines), superseded
(a row of an older copy of an order that a later copy replaces), or rejected (`rejected`, with a
reason). `file_counts` checks that sum per file.
"""

from dataclasses import dataclass

import polars as pl

from schemas.inputs import file_schema
from transforms.money import cents_to_decimal
from transforms.open_api import ORDER_ROW_SCHEMA, REFUND_SCHEMA
from transforms.seller_center import REJECTED_SCHEMA

# The columns of `SourceRows.rows`: the shop, then the readers' (the export's ROW_COLUMNS, then
# what only the API says: product, currency, version).
SOURCE_SCHEMA: dict[str, pl.DataType] = {"shop_id": pl.String(), **ORDER_ROW_SCHEMA}
SOURCE_COLUMNS = tuple(SOURCE_SCHEMA)
# API refunds, one per (return, SKU).
REFUND_SOURCE_SCHEMA: dict[str, pl.DataType] = {"shop_id": pl.String(), **REFUND_SCHEMA}

# Order-level values TikTok repeats on every row of an order: rows of one copy that disagree on
# one of them reject the order (`inconsistent_order`, naming the first).
ORDER_LEVEL = (
    ("order_status", "Order Status"),
    ("created_at", "Created Time"),
    ("delivered_at", "Delivered Time"),
    ("cancelled_at", "Cancelled Time"),
    ("shipping_fee_cents", "Original Shipping Fee"),
    ("shipping_seller_discount_cents", "Shipping Fee Seller Discount"),
    ("shipping_platform_discount_cents", "Shipping Fee Platform Discount"),
    ("taxes_cents", "Taxes"),
    ("order_refund_amount_cents", "Order Refund Amount"),
    ("currency", "currency"),
)
# Within one order copy, a line's own values: two rows of one SKU are a duplicate key.
UNPAID = ("unpaid", "awaiting payment")
CANCELLED = ("cancelled", "canceled")

# docs/importing.md "What the sources do not say": each assumption, and the attribute columns
# that answer it (any of them present answers it for the orders listed).
ASSUMPTIONS: dict[str, tuple[str, ...]] = {  # in the order the codes are written: alphabetical
    "affiliate": ("affiliate_commission_rate",),
    "buyer_is_new": ("buyer_is_new",),
    "channel": ("channel",),
    "coupons": ("seller_coupon_id", "platform_coupon_id"),
    "label_cost": ("label_cost",),
    "product_id": (),
    "refund_time": (),
}
ATTRIBUTE_COLUMNS = tuple(column for columns in ASSUMPTIONS.values() for column in columns)
_ATTRIBUTE_DTYPES = {
    "order_id": pl.String,
    "channel": pl.String,
    "buyer_is_new": pl.Boolean,
    "seller_coupon_id": pl.String,
    "platform_coupon_id": pl.String,
    "affiliate_commission_rate": pl.Decimal(18, 6),
    "label_cost": pl.Int64,  # cents
}


@dataclass(frozen=True)
class SourceRows:
    """Everything the readers made of the source files.

    `rows`: one per order SKU row read well, `SOURCE_COLUMNS` (`product_id`, `currency` and
    `version` null where the source does not say). `rejected`: the readers' rejected rows
    (`REJECTED_SCHEMA`). `rejected_orders` (file, order_id): orders with a row the reader
    rejected. `refunds`: API returns, `REFUND_SOURCE_SCHEMA`. `catalog` (sku_id, product_id) and
    `attributes` (order_id and the present attribute columns) may be empty frames."""

    rows: pl.DataFrame
    rejected: pl.DataFrame
    rejected_orders: pl.DataFrame
    refunds: pl.DataFrame
    catalog: pl.DataFrame
    attributes: pl.DataFrame
    currency: str = "USD"


@dataclass(frozen=True)
class Imported:
    """The input tables (orders with `assumed`, order_lines, refunds), TikTok's split
    (`reported_discounts`), the rejected rows, per-file counts and per-assumption order counts."""

    orders: pl.DataFrame
    order_lines: pl.DataFrame
    refunds: pl.DataFrame
    reported_discounts: pl.DataFrame
    rejected: pl.DataFrame
    file_counts: pl.DataFrame
    assumptions: dict[str, int]


def empty_rows() -> pl.DataFrame:
    """`SourceRows.rows` with no row (a source kind not present)."""
    return pl.DataFrame(schema=SOURCE_SCHEMA)


def empty_refunds() -> pl.DataFrame:
    return pl.DataFrame(schema=REFUND_SOURCE_SCHEMA)


def empty_attributes() -> pl.DataFrame:
    return pl.DataFrame(schema={"order_id": pl.String})


def empty_catalog() -> pl.DataFrame:
    return pl.DataFrame(schema={"sku_id": pl.String, "product_id": pl.String})


def import_rows(src: SourceRows) -> Imported:
    rows = src.rows.select(SOURCE_COLUMNS)
    # A copy's version: the API's update_time, else the latest time anywhere in its file.
    file_version = pl.max_horizontal("created_at", "delivered_at", "cancelled_at").max().over("file")
    rows = rows.with_columns(pl.coalesce("version", file_version).alias("version"))
    versions = rows.group_by("file").agg(pl.col("version").max().alias("_file_version"))
    copies = pl.concat(
        [
            rows.group_by("order_id", "file").agg(pl.col("version").max(), pl.lit(False).alias("_bad")),
            src.rejected_orders.select("order_id", "file")
            .join(versions, on="file", how="left")
            .select("order_id", "file", pl.col("_file_version").alias("version"), pl.lit(True).alias("_bad")),
        ]
    )
    # The latest copy of each order wins (ties: the file whose path sorts last); a rejected copy
    # that wins takes the order with it.
    winners = (
        copies.sort(["order_id", "version", "file", "_bad"], descending=[False, True, True, True], nulls_last=True)
        .group_by("order_id", maintain_order=True)
        .first()
        .select("order_id", pl.col("file").alias("_winner"), pl.col("_bad").alias("_winner_bad"))
    )
    rows = rows.join(winners, on="order_id", how="left")
    superseded = rows.filter(pl.col("file") != pl.col("_winner"))
    rows = rows.filter(pl.col("file") == pl.col("_winner"))

    failures = _failures(rows, src.currency)
    bad_orders = failures.select("order_id").unique()
    taken_rows = rows.filter(~pl.col("_winner_bad")).join(bad_orders, on="order_id", how="anti")
    rejected_here = (
        rows.join(failures.drop("order_id"), on=["file", "row", "sku_id"], how="left")
        .join(bad_orders.with_columns(pl.lit(True).alias("_order_bad")), on="order_id", how="left")
        .filter(pl.col("_winner_bad") | pl.col("_order_bad").fill_null(False))
        .select(
            "file",
            "row",
            pl.col("_column").fill_null("Order ID").alias("column"),
            pl.col("_reason").fill_null("line_rejected").alias("reason"),
            pl.when(pl.col("_reason").is_null()).then(pl.col("order_id")).otherwise(pl.col("_value")).alias("value"),
        )
    )
    lines = _lines(taken_rows, src.catalog)
    orders = _orders(taken_rows, src)
    refunds, refund_rejected, refund_superseded, refund_timed = _refunds(taken_rows, src.refunds, orders)
    orders = _assumed(orders, lines, refund_timed, src.attributes)
    reported = _reported(taken_rows, orders)
    rejected = pl.concat([src.rejected.cast(REJECTED_SCHEMA), rejected_here.cast(REJECTED_SCHEMA), refund_rejected])
    counts = _file_counts(src, taken_rows, superseded, refund_superseded, rejected, refunds)
    assumed = orders.get_column("assumed").str.split(",").explode().drop_nulls()
    tally = {code: int((assumed == code).sum()) for code in ASSUMPTIONS}
    return Imported(
        orders=orders.sort("order_id"),
        order_lines=lines.drop("_product_assumed").sort("order_id", "sku_id"),
        refunds=refunds.sort("refund_id"),
        reported_discounts=reported,
        rejected=rejected.sort("file", "row", "column", nulls_last=True),
        file_counts=counts,
        assumptions=tally,
    )


_API_PATHS = {
    "Order Status": "status",
    "Created Time": "create_time",
    "Delivered Time": "delivery_time",
    "Cancelled Time": "cancel_time",
    "Original Shipping Fee": "payment.original_shipping_fee",
    "Shipping Fee Seller Discount": "payment.shipping_fee_seller_discount",
    "Shipping Fee Platform Discount": "payment.shipping_fee_platform_discount",
    "Taxes": "payment.tax",
    "Order Refund Amount": "payment.original_total_product_price",
    "currency": "payment.currency",
    "SKU ID": "line_items[].sku_id",
}


def _failures(rows: pl.DataFrame, currency: str) -> pl.DataFrame:
    """(order_id, file, row, _column, _reason, _value): the rows that reject their order, at most
    one failure per row; the order's other rows are `line_rejected`."""
    by_order = pl.col("order_id")
    disagree = [pl.when(pl.col(name).n_unique().over(by_order) > 1).then(pl.lit(label)) for name, label in ORDER_LEVEL]
    status = pl.col("order_status").str.to_lowercase()
    checks = rows.with_columns(
        pl.coalesce(disagree).alias("_inconsistent"),
        (pl.len().over("order_id", "sku_id") > 1).alias("_duplicate"),
        status.is_in(UNPAID).alias("_unpaid"),
        (status.is_in(CANCELLED) & pl.col("cancelled_at").is_null()).alias("_no_cancel_time"),
        (pl.col("currency").is_not_null() & (pl.col("currency") != currency)).alias("_currency"),
    )
    failing = checks.select(
        "order_id",
        "file",
        "row",
        "sku_id",
        pl.when(pl.col("_inconsistent").is_not_null())
        .then(pl.struct(c=pl.col("_inconsistent"), r=pl.lit("inconsistent_order"), v=pl.lit(None, pl.String)))
        .when(pl.col("_duplicate"))
        .then(pl.struct(c=pl.lit("SKU ID"), r=pl.lit("duplicate_key"), v=pl.col("sku_id")))
        .when(pl.col("_unpaid"))
        .then(pl.struct(c=pl.lit("Order Status"), r=pl.lit("unpaid"), v=pl.col("order_status")))
        .when(pl.col("_no_cancel_time"))
        .then(pl.struct(c=pl.lit("Cancelled Time"), r=pl.lit("missing_value"), v=pl.lit(None, pl.String)))
        .when(pl.col("_currency"))
        .then(pl.struct(c=pl.lit("currency"), r=pl.lit("foreign_currency"), v=pl.col("currency")))
        .alias("_f"),
    ).filter(pl.col("_f").is_not_null())
    column = pl.col("_f").struct.field("c")
    is_api = pl.col("file").str.to_lowercase().str.ends_with(".json")
    return failing.select(
        "order_id",
        "file",
        "row",
        "sku_id",
        pl.when(is_api).then(column.replace(_API_PATHS)).otherwise(column).alias("_column"),
        pl.col("_f").struct.field("r").alias("_reason"),
        pl.col("_f").struct.field("v").alias("_value"),
    )


def _lines(rows: pl.DataFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """order_lines, plus `_product_assumed`: the SKU's product from the source, else the catalog,
    else the SKU itself."""
    lines = rows.join(catalog.select("sku_id", pl.col("product_id").alias("_catalog")), on="sku_id", how="left")
    assumed = pl.col("product_id").is_null() & pl.col("_catalog").is_null()
    schema = file_schema("order_lines")
    return lines.select(
        "order_id",
        "sku_id",
        pl.coalesce("product_id", "_catalog", "sku_id").alias("product_id"),
        pl.col("product_name").fill_null(""),
        pl.col("sku_name").fill_null(""),
        "quantity",
        cents_to_decimal(pl.col("unit_price_cents")).alias("unit_price"),
        assumed.alias("_product_assumed"),
    ).cast({**schema, "_product_assumed": pl.Boolean})


def _orders(rows: pl.DataFrame, src: SourceRows) -> pl.DataFrame:
    """orders (the contract's columns, from the order's first row and the attributes), before `assumed`."""
    first = rows.sort("order_id", "sku_id").group_by("order_id", maintain_order=True).first()
    attributes = src.attributes.cast({c: d for c, d in _ATTRIBUTE_DTYPES.items() if c in src.attributes.columns})
    present = [c for c in ATTRIBUTE_COLUMNS if c in attributes.columns]
    listed = attributes.select("order_id", *present, pl.lit(True).alias("_listed"))
    orders = first.join(listed, on="order_id", how="left")

    def attribute(name: str, empty: pl.Expr, default: pl.Expr) -> pl.Expr:
        """An attribute column's value for a listed order (its empty cell: `empty`); `default` otherwise."""
        if name not in present:
            return default
        return pl.when(pl.col("_listed").fill_null(False)).then(pl.col(name).fill_null(empty)).otherwise(default)

    no_text = pl.lit(None, pl.String)
    schema = file_schema("orders")
    return orders.select(
        "order_id",
        "shop_id",
        "created_at",
        pl.coalesce("currency", pl.lit(src.currency)).alias("currency"),
        attribute("channel", pl.lit("shop"), pl.lit("shop")).alias("channel"),
        attribute("buyer_is_new", pl.lit(False), pl.lit(False)).alias("buyer_is_new"),
        cents_to_decimal(pl.col("shipping_fee_cents")).alias("shipping_fee"),
        cents_to_decimal(attribute("label_cost", pl.lit(0, pl.Int64), pl.lit(0, pl.Int64))).alias(
            "actual_shipping_fee"
        ),
        cents_to_decimal(pl.col("taxes_cents")).alias("sales_tax"),
        attribute("seller_coupon_id", no_text, no_text).alias("seller_coupon_id"),
        attribute("platform_coupon_id", no_text, no_text).alias("platform_coupon_id"),
        "delivered_at",
        attribute("affiliate_commission_rate", pl.lit(None, pl.Decimal(18, 6)), pl.lit(None, pl.Decimal(18, 6))).alias(
            "affiliate_commission_rate"
        ),
        # For the refunds: how the order ended, and its times.
        pl.col("order_status").str.to_lowercase().is_in(CANCELLED).alias("_cancelled"),
        "cancelled_at",
        *[
            (pl.col("_listed").fill_null(False) if any(c in present for c in columns) else pl.lit(False)).alias(
                f"_answers_{code}"
            )
            for code, columns in ASSUMPTIONS.items()
            if columns
        ],
    ).cast(schema)


def _refunds(
    rows: pl.DataFrame, api_refunds: pl.DataFrame, orders: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(refunds, rejected API returns, superseded API returns (file, row), orders whose refund
    time is assumed (order_id)). A cancelled order is refunded whole at its cancellation; an
    order with API returns takes them; otherwise the export's returned quantities are refunds at
    delivery."""
    schema = file_schema("refunds")
    cancelled = orders.filter(pl.col("_cancelled")).select("order_id", "cancelled_at")
    cancel = (
        rows.join(cancelled, on="order_id")
        .sort("order_id", "sku_id")
        .select(
            pl.format("{}:{}:cancel", "order_id", "sku_id").alias("refund_id"),
            "order_id",
            "sku_id",
            "quantity",
            pl.col("cancelled_at").alias("refunded_at"),
            (pl.col("sku_id") == pl.col("sku_id").min().over("order_id")).alias("refund_shipping"),
        )
    )
    # API returns: one copy of each refund (the latest file), of an order imported and not cancelled.
    api = api_refunds.sort("file", "row", descending=[True, False])
    kept = api.unique("refund_id", keep="first", maintain_order=True)
    superseded = api.join(kept.select("file", "row"), on=["file", "row"], how="anti").select("file", "row")
    known = orders.filter(~pl.col("_cancelled")).select("order_id")
    unknown = kept.join(orders.select("order_id"), on="order_id", how="anti")
    of_cancelled = kept.join(cancelled.select("order_id"), on="order_id")
    kept = kept.join(known, on="order_id")
    rejected = pl.concat(
        [_returns_rejected(unknown, "unknown_order"), _returns_rejected(of_cancelled, "order_rejected")]
    )
    with_api = kept.select("order_id").unique()
    returned = (
        rows.filter(pl.col("returned_quantity") > 0)
        .join(cancelled.select("order_id"), on="order_id", how="anti")
        .join(with_api, on="order_id", how="anti")
        .select(
            pl.format("{}:{}:return", "order_id", "sku_id").alias("refund_id"),
            "order_id",
            "sku_id",
            pl.col("returned_quantity").alias("quantity"),
            pl.coalesce("delivered_at", "created_at").alias("refunded_at"),
            pl.lit(False).alias("refund_shipping"),
        )
    )
    refunds = pl.concat([cancel.cast(schema), kept.select(list(schema)).cast(schema), returned.cast(schema)])
    return refunds, rejected, superseded, returned.select("order_id").unique()


def _returns_rejected(returns: pl.DataFrame, reason: str) -> pl.DataFrame:
    """API returns rejected for `reason`, naming their order."""
    return returns.select(
        "file",
        "row",
        pl.lit("order_id").alias("column"),
        pl.lit(reason).alias("reason"),
        pl.col("order_id").alias("value"),
    ).cast(REJECTED_SCHEMA)


def _assumed(
    orders: pl.DataFrame, lines: pl.DataFrame, refund_timed: pl.DataFrame, attributes: pl.DataFrame
) -> pl.DataFrame:
    """orders with `assumed`: the codes of docs/importing.md's assumptions the order was priced
    under, sorted and comma-separated (null when none)."""
    product = lines.group_by("order_id").agg(pl.col("_product_assumed").any().alias("_a_product_id"))
    flagged = orders.join(product, on="order_id", how="left").join(
        refund_timed.with_columns(pl.lit(True).alias("_a_refund_time")), on="order_id", how="left"
    )
    # One expression per code (seven), not a loop over rows.
    codes = [
        pl.when(~pl.col(f"_answers_{code}") if columns else pl.col(f"_a_{code}").fill_null(False)).then(pl.lit(code))
        for code, columns in ASSUMPTIONS.items()
    ]
    assumed = pl.concat_str(codes, separator=",", ignore_nulls=True)
    return flagged.select(*file_schema("orders"), pl.when(assumed != "").then(assumed).alias("assumed"))


def _reported(rows: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """TikTok's split: per order SKU its seller and platform discounts, per order its shipping's."""
    money = pl.Decimal(18, 2)
    skus = rows.select(
        "order_id",
        "sku_id",
        cents_to_decimal(pl.col("sku_seller_discount_cents")).alias("seller_discount"),
        cents_to_decimal(pl.col("sku_platform_discount_cents")).alias("platform_discount"),
    )
    shipping = (
        rows.group_by("order_id")
        .agg(pl.col("shipping_seller_discount_cents").first(), pl.col("shipping_platform_discount_cents").first())
        .select(
            "order_id",
            pl.lit(None, pl.String).alias("sku_id"),
            cents_to_decimal(pl.col("shipping_seller_discount_cents")).alias("seller_discount"),
            cents_to_decimal(pl.col("shipping_platform_discount_cents")).alias("platform_discount"),
        )
    )
    both = pl.concat(
        [
            skus.cast({"seller_discount": money, "platform_discount": money}),
            shipping.cast({"seller_discount": money, "platform_discount": money}),
        ]
    )
    return both.join(orders.select("order_id", "assumed"), on="order_id").sort("order_id", "sku_id", nulls_last=True)


def _file_counts(
    src: SourceRows,
    taken: pl.DataFrame,
    superseded: pl.DataFrame,
    refund_superseded: pl.DataFrame,
    rejected: pl.DataFrame,
    refunds: pl.DataFrame,
) -> pl.DataFrame:
    """Per source file: rows read, imported, superseded and rejected (read = the other three).
    An API return row counts once per (return, SKU)."""
    api_imported = src.refunds.join(refunds.select("refund_id"), on="refund_id").join(
        refund_superseded, on=["file", "row"], how="anti"
    )

    def count(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return frame.group_by("file").agg(pl.len().cast(pl.Int64).alias(name))

    read = pl.concat([src.rows.select("file"), src.rejected.select("file"), src.refunds.select("file")])
    out = count(read, "read")
    for frame, name in (
        (pl.concat([taken.select("file"), api_imported.select("file")]), "imported"),
        (pl.concat([superseded.select("file"), refund_superseded.select("file")]), "superseded"),
        (rejected.select("file"), "rejected"),
    ):
        out = out.join(count(frame, name), on="file", how="full", coalesce=True)
    return out.fill_null(0).select("file", "read", "imported", "superseded", "rejected").sort("file")
