"""Running one capture job: claim the evidence row, capture, store blobs durably, then the rows."""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME, EvidenceBundle
from capture.errors import CaptureFailed, CaptureRefused, TimestampError
from capture.timestamp import request_timestamp
from capture.statement import capture_statement
from capture.upload import capture_upload
from storage.models import Artifact, Case, Evidence, EvidenceState, Recheck
from storage.types import utcnow
from tracker import uow
from tracker.accounts import profiles as capture_profiles
from tracker.oversight import audit, offenders, search, similar
from tracker.workflow import steps

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

#: a capture is claimed at most this often (huey retries MAX_ATTEMPTS - 1 times; the sweep then marks it failed)
MAX_ATTEMPTS = 3


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lease_length(rt: "Runtime") -> timedelta:
    return timedelta(seconds=rt.capture_options.time_cap_seconds * 2 + 60)


class LeaseLost(Exception):
    """This worker no longer holds the job: another worker claimed it since (its result wins)."""


def claim(rt: "Runtime", evidence_id: int) -> Evidence | None:
    """Atomically take the job (queued, or running with an expired lease); None if someone else has it.

    Only rows under the attempt limit: a page that kills its worker is not retried for ever (the sweep
    marks it failed). The returned row's ``attempts`` is this claim's fencing token.
    """
    now = utcnow()
    with uow.unit_of_work(rt) as session:
        res = session.execute(
            update(Evidence)
            .where(Evidence.id == evidence_id)
            .where(Evidence.attempts < MAX_ATTEMPTS)
            .where((Evidence.state == EvidenceState.queued)
                   | ((Evidence.state == EvidenceState.running) & (Evidence.lease_expires_at < now)))
            .values(state=EvidenceState.running, attempts=Evidence.attempts + 1, started_at=now,
                    lease_expires_at=now + lease_length(rt), worker=worker_name())
        )
        if res.rowcount != 1:
            return None
        ev = session.get(Evidence, evidence_id)
        assert ev is not None
        session.expunge(ev)
        return ev


def run_capture_job(rt: "Runtime", evidence_id: int) -> str:
    """The body of the ``capture_evidence`` task. Returns the final state's name."""
    ev = claim(rt, evidence_id)
    if ev is None:
        return "skipped"
    operator = _operator(rt, ev)
    try:
        if ev.kind == "url":
            with rt.Session() as session:  # a logged-in platform account bound to the URL's host, if any
                profile = capture_profiles.profile_for_url(session, rt.settings, ev.source_url)
            bundle = rt.capturer().capture(ev.source_url, operator=operator, profile=profile)
        elif ev.kind == "statement":  # the employee's own account: sealed as it was given
            bundle = capture_statement(rt.blobs.read(ev.upload_sha256), rt.capture_options, operator)
        else:
            data = rt.blobs.read(ev.upload_sha256)
            bundle = capture_upload(data, ev.original_filename or "upload", rt.capture_options, operator)
    except CaptureRefused as exc:
        _finish_without_bundle(rt, ev, EvidenceState.refused, f"{exc.code}: {exc.reason}")
        return EvidenceState.refused.value
    except Exception as exc:  # noqa: BLE001 - recorded, then retried by huey or given up
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        log.exception("capture of evidence %s failed (attempt %s)", evidence_id, ev.attempts)
        if isinstance(exc, CaptureFailed):
            rt.close_capturer()  # a broken browser/proxy is rebuilt for the next attempt
        try:
            if ev.attempts >= MAX_ATTEMPTS:
                _finish_without_bundle(rt, ev, EvidenceState.failed, reason)
                return EvidenceState.failed.value
            _release(rt, ev, reason)
        except LeaseLost:
            return "skipped"
        raise
    try:
        store_bundle(rt, ev.id, bundle, lease=(ev.worker, ev.attempts))
    except LeaseLost:
        log.warning("evidence %s: lease lost before storing (attempt %s); the newer worker's result stands",
                    ev.id, ev.attempts)
        return "skipped"
    return EvidenceState.done.value


def _operator(rt: "Runtime", ev: Evidence) -> str:
    """Who the manifest names as collector: the requesting user, or the system for scheduled re-checks."""
    with rt.Session() as session:
        is_recheck = session.execute(select(Recheck.id).where(Recheck.evidence_id == ev.id)).first()
    return "system:recheck" if is_recheck else f"user:{ev.created_by_id}"


def _held(session, evidence_id: int, lease: tuple[str | None, int] | None) -> Evidence:
    """The row, locked for this transaction; raises LeaseLost unless ``lease`` (worker, attempt) still holds it.

    ``lease`` None: a direct store outside the queue (tools, tests) — only a finished row is refused.
    """
    ev = session.get(Evidence, evidence_id, with_for_update=True)
    assert ev is not None
    if lease is None:
        if ev.state in (EvidenceState.queued, EvidenceState.running):
            return ev
        raise LeaseLost(f"evidence {evidence_id} is already {ev.state.value}")
    worker, attempt = lease
    if ev.state is not EvidenceState.running or ev.attempts != attempt or ev.worker != worker:
        raise LeaseLost(f"evidence {evidence_id}: lease {worker}#{attempt} is gone "
                        f"(now {ev.state.value}, {ev.worker}#{ev.attempts})")
    return ev


def store_bundle(rt: "Runtime", evidence_id: int, bundle: EvidenceBundle, *,
                 lease: tuple[str | None, int] | None = None) -> None:
    """Blobs first (durable), rows after: a row never points at a blob that is not on disk.

    Fenced: with ``lease`` (the claim's worker and attempt number) the rows are written only if no
    other worker claimed the job since; otherwise LeaseLost and nothing changes (blobs are harmless:
    content-addressed and shared).
    """
    stored = [(a.name, a.role, a.media_type, a.size, rt.blobs.put(a.data)) for a in bundle.artifacts]
    manifest_sha = rt.blobs.put(bundle.manifest_bytes)
    stored.append((MANIFEST_NAME, "manifest", "application/json", len(bundle.manifest_bytes), manifest_sha))
    tsr_sha = None
    if bundle.timestamp is not None:
        tsr_sha = rt.blobs.put(bundle.timestamp.tsr)
        stored.append((TIMESTAMP_NAME, "timestamp", "application/timestamp-reply",
                       len(bundle.timestamp.tsr), tsr_sha))
        stored += _chain_rows(rt, bundle.timestamp)
    with uow.unit_of_work(rt) as session:
        ev = _held(session, evidence_id, lease)
        for name, role, media_type, size, sha in stored:
            session.add(Artifact(evidence_id=ev.id, name=name, role=role, media_type=media_type,
                                 size=size, sha256=sha))
        ev.state = EvidenceState.done
        ev.capture_status = bundle.status
        ev.fingerprint = bundle.fingerprint
        ev.manifest_sha256 = manifest_sha
        ev.timestamp_sha256 = tsr_sha
        if bundle.timestamp is not None:
            ev.timestamp_gen_time = _parse_iso(bundle.timestamp.gen_time)
        ev.timestamp_error = bundle.timestamp_error
        ev.finished_at = utcnow()
        ev.lease_expires_at = None
        ev.error = None
        similar.apply_manifest_columns(ev, bundle.manifest)
        offenders.suggest_from_evidence(session, ev, bundle.manifest.get("platform"))
        search.add_bundle_text(session, ev.case_id, bundle)
        capture_profiles.after_capture(session, rt, ev, bundle.manifest, bundle.status)  # a profile that met a login wall
        audit.record(session, None, "evidence.captured", "evidence", ev.id, ev.case_id,
                     fingerprint=bundle.fingerprint, status=bundle.status, worker=ev.worker,
                     tsa=bundle.timestamp.tsa_url if bundle.timestamp is not None else None)
        if bundle.status in steps.SECURES_POST:
            case = session.get(Case, ev.case_id)
            steps.done_by_vaern(session, case, steps.SECURE_EVIDENCE, "capture", rules=rt.rules,
                                evidence_id=ev.id, status=bundle.status)


def retry_timestamps(rt: "Runtime", limit: int = 50) -> int:
    """Timestamp sealed evidence whose TSA request failed at capture time; returns how many succeeded.

    The token is over the unchanged manifest.json, so the fingerprint stays the same.
    """
    if not rt.capture_options.tsa_url:
        return 0
    with rt.Session() as session:
        todo = list(session.execute(
            select(Evidence.id, Evidence.manifest_sha256)
            .where(Evidence.state == EvidenceState.done, Evidence.timestamp_sha256.is_(None),
                   Evidence.manifest_sha256.is_not(None))
            .order_by(Evidence.id).limit(limit)))
    done = 0
    for evidence_id, manifest_sha in todo:
        manifest = rt.blobs.read(manifest_sha)
        try:
            token = request_timestamp(manifest, rt.capture_options)
        except TimestampError as exc:
            with uow.unit_of_work(rt) as session:
                row = session.get(Evidence, evidence_id)
                row.timestamp_error = str(exc)
            break  # the TSA is still down: try the rest next time
        tsr_sha = rt.blobs.put(token.tsr)
        chain = _chain_rows(rt, token)
        with uow.unit_of_work(rt) as session:
            row = session.get(Evidence, evidence_id)
            if row.timestamp_sha256 is not None:
                continue
            session.add(Artifact(evidence_id=row.id, name=TIMESTAMP_NAME, role="timestamp",
                                 media_type="application/timestamp-reply", size=len(token.tsr), sha256=tsr_sha))
            for name, role, media_type, size, sha in chain:
                session.add(Artifact(evidence_id=row.id, name=name, role=role, media_type=media_type,
                                     size=size, sha256=sha))
            row.timestamp_sha256 = tsr_sha
            row.timestamp_gen_time = _parse_iso(token.gen_time)
            row.timestamp_error = None
            audit.record(session, None, "evidence.timestamped", "evidence", row.id, row.case_id,
                         gen_time=token.gen_time, tsa=token.tsa_url, late=True)
        done += 1
    return done


def _chain_rows(rt: "Runtime", token) -> list[tuple[str, str, str, int, str]]:
    """The TSA certificates the token was verified against, stored beside it (blob first), so a package
    carries what ``openssl ts -verify`` needs even where no CA file is configured at export time."""
    if not token.chain_pem:
        return []
    return [(TSA_CHAIN_NAME, "timestamp_chain", "application/pem-certificate-chain", len(token.chain_pem),
             rt.blobs.put(token.chain_pem))]


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _finish_without_bundle(rt: "Runtime", ev: Evidence, state: EvidenceState, reason: str) -> None:
    with uow.unit_of_work(rt) as session:
        row = _held(session, ev.id, (ev.worker, ev.attempts))
        row.state = state
        row.error = reason
        row.finished_at = utcnow()
        row.lease_expires_at = None
        audit.record(session, None, f"evidence.{state.value}", "evidence", row.id, row.case_id, reason=reason)


def _release(rt: "Runtime", ev: Evidence, reason: str) -> None:
    """Give the job back for huey's retry."""
    with uow.unit_of_work(rt) as session:
        row = _held(session, ev.id, (ev.worker, ev.attempts))
        row.state = EvidenceState.queued
        row.error = reason
        row.lease_expires_at = None
        audit.record(session, None, "evidence.retry", "evidence", row.id, row.case_id,
                     attempt=row.attempts, reason=reason[:500], worker=row.worker)
