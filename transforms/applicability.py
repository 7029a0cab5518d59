"""Which promotion applies to which order line (docs/stacking.md, first paragraph).

A promotion applies to a line when it is active at the order's `created_at`, belongs to the
order's shop (or to all shops), covers the line's product, its condition holds, and — for a
platform type — the shop participates in that type at `created_at` (an as-of join over the
settings history, in Polars; a campaign never overrides it). The range join runs in an
in-memory DuckDB (a compute engine here, not storage: frames in, frames out).
"""

import duckdb
import polars as pl

from schemas.inputs import PLATFORM_TYPES

_HEADER_COLUMNS = (
    "promotion_id",
    "promotion_type",
    "shop_id",
    "starts_at",
    "ends_at",
    "discount_kind",
    "max_discount_cents",
    "condition",
    "campaign_id",
    "funded_by",
)


def promotion_headers(promotions: pl.DataFrame) -> pl.DataFrame:
    """One row per promotion with the attributes its tier rows share (staging checked they agree)."""
    return (
        promotions.sort("promotion_id", "tier")
        .group_by("promotion_id", maintain_order=True)
        .first()
        .select(_HEADER_COLUMNS)
    )


def opted_out(orders: pl.DataFrame, opt_out_events: pl.DataFrame) -> pl.DataFrame:
    """The (order_id, promotion_type) pairs of platform types the shop did not participate in at `created_at`.

    The state is the last event with `changed_at <= created_at` (ties: the later row in the
    file); before any event the shop participates, so only shops with events are looked up
    (an as-of join per shop and type, in Polars: the events are few, the orders many).
    """
    events = (
        opt_out_events.filter(pl.col("promotion_type").is_in(list(PLATFORM_TYPES)))
        .sort("event_seq")
        .group_by("shop_id", "promotion_type", "changed_at", maintain_order=True)
        .last()
        .select("shop_id", "promotion_type", "changed_at", "participating")
        .sort("changed_at")
    )
    order_types = (
        orders.select("order_id", "shop_id", "created_at")
        .join(events.select("shop_id", "promotion_type").unique(), on="shop_id")
        .sort("created_at")
    )
    return (
        # Both sides are sorted by time above (Polars cannot check it when `by` is given).
        order_types.join_asof(
            events,
            left_on="created_at",
            right_on="changed_at",
            by=["shop_id", "promotion_type"],
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("participating").not_())
        .select("order_id", "promotion_type")
        .sort("order_id", "promotion_type")
    )


def applicable(
    orders: pl.DataFrame,
    lines: pl.DataFrame,
    headers: pl.DataFrame,
    scope: pl.DataFrame,
    opted: pl.DataFrame,
    types: tuple[str, ...],
) -> pl.DataFrame:
    """Every (order line, promotion) pair where a promotion of `types` applies.

    One row per (order_id, sku_id, promotion_id) with `promotion_type`, and the line's `_line`
    (`lines` are numbered by the caller). Promotions with scope
    rows are joined through their products (an equi-join), the others through shop and UTC day.
    """
    with _connect() as con:
        return _applicable(con, orders, lines, headers, scope, opted, types)


def _applicable(con, orders, lines, headers, scope, opted, types) -> pl.DataFrame:
    con.register(
        "orders",
        orders.select(
            "order_id", "shop_id", "created_at", "channel", "buyer_is_new", "seller_coupon_id", "platform_coupon_id"
        ),
    )
    con.register("lines", lines.select("order_id", "sku_id", "_line", "product_id"))
    con.register("promos", headers.filter(pl.col("promotion_type").is_in(list(types))))
    con.register("scope", scope.select("promotion_id", "product_id"))
    con.register("opted_out", opted)
    # Coupons apply only where claimed: pairing every line with every coupon would be waste.
    return con.sql(
        """
        WITH scoped AS (SELECT DISTINCT promotion_id FROM scope),
        line_orders AS (
            SELECT l.order_id, l.sku_id, l._line, l.product_id, o.shop_id, o.created_at, o.created_at::DATE AS day, o.channel,
                   o.buyer_is_new, o.seller_coupon_id, o.platform_coupon_id
            FROM lines l JOIN orders o USING (order_id)
        ),
        -- Each unscoped promotion on the UTC days its shops have orders while it is active: an
        -- equi-join on (shop, day) then finds its candidate lines (a range join alone is slower).
        -- The days come from the orders, never from the promotion's declared window, so a
        -- promotion dated from year 1 to 9999 costs what its orders cost.
        order_days AS (SELECT DISTINCT shop_id, day FROM line_orders),
        unscoped AS (
            SELECT p.*, p.starts_at::DATE AS first_day, (p.ends_at - INTERVAL 1 MICROSECOND)::DATE AS last_day
            FROM promos p ANTI JOIN scoped ON scoped.promotion_id = p.promotion_id
        ),
        promo_days AS (
            SELECT p.promotion_id, p.promotion_type, p.condition, p.starts_at, p.ends_at, d.shop_id, d.day
            FROM unscoped p JOIN order_days d ON p.shop_id = d.shop_id AND d.day BETWEEN p.first_day AND p.last_day
            UNION ALL
            SELECT p.promotion_id, p.promotion_type, p.condition, p.starts_at, p.ends_at, d.shop_id, d.day
            FROM unscoped p JOIN order_days d ON d.day BETWEEN p.first_day AND p.last_day
            WHERE p.shop_id IS NULL
        ),
        pairs AS (
            SELECT lo.*, p.promotion_id, p.promotion_type, p.condition
            FROM line_orders lo
            JOIN scope s ON s.product_id = lo.product_id
            JOIN promos p ON p.promotion_id = s.promotion_id
            WHERE p.starts_at <= lo.created_at AND lo.created_at < p.ends_at
              AND (p.shop_id IS NULL OR p.shop_id = lo.shop_id)
            UNION ALL
            SELECT lo.*, pd.promotion_id, pd.promotion_type, pd.condition
            FROM line_orders lo
            JOIN promo_days pd ON pd.shop_id = lo.shop_id AND pd.day = lo.day
            WHERE pd.starts_at <= lo.created_at AND lo.created_at < pd.ends_at
        )
        SELECT pairs.order_id, sku_id, _line, promotion_id, pairs.promotion_type
        FROM pairs
        ANTI JOIN opted_out x ON x.order_id = pairs.order_id AND x.promotion_type = pairs.promotion_type
        WHERE (condition = 'none'
               OR (condition = 'live_only' AND channel = 'live')
               OR (condition = 'new_buyer' AND buyer_is_new))
          AND (pairs.promotion_type NOT IN ('seller_coupon', 'product_coupon')
               OR promotion_id = seller_coupon_id OR promotion_id = platform_coupon_id)
        """
    ).pl()


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con
