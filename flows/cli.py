"""The `settle` command line: run the job, query its database, generate data.

Exit code 0 on success; on failure one line on stderr saying why, and exit code 1.
"""

import atexit
import logging
import os
import signal
import sys
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from flows.tied_server import TiedServer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="TikTok Shop settlement reconciliation.")


def _fail(message: str) -> None:
    typer.echo(f"settle: error: {message}", err=True)
    raise typer.Exit(code=1)


def _cannot_write(exc: OSError, out: Path) -> str:
    reason = exc.strerror or str(exc)  # a writer in Rust (Polars, jetxl) names no file, only the cause
    return f"cannot write {exc.filename or out}: {reason}; the outputs are those of the last run published"


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--as-of {value!r} is not an ISO 8601 instant (e.g. 2026-11-01T00:00:00Z)")
    if parsed.tzinfo is None:
        _fail(f"--as-of {value!r} has no time zone; give one (e.g. 2026-11-01T00:00:00Z)")
    return parsed


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a date (YYYY-MM-DD)")


def _parse_tolerances(values: list[str] | None) -> dict[str, Decimal] | None:
    tolerances = {}
    for item in values or []:
        label, sep, amount = item.rpartition("=")
        try:
            tolerances[label.strip()] = Decimal(amount.strip())
        except InvalidOperation:
            sep = ""
        if not sep:
            _fail(f"--tolerance {item!r} is not LABEL=AMOUNT (e.g. 'Referral fee=0.01')")
    return tolerances or None


def _start_temporary_server() -> "TiedServer | None":
    """Start Prefect's temporary server now, when no server is configured (`PREFECT_API_URL`), so
    that it starts while the job's modules import (`flows/tied_server.py`); `use()` it before the
    flow starts."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    from flows.tied_server import TiedServer

    return TiedServer()


def _use_server(server: "TiedServer | None") -> None:
    from flows.tied_server import ServerFailed

    if server is not None:
        try:
            server.use()
        except ServerFailed as exc:
            _fail(str(exc))


def _quiet_prefect(verbose: bool) -> None:
    """Prefect's own logs only with -v: the command says what matters itself."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    if not verbose:  # Prefect's queue services log on loggers of their own names, outside `prefect`:
        # "Still processing items" while a stopped run drains its events would follow the one line
        for service in ("EventsWorker", "APILogWorker"):
            logging.getLogger(service).setLevel(logging.ERROR)


class JournalSource(StrEnum):
    computed = "computed"
    reported = "reported"


@app.command()
def run(
    input: Annotated[Path, typer.Option("--input", help="Directory of input Parquet files.")] = Path("data_samples"),
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 instant with zone; default now.")] = None,
    hold_days: Annotated[int, typer.Option("--hold-days", min=0, help="Days from delivery to settlement.")] = 8,
    days_back: Annotated[
        int | None,
        typer.Option("--days-back", min=1, help="Cover the last N complete UTC days before --as-of (1 = yesterday)."),
    ] = None,
    statement_from: Annotated[
        str | None, typer.Option("--from", help="First statement date to cover (YYYY-MM-DD).")
    ] = None,
    statement_to: Annotated[str | None, typer.Option("--to", help="Last statement date to cover (YYYY-MM-DD).")] = None,
    shop: Annotated[
        list[str] | None, typer.Option("--shop", help="A shop ID to settle (repeatable); default every shop.")
    ] = None,
    recon_from: Annotated[
        str | None, typer.Option("--recon-from", help="First statement date to reconcile (YYYY-MM-DD).")
    ] = None,
    recon_to: Annotated[
        str | None, typer.Option("--recon-to", help="Last statement date to reconcile (YYYY-MM-DD).")
    ] = None,
    tolerance: Annotated[
        list[str] | None, typer.Option("--tolerance", help="LABEL=AMOUNT, e.g. 'Referral fee=0.01' (repeatable).")
    ] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx/--no-xlsx", help="Also write each statement as XLSX.")] = True,
    partition_orders: Annotated[
        int | None,
        typer.Option(
            "--partition-orders", min=1, help="Orders per partition of whole shops (default: the flow's, 400,000)."
        ),
    ] = None,
    partitions_at_once: Annotated[
        int | None,
        typer.Option(
            "--partitions-at-once",
            min=1,
            help="Partitions settled at the same time, without Dask (default: the flow's, 2; memory holds this many).",
        ),
    ] = None,
    dask: Annotated[bool, typer.Option("--dask", help="Run the partitions on a local Dask cluster.")] = False,
    dask_address: Annotated[
        str | None, typer.Option("--dask-address", help="Run the partitions on this Dask scheduler.")
    ] = None,
    journal_source: Annotated[
        JournalSource,
        typer.Option(
            "--journal-source",
            help="Journals from the computed statements, or from what TikTok reported (ties to the bank).",
        ),
    ] = JournalSource.computed,
    accounts: Annotated[
        Path | None,
        typer.Option("--accounts", help="Account mapping of the journals (TOML; default: schemas/accounts.toml)."),
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="With --days-back: price every order again, ignoring (and rebuilding) the last run's state."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own logs.")] = False,
) -> None:
    """Run the settlement flow on INPUT (reconciling INPUT/reported/ if present) and publish to OUT."""
    _quiet_prefect(verbose)
    os.environ.setdefault(
        "DASK_LOGGING__DISTRIBUTED", "info" if verbose else "critical"
    )  # a local cluster's own log lines
    instant = _parse_as_of(as_of)
    from ingest.input_tables import InputError, check_inputs
    from publish.store import RunLocked, run_lock

    try:  # fail before starting Prefect: a typo or a file that is not Parquet costs no server start
        check_inputs(input)
    except InputError as exc:
        _fail(str(exc))
    from ingest.accounts import read_accounts
    from schemas.journal import MappingError

    try:  # the journals' account mapping too (the flow checks it again, for runs that do not come from here)
        read_accounts(accounts)
    except MappingError as exc:
        _fail(str(exc))

    try:  # an output another run holds stops this one at once, before a server starts (the flow holds the lock itself)
        with run_lock(out, "(checking)"):
            pass
    except RunLocked as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_cannot_write(exc, out))
    server = _start_temporary_server()
    from flows.settle import RunFailed, settle_flow

    _use_server(server)
    try:
        summary = settle_flow(
            input_dir=str(input),
            out_dir=str(out),
            as_of=instant,
            days_back=days_back,
            statement_from=_parse_date(statement_from, "--from"),
            statement_to=_parse_date(statement_to, "--to"),
            shops=shop or None,
            hold_days=hold_days,
            recon_from=_parse_date(recon_from, "--recon-from"),
            recon_to=_parse_date(recon_to, "--recon-to"),
            tolerances=_parse_tolerances(tolerance),
            xlsx=xlsx,
            **({"partition_orders": partition_orders} if partition_orders is not None else {}),
            **({"partitions_at_once": partitions_at_once} if partitions_at_once is not None else {}),
            dask=dask,
            dask_address=dask_address,
            journal_source=journal_source.value,
            accounts_file=str(accounts) if accounts else None,
            full=full,
        )
    except RunFailed as exc:
        _fail(str(exc))
    except OSError as exc:  # a full disk, a read-only or vanished output directory: the run was discarded
        _fail(_cannot_write(exc, out))
    except BaseException as exc:
        if _during_sigterm(exc):  # Prefect takes SIGTERM itself in a flow, and can fail on it with another error
            raise Terminated from None
        if type(exc).__name__ == "InterruptException":  # DuckDB took Ctrl-C inside a query (staging, pricing)
            raise KeyboardInterrupt from None
        raise
    from publish.summary import print_summary

    print_summary(summary)


@app.command(name="import")
def import_(
    sources: Annotated[Path, typer.Option("--sources", help="Directory of TikTok's own files (docs/importing.md).")],
    out: Annotated[Path, typer.Option("--out", help="Input directory to write; `settle run --input` reads it.")],
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA zone of the order exports' local times, e.g. America/Los_Angeles."),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="Currency of the order exports' amounts.")] = "USD",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own logs.")] = False,
) -> None:
    """Import Seller Center order exports, Open API pages and the promotions template into an input directory."""
    _quiet_prefect(verbose)
    from ingest.sources import local_time_files
    from publish.imported import ImportTargetError, check_target

    if not sources.is_dir():
        _fail(f"sources directory {sources} does not exist")
    if timezone is None and (local := local_time_files(sources)):  # before a server starts
        _fail(f"{local[0]}: its times carry no offset; say whose they are with --timezone (e.g. America/Los_Angeles)")
    if timezone is not None:
        from transforms.seller_center import check_timezone

        try:
            check_timezone(timezone)
        except ValueError as exc:
            _fail(f"--timezone: {exc}")
    try:
        check_target(out)
    except ImportTargetError as exc:
        _fail(str(exc))
    server = _start_temporary_server()
    from flows.importing import ImportFailed, import_flow

    _use_server(server)
    try:
        summary = import_flow(sources_dir=str(sources), input_dir=str(out), timezone=timezone, currency=currency)
    except ImportFailed as exc:
        _fail(str(exc))
    from publish.summary import print_import_summary

    print_import_summary(summary)


@app.command()
def serve(
    input: Annotated[
        Path, typer.Option("--input", help="Input directory the deployment's runs read by default.")
    ] = Path("data_samples"),
    out: Annotated[
        Path, typer.Option("--out", help="Output directory the deployment's runs publish to by default.")
    ] = Path("out"),
    cron: Annotated[
        str | None, typer.Option("--cron", help="Nightly schedule, cron syntax, UTC (default 30 2 * * *).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Deployment name (the flow is 'settle').")] = "settlement",
    sources: Annotated[
        Path | None, typer.Option("--sources", help="Import TikTok's own files from here into --input before each run.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="With --sources: IANA zone of the order exports' local times.")
    ] = None,
) -> None:
    """Create the deployment settle/NAME (nightly cron, UTC) and serve its runs until Ctrl-C.

    Needs a Prefect server: start one with `prefect server start` and set PREFECT_API_URL
    (in the environment or with `prefect config set`).
    """
    if sources is not None:
        if not sources.is_dir():
            _fail(f"sources directory {sources} does not exist")
    elif not input.is_dir():
        _fail(f"input directory {input} does not exist")
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        _fail(
            "PREFECT_API_URL is not set: start a server with 'prefect server start' and "
            "run 'prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api'"
        )
    import httpx

    from flows.deploy import NIGHTLY_CRON
    from flows.deploy import serve as serve_deployment

    try:
        serve_deployment(input, out, cron or NIGHTLY_CRON, name, sources_dir=sources, timezone=timezone)
    except httpx.HTTPError as exc:
        _fail(
            f"cannot reach the Prefect server at {api_url} ({type(exc).__name__}); is 'prefect server start' running?"
        )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run against the analysts' database (read-only).")],
    database: Annotated[Path, typer.Option("--database", help="The DuckDB file.")] = Path("out/settlement.duckdb"),
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to print at most.")] = 100,
) -> None:
    """Run SQL read-only against the settlement database and print a table (no file access)."""
    import duckdb

    if not database.exists():
        _fail(f"{database} does not exist: run 'settle run' first")
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            # The SQL comes from whoever types it: no file is read or written (read_csv, COPY … TO,
            # EXPORT DATABASE, ATTACH, extensions), and the query cannot set these back.
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            result = con.sql(sql)
            if result is None:
                return
            columns = result.columns
            rows = result.limit(limit + 1).fetchall()
    except duckdb.Error as exc:
        _fail(f"query failed: {str(exc).splitlines()[0]}")
    _say_if_published_apart(database)
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows[:limit]:
        table.add_row(*["" if v is None else str(v) for v in row])
    console = Console(width=max(Console().width, 160))
    console.print(table)
    if len(rows) > limit:
        console.print(f"(first {limit} rows; use --limit for more)")


def _say_if_published_apart(database: Path) -> None:
    """One line on stderr when the database and `current` beside it were published by different
    runs: a run was stopped between its two renames, and the next run will finish it."""
    from publish.store import current_run
    from publish.warehouse import published_run

    in_database, in_current = published_run(database), current_run(database.parent)
    if in_database and in_current and in_database != in_current:
        typer.echo(
            f"settle: note: {database} holds run {in_database} but {database.parent / 'current'} is run {in_current}; "
            "a run was stopped while publishing, and the next run points current at the database's run",
            err=True,
        )


@app.command()
def generate(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Number of orders.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same files.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the input Parquet files to.")] = Path(
        "generated"
    ),
    shops: Annotated[
        int | None,
        typer.Option(
            "--shops",
            min=1,
            max=99,
            help="Number of shops (1 puts every order in one shop). Default: one per 50,000 orders, 2 to 20.",
        ),
    ] = None,
) -> None:
    """Generate realistic input tables of any size."""
    from synthetic.generate import generate_to_dir

    counts = generate_to_dir(orders, seed, out, n_shops=shops)
    for table, rows in counts.items():
        typer.echo(f"{table:20} {rows:>12,}")
    typer.echo(f"written to {out}")


def _quiet_interpreter_teardown() -> None:
    """Close stderr once everything has run (this handler is registered first, so it runs last).

    After a Prefect run, DuckDB's nanobind bindings print a wall of benign "leaked" warnings
    while the interpreter tears down; our own messages are all written before this point.
    """
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


class Terminated(BaseException):
    """SIGTERM (what a scheduler or `kill` sends), raised like Ctrl-C's KeyboardInterrupt."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _during_sigterm(exc: BaseException | None) -> bool:
    """Whether `exc` is, or arose while handling, Prefect's TerminationSignal: while a flow runs,
    Prefect's own SIGTERM handler replaces ours, and a SIGTERM that lands while a task run is being
    created ends in `ValueError: Task run is not set` raised during its handling. One that lands
    inside a Polars call that runs Python (reading a schema) comes back as Rust's PanicException,
    whose message names the TerminationSignal it carried."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "TerminationSignal":
            return True
        if type(exc).__name__ == "PanicException" and "TerminationSignal" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def main() -> None:
    atexit.register(_quiet_interpreter_teardown)
    # By default SIGTERM ends the process at once: no `finally`, no atexit, so the run being built
    # stayed on disk and Prefect's temporary server (a child process) ran on as an orphan. Raised
    # as an exception instead, the run is discarded and the server stopped, as with Ctrl-C.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Terminated:
        typer.echo("settle: terminated (SIGTERM); the outputs are those of the last run published", err=True)
        sys.exit(128 + signal.SIGTERM)


if __name__ == "__main__":
    main()
