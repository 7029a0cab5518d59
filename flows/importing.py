"""The import flow (docs/importing.md): a sources directory of TikTok's own files → an input
directory the settle flow reads unchanged. Orchestration only: ingest/sources.py reads,
transforms/importing.py maps, publish/imported.py writes and swaps.

It runs from `settle import`, and inside the settle flow when that is given `sources_dir` (so the
nightly deployment imports what was downloaded, then settles it).
"""

from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger

from ingest.sources import Sources, SourcesError, read_sources
from publish.imported import MANIFEST, ImportTargetError, write_import
from schemas.inputs import REASONS, file_schema
from transforms.importing import Imported, import_rows
from transforms.seller_center import OrderExportError
from transforms.staging import InputContractError, stage
from transforms.summaries import count_by


class ImportFailed(RuntimeError):
    """An import that stopped; the message names the file (and column) and says why."""


@flow(name="import-sources", log_prints=True, validate_parameters=False)
def import_flow(sources_dir: str, input_dir: str, timezone: str | None = None, currency: str = "USD") -> dict:
    """Import the files under `sources_dir` (Seller Center order exports, Open API pages, the
    promotions template, the catalog and order attributes) into the input directory `input_dir`.

    Args:
        sources_dir: The sources directory (docs/importing.md "The sources directory").
        input_dir: The input directory to write (a link to the current import); `settle run --input` reads it.
        timezone: IANA time zone of the order exports' and the template's local times (e.g. America/Los_Angeles); required when there are any.
        currency: Currency of the order exports' amounts (the Open API pages carry their own).
    """
    logger = get_run_logger()
    try:
        sources = read_sources(Path(sources_dir), timezone, currency)
        imported = import_rows(sources.rows)
        manifest = _manifest(sources, imported, timezone, currency)
        tables = _tables(sources, imported)
        written = write_import(Path(input_dir), tables, sources.found.statements, manifest)
    except (SourcesError, OrderExportError, ImportTargetError, ValueError, OSError) as exc:
        raise ImportFailed(str(exc)) from None
    logger.info(
        "imported %s orders (%s rejected rows, %s superseded) into %s",
        f"{imported.orders.height:,}",
        f"{imported.rejected.height:,}",
        f"{sum(f['superseded'] for f in manifest['files'].values()):,}",
        written,
    )
    return {**manifest, "input_dir": str(input_dir), "manifest": str(Path(input_dir) / MANIFEST)}


def _tables(sources: Sources, imported: Imported) -> dict[str, pl.DataFrame]:
    tables = {
        "orders": imported.orders,
        "order_lines": imported.order_lines,
        "refunds": imported.refunds,
        "reported_discounts": imported.reported_discounts,
        "import_rejected_rows": imported.rejected,
        **sources.promotions,
    }
    for name in ("orders", "order_lines", "refunds", *sources.promotions):
        schema = dict(tables[name].select(list(file_schema(name))).schema)
        if schema != file_schema(name):  # a mapping error of ours, never the seller's
            raise AssertionError(f"imported {name} does not have the input contract's columns: {schema}")
    unknown = set(imported.rejected.get_column("reason").unique()) - set(REASONS)
    if unknown:
        raise AssertionError(f"import rejection reasons outside the contract: {sorted(unknown)}")
    return tables


def _manifest(sources: Sources, imported: Imported, timezone: str | None, currency: str) -> dict:
    counts = {row["file"]: row for row in imported.file_counts.to_dicts()}
    files = {
        name: {
            "sha256": digest,
            **{
                k: int((counts.get(name) or sources.found.side_counts.get(name) or {}).get(k) or 0)
                for k in ("read", "imported", "superseded", "rejected")
            },
        }
        for name, digest in sorted(sources.found.files.items())
    }
    try:  # what the run will make of the tables: staging's own verdict, by reason
        staged = stage(
            {
                "orders": imported.orders,
                "order_lines": imported.order_lines,
                "refunds": imported.refunds,
                **sources.promotions,
            }
        )
        run_rejects = count_by(staged.rejected_rows, "reason")
    except InputContractError as exc:
        raise ImportFailed(f"the imported tables break the input contract: {exc}") from None
    return {
        "timezone": timezone,
        "currency": currency,
        "shops": sources.found.shops,
        "files": files,
        "copies": dict(sorted(sources.found.copies.items())),
        "tables": {
            "orders": imported.orders.height,
            "order_lines": imported.order_lines.height,
            "refunds": imported.refunds.height,
            "reported_discounts": imported.reported_discounts.height,
            **{name: frame.height for name, frame in sources.promotions.items()},
        },
        "rejected_by_reason": count_by(imported.rejected, "reason"),
        "assumptions": imported.assumptions,
        "returns_pending": sources.pending_returns,
        "run_will_reject": run_rejects,
    }
