"""Retention on the S3 evidence store (issue 16 point 2) against moto's S3 server, on PostgreSQL.

Closing a case makes its blobs' object lock end when its retention ends (close + the closed_case rule's
keeping time), through the job the close enqueues; a blob shared with another case gets the later date, and a
lock is never shortened. A retention run that finds a blob still locked leaves it, says so and records it; a
later run, once the lock has ended, deletes it. moto's server follows the real clock and S3 has no call that
ends a COMPLIANCE lock early, so "the lock has ended" is made true in the server's storage
(tests.support.s3.S3Server.end_locks) and in the version record, as the passing of the date would.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from storage.models import AuditEvent, BlobVersion, Case, Role, User
from storage.types import utcnow
from tests.support.cli import vaern
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_unit, make_user, png_bytes
from tests.support.s3 import s3_runtime_on, s3_server, use_test_credentials
from tracker.adapters.jobs import bind_enqueue_on_commit
from tracker.cases.lifecycle import close_case, reopen_case
from tracker.cases.register import add_evidence
from tracker.oversight.event_text import sentence
from tracker.integrity.integrity import verify_everything
from tracker.integrity.objectlock import lock_targets
from tracker.privacy.retention import run_retention
from tracker.workflow.retention import retention_in_force


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch):
    use_test_credentials(monkeypatch)


@pytest.fixture
def s3_runtime(s3, aws_env, pg_url, make_runtime):
    """A runtime on PostgreSQL whose evidence goes to a fresh object-locked bucket."""
    rt = s3_runtime_on(s3, make_runtime, pg_url)
    bind_enqueue_on_commit(rt)  # what the web app does (webui.app): commits enqueue their jobs
    return rt


def key(sha: str) -> str:
    return f"evidence/{sha[:2]}/{sha[2:4]}/{sha}"


def lock_until(s3, rt, sha: str):
    with rt.Session() as s:
        version = s.get(BlobVersion, sha).version_id
    return s3.client().head_object(Bucket=rt.test_bucket, Key=key(sha), VersionId=version)["ObjectLockRetainUntilDate"]


def case_blobs(rt, case_id: int) -> set[str]:
    rule = retention_in_force(rt.rules_dir).enforced("closed_case")
    with rt.Session() as s:
        return set(lock_targets(s, rule, [case_id]))


def run_lock_jobs(rt) -> int:
    """Take the queue's messages and run the object-lock extension jobs the commits enqueued, as a worker would."""
    ran = 0
    while (task := rt.huey.dequeue()) is not None:
        if task.name == "extend_case_locks":
            rt.huey.execute(task)
            ran += 1
    return ran


def world(rt):
    """Case A with two captures and an uploaded screenshot; case B with the same screenshot (a shared blob)."""
    with rt.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        a, b = make_case(s, employee), make_case(s, employee)
        ids, emp_id, leader_id = (a.id, b.id), employee.id, leader.id
    make_done_evidence(rt, ids[0], emp_id, bundle=make_bundle(color=(10, 20, 30)))
    shared = rt.blobs.put(png_bytes(color=(0, 90, 7)))
    with rt.transaction() as s:
        for case_id in ids:
            add_evidence(s, s.get(User, leader_id), s.get(Case, case_id), upload_sha256=shared,
                         upload_filename="skærmbillede.png")
    return ids, leader_id, shared


def test_closing_locks_the_blobs_until_retention_ends_a_shared_blob_gets_the_later_date_never_shorter(s3, s3_runtime):
    rt = s3_runtime
    keep = retention_in_force(rt.rules_dir).enforced("closed_case").keep
    (a, b), leader_id, shared = world(rt)
    with rt.transaction() as s:
        close_case(s, s.get(Case, a), s.get(User, leader_id), "Fjernet og fulgt op")
    assert run_lock_jobs(rt) == 1
    with rt.Session() as s:
        closed_a = s.get(Case, a).closed_at
    blobs_a = case_blobs(rt, a)
    assert shared in blobs_a and len(blobs_a) > 2
    for sha in blobs_a:
        assert lock_until(s3, rt, sha) == closed_a + keep
        with rt.Session() as s:
            assert s.get(BlobVersion, sha).retain_until == closed_a + keep

    later = utcnow() + timedelta(days=40)
    with rt.transaction() as s, time_machine.travel(later, tick=False):
        close_case(s, s.get(Case, b), s.get(User, leader_id), "Fjernet")
    assert run_lock_jobs(rt) == 1
    with rt.Session() as s:
        closed_b = s.get(Case, b).closed_at
    assert lock_until(s3, rt, shared) == closed_b + keep  # shared with B: B's later end
    assert all(lock_until(s3, rt, sha) == closed_a + keep for sha in blobs_a - {shared})

    # B reopened: its lock stays; A reopened and closed again later: A's blobs follow the new close
    with rt.transaction() as s:
        reopen_case(s, s.get(Case, b), s.get(User, leader_id), "Det startede igen")
        reopen_case(s, s.get(Case, a), s.get(User, leader_id), "Det startede igen")
    with rt.transaction() as s, time_machine.travel(later + timedelta(days=10), tick=False):
        close_case(s, s.get(Case, a), s.get(User, leader_id), "Fjernet igen")
    assert run_lock_jobs(rt) == 1
    with rt.Session() as s:
        closed_a2 = s.get(Case, a).closed_at
    assert closed_a2 > closed_b
    assert all(lock_until(s3, rt, sha) == closed_a2 + keep for sha in blobs_a)
    assert verify_everything(rt).ok


def test_a_run_before_the_lock_ends_leaves_the_blob_and_says_so_a_run_after_deletes_it(s3, s3_runtime):
    rt = s3_runtime
    keep = retention_in_force(rt.rules_dir).enforced("closed_case").keep
    (a, b), leader_id, shared = world(rt)
    with rt.transaction() as s:
        close_case(s, s.get(Case, a), s.get(User, leader_id), "Fjernet og fulgt op")
        ref_a = s.get(Case, a).ref
    while rt.huey.dequeue() is not None:  # the extension job's message is lost: the daily run makes it good
        pass
    blobs_a = case_blobs(rt, a)
    with rt.Session() as s:
        until = s.get(Case, a).closed_at + keep
    swept = run_retention(rt, utcnow())
    assert swept.cases == [] and swept.locks_extended == len(blobs_a)
    assert all(lock_until(s3, rt, sha) == until for sha in blobs_a)
    only_a = sorted(blobs_a - {shared})  # the shared screenshot stays: case B still refers to it

    as_of = (until + timedelta(days=2)).date().isoformat()  # the case is due; in real time the lock holds
    env = dict(database_url=rt.settings.database_url, blob_url=rt.settings.blob_url,
               s3_endpoint_url=s3.endpoint_url, s3_object_lock_days="30")
    first = vaern("retention", "run", "--as-of", as_of, data_dir=rt.settings.data_dir, **env)
    assert first.returncode == 0, first.stderr
    out = first.stdout.splitlines()
    assert out[0] == f"case {ref_a}: erased (rule closed_case)"
    assert "0 blob(s) deleted from the store" in out
    for sha in only_a:
        assert (f"blob {sha}: still under object lock (COMPLIANCE until {until:%Y-%m-%d %H:%M} UTC): left in the "
                "store, a run after that date deletes it") in out
    assert f"{len(only_a)} blob(s) pending: no case refers to them any more, the store keeps them until their " \
           "lock ends" in out
    with rt.Session() as s:
        erase = s.execute(select(AuditEvent).where(AuditEvent.action == "case.erase")).scalar_one()
        assert {d["sha256"]: d["until"] for d in erase.details["blobs_locked"]} == {
            sha: until.isoformat() for sha in blobs_a}
        assert sentence(erase).endswith(f" {len(blobs_a)} filer er stadig låst i lageret og slettes, når låsen "
                                        "udløber.")
    assert all(rt.blobs.exists(sha) for sha in blobs_a)
    pending = verify_everything(rt)  # blobs waiting for their lock to end are no problem for verify
    assert pending.ok, [p.message for p in pending.problems]

    again = run_retention(rt, utcnow() + timedelta(days=6 * 366))  # still locked in real time: still pending
    assert again.blobs_deleted == 0
    assert again.blobs_pending == [(sha, "COMPLIANCE", until) for sha in only_a]

    for sha in only_a:  # the date passes
        s3.end_locks(rt.test_bucket, key(sha))
    with rt.transaction() as s:
        s.execute(update(BlobVersion).where(BlobVersion.sha256.in_(only_a)).values(retain_until=utcnow()))
    after = run_retention(rt, utcnow())
    assert after.cases == [] and after.blobs_pending == []
    assert after.blobs_deleted == len(only_a)
    versions = s3.client().list_object_versions(Bucket=rt.test_bucket).get("Versions", [])
    assert not {key(sha) for sha in only_a} & {v["Key"] for v in versions}
    assert rt.blobs.exists(shared)
    report = verify_everything(rt)
    assert report.ok, [p.message for p in report.problems]
