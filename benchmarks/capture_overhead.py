"""How much does Værn's full capture cost over a bare Playwright screenshot of the same page?

Two sides, the same page, interleaved in one run:

* **bare**: its own plain Chromium (the same executable Værn uses, launched by a separate Playwright,
  no proxy, no extra flags): new context (same viewport), new page, ``goto`` (``load``), full-page
  screenshot, close. It checks HTTP 200 and that the page's text is on the page.
* **værn**: the real ``Capturer`` (egress proxy, walls/consent check, scroll, screenshots, MHTML,
  HTML, text, perceptual hashes, WARC, manifest, SHA-256s) — with ``prewarm=False``, so it opens and
  closes its own context like the bare side. Timed until ``capture()`` returned *and* the context it
  used is closed (Værn closes it in the background; the clock waits for that). It checks status
  ``ok``, HTTP 200 in the manifest and the page's text in ``text.txt``.

The headline ``ratio=`` (printed last) is værn / bare, medians, without the spare context. The
default Capturer keeps the next capture's context open in advance (``prewarm=True``): its latency is
printed as a separate figure (``spare_context_median_s``), measured the same way, and is NOT part of
the headline.

Throughput: captures per minute from real worker processes (this script with ``--worker``), each
with its own real default ``Capturer`` (its own Chromium and egress proxy, spare context on), as two
``vaern worker`` processes would run; started and warmed once, then measured in rounds: 1 Værn
worker, 2 Værn workers together, 1 Værn worker with 2 threads sharing its Capturer (the embedded
``vaern serve`` set-up), 1 bare worker, 2 bare workers (what the machine allows Chromium alone). The
order rotates from round to round; captures/min = captures / wall time from the start signal to the
last capture's end; the medians over the rounds are printed, and the 2-worker gain per round. Each
worker also reports the CPU seconds its whole process tree used (Python with the proxy, Playwright
driver, Chromium; from /proc), per capture: a figure that moves far less with the machine's load
than wall time does.

The fixture site runs in its own process, so serving the page does not compete with the measured
Python process for its interpreter lock. On a shared machine absolute figures move a lot: compare
within one run, and repeat. ``--page /bench_feed.html`` is a heavier page (40 posts, 44 images,
~13 000 px; Værn scrolls it for lazy content, the bare side does not).

    .venv/bin/python benchmarks/capture_overhead.py [--n 9] [--rounds 3] [--page /plain_post.html]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Text every side must find on the page (from plain_post.html / facebook_post.html style fixtures).
EXPECTED_TEXT = {"/plain_post.html": "Ingeniøren Bjørn Ødegård har IGEN ladet hullerne stå på Strandvejen",
                 "/bench_feed.html": "Opslag nummer 39: Vi har fået nok af kommunens vejafdeling"}
VIEWPORT = {"width": 1280, "height": 900}
AUTO = "auto"  #: Bare(): pick the browser the way the Capturer does (Playwright's own if installed, else the system one)


# -- the fixture site, in its own process ------------------------------------------------------------

def serve_fixture_site() -> None:
    """``--serve``: run the fixture site, print its port, stop when stdin closes."""
    from tests.support.fixture_site import FixtureSite

    with FixtureSite() as site:
        print(site.port, flush=True)
        sys.stdin.read()


class SiteProcess:
    def __enter__(self) -> "SiteProcess":
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


# -- the two sides -----------------------------------------------------------------------------------

def options(port: int) -> Any:
    from capture.options import CaptureOptions

    return CaptureOptions(allowed_hosts=(("127.0.0.1", port),), restart_after=10_000,
                          versions={"vaern": "benchmark"})


class Bare:
    """A plain Chromium of its own: same executable as the Capturer's, no proxy, Playwright's defaults."""

    def __init__(self, executable: str | None, text: str | None):
        """``executable``: a path, None for Playwright's own browser, or AUTO to choose as the Capturer does."""
        from playwright.sync_api import sync_playwright

        self.text = text
        self.pw = sync_playwright().start()
        if executable == AUTO:
            from capture.browser import find_chromium
            executable = find_chromium(None, self.pw.chromium.executable_path)
        self.browser = self.pw.chromium.launch(executable_path=executable, headless=True)

    def capture(self, url: str) -> float:
        t0 = time.perf_counter()
        ctx = self.browser.new_context(viewport=VIEWPORT)
        page = ctx.new_page()
        resp = page.goto(url)
        png = page.screenshot(full_page=True)
        t1 = time.perf_counter()
        body = page.inner_text("body")  # the check is not timed: the spec times context..screenshot, close
        t2 = time.perf_counter()
        ctx.close()
        elapsed = time.perf_counter() - t0 - (t2 - t1)
        if resp is None or resp.status != 200:
            raise SystemExit(f"bare capture: HTTP {resp.status if resp else None}, expected 200")
        if self.text and self.text not in body:
            raise SystemExit("bare capture: the page's text is not on the page")
        if png[:8] != b"\x89PNG\r\n\x1a\n":
            raise SystemExit("bare capture: no PNG")
        return elapsed

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()


def settle(capturer: Any, spare: bool, timeout: float = 15.0) -> None:
    """Wait until the Capturer has closed the last capture's context (``spare``: and opened the next spare).

    Reads the Capturer's private state on purpose: Værn closes a context in the background, and the
    benchmark times a capture until that close is done, as it does on the bare side.
    """
    async def idle() -> None:
        pending = list(capturer._pool.closing)  # noqa: SLF001
        if spare and capturer._pool.spare_task is not None:  # noqa: SLF001
            pending.append(capturer._pool.spare_task)  # noqa: SLF001
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    asyncio.run_coroutine_threadsafe(idle(), capturer._loop).result(timeout + 5)  # noqa: SLF001


def vaern_capture(capturer: Any, url: str, text: str | None) -> tuple[float, float]:
    """(seconds until capture() returned, seconds until its context was closed as well)."""
    t0 = time.perf_counter()
    bundle = capturer.capture(url, operator="benchmark")
    returned = time.perf_counter() - t0
    settle(capturer, spare=False)
    closed = time.perf_counter() - t0
    settle(capturer, spare=True)  # not timed: the next capture's context, opened in advance
    check_bundle(bundle, text)
    return returned, closed


def check_bundle(bundle: Any, text: str | None) -> None:
    if bundle.status != "ok":
        raise SystemExit(f"værn capture: status {bundle.status}: {bundle.manifest['notes']}")
    if (bundle.manifest.get("http") or {}).get("status") != 200:
        raise SystemExit(f"værn capture: HTTP {bundle.manifest.get('http')}, expected 200")
    captured = next(a.data for a in bundle.artifacts if a.role == "text").decode("utf-8")
    if text and text not in captured:
        raise SystemExit("værn capture: the page's text is not in text.txt")


# -- throughput: real worker processes ---------------------------------------------------------------

def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system, reaped children included) of ``root`` and all its descendants (Linux /proc)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        ticks[int(entry)] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += [c for c, p in parent.items() if p == pid]
    return total / os.sysconf("SC_CLK_TCK")


def worker_main(url: str, port: int, text: str | None, kind: str) -> None:
    """``--worker``: one Capturer (or bare browser) in this process, kept for all rounds.

    Prints READY after a warm-up capture; then each line ``GO <captures per thread> <threads>`` runs
    one round (threads > 1 share the one Capturer, as the embedded ``vaern serve`` does) and answers
    with the end time of each capture and the CPU seconds the process tree used. An empty line ends it.
    """
    import threading

    if kind == "bare":
        side: Any = Bare(AUTO, text)
        one = lambda: side.capture(url)  # noqa: E731
    else:
        from capture.engine import Capturer
        side = Capturer(options(port))
        one = lambda: check_bundle(side.capture(url, operator="benchmark"), text)  # noqa: E731
    try:
        one()
        print("READY", flush=True)
        for line in sys.stdin:
            if not line.startswith("GO"):
                return
            count, threads = (int(x) for x in line.split()[1:3])
            cpu0 = tree_cpu_seconds(os.getpid())
            ends: list[float] = []
            todo = list(range(count * threads))
            lock = threading.Lock()

            def run() -> None:
                while True:
                    with lock:
                        if not todo:
                            return
                        todo.pop()
                    one()
                    ends.append(time.time())

            if threads == 1:
                run()  # in this thread: the bare side's sync Playwright belongs to it
            else:
                pool = [threading.Thread(target=run) for _ in range(threads)]
                for t in pool:
                    t.start()
                for t in pool:
                    t.join()
            print(json.dumps({"ends": ends, "cpu": tree_cpu_seconds(os.getpid()) - cpu0}), flush=True)
    finally:
        side.close()


class Workers:
    """Long-lived worker processes (started and warmed once); ``round()`` runs one measured round."""

    def __init__(self, url: str, port: int, kinds: list[str]):
        cmd = [sys.executable, __file__, "--worker", url, "--port", str(port)]
        self.procs = [subprocess.Popen([*cmd, "--kind", k], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                      for k in kinds]
        for p in self.procs:
            if p.stdout.readline().strip() != "READY":
                raise SystemExit("a benchmark worker did not start")

    def round(self, which: list[int], count: int, threads: int = 1) -> tuple[float, float]:
        """(captures per minute, CPU seconds per capture) of workers ``which`` running together."""
        go = time.time()
        for i in which:
            self.procs[i].stdin.write(f"GO {count} {threads}\n")
            self.procs[i].stdin.flush()
        ends: list[float] = []
        cpu = 0.0
        for i in which:
            line = self.procs[i].stdout.readline()
            if not line:
                raise SystemExit("a benchmark worker failed")
            got = json.loads(line)
            ends += got["ends"]
            cpu += got["cpu"]
        return len(ends) / (max(ends) - go) * 60, cpu / len(ends)

    def close(self) -> None:
        for p in self.procs:
            try:
                p.stdin.write("\n")
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            p.wait(60)


def throughput(url: str, port: int, rounds: int, count: int) -> dict[str, list[tuple[float, float]]]:
    """Rounds of: 1 Værn worker, 2 Værn workers, 1 Værn worker with 2 threads, 1 bare worker, 2 bare workers.

    The kinds rotate from round to round, so a change in the machine's load hits all of them alike.
    The two bare workers show what the machine itself allows: Chromium alone on the same cores.
    """
    workers = Workers(url, port, ["vaern", "vaern", "bare", "bare"])
    out: dict[str, list[tuple[float, float]]] = {"one": [], "two": [], "threads": [], "bare": [], "bare2": []}
    try:
        plan = [("one", [0], 1), ("two", [0, 1], 1), ("threads", [0], 2), ("bare", [2], 1), ("bare2", [2, 3], 1)]
        for r in range(rounds):
            for name, which, threads in plan[r % len(plan):] + plan[:r % len(plan)]:
                out[name].append(workers.round(which, count, threads))
    finally:
        workers.close()
    return out


# -- the run -------------------------------------------------------------------------------------------

def latency(url: str, port: int, n: int, gap: float, text: str | None) -> dict[str, list[float]]:
    from capture.engine import Capturer

    out: dict[str, list[float]] = {"bare": [], "vaern": [], "vaern_returned": [], "spare": [], "spare_returned": []}
    cold = Capturer(options(port), prewarm=False)
    spare = Capturer(options(port), prewarm=True)
    bare = Bare(cold._pool.executable, text)  # noqa: SLF001 - the same executable as the Capturer's
    try:
        bare.capture(url), vaern_capture(cold, url, text), vaern_capture(spare, url, text)  # warm up
        for _ in range(n):
            time.sleep(gap)
            out["bare"].append(bare.capture(url))
            time.sleep(gap)
            r, c = vaern_capture(cold, url, text)
            out["vaern_returned"].append(r)
            out["vaern"].append(c)
            time.sleep(gap)
            r, c = vaern_capture(spare, url, text)
            out["spare_returned"].append(r)
            out["spare"].append(c)
    finally:
        bare.close()
        cold.close()
        spare.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=9, help="captures of each kind (default 9)")
    ap.add_argument("--page", default="/plain_post.html", help="fixture page path")
    ap.add_argument("--text", help="text the page must show (known fixture pages have one)")
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds (default 3)")
    ap.add_argument("--throughput-captures", type=int, default=4,
                    help="captures per worker thread and round (default 4)")
    ap.add_argument("--gap", type=float, default=0.3, help="pause before each measured capture")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="vaern", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve_fixture_site()
    if args.worker:
        from urllib.parse import urlsplit
        return worker_main(args.worker, args.port, EXPECTED_TEXT.get(urlsplit(args.worker).path), args.kind)

    text = args.text or EXPECTED_TEXT.get(args.page)
    if not text:
        ap.error(f"no expected text known for {args.page}: pass --text")
    started = time.perf_counter()
    with SiteProcess() as site:
        url = site.url(args.page)
        t = latency(url, site.port, args.n, args.gap, text)
        tp = {} if args.skip_throughput else throughput(url, site.port, args.rounds, args.throughput_captures)
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"page={args.page} n={args.n} cpus={os.cpu_count()} load1={os.getloadavg()[0]:.1f} "
          f"run_s={time.perf_counter() - started:.0f}")
    for k in ("bare", "vaern", "vaern_returned", "spare", "spare_returned"):
        print(f"{k}_median_s={med[k]:.3f} (min {min(t[k]):.3f}, max {max(t[k]):.3f})")
    print(f"spare_context_median_s={med['spare']:.3f} (default Capturer, next context opened in advance; "
          f"ratio to bare {med['spare'] / med['bare']:.2f}, not the headline)")
    if tp:
        rate = {k: statistics.median(r for r, _ in v) for k, v in tp.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in tp.items()}
        per_round = " ".join(f"{b[0] / a[0]:.2f}" for a, b in zip(tp["one"], tp["two"]))
        print(f"cpu_s_per_capture: bare={cpu['bare']:.2f} vaern={cpu['one']:.2f} (x{cpu['one'] / cpu['bare']:.2f}; "
              f"whole process trees: Python with the proxy, Playwright driver, Chromium)")
        print(f"cpu_bound_ceiling_2_cores={2 * 60 / cpu['one']:.1f} captures/min "
              f"(x{2 * 60 / cpu['one'] / rate['one']:.2f} of 1 worker, if nothing else used the cores)")
        print(f"captures_per_minute_bare_1_worker={rate['bare']:.1f}")
        print(f"captures_per_minute_bare_2_workers={rate['bare2']:.1f} (x{rate['bare2'] / rate['bare']:.2f}: what "
              f"this machine allows Chromium alone)")
        print(f"captures_per_minute_2_threads={rate['threads']:.1f} (1 process, 2 threads sharing one Capturer, "
              f"as embedded `vaern serve`; x{rate['threads'] / rate['one']:.2f})")
        print(f"captures_per_minute_1_worker={rate['one']:.1f} (1 process with its own default Capturer; "
              f"median of {len(tp['one'])} rounds)")
        print(f"captures_per_minute_2_workers={rate['two']:.1f} (2 processes, a default Capturer each, as 2 "
              f"`vaern worker`; x{rate['two'] / rate['one']:.2f}; per round x{per_round})")
    print(f"ratio={med['vaern'] / med['bare']:.2f}")


if __name__ == "__main__":
    main()
