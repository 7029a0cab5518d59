"""The flow's tasks: stage the inputs once, then settle each partition of whole shops.

Tasks pass paths and small summaries, never frames: staging writes each partition's tables to
a scratch directory inside the run being built, and a partition task (in this process or on a
Dask worker) reads only its own files, computes, validates and writes its outputs next to them:
its exports in place, its statement-dated tables as one sorted scratch file each, which `load_run`
writes by date for the whole run, and its per-order and per-shop tables as a scratch file each,
which `load_run` loads into the database and publishes from it.
"""

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl
from pandera import errors as pa_errors
from prefect import task
from prefect.cache_policies import NO_CACHE

from ingest.input_tables import CHUNK_ROWS, REPORTED_DISCOUNTS, InputError, read_inputs, read_reported_discounts
from ingest.reported import read_reported
from publish import exports, parquet, store, warehouse
from schemas import outputs
from schemas.staged import STAGED_MODELS
from transforms import incremental as incremental_rules
from transforms import partition
from transforms.pipeline import ReconPieces, Results, compute_staged, cut_at_as_of, known_orders, reconcile_pieces
from transforms.reconcile import ReconParams
from transforms.reported import ReportedFileError
from transforms.run_scope import Window
from transforms.stacking import Priced
from transforms.staging import InputContractError, Staged, stage
from transforms.summaries import count_by, orders_table, shop_summary

# Tables with a statement date: their Parquet is one directory per date, named by this column.
FILED_BY_DATE = dict.fromkeys(outputs.replaced_per("statement_date"), "statement_date_utc")
# Tables without one (per order, per shop): published from the database the run leaves, so they
# hold every order of the run's shops whichever orders the run priced (a nightly run prices some).
FROM_DATABASE = (*outputs.replaced_per("order"), *outputs.replaced_per("shop"))
PUBLISHED_FILE = "data.parquet"  # the one file of each table of `FROM_DATABASE`
ORDER_CREATED = "order_created.parquet"  # every staged order's creation time (scratch), for the claims
SCRATCH = ".scratch"
REPORTED_DETAILS = "reported_details.parquet"  # the run's reported Order details rows, in scratch
ORDERS_TABLE = (
    "orders"  # the database's per-order table (status, dates): not a published output table, so kept in scratch
)


class RunFailed(RuntimeError):
    """The run stopped; the message is one line a person can act on."""


@dataclass(frozen=True)
class PartitionParams:
    as_of: datetime
    hold_days: int
    recon: ReconParams
    window: Window
    xlsx: bool


@dataclass(frozen=True)
class Incremental:
    """A nightly run that prices only what changed or what its window needs (transforms/incremental.py),
    against the state the last run left in `database`."""

    database: Path
    window_from: date
    window_to: date | None


@dataclass(frozen=True)
class StagedRun:
    """What staging hands the flow: the partitions planned, and the input's counts for the manifest."""

    partitions: list[partition.Part]
    rows_in: dict[str, dict[str, int]]  # per input table: rows_in, accepted
    rows_rejected: int
    orders_accepted: int
    fee_schedule_supplied: bool
    reported_files: list[str]
    checks_passed: list[str]
    # Orders priced, of the run's shops' staged orders, by reason (transforms/incremental.py): None
    # when the run priced every order (not a nightly run, or --full).
    repriced: dict | None = None


STATE_TABLES = ("order_state", "shop_state")  # the state a run leaves for the next one (in the database)
REMOVED_ORDERS = "removed_orders.parquet"  # orders of the state gone from the input (scratch)


@cache
def code_version() -> str:
    """What the rules are: the source of the transforms and contracts, and the engines' versions
    (Polars' hashes are stable only within one version). A new version invalidates the state."""
    digest = hashlib.sha256(f"polars {pl.__version__} duckdb {duckdb.__version__}".encode())
    root = Path(__file__).resolve().parents[1]
    for path in sorted([*(root / "transforms").glob("*.py"), *(root / "schemas").glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SettledPartition:
    """What one partition hands back: its counts, its shops' summaries and the checks it passed."""

    index: int
    orders: int
    order_lines: int
    rows_out: dict[str, int]
    shops: list[dict]  # `transforms.summaries.shop_summary` rows
    checks_passed: list[str]
    seconds: float


@dataclass(frozen=True)
class FinishedShop:
    """What finishing a sliced shop hands back: the rows of the tables made from all its slices."""

    rows_out: dict[str, int]
    statements_by_shop: dict[str, int]
    checks_passed: list[str]


def _is_transient(task, task_run, state) -> bool:
    """Retry I/O only for what may pass (a busy disk, a network mount), never a broken input."""
    return not isinstance(state.result(raise_on_failure=False), InputError | InputContractError)


def _schema_name(model) -> str:
    return getattr(model, "name", None) or model.__name__


FAILURES_SHOWN = 5  # failure cases a failed validation names; all of them are counted


def check(name: str, model, frame: pl.DataFrame) -> str:
    """Validate one frame on all its rows; a failure says how many cases and rows failed, and
    names the first few (check, column, row, value) in one line."""
    try:
        model.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        raise RunFailed(
            f"{name} failed validation: {failure_summary(exc.failure_cases)}; nothing was published"
        ) from None
    return _schema_name(model)


def failure_summary(cases: pl.DataFrame) -> str:
    """`N failures in M rows: <the first FAILURES_SHOWN cases>` of Pandera's failure cases."""
    rows = cases["index"].drop_nulls().n_unique()
    shown = [
        f"check {check!r} on {column!r}" + (f" at row {index + 1}" if index is not None else "") + f": {case!r}"
        for check, column, index, case in zip(
            *cases.head(FAILURES_SHOWN).select("check", "column", "index", "failure_case").get_columns(), strict=True
        )
    ]
    more = f"; and {cases.height - len(shown)} more" if cases.height > len(shown) else ""
    counted = f"{cases.height} failure{'s' * (cases.height != 1)} in {rows} row{'s' * (rows != 1)}"
    return f"{counted}: " + "; ".join(shown) + more


def check_nothing_lost(staged: Staged) -> None:
    rejected = staged.rejected_rows.group_by("table").len()
    by_table = dict(zip(rejected["table"], rejected["len"], strict=True))
    for table, count in staged.counts.items():
        if count["rows_in"] != count["accepted"] + by_table.get(table, 0):
            raise RunFailed(
                f"{table}: {count['rows_in']} rows in but {count['accepted']} accepted + {by_table.get(table, 0)} rejected"
            )


T = TypeVar("T")


def beside(side: Callable[[], object], main: Callable[[], T]) -> T:
    """`main()`, run in this thread while `side()` runs in a second one (both release the GIL in
    Polars and DuckDB). Both have finished when this returns or raises; an error of `main` wins,
    one of `side` alone is raised once `main` is done."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(side)
        try:
            result = main()
        finally:
            failed = future.exception()  # waits for `side`
    if failed is not None:
        raise failed
    return result


def dated_scratch(building: Path, table: str) -> Path:
    """Where partitions leave a statement-dated table (one sorted file each) for `load_run`."""
    return building / SCRATCH / "dated" / table


def undated_scratch(building: Path, table: str) -> Path:
    """Where partitions leave a table of `FROM_DATABASE` (a file each) for the database load."""
    return building / SCRATCH / "undated" / table


def _part(directory: Path, index: int) -> Path:
    return directory / SCRATCH / f"part-{index:05d}"


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=_is_transient, cache_policy=NO_CACHE)
def stage_inputs(
    input_dir: Path,
    building: Path,
    as_of: datetime,
    shops: list[str] | None,
    partition_orders: int,
    hold_days: int = 8,
    incremental: Incremental | None = None,
) -> StagedRun:
    """Read and stage every input row once; write `rejected_rows`, and each partition's tables to scratch.

    Returns the partitions (lists of shop IDs) and the counts for the manifest. Every run leaves
    the state of its shops' orders for the next (`STATE_TABLES`); an `incremental` run partitions
    only the orders it must price again.
    """
    raw = read_inputs(input_dir, chunk_rows=CHUNK_ROWS)
    split = read_reported_discounts(input_dir)
    try:
        details, statements, files = read_reported(input_dir)
    except ReportedFileError as exc:
        raise InputError(str(exc)) from None
    staged = cut_at_as_of(stage(raw), as_of)
    del raw
    checks = [check(f"staged {name}", model, staged.tables[name]) for name, model in STAGED_MODELS.items()]
    check_nothing_lost(staged)
    checks.append("rows_in_equals_accepted_plus_rejected")
    shop_orders = staged.tables["orders"].group_by("shop_id").len()
    if details is not None:  # a shop known only from its reports still gets its statements reconciled
        shop_orders = pl.concat(
            [shop_orders, details.select("shop_id").unique().with_columns(pl.lit(0, pl.UInt32).alias("len"))]
        )
        shop_orders = shop_orders.group_by("shop_id").agg(pl.col("len").sum())
    run_shops = shop_orders.get_column("shop_id") if shops is None else pl.Series("shop_id", shops, pl.String)
    pricing, repriced = _state(staged.tables, run_shops, as_of, hold_days, incremental, details, building / SCRATCH)
    if repriced is not None:  # the partitions are planned on the orders to price
        priced = pricing["orders"].group_by("shop_id").len()
        shop_orders = shop_orders.select("shop_id").join(priced, on="shop_id", how="left").fill_null(0)
    try:
        parts = partition.plan_parts(shop_orders, partition_orders, shops)
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    scratch = building / SCRATCH
    parquet.write_parquet(staged.rejected_rows, building / "rejected_rows.parquet")
    parquet.write_scratch(known_orders(staged), scratch / "known_orders.parquet")
    parquet.write_scratch(staged.invalid_promotion_ids, scratch / "invalid_promotion_ids.parquet")
    if details is not None:  # the reported journals' adjustments, once for the run (slices share a shop's rows)
        parquet.write_scratch(details, scratch / REPORTED_DETAILS)
    if split is not None:  # the claims list orders the run may not have priced (a nightly run)
        parquet.write_scratch(staged.tables["orders"].select("order_id", "created_at"), scratch / ORDER_CREATED)
    store.failpoint("staging")
    for index, (part, tables) in enumerate(zip(parts, partition.split(pricing, parts), strict=True)):
        for name, frame in tables.items():
            parquet.write_scratch(frame, _part(building, index) / f"{name}.parquet")
        if split is not None:  # TikTok's split of the partition's own orders
            parquet.write_scratch(
                split.join(tables["orders"].select("order_id"), on="order_id", how="semi"),
                _part(building, index) / f"{REPORTED_DISCOUNTS}.parquet",
            )
        # A slice gets its shop's reported rows: they set the reconciled window of its rows.
        for name, frame in (("reported_details", details), ("reported_statements", statements)):
            if frame is not None:
                parquet.write_scratch(
                    frame.filter(pl.col("shop_id").is_in(part.shops)), _part(building, index) / f"{name}.parquet"
                )
    return StagedRun(
        partitions=parts,
        rows_in=staged.counts,
        rows_rejected=staged.rejected_rows.height,
        orders_accepted=staged.counts["orders"]["accepted"],
        fee_schedule_supplied=staged.fee_schedule_supplied,
        reported_files=files,
        checks_passed=checks,
        repriced=repriced,
    )


def _state(
    tables: dict[str, pl.DataFrame],
    run_shops: pl.Series,
    as_of: datetime,
    hold_days: int,
    incremental: Incremental | None,
    details: pl.DataFrame | None,
    scratch: Path,
) -> tuple[dict[str, pl.DataFrame], dict | None]:
    """Write the state of the run's shops for the next run (each order's content hash, each shop's
    shared hash); with `incremental`, the tables cut to the orders to price, and the counts by reason."""
    mine = pl.col("shop_id").is_in(run_shops.implode())
    hashes = incremental_rules.order_hashes(tables).filter(mine)
    shared = incremental_rules.shared_hash(tables, hold_days, code_version())
    parquet.write_scratch(hashes, scratch / "order_state.parquet")
    parquet.write_scratch(
        pl.DataFrame({"shop_id": run_shops.unique().sort(), "shared_hash": shared}), scratch / "shop_state.parquet"
    )
    if incremental is None:
        return tables, None
    state_orders, state_shops = warehouse.read_state(incremental.database)
    state_orders = state_orders.filter(mine)
    removed = state_orders.join(hashes, on="order_id", how="anti").select("order_id")
    parquet.write_scratch(removed, scratch / REMOVED_ORDERS)
    reported = pl.DataFrame(schema={"order_id": pl.String})
    if details is not None:
        last = incremental.window_to or date.max
        dated = details.filter(mine & pl.col("statement_date").is_between(incremental.window_from, last))
        reported = pl.concat(
            [
                dated.select(pl.col("order_adjustment_id").alias("order_id")),
                dated.select(pl.col("related_order_id").alias("order_id")),
            ]
        ).drop_nulls()
    chosen = incremental_rules.to_price(
        tables, hashes, state_orders, state_shops, shared, incremental.window_from, hold_days, reported, as_of
    )
    repriced = {
        "orders_staged": hashes.height,
        "orders_priced": chosen.height,
        "orders_removed": removed.height,
        "by_reason": count_by(chosen, "reason"),
    }
    return incremental_rules.keep_orders(tables, chosen), repriced


def _read_partition(
    building: Path, index: int
) -> tuple[Staged, pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """A partition's staged tables, its reported rows and statements, and TikTok's split of its orders (each if any)."""
    part = _part(building, index)
    tables = {name: pl.read_parquet(part / f"{name}.parquet") for name in STAGED_MODELS}
    reported = [
        pl.read_parquet(p) if (p := part / f"{name}.parquet").exists() else None
        for name in ("reported_details", "reported_statements", REPORTED_DISCOUNTS)
    ]
    staged = Staged(
        tables=tables,
        rejected_rows=pl.DataFrame(),
        invalid_promotion_ids=pl.read_parquet(building / SCRATCH / "invalid_promotion_ids.parquet"),
    )
    return staged, reported[0], reported[1], reported[2]


def published_tables(results: Results, window: Window) -> dict[str, pl.DataFrame]:
    """The output tables of a partition, statement-dated ones cut to the window's dates."""
    tables = results.published()
    del tables["rejected_rows"]  # written once, for the whole input, by `stage_inputs`
    return {
        name: frame.filter(window.covers(pl.col("statement_date_utc"))) if name in FILED_BY_DATE else frame
        for name, frame in tables.items()
    }


def validate(priced: Priced, tables: dict[str, pl.DataFrame]) -> list[str]:
    """Validate every output of a partition and its priced lines and shipping, on all their rows;
    the checks passed."""
    checked = [(name, outputs.CONTRACTS[name], frame) for name, frame in tables.items()]
    checked += [
        ("priced lines", outputs.PricedLines, priced.line_amounts),
        ("order shipping", outputs.OrderShipping, priced.order_shipping),
    ]
    passed = [check(name, model, frame) for name, model, frame in checked]
    mismatches = outputs.statement_total_mismatches(tables["statements"], tables["order_details"])
    if mismatches.height:
        raise RunFailed(f"{mismatches.height} statements differ from the sum of their rows; nothing was published")
    passed.append("statement_totals_are_sums_of_rows")
    return passed


def _exporting(write: Callable[[], object]) -> Callable[[], None]:
    """`write` (of exports), with a statement that cannot be exported stopping the run in one line."""

    def run() -> None:
        try:
            write()
        except exports.ExportError as exc:
            raise RunFailed(f"{exc}; nothing was published") from None

    return run


def _pieces_dir(building: Path, index: int) -> Path:
    return building / SCRATCH / "recon-pieces" / f"part-{index:05d}"


@task(cache_policy=NO_CACHE)
def settle_partition(building: Path, index: int, params: PartitionParams, sliced: bool = False) -> SettledPartition:
    """Compute, validate and write one partition's outputs into the run being built; a small summary back.

    A slice of a shop (`sliced`) writes its Order details rows, its share of the statements
    (summed by `finish_sliced_shop`) and its share of the reconciliation; the shop's exports
    and reconciliation are made from all its slices."""
    started = time.perf_counter()
    staged, reported_details, reported_statements, split = _read_partition(building, index)
    known = pl.read_parquet(building / SCRATCH / "known_orders.parquet")
    results = compute_staged(
        staged,
        known,
        params.as_of,
        params.hold_days,
        reported_details,
        reported_statements,
        params.recon,
        sliced=sliced,
        reported_discounts=split,
    )
    tables = published_tables(results, params.window)
    name = f"part-{index:05d}.parquet"
    # What the rest needs of the results in cents, taken now: the rest of them (the staged tables,
    # the Order details in cents) are let go before validation and the exports, which hold the
    # published tables beside them (with another partition's computation, the run's peak).
    orders, order_lines = staged.tables["orders"].height, staged.tables["order_lines"].height
    shops = shop_summary(results, params.window).to_dicts()
    orders_out = orders_table(results)
    priced, pieces = results.priced, results.recon_pieces
    del results, staged

    def validate_and_write() -> list[str]:
        passed = validate(priced, tables)
        for table, frame in tables.items():
            if table in FILED_BY_DATE:  # published by date for the whole run by `load_run`
                parquet.write_scratch(frame, dated_scratch(building, table) / name, sorted_by=FILED_BY_DATE[table])
            else:  # published from the database by `load_run`
                parquet.write_scratch(frame, undated_scratch(building, table) / name)
        return passed

    # The exports (CSV formatting, mostly) run beside validation and the Parquet writes: each
    # leaves part of a core idle. All of it goes into the run being built, which a failed run
    # discards whole.
    if sliced:  # its share of the CSV exports, put together with the other slices' by `finish_sliced_shop`

        def fragments() -> None:
            shares = exports.write_csv_fragments(
                tables["order_details"], tables["statements"], _pieces_dir(building, index) / "csv.bin"
            )
            parquet.write_scratch(shares, _pieces_dir(building, index) / "csv-index.parquet")

        checks = beside(fragments, validate_and_write)
        for piece, frame in pieces.frames().items():
            parquet.write_scratch(frame, _pieces_dir(building, index) / f"{piece}.parquet")
    else:
        checks = beside(
            _exporting(
                lambda: exports.write_exports(
                    tables["order_details"], tables["statements"], building / "exports", xlsx=params.xlsx
                )
            ),
            validate_and_write,
        )
    parquet.write_parquet(orders_out, building / SCRATCH / ORDERS_TABLE / name)
    store.failpoint("partition")
    rows_out = {table: frame.height for table, frame in tables.items()}
    if sliced:  # counted once for the shop, by `finish_sliced_shop`
        rows_out |= dict.fromkeys(SHOP_SUMMED, 0)
    return SettledPartition(
        index=index,
        orders=orders,
        order_lines=order_lines,
        rows_out=rows_out,
        shops=shops,
        checks_passed=checks,
        seconds=round(time.perf_counter() - started, 3),
    )


SHOP_SUMMED = ("statements", "recon_breaks", "recon_statements")  # a sliced shop's tables made from all its slices


@task(cache_policy=NO_CACHE)
def finish_sliced_shop(
    building: Path, indices: list[int], params: PartitionParams, batch_rows: int = parquet.BY_DATE_BATCH_ROWS
) -> FinishedShop:
    """What sums over a sliced shop's orders, from all its slices (partitions `indices`, in order):

    - its statements: the slices' shares summed per statement (each share is the sum of that
      slice's rows, so the sum is the statement's total over all its rows);
    - its CSV exports, each the header and then every slice's share of its text in slice order
      (the rows in the order of one run, since slices are ranges of order IDs), and beside them
      its XLSX exports, from the rows, a batch of statement dates at a time;
    - its reconciliation, from every slice's pieces (all per order) and the shop's reported rows.

    Written where the first slice's files are, so by-date outputs keep the shop's place."""
    names = [f"part-{i:05d}.parquet" for i in indices]
    statement_files = [dated_scratch(building, "statements") / name for name in names]
    partial = pl.read_parquet(statement_files)
    money = [column for column, dtype in partial.schema.items() if isinstance(dtype, pl.Decimal)]
    keys = [column for column in partial.columns if column not in money]
    statements = (
        partial.group_by(keys, maintain_order=True)
        .agg(pl.col(money).sum())
        .with_columns(pl.col(money).cast(partial.schema[money[0]]) if money else [])
        .select(partial.columns)
        .sort("statement_date_utc", maintain_order=True)
    )
    checks = [check("statements", outputs.CONTRACTS["statements"], statements)]
    parquet.write_scratch(statements, statement_files[0], sorted_by="statement_date_utc")
    for extra in statement_files[1:]:
        parquet.write_scratch(statements.head(0), extra)

    shares = [
        (_pieces_dir(building, i) / "csv.bin", pl.read_parquet(_pieces_dir(building, i) / "csv-index.parquet"))
        for i in indices
    ]
    details = [dated_scratch(building, "order_details") / name for name in names]

    def xlsx() -> None:
        """From the rows, a quarter of a batch of statement dates at a time (each batch's files
        are written two at once: jetxl releases the GIL)."""
        counts = pl.scan_parquet(details).group_by("statement_date_utc").len().sort("statement_date_utc").collect()
        for low, high in parquet.date_batches(counts, "statement_date_utc", batch_rows // 4):
            dates = pl.col("statement_date_utc").is_between(pl.lit(low), pl.lit(high))
            rows = pl.concat([pl.scan_parquet(path).filter(dates).collect() for path in details])
            exports.write_xlsx_exports(rows, statements.filter(dates), building / "exports")

    def csv() -> None:
        exports.assemble_csvs(statements, shares, building / "exports")

    # The reconciliation first, alone: its joins over the whole shop are this step's peak of
    # memory, which an XLSX batch beside it would add to.
    recon = _reconcile_sliced_shop(building, indices, params)
    if params.xlsx:
        beside(_exporting(xlsx), csv)
    else:
        csv()
    for table, frame in recon.items():
        checks.append(check(table, outputs.CONTRACTS[table], frame))
        parquet.write_scratch(frame, dated_scratch(building, table) / names[0], sorted_by="statement_date_utc")
    return FinishedShop(
        rows_out={"statements": statements.height, **{table: frame.height for table, frame in recon.items()}},
        statements_by_shop=dict(zip(*statements.group_by("shop_id").len().get_columns(), strict=True)),
        checks_passed=checks,
    )


def _reconcile_sliced_shop(building: Path, indices: list[int], params: PartitionParams) -> dict[str, pl.DataFrame]:
    """`recon_breaks` and `recon_statements` of a sliced shop, in the window, from every slice's pieces."""
    pieces = ReconPieces.together(
        [
            {piece: pl.read_parquet(_pieces_dir(building, index) / f"{piece}.parquet") for piece in ReconPieces.FRAMES}
            for index in indices
        ]
    )
    _, reported_details, reported_statements, _ = _read_partition(building, indices[0])
    known = pl.read_parquet(building / SCRATCH / "known_orders.parquet")
    tables = reconcile_pieces(pieces, reported_details, reported_statements, known, params.recon)
    return {
        table: frame.filter(params.window.covers(pl.col("statement_date_utc")))
        for table, frame in zip(("recon_breaks", "recon_statements"), tables, strict=True)
    }
