"""The settlement flow: read inputs, compute, validate every output, publish atomically.

Run it from the CLI (`settle run`), from a Prefect deployment, or call `settle_flow(...)`.
Tasks pass paths and small summaries, never large frames, through Prefect's parameters.
"""

import platform
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from pandera import errors as pa_errors
from prefect.cache_policies import NO_CACHE

from flows import io
from schemas import outputs
from transforms.pipeline import Results, compute
from transforms.staging import InputContractError

# Output table → its Pandera model (validated on the full data before publishing).
OUTPUT_MODELS = {
    "discount_lines": outputs.DiscountLines,
    "blocked_incentives": outputs.BlockedIncentives,
    "coupon_checks": outputs.CouponChecks,
    "coupon_restorations": outputs.CouponRestorations,
    "rejected_rows": outputs.RejectedRows,
}


class RunFailed(RuntimeError):
    """The run stopped; the message is one line a person can act on."""


def _is_transient(task, task_run, state) -> bool:
    """Retry I/O only for what may pass (a busy disk, a network mount), never a broken input."""
    return not isinstance(state.result(raise_on_failure=False), io.InputError)


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=_is_transient, cache_policy=NO_CACHE)
def load(input_dir: Path) -> dict[str, pl.DataFrame]:
    return io.read_inputs(input_dir)


def validate(results: Results) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """Validate every output and engine frame; returns the output tables and the checks passed."""
    tables = results.published()
    checked = [(name, model, tables[name]) for name, model in OUTPUT_MODELS.items()]
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
        passed.append(model.__name__)
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
def write_outputs(tables: dict[str, pl.DataFrame], out_dir: Path, run_id: str, manifest: dict) -> Path:
    building = io.new_run_dir(out_dir, run_id)
    try:
        for name, frame in tables.items():
            io.write_parquet(frame, building / f"{name}.parquet")
        io.write_database(tables, building / io.DATABASE_NAME)
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
) -> dict:
    """Recompute discounts, statements and reconciliation for one input directory.

    Args:
        input_dir: Directory of input Parquet files (SPEC §2).
        out_dir: Directory the outputs are published to (`current/`, `settlement.duckdb`).
        as_of: The instant the run is as of (UTC); inputs dated after it have not happened. Default: now.
        hold_days: Days between delivery and settlement.
    """
    return run(Path(input_dir), Path(out_dir), as_of, hold_days)


def run(input_dir: Path, out_dir: Path, as_of: datetime | None = None, hold_days: int = 8) -> dict:
    """The flow body; returns the run summary (also written in the manifest)."""
    logger = get_run_logger()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    started = datetime.now(UTC)
    try:
        raw = load(input_dir)
        results = compute(raw, as_of)
    except io.InputError as exc:
        raise RunFailed(str(exc)) from None
    except InputContractError as exc:
        raise RunFailed(io.contract_error_message(input_dir, exc)) from None
    tables, checks = validate(results)
    run_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    manifest = {
        "run_id": run_id,
        "parameters": {"input_dir": str(input_dir), "out_dir": str(out_dir), "hold_days": hold_days},
        "as_of": as_of.isoformat(),
        "started_at": started.isoformat(),
        "inputs": io.fingerprints(input_dir),
        "fee_schedule": "supplied" if results.staged.fee_schedule_supplied else "default (US)",
        "rows_in": results.staged.counts,
        "rows_out": {name: frame.height for name, frame in tables.items()},
        "checks_passed": checks,
        "versions": {"python": platform.python_version(), "polars": pl.__version__},
    }
    published = write_outputs(tables, out_dir, run_id, manifest)
    summary = _summary(results, published)
    logger.info("published %s", published)
    return summary


def _summary(results: Results, published: Path) -> dict:
    dl = results.priced.discount_lines
    by_funder = dl.group_by("funded_by").agg(pl.col("amount_cents").sum())
    funded = dict(zip(by_funder["funded_by"], by_funder["amount_cents"], strict=True))
    counts = results.staged.counts
    return {
        "published": str(published),
        "orders_accepted": counts["orders"]["accepted"],
        "rows_rejected": results.staged.rejected_rows.height,
        "seller_discount_cents": int(funded.get("seller", 0)),
        "platform_discount_cents": int(funded.get("platform", 0)),
        "refunds": results.refunds.height,
    }
