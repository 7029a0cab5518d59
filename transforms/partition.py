"""Partitions: the unit of progress, of memory, and of scale-out.

Nothing in the computation crosses shops (promotions for all shops are copied to every
partition), so a partition of whole shops gives exactly the rows a single run would give its
shops. A shop with more orders than a partition holds is cut into slices of consecutive order
IDs, each a partition of its own. Pricing, refunds, the Order details rows, unsettled orders
and the probable causes' evidence are each a function of one order (and of its shop's
promotions, opt-out history and fee schedule, which every slice gets whole), so a slice gives
exactly its orders' rows. What sums over orders, a statement's totals and its reconciliation,
is done once per sliced shop from all its slices (`flows.steps.finish_sliced_shop`).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from schemas.checks import run_values

# Staged input tables whose rows each belong to one order: a partition takes the rows of its orders.
# The others (promotions and the like) are shared, copied or filtered whole.
ORDER_TABLES = ("orders", "order_lines", "refunds")


def plan(shop_orders: pl.DataFrame, target_orders: int, shops: list[str] | None = None) -> list[list[str]]:
    """Group shops (`shop_id`, `len` = its orders), sorted by ID, into partitions of about `target_orders` orders.

    Deterministic: the same orders and target give the same partitions, so a re-run (or a run
    on another task runner) writes the same files. A shop is never split. `shops` limits the
    run to those shops; one with no accepted order is an error, not an empty success.
    """
    sizes = shop_orders.sort("shop_id")
    if shops is not None:
        unknown = sorted(set(shops) - set(sizes["shop_id"]))
        if unknown:
            raise ValueError(f"no accepted orders for shop(s) {', '.join(unknown)}")
        sizes = sizes.filter(pl.col("shop_id").is_in(shops))
    # A shop joins the partition its first order falls in, counting orders shop after shop.
    grouped = (
        sizes.with_columns(
            ((pl.col("len").cum_sum() - pl.col("len")) // max(target_orders, 1)).rank("dense").alias("_partition")
        )
        .group_by("_partition", maintain_order=True)
        .agg("shop_id")
    )
    return grouped["shop_id"].to_list() or [[]]  # no shop at all: one empty partition, so every output exists


@dataclass(frozen=True)
class Part:
    """One partition: whole shops, or slice `slice` (of `slices`) of one shop's orders by order ID."""

    shops: list[str]
    slice: int = 0
    slices: int = 1

    @property
    def sliced(self) -> bool:
        return self.slices > 1


def plan_parts(shop_orders: pl.DataFrame, target_orders: int, shops: list[str] | None = None) -> list[Part]:
    """`plan`, with each shop of more than `target_orders` orders cut into slices of at most that
    many, each a partition (in shop-ID order, so by-date outputs keep their row order). With no
    shop above the target, the partitions are `plan`'s."""
    groups = plan(shop_orders, target_orders, shops)
    counts = dict(zip(shop_orders["shop_id"].to_list(), shop_orders["len"].to_list(), strict=True))
    target = max(target_orders, 1)
    parts: list[Part] = []
    for group in groups:
        big = [shop for shop in group if counts.get(shop, 0) > target]  # only ever the group's last shop
        small = [shop for shop in group if shop not in big]
        if small or not big:
            parts.append(Part(small))
        for shop in big:
            slices = -(-counts[shop] // target)
            parts += [Part([shop], k, slices) for k in range(slices)]
    return parts


def _with_owner(lines: pl.DataFrame, owner: pl.DataFrame) -> pl.DataFrame:
    """`lines` with the `_partition` of their order (`owner`: one row per order).

    When the lines come sorted by order and their orders are `owner`'s, in the same order (as
    staged exports usually are: every accepted order has lines), the k-th run of lines belongs
    to the k-th order, and no join is needed.
    """
    runs = run_values(lines, "order_id")
    if runs is not None and runs.equals(owner["order_id"]):
        return lines.with_columns(owner["_partition"].gather(lines.select(pl.col("order_id").rle_id()).to_series()))
    return lines.join(owner, on="order_id", how="left", maintain_order="left")


def split(tables: dict[str, pl.DataFrame], groups: list[list[str]] | list[Part]) -> Iterator[dict[str, pl.DataFrame]]:
    """The staged tables of each partition, one partition at a time, so that only one partition's
    copy of the rows is held (shops outside every group are left out); a slice of a shop holds
    the orders whose rank by order ID within the shop falls in its share."""
    parts = [g if isinstance(g, Part) else Part(g) for g in groups]
    index = pl.DataFrame(
        {
            "shop_id": [s for p in parts for s in p.shops],
            "_slice": [p.slice for p in parts for _ in p.shops],
            "_slices": [p.slices for p in parts for _ in p.shops],
            "_partition": [i for i, p in enumerate(parts) for _ in p.shops],
        },
        schema={"shop_id": pl.String, "_slice": pl.Int64, "_slices": pl.Int64, "_partition": pl.Int32},
    )
    orders = tables["orders"]
    sliced = index.filter(pl.col("_slices") > 1).select("shop_id", "_slices").unique()
    if sliced.height:  # a sliced shop's orders, by rank of order ID, in equal shares
        rank = (pl.col("order_id").rank("ordinal").over("shop_id") - 1).cast(pl.Int64)
        slice_of = orders.join(sliced, on="shop_id", how="left", maintain_order="left").select(
            pl.when(pl.col("_slices").is_not_null())
            .then(rank * pl.col("_slices") // pl.len().over("shop_id"))
            .otherwise(0)
            .alias("_slice")
        )
        orders = orders.with_columns(slice_of["_slice"])
    else:
        orders = orders.with_columns(pl.lit(0, pl.Int64).alias("_slice"))
    orders = orders.join(index.drop("_slices"), on=["shop_id", "_slice"], how="left", maintain_order="left").drop(
        "_slice"
    )  # null: no partition
    owner = orders.select("order_id", "_partition")
    by_order = {
        "orders": orders,
        "order_lines": _with_owner(tables["order_lines"], owner),
        "refunds": tables["refunds"].join(owner, on="order_id", maintain_order="left"),
    }
    for i, shops in enumerate(p.shops for p in parts):
        own = {name: by_order[name].filter(pl.col("_partition") == i).drop("_partition") for name in ORDER_TABLES}
        # A coupon claim is checked against the claimed promotion wherever it belongs: another
        # shop's coupon is `wrong_type` or `wrong_shop` in one run, so it must not be `unknown` here.
        claimed = pl.concat([own["orders"]["seller_coupon_id"], own["orders"]["platform_coupon_id"]]).drop_nulls()
        promotions = tables["promotions"].filter(
            pl.col("shop_id").is_null()
            | pl.col("shop_id").is_in(shops)
            | pl.col("promotion_id").is_in(claimed.implode())
        )
        own["promotions"] = promotions
        own["promotion_products"] = tables["promotion_products"].join(
            promotions.select("promotion_id").unique(), on="promotion_id", how="semi"
        )
        own["opt_out_events"] = tables["opt_out_events"].filter(pl.col("shop_id").is_in(shops))
        own["fee_schedule"] = tables["fee_schedule"]
        yield own
