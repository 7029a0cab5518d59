"""A run's life on disk: the lock, the directory it is built in, the atomic swap, recovery.

Publishing builds a complete new run directory next to the live one, validates it, then
swaps the DuckDB file and the `current` symlink in with `os.replace`, so readers see either the
old outputs or the new ones, never a mix, and a failed run leaves the last good outputs intact.
"""

import fcntl
import json
import os
import shutil
import signal
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

DATABASE_NAME = "settlement.duckdb"
CURRENT = "current"
RUNS = "runs"
KEEP_RUNS = 3
LOCK_NAME = ".settle.lock"
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
        raise RunLocked(
            f"{out_dir} is in use by {holder}; wait for that run to finish, or publish to another output directory"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"run {run_id} (pid {os.getpid()} on {socket.gethostname()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)\n"
        )
        handle.flush()
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


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
