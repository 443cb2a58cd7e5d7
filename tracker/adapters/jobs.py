"""The job queue (huey): captures run here, never in a web request thread.

Embedded default: huey on SQLite in the data directory, consumed by threads inside `vaern serve`.
Scale-out: huey on Redis (VAERN_REDIS_URL), consumed by any number of `vaern worker` processes.

huey removes a message when a worker takes it, so a worker killed mid-capture would lose it.
Værn does not rely on the queue for that: the evidence row is the source of truth. A worker
claims a row with a lease; a periodic sweep re-enqueues rows still queued or whose lease ran out.
Claiming is atomic, so a job enqueued twice runs once; the sweep leaves alone a row whose message is
still waiting in the queue (a backlog is not a lost message).

Every `vaern worker` runs huey's scheduler, so on Redis each periodic task is enqueued once per worker
process; ``first_in_cluster`` lets one copy run (the audit anchor excepted: each worker writes its own file).
"""
from __future__ import annotations

import functools
import logging
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from huey import RedisHuey, SqliteHuey, crontab
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from capture.engine import Capturer
from storage.models import Evidence, EvidenceState
from storage.types import utcnow
from tracker import after_commit, uow
from tracker.adapters import notify
from tracker.cases.evidence import (  # noqa: F401 - the lease rules stay readable as jobs.MAX_ATTEMPTS etc.
    MAX_ATTEMPTS, lease_length, retry_timestamps, run_capture_job, worker_name)
from tracker.oversight import audit
from tracker.integrity.integrity import anchor_if_intact
from tracker.integrity.objectlock import extend_case_locks
from tracker.oversight.med import send_reminders
from tracker.privacy.retention import run_retention
from tracker.packaging import subject_jobs
from tracker.packaging.exports import run_export_job, sweep
from tracker.workflow.recheck import after_capture, run_due

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

#: MAX_ATTEMPTS, lease_length and worker_name (the capture lease rules) live in tracker.cases.evidence
#: what the employee reads when every attempt was used up without an answer (e.g. a page that kills
#: the worker each time); the code before the colon lets the case page show it in plain words
EXHAUSTED = "attempts_exhausted: Værn kunne ikke sikre siden efter {n} forsøg — tag et billede af skærmen"
#: a queued row not picked up within this time is enqueued again (lost message, crash before enqueue)
REQUEUE_AFTER = timedelta(seconds=90)

_CONSUMER_SIGNALS = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
_runtimes: dict[int, "Runtime"] = {}


def make_huey(rt: "Runtime"):
    s = rt.settings
    if s.redis_url:
        huey = RedisHuey(s.queue_name, url=s.redis_url)
    else:
        huey = SqliteHuey(s.queue_name, filename=str((s.data_dir / "queue.sqlite3").resolve()))

    @huey.pre_execute()
    def _rule_files_saved_elsewhere(task) -> None:  # an admin saved them in a web process on this data directory
        rt.refresh_in_force()

    def periodic(schedule, name: str, hold: timedelta):
        """huey's periodic task, run by one worker process per ``hold`` however many run the scheduler."""

        def wrap(fn):
            @functools.wraps(fn)
            def once():
                return fn() if first_in_cluster(rt, name, hold) else None

            return huey.periodic_task(schedule, name=name)(once)

        return wrap

    @huey.task(name="capture_evidence", retries=MAX_ATTEMPTS - 1, retry_delay=5)
    def capture_evidence(evidence_id: int) -> str:
        state = run_capture_job(rt, evidence_id)
        if state != "skipped":  # a re-capture's verdict is decided as soon as its job ends
            after_capture(rt, evidence_id)
        return state

    @huey.task(name="build_export", retries=2, retry_delay=5)
    def build_export(job_id: int) -> str:
        return run_export_job(rt, job_id)

    @periodic(crontab(minute="*"), "sweep_exports", timedelta(seconds=45))
    def sweep_exports_task() -> int:
        return sweep(rt)

    @huey.task(name="build_subject_export")
    def build_subject_export(job_id: int) -> str:
        """An employee's access package (GDPR art. 15), asked for by HR."""
        return subject_jobs.run_subject_job(rt, job_id)

    @periodic(crontab(minute="*"), "sweep_subject_exports", timedelta(seconds=45))
    def sweep_subject_exports_task() -> int:
        return subject_jobs.sweep(rt)

    @periodic(crontab(minute="*"), "requeue_stalled", timedelta(seconds=45))
    def requeue_stalled_task() -> int:
        return requeue_stalled(rt)

    @periodic(crontab(minute="*/10"), "retry_timestamps", timedelta(minutes=9))
    def retry_timestamps_task() -> int:
        return retry_timestamps(rt)

    @huey.task(name="notify_case_opened")
    def notify_case_opened(case_id: int) -> int:
        return notify.case_opened(rt, case_id)

    @periodic(crontab(minute="*/15"), "recheck_due", timedelta(minutes=14))
    def recheck_due_task() -> int:
        return run_due(rt)

    @periodic(crontab(minute="*/5"), "send_notifications", timedelta(minutes=4))
    def send_notifications_task() -> int:
        return notify.send_due(rt)

    @periodic(crontab(minute="7"), "med_reminders", timedelta(minutes=50))
    def med_reminders_task() -> int:
        return send_reminders(rt, utcnow())

    # not once per cluster: each worker anchors into the file in its own data directory (docs/deploy.md §7)
    @huey.periodic_task(crontab(minute="17", hour="3"), name="anchor_audit_chain")
    def anchor_audit_chain_task() -> int | None:
        return anchor_if_intact(rt)

    @periodic(crontab(minute="37", hour="2"), "retention_run", timedelta(hours=23))
    def retention_run_task() -> int:
        """Daily: erase what the retention rules say is due (issue 16); the count of erased cases."""
        return len(run_retention(rt, utcnow()).cases)

    @huey.task(name="extend_case_locks", retries=3, retry_delay=60)
    def extend_case_locks_task(case_ids: list[int]) -> int:
        """After a case is closed: its blobs' object lock lasts until its retention ends (S3 only)."""
        return len(extend_case_locks(rt, case_ids))

    huey.vaern_capture = capture_evidence
    huey.vaern_extend_case_locks = extend_case_locks_task  # type: ignore[attr-defined]  # type: ignore[attr-defined]
    huey.vaern_export = build_export  # type: ignore[attr-defined]
    huey.vaern_subject_export = build_subject_export  # type: ignore[attr-defined]
    huey.vaern_notify_case_opened = notify_case_opened  # type: ignore[attr-defined]
    return huey


def enqueue_capture(rt: "Runtime", evidence_id: int) -> None:
    rt.huey.vaern_capture(evidence_id)  # type: ignore[attr-defined]


#: the domain notes captures to enqueue in the session (tracker.after_commit); kept under its old name
enqueue_capture_after_commit = after_commit.capture


def bind_enqueue_on_commit(rt: "Runtime") -> None:
    """Make every session of ``rt`` enqueue the captures and exports its transaction noted, after commit,
    and send the new-case e-mails (tracker.adapters.notify). A rollback forgets them."""

    @event.listens_for(rt.Session, "after_commit")
    def _after_commit(session: Session) -> None:
        if not uow.outer_commit(session):  # a savepoint's release: wait for the real commit
            return
        for ev_id in after_commit.take(session, after_commit.CAPTURES):
            try:
                enqueue_capture(rt, ev_id)
            except Exception:  # the periodic sweep enqueues it again
                log.exception("could not enqueue capture %s; the sweep will retry", ev_id)
        for job_id in after_commit.take(session, after_commit.EXPORTS):
            try:
                rt.enqueue_export(job_id)
            except Exception:  # the periodic sweep enqueues it again
                log.exception("could not enqueue export %s; the sweep will retry", job_id)
        for job_id in after_commit.take(session, after_commit.SUBJECT_EXPORTS):
            try:
                rt.enqueue_subject_export(job_id)
            except Exception:  # the periodic sweep enqueues it again
                log.exception("could not enqueue access package %s; the sweep will retry", job_id)
        closed = after_commit.take(session, after_commit.CASE_LOCKS)
        if closed and rt.blobs.kind == "s3":
            try:
                rt.huey.vaern_extend_case_locks(sorted(set(closed)))  # type: ignore[attr-defined]
            except Exception:  # the daily retention run extends every closed case's locks
                log.exception("could not enqueue the object-lock extension for cases %s", closed)


    notify.bind_notify_on_commit(rt)  # new-case e-mails, enqueued after commit the same way


def fail_exhausted(rt: "Runtime") -> list[int]:
    """Mark failed every stalled capture that used all its attempts (its worker died each time)."""
    now = utcnow()
    reason = EXHAUSTED.format(n=MAX_ATTEMPTS)
    with rt.transaction() as session:
        rows = list(session.execute(select(Evidence).where(Evidence.attempts >= MAX_ATTEMPTS, or_(
            Evidence.state == EvidenceState.queued,
            (Evidence.state == EvidenceState.running) & (Evidence.lease_expires_at < now),
        ))).scalars())
        for row in rows:
            row.state = EvidenceState.failed
            row.error = reason
            row.finished_at = now
            row.lease_expires_at = None
            audit.record(session, None, "evidence.failed", "evidence", row.id, row.case_id, reason=reason,
                         attempts=row.attempts, worker=row.worker)
        ids = [row.id for row in rows]
    if ids:
        log.warning("gave up %d capture(s) after %d attempts: %s", len(ids), MAX_ATTEMPTS, ids)
    return ids


def requeue_stalled(rt: "Runtime") -> int:
    """Enqueue again every capture that is queued too long or whose worker's lease ran out.

    One that used all its attempts is marked failed instead (it would never be claimed again). One whose
    message is still in the queue, or scheduled for a retry, is left alone: it waits its turn.
    """
    fail_exhausted(rt)
    now = utcnow()
    with rt.Session() as session:
        ids = list(session.execute(select(Evidence.id).where(Evidence.attempts < MAX_ATTEMPTS, or_(
            (Evidence.state == EvidenceState.queued) & (Evidence.created_at < now - REQUEUE_AFTER),
            (Evidence.state == EvidenceState.running) & (Evidence.lease_expires_at < now),
        ))).scalars())
    if ids:  # a row waiting behind a backlog still has its message: enqueueing it again only adds copies
        waiting = waiting_captures(rt.huey)
        ids = [ev_id for ev_id in ids if ev_id not in waiting]
    for ev_id in ids:
        enqueue_capture(rt, ev_id)
    if ids:
        log.info("re-enqueued %d stalled capture(s): %s", len(ids), ids)
    return len(ids)


def waiting_captures(huey) -> set[int]:
    """Evidence ids with a capture message in the queue or scheduled for a retry (reads the whole queue)."""
    return {t.args[0] for t in (*huey.pending(), *huey.scheduled()) if t.name == "capture_evidence" and t.args}


def first_in_cluster(rt: "Runtime", name: str, hold: timedelta) -> bool:
    """True for the first worker process to ask within ``hold``; False for the others.

    Every `vaern worker` runs huey's scheduler, so on Redis each periodic task is enqueued once per worker
    process at its time; this lets one of those copies run and the others end at once. The embedded
    queue has one consumer process, which always runs its copy.
    """
    if not rt.settings.redis_url:
        return True
    key = f"{rt.settings.queue_name}.periodic.{name}"
    return bool(rt.huey.storage.conn.set(key, worker_name(), nx=True, px=int(hold.total_seconds() * 1000)))


# -- one capturer (browser + egress proxy) per process ----------------------------------------
_capturer: "Capturer | None" = None
_capturer_lock = threading.Lock()


def get_capturer(rt: "Runtime") -> "Capturer":
    """The process's capturer; rebuilt when the options changed (e.g. another runtime in tests)."""
    global _capturer
    with _capturer_lock:
        if _capturer is not None and _capturer.options != rt.capture_options:
            _capturer.close()
            _capturer = None
        if _capturer is None:
            _capturer = Capturer(rt.capture_options)
        return _capturer


def close_capturer() -> None:
    global _capturer
    with _capturer_lock:
        if _capturer is not None:
            _capturer.close()
            _capturer = None


def start_embedded_consumer(rt: "Runtime"):
    """Start huey's consumer threads inside this process (embedded mode). Returns the consumer."""
    # SQLite is polled: at most a second's wait between a report and the start of its capture
    consumer = rt.huey.create_consumer(workers=rt.settings.workers, worker_type="thread",
                                       periodic=True, check_worker_health=True, max_delay=1.0)
    # consumer.start() installs huey's SIGINT/SIGTERM/SIGHUP handlers, which only its own run() loop
    # acts on; embedded, they would swallow Ctrl-C and SIGTERM meant for the web server. Keep ours.
    saved = {sig: signal.getsignal(sig) for sig in _CONSUMER_SIGNALS}
    consumer.start()
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)
    requeue_stalled(rt)
    return consumer
