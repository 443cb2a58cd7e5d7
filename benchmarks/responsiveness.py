"""Does the embedded default stay responsive while a case package is built?

Seeds a fresh data directory (SQLite, huey on SQLite): unit A's leader has a case with 10 secured
evidence items (synthetic sealed bundles with ~0.5 MB screenshots), unit B's leader has 20 cases.
Then runs the real ``vaern serve`` (waitress + the embedded job consumer) as a subprocess and, over
HTTP, times leader B's case list (``GET /``):

1. idle: nobody else does anything;
2. while leader A builds packages of the 10-evidence case (``GET /cases/<ref>/package.zip`` starts
   the job; the timing samples are those taken while a job is queued or running; repeated until
   enough samples are in).

Prints the p50/p95/max of both, how long the packages took, and last ``ratio=X.XX`` (p95 while
building over p95 idle; target <= 1.5, and no sample above 1 s). On a shared machine the figures
move: compare within one run.

    .venv/bin/python benchmarks/responsiveness.py [--samples 60] [--packages 3]
"""
from __future__ import annotations

import argparse
import http.cookiejar
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
from tracker.cases.register import Report, add_evidence, open_case  # noqa: E402
from tracker.cases.evidence import store_bundle  # noqa: E402
from tracker.adapters.runtime import Runtime  # noqa: E402
from tracker.settings import load_settings  # noqa: E402
from tracker.accounts.users import add_unit, add_user  # noqa: E402

PASSWORD = "benchmark-hest-batteri-7"
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


def seed(settings) -> str:
    """The organisation; returns the ref of leader A's 10-evidence case."""
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
            others = [open_case(s, eb, _report(100 + n, f"Sag {n} i Borgerservice")).evidence[0].id for n in range(20)]
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
    return ref


class Client:
    """A logged-in browser-like HTTP client (cookies, CSRF token from the login form)."""

    def __init__(self, base: str, email: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())
        html = self.get("/login")[1].decode()
        token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def timed_list(client: Client) -> float:
    t0 = time.perf_counter()
    status, body, _ = client.get("/")
    took = time.perf_counter() - t0
    assert status == 200, status
    return took


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


def describe(name: str, values: list[float]) -> str:
    return (f"{name:<22} n={len(values):3d}  p50={statistics.median(values) * 1000:7.1f} ms  "
            f"p95={pct(values, 95) * 1000:7.1f} ms  max={max(values) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=60, help="case-list requests idle, and at least as many while building")
    parser.add_argument("--packages", type=int, default=3, help="at least this many packages are built")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="vaern-responsiveness-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env.update(VAERN_DATA_DIR=str(data_dir), VAERN_SECRET_KEY=secrets.token_hex(16),
               VAERN_QUEUE_NAME=f"bench-{secrets.token_hex(3)}", VAERN_LOGIN_RATE_LIMIT="1000 per minute")
    if CHROMIUM:
        env["VAERN_CHROMIUM_PATH"] = CHROMIUM
    settings = load_settings(data_dir=data_dir, secret_key=env["VAERN_SECRET_KEY"], queue_name=env["VAERN_QUEUE_NAME"],
                             chromium_path=CHROMIUM)
    t0 = time.perf_counter()
    ref = seed(settings)
    print(f"seeded: case {ref} with 10 evidence items, 20 other cases ({time.perf_counter() - t0:.1f} s)", flush=True)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    vaern = str(Path(sys.executable).with_name("vaern"))
    log = open(data_dir / "serve.log", "wb")
    server = subprocess.Popen([vaern, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
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
        b, a = Client(base, "leder.b@kommune.dk"), Client(base, "leder.a@kommune.dk")
        for _ in range(5):  # warm up
            timed_list(b)
        idle = [timed_list(b) for _ in range(args.samples)]

        busy: list[float] = []
        builds: list[float] = []
        while len(builds) < args.packages or len(busy) < args.samples:
            status, _, headers = a.get(f"/cases/{ref}/package.zip")
            assert status == 303, f"expected the job's progress page, got {status}"
            job_page = headers["Location"]
            started = time.perf_counter()
            while True:
                busy.append(timed_list(b))
                st = a.get(job_page + "/status.json")
                if b'"finished":true' in st[1].replace(b" ", b""):
                    break
            builds.append(time.perf_counter() - started)
            status, body, headers = a.get(f"/cases/{ref}/package.zip")  # the ready file
            assert status == 200 and body[:2] == b"PK", f"the package was not handed out: {status}"
            if len(builds) >= 20:
                break
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()

    print(f"packages built: {len(builds)}, each {min(builds):.2f}–{max(builds):.2f} s (job start to ready)")
    print(describe("case list, idle", idle))
    print(describe("case list, building", busy))
    print(f"idle_p95_ms={pct(idle, 95) * 1000:.1f} building_p95_ms={pct(busy, 95) * 1000:.1f} "
          f"building_max_ms={max(busy) * 1000:.1f} (target: ratio <= 1.5 and max <= 1000)")
    print(f"ratio={pct(busy, 95) / pct(idle, 95):.2f}")


if __name__ == "__main__":
    main()
