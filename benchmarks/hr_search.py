"""How does HR's case search scale: every filter and the free-text search at 1,000 and at 50,000 cases.

Fills a fresh database (SQLite by default, or ``--database-url`` for PostgreSQL) with synthetic
cases, Danish case texts of 1–3 KB, offenders and audit events, then times each query's first page
and second page (with the total count, capped) and prints the median per query at both sizes and,
last, ``ratio=X.XX``: the slowest query at 50k over the slowest at 1k (with ``--postgres-url``: SQLite
and PostgreSQL each print their ``ratio_…``, and ``ratio`` is the larger). Keyset pages and indexes
should keep the ratio small (a linear scan would give about 50).

    .venv/bin/python benchmarks/hr_search.py [--postgres-url postgresql+psycopg://...] [--sizes 1000 50000]
    .venv/bin/python benchmarks/hr_search.py --database-url postgresql+psycopg://...   # PostgreSQL only
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from storage.models import Role, User  # noqa: E402
from tests.support.hr_data import START, audit_queries, case_queries, fill  # noqa: E402
from tracker.oversight import history  # noqa: E402
from tracker.oversight import search  # noqa: E402

def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(session: Session, hr: User, k: dict, repeat: int = 3) -> dict[str, float]:
    """Median seconds per query: first page plus second page (cases) or first two pages (audit log)."""
    out = {}
    for name, f in case_queries(k).items():
        def run(f=f):
            first = search.search_cases(session, hr, f)
            if first.next_after:
                search.search_cases(session, hr, f, after=first.next_after)
        out[name] = timed(run, repeat)
    for name, f in audit_queries(k).items():
        def run_audit(f=f):
            page = history.audit_log(session, hr, f)
            if page.next_cursor:
                history.audit_log(session, hr, f, before=page.next_cursor)
            session.rollback()  # drop the "audit.view" events the benchmark itself records
        out[name] = timed(run_audit, repeat)
    return out


def bench_one(url: str | None, n: int) -> dict[str, float]:
    from storage.db import make_engine, make_session_factory, upgrade

    url = url or f"sqlite:///{tempfile.mkdtemp(prefix='hr-bench-')}/bench.sqlite3"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            t0 = time.perf_counter()
            k = fill(session, n)
            hr_id = session.execute(insert(User).values(email=f"hr-bench-{n}@kommune.dk", name="HR", role=Role.hr,
                                                        password_hash="x", active=True, created_at=START)
                                    .returning(User.id)).scalar_one()
            session.commit()
            print(f"filled {n} cases in {time.perf_counter() - t0:.1f} s", flush=True)
            return measure(session, session.get(User, hr_id), k)
    finally:
        engine.dispose()


def _pg_schema_url(base: str, n: int):
    """A schema of the benchmark's own (``hr_bench_<n>_<random>``) on ``base``: (url, drop function)."""
    import secrets

    from sqlalchemy import create_engine

    schema = f"hr_bench_{n}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def run_sizes(url: str | None, sizes: list[int], label: str) -> float:
    """Both sizes on one kind of database (PostgreSQL: each in a fresh schema); prints the table; the ratio."""
    results = []
    for n in sizes:
        if url and url.startswith("postgresql"):
            schema_url, drop = _pg_schema_url(url, n)
            try:
                results.append(bench_one(schema_url, n))
            finally:
                drop()
        else:
            results.append(bench_one(url, n))
    small, large = results
    print(f"[{label}] {'query':<20} {sizes[0]:>8} {sizes[1]:>8}  (ms, first + second page, median of 3)")
    for name in small:
        print(f"[{label}] {name:<20} {small[name] * 1000:8.1f} {large[name] * 1000:8.1f}")
    ratio = max(large.values()) / max(small.values())
    print(f"[{label}] slowest_small_ms={max(small.values()) * 1000:.1f} "
          f"slowest_large_ms={max(large.values()) * 1000:.1f} ratio_{label}={ratio:.2f}", flush=True)
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="only this database (SQLite file URL, or a PostgreSQL server: each size in a schema of its own)")
    parser.add_argument("--postgres-url", default=None,
                        help="also run on this PostgreSQL server after SQLite (each size in a schema of its own, dropped after)")
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 50000])
    args = parser.parse_args()
    if args.database_url:
        label = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
        ratios = [run_sizes(args.database_url, args.sizes, label)]
    else:
        ratios = [run_sizes(None, args.sizes, "sqlite")]
        if args.postgres_url:
            ratios.append(run_sizes(args.postgres_url, args.sizes, "postgresql"))
    print(f"ratio={max(ratios):.2f}")


if __name__ == "__main__":
    main()
