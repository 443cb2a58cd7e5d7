"""Synthetic HR search data: many cases with Danish texts, offenders and audit events, bulk-inserted.

Used by benchmarks/hr_search.py (timings) and tests/e2e/test_hr_pages.py (query plans at 50,000 cases).
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import column, func, insert, literal_column, select, table, text
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Case, CaseOffender, CaseText, Offender, OrgUnit, Role, User
from tracker.accounts.permissions import visible_cases
from tracker.oversight import history, search
from tracker.workflow.platforms import shipped_directory

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
         offenders: int | None = None, audit_per_case: int = 2) -> dict:
    """Insert ``n_cases`` synthetic cases (and their people, texts, offenders, audit events); returns ids to query.

    The offender register grows with the cases (one account for every two cases unless ``offenders`` says),
    the staff does not.
    """
    rng = random.Random(seed)
    offenders = offenders if offenders is not None else max(300, n_cases // 2)
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
        {"platform": rng.choice(platforms), "handle": f"krænker_{tag}_{o:06d}", "display_name": f"Vred Borger {o}",
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
    # the offender of the middle case, by its whole handle (of one width: no handle contains another)
    middle = session.execute(select(Offender.handle).join(CaseOffender, CaseOffender.offender_id == Offender.id)
                             .where(CaseOffender.case_id == first_id + n_cases // 2)).scalar_one()
    return {"unit_id": unit_ids[3], "employee": LAST[4], "offender": middle, "platform": platforms[0],
            "rare_refs": [f"B-{first_id + i:07d}" for i in range(n_cases) if i % 5000 == 17],  # the cases RARE is in
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


def reference_ids(session: Session, user: User, filters: search.CaseFilters) -> list[int]:
    """Every matching case id, newest first, by the plainest query: the filters, and the words as the set of
    cases their full-text index matches (FTS5 / the Danish tsvector). What a search's pages must add up to."""
    query = visible_cases(user).where(*search._conditions(session, filters)).with_only_columns(Case.id)
    terms = search.text_terms(filters.text)
    if terms and session.get_bind().dialect.name == "postgresql":
        texts = table("case_texts", column("case_id"), column(search.PG_COLUMN))
        words = func.to_tsquery(literal_column("'danish'::regconfig"), " & ".join(f"{t}:*" for t in terms))
        query = query.where(Case.id.in_(select(texts.c.case_id).where(texts.c[search.PG_COLUMN].bool_op("@@")(words))))
    elif terms:
        fts = table(search.FTS_TABLE, column("rowid"), column(search.FTS_TABLE))
        query = query.where(Case.id.in_(select(fts.c.rowid).where(
            fts.c[search.FTS_TABLE].op("MATCH")(" ".join(f'"{t}"*' for t in terms)))))
    return list(session.execute(query.order_by(Case.id.desc())).scalars())
