"""Staging truth tables (docs/stacking.md): each rejection reason, dependants, and nothing lost."""

from datetime import UTC, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera import errors as pa_errors

from schemas.inputs import INPUT_TABLES, REASONS
from schemas.staged import STAGED_MODELS, StagedOrders
from tests.conftest import inputs, raw
from transforms.staging import InputContractError, stage

BASE = dict(
    orders="""
    | order_id | created_at           | shipping_fee | actual_shipping_fee | delivered_at         |
    | O1       | 2025-06-01T12:00:00Z | 5.99         | 3.10                | 2025-06-03T12:00:00Z |
    | O2       | 2025-06-02T12:00:00Z | 0            | 3.10                | null                 |
    """,
    order_lines="""
    | order_id | sku_id | product_id | quantity | unit_price |
    | O1       | a      | P1         | 2        | 10.00      |
    | O1       | b      | P2         | 1        | 25.00      |
    | O2       | a      | P1         | 1        | 10.00      |
    """,
    promotions="""
    | promotion_id | tier | promotion_type | discount_kind | discount_value | min_quantity | min_spend |
    | FD1          | 1    | flash_deal     | percent_off   | 20             |              |           |
    | SB1          | 1    | seller_bmsm    | percent_off   | 5              | 2            |           |
    | SB1          | 2    | seller_bmsm    | percent_off   | 10             | 4            |           |
    """,
    promotion_products="""
    | promotion_id | product_id |
    | FD1          | P1         |
    """,
    refunds="""
    | refund_id | order_id | sku_id | quantity | refunded_at          |
    | R1        | O1       | a      | 1        | 2025-06-05T00:00:00Z |
    """,
)


def staged_with(**changes: str) -> pl.DataFrame:
    tables = {**BASE, **changes}
    return stage(inputs(**tables)).rejected_rows


def reasons(rejected: pl.DataFrame) -> set[tuple[str, str, str, str]]:
    return set(rejected.select("table", "key", "column", "reason").iter_rows())


def test_clean_base_rejects_nothing_and_meets_the_staged_contracts():
    staged = stage(inputs(**BASE))
    assert staged.rejected_rows.height == 0
    for name, model in STAGED_MODELS.items():
        model.validate(staged.tables[name], lazy=True)


def test_staged_contract_catches_what_staging_must_never_let_through():
    orders = stage(inputs(**BASE)).tables["orders"].with_columns(pl.lit(-1, pl.Int64).alias("shipping_fee_cents"))
    with pytest.raises(pa_errors.SchemaErrors, match="shipping_fee_cents"):
        StagedOrders.validate(orders, lazy=True)


# Each case: the table replaced, and the rejections expected (table, key, column, reason).
# The key is the table's key joined by "|"; dependants follow their parent.
CASES = [
    (
        "duplicate order_id rejects both rows, their lines and refunds follow",
        {
            "orders": """
        | order_id | created_at           | shipping_fee | actual_shipping_fee |
        | O1       | 2025-06-01T12:00:00Z | 1            | 1                   |
        | O1       | 2025-06-01T12:00:00Z | 1            | 1                   |
        | O2       | 2025-06-02T12:00:00Z | 1            | 1                   |
        """
        },
        {
            ("orders", "O1", "order_id", "duplicate_key"),
            ("order_lines", "O1|a", "order_id", "order_rejected"),
            ("order_lines", "O1|b", "order_id", "order_rejected"),
            ("refunds", "R1", "order_id", "order_rejected"),
        },
    ),
    (
        "sub-cent money is rejected, never rounded; the order goes with its line",
        {
            "order_lines": """
        | order_id | sku_id | product_id | quantity | unit_price |
        | O1       | a      | P1         | 2        | 10.005     |
        | O1       | b      | P2         | 1        | 25.00      |
        | O2       | a      | P1         | 1        | 10.00      |
        """
        },
        {
            ("order_lines", "O1|a", "unit_price", "sub_cent"),
            ("orders", "O1", "order_id", "line_rejected"),
            ("order_lines", "O1|b", "order_id", "order_rejected"),
            ("refunds", "R1", "order_id", "order_rejected"),
        },
    ),
    (
        "quantity 0 is out of range",
        {
            "order_lines": """
        | order_id | sku_id | product_id | quantity | unit_price |
        | O1       | a      | P1         | 2        | 10.00      |
        | O1       | b      | P2         | 1        | 25.00      |
        | O2       | a      | P1         | 0        | 10.00      |
        """
        },
        {("order_lines", "O2|a", "quantity", "out_of_range"), ("orders", "O2", "order_id", "line_rejected")},
    ),
    (
        "a naive timestamp is rejected, never assumed UTC",
        {
            "orders": """
        | order_id | created_at          | shipping_fee | actual_shipping_fee |
        | O1       | 2025-06-01T12:00:00Z | 1           | 1                   |
        | O2       | 2025-06-02 12:00:00 | 1            | 1                   |
        """
        },
        {("orders", "O2", "created_at", "naive_timestamp"), ("order_lines", "O2|a", "order_id", "order_rejected")},
    ),
    (
        "a bad channel enum; and an order with no lines",
        {
            "orders": """
        | order_id | created_at           | shipping_fee | actual_shipping_fee | channel |
        | O1       | 2025-06-01T12:00:00Z | 1            | 1                   | shop    |
        | O2       | 2025-06-02T12:00:00Z | 1            | 1                   | tv      |
        | O3       | 2025-06-02T12:00:00Z | 1            | 1                   | live    |
        """
        },
        {
            ("orders", "O2", "channel", "bad_enum"),
            ("order_lines", "O2|a", "order_id", "order_rejected"),
            ("orders", "O3", "order_id", "no_lines"),
        },
    ),
    (
        "a line of an unknown order; delivered before created",
        {
            "order_lines": """
            | order_id | sku_id | product_id | quantity | unit_price |
            | O1       | a      | P1         | 2        | 10.00      |
            | O1       | b      | P2         | 1        | 25.00      |
            | O2       | a      | P1         | 1        | 10.00      |
            | O9       | a      | P1         | 1        | 10.00      |
            """,
            "orders": """
            | order_id | created_at           | shipping_fee | actual_shipping_fee | delivered_at         |
            | O1       | 2025-06-01T12:00:00Z | 1            | 1                   | 2025-05-01T00:00:00Z |
            | O2       | 2025-06-02T12:00:00Z | 1            | 1                   | null                 |
            """,
        },
        {
            ("order_lines", "O9|a", "order_id", "unknown_order"),
            ("orders", "O1", "delivered_at", "delivered_before_created"),
            ("order_lines", "O1|a", "order_id", "order_rejected"),
            ("order_lines", "O1|b", "order_id", "order_rejected"),
            ("refunds", "R1", "order_id", "order_rejected"),
        },
    ),
    (
        "a shop's currency is its earliest order's; an order older than the fee schedule",
        {
            "orders": """
        | order_id | created_at           | shipping_fee | actual_shipping_fee | currency |
        | O1       | 2025-06-01T12:00:00Z | 1            | 1                   | USD      |
        | O2       | 2025-06-02T12:00:00Z | 1            | 1                   | EUR      |
        | O3       | 2024-02-01T12:00:00Z | 1            | 1                   | USD      |
        """,
            "order_lines": """
        | order_id | sku_id | product_id | quantity | unit_price |
        | O1       | a      | P1         | 2        | 10.00      |
        | O1       | b      | P2         | 1        | 25.00      |
        | O2       | a      | P1         | 1        | 10.00      |
        | O3       | a      | P1         | 1        | 10.00      |
        """,
        },
        # O3 (2024-02-01) is the shop's earliest order: USD. It is itself older than the first
        # default fee row (2024-04-01), so it is rejected no_fee_rate; EUR O2 is foreign.
        {
            ("orders", "O2", "currency", "foreign_currency"),
            ("orders", "O3", "created_at", "no_fee_rate"),
            ("order_lines", "O2|a", "order_id", "order_rejected"),
            ("order_lines", "O3|a", "order_id", "order_rejected"),
        },
    ),
    (
        "a kind the type does not allow; tiers that disagree; a tier with no threshold",
        {
            "promotions": """
        | promotion_id | tier | promotion_type | discount_kind | discount_value | min_quantity | min_spend | condition |
        | FD1          | 1    | flash_deal     | percent_off   | 20             |              |           | none      |
        | SC1          | 1    | seller_coupon  | fixed_price   | 5              |              |           | none      |
        | SB1          | 1    | seller_bmsm    | percent_off   | 5              | 2            |           | none      |
        | SB1          | 2    | seller_bmsm    | percent_off   | 10             | 4            |           | live_only |
        | SB2          | 1    | seller_bmsm    | percent_off   | 5              |              |           | none      |
        | SB2          | 2    | seller_bmsm    | percent_off   | 10             | 4            |           | none      |
        """
        },
        {
            ("promotions", "SC1|1", "discount_kind", "kind_not_allowed"),
            ("promotions", "SB1|1", "promotion_id", "inconsistent_tiers"),
            ("promotions", "SB1|2", "promotion_id", "inconsistent_tiers"),
            ("promotions", "SB2|1", "min_quantity", "no_threshold"),
            ("promotions", "SB2|2", "promotion_id", "tier_rejected"),
        },
    ),
    (
        "a threshold the type does not allow; a percent over 100; ends before start",
        {
            "promotions": """
        | promotion_id | tier | promotion_type   | discount_kind | discount_value | min_spend | starts_at            | ends_at              |
        | FD1          | 1    | flash_deal       | percent_off   | 20             | 10        | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | PD1          | 1    | product_discount | percent_off   | 100.5          |           | 2025-01-01T00:00:00Z | 2026-01-01T00:00:00Z |
        | PD2          | 1    | product_discount | amount_off    | 1              |           | 2025-01-01T00:00:00Z | 2025-01-01T00:00:00Z |
        """
        },
        # FD1 is rejected, so its scope row goes with it.
        {
            ("promotions", "FD1|1", "min_spend", "threshold_not_allowed"),
            ("promotions", "PD1|1", "discount_value", "out_of_range"),
            ("promotions", "PD2|1", "ends_at", "ends_before_start"),
            ("promotion_products", "FD1|P1", "promotion_id", "promotion_rejected"),
        },
    ),
    (
        "a scope row of an unknown promotion; a promotion whose only scope row is rejected",
        {
            "promotion_products": """
        | promotion_id | product_id |
        | FD1          | P1         |
        | FD1          | P1         |
        | XX           | P1         |
        """
        },
        # Both FD1 rows share a key: both rejected, so FD1 lost its scope and is rejected
        # rather than silently widened to every product.
        {
            ("promotion_products", "FD1|P1", "product_id", "duplicate_key"),
            ("promotion_products", "XX|P1", "promotion_id", "unknown_promotion"),
            ("promotions", "FD1|1", "promotion_id", "scope_rejected"),
        },
    ),
    (
        "over-refund and a second shipping refund, in refund order",
        {
            "refunds": """
        | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
        | R1        | O1       | a      | 1        | 2025-06-05T00:00:00Z | true            |
        | R2        | O1       | a      | 2        | 2025-06-06T00:00:00Z | false           |
        | R3        | O1       | a      | 1        | 2025-06-07T00:00:00Z | false           |
        | R4        | O1       | b      | 1        | 2025-06-08T00:00:00Z | true            |
        | R5        | O1       | c      | 1        | 2025-06-08T00:00:00Z | false           |
        | R6        | O2       | a      | 1        | 2025-06-01T00:00:00Z | false           |
        """
        },
        # Line O1|a has 2 units: R1 takes 1, R2 asks 2 of the 1 left (over), R3 takes the last.
        # R4 is the order's second shipping refund. R5 names a SKU the order does not have.
        # R6 is dated before its order was created.
        {
            ("refunds", "R2", "quantity", "over_refund"),
            ("refunds", "R4", "refund_shipping", "shipping_already_refunded"),
            ("refunds", "R5", "sku_id", "unknown_line"),
            ("refunds", "R6", "refunded_at", "refunded_before_created"),
        },
    ),
    (
        "a flag with a default is still read strictly: text that is not a boolean is rejected, a blank takes the default",
        {
            "refunds": """
        | refund_id | order_id | sku_id | quantity | refunded_at          | refund_shipping |
        | R1        | O1       | a      | 1        | 2025-06-05T00:00:00Z | maybe           |
        | R2        | O1       | b      | 1        | 2025-06-05T00:00:00Z |                 |
        """
        },
        {("refunds", "R1", "refund_shipping", "invalid_value")},
    ),
]


@pytest.mark.parametrize(("why", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rejection_truth_table(why, changes, expected):
    assert reasons(staged_with(**changes)) == expected


def test_rejected_row_names_row_value_and_reason():
    rejected = staged_with(
        order_lines="""
    | order_id | sku_id | product_id | quantity | unit_price |
    | O1       | a      | P1         | 2        | 10.00      |
    | O1       | b      | P2         | 1        | 1.005      |
    | O2       | a      | P1         | 1        | 10.00      |
    """
    ).filter(pl.col("table") == "order_lines", pl.col("reason") == "sub_cent")
    assert rejected.row(0, named=True) == {
        "table": "order_lines",
        "row_number": 2,
        "key": "O1|b",
        "column": "unit_price",
        "reason": "sub_cent",
        "value": "1.005",
    }


def test_money_accepts_decimal_string_and_float_exactly():
    # 19.99 as a float has the shortest round-trip text "19.99": exactly 1999 cents.
    frames = inputs(**{k: v for k, v in BASE.items()})
    lines = frames["order_lines"].with_columns(pl.Series("unit_price", [19.99, 25.0, 0.1]))
    staged = stage({**frames, "order_lines": lines})
    assert staged.tables["order_lines"].sort("order_id", "sku_id")["unit_price_cents"].to_list() == [1999, 2500, 10]
    decimal_lines = frames["order_lines"].with_columns(pl.col("unit_price").cast(pl.Decimal(18, 3)))
    staged = stage({**frames, "order_lines": decimal_lines})
    assert staged.tables["order_lines"].sort("order_id", "sku_id")["unit_price_cents"].to_list() == [1000, 2500, 1000]


def test_timestamps_become_utc():
    staged = stage(
        inputs(
            **{
                **BASE,
                "orders": """
    | order_id | created_at                | shipping_fee | actual_shipping_fee |
    | O1       | 2025-06-01T08:00:00-04:00 | 1            | 1                   |
    | O2       | 2025-06-02T12:00:00Z      | 1            | 1                   |
    """,
            }
        )
    )
    assert staged.tables["orders"]["created_at"].to_list()[0] == datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_missing_required_column_names_table_and_column():
    frames = inputs(**BASE)
    with pytest.raises(InputContractError, match="order_lines: required column 'unit_price' is missing"):
        stage({**frames, "order_lines": frames["order_lines"].drop("unit_price")})


def test_every_reason_code_is_documented():
    rejected = pl.concat([staged_with(**changes) for _, changes, _ in CASES])
    assert set(rejected["reason"]) <= set(REASONS)


# ------------------------------------------------------------------ nothing lost

_cell = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "O1",
            "O2",
            "a",
            "b",
            "P1",
            "1",
            "2",
            "0",
            "-1",
            "1.005",
            "10.00",
            "abc",
            "true",
            "live",
            "2025-06-01T12:00:00Z",
            "2025-06-01 12:00:00",
            "2023-01-01T00:00:00Z",
            "USD",
            "EUR",
            "flash_deal",
            "seller_bmsm",
            "percent_off",
            "fixed_price",
            "150",
        ]
    ),
)


def _table_strategy(name: str, max_rows: int):
    columns = [c.name for c in INPUT_TABLES[name]]
    row = st.fixed_dictionaries({c: _cell for c in columns})
    return st.lists(row, max_size=max_rows).map(lambda rows: pl.DataFrame(rows, schema={c: pl.String for c in columns}))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=_table_strategy("orders", 6),
    lines=_table_strategy("order_lines", 8),
    promotions=_table_strategy("promotions", 5),
    scope=_table_strategy("promotion_products", 4),
    refunds=_table_strategy("refunds", 5),
    events=_table_strategy("opt_out_events", 3),
)
def test_staging_loses_no_row(orders, lines, promotions, scope, refunds, events):
    """On arbitrary bad input every row is accepted or rejected, exactly once."""
    raw = {
        "orders": orders,
        "order_lines": lines,
        "promotions": promotions,
        "promotion_products": scope,
        "refunds": refunds,
        "opt_out_events": events,
    }
    staged = stage(raw)
    for table, frame in raw.items():
        rejected = staged.rejected_rows.filter(pl.col("table") == table)
        assert rejected["row_number"].n_unique() == rejected.height
        assert staged.counts[table]["rows_in"] == frame.height
        assert staged.tables[table].height + rejected.height == frame.height, table


_valid_orders = st.lists(st.sampled_from(["O1", "O2", "O3"]), min_size=1, max_size=5).map(
    lambda ids: raw("orders", [{"order_id": i, "created_at": "2025-06-01T12:00:00Z"} for i in ids])
)
_valid_lines = st.lists(
    st.tuples(st.sampled_from(["O1", "O2", "O4"]), st.sampled_from(["a", "b"])), min_size=1, max_size=7
).map(
    lambda keys: raw(
        "order_lines", [{"order_id": o, "sku_id": k, "product_id": "P1", "unit_price": "10.00"} for o, k in keys]
    )
)
_valid_refunds = st.lists(
    st.tuples(st.sampled_from(["R1", "R2"]), st.sampled_from(["O1", "O3", "O5"])), min_size=1, max_size=4
).map(
    lambda keys: raw(
        "refunds",
        [
            {"refund_id": r, "order_id": o, "sku_id": "a", "quantity": "1", "refunded_at": "2025-06-05T00:00:00Z"}
            for r, o in keys
        ],
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=_valid_orders, lines=_valid_lines, refunds=_valid_refunds, seed=st.integers(0, 2**16))
def test_verdicts_do_not_depend_on_row_order(orders, lines, refunds, seed):
    """Staging skips the duplicate-key hash when keys come strictly increasing, and finds unknown
    orders and orders without lines by anti joins: on valid rows with repeated keys, unknown
    orders and orders without lines, sorted, shuffled and reversed inputs get the same rejections."""
    raw = {"orders": orders, "order_lines": lines, "refunds": refunds}

    def verdicts(tables):
        rejected = stage(tables).rejected_rows
        return sorted(rejected.select("table", "key", "column", "reason", "value").iter_rows())

    keys = {"orders": ["order_id"], "order_lines": ["order_id", "sku_id"], "refunds": ["refund_id"]}
    ordered = {name: frame.sort(keys[name]) for name, frame in raw.items()}
    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=seed) for name, frame in raw.items()}
    reversed_ = {name: frame.reverse() for name, frame in ordered.items()}
    assert verdicts(ordered) == verdicts(shuffled) == verdicts(reversed_)


# ---------------------------------------------------------------- bounds: nothing can overflow


def test_a_quantity_whose_gross_sales_would_wrap_is_rejected_not_priced_at_zero():
    # 2^56 units at $2.56 is 2^64 cents: in 64-bit integers that wraps to exactly 0.
    # Typed as a Parquet file holds them: Int64 quantity, Decimal(18,2) price.
    lines = pl.DataFrame(
        {
            "order_id": ["O1", "O2"],
            "sku_id": ["a", "a"],
            "product_id": ["P1", "P1"],
            "product_name": ["Mug", "Mug"],
            "sku_name": ["Red", "Red"],
            "quantity": pl.Series([2**56, 1], dtype=pl.Int64),
            "unit_price": pl.Series(["2.56", "10.00"]).cast(pl.Decimal(18, 2)),
        }
    )
    staged = stage(
        inputs(
            **{**BASE, "order_lines": lines, "refunds": "| refund_id | order_id | sku_id | quantity | refunded_at |"}
        )
    )
    assert reasons(staged.rejected_rows) >= {
        ("order_lines", "O1|a", "quantity", "out_of_range"),
        ("orders", "O1", "order_id", "line_rejected"),
    }
    assert staged.tables["orders"]["order_id"].to_list() == ["O2"]


@pytest.mark.parametrize(
    ("table_name", "column", "value"),
    [
        ("order_lines", "quantity", 1_000_001),  # more units than a line may hold
        ("order_lines", "quantity", 2**64 - 1),  # an unsigned integer beyond Int64: rejected, not a crash
        ("order_lines", "unit_price", "1000000000.01"),  # more than an amount may be
        ("order_lines", "quantity", 100_001),  # 100,001 × $100,000.00 is over $10,000,000,000.00 of gross sales
        ("orders", "shipping_fee", "1000000000.01"),
        ("orders", "sales_tax", "-1000000000.01"),
        ("refunds", "quantity", 10**12),
        ("promotions", "min_spend", "1000000000.01"),
        ("promotions", "min_quantity", 10**7),
    ],
)
def test_values_beyond_their_bounds_are_out_of_range(table_name, column, value):
    tables = {name: raw(name, text) for name, text in BASE.items()}
    frame = tables[table_name]
    if table_name == "order_lines" and column == "quantity" and value == 100_001:
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("100000.00"))
            .otherwise(pl.col("unit_price"))
            .alias("unit_price")
        )
    dtype = pl.UInt64 if isinstance(value, int) else pl.String
    values = (
        [value, *frame[column].cast(pl.String).to_list()[1:]]
        if dtype == pl.String
        else [value, *frame[column].cast(pl.UInt64, strict=False).to_list()[1:]]
    )
    frame = frame.with_columns(pl.Series(column, values, dtype))
    if table_name == "promotions":
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("seller_bmsm"))
            .otherwise(pl.col("promotion_type"))
            .alias("promotion_type")
        )
    staged = stage(inputs(**{**BASE, table_name: frame}))
    first = staged.rejected_rows.filter((pl.col("table") == table_name) & (pl.col("row_number") == 1))
    assert first.select("column", "reason").rows() == [(column, "out_of_range")]


def test_a_line_at_every_bound_is_priced_exactly():
    # 1,000,000 units at $10,000.00: $10,000,000,000.00 of gross sales, the largest line allowed.
    from tests.conftest import run

    results = run(
        orders="""
        | order_id | created_at           | shipping_fee | actual_shipping_fee | delivered_at         |
        | O1       | 2025-06-01T12:00:00Z | 1000000000.00 | 1000000000.00      | 2025-06-03T12:00:00Z |
        """,
        order_lines="""
        | order_id | sku_id | product_id | quantity | unit_price |
        | O1       | a      | P1         | 1000000  | 10000.00   |
        | O1       | b      | P1         | 1000000  | 10000.00   |
        """,
    )
    assert results.staged.rejected_rows.height == 0
    details = results.published()["order_details"]
    assert details["gross_sales"].sum() == pl.Series([10_000_000_000 * 2]).cast(pl.Decimal(38, 2)).item()
    statements = results.published()["statements"]
    assert statements["net_sales"].to_list() == [details["net_sales"].sum()]


@pytest.mark.parametrize(
    ("table_name", "column", "values", "reason"),
    [
        (
            "order_lines",
            "quantity",
            pl.Series("quantity", [[1], [2], [3]]),
            "invalid_value",
        ),  # a list where a count belongs
        (
            "orders",
            "buyer_is_new",
            pl.Series("buyer_is_new", [b"\x01", b"\x00"]),
            "invalid_value",
        ),  # binary where a flag belongs
        (
            "order_lines",
            "unit_price",
            pl.Series("unit_price", [{"a": 1}] * 3),
            "invalid_value",
        ),  # a struct where money belongs
        (
            "order_lines",
            "product_name",
            pl.Series("product_name", [b"\x00\xff"] * 3),
            "invalid_value",
        ),  # bytes that are not text
        ("order_lines", "unit_price", pl.Series("unit_price", [timedelta(days=1)] * 3), "invalid_value"),  # a duration
        ("orders", "shipping_fee", pl.Series("shipping_fee", [time(1)] * 2), "invalid_value"),  # a time of day
        (
            "order_lines",
            "quantity",
            pl.Series("quantity", [-(2**63)] * 3, pl.Int64),
            "out_of_range",
        ),  # abs() of it wraps to itself
        (
            "orders",
            "sales_tax",
            pl.Series("sales_tax", ["١٢", "1٢"]),
            "invalid_value",
        ),  # digits of another script: was null, no reason
    ],
)
def test_a_column_of_an_unreadable_type_has_its_rows_rejected_not_a_crash(table_name, column, values, reason):
    tables = {name: raw(name, text) for name, text in BASE.items()}
    tables[table_name] = tables[table_name].with_columns(values)
    staged = stage(tables)
    assert set(
        staged.rejected_rows.filter(pl.col("table") == table_name).select("column", "reason").unique().rows()
    ) == {(column, reason)}
    assert staged.tables[table_name].height == 0


def test_bytes_that_are_utf8_text_are_read_as_text():
    """A Parquet writer that leaves out the string annotation stores IDs as bytes: still IDs."""
    tables = {name: raw(name, text) for name, text in BASE.items()}
    clean = stage(dict(tables))
    tables["order_lines"] = tables["order_lines"].with_columns(pl.col("sku_id", "product_id").cast(pl.Binary))
    staged = stage(tables)
    assert staged.rejected_rows.equals(clean.rejected_rows)
    assert staged.tables["order_lines"].equals(clean.tables["order_lines"])


def test_input_columns_named_like_the_jobs_own_are_ignored():
    tables = {name: raw(name, text) for name, text in BASE.items()}
    clean = stage(dict(tables))
    for internal in ("row_number", "_key", "_failure", "_value_0", "_reason_0", "event_seq"):
        tables["order_lines"] = tables["order_lines"].with_columns(pl.lit("x").alias(internal))
        tables["orders"] = tables["orders"].with_columns(pl.lit(7).alias(internal))
    staged = stage(tables)
    assert staged.rejected_rows.equals(clean.rejected_rows)
    for name, frame in clean.tables.items():
        assert staged.tables[name].equals(frame), name
