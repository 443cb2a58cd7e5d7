"""The S3 evidence store against a real S3 endpoint (moto's server on 127.0.0.1) with object lock, on PostgreSQL.

Real operations store captures, an upload and a step attachment; `vaern verify` runs as an operator runs it.
Tampering is done as someone with access to the storage could: a new version written over a blob through
the S3 API, and the bytes of the recorded version changed inside the server.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.blobs import BlobCorrupt, BlobLocked, BlobMissing
from storage.s3blobs import S3BlobStore
from storage.models import Artifact, BlobVersion, Case, Role, User
from storage.types import utcnow
from tests.support.cli import vaern
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_unit, make_user, png_bytes
from tests.support.s3 import s3_runtime_on, s3_server, use_test_credentials
from tracker.accounts.tokens import create_token
from tracker.cases.register import add_evidence
from tracker.integrity.integrity import verify_everything
from tracker.settings import SettingsError
from tracker.workflow.rules import load_rules
from tracker.workflow.steps import attach_upload
from webui.app import create_app

RULES = load_rules()


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
    return rt


def recorded(rt, sha: str) -> BlobVersion:
    with rt.Session() as s:
        return s.get(BlobVersion, sha)


def test_a_blob_is_written_once_with_retention_and_its_version_is_read_back(s3, s3_runtime, tmp_path):
    rt = s3_runtime
    data = png_bytes(color=(9, 8, 7)) * 50
    sha = rt.blobs.put_stream(io.BytesIO(data))
    assert rt.blobs.put(data) == sha  # the same bytes again: nothing new
    versions = s3.client().list_object_versions(Bucket=rt.test_bucket)["Versions"]
    assert [(v["Key"], v["Size"]) for v in versions] == [(f"evidence/{sha[:2]}/{sha[2:4]}/{sha}", len(data))]
    row = recorded(rt, sha)
    assert row.version_id == versions[0]["VersionId"] and row.size == len(data)
    assert row.lock_mode == "COMPLIANCE" and row.retain_until > utcnow() + timedelta(days=29)
    head = s3.client().head_object(Bucket=rt.test_bucket, Key=versions[0]["Key"], VersionId=row.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert rt.blobs.read(sha) == data and rt.blobs.exists(sha)
    assert rt.blobs.retention(sha).mode == "COMPLIANCE"
    with pytest.raises(BlobLocked, match="under retention"):
        rt.blobs.delete(sha)
    assert rt.blobs.read(sha) == data
    assert not any(p.is_file() for p in rt.settings.data_dir.rglob("*") if "blobs" in p.parts)
    assert not (rt.settings.data_dir / "blobs").exists()


def test_a_blob_written_again_by_another_process_is_read_in_its_new_version_here_too(s3, s3_runtime):
    rt = s3_runtime  # this process; `other` is a second process's store on the same bucket and database
    other = S3BlobStore.from_url(rt.settings.blob_url, rt.engine, endpoint_url=s3.endpoint_url, lock_days=30)
    data, kept = png_bytes(color=(4, 5, 6)) * 20, png_bytes(color=(6, 5, 4)) * 20
    sha, kept_sha = rt.blobs.put(data), rt.blobs.put(kept)
    assert other.read(sha) == data and other.read(kept_sha) == kept  # the other process knows both versions now
    first = recorded(rt, sha).version_id
    for name in (sha, kept_sha):
        s3.tamper_version(rt.test_bucket, f"evidence/{name[:2]}/{name[2:4]}/{name}", recorded(rt, name).version_id,
                          b"not what was captured")
    assert rt.blobs.put(data) == sha  # this process finds the version altered and writes the bytes again
    assert recorded(rt, sha).version_id != first
    assert other.read(sha) == data  # the newly recorded version, not the altered one it knew
    other.verify(sha)
    with pytest.raises(BlobCorrupt):  # nobody wrote this one again: still an error
        other.read(kept_sha)


def test_a_newer_version_over_a_blob_is_never_read_and_verify_names_it(s3, s3_runtime):
    rt = s3_runtime
    data = b"the post as captured"
    sha = rt.blobs.put(data)
    key = f"evidence/{sha[:2]}/{sha[2:4]}/{sha}"
    newer = s3.client().put_object(Bucket=rt.test_bucket, Key=key, Body=b"a different post")["VersionId"]
    assert rt.blobs.read(sha) == data  # the recorded version, not the latest
    assert rt.blobs.put(data) == sha and recorded(rt, sha).version_id != newer
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, Role.employee, unit)
        case = make_case(s, employee)
        add_evidence(s, employee, case, upload_sha256=sha, upload_filename="opslag.txt")
    report = verify_everything(rt)
    [problem] = report.problems
    assert problem.kind == "blob_new_version" and problem.subject == sha
    assert newer in problem.message and recorded(rt, sha).version_id in problem.message
    assert f"s3://{rt.test_bucket}/{key}" in problem.message and "uploaded original opslag.txt" in problem.message


def test_captures_uploads_and_attachments_verify_clean_then_altered_bytes_are_named(s3, s3_runtime, tmp_path):
    rt = s3_runtime
    with rt.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        case = make_case(s, employee)
        case_id, employee_id, leader_id, ref = case.id, employee.id, leader.id, case.ref
    first = make_done_evidence(rt, case_id, employee_id, bundle=make_bundle(color=(10, 20, 30)))
    make_done_evidence(rt, case_id, leader_id, url="https://example.org/opslag/3", bundle=make_bundle(color=(1, 100, 0)))
    with rt.transaction() as s:
        leader, case = s.get(User, leader_id), s.get(Case, case_id)
        att = attach_upload(s, rt.blobs, case, "platform_notice", leader, png_bytes(color=(1, 2, 3)), "svar.png",
                            max_bytes=10_000_000, rules=RULES)
        att_sha = att.sha256
    env = dict(database_url=rt.settings.database_url, blob_url=rt.settings.blob_url,
               s3_endpoint_url=s3.endpoint_url, s3_object_lock_days="30")
    clean = vaern("verify", "--json", data_dir=rt.settings.data_dir, **env)
    assert clean.returncode == 0, clean.stderr
    out = json.loads(clean.stdout)
    assert out["ok"] is True and out["blobs_checked"] == 8  # 2 screenshots, 2 manifests, 3 shared files, 1 attachment

    with rt.Session() as s:
        shot = s.execute(select(Artifact.sha256).where(Artifact.evidence_id == first,
                                                       Artifact.name == "screenshot_viewport.png")).scalar_one()
    for sha in (shot, att_sha):
        s3.tamper_version(rt.test_bucket, f"evidence/{sha[:2]}/{sha[2:4]}/{sha}", recorded(rt, sha).version_id,
                          b"not what was captured")
    with pytest.raises(BlobCorrupt):
        rt.blobs.read(shot)
    bad = vaern("verify", data_dir=rt.settings.data_dir, **env)
    assert bad.returncode == 1, bad.stderr
    altered = [line for line in bad.stdout.splitlines() if "was altered" in line]
    assert len(altered) == 2
    assert any(shot in line and f"evidence {first} (case {ref}), artifact screenshot_viewport.png" in line for line in altered)
    assert any(att_sha in line and "step attachment" in line and "svar.png" in line for line in altered)


def test_an_object_written_before_its_record_is_adopted_only_if_its_bytes_are_the_blob(s3, s3_runtime):
    rt = s3_runtime
    good, planted = b"bytes written by a worker that died before recording", b"bytes of the blob"
    good_sha, planted_sha = hashlib.sha256(good).hexdigest(), hashlib.sha256(planted).hexdigest()
    client = s3.client()
    until = utcnow() + timedelta(days=1)
    first = client.put_object(Bucket=rt.test_bucket, Key=f"evidence/{good_sha[:2]}/{good_sha[2:4]}/{good_sha}", Body=good,
                              ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                              ChecksumAlgorithm="SHA256")["VersionId"]
    client.put_object(Bucket=rt.test_bucket, Key=f"evidence/{planted_sha[:2]}/{planted_sha[2:4]}/{planted_sha}",
                      Body=b"something else under its name", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=until, ChecksumAlgorithm="SHA256")
    assert rt.blobs.put(good) == good_sha
    assert recorded(rt, good_sha).version_id == first  # adopted, nothing written over it
    assert rt.blobs.put(planted) == planted_sha
    assert rt.blobs.read(planted_sha) == planted  # the wrong object is not adopted: the real bytes are a new version
    versions = client.list_object_versions(Bucket=rt.test_bucket, Prefix=f"evidence/{planted_sha[:2]}")["Versions"]
    assert len([v for v in versions if v["Key"].endswith(planted_sha)]) == 2


def test_a_blob_never_recorded_is_missing(s3_runtime):
    with pytest.raises(BlobMissing):
        s3_runtime.blobs.read("0" * 64)
    assert not s3_runtime.blobs.exists("0" * 64)


def test_governance_mode_is_set_when_configured(s3, aws_env, pg_url, make_runtime):
    bucket = s3.new_bucket()
    rt = make_runtime(database_url=pg_url, blob_url=f"s3://{bucket}", s3_endpoint_url=s3.endpoint_url,
                      s3_object_lock_days=2, s3_object_lock_mode="GOVERNANCE")
    sha = rt.blobs.put(b"governance")
    head = s3.client().head_object(Bucket=bucket, Key=f"{sha[:2]}/{sha[2:4]}/{sha}", VersionId=recorded(rt, sha).version_id)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert rt.blobs.retention(sha).until < utcnow() + timedelta(days=2, minutes=1)


def test_erasure_is_refused_under_retention_or_legal_hold_and_removes_every_trace_after(s3, aws_env, pg_url, make_runtime):
    bucket = s3.new_bucket()
    rt = make_runtime(database_url=pg_url, blob_url=f"s3://{bucket}/e", s3_endpoint_url=s3.endpoint_url,
                      s3_object_lock_days=2, s3_object_lock_mode="GOVERNANCE")
    sha = rt.blobs.put(b"a case whose time is up")
    key, version = f"e/{sha[:2]}/{sha[2:4]}/{sha}", recorded(rt, sha).version_id
    with pytest.raises(BlobLocked, match="GOVERNANCE until"):
        rt.blobs.delete(sha)
    client = s3.client()  # an administrator with s3:BypassGovernanceRetention ends the retention
    client.put_object_retention(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": utcnow() - timedelta(days=1)})
    client.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "ON"})
    assert rt.blobs.retention(sha).legal_hold is True
    with pytest.raises(BlobLocked, match="LEGAL_HOLD"):
        rt.blobs.delete(sha)
    client.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "OFF"})
    assert rt.blobs.delete(sha) is True
    assert client.list_object_versions(Bucket=bucket).get("Versions", []) == []
    assert recorded(rt, sha) is None
    with pytest.raises(BlobMissing):
        rt.blobs.read(sha)
    assert rt.blobs.delete(sha) is False


def test_a_bucket_without_object_lock_is_refused_at_start(s3, aws_env, pg_url, make_runtime):
    bucket = s3.new_bucket(object_lock=False)
    with pytest.raises(SettingsError, match=f"VAERN_BLOB_URL: evidence bucket s3://{bucket} was not created with object lock"):
        make_runtime(database_url=pg_url, blob_url=f"s3://{bucket}/x", s3_endpoint_url=s3.endpoint_url,
                     s3_object_lock_days=1)


def test_concurrent_writers_of_the_same_bytes_leave_one_version(s3, s3_runtime):
    rt = s3_runtime
    data = b"the same screenshot, stored by four workers at once" * 1000
    barrier = threading.Barrier(4)
    names: list[str] = []

    def put() -> None:
        barrier.wait()
        names.append(rt.blobs.put(data))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sha = hashlib.sha256(data).hexdigest()
    assert names == [sha] * 4
    versions = s3.client().list_object_versions(Bucket=rt.test_bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == [recorded(rt, sha).version_id]
    assert rt.blobs.read(sha) == data


def test_the_web_app_stores_an_upload_in_s3_and_serves_it_verified_and_refuses_altered_bytes(s3, s3_runtime):
    rt = s3_runtime
    with rt.transaction() as s:
        unit = make_unit(s)
        employee, leader = make_user(s, Role.employee, unit), make_user(s, Role.leader, unit)
        case = make_case(s, employee)
        ref, employee_id, token = case.ref, employee.id, create_token(s, leader, name="test")[1]
    evidence_id = make_done_evidence(rt, case.id, employee_id)
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    photo = png_bytes(color=(40, 50, 60))
    made = client.post(f"/api/v1/cases/{ref}/steps/platform_notice/attachments/upload", headers=auth,
                       data={"file": (io.BytesIO(photo), "svar.png")}, content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    sha = hashlib.sha256(photo).hexdigest()
    assert recorded(rt, sha) is not None
    got = client.get(f"/api/v1/cases/{ref}/attachments/{made.get_json()['id']}", headers=auth)
    assert got.status_code == 200 and got.data == photo
    shot = client.get(f"/api/v1/cases/{ref}/evidence/{evidence_id}/screenshot_viewport.png", headers=auth)
    with rt.Session() as s:
        shot_sha = s.execute(select(Artifact.sha256).where(Artifact.evidence_id == evidence_id,
                                                           Artifact.name == "screenshot_viewport.png")).scalar_one()
    assert shot.status_code == 200 and hashlib.sha256(shot.data).hexdigest() == shot_sha
    s3.tamper_version(rt.test_bucket, f"evidence/{sha[:2]}/{sha[2:4]}/{sha}", recorded(rt, sha).version_id, b"forged")
    assert client.get(f"/api/v1/cases/{ref}/attachments/{made.get_json()['id']}", headers=auth).status_code == 500
