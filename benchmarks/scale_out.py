"""Captures per minute: one web and one worker process against two of each (issue 15.3).

Each setup gets a fresh PostgreSQL schema, Redis queue name and object-locked bucket on moto's S3 server,
its own processes (`vaern serve`, `vaern worker`), and the same N reports sent at once through the JSON API
(alternating between the web processes) for the fixture page tests/support/fixture_site/plain_post.html.
The clock runs from the first report sent to the last capture finished. Each setup is checked the same way:
every report answered 201, N cases, N captures done with status ok on the first attempt, the post's words
in every capture's text. Setups (``--setups``, WEBxWORKERSxTHREADS):

- ``1x1x1``: one web, one worker with one capture thread (one Chromium, one capture at a time);
- ``1x1x2``: one web, one worker with two capture threads (the default VAERN_WORKERS=2, one Chromium);
- ``2x2x1``: two web, two workers with one thread each (two Chromiums).

Prints one line per setup and last ``ratio=X.XX``: captures/min of the last setup over the first. On a
shared machine the figures move; compare within one run. Needs VAERN_TEST_DATABASE_URL and
VAERN_TEST_REDIS_URL (as the tests do).

    .venv/bin/python benchmarks/scale_out.py [--reports 50] [--setups 1x1x1,1x1x2,2x2x1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from storage.models import Case, Evidence, EvidenceState, Role  # noqa: E402
from tests.support.cluster import POST_WORDS, Cluster, submit_all, vaern_env, wait_for_captures  # noqa: E402
from tests.support.database import fresh_pg_schema, new_runtime  # noqa: E402
from tests.support.factories import make_settings, make_unit, make_user  # noqa: E402
from tests.support.fixture_site import FixtureSite  # noqa: E402
from tests.support.s3 import CREDENTIALS, s3_server  # noqa: E402
from tracker.accounts.tokens import create_token  # noqa: E402


def run_setup(webs: int, workers: int, threads: int, reports: int, *, pg: str, redis: str, s3, site,
              root: Path) -> float:
    """Run one setup; returns captures per minute (raises AssertionError if a check fails)."""
    with fresh_pg_schema(pg) as url:
        bucket = s3.new_bucket()
        rt = new_runtime(make_settings(root / "seed", database_url=url, redis_url=redis,
                                       blob_url=f"s3://{bucket}/evidence", s3_endpoint_url=s3.endpoint_url,
                                       s3_object_lock_days=1, capture_time_cap=120,
                                       capture_allowed_hosts=f"127.0.0.1:{site.port}"))
        try:
            with rt.transaction() as s:
                unit = make_unit(s, "Jobcenter")
                tokens = [create_token(s, make_user(s, Role.employee, unit), name="bench")[1] for _ in range(5)]
            with Cluster(vaern_env(rt.settings, s3_endpoint_url=s3.endpoint_url, threads=threads), root) as cluster:
                cluster.start(webs=webs, workers=workers)
                started = time.monotonic()
                sent = submit_all(cluster.web_urls, tokens, [site.url(f"/plain_post.html?n={i}") for i in range(reports)])
                submitted = time.monotonic()
                assert [x.status for x in sent] == [201] * reports, [x.body for x in sent if x.status != 201]
                finished = wait_for_captures(rt, cluster, timeout=60 * 30)
                pids = cluster.worker_pids()
            with rt.Session() as s:
                assert s.execute(select(func.count()).select_from(Case)).scalar() == reports
                evidence = list(s.execute(select(Evidence)).scalars())
                bad = [(e.id, e.state, e.capture_status, e.attempts, e.error) for e in evidence
                       if (e.state, e.capture_status, e.attempts) != (EvidenceState.done, "ok", 1)]
                assert len(evidence) == reports and not bad, bad
                for e in evidence:
                    text = next(a.sha256 for a in e.artifacts if a.name == "text.txt")
                    assert POST_WORDS in rt.blobs.read(text).decode(), e.id
                per_worker = Counter(pids.get(int(e.worker.split(":")[1]), "?") for e in evidence)
        finally:
            rt.huey.storage.flush_all()  # this setup's queue name only
            rt.close()
    seconds = finished - started
    rate = reports / seconds * 60
    print(f"{webs} web + {workers} worker × {threads} thread(s): {reports} captures in {seconds:.1f} s "
          f"= {rate:.1f} captures/min (reports sent in {submitted - started:.1f} s; "
          f"per worker {dict(sorted(per_worker.items()))})", flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reports", type=int, default=50)
    ap.add_argument("--setups", default="1x1x1,1x1x2,2x2x1", help="WEBxWORKERSxTHREADS, comma-separated")
    args = ap.parse_args()
    pg, redis = os.environ.get("VAERN_TEST_DATABASE_URL"), os.environ.get("VAERN_TEST_REDIS_URL")
    if not pg or not redis:
        sys.exit("set VAERN_TEST_DATABASE_URL and VAERN_TEST_REDIS_URL (PostgreSQL and Redis to use)")
    setups = [tuple(int(n) for n in s.split("x")) for s in args.setups.split(",")]
    os.environ.update(CREDENTIALS)  # this process's boto3 (the runtime's S3 store) talks to moto too
    print(f"{os.cpu_count()} CPUs; {args.reports} reports per setup", flush=True)
    rates = []
    with s3_server() as s3, FixtureSite() as site, tempfile.TemporaryDirectory(prefix="vaern-scale-") as tmp:
        for i, (webs, workers, threads) in enumerate(setups):
            rates.append(run_setup(webs, workers, threads, args.reports, pg=pg, redis=redis, s3=s3, site=site,
                                   root=Path(tmp) / f"setup{i}"))
    print(f"ratio={rates[-1] / rates[0]:.2f}")


if __name__ == "__main__":
    main()
