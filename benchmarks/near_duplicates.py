"""How does a near-duplicate query grow with the evidence table: 1,000 rows against 100,000?

Builds two SQLite databases in a temporary folder (or uses ``--database-url`` as the base for the
large one, e.g. a PostgreSQL schema), bulk-inserts evidence rows with random post-element hashes plus
a few planted near-duplicates, loads the index once (the cold load, printed) and then times warm
queries (refresh by evidence id + XOR/popcount over the whole index). Prints the medians and, last,
``ratio=X.XX`` (100k warm query / 1k warm query). The query is a linear scan, so the ratio grows with
the rows; what matters is that the 100k query stays far below a second.

    .venv/bin/python benchmarks/near_duplicates.py [--n 30]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402

from storage.models import Evidence, EvidenceState  # noqa: E402
from tests.support.factories import (make_case, make_done_evidence, make_post_bundle, make_settings, make_unit,  # noqa: E402
                             make_user)
from tracker.oversight import similar  # noqa: E402
from tracker.adapters.runtime import Runtime  # noqa: E402

BASE_P, BASE_D = 0x8F3C_A1B2_0F0F_7E11, 0x1234_5678_9ABC_DEF0
PLANTED = 5


def build(data_dir: Path, rows: int) -> tuple[Runtime, int]:
    """A database with ``rows`` random evidence rows plus PLANTED near-duplicates; returns the query evidence id."""
    rt = Runtime.from_settings(make_settings(data_dir))
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, "employee", unit)
        case_ids = [make_case(s, employee).id for _ in range(20)]
        actor = employee.id
        s.execute(update(Evidence).values(state=EvidenceState.failed))  # the cases' first captures: long done
    rnd = random.Random(7)
    with rt.transaction() as s:
        for start in range(0, rows, 10_000):
            s.execute(insert(Evidence), [
                dict(case_id=case_ids[i % 20], kind="url", source_url=f"https://example.org/p/{i}",
                     state=EvidenceState.done, created_by_id=actor, hash_basis=similar.POST_BASIS,
                     phash=f"{rnd.getrandbits(64):016x}", dhash=f"{rnd.getrandbits(64):016x}",
                     text_sha256=f"{rnd.getrandbits(256):064x}", attempts=1)
                for i in range(start, min(start + 10_000, rows))])
    query = make_done_evidence(rt, case_ids[0], actor, bundle=make_post_bundle(
        phash=f"{BASE_P:016x}", dhash=f"{BASE_D:016x}", text_sha256="a" * 64))
    for k in range(1, PLANTED + 1):
        make_done_evidence(rt, case_ids[k], actor, bundle=make_post_bundle(
            phash=f"{BASE_P ^ ((1 << k) - 1):016x}", dhash=f"{BASE_D ^ 1:016x}", text_sha256="a" * 64))
    return rt, query


def measure(rt: Runtime, evidence_id: int, n: int) -> tuple[float, float, int]:
    """Cold load (seconds), median warm query (seconds), matches found."""
    with rt.Session() as s:
        ev = s.get(Evidence, evidence_id)
        t0 = time.perf_counter()
        found = similar.near_duplicates(s, ev, rt.blobs)
        cold = time.perf_counter() - t0
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            similar.near_duplicates(s, ev, rt.blobs)
            times.append(time.perf_counter() - t0)
    return cold, statistics.median(times), len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="warm queries per size")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (1_000, 100_000):
            t0 = time.perf_counter()
            rt, query = build(Path(tmp) / f"db{rows}", rows)
            built = time.perf_counter() - t0
            cold, warm, found = measure(rt, query, args.n)
            rt.close()
            print(f"rows={rows + PLANTED + 1:>7}  build={built:.1f}s  cold_load={cold * 1000:.0f}ms  "
                  f"warm_query_median={warm * 1000:.2f}ms  matches={found}")
            if found < PLANTED:
                raise SystemExit(f"expected at least {PLANTED} matches, found {found}")
            results[rows] = warm
    print(f"ratio={results[100_000] / results[1_000]:.2f}")


if __name__ == "__main__":
    main()
