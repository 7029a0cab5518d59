"""Prefect's temporary server, tied to the life of the run that started it.

With no `PREFECT_API_URL`, a flow starts Prefect's temporary server as a child process and
stops it when the run ends. A run killed with `kill -9` (an out-of-memory killer, a scheduler's
last resort) runs no clean-up, so the server ran on as an orphan of about 230 MB. Here the server
gets a pipe on its standard input that only the run holds: when the run ends, however it ends,
the kernel closes it, the server reads end-of-file and stops itself. The same holds on Linux and
macOS, and does not depend on which thread started the server (Linux's parent-death signal does).

`TiedServer()` must be made before Prefect first asks for its server: `SubprocessASGIServer` is
a singleton per port, so Prefect then finds and uses this one.

Run as `python -m flows.tied_server UVICORN-ARGUMENTS` in the child.
"""

import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from typing import Any

# How long the server may take to stop on its own once the run is gone, before it is ended.
STOP_GRACE_SECONDS = 10


def _tied_server_class() -> type:
    import prefect
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    class TiedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect 3.9.1's command and environment (`SubprocessASGIServer._run_uvicorn_command`),
            # run through this module, with the pipe on standard input.
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

    return TiedServer


def tied_server() -> Any:
    """The temporary server Prefect will use (not started yet), as a server tied to this process."""
    return _tied_server_class()()


def _stop_when_parent_is_gone() -> None:
    sys.stdin.buffer.read()  # returns at end of file: the only writer, the run, has ended
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own graceful stop
    time.sleep(STOP_GRACE_SECONDS)
    os._exit(1)


if __name__ == "__main__":
    threading.Thread(target=_stop_when_parent_is_gone, name="parent-watch", daemon=True).start()
    sys.argv = ["uvicorn", *sys.argv[1:]]
    runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
