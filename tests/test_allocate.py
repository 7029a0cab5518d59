"""The one allocation (transforms/allocate.py) against docs/stacking.md "Allocation".

Largest remainder in integers: each line gets floor(|D| * w / sum(w)); the cents left over go
one each to the largest remainders, ties to the smaller sku_id (by code point); then the sign
of D. The truth table follows moneyphp's `allocate()` cases; the properties check the
invariants docs/stacking.md promises and compare with an independent integer reference.
"""

from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.allocate import allocate, allocate_many

PROPERTY = settings(max_examples=100, deadline=None)


def split(amount: int, weights: list[int], skus: list[str] | None = None) -> list[int]:
    """Allocate `amount` over one group of rows, returned in input row order."""
    skus = skus or [f"sku{i}" for i in range(len(weights))]
    frame = pl.DataFrame(
        {"order_id": ["O1"] * len(weights), "sku_id": skus, "amount": [amount] * len(weights), "weight": weights},
        schema={"order_id": pl.String, "sku_id": pl.String, "amount": pl.Int64, "weight": pl.Int64},
    )
    return allocate(frame, "amount", "weight", "order_id", out="part")["part"].to_list()


def largest_remainder(amount: int, weights: list[int], skus: list[str]) -> list[int]:
    """docs/stacking.md written out in plain Python integers (the reference the engine must agree with)."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    magnitude = abs(amount)
    parts = [magnitude * w // total for w in weights]
    remainders = [magnitude * w % total for w in weights]
    left_over = magnitude - sum(parts)
    # Largest remainder first; ties to the smaller sku_id (Python compares str by code point).
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], skus[i]))[:left_over]:
        parts[i] += 1
    return [-p if amount < 0 else p for p in parts]


@pytest.mark.parametrize(
    ("amount", "weights", "skus", "expected"),
    [
        # 100/3 = 33 rem 1 each; the one left-over cent goes to the first by sku_id.
        (100, [1, 1, 1], None, [34, 33, 33]),
        # 5*3/10 = 1.5, 5*7/10 = 3.5: floors 1 and 3, remainders equal (5 each): tie → smaller sku.
        (5, [3, 7], None, [2, 3]),
        # Zero weights get nothing, even left-over cents: the whole 5 goes to the only weight.
        (5, [0, 0, 1], None, [0, 0, 5]),
        # The sign of D is applied after allocating |D|.
        (-100, [1, 1, 1], None, [-34, -33, -33]),
        (-5, [3, 7], None, [-2, -3]),
        # sum(w) = 0: nothing is allocated.
        (7, [0, 0], None, [0, 0]),
        (-7, [0], None, [0]),
        # A zero amount allocates zero everywhere.
        (0, [3, 5], None, [0, 0]),
        # Remainders decide before sku_id: 10 by [1, 2]: 3.33 and 6.67 → the 0.67 remainder wins.
        (10, [1, 2], ["a", "b"], [3, 7]),
        (10, [2, 1], ["a", "b"], [7, 3]),
        # Equal remainders: the smaller sku_id gets the cent, whatever the row order.
        (1, [1, 1], ["b", "a"], [0, 1]),
        (2, [1, 1, 1], ["c", "a", "b"], [0, 1, 1]),
        # IDs compare by code point, not numerically or case-blind: "10" < "9", "B" < "a", "z" < "é".
        (1, [1, 1], ["9", "10"], [0, 1]),
        (1, [1, 1], ["a", "B"], [0, 1]),
        (1, [1, 1], ["é", "z"], [0, 1]),
        # One line takes everything.
        (999, [42], None, [999]),
        # |D| > sum(w) is still exact: 10 by [1, 1] → 5 and 5.
        (10, [1, 1], None, [5, 5]),
        # Integer arithmetic beyond Int64 products: $10 billion by weights near $10 billion.
        # 10^12 * (3*10^11) overflows Int64; exact shares are 3*10^11 and 7*10^11.
        (10**12, [3 * 10**11, 7 * 10**11], None, [3 * 10**11, 7 * 10**11]),
    ],
)
def test_allocation_truth_table(amount, weights, skus, expected):
    assert split(amount, weights, skus) == expected


def test_each_group_is_allocated_on_its_own():
    # Two orders interleaved in one frame: 100 by [1,1,1] in O1 and 5 by [3,7] in O2, as above.
    frame = pl.DataFrame(
        {
            "order_id": ["O1", "O2", "O1", "O2", "O1"],
            "sku_id": ["a", "a", "b", "b", "c"],
            "amount": [100, 5, 100, 5, 100],
            "weight": [1, 3, 1, 7, 1],
        }
    )
    parts = allocate(frame, "amount", "weight", "order_id", out="part")["part"].to_list()
    assert parts == [34, 2, 33, 3, 33]


def test_custom_tie_break_column():
    # With `tie_break` naming another column, ties go to its smaller value instead of sku_id.
    frame = pl.DataFrame({"g": ["x", "x"], "sku_id": ["a", "b"], "rank": [2, 1], "amount": [1, 1], "weight": [1, 1]})
    parts = allocate(frame, "amount", "weight", "g", out="part", tie_break="rank")["part"].to_list()
    assert parts == [0, 1]


weights_lists = st.lists(st.integers(0, 100_000), min_size=1, max_size=8)
amounts = st.integers(-10_000_000, 10_000_000)


@PROPERTY
@given(amount=amounts, weights=weights_lists)
def test_parts_sum_to_the_amount_and_sit_within_one_cent_of_the_exact_share(amount, weights):
    parts = split(amount, weights)
    total = sum(weights)
    if total == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == amount
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(amount * weight, total)
        assert abs(part - exact) < 1
        # A part never has the opposite sign of D, and a zero weight gets nothing.
        assert part * amount >= 0
        if weight == 0:
            assert part == 0


@PROPERTY
@given(data=st.data(), weights=weights_lists.filter(lambda w: sum(w) > 0))
def test_no_part_exceeds_its_weight_when_the_amount_fits(data, weights):
    amount = data.draw(st.integers(-sum(weights), sum(weights)))
    for part, weight in zip(split(amount, weights), weights, strict=True):
        assert abs(part) <= weight


@PROPERTY
@given(
    amount=amounts,
    rows=st.lists(
        st.tuples(st.text("abAB9é", min_size=1, max_size=3), st.integers(0, 1_000)),
        min_size=1,
        max_size=8,
        unique_by=lambda row: row[0],
    ),
)
def test_agrees_with_the_integer_reference(amount, rows):
    # Small weights make equal remainders frequent, so the sku_id tie-break is exercised.
    skus = [sku for sku, _ in rows]
    weights = [w for _, w in rows]
    assert split(amount, weights, skus) == largest_remainder(amount, weights, skus)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["o1", "o2", "o3"]), st.integers(0, 5_000), st.integers(-999, 999), st.integers(-50, 50)
        ),
        min_size=1,
        max_size=25,
    )
)
def test_several_amounts_at_once_equal_one_at_a_time(rows):
    # Amounts per group (the first row's), over the same weights; SKU ties broken the same way.
    frame = pl.DataFrame(rows, schema=["order_id", "weight", "a", "b"], orient="row").with_columns(
        pl.format("sku-{}", pl.int_range(pl.len()) % 3).alias("sku_id"),
        pl.col("a").first().over("order_id"),
        pl.col("b").first().over("order_id"),
    )
    together = allocate_many(frame, {"pa": "a", "pb": "b"}, "weight", "order_id")
    apart = allocate(allocate(frame, "a", "weight", "order_id", out="pa"), "b", "weight", "order_id", out="pb")
    assert together.columns == apart.columns
    assert together.equals(apart)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["o1", "o2", "o3", "o4"]), st.text("abAB9é", min_size=1, max_size=2), st.integers(0, 5_000)
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda row: row[:2],
    ),
    amounts=st.dictionaries(
        st.sampled_from(["o1", "o2", "o3", "o4"]), st.one_of(st.just(0), st.integers(-(10**13), 10**13)), max_size=4
    ),
    weight_scale=st.sampled_from([1, 10**9]),
    sort_rows=st.booleans(),
)
def test_many_groups_agree_with_the_integer_reference(rows, amounts, weight_scale, sort_rows):
    """Groups with and without an amount side by side, rows in (order, SKU) order or not (the two
    ways of breaking ties), and products past Int64: each group as the reference gives it."""
    frame = pl.DataFrame(
        [(order, sku, amounts.get(order, 0), weight * weight_scale) for order, sku, weight in rows],
        schema={"order_id": pl.String, "sku_id": pl.String, "amount": pl.Int64, "weight": pl.Int64},
        orient="row",
    )
    if sort_rows:
        frame = frame.sort("order_id", "sku_id")
    got = allocate_many(frame, {"part": "amount"}, "weight", "order_id")
    assert got.drop("part").equals(frame)
    for (order,), group in got.group_by("order_id"):
        expected = largest_remainder(amounts.get(order, 0), group["weight"].to_list(), group["sku_id"].to_list())
        assert group["part"].to_list() == expected, order


def test_a_missing_amount_has_missing_parts():
    """A group without an amount is not silently allocated zero, beside groups with one or with zero."""
    frame = pl.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3"],
            "sku_id": ["a", "b", "a", "a"],
            "amount": [5, 5, None, 0],
            "weight": [1, 1, 2, 3],
        },
        schema={"order_id": pl.String, "sku_id": pl.String, "amount": pl.Int64, "weight": pl.Int64},
    )
    assert allocate(frame, "amount", "weight", "order_id", out="part")["part"].to_list() == [3, 2, None, 0]
    assert allocate(frame.filter(pl.col("order_id") != "o1"), "amount", "weight", "order_id", out="part")[
        "part"
    ].to_list() == [None, 0]
