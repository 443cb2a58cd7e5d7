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
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from storage.models import (AuditEvent, Case, CaseOffender, CaseText, Offender, OrgUnit, Role,  # noqa: E402
                            User)
from tracker.oversight import history  # noqa: E402
from tracker.oversight import search
from tracker.workflow.platforms import shipped_directory  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
SPAN_DAYS = 3 * 365
#: common words (most texts), Danish with æ, ø, å; a few rare ones make selective searches
WORDS = ("kommunen sagsbehandler borger opslag facebook gruppe kommentar skændsel trussel trusler truslen "
         "chikane mobning billede adresse privat jobcenter borgerservice hjemmeplejen skole børn forældre "
         "afgørelse klage vred løgn ærlig åbenlyst grim dårlig frygt politi anmeldelse medarbejder leder "
         "møde brev telefon besked video deling offentlig navn familie hjem arbejde uretfærdig svigt "
         "forvaltning sag ansøgning afslag hjælp penge ydelse kontanthjælp udbetaling tavshed skam").split()
FILLER = ("og i at det en til er som på de med han af for ikke der var mig sig men har om vi min havde "
          "hun nu over da fra du ud sin dem os op man hans hvor eller hvad skal selv her alle vil blev kunne").split()
RARE = "rævekagen"  #: in one case of 5,000
FIRST = "Søren Mette Åse Ærenlund Jørgen Birgitte Anders Lone Mads Sofie Kasper Ida Ole Hanne Bo".split()
LAST = "Jensen Nielsen Hansen Pedersen Ærø Østergaard Møller Kjær Dahl Holm Lund Bødker".split()


def _body(rng: random.Random, i: int) -> str:
    n = rng.randint(170, 480)  # ~1–3 KB
    words = [rng.choice(WORDS) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(n)]
    if i % 5000 == 17:
        words.insert(rng.randrange(len(words)), RARE)
    return " ".join(words)


def fill(session: Session, n_cases: int, *, seed: int = 5, units: int = 20, employees: int = 600,
         offenders: int = 3000, audit_per_case: int = 2) -> dict:
    """Insert ``n_cases`` synthetic cases (and their people, texts, offenders, audit events); returns ids to query."""
    rng = random.Random(seed)
    platforms = [p.id for p in shipped_directory().platforms]
    tag = f"{n_cases}-{seed}"
    session.execute(insert(OrgUnit), [{"name": f"Bench-enhed {tag}-{u}", "created_at": START} for u in range(units)])
    unit_ids = list(session.execute(select(OrgUnit.id).where(OrgUnit.name.like(f"Bench-enhed {tag}-%"))).scalars())
    session.execute(insert(User), [
        {"email": f"bench{tag}-{u}@kommune.dk", "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {u}",
         "role": Role.employee, "unit_id": rng.choice(unit_ids), "password_hash": "x", "active": True,
         "created_at": START} for u in range(employees)])
    user_rows = session.execute(select(User.id, User.unit_id).where(User.email.like(f"bench{tag}-%"))).all()
    session.execute(insert(Offender), [
        {"platform": rng.choice(platforms), "handle": f"krænker_{tag}_{o}", "display_name": f"Vred Borger {o}",
         "kind": "unknown", "note": "", "created_at": START} for o in range(offenders)])
    offender_ids = list(session.execute(select(Offender.id).where(Offender.handle.like(f"krænker_{tag}_%"))).scalars())
    first_id = (session.execute(select(Case.id).order_by(Case.id.desc()).limit(1)).scalar() or 0) + 1
    batch = 5000
    for start in range(0, n_cases, batch):
        cases, texts, links, events = [], [], [], []
        for i in range(start, min(start + batch, n_cases)):
            emp_id, unit_id = rng.choice(user_rows)
            created = START + timedelta(seconds=int(i * SPAN_DAYS * 86400 / n_cases))
            cid = first_id + i
            cases.append({"id": cid, "ref": f"B-{cid:07d}", "unit_id": unit_id, "employee_id": emp_id,
                          "reported_by_id": emp_id, "description": "Kommentar på opslag",
                          "status": "open" if rng.random() < 0.3 else "closed", "created_at": created,
                          "category": rng.choice((*search.CATEGORIES, None)), "platform": rng.choice(platforms)})
            texts.append({"case_id": cid, "body": _body(rng, i), "updated_at": created})
            links.append({"case_id": cid, "offender_id": rng.choice(offender_ids),
                          "state": rng.choice(("suggested", "confirmed", "confirmed", "dismissed")),
                          "created_at": created})
            for k in range(audit_per_case):
                events.append({"at": created + timedelta(minutes=k), "actor_id": emp_id if k == 0 else None,
                               "action": "case.create" if k == 0 else "evidence.captured", "object_type": "case",
                               "object_id": f"B-{cid:07d}", "case_id": cid, "details": {},
                               "prev_hash": "0" * 64, "hash": f"bench{cid:012d}x{k:02d}".ljust(64, "0")})
        session.execute(insert(Case), cases)
        session.execute(insert(CaseText), texts)
        session.execute(insert(CaseOffender), links)
        session.execute(insert(AuditEvent), events)
    session.execute(text("ANALYZE"))
    mid = START + timedelta(days=SPAN_DAYS // 2)
    return {"unit_id": unit_ids[3], "employee": LAST[4], "offender": f"krænker_{tag}_12", "platform": platforms[0],
            "from": mid, "to": mid + timedelta(days=31), "actor_id": user_rows[7][0],
            "case_ref": f"B-{first_id + n_cases // 2:07d}"}


def case_queries(k: dict) -> dict[str, search.CaseFilters]:
    """The case searches HR makes, one per filter and a few combined."""
    F = search.CaseFilters
    return {
        "everything": F(), "status": F(status="open"), "unit": F(unit_id=k["unit_id"]),
        "category+status": F(category="digital_threat", status="closed"), "platform": F(platform=k["platform"]),
        "employee": F(employee=k["employee"]), "offender": F(offender=k["offender"]),
        "period": F(created_from=k["from"], created_to=k["to"]), "text common": F(text="skændsel"),
        "text prefix": F(text="trus"), "text rare": F(text=RARE), "text two words": F(text="åbenlyst løgn"),
        "text+unit+status": F(text="kontanthjælp", unit_id=k["unit_id"], status="open"),
        "all filters": F(text="kommunen", unit_id=k["unit_id"], status="closed", created_from=k["from"],
                         created_to=k["to"] + timedelta(days=300), category="digital_bullying"),
    }


def audit_queries(k: dict) -> dict[str, history.AuditFilters]:
    A = history.AuditFilters
    return {"audit everything": A(), "audit actor": A(actor_id=k["actor_id"]), "audit action": A(action="case.create"),
            "audit case": A(case_ref=k["case_ref"]), "audit period": A(at_from=k["from"], at_to=k["to"]),
            "audit system": A(system_only=True)}


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
