"""TikTok's own funding split against the engine's discount lines: `funding_breaks` (docs/funding.md).

Both Seller Center sources say how TikTok split every discount between seller and platform, per
order SKU and for the order's shipping (`reported_discounts`, docs/importing.md). The engine
knows who should have funded every cent (`discount_lines`, SPEC §3). The rules:

- **Compared orders**: those in `reported_discounts` (TikTok said nothing about the others) that
  are in `orders`. An order the engine did not price (rejected, so already in `rejected_rows`)
  has no expected split to compare with: calling its every discount a break would be noise.
- **Grain**: (order, SKU) for product discounts, `level` `sku`; (order, shipping) for shipping
  discounts, `sku_id` null, `level` `shipping`. A reported `sku_id` that is null or empty is the
  order's shipping. Reported rows of one key are summed (the import writes one).
- **Expected**: per key, the sum of its seller-funded `discount_lines` amounts, and of its
  platform-funded ones. A key on one side only counts 0 on the other.
- **Differences** are reported − expected, per side; one row per key where either is nonzero.
- **tiktok_owes** (a platform-funded discount charged to the seller): min(expected − reported
  platform, reported − expected seller) when both are positive, else 0. **over_funded** (the
  platform paid more than the rules give and the seller less): min(reported − expected platform,
  expected − reported seller) when both are positive, else 0. A row has at most one of them.
- **probable_cause**, the first that holds, from `transforms.reconcile.Evidence` (not derived
  again): `opt_out_timing` (platform side differs, the shop toggled a platform type within 24 h
  of the order), `flash_deal_priority` (platform side differs, the order has a blocked
  incentive), `coupon_rejected` (the order has a rejected coupon claim), `assumption` (the order
  was imported with assumptions); else null.
- **assumed**: the order's assumption codes (all its reported rows' codes, unique, sorted,
  comma-joined), null when none; every key of the order carries them.
- **Statement**: the order's settlement (`settlement`, its earliest statement if it holds more
  than one); null when the order is not settled.

Money is integer cents inside and `Decimal(18,2)` out (`transforms.money`). Sorted by shop,
statement date (nulls last), order, SKU (shipping last).
"""

import polars as pl

from schemas.funding import SORT_KEY, FundingBreaks, OwedByStatement
from schemas.handoffs import dtypes
from transforms.money import cents_to_decimal, parse_fixed_typed
from transforms.reconcile import Evidence

KEY = ["order_id", "sku_id"]


def cents(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A `Decimal(18,2)` (or integer) money column of `frame` as integer cents, exactly."""
    dtype = frame.schema[column]
    if not (dtype.is_integer() or (isinstance(dtype, pl.Decimal) and dtype.scale <= 2)):
        raise ValueError(f"expected column {column!r} to have type Decimal(18,2), got {dtype}")
    value, _ = parse_fixed_typed(pl.col(column), dtype, 2)  # exact for these dtypes: no reason to report
    return value


def _shipping_is_null(sku: pl.Expr) -> pl.Expr:
    return pl.when(sku == "").then(pl.lit(None, pl.String)).otherwise(sku)


def _expected(discount_lines: pl.DataFrame, compared: pl.DataFrame) -> pl.DataFrame:
    amount = cents(discount_lines, "amount")
    return (
        discount_lines.join(compared, on="order_id", how="semi")
        .group_by(KEY)
        .agg(
            pl.when(pl.col("funded_by") == side)
            .then(amount)
            .otherwise(0)
            .sum()
            .alias(f"expected_{side}_discount_cents")
            for side in ("seller", "platform")
        )
    )


def _reported(reported_discounts: pl.DataFrame, compared: pl.DataFrame) -> pl.DataFrame:
    return (
        reported_discounts.join(compared, on="order_id", how="semi")
        .with_columns(_shipping_is_null(pl.col("sku_id")).alias("sku_id"))
        .group_by(KEY)
        .agg(
            cents(reported_discounts, f"{side}_discount").fill_null(0).sum().alias(f"reported_{side}_discount_cents")
            for side in ("seller", "platform")
        )
    )


def _assumed(reported_discounts: pl.DataFrame) -> pl.DataFrame:
    """(order_id, assumed): the codes of all the order's rows, unique, sorted, comma-joined; orders with none left out."""
    return (
        reported_discounts.select("order_id", pl.col("assumed").cast(pl.String).str.split(","))
        .explode("assumed")
        .with_columns(pl.col("assumed").str.strip_chars())
        .filter(pl.col("assumed").is_not_null() & (pl.col("assumed") != ""))
        .group_by("order_id")
        .agg(pl.col("assumed").unique().sort().str.join(","))
    )


def _statement(settlement: pl.DataFrame) -> pl.DataFrame:
    """(order_id, statement_date, statement_id): one per order, its earliest statement."""
    return (
        settlement.select("order_id", "statement_date", "statement_id")
        .sort("order_id", "statement_date", "statement_id", nulls_last=True)
        .unique("order_id", keep="first", maintain_order=True)
    )


def _named_by(evidence: pl.DataFrame) -> pl.Expr:
    """True where the row's order is among those `evidence` names."""
    return pl.col("order_id").is_in(evidence["order_id"].unique().implode()).fill_null(False)


def _charged_cents(shortfall: pl.Expr, excess: pl.Expr) -> pl.Expr:
    """min(shortfall, excess) when both are positive, else 0."""
    return pl.when((shortfall > 0) & (excess > 0)).then(pl.min_horizontal(shortfall, excess)).otherwise(0)


def funding_breaks(
    discount_lines: pl.DataFrame,
    reported_discounts: pl.DataFrame,
    orders: pl.DataFrame,
    settlement: pl.DataFrame,
    evidence: Evidence,
) -> pl.DataFrame:
    """One row per (order, SKU) or (order, shipping) whose funding split as TikTok reported it
    differs from `discount_lines` (module docstring for the rules), in the `FundingBreaks` shape."""
    compared = reported_discounts.select("order_id").unique().join(orders.select("order_id"), on="order_id")
    both = _expected(discount_lines, compared).join(
        _reported(reported_discounts, compared), on=KEY, how="full", coalesce=True, nulls_equal=True
    )
    money = [
        "expected_seller_discount_cents",
        "reported_seller_discount_cents",
        "expected_platform_discount_cents",
        "reported_platform_discount_cents",
    ]
    seller = pl.col("seller_difference_cents")
    platform = pl.col("platform_difference_cents")
    breaks = (
        both.with_columns(pl.col(money).fill_null(0))
        .with_columns(
            (pl.col("reported_seller_discount_cents") - pl.col("expected_seller_discount_cents")).alias(
                "seller_difference_cents"
            ),
            (pl.col("reported_platform_discount_cents") - pl.col("expected_platform_discount_cents")).alias(
                "platform_difference_cents"
            ),
        )
        .filter((seller != 0) | (platform != 0))
        .with_columns(
            _charged_cents(-platform, seller).alias("tiktok_owes_cents"),
            _charged_cents(platform, -seller).alias("over_funded_cents"),
        )
        .join(orders.select("order_id", "shop_id"), on="order_id", how="left")
        .join(_statement(settlement), on="order_id", how="left")
        .join(_assumed(reported_discounts), on="order_id", how="left")
    )
    platform_differs = platform != 0
    cause = (
        pl.when(platform_differs & _named_by(evidence.opt_out_toggled))
        .then(pl.lit("opt_out_timing"))
        .when(platform_differs & _named_by(evidence.blocked_incentive))
        .then(pl.lit("flash_deal_priority"))
        .when(_named_by(evidence.coupon_rejected))
        .then(pl.lit("coupon_rejected"))
        .when(pl.col("assumed").is_not_null())
        .then(pl.lit("assumption"))
        .otherwise(pl.lit(None, pl.String))
    )
    shape = dtypes(FundingBreaks)
    return (
        breaks.with_columns(
            pl.when(pl.col("sku_id").is_null()).then(pl.lit("shipping")).otherwise(pl.lit("sku")).alias("level"),
            cause.alias("probable_cause"),
            *[
                cents_to_decimal(pl.col(f"{name}_cents")).alias(name)
                for name in shape
                if f"{name}_cents" in breaks.columns
            ],
        )
        .select(list(shape))
        .cast(shape)
        .sort(SORT_KEY, nulls_last=True)
    )


def owed_by_statement(funding: pl.DataFrame) -> pl.DataFrame:
    """Per (shop, statement) of `funding_breaks`: the sums of `tiktok_owes` and `over_funded` and
    the count of breaks (`count_breaks`); orders not settled yet are one row per shop with a null
    statement. Sorted by shop, statement date (nulls last), statement ID."""
    keys = ["shop_id", "statement_id", "statement_date"]
    return (
        funding.group_by(keys)
        .agg(
            cents(funding, "tiktok_owes").sum().alias("tiktok_owes_cents"),
            cents(funding, "over_funded").sum().alias("over_funded_cents"),
            pl.len().alias("count_breaks"),
        )
        .select(
            *keys,
            cents_to_decimal(pl.col("tiktok_owes_cents")).alias("tiktok_owes"),
            cents_to_decimal(pl.col("over_funded_cents")).alias("over_funded"),
            "count_breaks",
        )
        .cast(dtypes(OwedByStatement))
        .sort("shop_id", "statement_date", "statement_id", nulls_last=True)
    )
