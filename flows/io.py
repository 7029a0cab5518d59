"""All file I/O of the job: reading the input directory, and publishing outputs atomically.

Publishing builds a complete new run directory next to the live one, validates it, then
swaps the `current` symlink (and the DuckDB file) with `os.replace`, so readers see either the
old outputs or the new ones, never a mix, and a failed run leaves the last good outputs intact.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from schemas.inputs import INPUT_TABLES, OPTIONAL_TABLES
from transforms.staging import InputContractError

DATABASE_NAME = "settlement.duckdb"
CURRENT = "current"
RUNS = "runs"
KEEP_RUNS = 3
LOCK_NAME = ".settle.lock"
SCRATCH_ROW_GROUP = 65_536
# Rows of a statement-dated table held at once while publishing it by date. At 10M Order details:
# 1.3 GiB held, and 1 s less than 500k rows, whose batches decode more of each part's row groups twice.
BY_DATE_BATCH_ROWS = 1_000_000
BY_DATE_WRITERS = 4  # date files written at once (small files are fixed cost that one thread cannot spread)
# Names a point at which the run kills itself as `kill -9` would (see `failpoint`).
FAILPOINT_VARIABLE = "SETTLE_FAILPOINT"
FAILPOINTS = (
    "staging", "partition", "database-before-commit", "database-after-commit", "manifest",
    "swap-run", "swap-database", "swap-current", "prune",
)  # fmt: skip


def failpoint(name: str) -> None:
    """Die here, with SIGKILL, when `SETTLE_FAILPOINT` names this point; otherwise nothing.

    The fault tests stop a real run at an exact step this way (as fail-rs's and FoundationDB's
    failpoints do), including the microseconds between two renames that no outside timing can
    hit. A SIGKILL runs no clean-up of any kind, so what the next run finds is what a crash,
    the out-of-memory killer or a power cut would leave at that point."""
    if os.environ.get(FAILPOINT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class InputError(RuntimeError):
    """An input problem that stops the run; the message names the file (and column)."""


def input_path(input_dir: Path, table: str) -> Path:
    return input_dir / f"{table}.parquet"


def check_inputs(input_dir: Path) -> dict[str, Path]:
    """The input files present, by table, once each is known to be Parquet with its required
    columns (from the footers alone, in milliseconds); the first problem stops the run."""
    if not input_dir.is_dir():
        raise InputError(f"input directory {input_dir} does not exist")
    paths = {}
    for table in INPUT_TABLES:
        path = input_path(input_dir, table)
        if not path.exists():
            if table in OPTIONAL_TABLES:
                continue
            raise InputError(f"{path}: required input file is missing")
        with _naming(path):
            columns = pl.read_parquet_schema(path)
        for col in INPUT_TABLES[table]:
            if col.required and col.name not in columns:
                raise InputError(f"{path}: required column '{col.name}' is missing")
        paths[table] = path
    return paths


def read_inputs(input_dir: Path) -> dict[str, pl.DataFrame]:
    """Read every input table present; a missing required file or unreadable file stops the run."""
    frames: dict[str, pl.DataFrame] = {}
    for table, path in check_inputs(input_dir).items():
        with _naming(path):
            frames[table] = pl.read_parquet(path)
    return frames


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault, named here
        raise InputError(f"{path}: cannot be read as Parquet ({type(exc).__name__}: {exc})") from exc


class RunLocked(RuntimeError):
    """Another run holds the output directory."""


@contextmanager
def run_lock(out_dir: Path, run_id: str) -> Iterator[None]:
    """Hold `out_dir` for one run: a second run at once stops at once, saying who holds it.

    An advisory `flock` on `<out>/.settle.lock`: the kernel releases it when the holder exits,
    however it exits, so a crashed run never leaves a stale lock behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = (out_dir / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another run"
        handle.close()
        raise RunLocked(f"{out_dir} is in use by {holder}; wait for that run to finish, or publish to another output directory") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {run_id} (pid {os.getpid()} on {socket.gethostname()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)\n")
        handle.flush()
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def contract_error_message(input_dir: Path, error: InputContractError) -> str:
    return f"{input_path(input_dir, error.table)}: {error}"


def fingerprints(input_dir: Path) -> dict[str, str]:
    """sha256 of every input file, by name (the manifest's record of what was read)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(input_dir.glob("*.parquet"))
    }


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """A published Parquet file: zstd level 1 (Order details at 1M rows: 11 % faster to write than
    Polars' default level 3, and 12 % smaller)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writing(path):
        frame.write_parquet(path, compression="zstd", compression_level=1, statistics=True)


def write_scratch(frame: pl.DataFrame, path: Path, sorted_by: str | None = None) -> None:
    """Intermediate data read back by the same run: fast to write (lz4), never published.

    With `sorted_by`, the rows are sorted by that column (stable) and carry row-group
    statistics, so a reader of a range of its values skips the rest (`write_by_date`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writing(path):
        if sorted_by is None:
            frame.write_parquet(path, compression="lz4", statistics=False)
        else:
            ordered = frame if frame[sorted_by].is_sorted() else frame.sort(sorted_by, maintain_order=True)
            ordered.write_parquet(path, compression="lz4", statistics=True, row_group_size=SCRATCH_ROW_GROUP)


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Polars reports a failed write (a full disk, say) as a ComputeError naming the OS error: made
    the OSError it is, naming the file, which the command line turns into one line."""
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        cause = re.search(r"os error (\d+)", str(exc))
        if cause is None:
            raise
        code = int(cause.group(1))
        raise OSError(code, os.strerror(code), str(path)) from exc


def date_batches(counts: pl.DataFrame, column: str, batch_rows: int) -> list[tuple[object, object]]:
    """Consecutive ranges `(first, last)` of the values of `column` (`counts`: each value and its
    rows, `len`, sorted by value) holding about `batch_rows` rows each: a whole date never splits."""
    batches = counts.with_columns(((pl.col("len").cum_sum() - pl.col("len")) // max(batch_rows, 1)).alias("_batch"))
    ranges = batches.group_by("_batch", maintain_order=True).agg(pl.col(column).min().alias("first"), pl.col(column).max().alias("last"))
    return list(zip(ranges["first"].to_list(), ranges["last"].to_list(), strict=True))


def write_by_date(parts: list[Path], directory: Path, column: str, batch_rows: int = BY_DATE_BATCH_ROWS) -> int:
    """One Parquet file per value of `column` over all `parts` (`<dir>/<column>=<value>/data.parquet`,
    or `<dir>/empty.parquet` if there are no rows); returns the number of files.

    One file per date for the whole run, not per partition: each Parquet file costs milliseconds
    of fixed encoding work, so a partition per date would multiply that by the partitions. Rows
    come in part order, then in their order within a part; dates are read `batch_rows` at a time,
    so memory stays bounded whatever the run's size.
    """
    if directory.exists():  # a retried publish starts over
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    counts = pl.scan_parquet(parts).group_by(column).len().sort(column).collect()
    if counts.height == 0:
        write_parquet(pl.scan_parquet(parts).head(0).collect(), directory / "empty.parquet")
        return 1
    for low, high in date_batches(counts, column, batch_rows):
        # Each part is sorted by `column`, so a date's rows are one run of it: the date's file is
        # the concatenation of those runs in part order (slices, not a gather of every column).
        runs: dict[object, list[pl.DataFrame]] = {}
        for part in parts:
            frame = pl.scan_parquet(part).filter(pl.col(column).is_between(pl.lit(low), pl.lit(high))).collect()
            lengths = frame.select(pl.col(column).rle()).unnest(column)
            starts = lengths["len"].cum_sum() - lengths["len"]
            for value, start, length in zip(lengths["value"], starts, lengths["len"], strict=True):
                runs.setdefault(value, []).append(frame.slice(start, length))
        # Files of a few rows are all fixed cost (a Polars write is a whole streaming query), and
        # that part does not use both cores: several files are written at once.
        with ThreadPoolExecutor(max_workers=BY_DATE_WRITERS) as pool:
            list(pool.map(lambda value: write_parquet(pl.concat(runs[value], rechunk=False), directory / f"{column}={value}" / "data.parquet"), runs))
    return counts.height


def new_run_dir(out_dir: Path, run_id: str) -> Path:
    """A private directory to build a run in; invisible to readers until `publish`.

    Called under the run lock, so what an earlier run left half-made (a `.building-*` directory
    or a `.current.*` link of a run killed with `kill -9`, which runs no clean-up) has no owner
    any more: it goes first."""
    _clear_debris(out_dir)
    path = out_dir / RUNS / f".building-{run_id}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path


def _clear_debris(out_dir: Path) -> None:
    if (out_dir / RUNS).is_dir():
        for stale in (out_dir / RUNS).glob(".building-*"):
            shutil.rmtree(stale, ignore_errors=True)
    for link in out_dir.glob(f".{CURRENT}.*"):
        link.unlink(missing_ok=True)


def publish(out_dir: Path, building: Path, run_id: str) -> Path:
    """Swap a fully built, validated run in: rename it, replace the database, repoint `current`.

    The rename of the database is the commit: a run stopped before it is not published (the next
    run removes its directory), and a run stopped after it is (the next run points `current` at
    it, see `recover`). Between the two renames, readers can tell: the database's newest
    `settle_runs` row and `current/manifest.json` name different runs."""
    final = out_dir / RUNS / run_id
    if final.exists():
        shutil.rmtree(final)
    os.replace(building, final)
    failpoint("swap-run")
    built_db = final / DATABASE_NAME
    if built_db.exists():
        os.replace(built_db, out_dir / DATABASE_NAME)
    failpoint("swap-database")
    _point_current(out_dir, run_id)
    failpoint("swap-current")
    _prune(out_dir, keep=run_id)
    return final


def _point_current(out_dir: Path, run_id: str) -> None:
    link_tmp = out_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
    os.symlink(Path(RUNS) / run_id, link_tmp)
    os.replace(link_tmp, out_dir / CURRENT)


def current_run(out_dir: Path) -> str | None:
    """The run `current` points to, or None before the first run."""
    link = out_dir / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def recover(out_dir: Path, database_run: str | None) -> list[str]:
    """Finish what a run killed inside `publish` left, under the run lock; what was done, said.

    `database_run` is the run the live database was last published by. A run directory that still
    holds its own database was never published: it goes. A database published by a run that
    `current` does not point to was committed: `current` moves to that run (roll forward)."""
    done = []
    runs = out_dir / RUNS
    if not runs.is_dir():
        return done
    for unpublished in sorted(p for p in runs.iterdir() if not p.name.startswith(".") and (p / DATABASE_NAME).exists()):
        shutil.rmtree(unpublished, ignore_errors=True)
        done.append(f"removed run {unpublished.name}, stopped before it was published")
    if database_run and database_run != current_run(out_dir) and (runs / database_run / "manifest.json").is_file():
        _point_current(out_dir, database_run)
        done.append(f"pointed current at run {database_run}, stopped after its database was published")
    return done


def discard(building: Path) -> None:
    shutil.rmtree(building, ignore_errors=True)


def _prune(out_dir: Path, keep: str) -> None:
    runs = sorted(p for p in (out_dir / RUNS).iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in runs[:-KEEP_RUNS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
            failpoint("prune")


def write_manifest(manifest: dict, path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
