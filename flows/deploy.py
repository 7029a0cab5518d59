"""The Prefect deployment: one deployment of the settle flow, served by a long-running process.

Its cron schedule (UTC) runs the nightly settlement of yesterday's statements; ad-hoc runs of
the same deployment (from the UI's "Run" form or `prefect deployment run`) take any parameters.
Runs of the deployment never overlap: a concurrency limit of one with `CANCEL_NEW` cancels a run
that would start while another is running (and the output directory's lock stops any other
writer, e.g. a `settle run` by hand).
"""

from pathlib import Path

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.schedules import Cron

from flows.settle import settle_flow

DEPLOYMENT = "settlement"
NIGHTLY_CRON = "30 2 * * *"  # 02:30 UTC: yesterday's statements are complete
NIGHTLY_PARAMETERS = {"days_back": 1}


def serve(
    input_dir: Path,
    out_dir: Path,
    cron: str = NIGHTLY_CRON,
    name: str = DEPLOYMENT,
    sources_dir: Path | None = None,
    timezone: str | None = None,
) -> None:
    """Create (or update) the deployment `settle/<name>` and serve its runs until interrupted.

    With `sources_dir`, every run first imports TikTok's own files from it into `input_dir`
    (docs/importing.md), then settles that."""
    parameters = {"input_dir": str(input_dir.resolve()), "out_dir": str(out_dir.resolve())}
    if sources_dir is not None:
        parameters |= {"sources_dir": str(sources_dir.resolve()), "timezone": timezone}
    settle_flow.serve(
        name=name,
        schedules=[Cron(cron, timezone="UTC", parameters=NIGHTLY_PARAMETERS, slug="nightly")],
        parameters=parameters,
        global_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        description="Nightly: yesterday's statements (UTC). Ad-hoc: any parameters.",
        tags=["settlement"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
