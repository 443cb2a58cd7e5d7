"""The capture job queue: huey on SQLite and on Redis, real consumers, the real Capturer, crashed workers."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from storage.models import AuditEvent, Evidence, EvidenceState, Role
from storage.types import utcnow
from tests.support.factories import evidence_row, make_case, make_unit, make_user, running_consumer, wait_until
from tracker.adapters import jobs
from tracker.cases.evidence import claim
from tracker.adapters.jobs import bind_enqueue_on_commit, requeue_stalled, start_embedded_consumer

POST_HTML = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Borgere i kommunen</title>
<meta property="og:title" content="Opslag i gruppen"></head><body><article>
<h1>Jens Hansen</h1><p>Sagsbehandleren på jobcentret burde skammes ud. Jeg ved hvor hun bor.</p>
</article></body></html>""".encode()


class PostSite:
    """Pages on 127.0.0.1: ``/post`` answers at once; ``/hang-once`` hangs on its first request only."""

    def __init__(self):
        self.hang_started = threading.Event()
        self.release = threading.Event()
        self._hung = False
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path.startswith("/hang-once"):
                    with lock:
                        first, site._hung = not site._hung, True
                    if first:
                        site.hang_started.set()
                        site.release.wait(60)
                        return
                if self.path.startswith(("/post", "/hang-once")):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(POST_HTML)))
                    self.end_headers()
                    self.wfile.write(POST_HTML)
                else:
                    self.send_error(404)

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    s = PostSite()
    yield s
    s.stop()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.scaleout)])
def queue_settings(request) -> dict:
    """Settings overrides for huey on SQLite, or huey on Redis (with PostgreSQL when configured)."""
    if request.param == "sqlite":
        return {}
    overrides = {"redis_url": request.getfixturevalue("redis_url")}
    if os.environ.get("VAERN_TEST_DATABASE_URL"):
        overrides["database_url"] = request.getfixturevalue("pg_url")
    return overrides


def new_case(rt, url: str) -> tuple[str, int]:
    """Open a case with one URL evidence as a fresh employee; return (ref, evidence id)."""
    with rt.transaction() as s:
        case = make_case(s, make_user(s, Role.employee, make_unit(s)), url=url)
        return case.ref, case.evidence[0].id


def pending_captures(huey) -> list[int]:
    """Evidence ids of the capture messages waiting in the queue (not the periodic sweep's)."""
    return [t.args[0] for t in huey.pending() if t.name == "capture_evidence"]


def count(rt, model, *where) -> int:
    with rt.Session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def test_a_capture_enqueued_after_commit_is_consumed_and_stored(queue_settings, make_runtime, site):
    rt = make_runtime(capture_allowed_hosts=site.host, **queue_settings)
    bind_enqueue_on_commit(rt)
    huey = rt.huey

    with rt.transaction() as s:  # rolled back: nothing is enqueued
        case = make_case(s, make_user(s, Role.employee, make_unit(s)), url=site.url("/post"))
        assert huey.pending_count() == 0
        s.rollback()
    assert huey.pending_count() == 0

    with rt.transaction() as s:
        case = make_case(s, make_user(s, Role.employee, make_unit(s)), url=site.url("/post"))
        ev_id = case.evidence[0].id
        assert huey.pending_count() == 0  # not before the row is committed
    assert huey.pending_count() == 1

    with running_consumer(huey):
        ev = wait_until(lambda: (e := evidence_row(rt, ev_id)).state not in ("queued", "running") and e,
                        timeout=60, message="the capture to finish")
    assert ev.state is EvidenceState.done, ev.error
    assert ev.capture_status == "ok" and ev.attempts == 1
    assert len(ev.fingerprint) == 64 and ev.fingerprint == ev.manifest_sha256
    names = {a.name for a in ev.artifacts}
    assert {"screenshot_full.png", "screenshot_viewport.png", "page.mhtml", "page.html", "text.txt",
            "manifest.json"} <= names
    for a in ev.artifacts:
        rt.blobs.verify(a.sha256)
        assert a.size == rt.blobs.path_for(a.sha256).stat().st_size
    assert "skammes ud" in rt.blobs.read(next(a.sha256 for a in ev.artifacts if a.name == "text.txt")).decode()
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.captured") == 1


def test_a_job_enqueued_three_times_runs_once(queue_settings, make_runtime, site):
    rt = make_runtime(capture_allowed_hosts=site.host, **queue_settings)
    _, ev_id = new_case(rt, site.url("/post"))  # runtime not bound: nothing enqueued by the commit
    results = [rt.huey.vaern_capture(ev_id) for _ in range(3)]
    with running_consumer(rt.huey, workers=3):
        outcomes = sorted(r.get(blocking=True, timeout=60) for r in results)
    assert outcomes == ["done", "skipped", "skipped"]
    ev = evidence_row(rt, ev_id)
    assert ev.attempts == 1
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.captured") == 1


def test_claiming_a_job_is_atomic(database_url, make_runtime):
    rt = make_runtime(database_url=database_url)
    _, ev_id = new_case(rt, "https://example.org/p/1")
    n = 6
    barrier, winners = threading.Barrier(n), []

    def grab():
        barrier.wait()
        winners.append(claim(rt, ev_id))

    threads = [threading.Thread(target=grab) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(winners) == n and sum(w is not None for w in winners) == 1
    ev = evidence_row(rt, ev_id)
    assert ev.state is EvidenceState.running and ev.attempts == 1 and ev.lease_expires_at > utcnow()
    assert claim(rt, ev_id) is None  # the lease holds


def test_a_refused_url_ends_refused_with_the_reason(make_runtime, site):
    rt = make_runtime()  # the site is NOT allow-listed: 127.0.0.1 is a private address
    bind_enqueue_on_commit(rt)
    refs = [new_case(rt, url) for url in (site.url("/post"), "http://10.20.30.40/opslag")]
    with running_consumer(rt.huey):
        for _, ev_id in refs:
            wait_until(lambda: evidence_row(rt, ev_id).state is EvidenceState.refused, timeout=30,
                       message="the refusal")
    for _, ev_id in refs:
        ev = evidence_row(rt, ev_id)
        assert ev.error.startswith("blocked_address: ") and ev.attempts == 1 and ev.artifacts == []
        assert ev.lease_expires_at is None and ev.finished_at is not None
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.refused") == 2


def test_a_capture_failing_three_times_ends_failed(make_runtime, site):
    rt = make_runtime(capture_allowed_hosts=site.host, chromium_path="/nonexistent/chromium")
    task = rt.huey.vaern_capture
    assert (task.task_class.default_retries, task.task_class.default_retry_delay) == (jobs.MAX_ATTEMPTS - 1, 5)
    task.task_class.default_retry_delay = 0  # this runtime's own task class: no 2 × 5 s wait in the test
    bind_enqueue_on_commit(rt)
    _, ev_id = new_case(rt, site.url("/post"))
    with running_consumer(rt.huey):
        ev = wait_until(lambda: (e := evidence_row(rt, ev_id)).state is EvidenceState.failed and e,
                        timeout=60, message="the third failure")
    assert ev.attempts == 3
    assert "CaptureFailed" in ev.error and "/nonexistent/chromium" in ev.error
    assert ev.artifacts == [] and ev.lease_expires_at is None
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.failed") == 1


def test_a_capture_waiting_behind_a_backlog_is_not_enqueued_again(queue_settings, make_runtime):
    rt = make_runtime(**queue_settings)
    (_, waiting), (_, lost) = new_case(rt, "https://example.org/p/1"), new_case(rt, "https://example.org/p/2")
    rt.huey.vaern_capture(waiting)  # its message is still in the queue; the other's was lost
    with rt.transaction() as s:  # both were reported long ago (a backlog of other captures before them)
        s.execute(update(Evidence).values(created_at=utcnow() - jobs.REQUEUE_AFTER - timedelta(seconds=1)))
    assert requeue_stalled(rt) == 1
    assert sorted(pending_captures(rt.huey)) == sorted([waiting, lost])
    assert requeue_stalled(rt) == 0  # every worker's sweep, every minute: still one message each
    assert sorted(pending_captures(rt.huey)) == sorted([waiting, lost])


def test_a_periodic_task_runs_in_one_worker_process_per_period(redis_url, pg_url, make_runtime):
    first = make_runtime(database_url=pg_url, redis_url=redis_url)  # two `vaern worker` processes on one queue
    second = make_runtime(database_url=pg_url, redis_url=redis_url, queue_name=first.settings.queue_name)
    assert jobs.first_in_cluster(first, "probe", timedelta(seconds=30))
    assert not jobs.first_in_cluster(second, "probe", timedelta(seconds=30))
    assert not jobs.first_in_cluster(first, "probe", timedelta(seconds=30))
    assert jobs.first_in_cluster(first, "other", timedelta(seconds=30))

    def run(rt, name):  # what each worker's scheduler enqueues at the minute, run as its consumer runs it
        task = next(cls for cls in rt.huey._registry._periodic_tasks if cls.__name__ == name)
        return rt.huey.execute(task())

    assert (run(first, "requeue_stalled"), run(second, "requeue_stalled")) == (0, None)
    assert (run(second, "sweep_exports"), run(first, "sweep_exports")) == (0, None)
    embedded = make_runtime()  # one consumer process: it always runs its copy
    assert jobs.first_in_cluster(embedded, "probe", timedelta(seconds=30))
    assert jobs.first_in_cluster(embedded, "probe", timedelta(seconds=30))


# -- a worker killed mid-capture ---------------------------------------------------------------
CONSUMER_SCRIPT = textwrap.dedent("""
    from tracker.adapters.runtime import Runtime
    from tracker.settings import load_settings
    rt = Runtime.from_settings(load_settings())
    rt.huey.create_consumer(workers=1, worker_type="thread", periodic=False,
                            initial_delay=0.05, max_delay=0.3).run()
""")


def start_worker(rt, log_path: Path) -> subprocess.Popen:
    """A worker process on the same settings: `vaern worker` on Redis, a huey consumer on SQLite."""
    s = rt.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env.update(VAERN_DATA_DIR=str(s.data_dir), VAERN_SECRET_KEY=s.secret_key, VAERN_QUEUE_NAME=s.queue_name,
               VAERN_CAPTURE_ALLOWED_HOSTS=s.capture_allowed_hosts, VAERN_CHROMIUM_PATH=s.chromium_path,
               VAERN_CAPTURE_TIME_CAP=str(s.capture_time_cap), VAERN_WORKERS="1")
    if s.database_url:
        env["VAERN_DATABASE_URL"] = s.database_url
    if s.redis_url:
        env["VAERN_REDIS_URL"] = s.redis_url
        cmd = [str(Path(sys.executable).with_name("vaern")), "worker"]
    else:
        cmd = [sys.executable, "-c", CONSUMER_SCRIPT]
    log = open(log_path, "ab")
    try:
        # its own process group, so the kill takes Chromium and Playwright's driver with it
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(15)


def test_a_worker_killed_mid_capture_is_retried_not_lost(queue_settings, make_runtime, site, tmp_path):
    rt = make_runtime(capture_allowed_hosts=site.host, capture_time_cap=5, **queue_settings)
    bind_enqueue_on_commit(rt)
    log = tmp_path / "worker.log"
    workers = []
    try:
        workers.append(start_worker(rt, log))
        _, ev_id = new_case(rt, site.url("/hang-once"))

        assert site.hang_started.wait(60), log.read_text()
        assert evidence_row(rt, ev_id).state is EvidenceState.running
        kill_group(workers[0])
        assert workers[0].returncode == -signal.SIGKILL

        ev = evidence_row(rt, ev_id)
        assert (ev.state, ev.attempts) == (EvidenceState.running, 1)
        assert pending_captures(rt.huey) == []  # the queue's message died with the worker
        assert requeue_stalled(rt) == 0  # the lease still holds: a live worker is never robbed

        with rt.transaction() as s:  # time passes: the dead worker's lease runs out
            s.execute(update(Evidence).where(Evidence.id == ev_id)
                      .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        assert requeue_stalled(rt) == 1
        assert pending_captures(rt.huey) == [ev_id]

        workers.append(start_worker(rt, log))
        ev = wait_until(lambda: (e := evidence_row(rt, ev_id)).state is EvidenceState.done and e,
                        timeout=90, message="the second worker to finish the capture")
        assert ev.attempts == 2 and ev.capture_status == "ok"
        assert ev.worker.split(":")[1] == str(workers[1].pid)
        for a in ev.artifacts:
            rt.blobs.verify(a.sha256)
    finally:
        for w in workers:
            if w.poll() is None:
                kill_group(w)


# -- the embedded consumer inside `vaern serve` ------------------------------------------------------
def test_the_embedded_consumer_leaves_the_process_signal_handlers_alone(make_runtime):
    rt = make_runtime()
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in sigs}
    consumer = start_embedded_consumer(rt)
    try:
        assert {s: signal.getsignal(s) for s in sigs} == before
    finally:
        consumer.stop(graceful=True)
        for s, handler in before.items():
            signal.signal(s, handler)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_vaern_serve_stops_on_ctrl_c_and_sigterm(tmp_path, sig):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env.update(VAERN_DATA_DIR=str(tmp_path), VAERN_SECRET_KEY="x" * 32)
    proc = subprocess.Popen([str(Path(sys.executable).with_name("vaern")), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if "serving on" in line:
                break
        proc.send_signal(sig)
        assert proc.wait(15) in (0, 1, -sig)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# -- jobs that cannot loop or overwrite -----------------------------------------------------------------
def test_claim_takes_only_rows_under_the_attempt_limit_and_the_sweep_fails_exhausted_ones(database_url, make_runtime):
    rt = make_runtime(database_url=database_url)
    _, ev_id = new_case(rt, "https://example.org/p/1")
    with rt.transaction() as s:  # three workers died on it; the third lease ran out
        s.execute(update(Evidence).where(Evidence.id == ev_id).values(
            state=EvidenceState.running, attempts=jobs.MAX_ATTEMPTS, worker="gone:1:1",
            lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert claim(rt, ev_id) is None
    assert requeue_stalled(rt) == 0  # not enqueued again: failed
    ev = evidence_row(rt, ev_id)
    assert ev.state is EvidenceState.failed and ev.lease_expires_at is None and ev.finished_at is not None
    assert ev.error == ("attempts_exhausted: Værn kunne ikke sikre siden efter 3 forsøg — "
                        "tag et billede af skærmen")
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.failed") == 1
    assert requeue_stalled(rt) == 0 and count(rt, AuditEvent, AuditEvent.action == "evidence.failed") == 1


def test_a_stale_worker_cannot_overwrite_the_newer_result(database_url, make_runtime):
    from tests.support.factories import make_bundle
    from tracker.cases.evidence import LeaseLost, store_bundle

    rt = make_runtime(database_url=database_url)
    _, ev_id = new_case(rt, "https://example.org/p/1")
    stale = claim(rt, ev_id)
    with rt.transaction() as s:  # the first worker hangs; its lease runs out and another claims the job
        s.execute(update(Evidence).where(Evidence.id == ev_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    fresh = claim(rt, ev_id)
    assert (stale.attempts, fresh.attempts) == (1, 2)

    with pytest.raises(LeaseLost):  # the stale worker wakes up before the fresh one finishes
        store_bundle(rt, ev_id, make_bundle(color=(0, 0, 200)), lease=(stale.worker, stale.attempts))
    assert evidence_row(rt, ev_id).state is EvidenceState.running and evidence_row(rt, ev_id).artifacts == []

    newer = make_bundle(color=(0, 200, 0))
    store_bundle(rt, ev_id, newer, lease=(fresh.worker, fresh.attempts))
    with pytest.raises(LeaseLost):  # ... or after it finished
        store_bundle(rt, ev_id, make_bundle(color=(200, 0, 0)), lease=(stale.worker, stale.attempts))
    with pytest.raises(LeaseLost):  # a direct store never overwrites a finished row either
        store_bundle(rt, ev_id, make_bundle(color=(200, 0, 0)))
    ev = evidence_row(rt, ev_id)
    assert ev.state is EvidenceState.done and ev.fingerprint == newer.fingerprint
    assert len(ev.artifacts) == len(newer.artifacts) + 1  # + manifest.json, once
    assert count(rt, AuditEvent, AuditEvent.action == "evidence.captured") == 1


class CrashSite(PostSite):
    """``/crash`` kills the worker process that asks for it (as a page that crashes the browser host would)."""

    def __init__(self):
        super().__init__()
        self.victim: subprocess.Popen | None = None
        self.hits = 0
        site, handler = self, self.server.RequestHandlerClass
        get = handler.do_GET

        def do_get(req):
            if req.path.startswith("/crash") and site.victim is not None:
                site.hits += 1
                os.killpg(site.victim.pid, signal.SIGKILL)
                return
            get(req)

        handler.do_GET = do_get


def test_a_page_that_kills_its_worker_ends_failed_after_the_attempt_limit(make_runtime, tmp_path):
    site = CrashSite()
    rt = make_runtime(capture_allowed_hosts=site.host, capture_time_cap=5)
    bind_enqueue_on_commit(rt)
    log = tmp_path / "worker.log"
    worker = None
    try:
        for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
            worker = site.victim = start_worker(rt, log)
            if attempt == 1:
                _, ev_id = new_case(rt, site.url("/crash"))
            else:
                with rt.transaction() as s:  # time passes: the dead worker's lease runs out
                    s.execute(update(Evidence).where(Evidence.id == ev_id)
                              .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
                assert requeue_stalled(rt) == 1
            assert worker.wait(90) == -signal.SIGKILL, log.read_text()
            ev = evidence_row(rt, ev_id)
            assert (ev.state, ev.attempts) == (EvidenceState.running, attempt)

        with rt.transaction() as s:
            s.execute(update(Evidence).where(Evidence.id == ev_id)
                      .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        assert requeue_stalled(rt) == 0  # no fourth attempt: failed, with words the employee understands
        ev = evidence_row(rt, ev_id)
        assert ev.state is EvidenceState.failed and ev.attempts == jobs.MAX_ATTEMPTS
        assert "Værn kunne ikke sikre siden efter 3 forsøg — tag et billede af skærmen" in ev.error
        assert site.hits == jobs.MAX_ATTEMPTS
        rt.huey.vaern_capture(ev_id)  # a stray message left in the queue changes nothing
        worker = start_worker(rt, log)
        time.sleep(3)
        assert evidence_row(rt, ev_id).attempts == jobs.MAX_ATTEMPTS and site.hits == jobs.MAX_ATTEMPTS
    finally:
        if worker is not None and worker.poll() is None:
            kill_group(worker)
        site.stop()
