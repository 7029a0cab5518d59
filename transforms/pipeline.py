"""The whole computation from raw input frames to output frames, with no I/O.

`compute()` is what the Prefect flow and the tests both call: staging, the as-of cut, the
stacking engine, refunds, statements. Frames in (cents inside), frames out; `flows/`
validates and publishes.
"""

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from schemas.funding import FundingBreaks
from schemas.handoffs import dtypes, empty
from schemas.outputs import RejectedRows
from transforms.applicability import promotion_headers
from transforms.funding import funding_breaks
from transforms.money import cents_to_decimal, decimalise
from transforms.reconcile import Evidence, ReconParams, evidence, reconcile, reconciled_window
from transforms.refunds import coupon_restorations, line_sales_tax, refund_amounts
from transforms.reported import empty_reported_details, empty_reported_statements
from transforms.stacking import Priced, price_orders
from transforms.staging import Staged, stage
from transforms.statements import (
    StatementParams,
    Statements,
    build_statements,
    order_details_layout,
    snake_columns,
    statement_id,
    statements_layout,
    unsettled_layout,
)


@dataclass
class ReconPieces:
    """What one slice of a shop contributes to the shop's reconciliation, in cents; each frame is
    per order (or per Order details row), so the slices' pieces put together are the shop's."""

    details: pl.DataFrame  # its Order details rows in the reconciled window
    unsettled: pl.DataFrame
    evidence: Evidence

    FRAMES = (
        "details",
        "unsettled",
        "opt_out_toggled",
        "blocked_incentive",
        "coupon_rejected",
        "referral_alternatives",
    )

    def frames(self) -> dict[str, pl.DataFrame]:
        ev = self.evidence
        return {
            "details": self.details,
            "unsettled": self.unsettled,
            "opt_out_toggled": ev.opt_out_toggled,
            "blocked_incentive": ev.blocked_incentive,
            "coupon_rejected": ev.coupon_rejected,
            "referral_alternatives": ev.referral_alternatives,
        }

    @classmethod
    def together(cls, pieces: list[dict[str, pl.DataFrame]]) -> "ReconPieces":
        """The pieces of every slice of a shop, as one."""
        frame = {name: pl.concat([p[name] for p in pieces], how="vertical_relaxed") for name in cls.FRAMES}
        return cls(
            frame["details"],
            frame["unsettled"],
            Evidence(
                frame["opt_out_toggled"],
                frame["blocked_incentive"],
                frame["coupon_rejected"],
                frame["referral_alternatives"],
            ),
        )


def _reported(details: pl.DataFrame | None, statements: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The reported exports, or empty ones of their types when there are none."""
    return (
        details if details is not None else empty_reported_details(),
        statements if statements is not None else empty_reported_statements(),
    )


def reconcile_pieces(
    pieces: ReconPieces,
    reported_details: pl.DataFrame | None,
    reported_statements: pl.DataFrame | None,
    known: pl.DataFrame,
    recon: ReconParams,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`recon_breaks` and `recon_statements` (published layout) of a sliced shop, from all its slices' pieces."""
    reported_details, reported_statements = _reported(reported_details, reported_statements)
    breaks, bridge = reconcile(
        pieces.details, reported_details, reported_statements, known, pieces.unsettled, pieces.evidence, recon
    )
    return recon_layout(breaks), recon_layout(bridge)


@dataclass
class Results:
    """Everything a run produces, in cents; `published()` gives the output tables."""

    staged: Staged
    priced: Priced
    refunds: pl.DataFrame
    coupon_restorations: pl.DataFrame
    statements: Statements
    params: StatementParams
    recon_breaks: pl.DataFrame
    recon_statements: pl.DataFrame
    recon_pieces: ReconPieces | None = (
        None  # a slice's share of its shop's reconciliation (then the two above are empty)
    )
    funding_breaks: pl.DataFrame | None = None  # TikTok's own split reconciled, when the input has it

    def published(self) -> dict[str, pl.DataFrame]:
        """The docs/statements.md output tables (snake_case names, money as `Decimal(18,2)`)."""
        return {
            "discount_lines": decimalise(self.priced.discount_lines),
            "blocked_incentives": decimalise(self.priced.blocked_incentives),
            "coupon_checks": decimalise(self.priced.coupon_checks),
            "coupon_restorations": self.coupon_restorations,
            "order_details": snake_columns(order_details_layout(self.statements.order_details)),
            "statements": snake_columns(statements_layout(self.statements.statements)),
            "unsettled_orders": unsettled_layout(self.statements.unsettled_orders),
            "recon_breaks": recon_layout(self.recon_breaks),
            "recon_statements": recon_layout(self.recon_statements),
            "funding_breaks": self.funding_breaks if self.funding_breaks is not None else empty(FundingBreaks),
            "rejected_rows": self.staged.rejected_rows,
        }


def recon_layout(frame: pl.DataFrame) -> pl.DataFrame:
    """Cents → Decimal(18,2) under the same name less `_cents`; the statement date as text."""
    money = [c for c in frame.columns if c.endswith("_cents")]
    return (
        frame.with_columns(
            pl.col("statement_date").dt.strftime("%Y-%m-%d").alias("statement_date_utc"),
            *[cents_to_decimal(pl.col(c)).alias(c.removesuffix("_cents")) for c in money],
        )
        .drop("statement_date", *money)
        .select("shop_id", "statement_date_utc", pl.exclude("shop_id", "statement_date_utc"))
    )


def cut_at_as_of(staged: Staged, as_of: datetime) -> Staged:
    """Inputs dated after `as_of` have not happened yet (docs/statements.md): such orders (with their lines)
    and refunds move to `rejected_rows` as `after_as_of`, so nothing is lost and the answer
    does not depend on when the run happens. Deliveries after `as_of` are handled as not yet
    delivered by the statements."""
    t = dict(staged.tables)
    late_orders = t["orders"].filter(pl.col("created_at") > as_of)
    late_lines = t["order_lines"].join(late_orders.select("order_id"), on="order_id")
    late_refunds = t["refunds"].filter(pl.col("refunded_at") > as_of)
    moved = {
        "orders": (late_orders, ["order_id"], "created_at", pl.col("created_at").cast(pl.String)),
        "order_lines": (late_lines, ["order_id", "sku_id"], "order_id", pl.col("order_id")),
        "refunds": (late_refunds, ["refund_id"], "refunded_at", pl.col("refunded_at").cast(pl.String)),
    }
    rejected = [staged.rejected_rows]
    counts = {k: dict(v) for k, v in staged.counts.items()}
    for table, (late, key, column, value) in moved.items():
        if late.height == 0:
            continue
        rejected.append(
            late.select(
                pl.lit(table).alias("table"),
                pl.col("row_number"),
                pl.concat_str([pl.col(k) for k in key], separator="|").alias("key"),
                pl.lit(column).alias("column"),
                pl.lit("after_as_of").alias("reason"),
                value.alias("value"),
            ).cast(dtypes(RejectedRows))
        )
        t[table] = t[table].join(late.select("row_number"), on="row_number", how="anti")
        counts[table]["accepted"] -= late.height
        counts[table]["rejected"] += late.height
    return Staged(
        tables=t,
        rejected_rows=pl.concat(rejected).sort("table", "row_number"),
        counts=counts,
        invalid_promotion_ids=staged.invalid_promotion_ids,
        fee_schedule_supplied=staged.fee_schedule_supplied,
    )


def compute(
    raw: dict[str, pl.DataFrame],
    as_of: datetime,
    hold_days: int = 8,
    reported_details: pl.DataFrame | None = None,
    reported_statements: pl.DataFrame | None = None,
    recon: ReconParams | None = None,
) -> Results:
    """Stage the raw tables, cut at `as_of`, price every accepted order, write its statements,
    and reconcile them with the reported exports (typed by `transforms.reported`), if any."""
    staged = cut_at_as_of(stage(raw), as_of)
    return compute_staged(staged, known_orders(staged), as_of, hold_days, reported_details, reported_statements, recon)


def known_orders(staged: Staged) -> pl.DataFrame:
    """Every order ID of the input, accepted or rejected (a reported row for one is not `unexpected`)."""
    return pl.concat(
        [
            staged.tables["orders"].select("order_id"),
            staged.rejected_rows.filter(pl.col("table") == "orders").select(pl.col("key").alias("order_id")),
        ]
    )


def compute_staged(
    staged: Staged,
    known: pl.DataFrame,
    as_of: datetime,
    hold_days: int = 8,
    reported_details: pl.DataFrame | None = None,
    reported_statements: pl.DataFrame | None = None,
    recon: ReconParams | None = None,
    sliced: bool = False,
    reported_discounts: pl.DataFrame | None = None,
) -> Results:
    """Price, refund, write statements and reconcile staged tables: all shops, or one partition
    of whole shops (the computation never crosses shops, so partitions give the same rows).

    For a slice of one shop (`sliced`), the reconciliation is left to `reconcile_pieces` over
    all the shop's slices: this slice's share of it is in `recon_pieces`."""
    params = StatementParams(as_of=as_of, hold_days=hold_days)
    t = staged.tables
    priced = price_orders(
        t["orders"],
        t["order_lines"],
        t["promotions"],
        t["promotion_products"],
        t["opt_out_events"],
        staged.invalid_promotion_ids,
    )
    tax = line_sales_tax(priced.line_amounts, t["orders"])
    refunds = refund_amounts(t["refunds"], priced.line_amounts, tax, priced.order_shipping)
    restorations = coupon_restorations(
        t["refunds"], priced.line_amounts, priced.coupon_checks, promotion_headers(t["promotions"])
    )
    statements = build_statements(
        t["orders"], priced.line_amounts, tax, priced.order_shipping, refunds, t["fee_schedule"], params
    )
    recon = recon or ReconParams()
    reported_details, reported_statements = _reported(reported_details, reported_statements)
    # The evidence is only ever read for statements in the reconciled window.
    window = reconciled_window(reported_details, reported_statements, statements.order_details, recon)
    in_window = statements.order_details.join(window, on=["shop_id", "statement_date"], how="semi")
    ev = evidence(
        t["orders"],
        t["opt_out_events"],
        priced.blocked_incentives,
        priced.coupon_checks,
        in_window,
        t["fee_schedule"],
        statements.referral_rates,
    )
    funding = None
    if reported_discounts is not None:
        funding = funding_breaks(
            decimalise(priced.discount_lines), reported_discounts, t["orders"], settled_in(statements.order_details), ev
        )
    if sliced:
        pieces = ReconPieces(in_window, statements.unsettled_orders, ev)
        # Empty recon tables of their exact types: the shop's are made once from every slice's pieces.
        breaks, bridge = reconcile(
            statements.order_details.head(0),
            reported_details.head(0),
            reported_statements.head(0),
            known.head(0),
            statements.unsettled_orders.head(0),
            ev,
            recon,
            window.head(0),
        )
        return Results(
            staged=staged,
            priced=priced,
            refunds=refunds,
            coupon_restorations=restorations,
            statements=statements,
            params=params,
            recon_breaks=breaks,
            recon_statements=bridge,
            recon_pieces=pieces,
            funding_breaks=funding,
        )
    breaks, bridge = reconcile(
        statements.order_details,
        reported_details,
        reported_statements,
        known,
        statements.unsettled_orders,
        ev,
        recon,
        window,
    )
    return Results(
        staged=staged,
        priced=priced,
        refunds=refunds,
        coupon_restorations=restorations,
        statements=statements,
        params=params,
        recon_breaks=breaks,
        recon_statements=bridge,
        funding_breaks=funding,
    )


def settled_in(order_details: pl.DataFrame) -> pl.DataFrame:
    """(order_id, statement_date, statement_id): the statement each settled order's sale is on."""
    return (
        order_details.filter(pl.col("refund_id").is_null())
        .group_by("order_id")
        .agg(pl.col("shop_id").first(), pl.col("statement_date").min())
        .select(
            "order_id",
            "statement_date",
            statement_id(pl.col("shop_id"), pl.col("statement_date")).alias("statement_id"),
        )
    )
