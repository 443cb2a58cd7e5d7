"""Værn scaled out, as an operator runs it: real `vaern serve` and `vaern worker` processes on PostgreSQL, Redis
and an S3 endpoint with object lock, fed concurrent reports through the JSON API.

Shared by tests/e2e/test_scale_out.py and benchmarks/scale_out.py. Each process gets its own data directory
(nothing is shared on disk: the database, the queue and the evidence store are the only shared parts); all get
the same secret key, database, queue name and bucket. ``Cluster.stop()`` ends exactly the processes it started
(each in its own process group, so Chromium and Playwright's driver go with it).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from storage.models import Evidence, EvidenceState
from tests.support.environment import CHROMIUM
from tests.support.s3 import CREDENTIALS

VAERN = str(Path(sys.executable).with_name("vaern"))
#: the words of tests/support/fixture_site/plain_post.html every capture's text.txt must hold
POST_WORDS = "Ingeniøren Bjørn Ødegård har IGEN ladet hullerne stå på Strandvejen"
UNFINISHED = (EvidenceState.queued, EvidenceState.running)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vaern_env(settings, *, s3_endpoint_url: str, threads: int = 1) -> dict[str, str]:
    """The environment every process of the cluster shares: a runtime's settings as VAERN_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAERN_", "AWS_"))}
    env.update(CREDENTIALS)
    env.update(VAERN_DATABASE_URL=settings.database_url, VAERN_REDIS_URL=settings.redis_url,
               VAERN_QUEUE_NAME=settings.queue_name, VAERN_SECRET_KEY=settings.secret_key,
               VAERN_BLOB_URL=settings.blob_url, VAERN_S3_ENDPOINT_URL=s3_endpoint_url,
               VAERN_S3_OBJECT_LOCK_DAYS=str(settings.s3_object_lock_days),
               VAERN_CAPTURE_ALLOWED_HOSTS=settings.capture_allowed_hosts,
               VAERN_CAPTURE_TIME_CAP=str(settings.capture_time_cap), VAERN_WORKERS=str(threads),
               VAERN_LOGIN_RATE_LIMIT="10000 per minute")
    if CHROMIUM:
        env["VAERN_CHROMIUM_PATH"] = CHROMIUM
    return env


@dataclass
class Cluster:
    """``webs`` × `vaern serve` and ``workers`` × `vaern worker` on one shared environment."""

    env: dict[str, str]
    root: Path
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    web_urls: list[str] = field(default_factory=list)

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log(name), "ab") as log:
            proc = subprocess.Popen([VAERN, *args], env={**self.env, "VAERN_DATA_DIR": str(data_dir)}, cwd=data_dir,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def logs(self) -> dict[str, str]:
        return {name: self.log(name).read_text(errors="replace") for name, _ in self.procs}

    def start(self, *, webs: int, workers: int, timeout: float = 120) -> "Cluster":
        """Start the processes and wait until every web answers and every worker consumes."""
        for i in range(webs):
            port = free_port()
            self._start(f"web{i + 1}", "serve", "--port", str(port))
            self.web_urls.append(f"http://127.0.0.1:{port}")
        for i in range(workers):
            self._start(f"worker{i + 1}", "worker")
        deadline = time.monotonic() + timeout
        for name, proc in self.procs:
            ready = "serving on" if name.startswith("web") else "worker consuming from"
            while ready not in self.log(name).read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start (exit {proc.poll()}):\n{self.log(name).read_text()}")
                time.sleep(0.2)
        for url in self.web_urls:  # waitress listens once "serving on" is printed, give it the moment
            _wait_http(f"{url}/login", deadline)
        return self

    def worker_pids(self) -> dict[int, str]:
        return {proc.pid: name for name, proc in self.procs if name.startswith("worker")}

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_http(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} does not answer")
        time.sleep(0.2)


@dataclass(frozen=True)
class Submission:
    web: str
    status: int
    body: dict
    seconds: float


def submit(web: str, token: str, url: str, description: str) -> Submission:
    """POST one report to ``web``'s API (any HTTP status is returned, not raised)."""
    req = urllib.request.Request(f"{web}/api/v1/cases", method="POST",
                                 data=json.dumps({"url": url, "episode_at": None, "description": description}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"raw": raw.decode(errors="replace")[:500]}
    return Submission(web, status, body, time.monotonic() - started)


def submit_all(webs: list[str], tokens: list[str], urls: list[str]) -> list[Submission]:
    """Send every report at once (one thread each), alternating between the web processes and the tokens."""
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        futures = [pool.submit(submit, webs[i % len(webs)], tokens[i % len(tokens)], url, f"Rapport {i + 1}")
                   for i, url in enumerate(urls)]
        return [f.result() for f in futures]


def unfinished(rt) -> int:
    with rt.Session() as s:
        return s.execute(select(func.count()).select_from(Evidence).where(Evidence.state.in_(UNFINISHED))).scalar()


def wait_for_captures(rt, cluster: Cluster, timeout: float) -> float:
    """Wait until no evidence is queued or running; returns the monotonic time it happened.

    Raises RuntimeError if a process died or the time ran out (the processes' logs in the message's tail).
    """
    deadline = time.monotonic() + timeout
    while (left := unfinished(rt)) > 0:
        dead = [name for name, proc in cluster.procs if proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{log[-3000:]}" for n, log in cluster.logs().items())
            raise RuntimeError(f"{left} capture(s) unfinished; dead processes: {dead}\n{tails}")
        time.sleep(0.5)
    return time.monotonic()
