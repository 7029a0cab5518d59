"""The synthetic generator (synthetic/generate.py): deterministic by seed, in the input contract, clean."""

from decimal import Decimal

import polars as pl
import pytest

from ingest.input_tables import check_inputs, read_inputs
from schemas.inputs import (
    ALLOWED_KINDS,
    ALLOWS_MIN_QUANTITY,
    ALLOWS_MIN_SPEND,
    BMSM_TYPES,
    INPUT_TABLES,
    MAX_AMOUNT_CENTS,
    MAX_COUNT,
    MAX_LINE_GROSS_CENTS,
    PROMOTION_TYPES,
    SELLER_TYPES,
    TABLE_KEYS,
)
from synthetic.generate import GENERATED_TABLES, PERIOD_END, generate_inputs, generate_to_dir, write_inputs
from transforms.staging import stage

N_ORDERS = 2_000  # small enough for a fast test, large enough for every promotion type and refund kind

MONEY = {"money"}
UTC_MICROS = pl.Datetime("us", "UTC")


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return generate_inputs(N_ORDERS, seed=11)


def _parquet_bytes(tables: dict[str, pl.DataFrame], out_dir) -> dict[str, bytes]:
    write_inputs(tables, out_dir)
    return {name: (out_dir / f"{name}.parquet").read_bytes() for name in tables}


def test_same_seed_same_frames_and_same_parquet_bytes(tables, tmp_path):
    again = generate_inputs(N_ORDERS, seed=11)
    assert list(again) == list(tables)
    for name in tables:
        assert again[name].equals(tables[name], null_equal=True), name
    assert _parquet_bytes(tables, tmp_path / "a") == _parquet_bytes(again, tmp_path / "b")


def test_another_seed_differs(tables):
    other = generate_inputs(N_ORDERS, seed=12)
    assert not other["orders"].equals(tables["orders"])
    assert not other["order_lines"].equals(tables["order_lines"])
    assert not other["promotions"].equals(tables["promotions"])


def test_tables_and_columns_are_exactly_the_contract(tables, tmp_path):
    assert set(tables) == set(INPUT_TABLES) - {"fee_schedule"}
    for name, frame in tables.items():
        assert frame.columns == [c.name for c in INPUT_TABLES[name]], name
    # The requested number of orders, one row each, in the default number of shops: one per 50,000
    # orders, at least 2 (README, `settle generate`), so 2 for 2,000 orders.
    assert tables["orders"].height == tables["orders"]["order_id"].n_unique() == N_ORDERS
    assert tables["orders"]["shop_id"].unique().sort().to_list() == ["SHOP01", "SHOP02"]
    # Every row of every table passes every rule of the input contract (schemas/inputs.py) that
    # staging enforces (types, enums, ranges, keys, tiers, references between tables): the
    # generator writes clean data only.
    staged = stage(tables)
    assert staged.rejected_rows.height == 0, staged.rejected_rows.head(5)
    for name, frame in tables.items():
        assert frame.height > 0, name
        assert staged.counts[name] == {"rows_in": frame.height, "accepted": frame.height, "rejected": 0}, name
    # Written as files, the loader finds every table with its required columns, and reads back the same frames.
    write_inputs(tables, tmp_path)
    assert check_inputs(tmp_path) == {name: tmp_path / f"{name}.parquet" for name in INPUT_TABLES if name in tables}
    read = read_inputs(tmp_path)
    for name, frame in tables.items():
        assert read[name].equals(frame, null_equal=True), name


def test_column_types_are_parquet_friendly(tables):
    for name, frame in tables.items():
        for col in INPUT_TABLES[name]:
            dtype = frame.schema[col.name]
            if col.kind in MONEY:
                # Decimal with scale 2: exact cents, never a float
                assert dtype == pl.Decimal(18, 2), (name, col.name, dtype)
            elif col.kind == "timestamp":
                assert dtype == UTC_MICROS, (name, col.name, dtype)
            elif col.kind in ("id", "text", "enum"):
                assert dtype == pl.String, (name, col.name, dtype)
            elif col.kind == "bool":
                assert dtype == pl.Boolean, (name, col.name, dtype)
            elif col.kind == "count":
                assert dtype == pl.Int64, (name, col.name, dtype)
    assert tables["promotions"].schema["discount_value"] == pl.Decimal(18, 2)
    assert tables["orders"].schema["affiliate_commission_rate"] == pl.Decimal(18, 6)


def test_keys_are_unique(tables):
    for name, frame in tables.items():
        key = [c for c in TABLE_KEYS[name] if c in frame.columns]  # opt_out_events also keys on file row
        assert not frame.select(key).is_duplicated().any(), (name, key)


def test_refunds_never_exceed_the_line_and_follow_the_order(tables):
    refunds, lines, orders = tables["refunds"], tables["order_lines"], tables["orders"]
    per_line = refunds.group_by("order_id", "sku_id").agg(refunded=pl.col("quantity").sum())
    joined = per_line.join(lines, on=["order_id", "sku_id"], how="left")
    assert joined["quantity"].null_count() == 0  # every refund names a real line
    assert (joined["refunded"] <= joined["quantity"]).all()
    assert (refunds["quantity"] >= 1).all()
    timed = refunds.join(orders, on="order_id")
    assert (timed["refunded_at"] >= timed["created_at"]).all()
    assert refunds.filter("refund_shipping").group_by("order_id").len()["len"].max() <= 1


def test_timestamps_are_utc_aware_and_in_the_period(tables):
    orders = tables["orders"]
    for name, frame in tables.items():
        for col, dtype in frame.schema.items():
            if isinstance(dtype, pl.Datetime):
                assert dtype.time_zone == "UTC", (name, col)
    end = pl.Series([PERIOD_END * 1_000_000]).cast(UTC_MICROS)[0]
    assert orders["created_at"].max() < end
    delivered = orders.filter(pl.col("delivered_at").is_not_null())
    assert (delivered["delivered_at"] >= delivered["created_at"]).all()
    assert (orders["created_at"].dt.microsecond() == 0).all()  # second precision


def test_money_and_counts_are_within_the_contract_bounds(tables):
    """schemas/inputs.py bounds every input number (MAX_AMOUNT_CENTS, MAX_COUNT, MAX_LINE_GROSS_CENTS);
    the generator's own list prices are $3.00 to $200.00 (synthetic/generate.py's docstring)."""
    max_amount = Decimal(MAX_AMOUNT_CENTS) / 100
    for name, frame in tables.items():
        for col in INPUT_TABLES[name]:
            values = frame[col.name].drop_nulls()
            if col.kind in ("money", "value"):
                assert values.len() == 0 or Decimal(0) <= values.min() <= values.max() <= max_amount, (name, col.name)
            elif col.kind == "count":
                assert values.len() == 0 or 1 <= values.min() <= values.max() <= MAX_COUNT, (name, col.name)
    lines = tables["order_lines"]
    assert Decimal("3.00") <= lines["unit_price"].min() <= lines["unit_price"].max() <= Decimal("200.00")
    gross = lines.select((pl.col("quantity").cast(pl.Decimal(38, 2)) * pl.col("unit_price")).max()).item()
    assert gross <= Decimal(MAX_LINE_GROSS_CENTS) / 100
    # A percent_off discount_value is in percent points: at most 100.
    promos = tables["promotions"]
    assert (promos.filter(pl.col("discount_kind") == "percent_off")["discount_value"] <= 100).all()


def test_references_between_tables_hold(tables):
    """Foreign keys beyond staging's own: each SKU is one product at one price, each product is sold
    by one shop, and every shop a promotion or an opt-out names is a shop with orders."""
    orders, lines, promos = tables["orders"], tables["order_lines"], tables["promotions"]
    scope, events, refunds = tables["promotion_products"], tables["opt_out_events"], tables["refunds"]
    shops = set(orders["shop_id"])
    assert lines.join(orders, on="order_id", how="anti").height == 0
    assert refunds.join(lines, on=["order_id", "sku_id"], how="anti").height == 0
    assert refunds.join(orders, on="order_id", how="anti").height == 0
    assert scope.join(promos, on="promotion_id", how="anti").height == 0
    assert set(promos["shop_id"].drop_nulls()) <= shops
    assert promos.filter(pl.col("promotion_type").is_in(SELLER_TYPES))["shop_id"].null_count() == 0
    assert set(events["shop_id"]) <= shops
    per_sku = lines.group_by("sku_id").agg(pl.col("product_id", "unit_price", "product_name", "sku_name").n_unique())
    assert (per_sku.drop("sku_id").max_horizontal() == 1).all()
    product_shop = lines.join(orders.select("order_id", "shop_id"), on="order_id").select("product_id", "shop_id")
    product_shop = product_shop.unique()
    assert not product_shop["product_id"].is_duplicated().any()  # a product is one shop's
    # A shop's promotion scopes that shop's products only (where the product was ever ordered).
    scoped = scope.join(promos.select("promotion_id", "shop_id").unique(), on="promotion_id").join(
        product_shop, on="product_id", suffix="_of_product"
    )
    assert scoped.filter(pl.col("shop_id").is_not_null()).height > 0
    assert scoped.filter(pl.col("shop_id") != pl.col("shop_id_of_product")).height == 0


@pytest.mark.parametrize("n_shops", [1, 5])
def test_the_number_of_shops_is_the_one_asked_in_every_table(n_shops):
    """`--shops N`: N shops, SHOP01 … in order; 1 puts every order (and every shop's promotion and
    opt-out) in the one shop."""
    generated = generate_inputs(300, seed=3, n_shops=n_shops)
    named = [f"SHOP{i:02d}" for i in range(1, n_shops + 1)]
    assert generated["orders"].height == 300
    assert generated["orders"]["shop_id"].unique().sort().to_list() == named
    assert set(generated["promotions"]["shop_id"].drop_nulls()) <= set(named)
    assert set(generated["opt_out_events"]["shop_id"]) <= set(named)
    assert stage(generated).rejected_rows.height == 0


def test_money_is_non_negative_with_two_decimals(tables):
    orders, lines = tables["orders"], tables["order_lines"]
    for col in ("shipping_fee", "actual_shipping_fee", "sales_tax"):
        assert (orders[col] >= 0).all(), col
    assert (lines["unit_price"] > 0).all()
    assert (lines["quantity"] >= 1).all()
    rate = orders["affiliate_commission_rate"].drop_nulls()
    assert ((rate >= 0) & (rate <= 1)).all()


def test_every_promotion_type_with_every_allowed_kind(tables):
    promos = tables["promotions"]
    seen = set(promos.select("promotion_type", "discount_kind").unique().iter_rows())
    assert set(promos["promotion_type"].unique()) == set(PROMOTION_TYPES)
    for ptype, kinds in ALLOWED_KINDS.items():
        assert {k for t, k in seen if t == ptype} == set(kinds), ptype


def test_promotions_are_valid_per_spec(tables):
    promos = tables["promotions"]
    assert (promos["ends_at"] > promos["starts_at"]).all()
    assert promos.filter(pl.col("promotion_type").is_in(SELLER_TYPES))["shop_id"].null_count() == 0
    assert promos.filter(~pl.col("promotion_type").is_in(ALLOWS_MIN_SPEND))["min_spend"].null_count() == (
        promos.filter(~pl.col("promotion_type").is_in(ALLOWS_MIN_SPEND)).height
    )
    assert promos.filter(~pl.col("promotion_type").is_in(ALLOWS_MIN_QUANTITY))["min_quantity"].null_count() == (
        promos.filter(~pl.col("promotion_type").is_in(ALLOWS_MIN_QUANTITY)).height
    )
    pct = promos.filter(pl.col("discount_kind") == "percent_off")["discount_value"]
    assert ((pct > 0) & (pct <= 100)).all()
    assert promos.filter(pl.col("discount_kind") == "free_shipping")["discount_value"].null_count() == (
        promos.filter(pl.col("discount_kind") == "free_shipping").height
    )

    bmsm = promos.filter(pl.col("promotion_type").is_in(BMSM_TYPES))
    assert (bmsm["min_spend"].is_not_null() | bmsm["min_quantity"].is_not_null()).all()
    assert set(bmsm.group_by("promotion_id").len()["len"].unique()) <= {2, 3}
    # Tier rows agree on everything but the tier's discount and thresholds.
    shared = [c for c in promos.columns if c not in ("tier", "discount_value", "min_spend", "min_quantity")]
    assert promos.select(shared).unique().height == promos["promotion_id"].n_unique()
    assert (promos.filter(~pl.col("promotion_type").is_in(BMSM_TYPES))["tier"] == 1).all()


def test_scope_rows_name_known_promotions_and_most_promotions_are_scoped(tables):
    scope, promos = tables["promotion_products"], tables["promotions"]
    assert scope.join(promos, on="promotion_id", how="anti").height == 0
    share = scope["promotion_id"].n_unique() / promos["promotion_id"].n_unique()
    assert 0.5 < share < 1.0  # most are scoped, a few cover every product


def test_opt_out_events_alternate_per_shop_and_type(tables):
    events = tables["opt_out_events"].sort("shop_id", "promotion_type", "changed_at")
    flips = events.with_columns(prev=pl.col("participating").shift(1).over("shop_id", "promotion_type"))
    assert flips.filter(pl.col("prev").is_null())["participating"].not_().all()  # first event opts out
    assert flips.filter(pl.col("prev") == pl.col("participating")).height == 0


def test_generate_to_dir_writes_every_table_and_counts_rows(tmp_path):
    counts = generate_to_dir(300, seed=3, out_dir=tmp_path / "inputs")
    assert set(counts) == set(GENERATED_TABLES)
    for name, count in counts.items():
        assert pl.read_parquet(tmp_path / "inputs" / f"{name}.parquet").height == count


def test_every_order_has_lines_and_every_line_an_order(tables):
    orders, lines = tables["orders"], tables["order_lines"]
    assert orders.join(lines, on="order_id", how="anti").height == 0
    assert lines.join(orders, on="order_id", how="anti").height == 0


def test_coupon_claims_are_mostly_valid_with_a_few_wrong_ids(tables):
    # Valid: a coupon of the claimed type, of the order's shop (or all shops), active at created_at.
    orders, promos = tables["orders"], tables["promotions"]
    for column, ptype in (("seller_coupon_id", "seller_coupon"), ("platform_coupon_id", "product_coupon")):
        claims = orders.filter(pl.col(column).is_not_null()).join(
            promos, left_on=column, right_on="promotion_id", how="left", suffix="_promo"
        )
        valid = claims.filter(
            (pl.col("promotion_type") == ptype)
            & (pl.col("shop_id_promo").is_null() | (pl.col("shop_id_promo") == pl.col("shop_id")))
            & (pl.col("starts_at") <= pl.col("created_at"))
            & (pl.col("created_at") < pl.col("ends_at"))
        )
        assert claims.height > 0, column
        assert valid.height / claims.height > 0.85, column
