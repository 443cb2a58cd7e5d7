"""How does HR's case search scale: every filter and the free-text search at 1,000 and at 50,000 cases.

Fills a fresh database per size (SQLite by default, or ``--database-url`` for PostgreSQL) with synthetic
cases, Danish case texts of 1–3 KB, offenders (one for every two cases: the register grows with them) and
audit events (PostgreSQL then gets the VACUUM ANALYZE
autovacuum would give it). Before timing, every query's pages are checked against the plainest query
(tests/support/hr_data.reference_ids: same ids, same order, the capped count) and the rare word must find
exactly the cases it was put in. Then each query's first page (with the count, capped) plus the page after
it (``after`` = the first page's last case, asked at both sizes even where it comes back empty) is timed;
the sizes take turns query by query, so a busy machine slows both alike. Prints the median per query at
both sizes with the rows their two pages showed (a query that finds 1 case among 1,000 and 167 among 50,000
shows more at 50k, and showing costs), then the worst single query (also among those showing as many rows at
both sizes), all queries together, and, last, ``ratio=X.XX``: the slowest query at 50k over the slowest at 1k (with
``--postgres-url``: SQLite and PostgreSQL each print their ``ratio_…``, and ``ratio`` is the larger).
A linear scan would give about 50.

    .venv/bin/python benchmarks/hr_search.py [--postgres-url postgresql+psycopg://...] [--sizes 1000 50000]
    .venv/bin/python benchmarks/hr_search.py --database-url postgresql+psycopg://...   # PostgreSQL only
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from storage.db import make_engine, make_session_factory, upgrade  # noqa: E402
from storage.models import Role, User  # noqa: E402
from tests.support.hr_data import START, audit_queries, case_queries, fill, reference_ids  # noqa: E402
from tracker.oversight import history  # noqa: E402
from tracker.oversight import search  # noqa: E402


def check(session: Session, hr: User, k: dict) -> None:
    """Each case query's first two pages against the plainest query; the rare word finds its cases."""
    for name, f in case_queries(k).items():
        want = reference_ids(session, hr, f)
        first = search.search_cases(session, hr, f)
        second = search.search_cases(session, hr, f, after=first.next_after) if first.next_after else None
        got = [c.id for c in first.cases] + ([c.id for c in second.cases] if second else [])
        assert got == want[:len(got)] and len(got) == min(len(want), 100), name
        assert first.total == min(len(want), search.COUNT_CAP + 1), (name, first.total, len(want))
        session.rollback()
    rare = search.search_cases(session, hr, case_queries(k)["text rare"])
    assert sorted(c.ref for c in rare.cases) == k["rare_refs"], ([c.ref for c in rare.cases], k["rare_refs"])
    session.rollback()


def run_once(session: Session, hr: User, name: str, f) -> tuple[float, int]:
    """Seconds for one query (a case search's first page and the page after it, or the audit log's two
    pages) and how many rows those pages showed: a query whose pages fill up at 50,000 cases shows more."""
    t0 = time.perf_counter()
    if isinstance(f, search.CaseFilters):
        first = search.search_cases(session, hr, f)
        shown = len(first.cases)
        if first.cases:
            shown += len(search.search_cases(session, hr, f, after=first.cases[-1].id).cases)
    else:
        page = history.audit_log(session, hr, f)
        shown = len(page.entries)
        if page.next_cursor:
            shown += len(history.audit_log(session, hr, f, before=page.next_cursor).entries)
    elapsed = time.perf_counter() - t0
    session.rollback()  # one transaction per search, as a request; drops the "audit.view" events recorded
    return elapsed, shown


def fill_one(url: str, n: int) -> tuple:
    """A database of ``n`` cases at ``url`` (migrated, filled, analysed): (engine, session, HR user, keys)."""
    upgrade(url)
    engine = make_engine(url)
    session = make_session_factory(engine)()
    t0 = time.perf_counter()
    k = fill(session, n)
    hr_id = session.execute(insert(User).values(email=f"hr-bench-{n}@kommune.dk", name="HR", role=Role.hr,
                                                password_hash="x", active=True, created_at=START)
                            .returning(User.id)).scalar_one()
    session.commit()
    if engine.dialect.name == "postgresql":  # what autovacuum does to a table after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:  # the bulk load moved into the main file, as SQLite's own checkpoints do in time
        raw = engine.raw_connection()
        try:
            busy = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            assert busy == 0, "the checkpoint did not finish"
        finally:
            raw.close()
    print(f"filled {n} cases in {time.perf_counter() - t0:.1f} s", flush=True)
    return engine, session, session.get(User, hr_id), k


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


def run_sizes(url: str | None, sizes: list[int], label: str, repeat: int) -> float:
    """Both sizes on one kind of database (PostgreSQL: each in a fresh schema); prints the table; the ratio."""
    dbs, drops = [], []
    try:
        for n in sizes:
            if url and url.startswith("postgresql"):
                schema_url, drop = _pg_schema_url(url, n)
                drops.append(drop)
                dbs.append(fill_one(schema_url, n))
            elif url:
                dbs.append(fill_one(url, n))
            else:  # a temporary folder, removed after
                folder = tempfile.mkdtemp(prefix="hr-bench-")
                drops.append(lambda folder=folder: shutil.rmtree(folder))
                dbs.append(fill_one(f"sqlite:///{folder}/bench.sqlite3", n))
        for _engine, session, hr, k in dbs:
            check(session, hr, k)
        queries = [{**case_queries(k), **audit_queries(k)} for _engine, _session, _hr, k in dbs]
        times: list[dict[str, list[float]]] = [{name: [] for name in queries[0]} for _ in dbs]
        shown: list[dict[str, int]] = [{} for _ in dbs]
        for _ in range(repeat):
            for name in queries[0]:
                for i, (_engine, session, hr, _k) in enumerate(dbs):
                    elapsed, shown[i][name] = run_once(session, hr, name, queries[i][name])
                    times[i][name].append(elapsed)
    finally:
        for engine, session, _hr, _k in dbs:
            session.close()
            engine.dispose()
        for drop in drops:
            drop()
    small, large = ({name: statistics.median(ts) for name, ts in t.items()} for t in times)
    print(f"[{label}] {'query':<20} {sizes[0]:>8} {sizes[1]:>8}  ratio  rows shown  "
          f"(ms, first + next page, median of {repeat})")
    for name in small:
        print(f"[{label}] {name:<20} {small[name] * 1000:8.1f} {large[name] * 1000:8.1f}  {large[name] / small[name]:5.2f}"
              f"  {shown[0][name]:>4} {shown[1][name]:>4}")
    ratio = max(large.values()) / max(small.values())
    same = [name for name in small if shown[0][name] == shown[1][name]]
    worst = max(small, key=lambda name: large[name] / small[name])
    worst_same = max(same, key=lambda name: large[name] / small[name])
    print(f"[{label}] worst single query: {worst} {large[worst] / small[worst]:.2f}; of those showing as many rows "
          f"at both sizes: {worst_same} {large[worst_same] / small[worst_same]:.2f}")
    print(f"[{label}] all queries together: {sum(small.values()) * 1000:.1f} ms -> {sum(large.values()) * 1000:.1f} ms, "
          f"ratio {sum(large.values()) / sum(small.values()):.2f}")
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
    parser.add_argument("--repeat", type=int, default=7, help="timings per query and size (the median is shown)")
    args = parser.parse_args()
    if args.database_url:
        label = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
        ratios = [run_sizes(args.database_url, args.sizes, label, args.repeat)]
    else:
        ratios = [run_sizes(None, args.sizes, "sqlite", args.repeat)]
        if args.postgres_url:
            ratios.append(run_sizes(args.postgres_url, args.sizes, "postgresql", args.repeat))
    print(f"ratio={max(ratios):.2f}")


if __name__ == "__main__":
    main()
