"""The tree stays as ruff formats and checks it (rules in pyproject.toml), so CI fails on a finding."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "."], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_tree_is_formatted_by_ruff():
    result = _ruff("format", "--check")
    assert result.returncode == 0, f"run `.venv/bin/ruff format .`:\n{result.stdout}{result.stderr}"


def test_ruff_check_finds_nothing():
    result = _ruff("check", "--output-format", "concise")
    assert result.returncode == 0, f"ruff check findings:\n{result.stdout}{result.stderr}"
