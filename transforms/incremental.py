"""Which orders a nightly run must price again (README, "Nightly runs price what changed").
Pure: staged frames and the last run's state in, the orders to price out.

An order's published rows depend on its own rows (the order, its lines, its refunds: after the
as-of cut), on what every order shares (promotions, their products, opt-out events, the fee
schedule, the hold), on the rules (the code), and on the instant: an order delivered after
`as_of` is not delivered yet, and one whose settlement time is after `as_of` is in its hold. So
a run with the state of the last one (written by the last run of the shop, as of `last_as_of`)
prices:

- `new`: an order the state does not know; `changed`: one whose content hash differs;
- `rules`: every order of a shop whose shared hash (shared inputs, hold, code version) differs
  from the state's, or that has no state (`no_state`), or whose last run was as of a later
  instant than this one (`earlier_as_of`): everything is priced as in a full run;
- `window`: an order settled, or refunded, on or after the window's first date (its rows are in
  the statements the run publishes);
- `crossed`: an order delivered, or due to settle, after `last_as_of` and by `as_of`: its status
  moved with the instant (awaiting delivery → in hold → settled) though its rows did not;
- `reported`: an order TikTok reported on a statement in the window (its reconciliation needs
  all its computed rows).

Every other order's rows in the database are those a full run would write again, byte for byte
(an order still awaiting delivery or in its hold has the same rows at any instant before its
delivery or settlement); the database replaces the rows of the orders priced (and of orders
gone from the input), `unsettled_orders` included.
Hashes are Polars' (`hash_rows` and struct hashes, seeded): stable for one Polars version,
which is part of the code version.
"""

import hashlib
from datetime import date, datetime, timedelta

import polars as pl

from schemas.checks import run_values

REASONS = ("no_state", "rules", "earlier_as_of", "new", "changed", "window", "crossed", "reported")
SEED = 20261207
_SHARED = ("promotions", "promotion_products", "opt_out_events", "fee_schedule")


def _row_hashes(frame: pl.DataFrame) -> pl.Series:
    columns = [c for c in frame.columns if c != "row_number"]  # a row's place in its file is not its content
    return frame.select(columns).hash_rows(seed=SEED)


def order_hashes(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """(order_id, shop_id, content_hash): each staged order's own rows, its lines and refunds, hashed
    whatever their order in the files.

    The order's hash is a multiset hash of its rows' hashes: the sums of their low and high 32
    bits (exact, no order has 2^32 rows) and their count, hashed together. Any order of the rows
    gives the same sums, and a row changed, added or removed changes them; no sort per order."""
    orders = tables["orders"]
    h = _row_hashes(orders)
    sums = orders.select(
        "order_id", "shop_id", (h % 2**32).alias("_low"), (h // 2**32).alias("_high"), pl.lit(1, pl.UInt32).alias("len")
    )
    for name in ("order_lines", "refunds"):
        theirs = _hash_sums(tables[name])
        runs = theirs.get_column("order_id")
        if runs.len() == sums.height and runs.equals(sums.get_column("order_id")):  # rows of every order, in order
            theirs = theirs.drop("order_id")
        else:  # every order's own rows are staged with it: a row's order is always among the orders
            theirs = (
                sums.select("order_id").join(theirs, on="order_id", how="left", maintain_order="left").drop("order_id")
            )
        sums = sums.with_columns(pl.col(c) + theirs.get_column(c).fill_null(0) for c in ("_low", "_high", "len"))
    return sums.select("order_id", "shop_id", pl.struct("_low", "_high", "len").hash(seed=SEED).alias("content_hash"))


def _hash_sums(frame: pl.DataFrame) -> pl.DataFrame:
    """(order_id, _low, _high, len) of `frame`'s rows per order. Rows sorted by order (as staged
    exports usually are) are summed run by run, in order, without hashing the IDs."""
    frame = frame.select("order_id", _row_hashes(frame).alias("_h"))
    sums = [(pl.col("_h") % 2**32).sum().alias("_low"), (pl.col("_h") // 2**32).sum().alias("_high"), pl.len()]
    if run_values(frame, "order_id") is not None:
        run = pl.col("order_id").rle_id().alias("_run")
        return frame.group_by(run, maintain_order=True).agg(pl.col("order_id").first(), *sums).drop("_run")
    return frame.group_by("order_id").agg(*sums)


def shared_hash(tables: dict[str, pl.DataFrame], hold_days: int, code_version: str) -> str:
    """One hash of what every order's pricing shares: the promotions, their products and opt-out
    events (in file order: ties between events go to the later row), the fee schedule, the hold
    and the code version."""
    digest = hashlib.sha256(f"{code_version}|{hold_days}".encode())
    for name in _SHARED:
        frame = tables[name]
        hashes = frame.select(pl.struct(frame.columns).hash(seed=SEED)).to_series() if frame.width else pl.Series([])
        digest.update(name.encode() + b"\0" + hashes.to_numpy().tobytes())
    return digest.hexdigest()


def to_price(
    tables: dict[str, pl.DataFrame],
    hashes: pl.DataFrame,
    state_orders: pl.DataFrame,
    state_shops: pl.DataFrame,
    shared: str,
    window_from: date,
    hold_days: int,
    reported: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """(order_id, reason): every order to price, with the first reason (in `REASONS` order) that
    holds. `state_orders` (order_id, content_hash) and `state_shops` (shop_id, shared_hash,
    last_as_of) are the last runs'; `reported` (order_id) the orders reported on the window's statements."""
    orders = tables["orders"]
    settles_at = pl.col("delivered_at") + timedelta(days=hold_days)
    settled_from = (settles_at.dt.date() >= pl.lit(window_from)) & (settles_at <= as_of)
    events = pl.concat(
        [
            orders.filter(settled_from).select("order_id"),
            tables["refunds"].filter(pl.col("refunded_at").dt.date() >= pl.lit(window_from)).select("order_id"),
        ]
    )

    def among(ids: pl.DataFrame) -> pl.Expr:
        return pl.col("order_id").is_in(ids.get_column("order_id").implode())

    def since(instant: pl.Expr) -> pl.Expr:
        return (instant > pl.col("_last_as_of")) & (instant <= as_of)

    known = state_shops.select(
        "shop_id", pl.col("shared_hash").alias("_state_shared"), pl.col("last_as_of").alias("_last_as_of")
    )
    frame = (
        hashes.join(known, on="shop_id", how="left")
        .join(state_orders.select("order_id", pl.col("content_hash").alias("_state_hash")), on="order_id", how="left")
        .join(orders.select("order_id", "delivered_at"), on="order_id", how="left")
    )
    reason = (
        pl.when(pl.col("_state_shared").is_null() | pl.col("_last_as_of").is_null())
        .then(pl.lit("no_state"))
        .when(pl.col("_state_shared") != shared)
        .then(pl.lit("rules"))
        .when(pl.col("_last_as_of") > as_of)
        .then(pl.lit("earlier_as_of"))
        .when(pl.col("_state_hash").is_null())
        .then(pl.lit("new"))
        .when(pl.col("_state_hash") != pl.col("content_hash"))
        .then(pl.lit("changed"))
        .when(among(events))
        .then(pl.lit("window"))
        .when(since(pl.col("delivered_at")) | since(settles_at))
        .then(pl.lit("crossed"))
        .when(among(reported))
        .then(pl.lit("reported"))
    )
    return frame.select("order_id", reason.alias("reason")).filter(pl.col("reason").is_not_null())


def keep_orders(tables: dict[str, pl.DataFrame], order_ids: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The staged tables with only `order_ids`' orders, lines and refunds (the shared tables whole)."""
    kept = dict(tables)
    for name in ("orders", "order_lines", "refunds"):
        kept[name] = tables[name].join(order_ids.select("order_id"), on="order_id", how="semi")
    return kept
