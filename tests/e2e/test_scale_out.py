"""Scale-out (issue 15.3): 2 × `vaern serve` and 2 × `vaern worker` on PostgreSQL, Redis and S3 with object lock
(moto's server) take 50 concurrent reports through the API: 50 cases, 50 captures, no error, `vaern verify` clean.

Real processes, real Chromium, a real fixture page on 127.0.0.1; runs only when VAERN_TEST_DATABASE_URL and
VAERN_TEST_REDIS_URL are set (the PostgreSQL schema, the Redis queue name and the bucket are this test's own).
"""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from storage.models import Artifact, AuditEvent, BlobVersion, Case, Evidence, EvidenceState, Role
from tests.support.cli import vaern
from tests.support.cluster import POST_WORDS, Cluster, submit_all, vaern_env, wait_for_captures
from tests.support.factories import make_unit, make_user
from tests.support.fixture_site import FixtureSite
from tests.support.s3 import s3_server, use_test_credentials
from tracker.accounts.tokens import create_token

pytestmark = pytest.mark.scaleout

REPORTS = 50
#: generous for a loaded 2-CPU machine: one capture takes 2-6 s of both cores
CAPTURES_TIMEOUT = 600


def test_two_web_and_two_worker_processes_take_fifty_concurrent_reports(pg_url, redis_url, make_runtime, monkeypatch,
                                                                         tmp_path):
    use_test_credentials(monkeypatch)
    with s3_server() as s3, FixtureSite() as site:
        bucket = s3.new_bucket()
        rt = make_runtime(database_url=pg_url, redis_url=redis_url, blob_url=f"s3://{bucket}/evidence",
                          s3_endpoint_url=s3.endpoint_url, s3_object_lock_days=1, capture_time_cap=120,
                          capture_allowed_hosts=f"127.0.0.1:{site.port}")  # migrates the schema
        with rt.transaction() as s:
            units = [make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")]
            tokens = [create_token(s, make_user(s, Role.employee, units[i % 2]), name="scale-out")[1] for i in range(5)]

        with Cluster(vaern_env(rt.settings, s3_endpoint_url=s3.endpoint_url), tmp_path / "cluster") as cluster:
            cluster.start(webs=2, workers=2)
            started = time.monotonic()
            sent = submit_all(cluster.web_urls, tokens,
                              [site.url(f"/plain_post.html?n={i}") for i in range(REPORTS)])
            assert [s.status for s in sent] == [201] * REPORTS, [s.body for s in sent if s.status != 201]
            assert {s.web for s in sent} == set(cluster.web_urls)
            finished = wait_for_captures(rt, cluster, CAPTURES_TIMEOUT)
            pids = cluster.worker_pids()
            logs = cluster.logs()

        print(f"\n{REPORTS} captures in {finished - started:.1f} s "
              f"({REPORTS / (finished - started) * 60:.1f} captures/min) on 2 web + 2 worker processes")
        refs = {s.body["ref"] for s in sent}
        with rt.Session() as s:
            assert s.execute(select(func.count()).select_from(Case)).scalar() == REPORTS
            assert set(s.execute(select(Case.ref)).scalars()) == refs
            evidence = list(s.execute(select(Evidence)).scalars())
            assert len(evidence) == REPORTS
            problems = [(e.id, e.state, e.capture_status, e.attempts, e.error) for e in evidence
                        if (e.state, e.capture_status, e.attempts) != (EvidenceState.done, "ok", 1)]
            assert problems == []
            assert s.execute(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "evidence.captured")).scalar() == REPORTS
            assert s.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action.in_(["evidence.failed", "evidence.refused"]))).scalar() == 0

            by_worker = Counter(pids.get(int(e.worker.split(":")[1]), e.worker) for e in evidence)
            print(f"captures per worker process: {dict(by_worker)}")
            assert set(by_worker) == {"worker1", "worker2"}, by_worker  # both did some; no web process captured

            versions = {v.sha256: v.version_id for v in s.execute(select(BlobVersion)).scalars()}
            artifacts = s.execute(select(func.count()).select_from(Artifact)).scalar()
            print(f"{artifacts} artifacts in {len(versions)} distinct blobs")
            for e in evidence:
                names = {a.name: a.sha256 for a in e.artifacts}
                assert {"screenshot_full.png", "page.html", "text.txt", "manifest.json"} <= set(names)
                assert all(sha in versions for sha in names.values())  # every artifact's S3 version is recorded
                assert POST_WORDS in rt.blobs.read(names["text.txt"]).decode()
        listed = {}
        for page in s3.client().get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in page.get("Versions", []):
                listed.setdefault(v["Key"].rsplit("/", 1)[-1], []).append(v["VersionId"])
        assert {sha: [vid] for sha, vid in versions.items()} == listed  # one version per blob, the recorded one

        for name, text in logs.items():
            assert "Traceback" not in text and " ERROR " not in text, f"{name}:\n{text[-5000:]}"

        env = dict(database_url=pg_url, blob_url=rt.settings.blob_url, s3_endpoint_url=s3.endpoint_url,
                   s3_object_lock_days="1")
        verified = vaern("verify", "--json", data_dir=tmp_path / "verify", timeout=300, **env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = json.loads(verified.stdout)
        assert report["ok"] is True and report["blobs_checked"] == len(versions), report
