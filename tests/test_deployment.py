"""The deployment, for real: a local Prefect server, `settle serve`, and runs started by deployment name.

A module fixture starts `prefect server start` on a free port with its own PREFECT_HOME; the test
serves the deployment with the real CLI (`settle serve`) and checks what the server holds: the
nightly cron in UTC for yesterday's statements (and the runs the server's scheduler puts on the
calendar from it), the concurrency limit of 1 with CANCEL_NEW, the default input and output
directories. Then it runs the deployment by name (an ad-hoc run, then the nightly's parameters)
and checks what the runs published; shows that an ad-hoc run started while another run of the
deployment holds the slot is cancelled, not run; and runs it once more from the Prefect CLI.

The test's client talks to this server only inside the test (`temporary_settings`), so nothing
leaks into other modules (e.g. one using `prefect_test_harness`), nor theirs into this one.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun, StateDetails, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelled, Pending, Running, Scheduled

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
BIN = Path(sys.executable).parent
DEPLOYMENT = "settle/settlement"

SERVER_START_TIMEOUT = 150  # cold start ~12 s here; CI machines and no-bytecode imports are slower
SERVE_TIMEOUT = 120  # `settle serve` imports the flow and registers the deployment
RUN_TIMEOUT = 240  # one run of data_samples, from scheduled to completed
SCHEDULED_TIMEOUT = (
    60  # the server's scheduler loop runs every 2 s here (PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS)
)


_started = [time.monotonic()]


def _phase(message: str) -> None:
    """Progress, in seconds since the server was started: shown by pytest when the test fails (or with -s)."""
    print(f"[{time.monotonic() - _started[0]:6.1f} s] {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} was not written)"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def _wait_for(what: str, check: Callable[[], object], timeout: float, log: Path, proc: subprocess.Popen) -> object:
    """Poll `check` until it returns something truthy; fail with the process log if it dies or time runs out."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what}: process exited with code {proc.returncode} before it was ready\n{_tail(log)}")
        try:
            result = check()
        except httpx.HTTPError as exc:  # not up yet (the Prefect client's errors are httpx's too)
            last_error = exc
        else:
            if result:
                return result
        time.sleep(0.5)
    pytest.fail(f"{what}: not ready after {timeout} s (last error: {last_error!r})\n{_tail(log)}")


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 20) -> None:
    """Signal the process group (the process and its children), wait, and kill what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    with contextlib.suppress(
        ProcessLookupError
    ):  # children (flow-run subprocesses, uvicorn workers) may outlive the leader
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=grace)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A real `prefect server start` on a free port; yields the environment its clients need."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": url,
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",  # put the nightly runs on the calendar at once
    }
    log = home / "server.log"
    _started[0] = time.monotonic()
    _phase(f"starting prefect server on port {port}")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        _wait_for(
            f"prefect server on port {port}",
            lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200,
            SERVER_START_TIMEOUT,
            log,
            proc,
        )
        _phase(f"server healthy at {url}")
        yield env
    finally:
        _stop(proc)


def _start_serve(env: dict[str, str], out: Path, log: Path) -> subprocess.Popen:
    _phase("starting settle serve")
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(BIN / "settle"), "serve", "--input", str(SAMPLES), "--out", str(out), "--name", "settlement"],
            env={**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},  # pick up new runs within a second
            cwd=out.parent,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _run_by_name(parameters: dict, serve: subprocess.Popen, serve_log: Path) -> FlowRun:
    """Run the deployment by name and wait for its final state."""
    _phase(f"run_deployment {parameters}")
    flow_run = run_deployment(DEPLOYMENT, parameters=parameters, timeout=RUN_TIMEOUT, poll_interval=1, as_subflow=False)
    state = flow_run.state
    if state is None or not state.is_final():
        alive = "running" if serve.poll() is None else f"exited with {serve.returncode}"
        pytest.fail(
            f"run {flow_run.name} with {parameters} not finished after {RUN_TIMEOUT} s "
            f"(state {state and state.name}; settle serve {alive})\n{_tail(serve_log)}"
        )
    _phase(f"run {flow_run.name}: {state.name}")
    return flow_run


def _completed(flow_run: FlowRun, serve_log: Path) -> None:
    state = flow_run.state
    assert state.is_completed(), (
        f"run {flow_run.name} {flow_run.parameters}: {state.name}: {state.message}\n{_tail(serve_log)}"
    )


def _database(out: Path) -> tuple[int, list[tuple]]:
    """Rows of order_details, and the runs the database has taken (as_of, statement_from, statement_to)."""
    with duckdb.connect(str(out / "settlement.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        details = con.execute("SELECT count(*) FROM order_details").fetchone()[0]
        runs = con.execute(
            "SELECT as_of, statement_from, statement_to FROM settle_runs ORDER BY published_at"
        ).fetchall()
    return details, runs


def test_served_deployment_runs_by_name(prefect_server, tmp_path):
    env = prefect_server
    url = env["PREFECT_API_URL"]
    out = tmp_path / "out"
    serve_log = tmp_path / "serve.log"
    serve = _start_serve(env, out, serve_log)
    defaults = {"input_dir": str(SAMPLES.resolve()), "out_dir": str(out.resolve())}
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            assert str(client.api_url).rstrip("/") == url, "the client must talk to the test server"

            def deployment():
                try:
                    return client.read_deployment_by_name(DEPLOYMENT)
                except ObjectNotFound:
                    return None

            found = _wait_for(f"deployment {DEPLOYMENT} from settle serve", deployment, SERVE_TIMEOUT, serve_log, serve)
            _phase(f"deployment {DEPLOYMENT} registered")

            # Nightly at 02:30 UTC, settling yesterday's statements.
            assert [s.slug for s in found.schedules] == ["nightly"], found.schedules
            nightly = found.schedules[0]
            assert nightly.active
            assert nightly.schedule.cron == "30 2 * * *"
            assert nightly.schedule.timezone == "UTC"
            assert nightly.parameters == {"days_back": 1}
            # A nightly and an ad-hoc run never overlap: one slot, and a run that would collide is cancelled.
            assert found.global_concurrency_limit is not None, "the deployment has no concurrency limit"
            assert found.global_concurrency_limit.limit == 1
            assert found.concurrency_options is not None
            assert found.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
            # Runs read the served input and publish to the served output unless told otherwise.
            assert found.parameters == defaults
            assert not found.paused

            # The server's scheduler has put the nightly runs on the calendar: 02:30 UTC, yesterday's statements.
            def scheduled():
                upcoming = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                    ),
                )
                return [r for r in upcoming if r.auto_scheduled]

            upcoming = _wait_for("nightly runs scheduled by the server", scheduled, SCHEDULED_TIMEOUT, serve_log, serve)
            for flow_run in upcoming:
                start = flow_run.expected_start_time.astimezone(UTC)
                assert (start.hour, start.minute) == (2, 30), start
                assert flow_run.parameters == {**defaults, "days_back": 1}

            # From here on the runs are started by name; switch the schedule off (which also drops its
            # scheduled runs) so a test run near 02:30 UTC meets no real nightly run.
            client.update_deployment_schedule(found.id, nightly.id, active=False)
            assert not scheduled(), "switching the schedule off left its scheduled runs"

            # An ad-hoc run by name, of every statement date as of 2026-11-01.
            _completed(_run_by_name({"as_of": "2026-11-01T00:00:00+00:00"}, serve, serve_log), serve_log)
            manifest = json.loads((out / "current" / "manifest.json").read_text())
            assert manifest["as_of"] == "2026-11-01T00:00:00+00:00"
            assert manifest["parameters"]["out_dir"] == str(out.resolve())
            details, runs = _database(out)
            assert details > 0, "the run published no order_details rows"
            assert len(runs) == 1, runs

            # The nightly run, by name with its schedule's parameters: yesterday's statements only.
            _completed(
                _run_by_name({"as_of": "2026-10-02T06:00:00+00:00", "days_back": 1}, serve, serve_log), serve_log
            )
            details_after, runs = _database(out)
            assert len(runs) == 2, runs
            nightly_as_of, statement_from, statement_to = runs[1]
            assert nightly_as_of.astimezone(UTC).isoformat() == "2026-10-02T06:00:00+00:00"
            assert statement_from == statement_to == date(2026, 10, 1), runs[1]
            assert details_after == details, "replacing a statement date must never duplicate or lose rows"

            # While a run of the deployment holds its slot, an ad-hoc run by name is cancelled, never run.
            # The holding run (a nightly) is moved to Running through the API, not executed, so the
            # overlap is certain however fast or slow the machine.
            holder = client.create_flow_run_from_deployment(
                found.id,
                parameters={"days_back": 1},
                name="nightly-holding-the-slot",
                state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1)),  # not due: the runner leaves it
            )
            try:
                # Pending takes the slot; a Pending dated now (not the far-off schedule) may go on to Running.
                for state in (Pending(state_details=StateDetails(scheduled_time=datetime.now(UTC))), Running()):
                    result = client.set_flow_run_state(holder.id, state)
                    assert result.status == SetStateStatus.ACCEPT, (
                        f"holding run: {state.name} not accepted: {result.details}"
                    )
                collided = _run_by_name({"as_of": "2026-11-01T00:00:00+00:00"}, serve, serve_log)
            finally:
                released = client.set_flow_run_state(holder.id, Cancelled(message="test done"))  # releases the slot
                assert released.status == SetStateStatus.ACCEPT, f"holding run not cancelled: {released.details}"
            assert collided.state.is_cancelled(), f"{collided.state.name}: {collided.state.message}"
            assert "concurrency limit" in (collided.state.message or ""), collided.state.message
            assert _database(out)[1] == runs, "the cancelled run must not have published"

        # From the Prefect CLI, as an operator starts an ad-hoc run (the slot is free again).
        _phase("prefect deployment run --watch")
        cli = subprocess.run(
            [
                str(BIN / "prefect"),
                "deployment",
                "run",
                DEPLOYMENT,
                "--watch",
                "--watch-timeout",
                str(RUN_TIMEOUT),
                "-p",
                'as_of="2026-11-01T00:00:00+00:00"',
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUN_TIMEOUT + 60,
            stdin=subprocess.DEVNULL,
        )
        _phase(f"prefect deployment run exited {cli.returncode}")
        assert cli.returncode == 0, (
            f"prefect deployment run exited {cli.returncode}\n{cli.stdout}\n{cli.stderr}\n{_tail(serve_log)}"
        )
        assert "Completed" in cli.stdout, cli.stdout
        _, runs = _database(out)
        assert len(runs) == 3, runs
        assert _database(out)[0] == details, "a full re-run replaces every date: same rows"
    finally:
        _stop(serve, signal.SIGINT)
