"""The settlement flow: stage the inputs, settle each partition of shops, validate, publish.

One flow for every way it runs: the nightly deployment (yesterday's statements), ad-hoc runs
from the Prefect UI or `settle run` with any parameters, and scale-out on Dask. Tasks pass
paths and small summaries, never frames (`flows/steps.py`); I/O tasks alone retry.
"""

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

import polars as pl
from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed, wait
from prefect.runtime import flow_run as flow_run_context
from pydantic import Field

from flows.steps import (
    FILED_BY_DATE,
    FROM_DATABASE,
    ORDER_CREATED,
    ORDERS_TABLE,
    PUBLISHED_FILE,
    REMOVED_ORDERS,
    REPORTED_DETAILS,
    SCRATCH,
    STATE_TABLES,
    FinishedShop,
    Incremental,
    PartitionParams,
    RunFailed,
    SettledPartition,
    StagedRun,
    beside,
    check,
    code_version,
    dated_scratch,
    finish_sliced_shop,
    settle_partition,
    stage_inputs,
    undated_scratch,
)
from ingest.accounts import read_accounts
from ingest.input_tables import REPORTED_DISCOUNTS, InputError, contract_error_message, fingerprints
from publish import claims, journals, parquet, recon_report, store, warehouse
from schemas.journal import AccountMap, JournalLines, MappingError
from transforms import journal
from transforms.partition import Part
from transforms.reconcile import ReconParams
from transforms.run_scope import ScopeError, Window, catch_up, statement_window, tolerance_cents
from transforms.staging import InputContractError
from transforms.summaries import with_order_totals

__all__ = ["RunFailed", "run", "settle_flow"]

# Orders per partition: fewer, larger partitions cost less fixed work per order, but two at once
# (below) are most of the run's peak memory: at 400,000, one shop of 10M order lines stays under
# 4 GiB (BENCHMARKS.md, "Session 14").
PARTITION_ORDERS = 400_000
# Partitions settled at once in the flow's process (without Dask). Parts of each step are
# single-threaded, so one partition leaves a core partly idle; a second one fills the gaps, at the
# price of holding two partitions in memory (BENCHMARKS.md, "Choices in the code").
PARTITIONS_AT_ONCE = 2


@flow(name="settle", log_prints=True)
def settle_flow(
    input_dir: str = "data_samples",
    out_dir: str = "out",
    as_of: datetime | None = None,
    days_back: Annotated[int, Field(ge=1)] | None = None,
    statement_from: date | None = None,
    statement_to: date | None = None,
    shops: list[str] | None = None,
    hold_days: Annotated[int, Field(ge=0)] = 8,
    recon_from: date | None = None,
    recon_to: date | None = None,
    tolerances: dict[str, Decimal] | None = None,
    xlsx: bool = True,
    partition_orders: Annotated[int, Field(ge=1)] = PARTITION_ORDERS,
    partitions_at_once: Annotated[int, Field(ge=1)] = PARTITIONS_AT_ONCE,
    dask: bool = False,
    dask_address: str | None = None,
    journal_source: Literal["computed", "reported"] = "computed",
    accounts_file: str | None = None,
    sources_dir: str | None = None,
    timezone: str | None = None,
    full: bool = False,
) -> dict:
    """Recompute discounts and statements, reconcile them with TikTok's exports, and publish.

    Args:
        input_dir: Directory of input Parquet files (docs/stacking.md), with reported exports under `reported/<shop_id>/`.
        out_dir: Directory the outputs are published to (`current/`, `settlement.duckdb`).
        as_of: The instant the run is as of (UTC); inputs dated after it have not happened. Default: the run's scheduled start (now, for a run by hand), so a late or retried nightly run settles the same day.
        days_back: Cover the statements of the last N complete UTC days before `as_of` (1 = yesterday, the nightly run), and every earlier day since the last published run covered (a missed night is caught up); overrides statement_from/statement_to.
        statement_from: First statement date (UTC) to publish and replace in the database; empty = from the first.
        statement_to: Last statement date (UTC) to publish and replace in the database; empty = up to the last.
        shops: Shop IDs to settle; empty = every shop in the input.
        hold_days: Days between delivery and settlement.
        recon_from: First statement date to reconcile (default: the reported statement dates in the window).
        recon_to: Last statement date to reconcile (default: the reported statement dates in the window).
        tolerances: Per-column tolerance in dollars, by Order details label (e.g. {"Referral fee": 0.01}); flags, never hides.
        xlsx: Also write each statement as XLSX (CSV is always written).
        partition_orders: Orders per partition (whole shops); bounds memory, and is the unit of progress and of scale-out.
        partitions_at_once: Partitions settled at the same time in the flow's process (memory holds this many partitions; 1 = one after another). Not used with Dask.
        dask: Run the partitions on a local Dask cluster (one worker per core).
        dask_address: Run the partitions on the Dask scheduler at this address (e.g. tcp://10.0.0.5:8786); implies dask.
        journal_source: Build each statement's journal from the computed statements, or from what TikTok reported (the books then tie to the bank; differences on their own account).
        accounts_file: The account mapping of the journals (TOML, see schemas/accounts.toml); empty = the US default.
        sources_dir: TikTok's own files (docs/importing.md): imported into `input_dir` first (the import flow), then settled; empty = `input_dir` is read as it is.
        timezone: With `sources_dir`: the IANA time zone of the order exports' and the template's local times.
        full: With `days_back`: price every order again, ignoring the state the last run left (which is then rebuilt); without it a nightly run prices only the orders that changed or that its statements need.
    """
    as_of_utc = (as_of or _scheduled_start()).astimezone(UTC)
    try:
        first, last = statement_window(days_back, statement_from, statement_to, as_of_utc)
        recon = ReconParams(recon_from, recon_to, tolerance_cents(tolerances))
    except ScopeError as exc:
        raise RunFailed(str(exc)) from None
    if sources_dir:
        from flows.importing import ImportFailed, import_flow

        try:
            import_flow(sources_dir=sources_dir, input_dir=input_dir, timezone=timezone)
        except ImportFailed as exc:
            raise RunFailed(str(exc)) from None
    return run(
        Path(input_dir),
        Path(out_dir),
        as_of_utc,
        hold_days,
        recon,
        xlsx=xlsx,
        window=Window(shops=shops or None, statement_from=first, statement_to=last),
        partition_orders=partition_orders,
        partitions_at_once=partitions_at_once,
        dask_address=dask_address if dask_address else ("local" if dask else None),
        journal_source=journal_source,
        accounts_file=Path(accounts_file) if accounts_file else None,
        catch_up_nights=days_back is not None,
        incremental=days_back is not None and not full,
    )


def _scheduled_start() -> datetime:
    """When this flow run was scheduled to start (a nightly run's 02:30), else now."""
    scheduled = flow_run_context.scheduled_start_time
    return datetime.fromisoformat(scheduled.isoformat()) if scheduled else datetime.now(UTC)


@dataclass(frozen=True)
class RunSetup:
    """One run's fixed facts, passed to each of its steps."""

    input_dir: Path
    out_dir: Path
    building: Path  # the run directory being built, swapped in by `publish_run`
    run_id: str
    started: datetime
    params: PartitionParams
    partition_orders: int
    partitions_at_once: int
    dask_address: str | None
    accounts: AccountMap
    journal_source: str
    incremental: bool = False  # price only what changed or what the window needs (a nightly run)


@dataclass(frozen=True)
class Settled:
    """Every partition's result, in partition order, and those of the sliced shops finished from them."""

    partitions: list[SettledPartition]
    sliced_shops: list[FinishedShop]


class _Phases:
    """Seconds per phase of the run, for the log and the summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        clock = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - clock


def run(
    input_dir: Path,
    out_dir: Path,
    as_of: datetime | None = None,
    hold_days: int = 8,
    recon: ReconParams | None = None,
    xlsx: bool = True,
    window: Window | None = None,
    partition_orders: int = PARTITION_ORDERS,
    partitions_at_once: int = PARTITIONS_AT_ONCE,
    dask_address: str | None = None,
    journal_source: str = "computed",
    accounts_file: Path | None = None,
    catch_up_nights: bool = False,
    incremental: bool = False,
) -> dict:
    """The flow body, under the output's lock: stage → settle the partitions → publish. Returns the
    run summary (also written in the manifest); a failed run leaves the last published one as it was."""
    logger = get_run_logger()
    as_of = (as_of or datetime.now(UTC)).astimezone(UTC)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    params = PartitionParams(
        as_of=as_of, hold_days=hold_days, recon=recon or ReconParams(), window=window or Window(), xlsx=xlsx
    )
    try:  # a mapping that cannot post balanced journals stops the run before any work
        accounts = read_accounts(accounts_file)
    except MappingError as exc:
        raise RunFailed(str(exc)) from None
    try:
        with store.run_lock(out_dir, run_id):
            recovered = store.recover(out_dir, warehouse.published_run(out_dir / store.DATABASE_NAME))
            for repaired in recovered:
                logger.warning("a run killed while publishing: %s", repaired)
            caught_up: list[date] = []
            if catch_up_nights and params.window.statement_from is not None:  # a nightly run
                window = params.window
                covered = warehouse.covered_to(out_dir / store.DATABASE_NAME, window.shops)
                first, caught_up = catch_up(window.statement_from, window.statement_to, covered)
                params = replace(params, window=replace(window, statement_from=first))
                if caught_up:
                    logger.warning("catching up %s statement date(s) no run published: %s", len(caught_up), caught_up)
            setup = RunSetup(
                input_dir=input_dir,
                out_dir=out_dir,
                building=store.new_run_dir(out_dir, run_id),
                run_id=run_id,
                started=started,
                params=params,
                partition_orders=partition_orders,
                partitions_at_once=partitions_at_once,
                dask_address=dask_address,
                accounts=accounts,
                journal_source=journal_source,
                incremental=incremental,
            )
            try:
                phases = _Phases()
                with phases.phase("stage"):
                    staged = _stage(setup, logger)
                settled = _settle(setup, staged, phases, logger)
                with phases.phase("publish"):
                    summary = _publish(setup, staged, settled, recovered, caught_up)
                logger.info(
                    "published %s in %s",
                    out_dir / store.CURRENT,
                    ", ".join(f"{k} {v:.1f} s" for k, v in phases.seconds.items()),
                )
                return summary | {"seconds": {k: round(v, 3) for k, v in phases.seconds.items()}}
            except BaseException:
                store.discard(setup.building)
                raise
    except store.RunLocked as exc:
        raise RunFailed(str(exc)) from None


def _stage(setup: RunSetup, logger) -> StagedRun:
    """Stage every input row once and plan the partitions; a broken input stops the run in one line."""
    try:
        params = setup.params
        incremental = None
        if setup.incremental and params.window.statement_from is not None:
            incremental = Incremental(
                setup.out_dir / store.DATABASE_NAME, params.window.statement_from, params.window.statement_to
            )
        staged = stage_inputs(
            setup.input_dir,
            setup.building,
            params.as_of,
            params.window.shops,
            setup.partition_orders,
            params.hold_days,
            incremental,
        )
    except InputError as exc:
        raise RunFailed(str(exc)) from None
    except InputContractError as exc:
        raise RunFailed(contract_error_message(setup.input_dir, exc)) from None
    logger.info(
        "staged %s orders (%s rows rejected) into %s partition(s)",
        f"{staged.orders_accepted:,}",
        f"{staged.rows_rejected:,}",
        len(staged.partitions),
    )
    return staged


def _settle(setup: RunSetup, staged: StagedRun, phases: _Phases, logger) -> Settled:
    """Settle every partition, then finish each sliced shop from its slices."""
    plan = staged.partitions
    with phases.phase("partitions"):
        parts = _settle_partitions(
            setup.building, plan, setup.params, setup.partitions_at_once, setup.dask_address, logger
        )
    indices = sliced_shops(plan)
    if not indices:
        return Settled(parts, [])
    with phases.phase("sliced_shops"):
        return Settled(parts, [finish_sliced_shop(setup.building, shop, setup.params) for shop in indices])


def _publish(setup: RunSetup, staged: StagedRun, settled: Settled, recovered: list[str], caught_up: list[date]) -> dict:
    """Write the run's report and manifest, publish the run, and return its summary."""
    params, building = setup.params, setup.building
    shops = _shop_summaries(settled)
    recon_statements, recon_breaks = (_read_table(building, name) for name in ("recon_statements", "recon_breaks"))
    journal_lines, journal_check = _journals(setup, recon_statements)
    shop_ids = sorted({shop for part in staged.partitions for shop in part.shops})
    loaded = load_run(
        setup.out_dir, building, {"run_id": setup.run_id, "as_of": params.as_of.isoformat()}, shop_ids, params
    )
    shops = with_order_totals(shops, warehouse.order_totals(building / store.DATABASE_NAME, shop_ids))
    manifest = _manifest(setup, staged, settled, shops, recovered, journal_lines.height, journal_check, caught_up)
    manifest["rows_out"] |= loaded.published  # all of the shops' orders, whichever the run priced
    manifest["database_rows_inserted"] = loaded.inserted
    owed = _claims(setup) if (setup.input_dir / f"{REPORTED_DISCOUNTS}.parquet").exists() else None
    (building / recon_report.FILE_NAME).write_text(
        recon_report.render(recon_statements, recon_breaks, params.as_of, owed)
    )
    publish_run(setup.out_dir, building, setup.run_id, manifest)
    recon_report.publish_artifacts(recon_statements, recon_breaks, shops, setup.out_dir)
    window = params.window
    return {
        "run_id": setup.run_id,
        "published": str(setup.out_dir / store.CURRENT),
        "database": str(setup.out_dir / store.DATABASE_NAME),
        "as_of": params.as_of.isoformat(),
        "statement_from": window.statement_from.isoformat() if window.statement_from else None,
        "statement_to": window.statement_to.isoformat() if window.statement_to else None,
        "rows_rejected": staged.rows_rejected,
        "orders_accepted": staged.orders_accepted,
        "partitions": len(staged.partitions),
        "shops": shops.to_dicts(),
        "recon_breaks": recon_breaks.height,
        "recon_statements": recon_statements.height,
        "report": str(setup.out_dir / store.CURRENT / recon_report.FILE_NAME),
        "caught_up": [day.isoformat() for day in caught_up],
    }


def _claims(setup: RunSetup) -> pl.DataFrame:
    """With TikTok's split in the input: the claims files per shop and month, and what TikTok owes
    and over-funded per statement (for the report)."""
    building = setup.building  # the run's shops' whole tables, from the database (`load_run`)
    funding = pl.read_parquet(building / "funding_breaks" / PUBLISHED_FILE)
    claimed = funding.filter(pl.col("tiktok_owes") > 0).select("order_id").unique()
    lines = pl.scan_parquet(building / "discount_lines" / PUBLISHED_FILE).join(
        claimed.lazy(), on="order_id", how="semi"
    )
    orders = pl.scan_parquet(building / SCRATCH / ORDER_CREATED).join(claimed.lazy(), on="order_id", how="semi")
    claims.write_claims(funding, lines.collect(), orders.collect(), building / "exports")
    return claims.owed_by_statement(funding)


def _journals(setup: RunSetup, recon_statements: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Every statement's journal (computed, or as reported for the reconciled ones; both sources are
    already cut to the run's window), checked, then written beside the statement-dated tables and as
    QuickBooks and Xero files per shop and month; the lines and the check passed."""
    building = setup.building
    sums = journal.statement_sums(pl.scan_parquet(sorted(dated_scratch(building, "order_details").glob("*.parquet"))))
    if setup.journal_source == "reported":
        details_path = building / SCRATCH / REPORTED_DETAILS
        details = pl.read_parquet(details_path) if details_path.exists() else None
        lines = journal.reported_journals(sums, recon_statements, details, setup.accounts)
    else:
        lines = journal.computed_journals(sums, setup.accounts)
    passed = check("journal_lines", JournalLines, lines)
    parquet.write_scratch(
        lines, dated_scratch(building, "journal_lines") / "journals.parquet", sorted_by="statement_date_utc"
    )
    journals.write_journal_exports(lines, building / "exports")
    return lines, passed


def _manifest(
    setup: RunSetup,
    staged: StagedRun,
    settled: Settled,
    shops: pl.DataFrame,
    recovered: list[str],
    journal_rows: int,
    journal_check: str,
    caught_up: list[date],
) -> dict:
    """What the run read, did and wrote, as `manifest.json` records it."""
    params = setup.params
    done = settled.partitions + settled.sliced_shops
    rows_out = {
        table: sum(part.rows_out[table] for part in done if table in part.rows_out)
        for table in settled.partitions[0].rows_out
    }  # always one partition or more
    rows_out["rejected_rows"] = staged.rows_rejected
    rows_out["journal_lines"] = journal_rows
    return {
        "run_id": setup.run_id,
        "parameters": {
            "input_dir": str(setup.input_dir),
            "out_dir": str(setup.out_dir),
            "hold_days": params.hold_days,
            "shops": params.window.shops,
            "statement_from": params.window.statement_from,
            "statement_to": params.window.statement_to,
            "recon_from": params.recon.recon_from,
            "recon_to": params.recon.recon_to,
            "tolerances_cents": params.recon.tolerances_cents,
            "partition_orders": setup.partition_orders,
            "partitions_at_once": setup.partitions_at_once,
            "dask_address": setup.dask_address,
        },
        "reported_files": staged.reported_files,
        "as_of": params.as_of.isoformat(),
        "started_at": setup.started.isoformat(),
        "inputs": fingerprints(setup.input_dir),
        "fee_schedule": "supplied" if staged.fee_schedule_supplied else "default (US)",
        "rows_in": staged.rows_in,
        "rows_out": rows_out,
        "partitions": [
            {
                "shops": part.shops,
                **({"slice": part.slice + 1, "of": part.slices} if part.sliced else {}),
                "orders": p.orders,
                "order_lines": p.order_lines,
                "seconds": p.seconds,
            }
            for part, p in zip(staged.partitions, settled.partitions, strict=True)
        ],
        "checks_passed": sorted(set(staged.checks_passed).union(*(p.checks_passed for p in done), [journal_check])),
        "shops": shops.to_dicts(),
        "versions": {"python": platform.python_version(), "polars": pl.__version__},
        "recovered": recovered,  # what this run finished or removed of a run killed while publishing
        "journals": {"source": setup.journal_source, "accounts": setup.accounts.source},
        "caught_up": [day.isoformat() for day in caught_up],  # statement dates a missed night left
        # A nightly run's orders priced again, by reason (transforms/incremental.py); null: every order was.
        "repriced": staged.repriced,
        "code_version": code_version(),
    }


def sliced_shops(plan: list[Part]) -> list[list[int]]:
    """The partitions of each sliced shop (consecutive in the plan), in order."""
    shops: dict[str, list[int]] = {}
    for index, part in enumerate(plan):
        if part.sliced:
            shops.setdefault(part.shops[0], []).append(index)
    return list(shops.values())


def _shop_summaries(settled: Settled) -> pl.DataFrame:
    """One summary row per shop: a sliced shop's slices summed, its statements counted once."""
    shops = pl.DataFrame([shop for part in settled.partitions for shop in part.shops])  # none if no orders
    if not shops.height:
        return shops
    shops = shops.group_by("shop_id", maintain_order=True).agg(pl.exclude("shop_id").sum()).sort("shop_id")
    counted = {shop: n for done in settled.sliced_shops for shop, n in done.statements_by_shop.items()}
    if counted:
        shops = shops.with_columns(
            pl.col("shop_id")
            .replace_strict(counted, default=pl.col("statements"), return_dtype=shops.schema["statements"])
            .alias("statements")
        )
    return shops


def _read_table(building: Path, name: str) -> pl.DataFrame:
    """A statement-dated table of the run, from the partitions' files (date, then shop order)."""
    return pl.read_parquet(sorted(dated_scratch(building, name).glob("*.parquet"))).sort(
        "statement_date_utc", "shop_id", maintain_order=True
    )


def _settle_partitions(
    building: Path, groups: list[Part], params: PartitionParams, at_once: int, dask_address: str | None, logger
) -> list[SettledPartition]:
    """Every partition's summary, in partition order; progress as a Prefect artifact and in the log.
    Without Dask, `at_once` partitions are in flight at a time, so memory holds at most that many."""
    progress = create_progress_artifact(progress=0.0, key="settle-progress", description="Partitions settled")
    if dask_address is not None:
        from distributed import KilledWorker

        try:
            return settle_on_dask.with_options(task_runner=_dask_runner(dask_address))(
                building, groups, params, progress
            )
        except KilledWorker:  # killed from outside, most often by the out-of-memory killer
            raise RunFailed(
                "the Dask workers settling a partition died, each time it was tried (killed from outside, often for "
                "lack of memory: give the workers more, or cut smaller partitions with --partition-orders)"
            ) from None
    return _settle_in_flight(building, groups, params, at_once, progress, logger)


def _settle_in_flight(
    building: Path, groups: list[Part], params: PartitionParams, at_once: int, progress: UUID, logger
) -> list[SettledPartition]:
    """Submit the partitions to the current task runner, `at_once` in flight (largest first, as
    planned); their summaries in partition order. If one fails, the others in flight finish
    before the error goes on (the run directory they write into is then discarded whole)."""
    waiting, running, parts = list(range(len(groups))), [], []
    try:
        while waiting or running:
            while waiting and len(running) < at_once:
                index = waiting.pop(0)
                running.append(settle_partition.submit(building, index, params, groups[index].sliced))
            finished = next(as_completed(running))
            running.remove(finished)
            parts.append(finished.result())
            _report_progress(progress, groups, parts, logger)
    finally:
        wait(running)
    return sorted(parts, key=lambda part: part.index)


def _report_progress(progress, groups: list[Part], parts: list[SettledPartition], logger) -> None:
    update_progress_artifact(artifact_id=progress, progress=100.0 * len(parts) / len(groups))
    last = parts[-1]
    part = groups[last.index]
    what = (
        f"slice {part.slice + 1}/{part.slices} of shop {part.shops[0]!r}"
        if part.sliced
        else f"{len(part.shops)} shop(s)"
    )
    logger.info(
        "partition %s/%s settled: %s orders of %s in %.1f s",
        len(parts),
        len(groups),
        f"{last.orders:,}",
        what,
        last.seconds,
    )


def _dask_runner(address: str):
    """prefect-dask's runner: the scheduler at `address`, or a local cluster ("local", one single-threaded worker per core)."""
    from prefect_dask import DaskTaskRunner

    if address != "local":
        return DaskTaskRunner(address=address)
    with get_client(sync_client=True) as client:  # workers talk to this run's API, not a temporary server each
        api_url = str(client.api_url)
    workers = os.cpu_count() or 1
    env = {"PREFECT_API_URL": api_url, "POLARS_MAX_THREADS": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "env": env,
            "dashboard_address": None,
        }
    )


@flow(name="settle-partitions-on-dask", validate_parameters=False)
def settle_on_dask(
    building: Path, groups: list[Part], params: PartitionParams, progress: UUID
) -> list[SettledPartition]:
    """Every partition submitted to the Dask cluster at once (its workers schedule them); the summaries as they finish."""
    return _settle_in_flight(building, groups, params, len(groups), progress, get_run_logger())


@dataclass(frozen=True)
class Loaded:
    """Rows per table: inserted into the database, and published from it (`FROM_DATABASE`)."""

    inserted: dict[str, int]
    published: dict[str, int]


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def load_run(out_dir: Path, building: Path, run: dict, shops: list[str], params: PartitionParams) -> Loaded:
    """Write the statement-dated tables by date and apply the run (`run_id`, `as_of`) to a copy of
    the database; then publish the tables without a statement date from that copy
    (`FROM_DATABASE`). A retry starts over (scratch is kept until `publish_run`)."""
    files = {name: sorted(dated_scratch(building, name).glob("*.parquet")) for name in FILED_BY_DATE}
    files |= {name: sorted(undated_scratch(building, name).glob("*.parquet")) for name in FROM_DATABASE}
    files[ORDERS_TABLE] = sorted((building / SCRATCH / ORDERS_TABLE).glob("*.parquet"))
    files["rejected_rows"] = [building / "rejected_rows.parquet"]
    files |= {name: [building / SCRATCH / f"{name}.parquet"] for name in STATE_TABLES}
    removed = building / SCRATCH / REMOVED_ORDERS  # there when the run priced only some orders
    database = building / store.DATABASE_NAME

    def load_database() -> dict[str, int]:
        try:
            return warehouse.update(
                out_dir / store.DATABASE_NAME,
                database,
                files,
                shops,
                params.window.statement_from,
                params.window.statement_to,
                run,
                removed if removed.exists() else None,
            )
        except warehouse.WarehouseError as exc:
            raise RunFailed(str(exc)) from None

    # Both read the partitions' files and neither needs the other: the Parquet by date is
    # written beside the database load.
    inserted = beside(
        lambda: [parquet.write_by_date(files[name], building / name, column) for name, column in FILED_BY_DATE.items()],
        load_database,
    )
    published = warehouse.publish_tables(
        database, FROM_DATABASE, shops, {name: building / name / PUBLISHED_FILE for name in FROM_DATABASE}
    )
    return Loaded(inserted, published)


@task(retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_run(out_dir: Path, building: Path, run_id: str, manifest: dict) -> Path:
    """Write the manifest, drop scratch, and swap the run in (`load_run` came first). A retry picks
    up where the last try stopped."""
    if (building / SCRATCH).exists():  # gone only once the manifest is written: then only the swap is left
        store.write_manifest(manifest, building / "manifest.json")
        store.failpoint("manifest")
        store.discard(building / SCRATCH)
    return store.publish(out_dir, building, run_id)
