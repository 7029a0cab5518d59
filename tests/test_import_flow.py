"""The import flow end to end (flows/importing.py; docs/importing.md): sources in, an input
directory out that the settle flow reads; idempotent, swapped in whole, nothing personal kept."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.importing import ImportFailed, import_flow
from flows.settle import RunFailed, settle_flow
from publish.imported import ImportTargetError, check_target
from tests.test_seller_center_export import cells, write_csv

LA = "America/Los_Angeles"


def sources(root: Path) -> Path:
    """Two exports of shop SHOP1 (the second taken after a delivery) and a catalog."""
    orders = root / "SHOP1" / "orders"
    orders.mkdir(parents=True)
    write_csv(orders / "2026-07-05.csv", [cells(Delivered_Time=""), cells(Order_ID="42\t", Delivered_Time="")])
    write_csv(orders / "2026-07-20.csv", [cells(), cells(Order_ID="77\t", Order_Status="Unpaid")])
    (root / "catalog.csv").write_text("Product ID,SKU ID\n99,1729384756102938475\n")
    return root


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_import_then_settle_and_import_again_changes_nothing(prefect_server, tmp_path):
    src, inputs = sources(tmp_path / "sources"), tmp_path / "input"
    summary = import_flow(sources_dir=str(src), input_dir=str(inputs), timezone=LA)
    assert inputs.is_symlink()
    first_target, first_files = os.readlink(inputs), files(inputs)
    assert summary["files"]["SHOP1/orders/2026-07-05.csv"] | {"sha256": ""} == {
        "sha256": "",
        "read": 2,
        "imported": 1,  # order 42, only in this export
        "superseded": 1,  # the first order's older copy
        "rejected": 0,
    }
    assert summary["files"]["SHOP1/orders/2026-07-20.csv"]["rejected"] == 1  # unpaid
    assert summary["tables"]["orders"] == 2
    assert (summary["assumptions"]["product_id"], summary["assumptions"]["channel"]) == (
        0,
        2,
    )  # the catalog has the SKU
    manifest = json.loads((inputs / "import_manifest.json").read_text())
    assert manifest["rejected_by_reason"] == {"unpaid": 1}

    # The same sources again, one export copied under another name: not a byte changes.
    (src / "SHOP1" / "orders" / "again.csv").write_bytes((src / "SHOP1" / "orders" / "2026-07-20.csv").read_bytes())
    again = import_flow(sources_dir=str(src), input_dir=str(inputs), timezone=LA)
    assert os.readlink(inputs) == first_target
    assert files(inputs) == first_files
    assert again["copies"] == {"SHOP1/orders/again.csv": "SHOP1/orders/2026-07-20.csv"}

    # The settle flow imports first when given the sources (as the deployment does), then settles them.
    out = tmp_path / "out"
    result = settle_flow(
        input_dir=str(inputs),
        out_dir=str(out),
        as_of=datetime(2026, 11, 1, tzinfo=UTC),
        sources_dir=str(src),
        timezone=LA,
        xlsx=False,
    )
    assert result["orders_accepted"] == 2
    funding = pl.read_parquet(out / "current" / "funding_breaks" / "*.parquet")
    # No promotions were given, so every discount TikTok reported is a difference, flagged by what was assumed.
    assert set(funding["order_id"]) == {"42", "5764612345678912345"}
    assert funding.filter(pl.col("assumed").is_null()).height == 0


def test_a_failed_import_leaves_the_last_good_one(prefect_server, tmp_path):
    src, inputs = sources(tmp_path / "sources"), tmp_path / "input"
    import_flow(sources_dir=str(src), input_dir=str(inputs), timezone=LA)
    before = os.readlink(inputs), files(inputs)
    (src / "SHOP1" / "orders" / "broken.csv").write_text("Order ID,SKU ID\n1,2\n")
    with pytest.raises(ImportFailed, match=r"broken\.csv.*'Order Status'"):
        import_flow(sources_dir=str(src), input_dir=str(inputs), timezone=LA)
    assert (os.readlink(inputs), files(inputs)) == before
    with pytest.raises(ImportFailed, match="--timezone"):
        import_flow(sources_dir=str(src), input_dir=str(tmp_path / "other"), timezone=None)
    with pytest.raises(RunFailed, match=r"broken\.csv"):
        settle_flow(input_dir=str(inputs), out_dir=str(tmp_path / "out"), sources_dir=str(src), timezone=LA)
    assert (os.readlink(inputs), files(inputs)) == before


def test_an_import_never_replaces_a_directory_it_did_not_make(tmp_path):
    mine = tmp_path / "input"
    mine.mkdir()
    (mine / "orders.parquet").write_bytes(b"a seller's own file")
    with pytest.raises(ImportTargetError, match="was not made by `settle import`"):
        check_target(mine)
    check_target(tmp_path / "new")  # not there yet: fine
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty")


def test_no_personal_data_reaches_any_output(prefect_server, tmp_path):
    src, inputs, out = sources(tmp_path / "sources"), tmp_path / "input", tmp_path / "out"
    assert b"PII-" in (src / "SHOP1" / "orders" / "2026-07-20.csv").read_bytes()  # the sources do hold it
    settle_flow(
        input_dir=str(inputs),
        out_dir=str(out),
        as_of=datetime(2026, 11, 1, tzinfo=UTC),
        sources_dir=str(src),
        timezone=LA,
    )
    written = {**files(inputs.resolve()), **{f"out/{k}": v for k, v in files(out).items()}}
    assert len(written) > 20
    leaked = [name for name, data in written.items() if b"PII-" in data or b"secret" in data]
    assert leaked == []
