"""``andon report`` writes the same shift report as the API, as HTML or PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from andon.cli import app

from ..api.test_api_reports import LINE, plant  # the same small plant

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report-cli") / "plant.duckdb"
    plant(path).close()
    return path


def test_html_report_to_a_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "early.html"
    args = ["report", "--db", str(db), "--asset", LINE, "--shift", "2025-11-21/early"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Shift 2025-11-21/early" in html
    assert "bearing" in html


def test_pdf_report_with_a_default_name(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["report", "--db", str(db), "--asset", LINE, "--shift", "2025-11-21/early"]
    result = runner.invoke(app, [*args, "--format", "pdf"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "shift-report-l1-2025-11-21-early.pdf"
    assert written.read_bytes().startswith(b"%PDF-")


def test_an_unknown_shift_is_one_clear_line(db: Path) -> None:
    args = ["report", "--db", str(db), "--asset", LINE, "--shift", "2025-11-21/night"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "no shift '2025-11-21/night'" in result.output
    assert "Traceback" not in result.output
