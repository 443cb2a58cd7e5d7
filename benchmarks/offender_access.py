"""How does an offender's access request (GDPR art. 15, tracker/privacy/offender_access.search) scale: 1,000 vs
50,000 cases.

Fills a fresh database per size as benchmarks/hr_search.py does (tests/support/hr_data.fill: Danish case texts,
one offender for every two cases, 600 employees), gives every case one capture by a register offender (the
author column the search reads), and then adds the same person at both sizes: ``hans_troll`` ("Hans Troll"),
linked to MENTIONED // 2 cases and the author of a capture in two, in MENTIONED cases whose texts also name
other offenders of the register (by handle and by name, in other case and with æ, ø, å), an employee and an
e-mail address. Before timing, each size's answer is checked: the cases found and why, and the redactions
counted, the same at both sizes. Then the search (one transaction, rolled back, as a request) is timed, the
sizes taking turns. Prints the median at both sizes and, last, ``ratio=X.XX`` (50k over 1k; with
``--postgres-url`` SQLite and PostgreSQL each print their ``ratio_…`` and ``ratio`` is the larger).

    .venv/bin/python benchmarks/offender_access.py [--postgres-url postgresql+psycopg://...] [--sizes 1000 50000]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from benchmarks.hr_search import _pg_schema_url, fill_one  # noqa: E402
from storage.models import Case, CaseOffender, CaseText, Evidence, EvidenceState, Offender, User  # noqa: E402
from tests.support.hr_data import START  # noqa: E402
from tracker.privacy import offender_access  # noqa: E402
from tracker.workflow.platforms import shipped_directory  # noqa: E402

MENTIONED = 8  #: cases whose text names the person
QUERY = "hans_troll"
TEXT = ("Hans Troll (@hans_troll) skrev igen om sagsbehandleren Mette og hendes mail mette@kommune.dk. "
        "{h1} delte opslaget, og {n1} skrev under det. Senere kom {H2} og {N2} til, og hans_troll svarede "
        "dem begge. Naboen Birgit kommenterede. ")
#: what every size must answer: cases found (all mentioned; half linked; two with the person's capture) and
#: the redactions counted over the excerpts
WANT_WHY = {"mentioned": MENTIONED, "linked": MENTIONED // 2, "author": 2}
WANT_REDACTIONS = {"[anden person]": 4 * MENTIONED, "[medarbejder]": MENTIONED, "[e-mail]": MENTIONED}


def add_person(session, k: dict) -> None:
    """One capture per case by a register offender; the person, their cases and mentions of others (see above)."""
    offenders = session.execute(select(Offender.id, Offender.handle, Offender.display_name)
                                .order_by(Offender.id)).all()
    cases = session.execute(select(Case.id, Case.employee_id, Case.created_at).order_by(Case.id)).all()
    session.execute(insert(Evidence), [
        {"case_id": cid, "kind": "url", "source_url": f"https://www.facebook.com/p/{cid}", "state": EvidenceState.done,
         "created_by_id": emp, "created_at": at, "author_handle": "@" + offenders[cid % len(offenders)].handle}
        for cid, emp, at in cases])
    person = session.execute(insert(Offender).values(platform="facebook", handle=QUERY, display_name="Hans Troll",
                                                     kind="unknown", note="", created_at=START)
                             .returning(Offender.id)).scalar_one()
    last, emp = cases[-1].id, cases[-1].employee_id
    for i in range(MENTIONED):
        cid = last + 1 + i
        o1, o2 = offenders[7 * i + 11], offenders[7 * i + 12]
        session.execute(insert(Case).values(id=cid, ref=f"T-{cid:07d}", unit_id=k["unit_id"], employee_id=emp,
                                            reported_by_id=emp, description="Kommentar", status="open",
                                            created_at=START))
        session.execute(insert(CaseText).values(case_id=cid, updated_at=START, body=(
            "kommunen borger opslag " * 30 + TEXT.format(h1=o1.handle, n1=o1.display_name, H2=o2.handle.upper(),
                                                         N2=o2.display_name.upper()) + "skændsel trussel " * 40)))
        if i % 2 == 0:
            session.execute(insert(CaseOffender).values(case_id=cid, offender_id=person, state="confirmed",
                                                        created_at=START))
        if i < 2:
            session.execute(insert(Evidence).values(
                case_id=cid, kind="url", source_url=f"https://www.facebook.com/hans_troll/posts/{i}",
                state=EvidenceState.done, created_by_id=emp, created_at=START, author_handle="@Hans_Troll"))
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def run_once(rt, session, hr: User) -> tuple[float, object]:
    t0 = time.perf_counter()
    access = offender_access.search(rt, session, hr, QUERY)
    elapsed = time.perf_counter() - t0
    session.rollback()
    return elapsed, access


def check(access) -> None:
    why = {w: sum(w in c.why for c in access.cases) for w in WANT_WHY}
    redactions = {r["marker"]: r["count"] for r in access.redactions}
    assert len(access.cases) == MENTIONED and why == WANT_WHY, (len(access.cases), why)
    assert redactions == WANT_REDACTIONS, redactions
    assert [o["handle"] for o in access.offenders] == [QUERY]
    excerpts = " ".join(e for c in access.cases for e in c.excerpts)
    assert "Hans Troll" in excerpts and "Mette" not in excerpts and "Vred Borger" not in excerpts
    assert "VRED BORGER" not in excerpts and "Birgit" in excerpts


def run_sizes(url: str | None, sizes: list[int], label: str, repeat: int) -> float:
    rt = SimpleNamespace(platforms=shipped_directory())
    dbs, drops = [], []
    try:
        for n in sizes:
            if url:
                schema_url, drop = _pg_schema_url(url, n)
                drops.append(drop)
            else:
                folder = tempfile.mkdtemp(prefix="offacc-bench-")
                drops.append(lambda folder=folder: shutil.rmtree(folder))
                schema_url = f"sqlite:///{folder}/bench.sqlite3"
            engine, session, hr, k = fill_one(schema_url, n)
            dbs.append((engine, session, hr))
            add_person(session, k)
        times: list[list[float]] = [[] for _ in dbs]
        for _engine, session, hr in dbs:
            check(run_once(rt, session, hr)[1])  # also warms the caches
        for _ in range(repeat):
            for i, (_engine, session, hr) in enumerate(dbs):
                elapsed, access = run_once(rt, session, hr)
                times[i].append(elapsed)
                check(access)
    finally:
        for engine, session, _hr in dbs:
            session.close()
            engine.dispose()
        for drop in drops:
            drop()
    small, large = (statistics.median(t) for t in times)
    print(f"[{label}] offender access request: {sizes[0]} cases {small * 1000:.1f} ms, {sizes[1]} cases "
          f"{large * 1000:.1f} ms (median of {repeat}; all: {[round(t * 1000) for t in times[1]]})")
    print(f"[{label}] ratio_{label}={large / small:.2f}", flush=True)
    return large / small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=None,
                        help="also run on this PostgreSQL server after SQLite (each size in a schema of its own, dropped after)")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 50000])
    parser.add_argument("--repeat", type=int, default=7, help="timings per size (the median is shown)")
    args = parser.parse_args()
    ratios = [] if args.postgres_only else [run_sizes(None, args.sizes, "sqlite", args.repeat)]
    if args.postgres_url:
        ratios.append(run_sizes(args.postgres_url, args.sizes, "postgresql", args.repeat))
    print(f"ratio={max(ratios):.2f}")


if __name__ == "__main__":
    main()
