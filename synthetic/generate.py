"""Synthetic, clean inputs in the docs/stacking.md contract (`schemas.inputs`), deterministic by seed.

Every value is drawn with numpy Generators (one per table family, spawned from the seed) and
assembled with Polars expressions; no Python loop runs over rows or orders. Money stays integer
cents until one cast to `Decimal(18,2)` at the edge (`transforms.money.units_to_decimal`); times are integer UTC
seconds until one cast to `Datetime("us", "UTC")`.

What the data looks like: orders from 2025-01-01 to 2026-10-31 (UTC) with a growth trend, a
holiday season and a US-evening daily peak; several shops of Zipf-like sizes, each with its own
catalogue (products with 1-6 SKUs, log-normal list prices $3-$200); every promotion type with
every kind it allows, overlapping windows, BMSM tiers, campaigns, conditions and product scopes;
coupon claims (a few deliberately wrong or unknown); opt-out toggles; partial and full refunds.
The generator writes clean data only: invalid rows are planted elsewhere.

Vectorised in NumPy and Polars, so generating costs a few seconds per million lines (BENCHMARKS.md,
"Choices in the code"); the same seed gives the same bytes whatever the thread count.
"""

import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from schemas.inputs import (
    ALLOWED_KINDS,
    CHANNELS,
    CONDITIONS,
    DISCOUNT_KINDS,
    PLATFORM_TYPES,
    PROMOTION_TYPES,
    file_schema,
)
from transforms.money import units_to_decimal

GENERATED_TABLES = ("orders", "order_lines", "promotions", "promotion_products", "opt_out_events", "refunds")


def _epoch(y: int, m: int, d: int, h: int = 0) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp())


_DAY = 86_400
_HOUR = 3_600
PERIOD_START = _epoch(2025, 1, 1)
PERIOD_END = _epoch(2026, 11, 1)  # exclusive: 2026-10-31 is the last day with orders
_MONTHS = 22
CURRENCY = "USD"

# Campaign windows start at 08:00 UTC (midnight in Los Angeles), as TikTok's US events do.
_CAMPAIGNS = (
    ("CMP-2025-SPRING", _epoch(2025, 3, 17, 8), _epoch(2025, 3, 24, 8)),
    ("CMP-2025-SUMMER", _epoch(2025, 7, 8, 8), _epoch(2025, 7, 15, 8)),
    ("CMP-2025-BTS", _epoch(2025, 8, 4, 8), _epoch(2025, 8, 18, 8)),
    ("CMP-2025-BFCM", _epoch(2025, 11, 20, 8), _epoch(2025, 12, 3, 8)),
    ("CMP-2025-HOLIDAY", _epoch(2025, 12, 5, 8), _epoch(2025, 12, 22, 8)),
    ("CMP-2026-SPRING", _epoch(2026, 3, 16, 8), _epoch(2026, 3, 23, 8)),
    ("CMP-2026-SUMMER", _epoch(2026, 7, 7, 8), _epoch(2026, 7, 14, 8)),
    ("CMP-2026-FALL", _epoch(2026, 10, 5, 8), _epoch(2026, 10, 19, 8)),
)

_ADJECTIVES = (
    "Classic",
    "Everyday",
    "Premium",
    "Cozy",
    "Ultra",
    "Mini",
    "Glow",
    "Pro",
    "Soft",
    "Bold",
    "Vintage",
    "Eco",
    "Silk",
    "Matte",
    "Travel",
    "Smart",
    "Velvet",
    "Fresh",
    "Luxe",
    "Daily",
)
_NOUNS = (
    "Hoodie",
    "Lip Gloss",
    "Serum",
    "Phone Case",
    "Tote Bag",
    "Sneakers",
    "Water Bottle",
    "Desk Lamp",
    "Leggings",
    "Face Mask",
    "Hair Clip",
    "Earbuds",
    "Candle",
    "Sunscreen",
    "Backpack",
    "Pajama Set",
    "Wall Art",
    "Dog Toy",
    "Yoga Mat",
    "Perfume",
    "Wallet",
    "Blender",
    "Beanie",
    "Necklace",
)
_COLORS = ("Black", "White", "Pink", "Blue", "Beige", "Green", "Red", "Grey")
_SIZES = ("S", "M", "L", "XL", "2XL", "3XL")


def default_shop_count(n_orders: int) -> int:
    """About one shop per 50,000 orders, at least 2 and at most 20."""
    return min(20, max(2, n_orders // 50_000))


# ---------------------------------------------------------------- helpers (frames of ints → contract types)


def _nullable(col: str) -> pl.Expr:
    """Internal frames use -1 for 'no value' in integer columns."""
    return pl.when(pl.col(col) >= 0).then(pl.col(col))


def _seconds_to_utc(expr: pl.Expr) -> pl.Expr:
    return (expr * 1_000_000).cast(pl.Datetime("us", "UTC"))


def _id(prefix: str, expr: pl.Expr, width: int) -> pl.Expr:
    """Zero-padded ids (`O00000001`) so that code-point order is numeric order."""
    return pl.concat_str(pl.lit(prefix), expr.cast(pl.String).str.zfill(width))


def _pick(values: tuple[str, ...], expr: pl.Expr) -> pl.Expr:
    return expr.replace_strict(list(range(len(values))), list(values), return_dtype=pl.String)


def _choice(rng: np.random.Generator, values, weights, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return np.asarray(values)[rng.choice(len(p), size=size, p=p / p.sum())]


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort, then keep each change: cheaper than np.unique on these keys)."""
    ordered = np.sort(keys)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _group_starts(owner_sorted: np.ndarray, n_groups: int) -> np.ndarray:
    return np.searchsorted(owner_sorted, np.arange(n_groups))


# ---------------------------------------------------------------- shops and catalogue


@dataclass(frozen=True)
class _Catalogue:
    """Products are contiguous per shop; SKUs contiguous per product (so ids sort by shop, product)."""

    shop_share: np.ndarray  # share of orders per shop
    shop_first: np.ndarray  # first product index of each shop
    shop_count: np.ndarray  # products per shop
    product_shop: np.ndarray
    product_price: np.ndarray  # cents, the cheapest SKU's price
    cum_weight: np.ndarray  # cumulative popularity over all products (float, not money)
    sku_first: np.ndarray  # first SKU index of each product
    sku_count: np.ndarray
    sku_product: np.ndarray
    sku_price: np.ndarray  # cents
    product_name: pl.Series
    sku_name: pl.Series

    def draw(self, rng: np.random.Generator, shop: np.ndarray, p_popular: float = 1.0) -> np.ndarray:
        """One product per element of `shop` (-1: any shop), by popularity with p_popular, else uniformly."""
        any_shop = shop < 0
        s = np.where(any_shop, 0, shop)
        first = np.where(any_shop, 0, self.shop_first[s])
        count = np.where(any_shop, len(self.product_shop), self.shop_count[s])
        lo = np.where(first > 0, self.cum_weight[np.maximum(first - 1, 0)], 0.0)
        hi = self.cum_weight[first + count - 1]
        u = rng.random(len(shop))
        popular = np.searchsorted(self.cum_weight, lo + u * (hi - lo), side="right")
        uniform = first + np.minimum((u * count).astype(np.int64), count - 1)
        chosen = np.where(rng.random(len(shop)) < p_popular, popular, uniform)
        return np.clip(chosen, first, first + count - 1)


def _catalogue(rng: np.random.Generator, n_orders: int, n_shops: int) -> _Catalogue:
    shop_share = 1.0 / np.arange(1, n_shops + 1) ** 0.8
    shop_share /= shop_share.sum()
    # About one product per 80 orders of the shop, at least 30: thousands in a large run.
    shop_count = np.maximum(30, np.round(shop_share * n_orders / 80)).astype(np.int64)
    shop_first = np.concatenate([[0], np.cumsum(shop_count)[:-1]])
    n_products = int(shop_count.sum())
    product_shop = np.repeat(np.arange(n_shops), shop_count)

    # List prices: log-normal around $18, $3-$200; most end in .99.
    cents = np.clip(np.round(np.exp(rng.normal(np.log(1_800), 0.8, n_products))), 300, 20_000).astype(np.int64)
    ends_99 = rng.random(n_products) < 0.6
    cents = np.where(ends_99, np.clip((cents // 100) * 100 + 99, 399, 19_999), cents)
    weight = rng.lognormal(0.0, 1.3, n_products)

    sku_count = _choice(rng, [1, 2, 3, 4, 5, 6], [35, 20, 15, 12, 10, 8], n_products).astype(np.int64)
    sku_first = np.concatenate([[0], np.cumsum(sku_count)[:-1]])
    sku_product = np.repeat(np.arange(n_products), sku_count)
    variant = np.arange(len(sku_product)) - sku_first[sku_product]
    # Larger variants cost up to 30 % more, in whole dollars; the first SKU has the list price.
    uplift = np.where(
        (variant > 0) & (rng.random(len(sku_product)) < 0.3),
        (cents[sku_product] * rng.uniform(0.05, 0.3, len(sku_product)) / 100).astype(np.int64) * 100,
        0,
    )
    sku_price = np.minimum(cents[sku_product] + uplift, 20_000)

    adjective = rng.integers(0, len(_ADJECTIVES), n_products)
    noun = rng.integers(0, len(_NOUNS), n_products)
    color0 = rng.integers(0, len(_COLORS), n_products)
    names = pl.select(
        name=pl.concat_str(
            _pick(_ADJECTIVES, pl.lit(pl.Series(adjective))), pl.lit(" "), _pick(_NOUNS, pl.lit(pl.Series(noun)))
        )
    ).to_series()
    sku_names = pl.select(
        name=pl.concat_str(
            _pick(_COLORS, pl.lit(pl.Series((color0[sku_product] + variant) % len(_COLORS)))),
            pl.lit(" / "),
            _pick(_SIZES, pl.lit(pl.Series(variant % len(_SIZES)))),
        )
    ).to_series()
    return _Catalogue(
        shop_share,
        shop_first,
        shop_count,
        product_shop,
        cents,
        np.cumsum(weight),
        sku_first,
        sku_count,
        sku_product,
        sku_price,
        names,
        sku_names,
    )


# ---------------------------------------------------------------- promotions


@dataclass(frozen=True)
class _Plan:
    """How often one promotion type runs and what it looks like."""

    per_month: float  # seller types: per shop at full activity; platform types: in all
    days: tuple[int, int]  # window length in days
    kind_weights: tuple[float, ...]  # over ALLOWED_KINDS[type]
    p_scoped: float  # share with promotion_products rows
    scope: tuple[int, int]  # products in scope
    p_campaign: float
    condition_weights: tuple[float, float, float]  # none, live_only, new_buyer
    p_popular: float = 0.6  # share of scope drawn by sales popularity (best sellers get promoted)


_PLANS = {
    "flash_deal": _Plan(3.0, (1, 7), (0.55, 0.25, 0.20), 0.97, (2, 30), 0.15, (0.85, 0.10, 0.05), 0.9),
    "product_discount": _Plan(1.5, (7, 42), (0.60, 0.30, 0.10), 0.90, (3, 40), 0.10, (0.90, 0.05, 0.05)),
    "product_incentive": _Plan(3.0, (3, 21), (0.60, 0.30, 0.10), 0.95, (20, 500), 0.20, (0.60, 0.25, 0.15), 0.85),
    "seller_bmsm": _Plan(0.8, (7, 30), (0.60, 0.40), 0.85, (5, 40), 0.10, (0.90, 0.05, 0.05)),
    "platform_bmsm": _Plan(0.6, (7, 28), (0.60, 0.40), 0.80, (30, 400), 0.25, (0.85, 0.05, 0.10)),
    "seller_coupon": _Plan(1.5, (7, 30), (0.55, 0.45), 0.70, (5, 60), 0.10, (0.80, 0.05, 0.15)),
    "product_coupon": _Plan(1.5, (7, 30), (0.50, 0.50), 0.75, (30, 400), 0.20, (0.75, 0.05, 0.20)),
    "seller_shipping_discount": _Plan(0.5, (14, 60), (0.50, 0.20, 0.30), 0.50, (10, 80), 0.05, (0.95, 0.02, 0.03)),
    "platform_shipping_discount": _Plan(0.7, (7, 45), (0.50, 0.20, 0.30), 0.50, (30, 400), 0.20, (0.90, 0.03, 0.07)),
}
_P_PLATFORM_SHOP_SPECIFIC = 0.15


def _promotion_owners(rng: np.random.Generator, ptype: str, activity: np.ndarray) -> np.ndarray:
    """Shop index per promotion of one type (-1: a platform promotion for all shops)."""
    plan = _PLANS[ptype]
    if ptype in PLATFORM_TYPES:
        n = max(4, round(plan.per_month * _MONTHS))
        shop = rng.integers(0, len(activity), n)
        return np.where(rng.random(n) < _P_PLATFORM_SHOP_SPECIFIC, shop, -1)
    per_shop = np.maximum(3, np.round(plan.per_month * _MONTHS * activity)).astype(np.int64)
    return np.repeat(np.arange(len(activity)), per_shop)


def _one_type(rng: np.random.Generator, ptype: str, cat: _Catalogue, activity: np.ndarray, key0: int):
    """Tier rows (internal ints, -1 = null) and scope rows of one promotion type."""
    plan = _PLANS[ptype]
    kinds = ALLOWED_KINDS[ptype]
    shop = _promotion_owners(rng, ptype, activity)
    n = len(shop)
    key = key0 + np.arange(n)

    kind = rng.choice(len(kinds), size=n, p=np.asarray(plan.kind_weights) / sum(plan.kind_weights))
    kind[: len(kinds)] = np.arange(len(kinds))  # every allowed kind appears at least once
    kind_name = np.asarray(kinds)[kind]
    is_pct, is_amt = kind_name == "percent_off", kind_name == "amount_off"
    is_fixed, is_free = kind_name == "fixed_price", kind_name == "free_shipping"

    # Windows: whole hours, days to weeks long, overlapping; some pinned to a campaign.
    span = PERIOD_END - PERIOD_START + 7 * _DAY
    starts = (PERIOD_START - 7 * _DAY + rng.integers(0, span, n)) // _HOUR * _HOUR
    ends = starts + rng.integers(plan.days[0] * 24, plan.days[1] * 24 + 1, n) * _HOUR
    campaign = np.where(rng.random(n) < plan.p_campaign, rng.integers(0, len(_CAMPAIGNS), n), -1)
    in_campaign = campaign >= 0
    starts = np.where(in_campaign, np.array([c[1] for c in _CAMPAIGNS])[campaign], starts)
    ends = np.where(in_campaign, np.array([c[2] for c in _CAMPAIGNS])[campaign], ends)
    condition = rng.choice(3, size=n, p=plan.condition_weights)

    # Product scope: a fixed price always names its products.
    scoped = (rng.random(n) < plan.p_scoped) | is_fixed
    available = np.where(shop < 0, len(cat.product_shop), cat.shop_count[np.maximum(shop, 0)])
    size = np.where(scoped, np.minimum(rng.integers(plan.scope[0], plan.scope[1] + 1, n), available), 0)
    owner = np.repeat(np.arange(n), size)
    product = cat.draw(rng, np.repeat(shop, size), p_popular=plan.p_popular)
    pair = _distinct(owner * len(cat.product_shop) + product)  # one row per (promotion, product)
    owner, product = pair // len(cat.product_shop), pair % len(cat.product_shop)
    scope = pl.DataFrame({"key": key0 + owner, "product": product})

    # Reference price for unit-level values: the cheapest scoped product, else the shop's cheapest.
    ref = np.where(
        shop < 0, cat.product_price.min(), np.minimum.reduceat(cat.product_price, cat.shop_first)[np.maximum(shop, 0)]
    )
    if len(owner):
        firsts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ref[owner[firsts]] = np.minimum.reduceat(cat.product_price[product], firsts)

    value = np.full(n, -1, dtype=np.int64)  # hundredths: percent points or cents
    max_discount = np.full(n, -1, dtype=np.int64)
    min_spend = np.full(n, -1, dtype=np.int64)
    min_qty = np.full(n, -1, dtype=np.int64)
    tiers = np.ones(n, dtype=np.int64)
    round_pct = _choice(rng, [5, 10, 15, 20, 25, 30, 40, 50], [3, 5, 4, 5, 3, 3, 1, 1], n) * 100
    odd_pct = rng.integers(250, 4_001, n)  # e.g. 12.50 %, 17.25 %: at most 2 decimals

    if ptype in ("flash_deal", "product_discount", "product_incentive"):
        value = np.where(is_pct, np.where(rng.random(n) < 0.75, round_pct, odd_pct), value)
        value = np.where(is_amt, np.maximum(1, (ref * rng.uniform(0.1, 0.35, n)).astype(np.int64) // 100) * 100, value)
        fixed = np.maximum(99, (ref * rng.uniform(0.55, 0.9, n)).astype(np.int64) // 100 * 100 - 1)
        value = np.where(is_fixed, fixed, value)
        max_discount = np.where(is_pct & (rng.random(n) < 0.25), rng.integers(3, 31, n) * 100, -1)
    elif ptype in ("seller_coupon", "product_coupon"):
        value = np.where(
            is_pct, np.minimum(round_pct, 3_000), _choice(rng, [2, 3, 5, 8, 10, 15, 20], [2, 3, 4, 2, 3, 1, 1], n) * 100
        )
        spend = _choice(rng, [10, 15, 20, 25, 30, 35, 50, 75], [2, 3, 3, 3, 2, 2, 2, 1], n) * 100
        spend = np.where(is_amt, np.maximum(spend, -(-2 * value // 500) * 500), spend)  # spend >= 2x the $ off
        min_spend = np.where(rng.random(n) < (0.6 if ptype == "seller_coupon" else 0.7), spend, -1)
        max_discount = np.where(is_pct & (rng.random(n) < 0.35), rng.integers(5, 51, n) * 100, -1)
    elif ptype in ("seller_shipping_discount", "platform_shipping_discount"):
        value = np.where(is_pct, _choice(rng, [25, 50, 75, 100], [1, 3, 1, 1], n) * 100, value)
        value = np.where(is_amt, _choice(rng, [1, 2, 3, 4, 5], [2, 3, 3, 1, 1], n) * 100, value)
        value = np.where(is_free, -1, value)
        min_spend = np.where(
            rng.random(n) < 0.6, _choice(rng, [15, 19, 25, 29, 35, 49], [2, 2, 3, 1, 2, 1], n) * 100, -1
        )
        max_discount = np.where(is_pct & (rng.random(n) < 0.3), rng.integers(2, 7, n) * 100, -1)
    else:  # BMSM: 2-3 tiers, each with a quantity and/or a spend threshold
        tiers = rng.integers(2, 4, n)
        max_discount = np.where(is_pct & (rng.random(n) < 0.25), rng.integers(10, 51, n) * 100, -1)

    rows = np.repeat(np.arange(n), tiers)
    tier = np.arange(len(rows)) - np.repeat(np.cumsum(tiers) - tiers, tiers) + 1
    value, min_spend, min_qty = value[rows], min_spend[rows], min_qty[rows]
    if ptype in ("seller_bmsm", "platform_bmsm"):
        mode = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])[rows]  # quantity, spend, both
        q0 = _choice(rng, [2, 2, 2, 3], [1, 1, 1, 1], n)[rows]
        s0 = _choice(rng, [25, 30, 40, 50, 60], [2, 3, 3, 2, 1], n)[rows] * 100
        min_qty = np.where(mode != 1, q0 + tier - 1, -1)
        min_spend = np.where(mode != 0, s0 * tier, -1)
        pct = (_choice(rng, [5, 10], [1, 1], n)[rows] + 5 * (tier - 1)) * 100
        per_tier = np.where(
            mode == 0,
            _choice(rng, [2, 3, 5], [1, 1, 1], n)[rows] * 100,
            (s0 * _choice(rng, [10, 15, 20], [2, 2, 1], n)[rows] // 100) // 100 * 100,
        )
        value = np.where(is_pct[rows], pct, per_tier * tier)

    tiers_df = pl.DataFrame(
        {
            "key": key[rows],
            "tier": tier,
            "type": np.full(len(rows), PROMOTION_TYPES.index(ptype)),
            "shop": shop[rows],
            "starts": starts[rows],
            "ends": ends[rows],
            "kind": np.asarray([DISCOUNT_KINDS.index(k) for k in kinds])[kind][rows],
            "value": value,
            "min_spend": min_spend,
            "min_qty": min_qty,
            "max_discount": max_discount[rows],
            "condition": condition[rows],
            "campaign": campaign[rows],
        }
    )
    return tiers_df, scope


def _promotions(rng: np.random.Generator, cat: _Catalogue, n_orders: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All tier rows with a `pnum` (0-based promotion number, ids follow start time) and scope rows."""
    # A small shop runs fewer promotions: full activity at 20,000 orders over the period.
    activity = np.clip(cat.shop_share * n_orders / 20_000, 0.25, 1.0)
    tiers, scopes, key0 = [], [], 0
    for ptype in PROMOTION_TYPES:
        t, s = _one_type(rng, ptype, cat, activity, key0)
        key0 = int(t["key"].max()) + 1
        tiers.append(t)
        scopes.append(s)
    tiers_df = pl.concat(tiers)
    order = (
        tiers_df.filter(pl.col("tier") == 1)
        .sort("starts", "type", "key")
        .select("key", pnum=pl.int_range(pl.len(), dtype=pl.Int64))
    )
    tiers_df = tiers_df.join(order, on="key").sort("pnum", "tier")
    scope_df = pl.concat(scopes).join(order, on="key").sort("pnum", "product")
    return tiers_df, scope_df


# ---------------------------------------------------------------- orders and lines


def _created_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Order times: growth over the period, the holiday season, weekends, US-evening hours (UTC)."""
    n_days = (PERIOD_END - PERIOD_START) // _DAY
    days = np.arange(n_days)
    dates = np.datetime64("2025-01-01") + days
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    weight = 1.0 + 1.5 * days / n_days
    weight *= np.where(((month == 11) & (dom >= 15)) | ((month == 12) & (dom <= 22)), 1.6, 1.0)
    bfcm = (dates >= np.datetime64("2025-11-28")) & (dates <= np.datetime64("2025-12-01"))
    weight *= np.where(bfcm, 2.5, 1.0)
    weight *= np.where((days + 2) % 7 >= 5, 1.15, 1.0)  # 2025-01-01 is a Wednesday
    hour_weight = [8, 7, 6, 5, 4, 3, 2, 1.5, 1, 1, 1, 1.5, 2, 3, 4, 4.5, 5, 5, 5.5, 6, 6.5, 7, 7.5, 8]
    day = rng.choice(n_days, size=n, p=weight / weight.sum())
    hour = rng.choice(24, size=n, p=np.asarray(hour_weight) / sum(hour_weight))
    return np.sort(PERIOD_START + day * _DAY + hour * _HOUR + rng.integers(0, _HOUR, n))


@dataclass(frozen=True)
class _Orders:
    created: np.ndarray
    shop: np.ndarray
    channel: np.ndarray
    is_new: np.ndarray
    delivered: np.ndarray  # -1: not delivered
    line_first: np.ndarray
    line_count: np.ndarray
    line_order: np.ndarray
    line_sku: np.ndarray
    line_qty: np.ndarray


def _orders(rng: np.random.Generator, cat: _Catalogue, n: int) -> tuple[_Orders, pl.DataFrame]:
    created = _created_seconds(rng, n)  # sorted, so order ids follow time
    shop = rng.choice(len(cat.shop_share), size=n, p=cat.shop_share)
    channel = rng.choice(3, size=n, p=[0.35, 0.40, 0.25])
    is_new = rng.random(n) < 0.15

    # Lines: ~2.5 per order; a SKU drawn twice in one order is kept once.
    wanted = _choice(rng, [1, 2, 3, 4, 5, 6], [30, 25, 20, 12, 8, 5], n)
    order_of = np.repeat(np.arange(n), wanted)
    product = cat.draw(rng, shop[order_of])
    sku = cat.sku_first[product] + (rng.random(len(product)) * cat.sku_count[product]).astype(np.int64)
    pair = _distinct(order_of * len(cat.sku_product) + sku)
    line_order, line_sku = pair // len(cat.sku_product), pair % len(cat.sku_product)
    line_qty = _choice(rng, np.arange(1, 11), [70, 18, 7, 2, 1.2, 0.6, 0.3, 0.3, 0.2, 0.4], len(pair))
    line_first = _group_starts(line_order, n)
    line_count = np.diff(np.r_[line_first, len(pair)])
    gross = np.add.reduceat(line_qty * cat.sku_price[line_sku], line_first)
    units = np.add.reduceat(line_qty, line_first)

    # Shipping shown to the buyer: often free (more so above $35), else $3.99-$9.99.
    free = rng.random(n) < np.where(gross >= 3_500, 0.7, 0.25)
    shipping_fee = np.where(free, 0, np.minimum(rng.integers(3, 8, n) + np.minimum(units, 3) - 1, 9) * 100 + 99)
    label = np.clip(200 + 120 * units + rng.integers(-50, 250, n), 200, 1_200)
    tax_bp = np.where(rng.random(n) < 0.12, 0, rng.integers(400, 901, n))  # 0-9 % by ship-to state
    sales_tax = (gross * tax_bp + 5_000) // 10_000  # half up, integer

    # Delivery 1-9 days after creation; undelivered: a few lost or late ones, mostly recent orders.
    delay = _DAY + np.minimum(rng.gamma(2.2, 1.2 * _DAY, n), 8 * _DAY).astype(np.int64)
    age_days = (PERIOD_END - created) / _DAY
    p_pending = 0.03 + 0.97 * np.exp(-age_days / 30.0)
    delivered = np.where((rng.random(n) < p_pending) | (created + delay >= PERIOD_END), -1, created + delay)

    commission = np.where(
        rng.random(n) < 0.25,
        np.where(
            rng.random(n) < 0.8,
            _choice(rng, [50_000, 80_000, 100_000, 120_000, 150_000, 200_000], [2, 2, 3, 2, 2, 1], n),
            rng.integers(50_000, 200_001, n),
        ),
        -1,
    )

    o = _Orders(created, shop, channel, is_new, delivered, line_first, line_count, line_order, line_sku, line_qty)
    frame = pl.DataFrame(
        {
            "order": np.arange(n),
            "shop": shop,
            "created": created,
            "channel": channel,
            "is_new": is_new,
            "shipping_fee": shipping_fee,
            "label": label,
            "sales_tax": sales_tax,
            "delivered": delivered,
            "commission": commission,
        }
    )
    return o, frame


def _claims(
    rng: np.random.Generator, o: _Orders, cat: _Catalogue, promos: pl.DataFrame, scope: pl.DataFrame, n_shops: int
) -> pl.DataFrame:
    """seller_coupon / platform_coupon claims, as a buyer would make them: a coupon of the order's shop
    (or all shops), active at `created_at`, whose condition holds, covering a product in the cart whose
    list-price total reaches min_spend; then 3 % swapped for a wrong (other shop/time/type) or unknown id.
    Later discounts can still take a claim below min_spend, and an opt-out can void it: realistic rejects."""
    n = len(o.created)
    n_promos = int(promos["pnum"].max()) + 1
    orders = pl.DataFrame(
        {"order": np.arange(n), "shop": o.shop, "created": o.created, "channel": o.channel, "is_new": o.is_new}
    )
    lines = pl.DataFrame(
        {
            "order": o.line_order,
            "product": cat.sku_product[o.line_sku],
            "amount": o.line_qty * cat.sku_price[o.line_sku],
        }
    )
    in_scope = scope.select("pnum", "product", hit=pl.lit(True))
    coupon_types = [PROMOTION_TYPES.index(t) for t in ("seller_coupon", "product_coupon")]
    coupons = promos.filter(pl.col("type").is_in(coupon_types)).with_columns(
        scoped=pl.col("pnum").is_in(scope["pnum"].unique().implode())
    )
    every_shop = pl.DataFrame({"each": np.arange(n_shops)})
    out = orders.select("order")
    for column, ptype, rate in (("seller_claim", "seller_coupon", 0.35), ("platform_claim", "product_coupon", 0.35)):
        c = coupons.filter(pl.col("type") == PROMOTION_TYPES.index(ptype))
        c = pl.concat(
            [
                c.filter(pl.col("shop") >= 0),
                c.filter(pl.col("shop") < 0)
                .join(every_shop, how="cross")
                .with_columns(shop=pl.col("each"))
                .drop("each"),
            ]
        )
        claimers = orders.filter(pl.Series(rng.random(n) < rate))
        cand = (
            claimers.lazy()
            .join(c.lazy().select("shop", "pnum", "starts", "ends", "condition", "min_spend", "scoped"), on="shop")
            .filter(
                (pl.col("starts") <= pl.col("created")) & (pl.col("created") < pl.col("ends")),
                (pl.col("condition") == 0)
                | ((pl.col("condition") == 1) & (pl.col("channel") == CHANNELS.index("live")))
                | ((pl.col("condition") == 2) & pl.col("is_new")),
            )
            .select("order", "pnum", "min_spend", "scoped")
            .join(lines.lazy(), on="order")
            .join(in_scope.lazy(), on=["pnum", "product"], how="left")
            .filter(~pl.col("scoped") | pl.col("hit").fill_null(False))
            .group_by("order", "pnum")
            .agg(pl.col("min_spend").first(), base=pl.col("amount").sum())
            .filter(pl.col("base") >= pl.col("min_spend").clip(0))
            .select("order", "pnum")
            .sort("order", "pnum")
            .collect(engine="streaming")
        )  # bounded memory; the sort makes the result deterministic
        cand = cand.with_columns(u=pl.Series(rng.random(cand.height)))
        picked = cand.sort("order", "u").unique("order", keep="first", maintain_order=True).drop("u")
        m = picked.height
        wrong = rng.random(m) < 0.03
        bad = np.where(
            rng.random(m) < 0.5,
            n_promos + rng.integers(0, 9_000, m),  # unknown
            coupons["pnum"].to_numpy()[rng.integers(0, coupons.height, m)],
        )  # any coupon
        picked = picked.with_columns(pnum=pl.Series(np.where(wrong, bad, picked["pnum"].to_numpy())))
        out = out.join(picked.rename({"pnum": column}), on="order", how="left", maintain_order="left")
    return out.fill_null(-1)


# ---------------------------------------------------------------- refunds and opt-outs


def _refunds(rng: np.random.Generator, o: _Orders) -> pl.DataFrame:
    """~4.5 % of orders refund: 40 % the whole order at once (half of them with shipping),
    the rest some lines, some units, sometimes in two steps. Never more units than the line has."""
    n, n_lines = len(o.created), len(o.line_order)
    refunding = rng.random(n) < 0.045
    full = refunding & (rng.random(n) < np.where(o.delivered < 0, 0.9, 0.4))
    delivered = o.delivered >= 0
    # One return moment per order: mostly after delivery, sometimes a cancellation before it.
    after_delivery = delivered & ((rng.random(n) < 0.85) | full)
    wait_after = _HOUR + rng.exponential(5 * _DAY, n).astype(np.int64)
    before = (
        o.created
        + 600
        + (rng.random(n) * np.where(delivered, o.delivered - o.created - 600, 3 * _DAY)).astype(np.int64)
    )
    moment = np.where(after_delivery, o.delivered + wait_after, before)

    anchor = np.zeros(n_lines, dtype=bool)
    anchor[o.line_first + (rng.random(n) * o.line_count).astype(np.int64)] = True
    order = o.line_order
    take = refunding[order] & (full[order] | anchor | (rng.random(n_lines) < 0.3))
    qty = np.where(full[order], o.line_qty, rng.integers(1, o.line_qty + 1))
    jitter = np.where(full[order], 0, rng.integers(0, 2 * _DAY, n_lines))
    at = moment[order] + jitter
    split = take & ~full[order] & (qty >= 2) & (rng.random(n_lines) < 0.25)
    first_qty = np.where(split, rng.integers(1, np.maximum(qty, 2)), qty)
    later_at = at + _HOUR + rng.exponential(3 * _DAY, n_lines).astype(np.int64)
    ship_flag = full & (rng.random(n) < np.where(delivered, 0.5, 0.9))

    i1, i2 = np.flatnonzero(take), np.flatnonzero(split)
    df = pl.DataFrame(
        {
            "order": np.r_[order[i1], order[i2]],
            "sku": np.r_[o.line_sku[i1], o.line_sku[i2]],
            "qty": np.r_[first_qty[i1], qty[i2] - first_qty[i2]],
            "at": np.r_[at[i1], later_at[i2]],
            "step": np.r_[np.zeros(len(i1), dtype=np.int64), np.ones(len(i2), dtype=np.int64)],
        }
    ).filter(pl.col("at") < PERIOD_END)
    df = (
        df.sort("order", "at", "sku", "step")
        .with_columns(
            shipping=pl.col("order").is_last_distinct()  # one shipping refund: the order's last
            & pl.lit(pl.Series(ship_flag)).gather(pl.col("order"))
        )
        .sort("at", "order", "sku", "step")
        .with_columns(refund=pl.int_range(pl.len(), dtype=pl.Int64))
    )
    return df


def _opt_outs(rng: np.random.Generator, n_shops: int) -> pl.DataFrame:
    """A few opt-out/opt-in pairs per shop and platform type: some brief (minutes to hours, the
    toggling that breaks prices), some for days or weeks; each opt-in comes before the next opt-out."""
    groups = n_shops * len(PLATFORM_TYPES)
    count = np.minimum(rng.poisson(1.5, groups), 4)
    count[0] = max(count[0], 1)
    group = np.repeat(np.arange(groups), count)
    m = len(group)
    out_at = PERIOD_START + rng.integers(0, PERIOD_END - PERIOD_START - _DAY, m)
    brief = rng.random(m) < 0.4
    length = np.where(brief, rng.integers(600, 6 * _HOUR, m), rng.integers(_DAY, 21 * _DAY, m))
    df = pl.DataFrame({"group": group, "out_at": out_at, "length": length}).sort("group", "out_at")
    df = (
        df.with_columns(next_out=pl.col("out_at").shift(-1).over("group"))
        .filter((pl.col("next_out").is_null()) | (pl.col("next_out") - pl.col("out_at") > 120))
        .with_columns(next_out=pl.col("out_at").shift(-1).over("group"))
        .with_columns(
            in_at=pl.min_horizontal(
                pl.col("out_at") + pl.col("length"), pl.col("next_out").fill_null(PERIOD_END) - 60, PERIOD_END - 1
            )
        )
    )
    events = pl.concat(
        [
            df.select("group", at="out_at", participating=pl.lit(False)),
            df.select("group", at="in_at", participating=pl.lit(True)),
        ]
    )
    return events.select(
        shop=pl.col("group") // len(PLATFORM_TYPES),
        type=pl.col("group") % len(PLATFORM_TYPES),
        at="at",
        participating="participating",
    ).sort("at", "shop", "type")


# ---------------------------------------------------------------- assembly


def _contract(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table's columns in contract order, each of the type the input contract gives a file."""
    return frame.select(pl.col(column).cast(dtype) for column, dtype in file_schema(name).items()).rechunk()


def generate_inputs(n_orders: int, seed: int, n_shops: int | None = None) -> dict[str, pl.DataFrame]:
    """Clean raw input tables, named and typed as `schemas.inputs.INPUT_TABLES` (no fee_schedule)."""
    if n_orders < 1:
        raise ValueError(f"n_orders must be at least 1, got {n_orders}")
    n_shops = default_shop_count(n_orders) if n_shops is None else n_shops
    if not 1 <= n_shops <= 99:
        raise ValueError(f"n_shops must be between 1 and 99, got {n_shops}")
    rng_cat, rng_promo, rng_orders, rng_claims, rng_refunds, rng_opt = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )

    cat = _catalogue(rng_cat, n_orders, n_shops)
    promos, scope = _promotions(rng_promo, cat, n_orders)
    o, orders = _orders(rng_orders, cat, n_orders)
    claims = _claims(rng_claims, o, cat, promos, scope, n_shops)
    refunds = _refunds(rng_refunds, o)
    opt = _opt_outs(rng_opt, n_shops)

    shop_id = _id("SHOP", pl.col("shop") + 1, 2)
    promo_id = _id("PM", pl.col("pnum") + 1, 6)
    order_id = _id("O", pl.col("order") + 1, 8)
    sku_id = _id("SKU", pl.col("sku") + 1, 8)
    product_id = _id("P", pl.col("product") + 1, 6)

    orders_out = orders.join(claims, on="order", maintain_order="left").select(
        order_id=order_id,
        shop_id=shop_id,
        created_at=_seconds_to_utc(pl.col("created")),
        currency=pl.lit(CURRENCY),
        channel=_pick(CHANNELS, pl.col("channel")),
        buyer_is_new=pl.col("is_new"),
        shipping_fee=units_to_decimal(pl.col("shipping_fee")),
        actual_shipping_fee=units_to_decimal(pl.col("label")),
        sales_tax=units_to_decimal(pl.col("sales_tax")),
        seller_coupon_id=pl.when(pl.col("seller_claim") >= 0).then(_id("PM", pl.col("seller_claim") + 1, 6)),
        platform_coupon_id=pl.when(pl.col("platform_claim") >= 0).then(_id("PM", pl.col("platform_claim") + 1, 6)),
        delivered_at=_seconds_to_utc(_nullable("delivered")),
        affiliate_commission_rate=units_to_decimal(_nullable("commission"), scale=6),
    )
    lines = pl.DataFrame({"order": o.line_order, "sku": o.line_sku, "quantity": o.line_qty})
    lines_out = lines.select(
        order_id=order_id,
        sku_id=sku_id,
        product_id=_id("P", pl.lit(pl.Series(cat.sku_product)).gather(pl.col("sku")) + 1, 6),
        product_name=pl.lit(cat.product_name).gather(pl.lit(pl.Series(cat.sku_product)).gather(pl.col("sku"))),
        sku_name=pl.lit(cat.sku_name).gather(pl.col("sku")),
        quantity=pl.col("quantity"),
        unit_price=units_to_decimal(pl.lit(pl.Series(cat.sku_price)).gather(pl.col("sku"))),
    )
    promos_out = promos.select(
        promotion_id=promo_id,
        tier=pl.col("tier"),
        promotion_type=_pick(PROMOTION_TYPES, pl.col("type")),
        shop_id=pl.when(pl.col("shop") >= 0).then(shop_id),
        starts_at=_seconds_to_utc(pl.col("starts")),
        ends_at=_seconds_to_utc(pl.col("ends")),
        discount_kind=_pick(DISCOUNT_KINDS, pl.col("kind")),
        discount_value=units_to_decimal(_nullable("value")),
        min_spend=units_to_decimal(_nullable("min_spend")),
        min_quantity=_nullable("min_qty"),
        max_discount=units_to_decimal(_nullable("max_discount")),
        condition=_pick(CONDITIONS, pl.col("condition")),
        campaign_id=pl.when(pl.col("campaign") >= 0).then(
            _pick(tuple(c[0] for c in _CAMPAIGNS), pl.col("campaign").clip(0))
        ),
    )
    scope_out = scope.select(promotion_id=promo_id, product_id=product_id)
    opt_out = opt.select(
        shop_id=shop_id,
        promotion_type=_pick(PLATFORM_TYPES, pl.col("type")),
        changed_at=_seconds_to_utc(pl.col("at")),
        participating="participating",
    )
    refunds_out = refunds.select(
        refund_id=_id("R", pl.col("refund") + 1, 8),
        order_id=order_id,
        sku_id=sku_id,
        quantity=pl.col("qty"),
        refunded_at=_seconds_to_utc(pl.col("at")),
        refund_shipping=pl.col("shipping"),
    )
    frames = {
        "orders": orders_out,
        "order_lines": lines_out,
        "promotions": promos_out,
        "promotion_products": scope_out,
        "opt_out_events": opt_out,
        "refunds": refunds_out,
    }
    return {name: _contract(name, frames[name]) for name in GENERATED_TABLES}


def write_inputs(tables: dict[str, pl.DataFrame], out_dir: Path) -> None:
    """`<out_dir>/<table>.parquet` per table, zstd; same frames → same bytes (fixed row groups),
    each file written beside its final name and moved into place."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        final = out_dir / f"{name}.parquet"
        tmp = out_dir / f".{name}.parquet.tmp"
        frame.rechunk().write_parquet(
            tmp, compression="zstd", compression_level=3, statistics=True, row_group_size=256 * 1024
        )
        os.replace(tmp, final)


def generate_to_dir(n_orders: int, seed: int, out_dir: Path, n_shops: int | None = None) -> dict[str, int]:
    """Generate and write; returns the row count of each table written."""
    tables = generate_inputs(n_orders, seed, n_shops)
    write_inputs(tables, Path(out_dir))
    return {name: frame.height for name, frame in tables.items()}


if __name__ == "__main__":  # python -m synthetic.generate N_ORDERS SEED OUT_DIR: prints counts and timings
    n_arg, seed_arg, dir_arg = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    t0 = time.perf_counter()
    generated = generate_inputs(n_arg, seed_arg)
    t1 = time.perf_counter()
    write_inputs(generated, dir_arg)
    t2 = time.perf_counter()
    for table, frame in generated.items():
        print(f"{table:20s} {frame.height:>10,d}")
    print(f"generate {t1 - t0:.2f} s, write {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
