"""`rducc inspect --map K --svg F / --html F`: a kernel's placement drawn on the floor plan."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

MODEL = Path(__file__).parents[1] / "examples" / "mlp.py"
KERNEL = "forward"  # fc1, the GELU of forward itself, fc2: their common module is the root


@pytest.fixture(scope="module")
def rbit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("map") / "m.rbit"
    assert CliRunner().invoke(main, [str(MODEL), "-o", str(path), "--chip", "small"]).exit_code == 0
    return path


def test_svg_draws_every_site_and_lists_each_stage_once(rbit: Path, tmp_path: Path) -> None:
    svg = tmp_path / "m.svg"
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", KERNEL, "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert text.startswith("<svg") and f"{KERNEL} on small" in text
    assert text.count('class="site') == 60  # every site of the small chip
    listed = re.findall(r">#(\d+) \w+ x\d+</text>", text)
    assert listed and len(listed) == len(set(listed))  # each stage once, with its id
    assert "<line" in text


def test_html_page_names_stages_and_streams(rbit: Path, tmp_path: Path) -> None:
    page = tmp_path / "m.html"
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", KERNEL, "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    rows = re.findall(r'<tr class="stage" data-stage="(\d+)"', html)
    assert rows and len(rows) == len(set(rows))
    for stage in rows:  # every placed stage's sites carry its id, so hovering can name and light them
        assert f'data-stage="{stage}"><title>#{stage} ' in html
    assert 'class="stream t' in html and 'id="links"' in html
    assert "<script src" not in html and "<link" not in html  # self-contained: opens without a network


def test_map_flags_need_each_other(rbit: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", KERNEL])
    assert result.exit_code == 2 and "--map needs --html FILE or --svg FILE" in result.stderr
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--html", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "name it with --map KERNEL" in result.stderr
    assert not (tmp_path / "x.html").exists()


def test_unknown_kernel_is_a_user_error(rbit: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", "nope", "--html", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "no kernel named 'nope'" in result.stderr
    assert not (tmp_path / "x.html").exists()


BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(BROWSER is None, reason="no headless browser installed (Debian: apt-get install chromium)")
def test_html_page_renders_in_a_browser(rbit: Path, tmp_path: Path) -> None:
    """The page's script runs without error in a real browser (it marks the body when done) and
    the map renders to a picture."""
    page, shot = tmp_path / "m.html", tmp_path / "m.png"
    assert CliRunner().invoke(main, ["inspect", str(rbit), "--map", KERNEL, "--html", str(page)]).exit_code == 0
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,800"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    stages = len(re.findall(r'<tr class="stage"', page.read_text()))
    assert f'data-ready="{stages}"' in dom
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
