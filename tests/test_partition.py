"""Partitions of whole shops: deterministic, complete, and the same rows as one run over everything."""

import itertools
from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.checks import run_values
from synthetic.generate import generate_inputs
from transforms import partition
from transforms.pipeline import compute, compute_staged, cut_at_as_of, known_orders
from transforms.staging import stage


def _sizes(counts: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"shop_id": list(counts), "len": list(counts.values())}, schema={"shop_id": pl.String, "len": pl.UInt32}
    )


@given(
    st.dictionaries(st.text("ABCDEFGH", min_size=1, max_size=3), st.integers(0, 1000), min_size=1, max_size=30),
    st.integers(1, 2000),
)
@settings(max_examples=200, deadline=None)
def test_every_shop_lands_in_exactly_one_partition_in_id_order(counts, target):
    groups = partition.plan(_sizes(counts), target)
    flat = [shop for group in groups for shop in group]
    assert flat == sorted(counts)
    assert all(groups)
    # A partition only grows past the target by its last shop.
    for group in groups:
        assert sum(counts[s] for s in group[:-1]) < target or len(group) == 1


def test_shops_limit_the_plan_and_an_unknown_shop_is_an_error():
    sizes = _sizes({"S1": 10, "S2": 20, "S3": 30})
    assert partition.plan(sizes, 100, ["S3", "S1"]) == [["S1", "S3"]]
    with pytest.raises(ValueError, match=r"no accepted orders for shop.s. S9"):
        partition.plan(sizes, 100, ["S1", "S9"])


def test_no_shop_at_all_is_one_empty_partition():
    assert partition.plan(_sizes({}), 100) == [[]]


def test_partitions_hold_each_order_once_and_platform_promotions_everywhere():
    tables = stage(generate_inputs(800, 3, n_shops=4)).tables
    groups = partition.plan(tables["orders"].group_by("shop_id").len(), 250)
    parts = list(partition.split(tables, groups))
    assert len(parts) == len(groups) > 1
    for name in partition.ORDER_TABLES:
        assert sum(p[name].height for p in parts) == tables[name].height
    everywhere = tables["promotions"].filter(pl.col("shop_id").is_null())
    assert everywhere.height > 0
    for part, shops in zip(parts, groups, strict=True):
        assert set(part["orders"]["shop_id"]) == set(shops)
        assert everywhere.join(part["promotions"], on=["promotion_id", "tier"], how="anti").height == 0


def test_settling_partition_by_partition_gives_the_rows_of_one_run():
    """The statements of each partition, put together, are exactly the statements of all shops at once."""
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    raw = generate_inputs(800, 5, n_shops=4)
    whole = compute(raw, as_of).published()
    staged = cut_at_as_of(stage(raw), as_of)
    groups = partition.plan(staged.tables["orders"].group_by("shop_id").len(), 250)
    pieces = []
    for tables in partition.split(staged.tables, groups):
        part = type(staged)(
            tables=tables, rejected_rows=staged.rejected_rows, invalid_promotion_ids=staged.invalid_promotion_ids
        )
        pieces.append(compute_staged(part, known_orders(staged), as_of).published())
    for name in ("discount_lines", "order_details", "statements", "unsettled_orders", "coupon_checks"):
        joined = pl.concat([p[name] for p in pieces])
        assert joined.sort(joined.columns).equals(whole[name].sort(whole[name].columns)), name


def test_a_claim_of_another_shops_coupon_is_checked_as_in_one_run():
    """An order claiming a coupon of a shop in another partition is rejected for the same reason
    (wrong type, wrong shop) as in one run over every shop, never as an unknown coupon."""
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    raw = generate_inputs(800, 5, n_shops=4)
    promotions = raw["promotions"]
    elsewhere = promotions.filter((pl.col("promotion_type") == "seller_coupon") & (pl.col("shop_id") == "SHOP02"))[
        "promotion_id"
    ]
    first = raw["orders"].filter(pl.col("shop_id") == "SHOP01")["order_id"].head(2)
    raw["orders"] = raw["orders"].with_columns(
        pl.when(pl.col("order_id") == first[0])
        .then(pl.lit(elsewhere[0]))
        .otherwise(pl.col("seller_coupon_id"))
        .alias("seller_coupon_id"),
        pl.when(pl.col("order_id") == first[1])
        .then(pl.lit(elsewhere[1]))
        .otherwise(pl.col("platform_coupon_id"))
        .alias("platform_coupon_id"),
    )
    whole = compute(raw, as_of).published()["coupon_checks"]
    assert set(whole.filter(pl.col("order_id").is_in(first.implode()))["reason"]) == {"wrong_shop", "wrong_type"}
    staged = cut_at_as_of(stage(raw), as_of)
    groups = partition.plan(staged.tables["orders"].group_by("shop_id").len(), 1)  # one shop per partition
    assert len(groups) == 4
    pieces = [
        compute_staged(
            type(staged)(
                tables=tables, rejected_rows=staged.rejected_rows, invalid_promotion_ids=staged.invalid_promotion_ids
            ),
            known_orders(staged),
            as_of,
        ).published()["coupon_checks"]
        for tables in partition.split(staged.tables, groups)
    ]
    joined = pl.concat(pieces)
    assert joined.sort(joined.columns).equals(whole.sort(whole.columns))


def test_lines_find_their_partition_by_runs_or_by_a_join_alike():
    """Sorted lines of exactly the staged orders take their order's partition from the runs (no
    join); anything else is joined. Both give the rows and order of the join."""
    tables = stage(generate_inputs(600, 7, n_shops=3)).tables
    owner = (
        tables["orders"]
        .with_columns((pl.int_range(pl.len()) % 3).cast(pl.Int32).alias("_partition"))
        .select("order_id", "_partition")
    )
    lines = tables["order_lines"]
    assert run_values(lines, "order_id") is not None  # the generator writes sorted lines: the shortcut is taken

    def joined(frame, own):
        return frame.join(own, on="order_id", how="left", maintain_order="left")

    assert partition._with_owner(lines, owner).equals(joined(lines, owner))
    shuffled = lines.sample(fraction=1.0, shuffle=True, seed=3)
    assert partition._with_owner(shuffled, owner).equals(joined(shuffled, owner))
    fewer = owner.slice(1)  # the first order's lines have no owner: null, as the join gives
    assert partition._with_owner(lines, fewer).equals(joined(lines, fewer))
    renamed = owner.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("O-none")).otherwise("order_id").alias("order_id")
    )
    assert partition._with_owner(lines, renamed).equals(joined(lines, renamed))  # as many orders, not the same ones
    reordered = owner.reverse()  # the same orders in another order
    assert partition._with_owner(lines, reordered).equals(joined(lines, reordered))


@given(
    st.dictionaries(st.text("ABCDEFGH", min_size=1, max_size=3), st.integers(0, 1000), min_size=1, max_size=30),
    st.integers(1, 2000),
)
@settings(max_examples=200, deadline=None)
def test_a_shop_over_the_target_is_cut_into_slices_of_at_most_the_target(counts, target):
    parts = partition.plan_parts(_sizes(counts), target)
    if all(n <= target for n in counts.values()):  # nothing to cut: the partitions of whole shops
        assert [p.shops for p in parts] == partition.plan(_sizes(counts), target) and not any(p.sliced for p in parts)
    shops = [s for p in parts if not p.sliced or p.slice == 0 for s in p.shops]  # each sliced shop once
    assert shops == sorted(counts)
    assert all(
        counts[s] <= target for p in parts if not p.sliced for s in p.shops
    )  # a shop over the target is always cut
    for p in parts:
        if p.sliced:
            assert p.shops[0] in counts and counts[p.shops[0]] > target and -(-counts[p.shops[0]] // target) == p.slices
    order = [s for p in parts for s in p.shops]  # shop-ID order throughout, a sliced shop's slices together
    assert order == sorted(order)


def test_slices_hold_consecutive_order_ids_each_once():
    tables = stage(generate_inputs(800, 3, n_shops=2)).tables
    sizes = tables["orders"].group_by("shop_id").len()
    parts = partition.plan_parts(sizes, 150)
    assert any(p.sliced for p in parts)
    pieces = list(partition.split(tables, parts))
    for name in partition.ORDER_TABLES:
        assert sum(p[name].height for p in pieces) == tables[name].height
    by_shop: dict[str, list[pl.Series]] = {}
    for part, piece in zip(parts, pieces, strict=True):
        ids = piece["orders"]["order_id"].sort()
        assert set(piece["orders"]["shop_id"]) <= set(part.shops)
        if part.sliced:
            assert 0 < ids.len() <= 150
            by_shop.setdefault(part.shops[0], []).append(ids)
    for shop, slices in by_shop.items():
        assert all(a.max() < b.min() for a, b in itertools.pairwise(slices))  # ranges of order IDs, in slice order
        assert pl.concat(slices).equals(tables["orders"].filter(pl.col("shop_id") == shop)["order_id"].sort())
