"""Reconciliation of computed statements with the ones TikTok reported (docs/reconciliation.md).

Compared at the grain (shop, statement date, order, column), an order's SKU rows summed, within
the reconciled window (per shop, the reported statement dates, or a parameter range). Every
nonzero difference is one row of `recon_breaks` with a `break_type` and the first
`probable_cause` whose evidence holds; `recon_statements` bridges each statement's expected
total to the reported one exactly: the sum of its `Total settlement amount` breaks.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from schemas.handoffs import BreakCents, dtypes, empty
from schemas.layout import NOT_MODELLED, ORDER_DETAILS_MONEY, cents_name
from transforms.money import mul_div_half_up

GRAIN = ["shop_id", "statement_date", "order_id"]
ORDER_TYPES = ("order", "refund")
PLATFORM_DISCOUNT_COLUMNS = ("Platform discounts", "Platform discounts refund")
TOTAL = "Total settlement amount"


@dataclass(frozen=True)
class ReconParams:
    recon_from: date | None = None
    recon_to: date | None = None
    # Per-column tolerance in cents (label → cents); a break within it is flagged, never hidden.
    tolerances_cents: dict[str, int] = field(default_factory=dict)


def order_row() -> pl.Expr:
    """True for a reported row of an order or a refund (`type`, any case); every other Type is an adjustment."""
    return pl.col("type").str.to_lowercase().is_in(list(ORDER_TYPES))


def _side(side: str, label: str) -> str:
    """The column of one side (`expected` or `reported`) of an amount, e.g. `reported_fees_cents`."""
    return f"{side}_{cents_name(label)}"


def _wide(frame: pl.DataFrame, side: str) -> pl.DataFrame:
    """(grain…, one `<side>_…_cents` column per money label): each grain's sum of every Order details amount."""
    return frame.group_by(GRAIN).agg(
        pl.col(cents_name(label)).sum().alias(_side(side, label)) for label in ORDER_DETAILS_MONEY
    )


def merge(expected: pl.DataFrame, reported: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """A full join of the expected and the reported side with an explicit indicator, as datacompy
    keeps one: `merge` is `both`, `expected_only` or `reported_only` for each key."""
    joined = expected.with_columns(pl.lit(True).alias("_expected")).join(
        reported.with_columns(pl.lit(True).alias("_reported")), on=on, how="full", coalesce=True
    )
    return joined.with_columns(
        pl.when(pl.col("_expected") & pl.col("_reported"))
        .then(pl.lit("both"))
        .when(pl.col("_expected"))
        .then(pl.lit("expected_only"))
        .otherwise(pl.lit("reported_only"))
        .alias("merge")
    ).drop("_expected", "_reported")


def _long(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """(grain…, column label, cents) — one row per grain and money column."""
    return (
        frame.select(*GRAIN, *[pl.col(cents_name(label)).alias(label) for label in columns])
        .unpivot(index=GRAIN, variable_name="column", value_name="cents")
        .group_by(*GRAIN, "column")
        .agg(pl.col("cents").sum())
    )


def reconciled_window(
    reported_details: pl.DataFrame, reported_statements: pl.DataFrame, computed: pl.DataFrame, params: ReconParams
) -> pl.DataFrame:
    """(shop_id, statement_date) of the statements in the window: per shop, the reported statement
    dates; with `recon_from`/`recon_to`, every computed or reported statement dated in that range."""
    reported = [
        reported_details.select("shop_id", "statement_date"),
        reported_statements.select("shop_id", "statement_date"),
    ]
    if params.recon_from is not None or params.recon_to is not None:
        low = params.recon_from or date.min
        high = params.recon_to or date.max
        return (
            pl.concat([*reported, computed.select("shop_id", "statement_date")])
            .unique()
            .filter(pl.col("statement_date").is_between(low, high))
        )
    return pl.concat(reported).unique()


def reconcile(
    computed_details: pl.DataFrame,
    reported_details: pl.DataFrame,
    reported_statements: pl.DataFrame,
    known_orders: pl.DataFrame,
    unsettled: pl.DataFrame,
    evidence: "Evidence",
    params: ReconParams,
    window: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Returns (`recon_breaks`, `recon_statements`), money in cents. `window` is the
    `reconciled_window` of these frames, if the caller has it already."""
    computed = computed_details.select(
        *["shop_id", "statement_date", "order_id"], *[cents_name(label) for label in ORDER_DETAILS_MONEY]
    )
    if window is None:
        window = reconciled_window(reported_details, reported_statements, computed, params)
    is_order_row = order_row()
    reported = reported_details.with_columns(
        pl.when(is_order_row)
        .then(pl.col("order_adjustment_id"))
        .otherwise(pl.coalesce(pl.col("related_order_id").replace("", None), pl.col("order_adjustment_id")))
        .alias("order_id")
    ).join(window, on=["shop_id", "statement_date"])
    computed = computed.join(window, on=["shop_id", "statement_date"])

    # Expected against reported per grain, one column per amount (a join of grains, not of grains
    # times amounts), then one row per grain and amount.
    both = _wide(computed, "expected").join(
        _wide(reported.filter(is_order_row), "reported"), on=GRAIN, how="full", coalesce=True
    )
    order_diffs = pl.concat(
        [
            both.select(
                *GRAIN,
                pl.lit(label).alias("column"),
                pl.col(_side("expected", label)).fill_null(0).alias("expected_cents"),
                pl.col(_side("reported", label)).fill_null(0).alias("reported_cents"),
            )
            for label in ORDER_DETAILS_MONEY
        ]
    ).with_columns((pl.col("reported_cents") - pl.col("expected_cents")).alias("difference_cents"))
    # What the classification needs to know about each order: on which side it has rows in the
    # window (`merge`), whether it agrees over the window, whether it was paid as expected.
    order_ids = ["shop_id", "order_id"]
    order_sides = merge(
        computed.select(order_ids).unique(), reported.filter(is_order_row).select(order_ids).unique(), on=order_ids
    )
    window_totals = order_diffs.group_by("shop_id", "order_id", "column").agg(
        (pl.col("difference_cents").sum() == 0).alias("_agrees_over_window"),
        pl.col("reported_cents").sum().alias("_reported_over_window"),
    )
    # "Its reported amount equals its expected amount in unsettled_orders" is a test of the order:
    # over the window, every amount unsettled_orders carries for it (total, net sales, shipping,
    # fees) was reported as expected; then all its breaks are timing (an order paid early).
    paid_as_expected = (
        _unsettled_long(unsettled)
        .join(window_totals, on=["order_id", "column"])
        .group_by("shop_id", "order_id")
        .agg((pl.col("_unsettled_cents") == pl.col("_reported_over_window")).all().alias("_paid_as_expected"))
    )
    differing = order_diffs.filter(pl.col("difference_cents") != 0)
    # Of the input's order IDs (all shops, millions), only those with a break matter here.
    known = known_orders.filter(pl.col("order_id").is_in(differing["order_id"].unique().implode()))["order_id"]
    breaks = (
        differing.join(order_sides, on=order_ids, how="left")
        .join(window_totals, on=["shop_id", "order_id", "column"], how="left")
        .join(paid_as_expected, on=order_ids, how="left")
        .with_columns(
            pl.when(~pl.col("order_id").is_in(known.implode()).fill_null(False))
            .then(pl.lit("unexpected_in_reported"))
            .when(pl.col("merge") == "expected_only")
            .then(pl.lit("missing_in_reported"))
            .when(pl.col("_agrees_over_window"))
            .then(pl.lit("timing"))
            .when((pl.col("merge") == "reported_only") & pl.col("_paid_as_expected").fill_null(False))
            .then(pl.lit("timing"))
            .otherwise(pl.lit("amount_mismatch"))
            .alias("break_type")
        )
        .select(*GRAIN, "column", "expected_cents", "reported_cents", "difference_cents", "break_type")
    )
    adjustments = (
        _long(reported.filter(~is_order_row), ORDER_DETAILS_MONEY)
        .filter(pl.col("cents") != 0)
        .select(
            *GRAIN,
            "column",
            pl.lit(0, pl.Int64).alias("expected_cents"),
            pl.col("cents").alias("reported_cents"),
            pl.col("cents").alias("difference_cents"),
            pl.lit("adjustment").alias("break_type"),
        )
    )
    residuals = _statement_residuals(reported, reported_statements, window)
    breaks = pl.concat([breaks, adjustments, residuals], how="vertical_relaxed")
    breaks = (
        _causes(breaks, evidence)
        .with_columns(
            (
                pl.col("difference_cents").abs()
                <= pl.col("column").replace_strict(params.tolerances_cents, default=0, return_dtype=pl.Int64)
            ).alias("within_tolerance")
        )
        .select(list(dtypes(BreakCents)))
        .cast(dtypes(BreakCents))
        .sort("shop_id", "statement_date", "order_id", "column", "break_type", nulls_last=True)
    )
    return breaks, _bridge(computed, reported, reported_statements, window, breaks)


def _unsettled_long(unsettled: pl.DataFrame) -> pl.DataFrame:
    mapping = {
        "Total settlement amount": "expected_total_settlement_amount_cents",
        "Net sales": "expected_net_sales_cents",
        "Shipping": "expected_shipping_cents",
        "Fees": "expected_fees_cents",
    }
    return unsettled.select("order_id", *[pl.col(c).alias(label) for label, c in mapping.items()]).unpivot(
        index="order_id", variable_name="column", value_name="_unsettled_cents"
    )


def _statement_residuals(
    reported: pl.DataFrame, reported_statements: pl.DataFrame, window: pl.DataFrame
) -> pl.DataFrame:
    """A reported Statements total that differs from the sum of its reported Order details rows."""
    if reported_statements.height == 0:
        return empty(BreakCents).drop("within_tolerance", "probable_cause")
    rows = reported.group_by("shop_id", "statement_date").agg(pl.col(cents_name(TOTAL)).sum().alias("_rows"))
    sheet = reported_statements.group_by("shop_id", "statement_date").agg(pl.col(cents_name(TOTAL)).sum())
    return (
        sheet.join(window, on=["shop_id", "statement_date"])
        .join(rows, on=["shop_id", "statement_date"], how="left")
        .with_columns((pl.col(cents_name(TOTAL)) - pl.col("_rows").fill_null(0)).alias("difference_cents"))
        .filter(pl.col("difference_cents") != 0)
        .select(
            "shop_id",
            "statement_date",
            pl.lit(None, pl.String).alias("order_id"),
            pl.lit(TOTAL).alias("column"),
            pl.col("_rows").fill_null(0).alias("expected_cents"),
            pl.col(cents_name(TOTAL)).alias("reported_cents"),
            "difference_cents",
            pl.lit("statement_residual").alias("break_type"),
        )
    )


@dataclass
class Evidence:
    """Per-order facts the probable causes rest on (all frames keyed by `order_id`)."""

    opt_out_toggled: pl.DataFrame  # orders whose shop toggled a platform type within 24 h of created_at
    blocked_incentive: pl.DataFrame  # orders with a blocked incentive
    coupon_rejected: pl.DataFrame  # orders with a rejected coupon claim
    # (shop_id, statement_date, order_id, alt_referral_fee_cents): the order's referral fee on that
    # statement at each other rate of the schedule.
    referral_alternatives: pl.DataFrame


def evidence(
    orders: pl.DataFrame,
    opt_out_events: pl.DataFrame,
    blocked: pl.DataFrame,
    coupon_checks: pl.DataFrame,
    computed_details: pl.DataFrame,
    fee_schedule: pl.DataFrame,
    order_rates: pl.DataFrame,
) -> Evidence:
    day = timedelta(hours=24)
    # An order is near a toggle when its shop's nearest opt-out change is within a day of it: an
    # as-of join, not every order against every change of its shop.
    toggled = (
        orders.select("order_id", "shop_id", "created_at")
        .sort("created_at")
        .join_asof(
            opt_out_events.select("shop_id", pl.col("changed_at").alias("_changed_at")).sort("_changed_at"),
            left_on="created_at",
            right_on="_changed_at",
            by="shop_id",
            strategy="nearest",
            tolerance=day,
            check_sortedness=False,
        )
        .filter(pl.col("_changed_at").is_not_null())
        .select("order_id")
        .unique()
    )
    rates = fee_schedule.select("referral_fee_rate_ppm").unique()
    b = (
        pl.col(cents_name("Net sales"))
        + pl.col(cents_name("Customer-paid shipping fee"))
        + pl.col(cents_name("Customer-paid shipping fee refund"))
    )
    alternatives = (
        computed_details.select(*GRAIN, b.alias("_b"))
        .join(order_rates, on="order_id")
        .join(rates.rename({"referral_fee_rate_ppm": "_alt"}), how="cross")
        .filter(pl.col("_alt") != pl.col("referral_fee_rate_ppm"))
        .group_by(*GRAIN, "_alt")
        .agg((-mul_div_half_up(pl.col("_alt"), pl.col("_b"), 1_000_000)).sum().alias("alt_referral_fee_cents"))
        .select(*GRAIN, "alt_referral_fee_cents")
    )
    return Evidence(
        opt_out_toggled=toggled,
        blocked_incentive=blocked.select("order_id").unique(),
        coupon_rejected=coupon_checks.filter(pl.col("status") == "rejected").select("order_id").unique(),
        referral_alternatives=alternatives,
    )


def _causes(breaks: pl.DataFrame, ev: Evidence) -> pl.DataFrame:
    """The first probable cause whose evidence holds, in the order docs/reconciliation.md lists them; else null."""
    platform_differs = breaks.filter(
        pl.col("column").is_in(list(PLATFORM_DISCOUNT_COLUMNS)) & (pl.col("difference_cents") != 0)
    )
    # Compared statement by statement: the window may hold only some of an order's rows.
    reported_fee = breaks.filter(
        (pl.col("column") == "Referral fee") & ~pl.col("break_type").is_in(["adjustment", "statement_residual"])
    ).select(*GRAIN, pl.col("reported_cents").alias("_reported_fee"))
    fee_match = ev.referral_alternatives.join(reported_fee, on=GRAIN).filter(
        pl.col("alt_referral_fee_cents") == pl.col("_reported_fee")
    )

    def holds_for(evidence: pl.DataFrame) -> pl.Expr:
        """True where the break's order is among those `evidence` names (false for no order)."""
        return pl.col("order_id").is_in(evidence["order_id"].unique().implode()).fill_null(False)

    platform = holds_for(platform_differs)
    cause = (
        pl.when(pl.col("column").is_in(list(NOT_MODELLED)))
        .then(pl.lit("not_modelled"))
        .when(platform & holds_for(ev.opt_out_toggled))
        .then(pl.lit("opt_out_timing"))
        .when(platform & holds_for(ev.blocked_incentive))
        .then(pl.lit("flash_deal_priority"))
        .when(holds_for(ev.coupon_rejected))
        .then(pl.lit("coupon_rejected"))
        .when(holds_for(fee_match))
        .then(pl.lit("fee_rate"))
        .otherwise(pl.lit(None, pl.String))
    )
    return breaks.with_columns(
        pl.when(pl.col("break_type") == "statement_residual")
        .then(pl.lit(None, pl.String))
        .otherwise(cause)
        .alias("probable_cause")
    )


def _bridge(
    computed: pl.DataFrame,
    reported: pl.DataFrame,
    reported_statements: pl.DataFrame,
    window: pl.DataFrame,
    breaks: pl.DataFrame,
) -> pl.DataFrame:
    """One row per statement in the window: expected, reported, difference of each total, and its breaks."""
    totals = ("Total settlement amount", "Net sales", "Shipping", "Fees")
    expected = computed.group_by("shop_id", "statement_date").agg(
        *[pl.col(cents_name(label)).sum().alias(f"expected_{cents_name(label)}") for label in totals],
        pl.col(cents_name("Adjustment amount")).sum().alias(f"expected_{cents_name('Adjustments')}"),
    )
    from_rows = reported.group_by("shop_id", "statement_date").agg(
        pl.col("statement_id").drop_nulls().first().alias("_rows_statement_id"),
        *[pl.col(cents_name(label)).sum().alias(f"reported_{cents_name(label)}") for label in totals],
        pl.col(cents_name("Adjustment amount")).sum().alias(f"reported_{cents_name('Adjustments')}"),
    )
    sheet_cols = [
        cents_name(label) for label in ("Total settlement amount", "Net sales", "Shipping", "Fees", "Adjustments")
    ]
    sheet = reported_statements.group_by("shop_id", "statement_date").agg(
        pl.col("statement_id").first().alias("reported_statement_id"),
        *[pl.col(c).sum().alias(f"sheet_{c}") for c in sheet_cols],
    )
    counts = breaks.group_by("shop_id", "statement_date").agg(
        pl.len().alias("count_breaks"),
        pl.col("difference_cents").filter(pl.col("column") == TOTAL).sum().alias("total_breaks_cents"),
    )
    frame = (
        window.join(expected, on=["shop_id", "statement_date"], how="left")
        .join(from_rows, on=["shop_id", "statement_date"], how="left")
        .join(sheet, on=["shop_id", "statement_date"], how="left")
        .join(counts, on=["shop_id", "statement_date"], how="left")
    )
    cols = []
    for c in sheet_cols:
        rep = pl.coalesce(
            pl.col(f"sheet_{c}"), pl.col(f"reported_{c}"), pl.lit(0)
        )  # a Statements sheet wins where given
        cols += [
            pl.col(f"expected_{c}").fill_null(0).alias(f"expected_{c}"),
            rep.alias(f"reported_{c}"),
            (rep - pl.col(f"expected_{c}").fill_null(0)).alias(f"difference_{c}"),
        ]
    return frame.select(
        "shop_id",
        "statement_date",
        pl.coalesce("reported_statement_id", "_rows_statement_id").alias("reported_statement_id"),
        *cols,
        pl.col("count_breaks").fill_null(0).cast(pl.Int64),
        pl.col("total_breaks_cents").fill_null(0).cast(pl.Int64),
    ).sort("shop_id", "statement_date")
