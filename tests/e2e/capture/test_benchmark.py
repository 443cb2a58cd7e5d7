"""The capture benchmark measures what it says: both sides check status and text, and a whole run finishes.

benchmarks/capture_overhead.py once compared Værn with a "bare" capture that screenshotted the proxy's
refusal page; these tests keep its checks honest (real Chromium, the fixture site, the real Capturer).
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "capture_overhead.py"
TEXT = "Ingeniøren Bjørn Ødegård har IGEN ladet hullerne stå på Strandvejen"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("capture_overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_the_bare_side_runs_its_own_browser_and_checks_status_and_text(bench, fixture_site):
    bare = bench.Bare(bench.AUTO, TEXT)
    try:
        assert bare.capture(fixture_site.url("/plain_post.html")) > 0
        bare.text = "Denne tekst står ikke på siden"
        with pytest.raises(SystemExit, match="text is not on the page"):
            bare.capture(fixture_site.url("/plain_post.html"))
        bare.text = TEXT
        with pytest.raises(SystemExit, match="HTTP 404"):
            bare.capture(fixture_site.url("/removed"))
    finally:
        bare.close()


@pytest.mark.browser
def test_the_vaern_side_checks_status_http_and_text_and_times_the_close(bench, capturer, fixture_site):
    returned, closed = bench.vaern_capture(capturer, fixture_site.url("/plain_post.html"), TEXT)
    assert 0 < returned <= closed
    with pytest.raises(SystemExit, match="text is not in text.txt"):
        bench.vaern_capture(capturer, fixture_site.url("/plain_post.html"), "Denne tekst står ikke på siden")
    with pytest.raises(SystemExit, match="status not_found"):
        bench.vaern_capture(capturer, fixture_site.url("/removed"), TEXT)


@pytest.mark.browser
def test_a_small_run_prints_every_figure_and_the_ratio_last():
    out = subprocess.run([sys.executable, str(SCRIPT), "--n", "1", "--rounds", "1", "--throughput-captures", "1",
                          "--gap", "0"], capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio=\d+\.\d\d", lines[-1])
    text = out.stdout
    for key in ("bare_median_s=", "vaern_median_s=", "spare_context_median_s=", "cpu_s_per_capture:",
                "captures_per_minute_1_worker=", "captures_per_minute_2_workers=", "captures_per_minute_2_threads=",
                "captures_per_minute_bare_2_workers="):
        assert key in text, key
    assert float(re.search(r"captures_per_minute_2_workers=([\d.]+)", text).group(1)) > 0
