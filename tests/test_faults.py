"""`kill -9` at every step of a real run: what is published stays whole, nothing runs on, and the
next run finishes or removes what the killed one left (docs/reliability.md)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from publish.store import CURRENT, DATABASE_NAME, FAILPOINT_VARIABLE, FAILPOINTS, KEEP_RUNS, RUNS
from publish.warehouse import published_run
from tests.test_cli import ROOT, SETTLE, _published

MARK = "SETTLE_FAULT_TEST"  # set on the run, inherited by every process it starts


def _run(
    out: Path, mark: str, failpoint: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """A run as users start it, marked; with `env` (`prefect_api`), on a running Prefect server."""
    env = {**(env or os.environ), MARK: mark, FAILPOINT_VARIABLE: failpoint or ""}
    command = [
        str(SETTLE),
        "run",
        "--input",
        str(ROOT / "data_samples"),
        "--out",
        str(out),
        "--as-of",
        "2026-11-01T00:00:00Z",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def _running_with(mark: str) -> list[int]:
    """Live processes started by a run that carried `mark` (a zombie has no environment left)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"{MARK}={mark}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _no_orphans(mark: str) -> bool:
    deadline = time.monotonic() + 15  # the server notices its run is gone and stops within seconds
    while _running_with(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _running_with(mark)


def _database_run(out: Path) -> str | None:
    return published_run(out / DATABASE_NAME)


def _current(out: Path) -> tuple[str, dict]:
    current = (out / CURRENT).resolve()
    return current.name, json.loads((current / "manifest.json").read_text())


def _killed_run(out: Path) -> str:
    """The run ID the last killed run took (the newest of the run directories and debris)."""
    names = [
        p.name.removeprefix(".building-").rsplit("-", 1)[0] if p.name.startswith(".") else p.name
        for p in (out / RUNS).iterdir()
    ]
    return max(names)


# The steps in two chains, each on its own output directory (the suite runs them side by side):
# every killed run is the "next run" of the one before it, and a last run ends each chain.
CHAINS = (FAILPOINTS[:5], FAILPOINTS[5:])
assert CHAINS[1][0] == "swap-run" and sum(CHAINS, ()) == FAILPOINTS
# Killed there, the run has started Prefect's temporary server (as users' runs do), which must not
# outlive it: early, inside the database write, after the commit, at the end. The other steps run
# on the suite's server, to keep the suite within its time (the server's tie does not depend on the step).
ON_A_TEMPORARY_SERVER = ("staging", "database-before-commit", "swap-database", "prune")


@pytest.mark.parametrize("chain", CHAINS, ids=lambda chain: f"{chain[0]}..{chain[-1]}")
def test_kill_9_at_every_step_leaves_a_whole_published_run_and_the_next_run_finishes_the_work(
    tmp_path, chain, prefect_api
):
    out = tmp_path / "out"
    first = _run(
        out, uuid.uuid4().hex, env=prefect_api
    )  # the killed runs start Prefect's temporary server: it must not outlive them
    assert first.returncode == 0, first.stderr
    before = _published(out)
    for point in chain:
        mark = uuid.uuid4().hex
        killed = _run(out, mark, point, env=None if point in ON_A_TEMPORARY_SERVER else prefect_api)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        assert _no_orphans(mark), point  # Prefect's temporary server stopped with its run
        debris = [p.name for p in (out / RUNS).iterdir() if p.name.startswith(".")]
        assert len(debris) <= 1, (point, debris)  # what earlier killed runs left is gone
        run_id, manifest = _current(out)
        assert manifest["run_id"] == run_id  # `current` resolves to a whole run
        if point in ("staging", "partition", "database-before-commit", "database-after-commit", "manifest", "swap-run"):
            assert _published(out) == before, point  # not published: readers see the last run, byte for byte
            assert _database_run(out) == run_id
            unpublished = _killed_run(out)
        elif point == "swap-database":  # committed, `current` not yet moved: a reader can tell
            assert _database_run(out) == _killed_run(out) != run_id
            said = subprocess.run(
                [str(SETTLE), "query", "SELECT 1", "--database", str(out / DATABASE_NAME)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert said.returncode == 0
            assert f"holds run {_killed_run(out)} but" in said.stderr
            rolled = _killed_run(out)
            recovered = json.loads((out / RUNS / rolled / "manifest.json").read_text())["recovered"]
            assert f"removed run {unpublished}, stopped before it was published" in recovered  # left by `swap-run`
        else:  # published: the database and `current` name the killed run
            assert _database_run(out) == run_id == _killed_run(out), point
        if point == "swap-database":
            continue
        if point == "swap-current":  # this run first pointed `current` at the run killed after its commit
            assert any(f"pointed current at run {rolled}" in line for line in manifest["recovered"])
        before = _published(out)
    last = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert last.returncode == 0, last.stderr
    run_id, manifest = _current(out)
    assert _database_run(out) == run_id
    runs = list((out / RUNS).iterdir())
    assert not [
        p for p in runs if p.name.startswith(".") or (p / DATABASE_NAME).exists()
    ]  # no debris, no unpublished run
    assert len(runs) == (KEEP_RUNS if "prune" in chain else 2)  # the first run and the last; or as many as are kept
    assert not list(out.glob(f".{CURRENT}.*"))


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB file system of its own (tmpfs), to fill up or make read-only."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root (CI runs as root)")
def test_a_full_disk_or_a_read_only_output_stops_the_run_with_one_line_and_loses_nothing(small_disk, prefect_api):
    out = small_disk / "out"
    first = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert first.returncode == 0, first.stderr
    before = _published(out)
    free = os.statvfs(small_disk)
    with (small_disk / "filler").open("wb") as filler:  # all but 256 KiB of what is left
        os.posix_fallocate(filler.fileno(), 0, free.f_bavail * free.f_frsize - 256 * 1024)
    full = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert full.returncode == 1
    assert re.fullmatch(
        r"settle: error: cannot write \S+: .*No space left on device.*; the outputs are those of the last run published\n",
        full.stderr,
    )
    assert _published(out) == before
    assert not [
        p for p in (out / RUNS).iterdir() if p.name.startswith(".")
    ]  # what it built is gone, and its space with it
    (small_disk / "filler").unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    read_only = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert read_only.returncode == 1
    assert (
        read_only.stderr
        == f"settle: error: cannot write {out / '.settle.lock'}: Read-only file system; the outputs are those of the last run published\n"
    )
    assert _published(out) == before
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    again = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert again.returncode == 0, again.stderr


ANALYST = """
import sys, time, duckdb
from pathlib import Path
con = duckdb.connect(sys.argv[1])  # read-write, as the DuckDB shell opens a file by default
stop = Path(sys.argv[2])
seen = set()
while not stop.exists():
    seen.add(con.execute(
        "SELECT (SELECT max(run_id) FROM settle_runs), (SELECT count(*) FROM order_details), (SELECT sum(total_settlement_amount) FROM statements)"
    ).fetchone())
    print(len(seen), flush=True)
    time.sleep(0.02)
print(len(seen), *sorted(run for run, *_ in seen), flush=True)
"""


def test_an_analyst_holding_the_database_open_sees_one_run_whole_and_the_run_publishes(tmp_path, prefect_api):
    out = tmp_path / "out"
    first = _run(out, uuid.uuid4().hex, env=prefect_api)
    assert first.returncode == 0, first.stderr
    old_run = _database_run(out)
    stop = tmp_path / "stop"
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(out / DATABASE_NAME), str(stop)], stdout=subprocess.PIPE, text=True
    )
    assert analyst.stdout.readline().strip() == "1"  # connected, and reading
    command = [
        str(SETTLE),
        "run",
        "--input",
        str(ROOT / "data_samples"),
        "--out",
        str(out),
        "--as-of",
        "2026-10-01T00:00:00Z",
    ]
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=prefect_api)
    stop.touch()
    seen = analyst.communicate(timeout=60)[0].strip().splitlines()[-1]
    assert second.returncode == 0, second.stderr  # the open connection did not stop the run
    assert (
        seen == f"1 {old_run}"
    )  # one run, whole (rows and totals never changed), for as long as it kept the connection
    new_run, _ = _current(out)
    assert new_run != old_run
    assert _database_run(out) == new_run  # a new connection sees the new run


def test_a_dask_worker_killed_while_settling_stops_the_run_with_one_line_and_leaves_nothing(tmp_path):
    """The out-of-memory killer takes a worker (here the failpoint, in the worker's process): Dask
    retries the partition on new workers, then gives up, and so does the run, in one line."""
    out, mark = tmp_path / "out", uuid.uuid4().hex
    # One try (Dask's default is 4), as a worker that is killed for memory would be killed again.
    env = {
        **os.environ,
        MARK: mark,
        FAILPOINT_VARIABLE: "partition",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    command = [
        str(SETTLE),
        "run",
        "--input",
        str(ROOT / "data_samples"),
        "--out",
        str(out),
        "--as-of",
        "2026-11-01T00:00:00Z",
        "--dask",
    ]
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert killed.returncode == 1
    assert killed.stderr.startswith("settle: error: the Dask workers settling a partition died, each time it was tried")
    assert len(killed.stderr.strip().splitlines()) == 1
    assert _no_orphans(mark)  # the cluster's scheduler, nannies and workers, and the Prefect server
    assert list((out / RUNS).iterdir()) == []
