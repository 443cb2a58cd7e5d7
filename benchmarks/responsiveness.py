"""Does the embedded default stay responsive while a case package is built?

Seeds a fresh data directory (SQLite, huey on SQLite): unit A's leader has a case with 10 secured
evidence items (synthetic sealed bundles with ~0.5 MB screenshots), unit B's leader has 20 cases.
Then runs the real ``vaern serve`` (waitress + the embedded job consumer) of this checkout (or of
``--code DIR``) as a subprocess and, over HTTP, times leader B's case list (``GET /``; each answer
must be HTTP 200 and list B's 20 cases and not A's), in rounds after one unmeasured warm-up build:

1. idle: nobody builds anything (as long as the previous build took);
2. building: leader A builds a package of the 10-evidence case (``GET /cases/<ref>/package.zip``
   starts the job; the samples are those taken while it is queued or running).

Both sides make the same requests in the same loop: a timed case list for B, then a status poll by
A (of the running job, or idle of the last finished one). The machine's other load moves the figures,
so idle and building alternate and each round's figures are printed too.

Prints the p50/p95/max of both, how long the packages took, and last ``ratio=X.XX`` (p95 while
building over p95 idle; target <= 1.5, and no sample above 1 s).

``--during capture`` measures the most common background work instead: employee A reports a post (a
fixture page that looks like a Facebook post with a cookie wall, tests/support/fixture_site, served on
127.0.0.1 and allow-listed through VAERN_CAPTURE_ALLOWED_HOSTS) through the real report form, a new
case each round, and the samples are those taken until the capture is finished (A polls the evidence's
status.json). Each capture must end ``done`` with status ``consent_dismissed`` (the page's cookie wall
closed, the post secured) and its text.txt must hold the post's words. The warm-up capture starts the capture browser; the rounds measure captures on a warm browser.

    .venv/bin/python benchmarks/responsiveness.py [--rounds 3] [--code DIR] [--during package|capture]
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capture.bundle import Artifact as BundleArtifact  # noqa: E402
from capture.bundle import EvidenceBundle  # noqa: E402
from storage.models import Case, Role, User  # noqa: E402
from tests.support.fixture_site import FixtureSite  # noqa: E402
from tracker.cases.register import Report, add_evidence, open_case  # noqa: E402
from tracker.cases.evidence import store_bundle  # noqa: E402
from tracker.adapters.runtime import Runtime  # noqa: E402
from tracker.settings import load_settings  # noqa: E402
from tracker.accounts.users import add_unit, add_user  # noqa: E402

PASSWORD = "benchmark-hest-batteri-7"
#: the fixture post employee A reports in ``--during capture``, words its captured text.txt must hold, and
#: the capture status it must get (its cookie wall is closed by rejecting optional cookies)
POST_PAGE = "/facebook_post.html"
POST_WORDS = "Sagsbehandleren på Rådhuset burde skamme sig"
POST_STATUS = "consent_dismissed"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.path.exists(p)), None)


def _png(rng: random.Random, size: int) -> bytes:
    """A valid PNG of noise, about ``size`` bytes (noise does not compress)."""
    from io import BytesIO

    from PIL import Image

    side = int((size / 3) ** 0.5)
    img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buf = BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _report(i: int, description: str) -> Report:
    return Report(url=f"https://example.org/opslag/{i}", episode_at=None, description=description)


def _bundle(rng: random.Random, i: int, shot: int = 500_000) -> EvidenceBundle:
    text = f"Opslag nummer {i}: grimme kommentarer om sagsbehandleren på jobcentret. " * 40
    arts = [BundleArtifact("screenshot_viewport.png", "screenshot_viewport", "image/png", _png(rng, shot)),
            BundleArtifact("page.html", "html", "text/html", f"<html><body><p>{text}</p></body></html>".encode()),
            BundleArtifact("text.txt", "text", "text/plain; charset=utf-8", text.encode())]
    return EvidenceBundle.seal("ok", arts, {"schema": "vaern.manifest/1", "kind": "url",
                                            "url": f"https://example.org/opslag/{i}"})


def seed(settings) -> tuple[str, list[str]]:
    """The organisation; returns the ref of leader A's 10-evidence case and the refs of unit B's cases."""
    rng = random.Random(11)
    rt = Runtime.from_settings(settings)
    try:
        with rt.transaction() as s:
            a, b = add_unit(s, "Jobcenter"), add_unit(s, "Borgerservice")
            add_user(s, email="leder.a@kommune.dk", name="Leder A", role=Role.leader, password=PASSWORD, unit=a)
            add_user(s, email="leder.b@kommune.dk", name="Leder B", role=Role.leader, password=PASSWORD, unit=b)
            ea = add_user(s, email="ansat.a@kommune.dk", name="Ansat A", role=Role.employee, password=PASSWORD, unit=a)
            eb = add_user(s, email="ansat.b@kommune.dk", name="Ansat B", role=Role.employee, password=PASSWORD, unit=b)
            case = open_case(s, ea, _report(0, "Trusler i kommentarfeltet"))
            ref, case_id, ea_id = case.ref, case.id, ea.id
            evidence = [case.evidence[0].id]
            b_cases = [open_case(s, eb, _report(100 + n, f"Sag {n} i Borgerservice")) for n in range(20)]
            others, b_refs = [c.evidence[0].id for c in b_cases], [c.ref for c in b_cases]
        for i in range(1, 10):
            with rt.transaction() as s:
                ev = add_evidence(s, s.get(User, ea_id), s.get(Case, case_id), url=f"https://example.org/opslag/{i}")
                evidence.append(ev.id)
        for i, ev_id in enumerate(evidence):  # secured: no capture runs (and no network is used)
            store_bundle(rt, ev_id, _bundle(rng, i))
        small = random.Random(3)
        for ev_id in others:
            store_bundle(rt, ev_id, _bundle(small, ev_id, shot=20_000))
    finally:
        rt.close()
    return ref, b_refs


class Client:
    """A logged-in browser-like HTTP client (cookies, CSRF token from the login form)."""

    def __init__(self, base: str, email: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())
        token = csrf_token(self.get("/login")[1])
        status, _, headers = self.post("/login", {"email": email, "password": PASSWORD, "csrf_token": token})
        assert status == 302 and "/login" not in headers.get("Location", ""), f"login failed for {email}: {status}"

    def get(self, path: str):
        try:
            with self.opener.open(self.base + path, timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def post(self, path: str, form: dict):
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=60) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def csrf_token(page: bytes) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page.decode()).group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def timed_list(client: Client, expect: list[str], refuse: str) -> float:
    """One timed case list; it must be the whole page of B's cases (and none of A's)."""
    t0 = time.perf_counter()
    status, body, _ = client.get("/")
    took = time.perf_counter() - t0
    assert status == 200, f"case list: HTTP {status}"
    page = body.decode("utf-8")
    missing = [r for r in expect if r not in page]
    assert not missing and refuse not in page, f"case list: missing {missing[:3]} or shows {refuse}"
    return took


def poll(client: Client, job_page: str) -> bool:
    """A's status poll (of a package job or a piece of evidence); True when it is finished."""
    status, body, _ = client.get(job_page + "/status.json")
    assert status == 200, f"status.json: HTTP {status}"
    return b'"finished":true' in body.replace(b" ", b"")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


def describe(name: str, values: list[float]) -> str:
    return (f"{name:<22} n={len(values):3d}  p50={statistics.median(values) * 1000:7.1f} ms  "
            f"p95={pct(values, 95) * 1000:7.1f} ms  max={max(values) * 1000:7.1f} ms")


def start_build(client: Client, ref: str) -> str:
    status, _, headers = client.get(f"/cases/{ref}/package.zip")
    assert status == 303, f"expected the job's progress page, got {status}"
    return headers["Location"]


def collect_package(client: Client, ref: str) -> None:
    status, body, _ = client.get(f"/cases/{ref}/package.zip")  # the ready file
    assert status == 200 and body[:2] == b"PK", f"the package was not handed out: {status}"


class Packages:
    """The background work of the default mode: leader A builds the 10-evidence case's package."""

    label, noun = "building", "packages built"
    span = "job start to ready"

    def __init__(self, base: str, ref: str):
        self.client, self.ref = Client(base, "leder.a@kommune.dk"), ref

    def start(self) -> str:
        return start_build(self.client, self.ref)

    def finished(self, job_page: str) -> bool:
        return poll(self.client, job_page)

    def check(self, job_page: str) -> None:
        collect_package(self.client, self.ref)


class Captures:
    """The background work of ``--during capture``: employee A reports the fixture post as a new case."""

    label, noun = "capturing", "captures"
    span = "report sent to evidence secured"

    def __init__(self, base: str, post_url: str):
        self.client, self.url = Client(base, "ansat.a@kommune.dk"), post_url

    def start(self) -> str:
        """Sends the report form; returns the new evidence's address (``/cases/<ref>/evidence/<id>``)."""
        form = {"csrf_token": csrf_token(self.client.get("/report")[1]), "kind": "url", "url": self.url,
                "episode_at": "", "description": "Grimt opslag om mig"}
        status, body, headers = self.client.post("/report", form)
        assert status == 302, f"the report was not received: HTTP {status} {body[:300]!r}"
        status, body, _ = self.client.get(headers["Location"])
        assert status == 200, f"the new case's page: HTTP {status}"
        return re.search(r'data-status-url="([^"]+)/status.json"', body.decode()).group(1)

    def finished(self, evidence: str) -> bool:
        return poll(self.client, evidence)

    def check(self, evidence: str) -> None:
        """The capture succeeded: state done, the cookie wall dismissed, and the post's words in its text."""
        state = json.loads(self.client.get(evidence + "/status.json")[1])
        assert (state["state"], state["capture_status"]) == ("done", POST_STATUS), f"the capture failed: {state}"
        status, text, _ = self.client.get(evidence + "/text.txt")
        assert status == 200 and POST_WORDS in text.decode("utf-8"), f"text.txt: HTTP {status}, post text missing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="idle windows, each followed by one package build")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose `vaern serve` is measured")
    parser.add_argument("--during", choices=("package", "capture"), default="package",
                        help="the background work: leader A builds a case package, or employee A reports a post")
    args = parser.parse_args()
    site = FixtureSite().start() if args.during == "capture" else None

    data_dir = Path(tempfile.mkdtemp(prefix="vaern-responsiveness-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env.update(VAERN_DATA_DIR=str(data_dir), VAERN_SECRET_KEY=secrets.token_hex(16),
               VAERN_QUEUE_NAME=f"bench-{secrets.token_hex(3)}", VAERN_LOGIN_RATE_LIMIT="1000 per minute",
               PYTHONPATH=str(args.code.resolve()))
    if CHROMIUM:
        env["VAERN_CHROMIUM_PATH"] = CHROMIUM
    if site is not None:
        env["VAERN_CAPTURE_ALLOWED_HOSTS"] = f"{site.host}:{site.port}"
    settings = load_settings(data_dir=data_dir, secret_key=env["VAERN_SECRET_KEY"], queue_name=env["VAERN_QUEUE_NAME"],
                             chromium_path=CHROMIUM)
    t0 = time.perf_counter()
    ref, b_refs = seed(settings)
    print(f"seeded: case {ref} with 10 evidence items, 20 other cases ({time.perf_counter() - t0:.1f} s); "
          f"serving {args.code.resolve()}", flush=True)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(data_dir / "serve.log", "wb")
    # the checkout's own code (the venv's `vaern` script may be installed from another checkout)
    server = subprocess.Popen([sys.executable, "-c", "from webui.cli import main; main()", "serve",
                               "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=args.code,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    idle: list[float] = []
    busy: list[float] = []
    builds: list[float] = []
    rounds: list[tuple[list[float], list[float]]] = []
    loads: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"vaern serve did not start; see {data_dir / 'serve.log'}")
                time.sleep(0.3)
        b = Client(base, "leder.b@kommune.dk")
        work = Captures(base, site.url(POST_PAGE)) if site is not None else Packages(base, ref)
        lst = lambda: timed_list(b, b_refs, ref)  # noqa: E731
        for _ in range(5):
            lst()
        # warm-up: one run, not measured (first use of Chromium, templates, caches)
        job, started = work.start(), time.perf_counter()
        while not work.finished(job):
            lst()
        work.check(job)
        window = time.perf_counter() - started
        for _ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            quiet: list[float] = []
            until = time.perf_counter() + window
            while time.perf_counter() < until:  # idle: the same two requests, nothing running
                quiet.append(lst())
                assert work.finished(job), "a finished job reads as unfinished"
            job, started = work.start(), time.perf_counter()
            during: list[float] = []
            while True:
                during.append(lst())
                if work.finished(job):
                    break
            window = time.perf_counter() - started
            builds.append(window)
            work.check(job)
            rounds.append((quiet, during))
            idle += quiet
            busy += during
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        if site is not None:
            site.stop()

    label = work.label
    for n, (quiet, during) in enumerate(rounds, 1):
        print(f"round {n} (load {loads[n - 1]:.1f}): idle p95={pct(quiet, 95) * 1000:.1f} ms (n={len(quiet)}), "
              f"{label} p95={pct(during, 95) * 1000:.1f} ms (n={len(during)}), "
              f"ratio {pct(during, 95) / pct(quiet, 95):.2f}")
    print(f"{work.noun}: {len(builds)}, each {min(builds):.2f}–{max(builds):.2f} s ({work.span})")
    print(describe("case list, idle", idle))
    print(describe(f"case list, {label}", busy))
    print(f"idle_p95_ms={pct(idle, 95) * 1000:.1f} {label}_p95_ms={pct(busy, 95) * 1000:.1f} "
          f"{label}_max_ms={max(busy) * 1000:.1f} (target: ratio <= 1.5 and max <= 1000)")
    print(f"ratio={pct(busy, 95) / pct(idle, 95):.2f}")


if __name__ == "__main__":
    main()
