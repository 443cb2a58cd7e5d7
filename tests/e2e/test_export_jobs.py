"""Packages and reports built by a job: the API's start/status/download, who sees a job, failures,
expiry, fencing — on SQLite and (when configured) PostgreSQL, with the real job queue and Chromium."""
from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.models import AuditEvent, ExportJob, Role
from storage.types import utcnow
from tests.support.factories import make_case, make_done_evidence, make_unit, make_user, running_consumer, wait_until
from tracker.packaging import exports
from tracker.accounts.tokens import create_token
from webui.app import create_app


class Org:
    def __init__(self, rt):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s), make_unit(s)
            people = {"employee": make_user(s, Role.employee, a), "leader": make_user(s, Role.leader, a),
                      "leader-b": make_user(s, Role.leader, b)}
            self.ids = {k: u.id for k, u in people.items()}
            self.tokens = {k: create_token(s, u, "t")[1] for k, u in people.items()}
            case = make_case(s, people["employee"])
            other = make_case(s, make_user(s, Role.employee, b))
            self.ref, self.case_id, self.other_case_id = case.ref, case.id, other.id
        self.evidence_id = make_done_evidence(self.rt, self.case_id, self.ids["employee"])
        self.other_evidence_id = make_done_evidence(self.rt, self.other_case_id, self.ids["leader-b"])

    def api(self, method: str, path: str, key: str = "leader", **kw):
        return self.app.test_client().open(f"/api/v1/cases/{self.ref}{path}", method=method,
                                           headers={"Authorization": f"Bearer {self.tokens[key]}"}, **kw)

    def events(self, action: str) -> list[AuditEvent]:
        with self.rt.Session() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id)).scalars())


@pytest.fixture
def org(database_url, make_runtime):
    return Org(make_runtime(database_url=database_url))


def test_the_api_starts_a_package_follows_it_and_downloads_it_audited(org):
    resp = org.api("POST", "/exports", json={"kind": "package"})
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["state"] == "queued" and resp.headers["Location"] == job["url"]
    assert org.api("POST", "/exports", json={"kind": "package"}).get_json()["id"] == job["id"]  # one at a time
    assert org.api("GET", f"/exports/{job['id']}/download").status_code == 404  # not ready yet

    with running_consumer(org.rt.huey):
        done = wait_until(lambda: (j := org.api("GET", f"/exports/{job['id']}").get_json())["state"] == "done" and j,
                          timeout=180, message="the package job")
    assert done["step"] == "done" and done["download_url"]
    resp = org.api("GET", f"/exports/{job['id']}/download", buffered=True)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    sha = hashlib.sha256(resp.data).hexdigest()
    assert sha == done["sha256"] == resp.headers["X-Evidence-SHA256"] and len(resp.data) == done["size"]
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert f"evidence/{org.evidence_id}/manifest.json" in z.namelist()
    [event] = org.events("package.export")
    assert event.actor_id == org.ids["leader"] and event.details["via"] == "api" and event.details["sha256"] == sha
    assert [e.details["job"] for e in org.events("export.requested")] == [job["id"]]


def test_a_job_is_only_its_requesters_and_bad_requests_are_clear(org):
    job = org.api("POST", "/exports", json={"kind": "evidence_report", "evidence_id": org.evidence_id}).get_json()
    assert org.api("GET", f"/exports/{job['id']}", key="employee").status_code == 404  # sees the case, not the job
    assert org.api("GET", f"/exports/{job['id']}", key="leader-b").status_code == 404
    assert org.api("POST", "/exports", key="leader-b", json={"kind": "package"}).status_code == 404
    bad = org.api("POST", "/exports", json={"kind": "everything"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_kind"
    assert org.api("POST", "/exports", json={"kind": "package", "x": 1}).get_json()["code"] == "unknown_field"
    other = org.api("POST", "/exports", json={"kind": "evidence_report", "evidence_id": org.other_evidence_id})
    assert other.status_code == 404
    with org.rt.Session() as s:
        assert len(list(s.execute(select(ExportJob)).scalars())) == 1


def test_a_package_with_a_corrupt_blob_fails_with_a_reason_and_is_never_handed_out(org):
    with org.rt.Session() as s:
        from storage.models import Artifact

        sha = s.execute(select(Artifact.sha256).where(Artifact.evidence_id == org.evidence_id,
                                                      Artifact.name == "text.txt")).scalar()
    path = org.rt.blobs.path_for(sha)
    path.chmod(0o644)
    path.write_bytes(b"altered")
    job = org.api("POST", "/exports", json={"kind": "package"}).get_json()
    assert exports.run_export_job(org.rt, job["id"]) == "failed"
    status = org.api("GET", f"/exports/{job['id']}").get_json()
    assert status["state"] == "failed" and status["error"].startswith("blob_corrupt") and status["download_url"] is None
    assert org.api("GET", f"/exports/{job['id']}/download").status_code == 404
    assert len(org.events("export.failed")) == 1 and org.events("package.export") == []
    assert not (org.rt.settings.data_dir / "exports" / str(job["id"])).exists()


def test_a_stale_worker_cannot_mark_a_job_and_the_sweep_expires_files_and_fails_exhausted_jobs(org):
    job_id = org.api("POST", "/exports", json={"kind": "case_report"}).get_json()["id"]
    stale = exports._claim(org.rt, job_id)
    with org.rt.transaction() as s:  # the first worker hangs past its lease; another takes the job
        s.execute(update(ExportJob).where(ExportJob.id == job_id).values(lease_expires_at=utcnow() - timedelta(1)))
    fresh = exports._claim(org.rt, job_id)
    assert stale[1] == 1 and fresh[1] == 2
    assert not exports._finish(org.rt, job_id, stale, state="done")
    assert exports._finish(org.rt, job_id, fresh, state="queued")
    assert exports.run_export_job(org.rt, job_id) == "done"  # third and last attempt
    folder = exports.job_dir(org.rt, job_id)
    assert (folder / f"{org.ref}-sagsrapport.pdf").read_bytes().startswith(b"%PDF")

    with org.rt.transaction() as s:
        s.execute(update(ExportJob).where(ExportJob.id == job_id).values(finished_at=utcnow() - exports.KEEP_FOR * 2))
        lost = exports.request_export(s, _user(s, org.ids["leader"]), _case(s, org.case_id), "package")
        lost.attempts, lost.state = exports.MAX_ATTEMPTS, "running"
        lost.lease_expires_at = utcnow() - timedelta(seconds=1)
        lost_id = lost.id
    assert exports.sweep(org.rt) == 0
    with org.rt.Session() as s:
        assert s.get(ExportJob, job_id).state == "expired" and s.get(ExportJob, lost_id).state == "failed"
    assert not folder.exists()
    assert org.api("GET", f"/exports/{job_id}/download").status_code == 404


def _user(s, user_id):
    from storage.models import User

    return s.get(User, user_id)


def _case(s, case_id):
    from storage.models import Case

    return s.get(Case, case_id)
