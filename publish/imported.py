"""Writing an imported input directory (docs/importing.md): every table built in a private
directory, checked, then swapped in at once, so a run never reads half an import and a failed
import leaves the last good one in place.

The input directory the user names (`--out`) is a symbolic link to the import that is current,
`.<name>.imports/<import>` beside it; the swap is one `os.replace` of that link, as the run's
`current` link (publish/store.py). The last `KEEP_IMPORTS` imports are kept.
"""

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import polars as pl

from publish.parquet import write_parquet

KEEP_IMPORTS = 2
MANIFEST = "import_manifest.json"


class ImportTargetError(RuntimeError):
    """The input directory cannot be written as an import (the message says why and where)."""


def imports_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.imports"


def check_target(out: Path) -> None:
    """`out` must be an import's link, or not exist yet: an import never replaces a directory it did not make."""
    if out.is_symlink() or not out.exists():
        return
    if out.is_dir() and not any(out.iterdir()):
        return
    raise ImportTargetError(
        f"{out} exists and was not made by `settle import`; import into a new directory (the run reads it with --input)"
    )


def write_import(out: Path, tables: dict[str, pl.DataFrame], statements: dict[str, list[Path]], manifest: dict) -> Path:
    """Build the import (each table as `<name>.parquet`, each shop's statement exports under
    `reported/<shop>/`, the manifest), then point `out` at it. Returns the import's directory."""
    check_target(out)
    store = imports_dir(out)
    store.mkdir(parents=True, exist_ok=True)
    for stale in store.glob(".building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = store / f".building-{uuid.uuid4().hex[:12]}"
    building.mkdir()
    try:
        for name, frame in tables.items():
            write_parquet(frame, building / f"{name}.parquet")
        for shop, files in statements.items():
            target = building / "reported" / shop  # a shop ID checked by ingest/sources.SHOP_ID
            target.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copyfile(file, target / file.name)  # one path component, from the directory listing
        digest = _content_hash(building)
        (building / MANIFEST).write_text(json.dumps({**manifest, "content": digest}, indent=2, sort_keys=True) + "\n")
        final = store / digest[:16]
        if final.exists():  # the same import again: nothing changes
            shutil.rmtree(building)
        else:
            os.replace(building, final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if out.exists() and not out.is_symlink():
        out.rmdir()  # empty, by check_target
    link = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}"
    os.symlink(Path(store.name) / final.name, link)
    os.replace(link, out)
    _prune(store, keep=final.name)
    return final


def _content_hash(directory: Path) -> str:
    """sha256 over every file's relative path and bytes: the import's name, so equal imports are one."""
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(directory)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _prune(store: Path, keep: str) -> None:
    imports = sorted(
        (p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime
    )
    for old in imports[:-KEEP_IMPORTS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
