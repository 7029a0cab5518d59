"""The stacking engine (docs/stacking.md): who funded every cent of discount, step by step.

Steps 1, 2, 3a, 3b, 4a, 4b, 5 run in that order, each on the running amounts the earlier
steps left. Every step is a vectorised pass over all orders at once: applicable pairs come
from `transforms.applicability`, "best" is a sort and a first-per-group, and every split of
an order-level amount goes through the one `allocate()`.
"""

from dataclasses import dataclass

import polars as pl

from schemas.handoffs import DiscountLineCents, dtypes
from schemas.inputs import (
    BMSM_TYPES,
    COUPON_TYPES,
    FUNDED_BY,
    PROMOTION_TYPES,
    SHIPPING_TYPES,
    STEP_OF,
    UNIT_PRICE_TYPES,
)
from transforms.allocate import allocate
from transforms.applicability import applicable, opted_out, promotion_headers
from transforms.money import mul_div_half_up

LINE_KEY = ["order_id", "sku_id"]

_PART_COLUMNS = ["order_id", "sku_id", "promotion_id", "promotion_type", "amount_cents"]
_LINE = "_line"  # the line's number in the running amounts (see `price_orders`)


@dataclass
class Priced:
    """What the stacking engine knows about every accepted order.

    `line_amounts`: one row per order line — list amount, seller and platform discounts,
    final amount. `order_shipping`: one row per order — the shipping fee split into platform
    discount, seller discount and customer-paid shipping. The other frames are docs/stacking.md outputs.
    """

    line_amounts: pl.DataFrame
    order_shipping: pl.DataFrame
    discount_lines: pl.DataFrame
    blocked_incentives: pl.DataFrame
    coupon_checks: pl.DataFrame


def discount_amount(base: pl.Expr, kind: pl.Expr, value: pl.Expr, max_discount: pl.Expr) -> pl.Expr:
    """The discount a promotion gives on `base` (a unit price, an order base or a shipping fee).

    `percent_off`: round(base × v / 100) capped by `max_discount`; `amount_off`: min(v, base);
    `fixed_price`: base − min(v, base); `free_shipping`: all of base. `value` is in hundredths
    (percent hundredths or cents).
    """
    percent = mul_div_half_up(base, value, 10_000)
    percent = pl.when(max_discount.is_not_null()).then(pl.min_horizontal(percent, max_discount)).otherwise(percent)
    return (
        pl.when(kind == "percent_off")
        .then(percent)
        .when(kind == "amount_off")
        .then(pl.min_horizontal(value, base))
        .when(kind == "fixed_price")
        .then(pl.max_horizontal(base - value, pl.lit(0)))
        .when(kind == "free_shipping")
        .then(base)
        .otherwise(0)
        .cast(pl.Int64)
    )


def best(
    frame: pl.DataFrame, group: list[str], amount: str = "discount_cents", tie: list[str] | None = None
) -> pl.DataFrame:
    """The best row per group: the largest `amount`, ties to the smaller `promotion_id` (or `tie`)."""
    tie = tie or ["promotion_id"]
    tie_desc = [False] * len(tie)
    return frame.sort([amount, *tie], descending=[True, *tie_desc]).unique(
        subset=group, keep="first", maintain_order=True
    )


def price_orders(
    orders: pl.DataFrame,
    lines: pl.DataFrame,
    promotions: pl.DataFrame,
    scope: pl.DataFrame,
    opt_out_events: pl.DataFrame,
    invalid_promotion_ids: pl.DataFrame,
) -> Priced:
    """Run docs/stacking.md steps 1–5 over staged frames."""
    headers = promotion_headers(promotions)
    first_tier = promotions.sort("promotion_id", "tier").unique(
        subset="promotion_id", keep="first", maintain_order=True
    )
    terms = first_tier.select(
        "promotion_id", "discount_kind", "discount_value_x100", "max_discount_cents", "min_spend_cents"
    )
    opted = opted_out(orders, opt_out_events)

    # `_line` numbers the lines: the steps' parts carry it from their join with `running`, and
    # are taken off `running` by that one integer, not by the (order, SKU) text.
    ordered = (
        lines.select(*LINE_KEY, "product_id", "product_name", "sku_name", "quantity", "unit_price_cents")
        .sort(LINE_KEY)
        .with_row_index(_LINE)
    )
    running = ordered.select(*LINE_KEY, _LINE, "quantity", "unit_price_cents")

    # Every applicable (line, promotion) pair at once; each step takes its own types.
    pairs_all = applicable(orders, ordered, headers, scope, opted, PROMOTION_TYPES)

    # Steps 1 and 2: unit prices.
    unit_pairs = pairs_all.filter(pl.col("promotion_type").is_in(list(UNIT_PRICE_TYPES)))
    unit_pairs = unit_pairs.join(terms, on="promotion_id").join(running.drop(LINE_KEY), on=_LINE)
    step1, flash_priced = _seller_unit_price(unit_pairs)
    running = running.join(step1.select(_LINE, pl.col("discount_cents").alias("_d1")), on=_LINE, how="left")
    running = running.with_columns(
        (pl.col("unit_price_cents") - pl.col("_d1").fill_null(0)).alias("price1_cents")
    ).drop("_d1")
    step2, blocked = _platform_unit_price(unit_pairs, running, flash_priced)
    running = running.join(step2.select(_LINE, pl.col("discount_cents").alias("_d2")), on=_LINE, how="left")
    running = running.with_columns(
        ((pl.col("price1_cents") - pl.col("_d2").fill_null(0)) * pl.col("quantity")).alias("running_cents")
    ).drop("_d2")
    discount_parts = [
        step1.select(
            *LINE_KEY,
            _LINE,
            "promotion_id",
            "promotion_type",
            (pl.col("discount_cents") * pl.col("quantity")).alias("amount_cents"),
        ),
        step2.select(
            *LINE_KEY,
            _LINE,
            "promotion_id",
            "promotion_type",
            (pl.col("discount_cents") * pl.col("quantity")).alias("amount_cents"),
        ),
    ]

    # Step 3: Buy More Save More, seller then platform.
    bmsm_pairs = pairs_all.filter(pl.col("promotion_type").is_in(list(BMSM_TYPES)))
    tiers = promotions.filter(pl.col("promotion_type").is_in(list(BMSM_TYPES))).select(
        "promotion_id",
        "tier",
        "discount_kind",
        "discount_value_x100",
        "max_discount_cents",
        "min_spend_cents",
        "min_quantity",
    )
    for ptype in BMSM_TYPES:  # seller first
        pairs = bmsm_pairs.filter(pl.col("promotion_type") == ptype).select(*LINE_KEY, _LINE, "promotion_id")
        if ptype == "seller_bmsm":  # products priced by a flash deal cannot join a seller BMSM
            pairs = pairs.join(flash_priced, on=_LINE, how="anti")
        _chosen, parts = order_level_discount(running, pairs, tiers)
        running = _apply(running, parts)
        discount_parts.append(parts.with_columns(pl.lit(ptype).alias("promotion_type")))

    # Step 4: claimed coupons, seller then platform.
    coupon_pairs = pairs_all.filter(pl.col("promotion_type").is_in(list(COUPON_TYPES)))
    checks = []
    for ptype, claim_column in (("seller_coupon", "seller_coupon_id"), ("product_coupon", "platform_coupon_id")):
        check, parts = _coupon_step(
            orders, running, headers, coupon_pairs, terms, opted, invalid_promotion_ids, ptype, claim_column
        )
        checks.append(check)
        running = _apply(running, parts)
        discount_parts.append(parts.with_columns(pl.lit(ptype).alias("promotion_type")))

    # Step 5: shipping, platform first, seller on what is left.
    shipping_pairs = pairs_all.filter(pl.col("promotion_type").is_in(list(SHIPPING_TYPES)))
    order_shipping, shipping_parts = _shipping(orders, shipping_pairs, running, terms)
    discount_parts.append(shipping_parts)

    parts = (
        pl.concat(
            [p.select(*_PART_COLUMNS, _LINE) for p in _with_sku(discount_parts)], how="vertical_relaxed", rechunk=True
        )
        .filter(pl.col("amount_cents") > 0)
        .with_columns(
            pl.col("promotion_type").replace_strict(FUNDED_BY, return_dtype=pl.String).alias("funded_by"),
            pl.col("promotion_type").replace_strict(STEP_OF, return_dtype=pl.String).alias("step"),
        )
    )
    schema = dtypes(DiscountLineCents)
    discount_lines = (
        parts.select(list(schema)).cast(schema).sort("order_id", "step", "sku_id", "promotion_id", nulls_last=True)
    )
    flash_lines = step1.filter(pl.col("promotion_type") == "flash_deal")[_LINE]
    line_amounts = _line_amounts(ordered, parts.filter(pl.col(_LINE).is_not_null()), flash_lines)
    return Priced(
        line_amounts=line_amounts,
        order_shipping=order_shipping,
        discount_lines=discount_lines,
        blocked_incentives=blocked,
        coupon_checks=pl.concat(checks).sort("order_id", "coupon_type"),
    )


def _with_sku(parts: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """Order-level parts (shipping) have no line: a missing SKU and line number."""
    return [
        p
        if "sku_id" in p.columns
        else p.with_columns(pl.lit(None, pl.String).alias("sku_id"), pl.lit(None, pl.UInt32).alias(_LINE))
        for p in parts
    ]


def _seller_unit_price(pairs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 1: the best flash deal sets the price when one applies, else the best product discount."""
    unit = pairs.with_columns(
        discount_amount(
            pl.col("unit_price_cents"),
            pl.col("discount_kind"),
            pl.col("discount_value_x100"),
            pl.col("max_discount_cents"),
        ).alias("discount_cents")
    )
    flash = best(unit.filter(pl.col("promotion_type") == "flash_deal"), [_LINE])
    flash_priced = flash.select(_LINE, pl.col("promotion_id").alias("flash_promotion_id"))
    product = best(
        unit.filter(pl.col("promotion_type") == "product_discount").join(flash_priced, on=_LINE, how="anti"), [_LINE]
    )
    return pl.concat([flash, product]), flash_priced


def _platform_unit_price(
    pairs: pl.DataFrame, running: pl.DataFrame, flash_priced: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 2: the best incentive off the step-1 price, unless a flash deal set that price."""
    incentives = (
        pairs.filter(pl.col("promotion_type") == "product_incentive")
        .join(running.select(_LINE, "price1_cents"), on=_LINE)
        .with_columns(
            discount_amount(
                pl.col("price1_cents"),
                pl.col("discount_kind"),
                pl.col("discount_value_x100"),
                pl.col("max_discount_cents"),
            ).alias("discount_cents")
        )
    )
    blocked = (
        incentives.join(flash_priced, on=_LINE)
        .select(
            *LINE_KEY,
            pl.col("promotion_id").alias("incentive_promotion_id"),
            "flash_promotion_id",
            (pl.col("discount_cents") * pl.col("quantity")).alias("would_be_discount_cents"),
        )
        .sort(*LINE_KEY, "incentive_promotion_id")
    )
    step2 = best(incentives.join(flash_priced, on=_LINE, how="anti"), [_LINE])
    return step2, blocked


def order_level_discount(
    running: pl.DataFrame, pairs: pl.DataFrame, tiers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One order-level step (BMSM or coupon) over eligible (line, promotion) pairs.

    Per (order, promotion): `qty` and `base` of its eligible lines; a tier is reached when every
    threshold it has is met; the promotion gives its best reached tier (ties: the higher
    tier); the best promotion of the order applies (ties: smaller id), allocated over its
    eligible lines by running amount. Returns (per order and promotion with `qty`, `base_cents`,
    `is_reached`, `discount_cents` — the chosen rows — , per line parts with the line's `_line`).
    """
    eligible = pairs.join(running.select(_LINE, "quantity", "running_cents"), on=_LINE)
    totals = eligible.group_by("order_id", "promotion_id").agg(
        pl.col("quantity").sum().alias("qty"), pl.col("running_cents").sum().alias("base_cents")
    )
    offers = totals.join(tiers, on="promotion_id").with_columns(
        (
            (pl.col("min_quantity").is_null() | (pl.col("qty") >= pl.col("min_quantity")))
            & (pl.col("min_spend_cents").is_null() | (pl.col("base_cents") >= pl.col("min_spend_cents")))
        ).alias("is_reached"),
        discount_amount(
            pl.col("base_cents"), pl.col("discount_kind"), pl.col("discount_value_x100"), pl.col("max_discount_cents")
        ).alias("discount_cents"),
    )
    # A promotion gives its best reached tier; ties go to the higher tier.
    reached = (
        offers.filter(pl.col("is_reached"))
        .sort(["discount_cents", "tier"], descending=[True, True])
        .unique(subset=["order_id", "promotion_id"], keep="first", maintain_order=True)
    )
    chosen = best(reached, ["order_id"])
    parts = allocate(
        eligible.join(chosen.select("order_id", "promotion_id", "discount_cents"), on=["order_id", "promotion_id"]),
        "discount_cents",
        "running_cents",
        "order_id",
        out="amount_cents",
    ).select(*LINE_KEY, _LINE, "promotion_id", "amount_cents")
    unreached = totals.join(reached.select("order_id", "promotion_id"), on=["order_id", "promotion_id"], how="anti")
    return pl.concat(
        [
            chosen.select("order_id", "promotion_id", "qty", "base_cents", "is_reached", "discount_cents"),
            unreached.with_columns(pl.lit(False).alias("is_reached"), pl.lit(0, pl.Int64).alias("discount_cents")),
        ],
        how="diagonal_relaxed",
    ), parts


def _apply(running: pl.DataFrame, parts: pl.DataFrame) -> pl.DataFrame:
    """Take an order-level step's allocated parts off the running line amounts."""
    taken = parts.group_by(_LINE).agg(pl.col("amount_cents").sum().alias("_taken"))
    return (
        running.join(taken, on=_LINE, how="left")
        .with_columns((pl.col("running_cents") - pl.col("_taken").fill_null(0)).alias("running_cents"))
        .drop("_taken")
    )


def _coupon_step(
    orders: pl.DataFrame,
    running: pl.DataFrame,
    headers: pl.DataFrame,
    coupon_pairs: pl.DataFrame,
    terms: pl.DataFrame,
    opted: pl.DataFrame,
    invalid_promotion_ids: pl.DataFrame,
    coupon_type: str,
    claim_column: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 4a/4b: check every claim (first failing reason, in the order docs/stacking.md lists them) and apply the valid ones."""
    claims = orders.filter(pl.col(claim_column).is_not_null()).select(
        "order_id", "shop_id", "created_at", "channel", "buyer_is_new", pl.col(claim_column).alias("promotion_id")
    )
    hdr = headers.select(
        "promotion_id",
        pl.col("promotion_type").alias("_type"),
        pl.col("shop_id").alias("_shop"),
        "starts_at",
        "ends_at",
        "condition",
    )
    claims = claims.join(hdr, on="promotion_id", how="left").join(
        opted.filter(pl.col("promotion_type") == coupon_type).select("order_id", pl.lit(True).alias("is_opted_out")),
        on="order_id",
        how="left",
    )
    covered = coupon_pairs.filter(pl.col("promotion_type") == coupon_type).select(*LINE_KEY, _LINE, "promotion_id")
    claimed_pairs = covered.join(claims.select("order_id", "promotion_id"), on=["order_id", "promotion_id"])
    coupon_terms = terms.select(
        "promotion_id",
        pl.lit(1).alias("tier"),
        "discount_kind",
        "discount_value_x100",
        "max_discount_cents",
        "min_spend_cents",
        pl.lit(None, pl.Int64).alias("min_quantity"),
    )
    outcome, parts = order_level_discount(running, claimed_pairs, coupon_terms)
    claims = claims.join(
        outcome.select("order_id", "promotion_id", "base_cents", "is_reached", "discount_cents"),
        on=["order_id", "promotion_id"],
        how="left",
    )
    is_invalid = pl.col("promotion_id").is_in(invalid_promotion_ids["promotion_id"].implode())
    cond = pl.col("condition")
    reason = (
        pl.when(pl.col("_type").is_null() & ~is_invalid)
        .then(pl.lit("unknown"))
        .when(is_invalid)
        .then(pl.lit("invalid_promotion"))
        .when(pl.col("_type") != coupon_type)
        .then(pl.lit("wrong_type"))
        .when(pl.col("_shop").is_not_null() & (pl.col("_shop") != pl.col("shop_id")))
        .then(pl.lit("wrong_shop"))
        .when(~((pl.col("starts_at") <= pl.col("created_at")) & (pl.col("created_at") < pl.col("ends_at"))))
        .then(pl.lit("not_active"))
        .when(
            ((cond == "live_only") & (pl.col("channel") != "live")) | ((cond == "new_buyer") & ~pl.col("buyer_is_new"))
        )
        .then(pl.lit("condition"))
        .when(pl.col("is_opted_out").fill_null(False))
        .then(pl.lit("opted_out"))
        .when(pl.col("base_cents").is_null())
        .then(pl.lit("no_covered_product"))
        .when(~pl.col("is_reached"))
        .then(pl.lit("min_spend"))
    )
    checks = claims.select(
        "order_id",
        pl.lit(coupon_type).alias("coupon_type"),
        pl.col("promotion_id").alias("coupon_id"),
        pl.when(reason.is_null()).then(pl.lit("applied")).otherwise(pl.lit("rejected")).alias("status"),
        reason.alias("reason"),
        pl.when(reason.is_null()).then(pl.col("discount_cents")).otherwise(0).fill_null(0).alias("discount_cents"),
    )
    return checks, parts


def _shipping(
    orders: pl.DataFrame, pairs: pl.DataFrame, running: pl.DataFrame, terms: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Step 5: the platform's shipping discount first, then the seller's on what is left."""
    order_amount = running.group_by("order_id").agg(pl.col("running_cents").sum().alias("product_cents"))
    offers = (
        pairs.select("order_id", "promotion_id", "promotion_type")
        .unique()
        .join(terms, on="promotion_id")
        .join(order_amount, on="order_id")
        .join(orders.select("order_id", "shipping_fee_cents"), on="order_id")
        .filter(pl.col("min_spend_cents").is_null() | (pl.col("product_cents") >= pl.col("min_spend_cents")))
    )
    fee = orders.select("order_id", "shipping_fee_cents")

    def _take(ptype: str, base: str) -> pl.DataFrame:
        cand = offers.filter(pl.col("promotion_type") == ptype).drop("shipping_fee_cents").join(fee, on="order_id")
        cand = cand.with_columns(
            discount_amount(
                pl.col(base), pl.col("discount_kind"), pl.col("discount_value_x100"), pl.col("max_discount_cents")
            ).alias("discount_cents")
        )
        return best(cand, ["order_id"]).select("order_id", "promotion_id", "promotion_type", "discount_cents")

    platform = _take("platform_shipping_discount", "shipping_fee_cents")
    fee = (
        fee.join(
            platform.select("order_id", pl.col("discount_cents").alias("platform_shipping_discount_cents")),
            on="order_id",
            how="left",
        )
        .with_columns(pl.col("platform_shipping_discount_cents").fill_null(0))
        .with_columns(
            (pl.col("shipping_fee_cents") - pl.col("platform_shipping_discount_cents")).alias("fee_left_cents")
        )
    )
    seller = _take("seller_shipping_discount", "fee_left_cents")
    shipping = (
        fee.join(
            seller.select("order_id", pl.col("discount_cents").alias("seller_shipping_discount_cents")),
            on="order_id",
            how="left",
        )
        .with_columns(pl.col("seller_shipping_discount_cents").fill_null(0))
        .select(
            "order_id",
            "shipping_fee_cents",
            "platform_shipping_discount_cents",
            "seller_shipping_discount_cents",
            (pl.col("fee_left_cents") - pl.col("seller_shipping_discount_cents")).alias("customer_shipping_cents"),
        )
        .sort("order_id")
    )
    parts = pl.concat([platform, seller]).select(
        "order_id", "promotion_id", "promotion_type", pl.col("discount_cents").alias("amount_cents")
    )
    return shipping, parts


def _line_amounts(ordered: pl.DataFrame, parts: pl.DataFrame, flash_lines: pl.Series) -> pl.DataFrame:
    """Per order line (`ordered`: the lines sorted by order and SKU, numbered by `_line` in that
    order): list amount, seller and platform discounts (steps 1–4: `parts` of lines), final amount.

    Each line's sums are put at its number (a scatter), not joined back by the (order, SKU) text.
    """
    per_line = parts.group_by(_LINE).agg(
        pl.col("amount_cents").filter(pl.col("funded_by") == "seller").sum().alias("seller_discount_cents"),
        pl.col("amount_cents").filter(pl.col("funded_by") == "platform").sum().alias("platform_discount_cents"),
    )

    def at_lines(name: str, where: pl.Series, value, empty) -> pl.Series:
        return pl.repeat(empty, ordered.height, eager=True).alias(name).scatter(where, value)

    return (
        ordered.drop(_LINE)
        .with_columns(
            (pl.col("unit_price_cents") * pl.col("quantity")).alias("list_amount_cents"),
            *[
                at_lines(c, per_line[_LINE], per_line[c], pl.lit(0, pl.Int64))
                for c in ("seller_discount_cents", "platform_discount_cents")
            ],
            at_lines("is_flash_priced", flash_lines, True, False),
        )
        .with_columns(
            (pl.col("list_amount_cents") - pl.col("seller_discount_cents") - pl.col("platform_discount_cents")).alias(
                "final_amount_cents"
            )
        )
    )
