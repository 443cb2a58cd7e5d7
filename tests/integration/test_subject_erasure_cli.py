"""`vaern subject erase` and `vaern subject offender-search` as an operator runs them (issue 16.4): the erasure
checked on disk and in the database, `vaern verify` green afterwards, the statistics unchanged, and the offender's
handout with other people's data redacted."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import select

from storage.models import AuditEvent, Case, Evidence, Letter, Offender, Role, User
from storage.types import utcnow
from tests.support.cli import said, vaern
from tests.support.factories import (make_bundle, make_case, make_done_evidence, make_post_bundle, make_unit,
                                     make_user, png_bytes)
from tests.support.statistics_data import RULES
from tracker.cases.hold import hold_case
from tracker.cases.lifecycle import close_case
from tracker.cases.register import add_evidence
from tracker.oversight.statistics import Period, med_statistics
from tracker.workflow.letters import create_letter
from tracker.wording import CPH
from tracker.workflow.steps import attach_upload

SIX_YEARS = (utcnow() + timedelta(days=6 * 365)).date().isoformat()


def run(runtime, *args: str):
    env = {"database_url": runtime.settings.database_url} if runtime.settings.database_url else {}
    return vaern(*args, data_dir=runtime.settings.data_dir, **env)


def blobs_of(rt, case_id: int) -> set[str]:
    with rt.Session() as s:
        ev = s.execute(select(Evidence).where(Evidence.case_id == case_id)).scalars().all()
        return {x for e in ev for x in (e.manifest_sha256, e.upload_sha256, *(a.sha256 for a in e.artifacts)) if x}


def test_an_operator_previews_and_erases_an_employee_keeping_the_held_and_open_cases(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        emp = make_user(s, Role.employee, unit, email="mette.hansen@kommune.dk", name="Mette Hansen")
        leader, hr = make_user(s, Role.leader, unit), make_user(s, Role.hr)
        cases = [make_case(s, emp, description=f"Trussel nr. {i} mod Mette") for i in range(3)]
        ids, refs, emp_id, leader_id, hr_id = [c.id for c in cases], [c.ref for c in cases], emp.id, leader.id, hr.id
    for n, case_id in enumerate(ids):
        make_done_evidence(runtime, case_id, emp_id, bundle=make_bundle(color=(40 + n, 20, 30)))
        upload = runtime.blobs.put(png_bytes(color=(0, 70, n)))
        with runtime.transaction() as s:
            case, leader = s.get(Case, case_id), s.get(User, leader_id)
            add_evidence(s, leader, case, upload_sha256=upload, upload_filename="skærmbillede.png")
            attach_upload(s, runtime.blobs, case, "platform_notice", leader, png_bytes(color=(3, 2, n)), "svar.png",
                          max_bytes=10_000_000, rules=RULES)
            create_letter(s, leader, case, "request_to_author")
    with runtime.transaction() as s:  # 0: closed and held, 1: open, 2: closed (erased when its period has run out)
        leader = s.get(User, leader_id)
        for case_id in (ids[0], ids[2]):
            close_case(s, s.get(Case, case_id), leader, "Fjernet")
        hold_case(s, s.get(Case, ids[0]), s.get(User, hr_id), "Retssag ved byretten")

    def stats():
        with runtime.Session() as s:
            today = utcnow().astimezone(CPH).date()  # statistics count Copenhagen days
            return med_statistics(s, s.get(User, hr_id), Period(today - timedelta(days=30), today), RULES, utcnow())

    before, gone = stats(), blobs_of(runtime, ids[2])
    assert len(gone) >= 4 and all(runtime.blobs.path_for(b).is_file() for b in gone)

    dry = run(runtime, "subject", "erase", "--email", "Mette.Hansen@kommune.dk", "--reason", "Mail 1.12.2026",
              "--dry-run", "--as-of", SIX_YEARS)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"case {refs[0]}: keep (") and lines[0].endswith("— exception legal_hold")
    assert lines[1].startswith(f"case {refs[1]}: keep (") and lines[1].endswith("— exception open_case")
    assert lines[2] == f"case {refs[2]}: erase (3 evidence, 1 letters)"
    assert lines[3] == (f"account (user {emp_id}): close (no login, tokens revoked); name and e-mail kept — exception "
                        f"case_record — for case(s) {refs[0]}, {refs[1]}")
    assert "exception legal_hold: art. 17, stk. 3, litra e — Sagen er under retlig tilbageholdelse" in lines
    assert lines[-1] == "dry run: 1 item(s) to erase, 5 kept under an exception"
    with runtime.Session() as s:
        assert s.get(Case, ids[2]).erased_at is None and s.get(User, emp_id).active

    done = run(runtime, "subject", "erase", "--email", "mette.hansen@kommune.dk", "--reason", "Mail 1.12.2026",
               "--as-of", SIX_YEARS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ("1 item(s) erased, 5 kept under an exception; recorded in the audit log "
                                            "(subject.erase)")
    with runtime.Session() as s:
        erased, held = s.get(Case, ids[2]), s.get(Case, ids[0])
        assert (erased.erased_rule, erased.description, held.erased_at) == ("art17_request", "", None)
        assert all(letter.body == "" for letter in s.execute(select(Letter).where(Letter.case_id == ids[2])).scalars())
        assert s.get(Case, ids[1]).description == "Trussel nr. 1 mod Mette"
        user = s.get(User, emp_id)
        assert (user.active, user.name) == (False, "Mette Hansen")
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.erase")).scalar_one()
        assert (event.actor_id, event.details["reason"], event.details["erased"]) == (
            None, "Mail 1.12.2026", [f"case:{refs[2]}"])
    kept = blobs_of(runtime, ids[0]) | blobs_of(runtime, ids[1])
    assert not any(runtime.blobs.path_for(b).exists() for b in gone - kept)  # gone from the disk
    assert all(runtime.blobs.path_for(b).is_file() for b in kept)
    verified = run(runtime, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert any(line.startswith(f"note: case {refs[2]} erased ") and "on the data subject's request" in line
               for line in verified.stdout.splitlines())
    after = stats()
    for name in type(before).__dataclass_fields__:
        assert (name, getattr(after, name)) == (name, getattr(before, name))
    again = run(runtime, "subject", "erase", "--email", "nobody@kommune.dk", "--reason", "x")
    assert (again.returncode, said(again.stderr)) == (2, ["vaern: no user has that e-mail address"])


def test_an_offenders_access_request_is_redacted_audited_and_their_erasure_kept_for_the_open_case(runtime):
    with runtime.transaction() as s:
        unit = make_unit(s)
        emp = make_user(s, Role.employee, unit, email="mette.hansen@kommune.dk", name="Mette Hansen")
        leader = make_user(s, Role.leader, unit, name="Lars Leder")
        open_case_ = make_case(s, emp, description=(
            "Hans Troll (@hans_troll) skrev om Mette Hansen og hendes mail mette.hansen@kommune.dk, ring 12 34 56 78. "
            "@anden_bruger delte det, og naboen Birgit kommenterede."))
        old = make_case(s, emp, description="Anden sag om en anden person")
        ids, refs, emp_id, leader_id = (open_case_.id, old.id), (open_case_.ref, old.ref), emp.id, leader.id
    make_done_evidence(runtime, ids[0], emp_id, url="https://www.facebook.com/hans_troll/posts/1",
                       bundle=make_post_bundle(author_handle="@hans_troll",
                                               author_profile_url="https://www.facebook.com/hans_troll"))
    make_done_evidence(runtime, ids[1], emp_id, bundle=make_post_bundle(author_handle="@anden_bruger", color=(9, 9, 9)))
    with runtime.transaction() as s:
        close_case(s, s.get(Case, ids[1]), s.get(User, leader_id), "Fjernet")
        troll = s.execute(select(Offender).where(Offender.handle == "hans_troll")).scalar_one()
        other = s.execute(select(Offender).where(Offender.handle == "anden_bruger")).scalar_one()
        troll_id, other_id = troll.id, other.id

    out = runtime.settings.data_dir / "udlevering.zip"
    found = run(runtime, "subject", "offender-search", "--query", "@Hans_Troll", "--out", str(out))
    assert found.returncode == 0, found.stderr
    assert "1 offender record(s), 1 case(s); handout written to" in found.stdout and "DRAFT" in found.stdout
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["udlevering.json", "udlevering.pdf"]
        handout = json.loads(zf.read("udlevering.json"))
        pdf = zf.read("udlevering.pdf")
    assert handout["draft"] is True and handout["notice_da"].startswith("UDKAST")
    assert [o["handle"] for o in handout["offender_records"]] == ["hans_troll"]
    [case] = handout["cases"]
    assert (case["ref"], case["why"]) == (refs[0], ["author", "linked", "mentioned"])
    assert case["own_posts"] == ["https://www.facebook.com/hans_troll/posts/1"]
    text = " ".join(case["excerpts"])
    assert "@hans_troll" in text and "Hans Troll" in text  # the person's own
    for other_peoples in ("Mette", "Hansen", "mette.hansen@", "12 34 56 78", "anden_bruger"):
        assert other_peoples not in text
    assert "[medarbejder]" in text and "[e-mail]" in text and "[telefon]" in text and "[profil]" in text
    assert "Birgit" in text  # a third party named only in free text is not found: the draft says so
    assert {r["marker"] for r in handout["redacted_mechanically"]} >= {"[medarbejder]", "[e-mail]", "[telefon]"}
    pdf_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "UDKAST" in pdf_text and "hans_troll" in pdf_text and "Mette" not in pdf_text
    with runtime.Session() as s:
        search = s.execute(select(AuditEvent).where(AuditEvent.action == "subject.offender_search")).scalar_one()
        assert (search.actor_id, search.details["query"], search.details["cases"]) == (None, "@Hans_Troll", [refs[0]])
        found_in = s.execute(select(AuditEvent.case_id).where(AuditEvent.action == "case.subject_search")).scalars()
        assert found_in.all() == [ids[0]]

    kept = run(runtime, "subject", "erase", "--offender", str(troll_id), "--reason", "Brev 2.12.2026")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.splitlines()[0] == (f"offender record (offender {troll_id}): keep — exception open_case — "
                                           f"for case(s) {refs[0]}")
    erased = run(runtime, "subject", "erase", "--offender", str(other_id), "--reason", "Brev", "--as-of", SIX_YEARS)
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.splitlines()[:2] == [f"offender record (offender {other_id}): erase",
                                              f"case {refs[1]}: erase (2 evidence)"]
    with runtime.Session() as s:
        assert s.get(Offender, troll_id).handle == "hans_troll"
        gone = s.get(Offender, other_id)
        assert (gone.handle, gone.erased_rule) == (f"slettet-{other_id}", "art17_request")
        assert s.get(Case, ids[1]).erased_at is not None
    verified = run(runtime, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
