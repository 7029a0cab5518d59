"""Partitions of whole shops: the unit of progress, of memory, and of scale-out.

Nothing in the computation crosses shops (promotions for all shops are copied to every
partition), so a partition's outputs are exactly the rows a single run would give its shops.
"""

import polars as pl

from schemas.checks import run_values

# Staged tables split by partition (through the order), and those copied or filtered whole.
BY_ORDER = ("orders", "order_lines", "refunds")


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
    grouped = sizes.with_columns(
        ((pl.col("len").cum_sum() - pl.col("len")) // max(target_orders, 1)).rank("dense").alias("_partition")
    ).group_by("_partition", maintain_order=True).agg("shop_id")
    return grouped["shop_id"].to_list() or [[]]  # no shop at all: one empty partition, so every output exists


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


def split(tables: dict[str, pl.DataFrame], groups: list[list[str]]) -> list[dict[str, pl.DataFrame]]:
    """The staged tables of each partition (shops outside every group are left out)."""
    index = pl.DataFrame(
        {"shop_id": [s for g in groups for s in g], "_partition": [i for i, g in enumerate(groups) for _ in g]},
        schema={"shop_id": pl.String, "_partition": pl.Int32},
    )
    orders = tables["orders"].join(index, on="shop_id", how="left", maintain_order="left")  # null: no partition
    owner = orders.select("order_id", "_partition")
    by_order = {
        "orders": orders,
        "order_lines": _with_owner(tables["order_lines"], owner),
        "refunds": tables["refunds"].join(owner, on="order_id", maintain_order="left"),
    }
    parts = {name: frame.partition_by("_partition", as_dict=True, include_key=False) for name, frame in by_order.items()}
    result = []
    for i, shops in enumerate(groups):
        own = {name: parts[name].get((i,), tables[name].clear()) for name in BY_ORDER}
        # A coupon claim is checked against the claimed promotion wherever it belongs: another
        # shop's coupon is `wrong_type` or `wrong_shop` in one run, so it must not be `unknown` here.
        claimed = pl.concat([own["orders"]["seller_coupon_id"], own["orders"]["platform_coupon_id"]]).drop_nulls()
        promotions = tables["promotions"].filter(
            pl.col("shop_id").is_null() | pl.col("shop_id").is_in(shops) | pl.col("promotion_id").is_in(claimed.implode())
        )
        own["promotions"] = promotions
        own["promotion_products"] = tables["promotion_products"].join(promotions.select("promotion_id").unique(), on="promotion_id", how="semi")
        own["opt_out_events"] = tables["opt_out_events"].filter(pl.col("shop_id").is_in(shops))
        own["fee_schedule"] = tables["fee_schedule"]
        result.append(own)
    return result
