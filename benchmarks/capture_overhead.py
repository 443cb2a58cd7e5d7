"""How much does Værn's full capture cost over a bare Playwright screenshot of the same page?

Runs, in one process and one browser: Værn's pipeline (proxy, all artifacts, hashes, manifest)
and a bare "new context + goto + full-page screenshot" of the same local fixture page, N times
each, interleaved. Measured twice: with the Capturer's spare context (its default: the next
capture's context and page are opened in the background, so a capture skips the renderer start)
and without it (``ratio_no_spare``, every capture opens its own context like the bare run). Prints
the medians and, last, ``ratio=X.XX`` (default Capturer; target <= 1.5, goal 1.25). Then measures
captures per minute with 1 and with 2 concurrent workers. On a shared machine the absolute figures
move a lot: compare within one run.

    .venv/bin/python benchmarks/capture_overhead.py [--n 9] [--page /plain_post.html]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "capture" / "fixtures"))

from capture.engine import Capturer  # noqa: E402
from capture.options import CaptureOptions  # noqa: E402
from fixture_site import FixtureSite  # noqa: E402


def bare_capture(capturer: Capturer, url: str) -> float:
    """New context + goto + full-page screenshot in the Capturer's own browser (its loop, no proxy)."""

    async def run() -> float:
        t0 = time.perf_counter()
        browser = capturer._handle.browser  # noqa: SLF001 - the benchmark compares against the same browser
        ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await ctx.new_page()
        await page.goto(url)
        await page.screenshot(full_page=True)
        await ctx.close()
        return time.perf_counter() - t0

    return asyncio.run_coroutine_threadsafe(run(), capturer._loop).result(60)  # noqa: SLF001


def vaern_capture(capturer: Capturer, url: str) -> float:
    t0 = time.perf_counter()
    bundle = capturer.capture(url, operator="benchmark")
    elapsed = time.perf_counter() - t0
    if bundle.status != "ok":
        raise SystemExit(f"benchmark page captured with status {bundle.status}: {bundle.manifest['notes']}")
    return elapsed


def throughput(capturer: Capturer, url: str, workers: int, total: int) -> float:
    """Captures per minute with ``workers`` threads sharing the Capturer."""
    todo = list(range(total))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            vaern_capture(capturer, url)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - t0) * 60


def measure(site: FixtureSite, url: str, n: int, gap: float, prewarm: bool) -> tuple[list[float], list[float], Capturer]:
    opts = CaptureOptions(allowed_hosts=(("127.0.0.1", site.port),), concurrency=2,
                          restart_after=10_000, versions={"vaern": "benchmark"})
    capturer = Capturer(opts, prewarm=prewarm)
    vaern_capture(capturer, url), bare_capture(capturer, url)  # warm up
    vaern, bare = [], []
    for _ in range(n):
        time.sleep(gap)
        vaern.append(vaern_capture(capturer, url))
        time.sleep(gap)
        bare.append(bare_capture(capturer, url))
    return vaern, bare, capturer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=9, help="captures of each kind (default 9)")
    ap.add_argument("--page", default="/plain_post.html", help="fixture page path")
    ap.add_argument("--throughput-captures", type=int, default=8)
    ap.add_argument("--gap", type=float, default=0.5,
                    help="pause before each measured capture, so background work (the next spare context, "
                         "closing the last one) does not land inside the other kind's measurement")
    args = ap.parse_args()

    with FixtureSite() as site:
        url = site.url(args.page)
        cold_v, cold_b, capturer = measure(site, url, args.n, args.gap, prewarm=False)
        capturer.close()
        vaern, bare, capturer = measure(site, url, args.n, args.gap, prewarm=True)
        with capturer:
            one = throughput(capturer, url, 1, args.throughput_captures)
            two = throughput(capturer, url, 2, args.throughput_captures)
    cvm, cbm = statistics.median(cold_v), statistics.median(cold_b)
    vm, bm = statistics.median(vaern), statistics.median(bare)
    print(f"page={args.page} n={args.n}")
    print(f"without spare context: vaern_median_s={cvm:.3f} bare_median_s={cbm:.3f} ratio_no_spare={cvm / cbm:.2f}")
    print(f"vaern_median_s={vm:.3f} (min {min(vaern):.3f}, max {max(vaern):.3f})")
    print(f"bare_median_s={bm:.3f} (min {min(bare):.3f}, max {max(bare):.3f})")
    print(f"captures_per_minute_1_worker={one:.1f}")
    print(f"captures_per_minute_2_workers={two:.1f} (x{two / one:.2f})")
    print(f"ratio={vm / bm:.2f}")


if __name__ == "__main__":
    main()
