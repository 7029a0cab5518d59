"""The input contract of docs/stacking.md: every table, its columns, their logical kinds and value rules.

Declared once here; staging (`transforms/staging.py`) reads it to cast and reject, the loader
(`ingest/input_tables.py`) reads it to name missing files and columns, and the generator writes it.
"""

from dataclasses import dataclass
from typing import Literal

import polars as pl

Kind = Literal["id", "text", "money", "timestamp", "date", "bool", "count", "rate", "value", "enum"]


@dataclass(frozen=True)
class Col:
    """One input column.

    `kind` says how staging casts it: money → integer cents, rate → integer millionths,
    value → integer hundredths (percent points or cents, by the promotion's kind),
    timestamp → UTC microseconds (naive rejected), count → Int64.
    A column that is `required` must be present in the file; a `nullable` one may hold nulls;
    an optional column that is absent is filled with `default` (or null).
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    default: object = None
    enum: tuple[str, ...] = ()


CHANNELS = ("live", "video", "shop")
CONDITIONS = ("none", "live_only", "new_buyer")

SELLER_TYPES = ("flash_deal", "product_discount", "seller_bmsm", "seller_coupon", "seller_shipping_discount")
PLATFORM_TYPES = ("product_incentive", "platform_bmsm", "product_coupon", "platform_shipping_discount")
PROMOTION_TYPES = (
    "flash_deal",
    "product_discount",
    "product_incentive",
    "seller_bmsm",
    "platform_bmsm",
    "seller_coupon",
    "product_coupon",
    "seller_shipping_discount",
    "platform_shipping_discount",
)
DISCOUNT_KINDS = ("percent_off", "amount_off", "fixed_price", "free_shipping")

# The stacking step of each promotion type (docs/stacking.md), in the order the steps run: declared once,
# read by the engine (which step prices a type) and by the discount lines' contract.
STEP_TYPES: dict[str, tuple[str, ...]] = {
    "1": ("flash_deal", "product_discount"),
    "2": ("product_incentive",),
    "3a": ("seller_bmsm",),
    "3b": ("platform_bmsm",),
    "4a": ("seller_coupon",),
    "4b": ("product_coupon",),
    "5": ("platform_shipping_discount", "seller_shipping_discount"),
}
STEPS = tuple(STEP_TYPES)
STEP_OF = {ptype: step for step, types in STEP_TYPES.items() for ptype in types}

UNIT_PRICE_TYPES = ("flash_deal", "product_discount", "product_incentive")
BMSM_TYPES = ("seller_bmsm", "platform_bmsm")
# The type a well-formed input file gives each kind (Parquet as `settle generate` and the sample
# builders write it). Staging reads other types too (text, floats within a cent, naive times are rejected).
FILE_DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "enum": pl.String(),
    "money": pl.Decimal(18, 2),
    "value": pl.Decimal(18, 2),
    "rate": pl.Decimal(18, 6),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "bool": pl.Boolean(),
    "count": pl.Int64(),
}


def file_schema(table: str) -> dict[str, pl.DataType]:
    """The columns of an input table, in contract order, with the type a well-formed file gives them."""
    return {col.name: FILE_DTYPES[col.kind] for col in INPUT_TABLES[table]}


COUPON_TYPES = ("seller_coupon", "product_coupon")
SHIPPING_TYPES = ("seller_shipping_discount", "platform_shipping_discount")

# docs/stacking.md "Promotion types": which kinds each type may carry, and which thresholds.
ALLOWED_KINDS: dict[str, tuple[str, ...]] = {
    **{t: ("percent_off", "amount_off", "fixed_price") for t in UNIT_PRICE_TYPES},
    **{t: ("percent_off", "amount_off") for t in BMSM_TYPES + COUPON_TYPES},
    **{t: ("free_shipping", "percent_off", "amount_off") for t in SHIPPING_TYPES},
}
ALLOWS_MIN_SPEND = BMSM_TYPES + COUPON_TYPES + SHIPPING_TYPES
ALLOWS_MIN_QUANTITY = BMSM_TYPES

FUNDED_BY = {t: ("platform" if t in PLATFORM_TYPES else "seller") for t in PROMOTION_TYPES}

INPUT_TABLES: dict[str, tuple[Col, ...]] = {
    "orders": (
        Col("order_id", "id"),
        Col("shop_id", "id"),
        Col("created_at", "timestamp"),
        Col("currency", "text"),
        Col("channel", "enum", enum=CHANNELS),
        Col("buyer_is_new", "bool"),
        Col("shipping_fee", "money"),
        Col("actual_shipping_fee", "money"),
        Col("sales_tax", "money", required=False, default=0),
        Col("seller_coupon_id", "id", required=False, nullable=True),
        Col("platform_coupon_id", "id", required=False, nullable=True),
        Col("delivered_at", "timestamp", required=False, nullable=True),
        Col("affiliate_commission_rate", "rate", required=False, nullable=True),
    ),
    "order_lines": (
        Col("order_id", "id"),
        Col("sku_id", "id"),
        Col("product_id", "id"),
        Col("product_name", "text"),
        Col("sku_name", "text"),
        Col("quantity", "count"),
        Col("unit_price", "money"),
    ),
    "promotions": (
        Col("promotion_id", "id"),
        Col("tier", "count", required=False, default=1),
        Col("promotion_type", "enum", enum=PROMOTION_TYPES),
        Col("shop_id", "id", required=False, nullable=True),
        Col("starts_at", "timestamp"),
        Col("ends_at", "timestamp"),
        Col("discount_kind", "enum", enum=DISCOUNT_KINDS),
        Col("discount_value", "value", required=False, nullable=True),
        Col("min_spend", "money", required=False, nullable=True),
        Col("min_quantity", "count", required=False, nullable=True),
        Col("max_discount", "money", required=False, nullable=True),
        Col("condition", "enum", required=False, nullable=True, enum=CONDITIONS),
        Col("campaign_id", "id", required=False, nullable=True),
    ),
    "promotion_products": (Col("promotion_id", "id"), Col("product_id", "id")),
    "opt_out_events": (
        Col("shop_id", "id"),
        Col("promotion_type", "enum", enum=PLATFORM_TYPES),
        Col("changed_at", "timestamp"),
        Col("participating", "bool"),
    ),
    "refunds": (
        Col("refund_id", "id"),
        Col("order_id", "id"),
        Col("sku_id", "id"),
        Col("quantity", "count"),
        Col("refunded_at", "timestamp"),
        Col("refund_shipping", "bool", required=False, default=False),
    ),
    "fee_schedule": (
        Col("effective_from", "date"),
        Col("referral_fee_rate", "rate"),
        Col("refund_admin_fee_rate", "rate"),
        Col("refund_admin_fee_cap", "money"),
    ),
}

# Bounds on every input number, chosen so that no product or sum the job takes can overflow its
# 64-bit integers (money in cents, rates in millionths; products are taken in Int128):
# - an amount (price, fee, tax, discount value, threshold, cap) is at most $1,000,000,000.00;
# - a quantity (line, refund, tier threshold, tier number) is at most 1,000,000 units;
# - a line's gross sales (quantity × unit price) are at most $10,000,000,000.00 (10^12 cents).
# Every amount of an Order details row is then below 10^13 cents, so an order or statement would
# need over 900,000 rows at the bound before a sum reached 2^63 (9.2 × 10^18); and the statement
# identity (each total equals the exact Decimal sum of its rows) is checked before publishing.
# A value beyond its bound is rejected as `out_of_range`.
MAX_AMOUNT_CENTS = 100_000_000_000
MAX_COUNT = 1_000_000
MAX_LINE_GROSS_CENTS = 1_000_000_000_000

# Tables that may be absent from the input directory.
OPTIONAL_TABLES = ("fee_schedule", "opt_out_events", "refunds", "promotions", "promotion_products")

# The key of each table: a key shared by several rows rejects all of them (`duplicate_key`).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id",),
    "order_lines": ("order_id", "sku_id"),
    "promotions": ("promotion_id", "tier"),
    "promotion_products": ("promotion_id", "product_id"),
    "opt_out_events": ("shop_id", "promotion_type", "changed_at", "row_number"),
    "refunds": ("refund_id",),
    "fee_schedule": ("effective_from",),
}

# The default US fee schedule (docs/statements.md "Fee schedule"): effective_from, referral rate, admin rate, admin cap.
# Rates in millionths, cap in cents.
DEFAULT_FEE_SCHEDULE = (
    ("2024-04-01", 60_000, 0, 0),
    ("2024-07-01", 80_000, 0, 0),
    ("2025-05-15", 80_000, 200_000, 500),
)

# Rejection reason codes, with what each means; the README lists them from here.
REASONS: dict[str, str] = {
    "missing_value": "a required value is null",
    "invalid_value": "the value cannot be read as its column's type",
    "sub_cent": "money with more than 2 decimal places",
    "too_precise": "a rate or percent with more decimals than allowed",
    "out_of_range": "a value outside its allowed range",
    "naive_timestamp": "a timestamp without a time zone",
    "bad_enum": "a value not in the column's allowed set",
    "duplicate_key": "several rows share the table's key",
    "kind_not_allowed": "the promotion type does not allow this discount kind",
    "threshold_not_allowed": "the promotion type does not allow this threshold",
    "no_threshold": "a BMSM tier with neither min_quantity nor min_spend",
    "ends_before_start": "ends_at is not after starts_at",
    "delivered_before_created": "delivered_at is before created_at",
    "refunded_before_created": "refunded_at is before the order's created_at",
    "inconsistent_tiers": "the tier rows of one promotion disagree beyond discount and thresholds",
    "tier_rejected": "another tier row of the same promotion was rejected",
    "scope_rejected": "every promotion_products row of the promotion was rejected",
    "promotion_rejected": "its promotion was rejected",
    "unknown_promotion": "promotion_id not in promotions",
    "unknown_order": "order_id not in orders",
    "unknown_line": "(order_id, sku_id) not in order_lines",
    "order_rejected": "its order was rejected",
    "line_rejected": "one of the order's lines was rejected",
    "no_lines": "an order with no lines",
    "foreign_currency": "the order's currency is not its shop's (that of the shop's earliest order)",
    "no_fee_rate": "the order is older than the first fee schedule row",
    "platform_shop_required": "a seller-funded promotion with no shop_id",
    "over_refund": "the refund returns more units than remain unrefunded",
    "shipping_already_refunded": "a second refund_shipping on one order",
    "after_as_of": "dated after the run's as_of: it has not happened yet for this run",
    "ambiguous_time": "a local time without offset that happened twice (clocks set back): never guessed",
    # The import of TikTok's own files (docs/importing.md).
    "unpaid": "an order not paid for: not a sale",
    "inconsistent_order": "the rows (or items) of one order disagree on an order-level value or a SKU's price",
}
