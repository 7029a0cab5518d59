"""The stacking engine (transforms/stacking.py, transforms/applicability.py) against docs/stacking.md.

One truth table per rule. Each table is one run in which every case is its own order in its own
shop (`shop_id` = the case name), so the promotions of one case never reach another; the
expected numbers are worked out by hand from docs/stacking.md in the comments. List prices are $10.00
(1000 cents) and quantities 1 unless a case says otherwise. At the end, hypothesis prices
batches of random orders and promotions: against a plain-Python reading of §3 (`spec_reference`),
against the identities, under opt-outs and under shuffled input rows.
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.inputs import (
    ALLOWED_KINDS,
    BMSM_TYPES,
    COUPON_TYPES,
    PLATFORM_TYPES,
    PROMOTION_TYPES,
    SELLER_TYPES,
    SHIPPING_TYPES,
)
from tests.conftest import run
from tests.test_allocate import largest_remainder
from transforms.pipeline import Results

STEPS = ("1", "2", "3a", "3b", "4a", "4b", "5")
STEP_OF_TYPE = {
    "flash_deal": "1",
    "product_discount": "1",
    "product_incentive": "2",
    "seller_bmsm": "3a",
    "platform_bmsm": "3b",
    "seller_coupon": "4a",
    "product_coupon": "4b",
    "seller_shipping_discount": "5",
    "platform_shipping_discount": "5",
}


# ---------------------------------------------------------------- helpers


def discount_rows(result: Results, *steps: str) -> dict[str, list[tuple]]:
    """Per order (every accepted order, even without discounts): its discount_lines as
    (sku_id, promotion_id, step, amount_cents), optionally only of `steps`."""
    frame = result.priced.discount_lines
    if steps:
        frame = frame.filter(pl.col("step").is_in(list(steps)))
    rows: dict[str, list[tuple]] = {order_id: [] for order_id in result.staged.tables["orders"]["order_id"]}
    for row in frame.sort("order_id", "step", "sku_id", "promotion_id", nulls_last=True).iter_rows(named=True):
        rows[row["order_id"]].append((row["sku_id"], row["promotion_id"], row["step"], row["amount_cents"]))
    return rows


def line_discounts(result: Results) -> dict[tuple[str, str], int]:
    """Per (order, sku): all its discounts (seller + platform, steps 1–4)."""
    lines = result.priced.line_amounts
    return {
        (row["order_id"], row["sku_id"]): row["seller_discount_cents"] + row["platform_discount_cents"]
        for row in lines.iter_rows(named=True)
    }


def coupon_checks(result: Results) -> dict[str, list[tuple]]:
    """Per order: its coupon_checks rows as (coupon_type, coupon_id, status, reason, discount_cents)."""
    rows: dict[str, list[tuple]] = {order_id: [] for order_id in result.staged.tables["orders"]["order_id"]}
    for row in result.priced.coupon_checks.sort("order_id", "coupon_type").iter_rows(named=True):
        rows[row["order_id"]].append(
            (row["coupon_type"], row["coupon_id"], row["status"], row["reason"], row["discount_cents"])
        )
    return rows


def assert_no_rejections(result: Results) -> None:
    assert result.staged.rejected_rows.height == 0, result.staged.rejected_rows.rows()


# ---------------------------------------------------------------- applicability


def test_applicability_shop_window_scope_and_condition():
    # Every promotion is a 10 % product discount (or incentive) on a $10.00 line: 100 cents when
    # it applies, 0 when it does not. Windows of the `*_start`/`*_end` cases run
    # 2025-03-01T00:00:00Z → 2025-09-01T00:00:00Z.
    result = run(
        orders="""
        | order_id        | shop_id         | created_at           | channel | buyer_is_new |
        | own_shop        | own_shop        | 2025-06-01T12:00:00Z | shop    | false        |
        | other_shop      | other_shop      | 2025-06-01T12:00:00Z | shop    | false        |
        | all_shops       | all_shops       | 2025-06-01T12:00:00Z | shop    | false        |
        | at_start        | at_start        | 2025-03-01T00:00:00Z | shop    | false        |
        | before_start    | before_start    | 2025-02-28T23:59:59Z | shop    | false        |
        | before_end      | before_end      | 2025-08-31T23:59:59Z | shop    | false        |
        | at_end          | at_end          | 2025-09-01T00:00:00Z | shop    | false        |
        | in_scope        | in_scope        | 2025-06-01T12:00:00Z | shop    | false        |
        | out_of_scope    | out_of_scope    | 2025-06-01T12:00:00Z | shop    | false        |
        | partial_scope   | partial_scope   | 2025-06-01T12:00:00Z | shop    | false        |
        | no_scope_rows   | no_scope_rows   | 2025-06-01T12:00:00Z | shop    | false        |
        | live_in_live    | live_in_live    | 2025-06-01T12:00:00Z | live    | false        |
        | live_in_video   | live_in_video   | 2025-06-01T12:00:00Z | video   | false        |
        | live_in_shop    | live_in_shop    | 2025-06-01T12:00:00Z | shop    | false        |
        | new_buyer       | new_buyer       | 2025-06-01T12:00:00Z | shop    | true         |
        | returning_buyer | returning_buyer | 2025-06-01T12:00:00Z | shop    | false        |
        """,
        order_lines="""
        | order_id        | sku_id | product_id | unit_price |
        | own_shop        | A      | P1         | 10.00      |
        | other_shop      | A      | P1         | 10.00      |
        | all_shops       | A      | P_ALL      | 10.00      |
        | at_start        | A      | P1         | 10.00      |
        | before_start    | A      | P1         | 10.00      |
        | before_end      | A      | P1         | 10.00      |
        | at_end          | A      | P1         | 10.00      |
        | in_scope        | A      | P_IN       | 10.00      |
        | out_of_scope    | A      | P_OUT      | 10.00      |
        | partial_scope   | A      | P_IN       | 10.00      |
        | partial_scope   | B      | P_OUT      | 10.00      |
        | no_scope_rows   | A      | P1         | 10.00      |
        | no_scope_rows   | B      | P2         | 10.00      |
        | live_in_live    | A      | P1         | 10.00      |
        | live_in_video   | A      | P1         | 10.00      |
        | live_in_shop    | A      | P1         | 10.00      |
        | new_buyer       | A      | P1         | 10.00      |
        | returning_buyer | A      | P1         | 10.00      |
        """,
        promotions="""
        | promotion_id       | promotion_type    | shop_id         | discount_kind | discount_value | starts_at            | ends_at              | condition |
        | own_shop.PD        | product_discount  | own_shop        | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | other_shop.PD      | product_discount  | ELSEWHERE       | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | all_shops.PI       | product_incentive |                 | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | at_start.PD        | product_discount  | at_start        | percent_off   | 10             | 2025-03-01T00:00:00Z | 2025-09-01T00:00:00Z | none      |
        | before_start.PD    | product_discount  | before_start    | percent_off   | 10             | 2025-03-01T00:00:00Z | 2025-09-01T00:00:00Z | none      |
        | before_end.PD      | product_discount  | before_end      | percent_off   | 10             | 2025-03-01T00:00:00Z | 2025-09-01T00:00:00Z | none      |
        | at_end.PD          | product_discount  | at_end          | percent_off   | 10             | 2025-03-01T00:00:00Z | 2025-09-01T00:00:00Z | none      |
        | in_scope.PD        | product_discount  | in_scope        | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | out_of_scope.PD    | product_discount  | out_of_scope    | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | partial_scope.PD   | product_discount  | partial_scope   | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | no_scope_rows.PD   | product_discount  | no_scope_rows   | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | none      |
        | live_in_live.PD    | product_discount  | live_in_live    | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | live_only |
        | live_in_video.PD   | product_discount  | live_in_video   | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | live_only |
        | live_in_shop.PD    | product_discount  | live_in_shop    | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | live_only |
        | new_buyer.PD       | product_discount  | new_buyer       | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | new_buyer |
        | returning_buyer.PD | product_discount  | returning_buyer | percent_off   | 10             | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z | new_buyer |
        """,
        promotion_products="""
        | promotion_id     | product_id |
        | all_shops.PI     | P_ALL      |
        | in_scope.PD      | P_IN       |
        | out_of_scope.PD  | P_IN       |
        | partial_scope.PD | P_IN       |
        """,
    )
    assert_no_rejections(result)
    assert line_discounts(result) == {
        ("own_shop", "A"): 100,  # the promotion belongs to the order's shop
        ("other_shop", "A"): 0,  # it belongs to another shop
        ("all_shops", "A"): 100,  # a platform promotion with no shop_id covers every shop
        ("at_start", "A"): 100,  # starts_at <= t: the first instant is inside
        ("before_start", "A"): 0,  # one second before starts_at
        ("before_end", "A"): 100,  # one second before ends_at is still inside
        ("at_end", "A"): 0,  # t < ends_at: the end instant is outside
        ("in_scope", "A"): 100,  # the product is listed in promotion_products
        ("out_of_scope", "A"): 0,  # the promotion has scope rows and this product is not one
        ("partial_scope", "A"): 100,  # scope is per line: the listed product gets it ...
        ("partial_scope", "B"): 0,  # ... the unlisted one in the same order does not
        ("no_scope_rows", "A"): 100,  # no scope rows in the input: every product
        ("no_scope_rows", "B"): 100,
        ("live_in_live", "A"): 100,  # live_only holds on channel live
        ("live_in_video", "A"): 0,  # ... and on no other channel
        ("live_in_shop", "A"): 0,
        ("new_buyer", "A"): 100,  # new_buyer holds when buyer_is_new
        ("returning_buyer", "A"): 0,
    }


def test_opt_out_state_is_the_last_event_at_created_at():
    # Every shop has a 10 % product incentive on its $10.00 line (100 cents when it applies).
    # Orders are created at 2025-06-01T12:00:00Z. State at t = the last event with
    # changed_at <= t, ties to the later row in the file; before any event the shop participates.
    cases = [
        "no_events",
        "out_before",
        "out_at_created",
        "out_after",
        "back_in",
        "back_in_too_late",
        "tie_out_last",
        "tie_in_last",
        "events_not_in_time_order",
        "other_types_out",
        "campaign",
        "other_shop_out",
    ]
    orders = "| order_id | shop_id |\n" + "\n".join(f"| {c} | {c} |" for c in cases)
    lines = "| order_id | sku_id | product_id | unit_price |\n" + "\n".join(f"| {c} | A | P1 | 10.00 |" for c in cases)
    promotions = (
        "| promotion_id | promotion_type | shop_id | discount_kind | discount_value | campaign_id |\n"
        + "\n".join(
            f"| {c}.PI | product_incentive | {c} | percent_off | 10 | {'BLACK_FRIDAY' if c == 'campaign' else ''} |"
            for c in cases
        )
    )
    result = run(
        orders=orders,
        order_lines=lines,
        promotions=promotions,
        opt_out_events="""
        | shop_id                  | promotion_type             | changed_at           | participating |
        | out_before               | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | out_at_created           | product_incentive          | 2025-06-01T12:00:00Z | false         |
        | out_after                | product_incentive          | 2025-06-01T12:00:01Z | false         |
        | back_in                  | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | back_in                  | product_incentive          | 2025-05-15T00:00:00Z | true          |
        | back_in_too_late         | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | back_in_too_late         | product_incentive          | 2025-06-02T00:00:00Z | true          |
        | tie_out_last             | product_incentive          | 2025-05-01T00:00:00Z | true          |
        | tie_out_last             | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | tie_in_last              | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | tie_in_last              | product_incentive          | 2025-05-01T00:00:00Z | true          |
        | events_not_in_time_order | product_incentive          | 2025-05-15T00:00:00Z | true          |
        | events_not_in_time_order | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | other_types_out          | platform_bmsm              | 2025-05-01T00:00:00Z | false         |
        | other_types_out          | product_coupon             | 2025-05-01T00:00:00Z | false         |
        | other_types_out          | platform_shipping_discount | 2025-05-01T00:00:00Z | false         |
        | campaign                 | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | ELSEWHERE                | product_incentive          | 2025-05-01T00:00:00Z | false         |
        """,
    )
    assert_no_rejections(result)
    assert {order: total for (order, _), total in line_discounts(result).items()} == {
        "no_events": 100,  # no event: the shop participates
        "out_before": 0,  # opted out before the order
        "out_at_created": 0,  # changed_at <= t: an event at the very instant counts
        "out_after": 100,  # opted out one second after the order
        "back_in": 100,  # opted out, then back in, both before the order
        "back_in_too_late": 0,  # back in only after the order
        "tie_out_last": 0,  # same changed_at: the later row in the file (opt-out) wins
        "tie_in_last": 100,  # same changed_at: the later row (opt-in) wins
        "events_not_in_time_order": 100,  # "last" is by changed_at (05-15, back in), not file order
        "other_types_out": 100,  # an opt-out covers its own type only
        "campaign": 0,  # being in a campaign does not override the opt-out
        "other_shop_out": 100,  # another shop's opt-out does not reach this shop
    }


def test_opt_out_never_touches_seller_promotions():
    # Shop `all_out` opted out of all four platform types before the order; `all_in` did not.
    # Both have one $10.00 line, a $5.00 shipping fee, claim both coupons, and hold the same
    # promotions: each seller type and each platform type takes $1.00 (free shipping for the
    # seller's shipping discount, $2.00 for the platform's).
    promotions = "| promotion_id | promotion_type | shop_id | discount_kind | discount_value | min_quantity |\n"
    for shop in ("all_out", "all_in"):
        promotions += f"""
        | {shop}.PD | product_discount           | {shop} | amount_off    | 1.00 |   |
        | {shop}.PI | product_incentive          | {shop} | amount_off    | 1.00 |   |
        | {shop}.SB | seller_bmsm                | {shop} | amount_off    | 1.00 | 1 |
        | {shop}.PB | platform_bmsm              | {shop} | amount_off    | 1.00 | 1 |
        | {shop}.SC | seller_coupon              | {shop} | amount_off    | 1.00 |   |
        | {shop}.PC | product_coupon             | {shop} | amount_off    | 1.00 |   |
        | {shop}.SS | seller_shipping_discount   | {shop} | free_shipping |      |   |
        | {shop}.PS | platform_shipping_discount | {shop} | amount_off    | 2.00 |   |
        """
    result = run(
        orders="""
        | order_id | shop_id | shipping_fee | seller_coupon_id | platform_coupon_id |
        | all_out  | all_out | 5.00         | all_out.SC       | all_out.PC         |
        | all_in   | all_in  | 5.00         | all_in.SC        | all_in.PC          |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price |
        | all_out  | A      | P1         | 10.00      |
        | all_in   | A      | P1         | 10.00      |
        """,
        promotions=promotions,
        opt_out_events="""
        | shop_id | promotion_type             | changed_at           | participating |
        | all_out | product_incentive          | 2025-05-01T00:00:00Z | false         |
        | all_out | platform_bmsm              | 2025-05-01T00:00:00Z | false         |
        | all_out | product_coupon             | 2025-05-01T00:00:00Z | false         |
        | all_out | platform_shipping_discount | 2025-05-01T00:00:00Z | false         |
        """,
    )
    assert_no_rejections(result)
    assert discount_rows(result) == {
        # Only the seller's promotions, each on what the one before left: 1000 → 900 → 800 →
        # 700; the seller's free shipping takes the whole $5.00 fee as no platform one applies.
        "all_out": [
            ("A", "all_out.PD", "1", 100),
            ("A", "all_out.SB", "3a", 100),
            ("A", "all_out.SC", "4a", 100),
            (None, "all_out.SS", "5", 500),
        ],
        # Participating: every step takes $1.00 (1000 → 400); the platform's shipping discount
        # comes off the fee first (200) and the seller's free shipping covers the rest (300).
        "all_in": [
            ("A", "all_in.PD", "1", 100),
            ("A", "all_in.PI", "2", 100),
            ("A", "all_in.SB", "3a", 100),
            ("A", "all_in.PB", "3b", 100),
            ("A", "all_in.SC", "4a", 100),
            ("A", "all_in.PC", "4b", 100),
            (None, "all_in.PS", "5", 200),
            (None, "all_in.SS", "5", 300),
        ],
    }
    assert coupon_checks(result)["all_out"] == [
        ("product_coupon", "all_out.PC", "rejected", "opted_out", 0),
        ("seller_coupon", "all_out.SC", "applied", None, 100),
    ]


# ---------------------------------------------------------------- step 1: seller unit price


def test_step1_seller_unit_price():
    result = run(
        orders="""
        | order_id                  | shop_id                   |
        | flash_without_discount    | flash_without_discount    |
        | flash_beats_bigger        | flash_beats_bigger        |
        | percent                   | percent                   |
        | percent_half_up           | percent_half_up           |
        | percent_hundredths        | percent_hundredths        |
        | percent_capped_per_unit   | percent_capped_per_unit   |
        | amount                    | amount                    |
        | amount_above_price        | amount_above_price        |
        | fixed                     | fixed                     |
        | fixed_above_price         | fixed_above_price         |
        | best_discount             | best_discount             |
        | tie_smaller_id            | tie_smaller_id            |
        | tie_code_point            | tie_code_point            |
        | best_flash                | best_flash                |
        | inactive_flash            | inactive_flash            |
        """,
        order_lines="""
        | order_id                  | sku_id | product_id | unit_price | quantity |
        | flash_without_discount    | A      | P1         | 10.00      | 1        |
        | flash_beats_bigger        | A      | P1         | 10.00      | 1        |
        | percent                   | A      | P1         | 9.99       | 2        |
        | percent_half_up           | A      | P1         | 10.10      | 1        |
        | percent_hundredths        | A      | P1         | 10.00      | 1        |
        | percent_capped_per_unit   | A      | P1         | 10.00      | 3        |
        | amount                    | A      | P1         | 10.00      | 2        |
        | amount_above_price        | A      | P1         | 10.00      | 1        |
        | fixed                     | A      | P1         | 10.00      | 1        |
        | fixed_above_price         | A      | P1         | 10.00      | 1        |
        | best_discount             | A      | P1         | 10.00      | 1        |
        | tie_smaller_id            | A      | P1         | 10.00      | 1        |
        | tie_code_point            | A      | P1         | 10.00      | 1        |
        | best_flash                | A      | P1         | 10.00      | 1        |
        | inactive_flash            | A      | P1         | 10.00      | 1        |
        """,
        promotions="""
        | promotion_id               | promotion_type   | shop_id                 | discount_kind | discount_value | max_discount | ends_at              |
        | flash_without_discount.FD  | flash_deal       | flash_without_discount  | fixed_price   | 20.00          |              | 2026-01-01T00:00:00Z |
        | flash_without_discount.PD  | product_discount | flash_without_discount  | percent_off   | 10             |              | 2026-01-01T00:00:00Z |
        | flash_beats_bigger.FD      | flash_deal       | flash_beats_bigger      | percent_off   | 10             |              | 2026-01-01T00:00:00Z |
        | flash_beats_bigger.PD      | product_discount | flash_beats_bigger      | percent_off   | 50             |              | 2026-01-01T00:00:00Z |
        | percent.PD                 | product_discount | percent                 | percent_off   | 15             |              | 2026-01-01T00:00:00Z |
        | percent_half_up.PD         | product_discount | percent_half_up         | percent_off   | 25             |              | 2026-01-01T00:00:00Z |
        | percent_hundredths.PD      | product_discount | percent_hundredths      | percent_off   | 12.5           |              | 2026-01-01T00:00:00Z |
        | percent_capped_per_unit.PD | product_discount | percent_capped_per_unit | percent_off   | 50             | 3.00         | 2026-01-01T00:00:00Z |
        | amount.PD                  | product_discount | amount                  | amount_off    | 2.50           |              | 2026-01-01T00:00:00Z |
        | amount_above_price.PD      | product_discount | amount_above_price      | amount_off    | 15.00          |              | 2026-01-01T00:00:00Z |
        | fixed.PD                   | product_discount | fixed                   | fixed_price   | 7.99           |              | 2026-01-01T00:00:00Z |
        | fixed_above_price.PD       | product_discount | fixed_above_price       | fixed_price   | 12.00          |              | 2026-01-01T00:00:00Z |
        | best_discount.A            | product_discount | best_discount           | percent_off   | 10             |              | 2026-01-01T00:00:00Z |
        | best_discount.B            | product_discount | best_discount           | amount_off    | 1.50           |              | 2026-01-01T00:00:00Z |
        | tie_smaller_id.T2          | product_discount | tie_smaller_id          | percent_off   | 10             |              | 2026-01-01T00:00:00Z |
        | tie_smaller_id.T10         | product_discount | tie_smaller_id          | amount_off    | 1.00           |              | 2026-01-01T00:00:00Z |
        | tie_code_point.é           | product_discount | tie_code_point          | amount_off    | 1.00           |              | 2026-01-01T00:00:00Z |
        | tie_code_point.z           | product_discount | tie_code_point          | amount_off    | 1.00           |              | 2026-01-01T00:00:00Z |
        | tie_code_point.a           | product_discount | tie_code_point          | amount_off    | 1.00           |              | 2026-01-01T00:00:00Z |
        | tie_code_point.B           | product_discount | tie_code_point          | amount_off    | 1.00           |              | 2026-01-01T00:00:00Z |
        | best_flash.F1              | flash_deal       | best_flash              | fixed_price   | 8.00           |              | 2026-01-01T00:00:00Z |
        | best_flash.F2              | flash_deal       | best_flash              | percent_off   | 30             |              | 2026-01-01T00:00:00Z |
        | best_flash.PD              | product_discount | best_flash              | percent_off   | 50             |              | 2026-01-01T00:00:00Z |
        | inactive_flash.FD          | flash_deal       | inactive_flash          | percent_off   | 50             |              | 2025-05-01T00:00:00Z |
        | inactive_flash.PD          | product_discount | inactive_flash          | percent_off   | 10             |              | 2026-01-01T00:00:00Z |
        """,
    )
    assert_no_rejections(result)
    assert discount_rows(result, "1") == {
        # A flash deal at a fixed $20.00 sets the price to min(v, p) = $10.00: no discount, yet
        # it still sets the price, so the 10 % product discount does not apply either.
        "flash_without_discount": [],
        # The flash deal (100) sets the price even though the product discount would give 500.
        "flash_beats_bigger": [("A", "flash_beats_bigger.FD", "1", 100)],
        # 15 % of $9.99 = 149.85 → 150 per unit, times 2 units.
        "percent": [("A", "percent.PD", "1", 300)],
        # 25 % of $10.10 = 252.5 → 253 (half up).
        "percent_half_up": [("A", "percent_half_up.PD", "1", 253)],
        # 12.5 % of $10.00 = 125 (percent values carry 2 decimals).
        "percent_hundredths": [("A", "percent_hundredths.PD", "1", 125)],
        # 50 % of $10.00 = 500 capped by max_discount $3.00 per unit → 300, times 3 units.
        "percent_capped_per_unit": [("A", "percent_capped_per_unit.PD", "1", 900)],
        # $2.50 off per unit, times 2.
        "amount": [("A", "amount.PD", "1", 500)],
        # max(p - v, 0): $15.00 off a $10.00 price leaves 0, a discount of the whole 1000.
        "amount_above_price": [("A", "amount_above_price.PD", "1", 1000)],
        # Fixed price $7.99 on $10.00: 201 off.
        "fixed": [("A", "fixed.PD", "1", 201)],
        # Fixed price above the list price: min(v, p) = p, no discount, no row.
        "fixed_above_price": [],
        # Best = largest discount: $1.50 beats 10 % (100).
        "best_discount": [("A", "best_discount.B", "1", 150)],
        # 100 each: the smaller promotion_id by code point, "…T10" < "…T2".
        "tie_smaller_id": [("A", "tie_smaller_id.T10", "1", 100)],
        # Four-way tie at 100: by code point "B" (U+0042) < "a" < "z" < "é" (U+00E9).
        "tie_code_point": [("A", "tie_code_point.B", "1", 100)],
        # Of two flash deals the best (30 % = 300 over fixed $8.00 = 200) sets the price;
        # the 50 % product discount does not apply since a flash deal does.
        "best_flash": [("A", "best_flash.F2", "1", 300)],
        # The flash deal ended before the order: the product discount applies.
        "inactive_flash": [("A", "inactive_flash.PD", "1", 100)],
    }
    flash_priced = result.priced.line_amounts.filter(pl.col("is_flash_priced"))["order_id"].sort().to_list()
    assert flash_priced == ["best_flash", "flash_beats_bigger", "flash_without_discount"]


# ---------------------------------------------------------------- step 2: platform unit price


def test_step2_incentive_on_the_step1_price_unless_a_flash_deal_set_it():
    result = run(
        orders="""
        | order_id          | shop_id           | channel |
        | on_step1_price    | on_step1_price    | shop    |
        | rounds_on_step1   | rounds_on_step1   | shop    |
        | capped_per_unit   | capped_per_unit   | shop    |
        | fixed             | fixed             | shop    |
        | not_below_zero    | not_below_zero    | shop    |
        | tie_smaller_id    | tie_smaller_id    | shop    |
        | blocked           | blocked           | shop    |
        | blocked_zero      | blocked_zero      | shop    |
        | blocked_one_line  | blocked_one_line  | shop    |
        | not_applicable    | not_applicable    | shop    |
        """,
        order_lines="""
        | order_id          | sku_id | product_id | unit_price | quantity |
        | on_step1_price    | A      | P1         | 10.00      | 2        |
        | rounds_on_step1   | A      | P1         | 10.10      | 1        |
        | capped_per_unit   | A      | P1         | 10.00      | 2        |
        | fixed             | A      | P1         | 10.00      | 1        |
        | not_below_zero    | A      | P1         | 10.00      | 1        |
        | tie_smaller_id    | A      | P1         | 10.00      | 1        |
        | blocked           | A      | P1         | 10.00      | 2        |
        | blocked_zero      | A      | P1         | 10.00      | 1        |
        | blocked_one_line  | A      | P1         | 10.00      | 1        |
        | blocked_one_line  | B      | P2         | 10.00      | 1        |
        | not_applicable    | A      | P1         | 10.00      | 1        |
        """,
        promotions="""
        | promotion_id          | promotion_type    | shop_id          | discount_kind | discount_value | max_discount | condition |
        | on_step1_price.PD     | product_discount  | on_step1_price   | amount_off    | 2.00           |              | none      |
        | on_step1_price.PI     | product_incentive | on_step1_price   | percent_off   | 10             |              | none      |
        | rounds_on_step1.PD    | product_discount  | rounds_on_step1  | percent_off   | 10             |              | none      |
        | rounds_on_step1.PI    | product_incentive | rounds_on_step1  | percent_off   | 50             |              | none      |
        | capped_per_unit.PI    | product_incentive | capped_per_unit  | percent_off   | 50             | 1.00         | none      |
        | fixed.PD              | product_discount  | fixed            | amount_off    | 2.00           |              | none      |
        | fixed.PI              | product_incentive | fixed            | fixed_price   | 6.00           |              | none      |
        | not_below_zero.PD     | product_discount  | not_below_zero   | amount_off    | 9.00           |              | none      |
        | not_below_zero.PI     | product_incentive | not_below_zero   | amount_off    | 5.00           |              | none      |
        | tie_smaller_id.X2     | product_incentive | tie_smaller_id   | amount_off    | 1.00           |              | none      |
        | tie_smaller_id.X10    | product_incentive | tie_smaller_id   | percent_off   | 10             |              | none      |
        | blocked.FD            | flash_deal        | blocked          | percent_off   | 10             |              | none      |
        | blocked.PI_a          | product_incentive | blocked          | amount_off    | 1.00           |              | none      |
        | blocked.PI_b          | product_incentive | blocked          | percent_off   | 20             |              | none      |
        | blocked_zero.FD       | flash_deal        | blocked_zero     | fixed_price   | 20.00          |              | none      |
        | blocked_zero.PI       | product_incentive | blocked_zero     | percent_off   | 10             |              | none      |
        | blocked_one_line.FD   | flash_deal        | blocked_one_line | percent_off   | 10             |              | none      |
        | blocked_one_line.PI   | product_incentive | blocked_one_line | percent_off   | 20             |              | none      |
        | not_applicable.FD     | flash_deal        | not_applicable   | percent_off   | 10             |              | none      |
        | not_applicable.PI     | product_incentive | not_applicable   | percent_off   | 20             |              | live_only |
        """,
        promotion_products="""
        | promotion_id        | product_id |
        | blocked_one_line.FD | P1         |
        """,
    )
    assert_no_rejections(result)
    assert discount_rows(result, "1", "2") == {
        # $2.00 off → $8.00; the incentive is 10 % of $8.00 (not of $10.00) = 80 per unit; × 2.
        "on_step1_price": [("A", "on_step1_price.PD", "1", 400), ("A", "on_step1_price.PI", "2", 160)],
        # 10 % of $10.10 = 101 → $9.09; 50 % of 909 = 454.5 → 455.
        "rounds_on_step1": [("A", "rounds_on_step1.PD", "1", 101), ("A", "rounds_on_step1.PI", "2", 455)],
        # 50 % = 500 capped at $1.00 per unit → 100 × 2 units.
        "capped_per_unit": [("A", "capped_per_unit.PI", "2", 200)],
        # Step-1 price $8.00; fixed price $6.00 → 200 off.
        "fixed": [("A", "fixed.PD", "1", 200), ("A", "fixed.PI", "2", 200)],
        # Step-1 price $1.00; $5.00 off takes it to max(100 - 500, 0) = 0: only 100, never below 0.
        "not_below_zero": [("A", "not_below_zero.PD", "1", 900), ("A", "not_below_zero.PI", "2", 100)],
        # 100 each: smaller promotion_id, "…X10" < "…X2".
        "tie_smaller_id": [("A", "tie_smaller_id.X10", "2", 100)],
        # A flash deal set the price: no incentive, whatever it would give.
        "blocked": [("A", "blocked.FD", "1", 200)],
        "blocked_zero": [],  # the flash deal gives nothing and still blocks
        # The flash deal covers P1 only: line B keeps its incentive (20 % of 1000).
        "blocked_one_line": [("A", "blocked_one_line.FD", "1", 100), ("B", "blocked_one_line.PI", "2", 200)],
        "not_applicable": [("A", "not_applicable.FD", "1", 100)],
    }
    blocked = {
        (row["order_id"], row["sku_id"], row["incentive_promotion_id"], row["flash_promotion_id"]): row[
            "would_be_discount_cents"
        ]
        for row in result.priced.blocked_incentives.iter_rows(named=True)
    }
    assert blocked == {
        # Every incentive that applied is listed, with its per-unit discount on the step-1 (flash)
        # price $9.00 times the quantity 2: $1.00 → 200; 20 % of 900 = 180 → 360.
        ("blocked", "A", "blocked.PI_a", "blocked.FD"): 200,
        ("blocked", "A", "blocked.PI_b", "blocked.FD"): 360,
        # The zero-discount flash deal left $10.00: 10 % = 100.
        ("blocked_zero", "A", "blocked_zero.PI", "blocked_zero.FD"): 100,
        # 20 % of the flash price $9.00 = 180.
        ("blocked_one_line", "A", "blocked_one_line.PI", "blocked_one_line.FD"): 180,
        # `not_applicable`: the live_only incentive does not apply to a shop order, so it was
        # never blocked and has no row.
    }


# ---------------------------------------------------------------- step 3: buy more save more


def test_step3_buy_more_save_more():
    result = run(
        orders="""
        | order_id                  | shop_id                   |
        | qty_tier1                 | qty_tier1                 |
        | qty_tier2                 | qty_tier2                 |
        | spend_tier1               | spend_tier1               |
        | spend_at_threshold        | spend_at_threshold        |
        | none_reached              | none_reached              |
        | both_one_short            | both_one_short            |
        | both_met                  | both_met                  |
        | lower_tier_better         | lower_tier_better         |
        | best_promotion            | best_promotion            |
        | tie_smaller_id            | tie_smaller_id            |
        | scope_counts              | scope_counts              |
        | scope_allocates           | scope_allocates           |
        | flash_excluded            | flash_excluded            |
        | flash_short_of_threshold  | flash_short_of_threshold  |
        | by_running_amount         | by_running_amount         |
        | percent_capped_per_order  | percent_capped_per_order  |
        | amount_above_base         | amount_above_base         |
        """,
        order_lines="""
        | order_id                  | sku_id | product_id | unit_price | quantity |
        | qty_tier1                 | A      | P1         | 10.00      | 2        |
        | qty_tier2                 | A      | P1         | 10.00      | 3        |
        | spend_tier1               | A      | P1         | 80.00      | 1        |
        | spend_at_threshold        | A      | P1         | 100.00     | 1        |
        | none_reached              | A      | P1         | 10.00      | 1        |
        | both_one_short            | A      | P1         | 30.00      | 2        |
        | both_met                  | A      | P1         | 20.00      | 3        |
        | lower_tier_better         | A      | P1         | 20.00      | 2        |
        | best_promotion            | A      | P1         | 10.00      | 1        |
        | tie_smaller_id            | A      | P1         | 10.00      | 1        |
        | scope_counts              | A      | P_IN       | 10.00      | 1        |
        | scope_counts              | B      | P_OUT      | 10.00      | 1        |
        | scope_allocates           | A      | P_IN       | 10.00      | 1        |
        | scope_allocates           | B      | P_OUT      | 10.00      | 1        |
        | flash_excluded            | A      | P_FLASH    | 10.00      | 1        |
        | flash_excluded            | B      | P2         | 10.00      | 1        |
        | flash_short_of_threshold  | A      | P_FLASH    | 10.00      | 1        |
        | flash_short_of_threshold  | B      | P2         | 10.00      | 1        |
        | by_running_amount         | A      | P_30       | 30.00      | 1        |
        | by_running_amount         | B      | P2         | 10.00      | 1        |
        | percent_capped_per_order  | A      | P1         | 10.00      | 1        |
        | percent_capped_per_order  | B      | P2         | 10.00      | 1        |
        | amount_above_base         | A      | P1         | 10.00      | 1        |
        | amount_above_base         | B      | P2         | 20.00      | 1        |
        """,
        promotions="""
        | promotion_id                | tier | promotion_type   | shop_id                   | discount_kind | discount_value | min_quantity | min_spend | max_discount |
        | qty_tier1.SB                | 1    | seller_bmsm      | qty_tier1                 | percent_off   | 10             | 2            |           |              |
        | qty_tier1.SB                | 2    | seller_bmsm      | qty_tier1                 | percent_off   | 20             | 3            |           |              |
        | qty_tier2.SB                | 1    | seller_bmsm      | qty_tier2                 | percent_off   | 10             | 2            |           |              |
        | qty_tier2.SB                | 2    | seller_bmsm      | qty_tier2                 | percent_off   | 20             | 3            |           |              |
        | spend_tier1.PB              | 1    | platform_bmsm    | spend_tier1               | amount_off    | 5.00           |              | 50.00     |              |
        | spend_tier1.PB              | 2    | platform_bmsm    | spend_tier1               | amount_off    | 15.00          |              | 100.00    |              |
        | spend_at_threshold.PB       | 1    | platform_bmsm    | spend_at_threshold        | amount_off    | 5.00           |              | 50.00     |              |
        | spend_at_threshold.PB       | 2    | platform_bmsm    | spend_at_threshold        | amount_off    | 15.00          |              | 100.00    |              |
        | none_reached.SB             | 1    | seller_bmsm      | none_reached              | percent_off   | 10             | 2            |           |              |
        | both_one_short.SB           | 1    | seller_bmsm      | both_one_short            | amount_off    | 10.00          | 3            | 50.00     |              |
        | both_met.SB                 | 1    | seller_bmsm      | both_met                  | amount_off    | 10.00          | 3            | 50.00     |              |
        | lower_tier_better.SB        | 1    | seller_bmsm      | lower_tier_better         | amount_off    | 6.00           | 1            |           |              |
        | lower_tier_better.SB        | 2    | seller_bmsm      | lower_tier_better         | amount_off    | 4.00           | 2            |           |              |
        | best_promotion.B1           | 1    | seller_bmsm      | best_promotion            | amount_off    | 3.00           | 1            |           |              |
        | best_promotion.B2           | 1    | seller_bmsm      | best_promotion            | amount_off    | 5.00           | 1            |           |              |
        | tie_smaller_id.Y2           | 1    | platform_bmsm    | tie_smaller_id            | amount_off    | 3.00           | 1            |           |              |
        | tie_smaller_id.Y10          | 1    | platform_bmsm    | tie_smaller_id            | percent_off   | 30             | 1            |           |              |
        | scope_counts.SB             | 1    | seller_bmsm      | scope_counts              | amount_off    | 5.00           | 2            |           |              |
        | scope_allocates.SB          | 1    | seller_bmsm      | scope_allocates           | amount_off    | 5.00           | 1            |           |              |
        | flash_excluded.FD           | 1    | flash_deal       | flash_excluded            | percent_off   | 10             |              |           |              |
        | flash_excluded.SB           | 1    | seller_bmsm      | flash_excluded            | amount_off    | 3.00           | 1            |           |              |
        | flash_excluded.PB           | 1    | platform_bmsm    | flash_excluded            | percent_off   | 10             | 2            |           |              |
        | flash_short_of_threshold.FD | 1    | flash_deal       | flash_short_of_threshold  | percent_off   | 10             |              |           |              |
        | flash_short_of_threshold.SB | 1    | seller_bmsm      | flash_short_of_threshold  | amount_off    | 3.00           | 2            |           |              |
        | by_running_amount.PD        | 1    | product_discount | by_running_amount         | amount_off    | 10.00          |              |           |              |
        | by_running_amount.SB        | 1    | seller_bmsm      | by_running_amount         | amount_off    | 10.00          | 1            |           |              |
        | percent_capped_per_order.PB | 1    | platform_bmsm    | percent_capped_per_order  | percent_off   | 50             | 2            |           | 5.00         |
        | amount_above_base.PB        | 1    | platform_bmsm    | amount_above_base         | amount_off    | 50.00          | 1            |           |              |
        """,
        promotion_products="""
        | promotion_id                | product_id |
        | scope_counts.SB             | P_IN       |
        | scope_allocates.SB          | P_IN       |
        | flash_excluded.FD           | P_FLASH    |
        | flash_short_of_threshold.FD | P_FLASH    |
        | by_running_amount.PD        | P_30       |
        """,
    )
    assert_no_rejections(result)
    assert discount_rows(result, "3a", "3b") == {
        # qty 2 reaches tier 1 only (min 2; tier 2 needs 3): 10 % of $20.00.
        "qty_tier1": [("A", "qty_tier1.SB", "3a", 200)],
        # qty 3 reaches both; tier 2 gives more: 20 % of $30.00 = 600 (not 300 + 600).
        "qty_tier2": [("A", "qty_tier2.SB", "3a", 600)],
        # base $80.00 reaches min_spend $50 only: $5.00.
        "spend_tier1": [("A", "spend_tier1.PB", "3b", 500)],
        # base >= min_spend: exactly $100.00 reaches tier 2: $15.00.
        "spend_at_threshold": [("A", "spend_at_threshold.PB", "3b", 1500)],
        "none_reached": [],  # qty 1 < 2
        # Every threshold a tier has must be met: base $60 >= $50 but qty 2 < 3.
        "both_one_short": [],
        "both_met": [("A", "both_met.SB", "3a", 1000)],  # qty 3 and base $60: $10.00
        # Best = largest discount, not the highest tier: qty 2 reaches both, tier 1's $6.00 beats
        # tier 2's $4.00.
        "lower_tier_better": [("A", "lower_tier_better.SB", "3a", 600)],
        # Only the best promotion of a type applies: $5.00, not $3.00 + $5.00.
        "best_promotion": [("A", "best_promotion.B2", "3a", 500)],
        # $3.00 and 30 % of $10.00 tie at 300: smaller promotion_id "…Y10" < "…Y2".
        "tie_smaller_id": [("A", "tie_smaller_id.Y10", "3b", 300)],
        # Only lines the promotion applies to count: qty 1 of P_IN < min 2.
        "scope_counts": [],
        # ... and only they share the discount: all $5.00 on the P_IN line.
        "scope_allocates": [("A", "scope_allocates.SB", "3a", 500)],
        # Line A is flash priced (10 % → $9.00): out of the seller BMSM, which goes whole to B
        # ($3.00 → B runs at $7.00). The platform BMSM keeps A: qty 2, base 900 + 700 = 1600,
        # 10 % = 160, allocated by running amount 900 : 700 → 90 and 70.
        "flash_excluded": [
            ("B", "flash_excluded.SB", "3a", 300),
            ("A", "flash_excluded.PB", "3b", 90),
            ("B", "flash_excluded.PB", "3b", 70),
        ],
        # Without the flash-priced line the seller BMSM counts qty 1 < 2: not reached.
        "flash_short_of_threshold": [],
        # Allocation by running amount: A runs at $20.00 after its $10.00 product discount, B at
        # $10.00. 1000 × 2000/3000 = 666.67 and 333.33: floors 666 + 333, the cent left goes to
        # the larger remainder (A). By list amount it would have been 750/250.
        "by_running_amount": [("A", "by_running_amount.SB", "3a", 667), ("B", "by_running_amount.SB", "3a", 333)],
        # max_discount caps the order's discount (not each unit): min(50 % of $20, $5) = 500.
        "percent_capped_per_order": [
            ("A", "percent_capped_per_order.PB", "3b", 250),
            ("B", "percent_capped_per_order.PB", "3b", 250),
        ],
        # amount_off is min(v, base): $50.00 off a $30.00 base takes all of it, split 10 : 20.
        "amount_above_base": [("A", "amount_above_base.PB", "3b", 1000), ("B", "amount_above_base.PB", "3b", 2000)],
    }


# ---------------------------------------------------------------- step 4: coupons


def test_step4_coupon_checks_one_reason_each():
    # One claim per order. The first block fails at exactly the named reason. The `first_*`
    # block fails the named reason and every later one in docs/stacking.md's order (another shop,
    # expired, new_buyer only, shop opted out, scoped to a product not in the order, min_spend
    # $99.00 unmet), so the reported reason must be the first of them.
    result = run(
        orders="""
        | order_id                 | shop_id                  | buyer_is_new | seller_coupon_id      | platform_coupon_id          |
        | unknown                  | unknown                  | false        |                       | NO_SUCH_COUPON              |
        | invalid_promotion        | invalid_promotion        | false        |                       | invalid_promotion.PC        |
        | wrong_type               | wrong_type               | false        | wrong_type.PC         | wrong_type.SC               |
        | wrong_shop               | wrong_shop               | false        |                       | wrong_shop.PC               |
        | not_active               | not_active               | false        |                       | not_active.PC               |
        | not_yet_active           | not_yet_active           | false        |                       | not_yet_active.PC           |
        | condition                | condition                | false        |                       | condition.PC                |
        | opted_out                | opted_out                | false        |                       | opted_out.PC                |
        | no_covered_product       | no_covered_product       | false        |                       | no_covered_product.PC       |
        | min_spend                | min_spend                | false        | min_spend.SC          |                             |
        | first_wrong_type         | first_wrong_type         | false        |                       | first_wrong_type.SC         |
        | first_wrong_shop         | first_wrong_shop         | false        |                       | first_wrong_shop.PC         |
        | first_not_active         | first_not_active         | false        |                       | first_not_active.PC         |
        | first_condition          | first_condition          | false        |                       | first_condition.PC          |
        | first_opted_out          | first_opted_out          | false        |                       | first_opted_out.PC          |
        | first_no_covered_product | first_no_covered_product | false        |                       | first_no_covered_product.PC |
        | no_claim                 | no_claim                 | false        |                       |                             |
        """,
        order_lines="""
        | order_id                 | sku_id | product_id | unit_price |
        | unknown                  | A      | P1         | 40.00      |
        | invalid_promotion        | A      | P1         | 40.00      |
        | wrong_type               | A      | P1         | 40.00      |
        | wrong_shop               | A      | P1         | 40.00      |
        | not_active               | A      | P1         | 40.00      |
        | not_yet_active           | A      | P1         | 40.00      |
        | condition                | A      | P1         | 40.00      |
        | opted_out                | A      | P1         | 40.00      |
        | no_covered_product       | A      | P1         | 40.00      |
        | min_spend                | A      | P1         | 40.00      |
        | first_wrong_type         | A      | P1         | 40.00      |
        | first_wrong_shop         | A      | P1         | 40.00      |
        | first_not_active         | A      | P1         | 40.00      |
        | first_condition          | A      | P1         | 40.00      |
        | first_opted_out          | A      | P1         | 40.00      |
        | first_no_covered_product | A      | P1         | 40.00      |
        | no_claim                 | A      | P1         | 40.00      |
        """,
        # All coupons are $5.00 off; orders are created at 2025-06-01T12:00:00Z.
        promotions="""
        | promotion_id                | promotion_type | shop_id                  | discount_kind | discount_value | min_spend | condition | starts_at            | ends_at              |
        | invalid_promotion.PC        | product_coupon | invalid_promotion        | fixed_price   | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | wrong_type.PC               | product_coupon | wrong_type               | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | wrong_type.SC               | seller_coupon  | wrong_type               | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | wrong_shop.PC               | product_coupon | ELSEWHERE                | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | not_active.PC               | product_coupon | not_active               | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2025-06-01T12:00:00Z |
        | not_yet_active.PC           | product_coupon | not_yet_active           | amount_off    | 5.00           |           | none      | 2025-06-01T12:00:01Z | 2026-01-01T00:00:00Z |
        | condition.PC                | product_coupon | condition                | amount_off    | 5.00           |           | new_buyer | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | opted_out.PC                | product_coupon | opted_out                | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | no_covered_product.PC       | product_coupon | no_covered_product       | amount_off    | 5.00           |           | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | min_spend.SC                | seller_coupon  | min_spend                | amount_off    | 5.00           | 40.01     | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | first_wrong_type.SC         | seller_coupon  | ELSEWHERE                | amount_off    | 5.00           | 99.00     | new_buyer | 2025-01-01T00:00:00Z | 2025-02-01T00:00:00Z |
        | first_wrong_shop.PC         | product_coupon | ELSEWHERE                | amount_off    | 5.00           | 99.00     | new_buyer | 2025-01-01T00:00:00Z | 2025-02-01T00:00:00Z |
        | first_not_active.PC         | product_coupon | first_not_active         | amount_off    | 5.00           | 99.00     | new_buyer | 2025-01-01T00:00:00Z | 2025-02-01T00:00:00Z |
        | first_condition.PC          | product_coupon | first_condition          | amount_off    | 5.00           | 99.00     | new_buyer | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | first_opted_out.PC          | product_coupon | first_opted_out          | amount_off    | 5.00           | 99.00     | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | first_no_covered_product.PC | product_coupon | first_no_covered_product | amount_off    | 5.00           | 99.00     | none      | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        """,
        promotion_products="""
        | promotion_id                | product_id |
        | no_covered_product.PC       | P_OTHER    |
        | first_wrong_type.SC         | P_OTHER    |
        | first_wrong_shop.PC         | P_OTHER    |
        | first_not_active.PC         | P_OTHER    |
        | first_condition.PC          | P_OTHER    |
        | first_opted_out.PC          | P_OTHER    |
        | first_no_covered_product.PC | P_OTHER    |
        """,
        opt_out_events="""
        | shop_id                  | promotion_type | changed_at           | participating |
        | opted_out                | product_coupon | 2025-05-01T00:00:00Z | false         |
        | first_wrong_type         | product_coupon | 2025-05-01T00:00:00Z | false         |
        | first_wrong_shop         | product_coupon | 2025-05-01T00:00:00Z | false         |
        | first_not_active         | product_coupon | 2025-05-01T00:00:00Z | false         |
        | first_condition          | product_coupon | 2025-05-01T00:00:00Z | false         |
        | first_opted_out          | product_coupon | 2025-05-01T00:00:00Z | false         |
        """,
    )
    # The fixed_price product coupon is the one row staging must reject (kind_not_allowed).
    assert result.staged.rejected_rows.select("table", "reason").rows() == [("promotions", "kind_not_allowed")]
    assert coupon_checks(result) == {
        "unknown": [("product_coupon", "NO_SUCH_COUPON", "rejected", "unknown", 0)],
        # Its promotion rows were rejected in staging.
        "invalid_promotion": [("product_coupon", "invalid_promotion.PC", "rejected", "invalid_promotion", 0)],
        # A product coupon claimed as the seller coupon, a seller coupon claimed as the platform's.
        "wrong_type": [
            ("product_coupon", "wrong_type.SC", "rejected", "wrong_type", 0),
            ("seller_coupon", "wrong_type.PC", "rejected", "wrong_type", 0),
        ],
        "wrong_shop": [("product_coupon", "wrong_shop.PC", "rejected", "wrong_shop", 0)],
        # Ends exactly at created_at: t < ends_at fails.
        "not_active": [("product_coupon", "not_active.PC", "rejected", "not_active", 0)],
        # Starts one second after created_at.
        "not_yet_active": [("product_coupon", "not_yet_active.PC", "rejected", "not_active", 0)],
        # new_buyer coupon, returning buyer.
        "condition": [("product_coupon", "condition.PC", "rejected", "condition", 0)],
        "opted_out": [("product_coupon", "opted_out.PC", "rejected", "opted_out", 0)],
        # Scoped to a product the order does not have.
        "no_covered_product": [("product_coupon", "no_covered_product.PC", "rejected", "no_covered_product", 0)],
        # base $40.00 < min_spend $40.01.
        "min_spend": [("seller_coupon", "min_spend.SC", "rejected", "min_spend", 0)],
        "first_wrong_type": [("product_coupon", "first_wrong_type.SC", "rejected", "wrong_type", 0)],
        "first_wrong_shop": [("product_coupon", "first_wrong_shop.PC", "rejected", "wrong_shop", 0)],
        "first_not_active": [("product_coupon", "first_not_active.PC", "rejected", "not_active", 0)],
        "first_condition": [("product_coupon", "first_condition.PC", "rejected", "condition", 0)],
        "first_opted_out": [("product_coupon", "first_opted_out.PC", "rejected", "opted_out", 0)],
        # With no covered line there is no base to hold against min_spend.
        "first_no_covered_product": [
            ("product_coupon", "first_no_covered_product.PC", "rejected", "no_covered_product", 0)
        ],
        "no_claim": [],  # nothing claimed, nothing checked
    }
    # No rejected claim gives any discount.
    assert result.priced.discount_lines.height == 0


def test_step4_applied_coupons_and_their_allocation():
    result = run(
        orders="""
        | order_id                | shop_id                 | seller_coupon_id          | platform_coupon_id         |
        | seller_then_platform    | seller_then_platform    | seller_then_platform.SC   | seller_then_platform.PC    |
        | base_after_earlier      | base_after_earlier      |                           | base_after_earlier.PC      |
        | min_spend_exact         | min_spend_exact         | min_spend_exact.SC        |                            |
        | percent_capped          | percent_capped          |                           | percent_capped.PC          |
        | covered_only            | covered_only            |                           | covered_only.PC            |
        | covered_base_short      | covered_base_short      |                           | covered_base_short.PC      |
        | amount_above_base       | amount_above_base       | amount_above_base.SC      |                            |
        | after_bmsm              | after_bmsm              | after_bmsm.SC             |                            |
        """,
        order_lines="""
        | order_id                | sku_id | product_id | unit_price |
        | seller_then_platform    | A      | P1         | 30.00      |
        | seller_then_platform    | B      | P2         | 10.00      |
        | base_after_earlier      | A      | P1         | 50.00      |
        | min_spend_exact         | A      | P1         | 45.00      |
        | percent_capped          | A      | P1         | 20.00      |
        | percent_capped          | B      | P2         | 20.00      |
        | covered_only            | A      | P1         | 20.00      |
        | covered_only            | B      | P2         | 30.00      |
        | covered_base_short      | A      | P1         | 20.00      |
        | covered_base_short      | B      | P2         | 30.00      |
        | amount_above_base       | A      | P1         | 20.00      |
        | after_bmsm              | A      | P1         | 20.00      |
        """,
        promotions="""
        | promotion_id              | promotion_type   | shop_id              | discount_kind | discount_value | min_spend | max_discount | min_quantity |
        | seller_then_platform.SC   | seller_coupon    | seller_then_platform | amount_off    | 4.00           |           |              |              |
        | seller_then_platform.PC   | product_coupon   | seller_then_platform | percent_off   | 10             |           |              |              |
        | base_after_earlier.PD     | product_discount | base_after_earlier   | amount_off    | 10.00          |           |              |              |
        | base_after_earlier.PC     | product_coupon   | base_after_earlier   | amount_off    | 5.00           | 45.00     |              |              |
        | min_spend_exact.SC        | seller_coupon    | min_spend_exact      | amount_off    | 5.00           | 45.00     |              |              |
        | percent_capped.PC         | product_coupon   | percent_capped       | percent_off   | 20             |           | 3.00         |              |
        | covered_only.PC           | product_coupon   | covered_only         | amount_off    | 5.00           | 20.00     |              |              |
        | covered_base_short.PC     | product_coupon   | covered_base_short   | amount_off    | 5.00           | 25.00     |              |              |
        | amount_above_base.SC      | seller_coupon    | amount_above_base    | amount_off    | 50.00          |           |              |              |
        | after_bmsm.SB             | seller_bmsm      | after_bmsm           | amount_off    | 5.00           |           |              | 1            |
        | after_bmsm.SC             | seller_coupon    | after_bmsm           | percent_off   | 10             | 16.00     |              |              |
        """,
        promotion_products="""
        | promotion_id          | product_id |
        | covered_only.PC       | P1         |
        | covered_base_short.PC | P1         |
        """,
    )
    assert_no_rejections(result)
    assert coupon_checks(result) == {
        # Seller first: $4.00 over running 3000 : 1000. Platform then 10 % of what is left (3600).
        "seller_then_platform": [
            ("product_coupon", "seller_then_platform.PC", "applied", None, 360),
            ("seller_coupon", "seller_then_platform.SC", "applied", None, 400),
        ],
        # base is the running amount: $50 - $10 = $40 < $45, though the list price would reach it.
        "base_after_earlier": [("product_coupon", "base_after_earlier.PC", "rejected", "min_spend", 0)],
        # base >= min_spend: exactly $45.00 is enough.
        "min_spend_exact": [("seller_coupon", "min_spend_exact.SC", "applied", None, 500)],
        # 20 % of $40 = 800, capped per order at $3.00.
        "percent_capped": [("product_coupon", "percent_capped.PC", "applied", None, 300)],
        # Only covered lines make the base: $20.00 meets $20.00 ...
        "covered_only": [("product_coupon", "covered_only.PC", "applied", None, 500)],
        # ... and $20.00 misses $25.00 although the order totals $50.00.
        "covered_base_short": [("product_coupon", "covered_base_short.PC", "rejected", "min_spend", 0)],
        # amount_off is min(v, base): $50 off a $20 base gives $20.
        "amount_above_base": [("seller_coupon", "amount_above_base.SC", "applied", None, 2000)],
        # After the BMSM ($20 - $5 = $15) the base misses min_spend $16.
        "after_bmsm": [("seller_coupon", "after_bmsm.SC", "rejected", "min_spend", 0)],
    }
    assert discount_rows(result, "4a", "4b") == {
        # 400 × 3000/4000 = 300, 400 × 1000/4000 = 100; running 2700 and 900;
        # 360 × 2700/3600 = 270, 360 × 900/3600 = 90.
        "seller_then_platform": [
            ("A", "seller_then_platform.SC", "4a", 300),
            ("B", "seller_then_platform.SC", "4a", 100),
            ("A", "seller_then_platform.PC", "4b", 270),
            ("B", "seller_then_platform.PC", "4b", 90),
        ],
        "base_after_earlier": [],
        "min_spend_exact": [("A", "min_spend_exact.SC", "4a", 500)],
        "percent_capped": [("A", "percent_capped.PC", "4b", 150), ("B", "percent_capped.PC", "4b", 150)],
        # The whole discount stays on the covered line.
        "covered_only": [("A", "covered_only.PC", "4b", 500)],
        "covered_base_short": [],
        "amount_above_base": [("A", "amount_above_base.SC", "4a", 2000)],
        "after_bmsm": [],
    }


# ---------------------------------------------------------------- step 5: shipping


def test_step5_shipping_platform_first_then_seller():
    result = run(
        orders="""
        | order_id              | shop_id               | shipping_fee | seller_coupon_id       |
        | platform_then_seller  | platform_then_seller  | 8.00         |                        |
        | free_leaves_nothing   | free_leaves_nothing   | 8.00         |                        |
        | percent_on_remainder  | percent_on_remainder  | 8.00         |                        |
        | percent_half_up       | percent_half_up       | 7.99         |                        |
        | min_spend_after_step4 | min_spend_after_step4 | 8.00         | min_spend_after_step4.SC |
        | min_spend_whole_order | min_spend_whole_order | 8.00         |                        |
        | best_platform         | best_platform         | 8.00         |                        |
        | tie_smaller_id        | tie_smaller_id        | 8.00         |                        |
        | one_line_suffices     | one_line_suffices     | 8.00         |                        |
        | no_covered_line       | no_covered_line       | 8.00         |                        |
        | seller_only           | seller_only           | 6.00         |                        |
        | zero_fee              | zero_fee              | 0            |                        |
        | amount_above_fee      | amount_above_fee      | 8.00         |                        |
        | platform_opted_out    | platform_opted_out    | 8.00         |                        |
        """,
        order_lines="""
        | order_id              | sku_id | product_id | unit_price |
        | platform_then_seller  | A      | P1         | 10.00      |
        | free_leaves_nothing   | A      | P1         | 10.00      |
        | percent_on_remainder  | A      | P1         | 10.00      |
        | percent_half_up       | A      | P1         | 10.00      |
        | min_spend_after_step4 | A      | P1         | 50.00      |
        | min_spend_whole_order | A      | P1         | 10.00      |
        | min_spend_whole_order | B      | P2         | 40.00      |
        | best_platform         | A      | P1         | 10.00      |
        | tie_smaller_id        | A      | P1         | 10.00      |
        | one_line_suffices     | A      | P1         | 10.00      |
        | one_line_suffices     | B      | P2         | 10.00      |
        | no_covered_line       | A      | P1         | 10.00      |
        | seller_only           | A      | P1         | 10.00      |
        | zero_fee              | A      | P1         | 10.00      |
        | amount_above_fee      | A      | P1         | 10.00      |
        | platform_opted_out    | A      | P1         | 10.00      |
        """,
        promotions="""
        | promotion_id             | promotion_type             | shop_id               | discount_kind | discount_value | max_discount | min_spend |
        | platform_then_seller.PS  | platform_shipping_discount | platform_then_seller  | amount_off    | 3.00           |              |           |
        | platform_then_seller.SS  | seller_shipping_discount   | platform_then_seller  | amount_off    | 10.00          |              |           |
        | free_leaves_nothing.PS   | platform_shipping_discount | free_leaves_nothing   | free_shipping |                |              |           |
        | free_leaves_nothing.SS   | seller_shipping_discount   | free_leaves_nothing   | amount_off    | 2.00           |              |           |
        | percent_on_remainder.PS  | platform_shipping_discount | percent_on_remainder  | percent_off   | 50             | 3.00         |           |
        | percent_on_remainder.SS  | seller_shipping_discount   | percent_on_remainder  | percent_off   | 50             |              |           |
        | percent_half_up.PS       | platform_shipping_discount | percent_half_up       | percent_off   | 50             |              |           |
        | min_spend_after_step4.SC | seller_coupon              | min_spend_after_step4 | amount_off    | 10.00          |              |           |
        | min_spend_after_step4.PS | platform_shipping_discount | min_spend_after_step4 | amount_off    | 2.00           |              | 45.00     |
        | min_spend_after_step4.SS | seller_shipping_discount   | min_spend_after_step4 | free_shipping |                |              | 40.00     |
        | min_spend_whole_order.PS | platform_shipping_discount | min_spend_whole_order | free_shipping |                |              | 45.00     |
        | best_platform.PS_a       | platform_shipping_discount | best_platform         | amount_off    | 2.00           |              |           |
        | best_platform.PS_b       | platform_shipping_discount | best_platform         | percent_off   | 50             |              |           |
        | tie_smaller_id.Z2        | platform_shipping_discount | tie_smaller_id        | amount_off    | 4.00           |              |           |
        | tie_smaller_id.Z10       | platform_shipping_discount | tie_smaller_id        | percent_off   | 50             |              |           |
        | one_line_suffices.PS     | platform_shipping_discount | one_line_suffices     | free_shipping |                |              |           |
        | no_covered_line.PS       | platform_shipping_discount | no_covered_line       | free_shipping |                |              |           |
        | seller_only.SS           | seller_shipping_discount   | seller_only           | free_shipping |                |              |           |
        | zero_fee.PS              | platform_shipping_discount | zero_fee              | free_shipping |                |              |           |
        | amount_above_fee.PS      | platform_shipping_discount | amount_above_fee      | amount_off    | 10.00          |              |           |
        | platform_opted_out.PS    | platform_shipping_discount | platform_opted_out    | free_shipping |                |              |           |
        | platform_opted_out.SS    | seller_shipping_discount   | platform_opted_out    | amount_off    | 3.00           |              |           |
        """,
        promotion_products="""
        | promotion_id         | product_id |
        | one_line_suffices.PS | P1         |
        | min_spend_whole_order.PS | P1     |
        | no_covered_line.PS   | P_OTHER    |
        """,
        opt_out_events="""
        | shop_id            | promotion_type             | changed_at           | participating |
        | platform_opted_out | platform_shipping_discount | 2025-05-01T00:00:00Z | false         |
        """,
    )
    assert_no_rejections(result)
    shipping = {
        row["order_id"]: (
            row["shipping_fee_cents"],
            row["platform_shipping_discount_cents"],
            row["seller_shipping_discount_cents"],
            row["customer_shipping_cents"],
        )
        for row in result.priced.order_shipping.iter_rows(named=True)
    }
    # (fee, platform discount, seller discount, customer-paid)
    assert shipping == {
        # Platform $3.00 first; the seller's $10.00 covers only the $5.00 left.
        "platform_then_seller": (800, 300, 500, 0),
        # Free shipping takes the whole fee: nothing left for the seller.
        "free_leaves_nothing": (800, 800, 0, 0),
        # 50 % of $8 = 400 capped at $3.00; the seller's 50 % is of the $5.00 left = 250.
        "percent_on_remainder": (800, 300, 250, 250),
        # 50 % of $7.99 = 399.5 → 400 (half up).
        "percent_half_up": (799, 400, 0, 399),
        # Product amount after step 4: $50 - $10 coupon = $40: misses the platform's $45
        # min_spend, meets the seller's $40 exactly.
        "min_spend_after_step4": (800, 0, 800, 0),
        # Covering only P1 ($10) is enough to apply, and min_spend is held against the whole
        # order's product amount ($50 >= $45), not the covered lines as for a coupon.
        "min_spend_whole_order": (800, 800, 0, 0),
        # Best platform discount: 50 % (400) over $2.00.
        "best_platform": (800, 400, 0, 400),
        # $4.00 and 50 % tie at 400: the smaller id "…Z10" (checked below).
        "tie_smaller_id": (800, 400, 0, 400),
        # It applies to one of the order's lines, so to the order: the whole fee.
        "one_line_suffices": (800, 800, 0, 0),
        # It applies to none of them.
        "no_covered_line": (800, 0, 0, 800),
        "seller_only": (600, 0, 600, 0),
        "zero_fee": (0, 0, 0, 0),
        # amount_off is min(v, fee).
        "amount_above_fee": (800, 800, 0, 0),
        # The shop opted out of the platform's shipping discount: the seller's $3.00 comes off
        # the whole fee.
        "platform_opted_out": (800, 0, 300, 500),
    }
    step5 = discount_rows(result, "5")
    assert step5["tie_smaller_id"] == [(None, "tie_smaller_id.Z10", "5", 400)]
    assert step5["platform_then_seller"] == [
        (None, "platform_then_seller.PS", "5", 300),
        (None, "platform_then_seller.SS", "5", 500),
    ]
    # A zero discount is no row: free_leaves_nothing has the platform's row only; zero_fee none.
    assert step5["free_leaves_nothing"] == [(None, "free_leaves_nothing.PS", "5", 800)]
    assert step5["zero_fee"] == []


# ---------------------------------------------------------------- every step on one order


def test_every_step_on_one_order_and_the_discount_lines_columns():
    # Line A: 2 × $20.00, line B: 1 × $10.00, shipping $6.00. Every promotion covers both lines.
    result = run(
        orders="""
        | order_id | shop_id | shipping_fee | seller_coupon_id | platform_coupon_id |
        | O1       | S1      | 6.00         | SC               | PC                 |
        """,
        order_lines="""
        | order_id | sku_id | product_id | unit_price | quantity |
        | O1       | A      | P1         | 20.00      | 2        |
        | O1       | B      | P2         | 10.00      | 1        |
        """,
        promotions="""
        | promotion_id | promotion_type             | shop_id | discount_kind | discount_value | min_quantity | min_spend |
        | PD           | product_discount           | S1      | percent_off   | 10             |              |           |
        | PI           | product_incentive          |         | amount_off    | 1.00           |              |           |
        | SB           | seller_bmsm                | S1      | amount_off    | 4.20           | 3            |           |
        | PB           | platform_bmsm              |         | percent_off   | 10             |              | 30.00     |
        | SC           | seller_coupon              | S1      | amount_off    | 2.00           |              |           |
        | PC           | product_coupon             |         | percent_off   | 5              |              |           |
        | PS           | platform_shipping_discount |         | amount_off    | 2.50           |              | 30.00     |
        | SS           | seller_shipping_discount   | S1      | percent_off   | 50             |              |           |
        """,
    )
    assert_no_rejections(result)
    assert discount_rows(result)["O1"] == [
        # 1: 10 % off $20.00 = 200 per unit (× 2 = 400) and off $10.00 = 100. Prices 1800 / 900.
        ("A", "PD", "1", 400),
        ("B", "PD", "1", 100),
        # 2: $1.00 per unit off the step-1 prices: 200 and 100. Running A 3400, B 800.
        ("A", "PI", "2", 200),
        ("B", "PI", "2", 100),
        # 3a: qty 3 reaches min 3; $4.20 over 3400 : 800 = 340 and 80 exactly. Running 3060, 720.
        ("A", "SB", "3a", 340),
        ("B", "SB", "3a", 80),
        # 3b: base 3780 >= $30; 10 % = 378 over 3060 : 720 = 306 and 72. Running 2754, 648.
        ("A", "PB", "3b", 306),
        ("B", "PB", "3b", 72),
        # 4a: $2.00 over 2754 : 648: 161.9 and 38.1 → floors 161 + 38, the cent left to A
        # (remainder 3078/3402 > 324/3402). Running 2592, 610.
        ("A", "SC", "4a", 162),
        ("B", "SC", "4a", 38),
        # 4b: 5 % of 3202 = 160.1 → 160 over 2592 : 610: 129.5 and 30.5 → floors 129 + 30, the cent
        # to A (remainder 1662 > 1540). Running 2462, 580 (product amount 3042).
        ("A", "PC", "4b", 130),
        ("B", "PC", "4b", 30),
        # 5: 3042 >= $30: platform $2.50 off $6.00; the seller's 50 % of the 350 left = 175.
        (None, "PS", "5", 250),
        (None, "SS", "5", 175),
    ]
    lines = {
        row["sku_id"]: (
            row["list_amount_cents"],
            row["seller_discount_cents"],
            row["platform_discount_cents"],
            row["final_amount_cents"],
        )
        for row in result.priced.line_amounts.iter_rows(named=True)
    }
    # Seller = steps 1, 3a, 4a; platform = 2, 3b, 4b; final = list - seller - platform.
    assert lines == {
        "A": (4000, 400 + 340 + 162, 200 + 306 + 130, 2462),
        "B": (1000, 100 + 80 + 38, 100 + 72 + 30, 580),
    }
    published = result.published()["discount_lines"]
    assert published.columns == ["order_id", "sku_id", "promotion_id", "promotion_type", "funded_by", "step", "amount"]
    assert published.schema["amount"] == pl.Decimal(18, 2)
    assert published.filter(pl.col("promotion_id") == "SS")["amount"].item() == Decimal("1.75")
    funded = dict(zip(published["promotion_type"], published["funded_by"], strict=True))
    assert funded == {
        "product_discount": "seller",
        "product_incentive": "platform",
        "seller_bmsm": "seller",
        "platform_bmsm": "platform",
        "seller_coupon": "seller",
        "product_coupon": "platform",
        "platform_shipping_discount": "platform",
        "seller_shipping_discount": "seller",
    }
    # The coupon checks carry the same amounts as the coupon's discount lines.
    assert coupon_checks(result)["O1"] == [
        ("product_coupon", "PC", "applied", None, 160),
        ("seller_coupon", "SC", "applied", None, 200),
    ]


# ---------------------------------------------------------------- properties

CREATED = ["2025-05-15T10:00:00Z", "2025-06-01T00:00:00Z", "2025-06-15T10:00:00Z", "2025-07-15T10:00:00Z"]
STARTS = ["2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"]
ENDS = ["2025-06-15T10:00:00Z", "2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z"]
CHANGED = [
    "2025-05-01T00:00:00Z",
    "2025-06-01T00:00:00Z",
    "2025-06-10T00:00:00Z",
    "2025-07-01T00:00:00Z",
    "2025-07-15T10:00:00Z",
]
PRODUCTS = ["P1", "P2", "P3"]
SHOPS = ["S1", "S2", "S3"]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def cents_st(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(money)


def discount_value(kind: str) -> st.SearchStrategy[str | None]:
    return {
        "percent_off": st.integers(1, 10_000).map(money),  # 0.01 % … 100 %, in percent units
        "amount_off": cents_st(1, 3_000),
        "fixed_price": cents_st(0, 5_000),
        "free_shipping": st.none(),
    }[kind]


@st.composite
def promotion(draw, promotion_id: str) -> tuple[list[dict], list[dict]]:
    """The tier rows and scope rows of one valid promotion of a random type."""
    ptype = draw(st.sampled_from(PROMOTION_TYPES))
    kind = draw(st.sampled_from(ALLOWED_KINDS[ptype]))
    shops = SHOPS if ptype in SELLER_TYPES else [*SHOPS, None]
    header = {
        "promotion_id": promotion_id,
        "promotion_type": ptype,
        "shop_id": draw(st.sampled_from(shops)),
        "starts_at": draw(st.sampled_from(STARTS)),
        "ends_at": draw(st.sampled_from(ENDS)),
        "discount_kind": kind,
        "max_discount": draw(st.none() | cents_st(0, 1_500)) if kind == "percent_off" else None,
        "condition": draw(st.sampled_from(["none", "none", "live_only", "new_buyer"])),
        "campaign_id": draw(st.sampled_from([None, "BLACK_FRIDAY"])),
    }
    rows = []
    for tier in range(1, (draw(st.integers(1, 3)) if ptype in BMSM_TYPES else 1) + 1):
        min_quantity = min_spend = None
        if ptype in BMSM_TYPES:
            which = draw(st.sampled_from(["quantity", "spend", "both"]))
            if which in ("quantity", "both"):
                min_quantity = str(draw(st.integers(1, 4)))
            if which in ("spend", "both"):
                min_spend = draw(cents_st(0, 5_000))
        elif ptype in COUPON_TYPES + SHIPPING_TYPES:
            min_spend = draw(st.none() | cents_st(0, 5_000))
        rows.append(
            header
            | {
                "tier": str(tier),
                "discount_value": draw(discount_value(kind)),
                "min_spend": min_spend,
                "min_quantity": min_quantity,
            }
        )
    scope = draw(st.none() | st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True))
    return rows, [{"promotion_id": promotion_id, "product_id": p} for p in scope or []]


@st.composite
def scenarios(draw, max_orders: int = 12, max_promotions: int = 18) -> dict[str, list[dict]]:
    """Raw input tables (strings, as `run` takes them) for a few orders and random promotions."""
    promotions, scope = [], []
    for i in range(draw(st.integers(0, max_promotions))):
        rows, scope_rows = draw(promotion(f"X{i}"))
        promotions += rows
        scope += scope_rows
    # Claims: mostly coupons (so that some apply), sometimes another type or an unknown id.
    coupons = sorted({r["promotion_id"] for r in promotions if r["promotion_type"] in COUPON_TYPES})
    claimable = [None, None, "NO_SUCH_COUPON", *sorted({r["promotion_id"] for r in promotions}), *coupons, *coupons]
    orders, lines = [], []
    for n in range(1, draw(st.integers(1, max_orders)) + 1):
        order_id = f"O{n}"
        orders.append(
            {
                "order_id": order_id,
                "shop_id": draw(st.sampled_from(SHOPS)),
                "created_at": draw(st.sampled_from(CREATED)),
                "channel": draw(st.sampled_from(["live", "video", "shop"])),
                "buyer_is_new": draw(st.sampled_from(["true", "false"])),
                "shipping_fee": draw(cents_st(0, 1_500)),
                "sales_tax": draw(cents_st(0, 500)),
                "seller_coupon_id": draw(st.sampled_from(claimable)),
                "platform_coupon_id": draw(st.sampled_from(claimable)),
            }
        )
        for sku in "ABC"[: draw(st.integers(1, 3))]:
            lines.append(
                {
                    "order_id": order_id,
                    "sku_id": sku,
                    "product_id": draw(st.sampled_from(PRODUCTS)),
                    "quantity": str(draw(st.integers(1, 4))),
                    "unit_price": draw(cents_st(1, 5_000)),
                }
            )
    # Distinct (shop, type, changed_at): no same-instant ties, whose outcome depends on row order.
    events = draw(
        st.lists(
            st.tuples(st.sampled_from(SHOPS), st.sampled_from(PLATFORM_TYPES), st.sampled_from(CHANGED), st.booleans()),
            max_size=4,
            unique_by=lambda e: e[:3],
        )
    )
    tables = {
        "orders": orders,
        "order_lines": lines,
        "promotions": promotions,
        "promotion_products": scope,
        "opt_out_events": [
            {"shop_id": s, "promotion_type": t, "changed_at": c, "participating": str(p).lower()}
            for s, t, c, p in events
        ],
    }
    return {name: rows for name, rows in tables.items() if rows}


# A run costs about half a second whatever its size, so each example is a batch of up to a dozen
# orders in three shops and the example counts stay small: 15 examples price ~100 random orders.
PROPERTY = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(scenario=scenarios())
def test_amounts_are_never_negative_and_the_identities_hold(scenario):
    result = run(**scenario)
    assert_no_rejections(result)
    priced = result.priced
    discounts, lines, shipping = priced.discount_lines, priced.line_amounts, priced.order_shipping

    # Every discount row is > 0 and sits at its type's step with its type's funder; only
    # shipping rows (step 5) have no SKU. Every other amount is >= 0.
    assert (discounts["amount_cents"] > 0).all()
    for row in discounts.select("sku_id", "promotion_type", "funded_by", "step").unique().iter_rows(named=True):
        assert row["step"] == STEP_OF_TYPE[row["promotion_type"]]
        assert row["funded_by"] == ("platform" if row["promotion_type"] in PLATFORM_TYPES else "seller")
        assert (row["sku_id"] is None) == (row["step"] == "5")
    for frame, columns in (
        (lines, ["seller_discount_cents", "platform_discount_cents", "final_amount_cents"]),
        (shipping, ["platform_shipping_discount_cents", "seller_shipping_discount_cents", "customer_shipping_cents"]),
        (priced.blocked_incentives, ["would_be_discount_cents"]),
        (priced.coupon_checks, ["discount_cents"]),
    ):
        for column in columns:
            assert (frame[column] >= 0).all(), column

    # Line identity: list - seller - platform = final, where seller and platform are the line's
    # discount rows of each funder.
    by_funder: dict[tuple, int] = defaultdict(int)
    for row in discounts.filter(pl.col("sku_id").is_not_null()).iter_rows(named=True):
        by_funder[(row["order_id"], row["sku_id"], row["funded_by"])] += row["amount_cents"]
    for row in lines.iter_rows(named=True):
        key = (row["order_id"], row["sku_id"])
        assert row["list_amount_cents"] == row["unit_price_cents"] * row["quantity"]
        assert row["seller_discount_cents"] == by_funder[(*key, "seller")]
        assert row["platform_discount_cents"] == by_funder[(*key, "platform")]
        assert (
            row["list_amount_cents"] - row["seller_discount_cents"] - row["platform_discount_cents"]
            == row["final_amount_cents"]
        )

    # Shipping identity: fee = platform + seller + customer-paid, matching the step-5 rows.
    step5: dict[tuple, int] = defaultdict(int)
    for row in discounts.filter(pl.col("step") == "5").iter_rows(named=True):
        step5[(row["order_id"], row["funded_by"])] += row["amount_cents"]
    for row in shipping.iter_rows(named=True):
        assert row["shipping_fee_cents"] == (
            row["platform_shipping_discount_cents"]
            + row["seller_shipping_discount_cents"]
            + row["customer_shipping_cents"]
        )
        assert row["platform_shipping_discount_cents"] == step5[(row["order_id"], "platform")]
        assert row["seller_shipping_discount_cents"] == step5[(row["order_id"], "seller")]

    # One promotion per unit-price step per line; one per order for each BMSM, coupon and
    # shipping step (shipping: one per funder); a flash-priced line has no step 2 or 3a row.
    unit = (
        discounts.filter(pl.col("step").is_in(["1", "2"]))
        .group_by("order_id", "sku_id", "step")
        .agg(pl.col("promotion_id").n_unique())
    )
    assert (unit["promotion_id"] == 1).all()
    order_level = (
        discounts.filter(~pl.col("step").is_in(["1", "2"]))
        .group_by("order_id", "step", "funded_by")
        .agg(pl.col("promotion_id").n_unique())
    )
    assert (order_level["promotion_id"] == 1).all()
    flash_lines = lines.filter(pl.col("is_flash_priced")).select("order_id", "sku_id")
    assert discounts.filter(pl.col("step").is_in(["2", "3a"])).join(flash_lines, on=["order_id", "sku_id"]).height == 0

    # An applied coupon's discount is the sum of its rows; a rejected one gives nothing.
    coupon_rows: dict[tuple, int] = defaultdict(int)
    for row in discounts.filter(pl.col("step").is_in(["4a", "4b"])).iter_rows(named=True):
        coupon_rows[(row["order_id"], row["promotion_type"])] += row["amount_cents"]
    for row in priced.coupon_checks.iter_rows(named=True):
        assert coupon_rows[(row["order_id"], row["coupon_type"])] == row["discount_cents"]
        if row["status"] == "applied":
            assert row["reason"] is None
        else:
            assert row["discount_cents"] == 0 and row["reason"] is not None


# ---------------------------------------------------------------- a plain reading of docs/stacking.md


def _cents(text: str | None) -> int | None:
    return None if text is None else int(Decimal(text) * 100)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)  # numerator >= 0


def _off(base: int, kind: str, value: int | None, cap: int | None) -> int:
    """The discount of one promotion on `base`, as docs/stacking.md states each formula."""
    if kind == "percent_off":
        discount = _half_up(base * value, 10_000)  # value in hundredths of a percent
        return discount if cap is None else min(discount, cap)
    if kind == "amount_off":
        return min(value, base)
    if kind == "fixed_price":
        return base - min(value, base)
    return base  # free_shipping


def _best(offers: list[tuple[int, str]]) -> tuple[int, str] | None:
    """(discount, promotion_id) with the largest discount, ties to the smaller id."""
    return min(offers, key=lambda o: (-o[0], o[1]), default=None)


def spec_reference(scenario: dict[str, list[dict]]) -> tuple[set, set, set]:
    """docs/stacking.md steps 1–5 in plain Python, one order at a time, straight from the text.

    Returns the discount_lines as {(order, sku, promotion, step, cents)}, the coupon checks as
    {(order, coupon type, coupon id, status, reason, cents)} and the blocked incentives as
    {(order, sku, incentive, flash deal, cents)}. Assumes valid input (as `scenarios` makes).
    """
    promos: dict[str, dict] = {}
    for row in scenario.get("promotions", []):
        header = promos.setdefault(row["promotion_id"], row | {"tiers": []})
        header["tiers"].append(
            (
                int(row["tier"]),
                _cents(row["discount_value"]),
                _cents(row["min_spend"]),
                None if row["min_quantity"] is None else int(row["min_quantity"]),
            )
        )
    scope: dict[str, set] = defaultdict(set)
    for row in scenario.get("promotion_products", []):
        scope[row["promotion_id"]].add(row["product_id"])
    events = scenario.get("opt_out_events", [])

    def participates(shop: str, ptype: str, t: datetime) -> bool:
        past = [
            (_instant(e["changed_at"]), i, e["participating"] == "true")
            for i, e in enumerate(events)
            if e["shop_id"] == shop and e["promotion_type"] == ptype and _instant(e["changed_at"]) <= t
        ]
        return max(past)[2] if past else True  # the last by time, ties to the later row

    def applies(p: dict, order: dict, line: dict) -> bool:
        t = _instant(order["created_at"])
        return (
            _instant(p["starts_at"]) <= t < _instant(p["ends_at"])
            and p["shop_id"] in (None, order["shop_id"])
            and (not scope[p["promotion_id"]] or line["product_id"] in scope[p["promotion_id"]])
            and (
                p["condition"] == "none"
                or (p["condition"] == "live_only" and order["channel"] == "live")
                or (p["condition"] == "new_buyer" and order["buyer_is_new"] == "true")
            )
            and (p["promotion_type"] not in PLATFORM_TYPES or participates(order["shop_id"], p["promotion_type"], t))
        )

    def of_type(ptype: str, order: dict, line: dict) -> list[dict]:
        return [p for p in promos.values() if p["promotion_type"] == ptype and applies(p, order, line)]

    rows, checks, blocked = set(), set(), set()
    for order in scenario["orders"]:
        oid = order["order_id"]
        lines = sorted(
            (line for line in scenario["order_lines"] if line["order_id"] == oid), key=lambda line: line["sku_id"]
        )
        running, flash_priced = {}, set()

        def unit_offers(ptype: str, line: dict, price: int) -> list[tuple[int, str]]:
            return [
                (_off(price, p["discount_kind"], p["tiers"][0][1], _cents(p["max_discount"])), p["promotion_id"])
                for p in of_type(ptype, order, line)
            ]

        # Steps 1 and 2: unit prices.
        for line in lines:
            sku, qty, price = line["sku_id"], int(line["quantity"]), _cents(line["unit_price"])
            flash = _best(unit_offers("flash_deal", line, price))
            chosen = flash or _best(unit_offers("product_discount", line, price))
            if flash:
                flash_priced.add(sku)
            if chosen and chosen[0] > 0:
                rows.add((oid, sku, chosen[1], "1", chosen[0] * qty))
            price -= chosen[0] if chosen else 0
            incentives = unit_offers("product_incentive", line, price)
            if flash:
                blocked |= {(oid, sku, pid, flash[1], d * qty) for d, pid in incentives}
            elif (best := _best(incentives)) and best[0] > 0:
                rows.add((oid, sku, best[1], "2", best[0] * qty))
                price -= best[0]
            running[sku] = price * qty

        def take(step: str, pid: str, discount: int, covered: list[dict]) -> None:
            skus = [line["sku_id"] for line in covered]
            parts = largest_remainder(discount, [running[s] for s in skus], skus)
            for sku, part in zip(skus, parts, strict=True):
                running[sku] -= part
                if part > 0:
                    rows.add((oid, sku, pid, step, part))

        def order_discount(p: dict, base: int, value: int) -> int:
            return _off(base, p["discount_kind"], value, _cents(p["max_discount"]))

        # Step 3: Buy More Save More, seller then platform; the best reached tier of the best promotion.
        for step, ptype in (("3a", "seller_bmsm"), ("3b", "platform_bmsm")):
            offers = []
            for p in (p for p in promos.values() if p["promotion_type"] == ptype):
                covered = [
                    line
                    for line in lines
                    if applies(p, order, line) and not (ptype == "seller_bmsm" and line["sku_id"] in flash_priced)
                ]
                qty, base = (
                    sum(int(line["quantity"]) for line in covered),
                    sum(running[line["sku_id"]] for line in covered),
                )
                reached = [
                    (order_discount(p, base, v), tier)
                    for tier, v, spend, min_qty in p["tiers"]
                    if covered and (min_qty is None or qty >= min_qty) and (spend is None or base >= spend)
                ]
                if reached:
                    offers.append((max(reached)[0], p["promotion_id"], covered))  # ties: the higher tier
            if offers:
                discount, pid, covered = min(offers, key=lambda o: (-o[0], o[1]))
                take(step, pid, discount, covered)

        # Step 4: claimed coupons, seller then platform, first failing reason in docs/stacking.md's order.
        for step, ctype, claim in (
            ("4a", "seller_coupon", "seller_coupon_id"),
            ("4b", "product_coupon", "platform_coupon_id"),
        ):
            cid = order[claim]
            if cid is None:
                continue
            p, t = promos.get(cid), _instant(order["created_at"])
            covered = [line for line in lines if p and applies(p, order, line)]
            base = sum(running[line["sku_id"]] for line in covered)
            spend = p and p["tiers"][0][2]
            reason = (
                "unknown"
                if p is None
                else "wrong_type"
                if p["promotion_type"] != ctype
                else "wrong_shop"
                if p["shop_id"] not in (None, order["shop_id"])
                else "not_active"
                if not _instant(p["starts_at"]) <= t < _instant(p["ends_at"])
                else "condition"
                if (p["condition"] == "live_only" and order["channel"] != "live")
                or (p["condition"] == "new_buyer" and order["buyer_is_new"] != "true")
                else "opted_out"
                if ctype in PLATFORM_TYPES and not participates(order["shop_id"], ctype, t)
                else "no_covered_product"
                if not covered
                else "min_spend"
                if spend is not None and base < spend
                else None
            )
            discount = 0 if reason else order_discount(p, base, p["tiers"][0][1])
            checks.add((oid, ctype, cid, "rejected" if reason else "applied", reason, discount))
            if not reason:
                take(step, cid, discount, covered)

        # Step 5: shipping, platform first, the seller's on what is left.
        product_amount, fee = sum(running.values()), _cents(order["shipping_fee"])
        for ptype in ("platform_shipping_discount", "seller_shipping_discount"):
            offers = [
                (_off(fee, p["discount_kind"], p["tiers"][0][1], _cents(p["max_discount"])), p["promotion_id"])
                for p in promos.values()
                if p["promotion_type"] == ptype
                and any(applies(p, order, line) for line in lines)
                and (p["tiers"][0][2] is None or product_amount >= p["tiers"][0][2])
            ]
            if (best := _best(offers)) and best[0] > 0:
                rows.add((oid, None, best[1], "5", best[0]))
                fee -= best[0]
    return rows, checks, blocked


@PROPERTY
@given(scenario=scenarios())
def test_random_orders_price_as_the_spec_reads(scenario):
    result = run(**scenario)
    assert_no_rejections(result)
    rows, checks, blocked = spec_reference(scenario)
    priced = result.priced
    assert (
        set(priced.discount_lines.select("order_id", "sku_id", "promotion_id", "step", "amount_cents").rows()) == rows
    )
    assert (
        set(
            priced.coupon_checks.select(
                "order_id", "coupon_type", "coupon_id", "status", "reason", "discount_cents"
            ).rows()
        )
        == checks
    )
    assert set(priced.blocked_incentives.rows()) == blocked
    assert priced.discount_lines.height == len(rows)


def _copy(
    scenario: dict[str, list[dict]], prefix: str, *, drop: frozenset = frozenset(), opt_out: frozenset = frozenset()
) -> dict[str, list[dict]]:
    """The scenario under prefixed ids (its own shops, orders and promotions), without the
    promotions of the `drop` types and with the shops opted out of the `opt_out` types from
    before any order (the generated events of those types removed). Promotions for all shops
    are pinned to the copy's S1, so that one copy never reaches another."""

    def p(value: str | None) -> str | None:
        return None if value is None else prefix + value

    changed = drop | opt_out
    promotions = [
        r | {"promotion_id": p(r["promotion_id"]), "shop_id": p(r["shop_id"] or "S1")}
        for r in scenario.get("promotions", [])
        if r["promotion_type"] not in drop
    ]
    kept = {r["promotion_id"] for r in promotions}
    events = [
        r | {"shop_id": p(r["shop_id"])}
        for r in scenario.get("opt_out_events", [])
        if r["promotion_type"] not in changed
    ]
    events += [
        {"shop_id": p(shop), "promotion_type": t, "changed_at": "2025-01-01T00:00:00Z", "participating": "false"}
        for shop in SHOPS
        for t in sorted(opt_out)
    ]
    return {
        "orders": [
            r | {k: p(r[k]) for k in ("order_id", "shop_id", "seller_coupon_id", "platform_coupon_id")}
            for r in scenario["orders"]
        ],
        "order_lines": [r | {"order_id": p(r["order_id"])} for r in scenario["order_lines"]],
        "promotions": promotions,
        "promotion_products": [
            r | {"promotion_id": p(r["promotion_id"])}
            for r in scenario.get("promotion_products", [])
            if p(r["promotion_id"]) in kept
        ],
        "opt_out_events": events,
    }


def _of_copy(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """The rows of one copy, ids without the copy's prefix, sorted by every column."""
    ids = [
        c
        for c in ("order_id", "promotion_id", "incentive_promotion_id", "flash_promotion_id", "coupon_id")
        if c in frame.columns
    ]
    rows = frame.filter(pl.col("order_id").str.starts_with(prefix)).with_columns(
        pl.col(c).str.strip_prefix(prefix) for c in ids
    )
    return rows.sort(rows.columns, nulls_last=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios(max_orders=8), opted_out=st.sets(st.sampled_from(PLATFORM_TYPES), min_size=1).map(frozenset))
def test_opting_out_removes_exactly_that_types_discounts(scenario, opted_out):
    # Three copies in one run: `a.` as generated, `b.` opted out of the chosen platform types,
    # `c.` with the promotions of those types deleted instead. Opting out must be the same as
    # those promotions not existing (seller promotions and other types priced as usual), and
    # the steps before the first opted-out one must not move at all.
    tables: dict[str, list[dict]] = defaultdict(list)
    for copy in (
        _copy(scenario, "a."),
        _copy(scenario, "b.", opt_out=opted_out),
        _copy(scenario, "c.", drop=opted_out),
    ):
        for name, rows in copy.items():
            tables[name] += rows
    result = run(**{name: rows for name, rows in tables.items() if rows})
    assert_no_rejections(result)
    priced = result.priced

    for frame in (priced.discount_lines, priced.line_amounts, priced.order_shipping, priced.blocked_incentives):
        assert _of_copy(frame, "b.").equals(_of_copy(frame, "c."))
    opted_discounts = _of_copy(priced.discount_lines, "b.")
    assert opted_discounts.filter(pl.col("promotion_type").is_in(list(opted_out))).height == 0
    assert (
        _of_copy(priced.coupon_checks, "b.")
        .filter(pl.col("coupon_type").is_in(list(opted_out)) & (pl.col("status") == "applied"))
        .height
        == 0
    )

    first = min(STEPS.index(STEP_OF_TYPE[t]) for t in opted_out)
    earlier = pl.col("step").is_in(list(STEPS[:first]))
    assert _of_copy(priced.discount_lines, "a.").filter(earlier).equals(opted_discounts.filter(earlier))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios(), rnd=st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_input_row_order(scenario, rnd):
    shuffled = {}
    for name, rows in scenario.items():
        rows = list(rows)
        rnd.shuffle(rows)
        shuffled[name] = rows
    first, second = run(**scenario), run(**shuffled)

    def canonical(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.sort(frame.columns, nulls_last=True)

    for name in ("discount_lines", "blocked_incentives", "coupon_checks", "line_amounts", "order_shipping"):
        assert canonical(getattr(first.priced, name)).equals(canonical(getattr(second.priced, name))), name
