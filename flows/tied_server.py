"""Prefect's temporary server, started at once and tied to the life of the run that started it.

With no `PREFECT_API_URL`, a flow starts Prefect's temporary server as a child process. Left to
Prefect, that happens when the flow starts, after this process has imported the server's own
modules (about 4 s) only to start it in another process. Here the child starts first thing, its
start-up (about 5 s) runs on the other core while this process imports the job, and Prefect is
pointed at it (`PREFECT_API_URL`) as at any configured server.

A run killed with `kill -9` (an out-of-memory killer, a scheduler's last resort) runs no clean-up,
so the server would run on as an orphan of about 230 MB. The server gets a pipe on its standard
input that only the run holds: when the run ends, however it ends, the kernel closes it, the
server reads end-of-file and stops itself. The same holds on Linux and macOS, and does not depend
on which thread started the server (Linux's parent-death signal does).

Run as `python -m flows.tied_server UVICORN-ARGUMENTS` in the child.
"""

import atexit
import contextlib
import os
import random
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

# How long the server may take to stop on its own once the run is gone, before it is ended.
STOP_GRACE_SECONDS = 10
PORTS = range(8000, 9000)  # where Prefect puts its own temporary server
PORT_TAKEN = 3  # uvicorn's exit code when the port was taken between the choice and the start


class ServerFailed(RuntimeError):
    """The temporary server did not start; the message says what happened."""


def _free_port() -> int:
    for _ in range(20):
        port = random.choice(PORTS)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServerFailed(f"no free port for Prefect's temporary server in {PORTS.start}-{PORTS.stop - 1}")


class TiedServer:
    """Prefect's temporary server in a child process tied to this one, started when made."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = self._spawn()
        atexit.register(self.stop)  # after Prefect's own exit work, which registers later and runs first

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen[Any]:
        # Prefect 3.9.1's command and environment (`SubprocessASGIServer._run_uvicorn_command`),
        # run through this module, with the pipe on standard input.
        import prefect
        from prefect.settings import get_current_settings

        server_env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        uvicorn = [
            "--app-dir", str(prefect.__module_path__.parent), "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        return subprocess.Popen(
            [sys.executable, "-m", __name__, *uvicorn],
            stdin=subprocess.PIPE,
            env={**os.environ, **server_env, **get_current_settings().to_environment_variables(exclude_unset=True)},
        )

    def use(self) -> None:
        """Wait until the server answers, then point Prefect in this process (and its children) at it."""
        import httpx
        from prefect.context import refresh_global_settings_context
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        with httpx.Client() as client:
            while True:
                code = self.process.poll()
                if code == PORT_TAKEN:
                    self.port = _free_port()
                    self.process = self._spawn()
                elif code is not None:
                    raise ServerFailed(f"Prefect's temporary server stopped with exit code {code} before it answered")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerFailed(
                        f"Prefect's temporary server did not answer within {PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()} s"
                    )
                time.sleep(0.05)
        os.environ["PREFECT_API_URL"] = self.api_url
        refresh_global_settings_context()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _stop_when_parent_is_gone() -> None:
    sys.stdin.buffer.read()  # returns at end of file: the only writer, the run, has ended
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful stop
    time.sleep(STOP_GRACE_SECONDS)
    os._exit(1)


if __name__ == "__main__":
    threading.Thread(target=_stop_when_parent_is_gone, name="parent-watch", daemon=True).start()
    sys.argv = ["uvicorn", *sys.argv[1:]]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
