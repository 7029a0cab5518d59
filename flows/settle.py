"""The settlement flow: read inputs, compute, validate every output, publish atomically.

Run it from the CLI (`settle run`), from a Prefect deployment, or call `settle_flow(...)`.
Tasks pass paths and small summaries, never large frames, through Prefect's parameters
(frames go to the compute step in-process; I/O tasks alone retry).
"""

import platform
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera import errors as pa_errors
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import exports, io, recon_report, warehouse
from flows.reported_io import read_reported
from schemas import outputs
from schemas.layout import ORDER_DETAILS_MONEY, cents_name
from schemas.staged import STAGED_MODELS
from transforms.pipeline import Results, compute
from transforms.reconcile import ReconParams
from transforms.reported import ReportedFileError
from transforms.staging import InputContractError

# Output table → its Pandera schema (validated on the full data before publishing).
OUTPUT_MODELS: dict[str, type[pa.DataFrameModel] | pa.DataFrameSchema] = {
    "discount_lines": outputs.DiscountLines,
    "blocked_incentives": outputs.BlockedIncentives,
    "coupon_checks": outputs.CouponChecks,
    "coupon_restorations": outputs.CouponRestorations,
    "order_details": outputs.OrderDetails,
    "statements": outputs.StatementsSchema,
    "unsettled_orders": outputs.UnsettledOrders,
    "recon_breaks": outputs.ReconBreaks,
    "recon_statements": outputs.ReconStatements,
    "rejected_rows": outputs.RejectedRows,
}
PARTITIONED = {
    "order_details": "statement_date_utc",
    "statements": "statement_date_utc",
    "recon_breaks": "statement_date_utc",
    "recon_statements": "statement_date_utc",
}


class RunFailed(RuntimeError):
    """The run stopped; the message is one line a person can act on."""


def _is_transient(task, task_run, state) -> bool:
    """Retry I/O only for what may pass (a busy disk, a network mount), never a broken input."""
    return not isinstance(state.result(raise_on_failure=False), io.InputError)


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=_is_transient, cache_policy=NO_CACHE)
def load(input_dir: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame | None, pl.DataFrame | None, list[str]]:
    """Input tables, and the reported exports under `reported/` (typed), with the files read."""
    raw = io.read_inputs(input_dir)
    try:
        details, statements, files = read_reported(input_dir)
    except ReportedFileError as exc:
        raise io.InputError(str(exc)) from None
    return raw, details, statements, files


def tolerance_cents(tolerances: dict[str, Decimal] | None) -> dict[str, int]:
    """Per-column tolerances (label → dollars) as exact cents; an unknown label or sub-cent value is an error."""
    cents = {}
    for label, amount in (tolerances or {}).items():
        if label not in ORDER_DETAILS_MONEY:
            raise RunFailed(f"tolerance for unknown column {label!r}; use an Order details money label")
        value = Decimal(str(amount)) * 100
        if value != value.to_integral_value() or value < 0:
            raise RunFailed(f"tolerance for {label!r} must be a non-negative amount in whole cents, got {amount}")
        cents[label] = int(value)
    return cents


def _schema_name(model) -> str:
    return getattr(model, "name", None) or model.__name__


def validate(results: Results) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """Validate every output and engine frame on the full data; returns the tables and checks passed."""
    tables = results.published()
    checked = [(name, model, tables[name]) for name, model in OUTPUT_MODELS.items()]
    checked += [(f"staged {name}", model, results.staged.tables[name]) for name, model in STAGED_MODELS.items()]
    checked += [
        ("priced lines", outputs.PricedLines, results.priced.line_amounts),
        ("order shipping", outputs.OrderShipping, results.priced.order_shipping),
    ]
    passed = []
    for name, model, frame in checked:
        try:
            model.validate(frame, lazy=True)
        except pa_errors.SchemaErrors as exc:
            cases = exc.failure_cases
            first = cases.row(0, named=True) if cases.height else {}
            raise RunFailed(
                f"{name} failed validation ({cases.height} failures; first: check {first.get('check')!r} "
                f"on {first.get('column')!r}, case {first.get('failure_case')!r}); nothing was published"
            ) from None
        passed.append(_schema_name(model))
    mismatches = outputs.statement_total_mismatches(tables["statements"], tables["order_details"])
    if mismatches.height:
        raise RunFailed(f"{mismatches.height} statements differ from the sum of their rows; nothing was published")
    passed.append("statement_totals_are_sums_of_rows")
    _check_nothing_lost(results)
    passed.append("rows_in_equals_accepted_plus_rejected")
    return tables, passed


def _check_nothing_lost(results: Results) -> None:
    rejected = results.staged.rejected_rows.group_by("table").len()
    by_table = dict(zip(rejected["table"], rejected["len"], strict=True))
    for table, count in results.staged.counts.items():
        if count["rows_in"] != count["accepted"] + by_table.get(table, 0):
            raise RunFailed(f"{table}: {count['rows_in']} rows in but {count['accepted']} accepted + {by_table.get(table, 0)} rejected")


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def write_outputs(
    tables: dict[str, pl.DataFrame],
    database_tables: dict[str, pl.DataFrame],
    out_dir: Path,
    run_id: str,
    manifest: dict,
    xlsx: bool = True,
    report_html: str = "",
) -> Path:
    """Build the whole run in a private directory, then swap it in (nothing half-written is ever live)."""
    building = io.new_run_dir(out_dir, run_id)
    try:
        for name, frame in tables.items():
            if name in PARTITIONED:
                io.write_partitioned(frame, building / name, PARTITIONED[name])
            else:
                io.write_parquet(frame, building / f"{name}.parquet")
        exports.write_exports(tables["order_details"], tables["statements"], building / "exports", xlsx=xlsx)
        warehouse.build({**tables, **database_tables}, building / io.DATABASE_NAME)
        (building / recon_report.FILE_NAME).write_text(report_html)
        io.write_manifest(manifest, building / "manifest.json")
        return io.publish(out_dir, building, run_id)
    except BaseException:
        io.discard(building)
        raise


@flow(name="settle", log_prints=True)
def settle_flow(
    input_dir: str = "data_samples",
    out_dir: str = "out",
    as_of: datetime | None = None,
    hold_days: int = 8,
    recon_from: date | None = None,
    recon_to: date | None = None,
    tolerances: dict[str, Decimal] | None = None,
) -> dict:
    """Recompute discounts and statements for one input directory, reconcile, and publish.

    Args:
        input_dir: Directory of input Parquet files (SPEC §2), with reported exports under `reported/<shop_id>/`.
        out_dir: Directory the outputs are published to (`current/`, `settlement.duckdb`).
        as_of: The instant the run is as of (UTC); inputs dated after it have not happened. Default: now.
        hold_days: Days between delivery and settlement.
        recon_from: First statement date to reconcile (default: the reported statement dates).
        recon_to: Last statement date to reconcile (default: the reported statement dates).
        tolerances: Per-column tolerance in dollars, by Order details label (e.g. {"Referral fee": 0.01}); flags, never hides.
    """
    return run(Path(input_dir), Path(out_dir), as_of, hold_days, ReconParams(recon_from, recon_to, tolerance_cents(tolerances)))


def run(
    input_dir: Path,
    out_dir: Path,
    as_of: datetime | None = None,
    hold_days: int = 8,
    recon: ReconParams | None = None,
    xlsx: bool = True,
) -> dict:
    """The flow body; returns the run summary (also written in the manifest)."""
    logger = get_run_logger()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    recon = recon or ReconParams()
    started = datetime.now(UTC)
    try:
        raw, reported_details, reported_statements, reported_files = load(input_dir)
        results = compute(raw, as_of, hold_days, reported_details, reported_statements, recon)
    except io.InputError as exc:
        raise RunFailed(str(exc)) from None
    except InputContractError as exc:
        raise RunFailed(io.contract_error_message(input_dir, exc)) from None
    tables, checks = validate(results)
    run_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    summary = shop_summary(results)
    manifest = {
        "run_id": run_id,
        "parameters": {
            "input_dir": str(input_dir),
            "out_dir": str(out_dir),
            "hold_days": hold_days,
            "recon_from": recon.recon_from,
            "recon_to": recon.recon_to,
            "tolerances_cents": recon.tolerances_cents,
        },
        "reported_files": reported_files,
        "as_of": as_of.isoformat(),
        "started_at": started.isoformat(),
        "inputs": io.fingerprints(input_dir),
        "fee_schedule": "supplied" if results.staged.fee_schedule_supplied else "default (US)",
        "rows_in": results.staged.counts,
        "rows_out": {name: frame.height for name, frame in tables.items()},
        "checks_passed": checks,
        "shops": summary.to_dicts(),
        "versions": {"python": platform.python_version(), "polars": pl.__version__},
    }
    orders_table = results.statements.timing.select(
        "order_id", "shop_id", pl.col("created_at").dt.date().alias("created_date"), "delivered_at", "settles_at", "status"
    )
    report_html = recon_report.render(tables["recon_statements"], tables["recon_breaks"], as_of)
    published = write_outputs(tables, {"orders": orders_table}, out_dir, run_id, manifest, xlsx, report_html)
    logger.info("published %s", published)
    recon_report.publish_artifacts(tables["recon_statements"], tables["recon_breaks"], summary, out_dir)
    return {
        "published": str(out_dir / io.CURRENT),
        "database": str(out_dir / io.DATABASE_NAME),
        "as_of": as_of.isoformat(),
        "rows_rejected": results.staged.rejected_rows.height,
        "orders_accepted": results.staged.counts["orders"]["accepted"],
        "shops": summary.to_dicts(),
        "recon_breaks": results.recon_breaks.height,
        "recon_statements": results.recon_statements.height,
        "report": str(out_dir / io.CURRENT / recon_report.FILE_NAME),
    }


def shop_summary(results: Results) -> pl.DataFrame:
    """Per shop, what a finance analyst asks first: settled, who funded the discounts, refunds, fees."""
    details = results.statements.order_details
    c = cents_name
    settled = details.group_by("shop_id").agg(
        pl.len().alias("order_detail_rows"),
        pl.col("statement_date").n_unique().alias("statements"),
        pl.col(c("Total settlement amount")).sum().alias("settlement_cents"),
        pl.col(c("Gross sales refund")).sum().alias("gross_refunds_cents"),
        pl.col(c("Fees")).sum().alias("fees_cents"),
    )
    discounts = results.priced.discount_lines.join(results.staged.tables["orders"].select("order_id", "shop_id"), on="order_id").group_by("shop_id").agg(
        pl.col("amount_cents").filter(pl.col("funded_by") == "seller").sum().alias("seller_funded_cents"),
        pl.col("amount_cents").filter(pl.col("funded_by") == "platform").sum().alias("tiktok_funded_cents"),
    )
    unsettled = results.statements.unsettled_orders.group_by("shop_id").agg(pl.len().alias("unsettled_orders"))
    shops = results.staged.tables["orders"].select("shop_id").unique()
    return (
        shops.join(settled, on="shop_id", how="left")
        .join(discounts, on="shop_id", how="left")
        .join(unsettled, on="shop_id", how="left")
        .fill_null(0)
        .sort("shop_id")
    )
