"""Re-checks and step attachments on the case page, through the Flask app with CSRF on: asking for a
re-check, the verdict list, recording a verified removal on its rung, attaching evidence or an uploaded
reply to a step, and downloading it again."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, Evidence, EvidenceState, Recheck, StepAttachment, User
from storage.types import utcnow
from tests.support.factories import make_case, make_settings, make_unit, make_user, png_bytes, csrf_login
from tests.support.recheck_captures import finish, gone, manifest, sealed
from tests.support.database import new_runtime
from tracker.workflow import steps
from tracker.cases.evidence import store_bundle
from tracker.workflow.recheck import start_recheck
from tracker.workflow.rules import load_rules
from tracker.adapters.runtime import Runtime
from webui.app import create_app

RULES = load_rules()
TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
PDF_REPLY = b"%PDF-1.4\n% Svar fra platformen\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00svar.docx"


class Org:
    """Unit A (employee, leader, AMR, HR), unit B's leader; cases with a captured URL are made per test."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
            self.people = {key: make_user(s, role, unit, email=f"{key}@kommune.dk", name=name).email
                           for key, role, unit, name in [
                               ("employee", "employee", a, "Mette Jensen"), ("leader", "leader", a, "Lone Leder"),
                               ("amr", "amr", a, "Anders AMR"), ("hr", "hr", None, "Hanne HR"),
                               ("leader-b", "leader", b, "Bo Leder")]}

    def user_id(self, key: str) -> int:
        with self.rt.Session() as s:
            return s.execute(select(User.id).where(User.email == self.people[key])).scalar_one()

    def captured_case(self) -> tuple[str, int, int]:
        """A new case of unit A's employee whose URL was captured; returns (ref, case id, baseline id)."""
        employee_id = self.user_id("employee")
        with self.rt.transaction() as s:
            case = make_case(s, s.get(User, employee_id))
            ref, case_id, base_id = case.ref, case.id, case.evidence[0].id
        store_bundle(self.rt, base_id, sealed(manifest()))
        return ref, case_id, base_id

    def client(self, key: str):
        return csrf_login(self.app, self.people[key])


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("recheck-pages")))
    yield Org(rt)
    rt.close()


def page_and_token(client, ref: str | None) -> tuple[str, str]:
    """The case page (or, for None, the case list) and its CSRF token."""
    page = client.get(f"/cases/{ref}" if ref else "/").get_data(as_text=True)
    return page, TOKEN.search(page).group(1)


def section(page: str, anchor: str, end: str) -> str:
    part = page[page.index(f'id="{anchor}"'):]
    return part[:part.index(end)]


def rechecks_of(org: Org, case_id: int) -> list[Recheck]:
    with org.rt.Session() as s:
        return list(s.execute(select(Recheck).where(Recheck.case_id == case_id).order_by(Recheck.id)).scalars())


def actions(org: Org, case_id: int) -> list[str]:
    with org.rt.Session() as s:
        return list(s.execute(select(AuditEvent.action).where(AuditEvent.case_id == case_id)
                              .order_by(AuditEvent.id)).scalars())


# -- re-checks ----------------------------------------------------------------------------------------
def test_the_leader_asks_for_a_recheck_and_a_queued_recapture_appears_in_the_list(org):
    ref, case_id, base_id = org.captured_case()
    client = org.client("leader")
    page, token = page_and_token(client, ref)
    assert "Kontrollér nu, om opslaget stadig er online" in page and "Ingen genkontroller endnu." in page
    resp = client.post(f"/cases/{ref}/recheck", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{ref}#rechecks")
    [row] = rechecks_of(org, case_id)
    with org.rt.Session() as s:
        ev = s.get(Evidence, row.evidence_id)
        assert (row.baseline_evidence_id, row.verdict) == (base_id, None)
        assert ev.state is EvidenceState.queued and ev.case_id == case_id and ev.source_url == s.get(
            Evidence, base_id).source_url
    assert [t.args[0] for t in org.rt.huey.pending() if t.name == "capture_evidence"][-1] == row.evidence_id
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "Genkontrollen er startet." in page
    listing = section(page, "rechecks", "</section>")
    assert "afventer resultat" in listing and f'href="#evidence-{row.evidence_id}"' in listing
    assert "Genkontrol startet" in section(page, "timeline", "</section>")
    # asking again while the capture is queued does not capture the URL twice
    client.post(f"/cases/{ref}/recheck", data={"csrf_token": token})
    assert len(rechecks_of(org, case_id)) == 1


def test_the_employee_the_amr_and_hr_may_ask_and_another_unit_gets_404(org):
    ref, case_id, _ = org.captured_case()
    for key in ("employee", "amr", "hr"):
        client = org.client(key)
        page, token = page_and_token(client, ref)
        assert f'action="/cases/{ref}/recheck"' in page, key
        assert client.post(f"/cases/{ref}/recheck", data={"csrf_token": token}).status_code == 302, key
    outsider = org.client("leader-b")
    _, token = page_and_token(outsider, None)  # the case list carries a token too
    resp = outsider.post(f"/cases/{ref}/recheck", data={"csrf_token": token})
    assert resp.status_code == 404 and ref not in resp.get_data(as_text=True)
    assert len(rechecks_of(org, case_id)) == 1  # the others found the employee's re-check still queued


def test_a_case_without_a_captured_url_offers_no_recheck_and_refuses_one_in_danish(org):
    employee_id = org.user_id("employee")
    with org.rt.transaction() as s:
        ref = make_case(s, s.get(User, employee_id)).ref  # its capture never finished
    client = org.client("leader")
    page, token = page_and_token(client, ref)
    assert f'action="/cases/{ref}/recheck"' not in page
    resp = client.post(f"/cases/{ref}/recheck", data={"csrf_token": token}, follow_redirects=True)
    assert "Sagen har ingen sikret adresse, der kan kontrolleres igen." in resp.get_data(as_text=True)


def test_a_verified_removal_is_offered_on_the_rung_and_recorded_by_the_leader(org):
    ref, case_id, base_id = org.captured_case()
    leader_id = org.user_id("leader")
    with org.rt.transaction() as s:
        steps.record_rung(s, s.get(Case, case_id), "platform_notice", s.get(User, leader_id),
                          utcnow() - timedelta(days=3), "Facebooks DSA-formular", "FB-9", None, None, rules=RULES)
    first = start_recheck(org.rt, case_id, base_id)
    assert finish(org.rt, first, gone()) == "removed_pending"
    client = org.client("leader")
    page, _ = page_and_token(client, ref)
    assert "ser fjernet ud (afventer bekræftelse)" in section(page, "rechecks", "</section>")
    assert "/removed-verified" not in page  # one removal-looking result verifies nothing
    second = start_recheck(org.rt, case_id, base_id)
    assert finish(org.rt, second, gone()) == "removed"
    verifying = rechecks_of(org, case_id)[-1].evidence_id

    page, token = page_and_token(client, ref)
    assert "fjernet — bekræftet" in section(page, "rechecks", "</section>")
    rung = section(page, "step-platform_notice", "</li>")
    assert f"Fjernet — bekræftet af sikring {verifying}" in rung
    assert f'action="/cases/{ref}/steps/platform_notice/removed-verified"' in rung
    assert "/removed-verified" not in section(page, "step-request_to_author", "</li>")  # only the rung tried
    employee = org.client("employee")
    employee_page, employee_token = page_and_token(employee, ref)
    assert "/removed-verified" not in employee_page
    assert employee.post(f"/cases/{ref}/steps/platform_notice/removed-verified",
                                       data={"csrf_token": employee_token, "evidence_id": verifying}).status_code == 403
    pending = rechecks_of(org, case_id)[0].evidence_id
    resp = client.post(f"/cases/{ref}/steps/platform_notice/removed-verified",
                       data={"csrf_token": token, "evidence_id": pending}, follow_redirects=True)
    assert "Den sikring bekræfter ikke en fjernelse i denne sag." in resp.get_data(as_text=True)

    resp = client.post(f"/cases/{ref}/steps/platform_notice/removed-verified",
                       data={"csrf_token": token, "evidence_id": verifying})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#step-platform_notice")
    with org.rt.Session() as s:
        row = s.execute(select(CaseStep).where(CaseStep.case_id == case_id,
                                               CaseStep.step_id == "platform_notice")).scalar_one()
        assert (row.outcome, row.verified_by_evidence_id, row.state.value) == ("removed", verifying, "done")
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    rung = section(page, "step-platform_notice", "</li>")
    assert f"Fjernet — bekræftet af sikring {verifying}" in rung and "/removed-verified" not in rung
    timeline = section(page, "timeline", "</section>")
    assert "Fjernelsen blev bekræftet for skridtet" in timeline and f"bevis nr. {verifying}" in timeline
    outsider = org.client("leader-b")
    _, outsider_token = page_and_token(outsider, None)
    resp = outsider.post(f"/cases/{ref}/steps/platform_notice/removed-verified",
                         data={"csrf_token": outsider_token, "evidence_id": verifying})
    assert resp.status_code == 404 and ref not in resp.get_data(as_text=True)


def test_an_uncertain_recheck_shows_both_screenshots_and_only_the_leader_decides_it_audited(org):
    ref, case_id, base_id = org.captured_case()
    unsure = start_recheck(org.rt, case_id, base_id)
    assert finish(org.rt, unsure, manifest(text=None, basis="screenshot_viewport"),
                  page_text="Velkommen til foreningen") == "uncertain"
    new_id = rechecks_of(org, case_id)[-1].evidence_id
    employee = org.client("employee")
    page, token = page_and_token(employee, ref)
    block = section(page, f"recheck-{unsure}", "</section>")
    assert "Værn fandt hverken opslaget, dets tekst eller tegn på, at det er fjernet." in block
    for ev_id in (base_id, new_id):  # images from the stored captures, never the captured HTML
        assert f'<img class="shot" src="/cases/{ref}/evidence/{ev_id}/screenshot_viewport.png"' in block
    assert "/decision" not in block and "Enhedens leder sammenligner skærmbillederne og beslutter." in block
    assert employee.post(f"/cases/{ref}/rechecks/{unsure}/decision",
                         data={"csrf_token": token, "decision": "removed"}).status_code == 403
    hr = org.client("hr")  # HR manages cases but does not decide what the leader compares
    _, hr_token = page_and_token(hr, ref)
    assert hr.post(f"/cases/{ref}/rechecks/{unsure}/decision",
                   data={"csrf_token": hr_token, "decision": "removed"}).status_code == 403
    outsider = org.client("leader-b")
    _, outsider_token = page_and_token(outsider, None)
    assert outsider.post(f"/cases/{ref}/rechecks/{unsure}/decision",
                         data={"csrf_token": outsider_token, "decision": "removed"}).status_code == 404

    leader = org.client("leader")
    page, token = page_and_token(leader, ref)
    assert f'action="/cases/{ref}/rechecks/{unsure}/decision"' in page
    assert leader.post(f"/cases/{ref}/rechecks/{unsure}/decision",
                       data={"decision": "removed"}).status_code == 400  # no CSRF token
    resp = leader.post(f"/cases/{ref}/rechecks/{unsure}/decision", data={"csrf_token": token, "decision": "nej"},
                       follow_redirects=True)
    assert "Vælg “Fjernet” eller “Stadig online”." in resp.get_data(as_text=True)
    resp = leader.post(f"/cases/{ref}/rechecks/{unsure}/decision", data={"csrf_token": token, "decision": "removed"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#rechecks")
    [row] = rechecks_of(org, case_id)
    assert (row.verdict, row.decided_by_id, row.reason_code) == ("removed_pending", org.user_id("leader"),
                                                                 "leader_removed")
    page = leader.get(f"/cases/{ref}").get_data(as_text=True)
    listing = section(page, "rechecks", "</section>")
    assert "Lederen sammenlignede de to skærmbilleder og besluttede, at opslaget er fjernet." in listing
    assert "besluttet af Lone Leder" in listing and f'id="recheck-{unsure}"' not in listing
    assert "Usikker genkontrol afgjort af lederen" in section(page, "timeline", "</section>")
    assert "recheck.leader_decided" in actions(org, case_id)


# -- step attachments ---------------------------------------------------------------------------------
def test_an_uploaded_reply_is_stored_listed_and_downloaded_with_identical_bytes(org):
    ref, case_id, _ = org.captured_case()
    client = org.client("leader")
    page, token = page_and_token(client, ref)
    assert f'action="/cases/{ref}/steps/platform_notice/attachments/upload"' in page
    resp = client.post(f"/cases/{ref}/steps/platform_notice/attachments/upload",
                       data={"csrf_token": token, "file": (io.BytesIO(PDF_REPLY), "svar fra Meta.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#step-platform_notice")
    with org.rt.Session() as s:
        att = s.execute(select(StepAttachment)).scalars().all()[-1]
        assert att.step.case_id == case_id and att.step.step_id == "platform_notice"
        assert (att.media_type, att.size, att.filename, att.evidence_id) == (
            "application/pdf", len(PDF_REPLY), "svar fra Meta.pdf", None)
        att_id, sha = att.id, att.sha256
    assert org.rt.blobs.read(sha) == PDF_REPLY
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    rung = section(page, "step-platform_notice", "</li>")
    assert f'href="/cases/{ref}/attachments/{att_id}"' in rung and "svar fra Meta.pdf" in rung
    assert "blev knyttet til trinnet" in section(page, "timeline", "</section>")

    for key in ("leader", "employee"):  # anyone who can see the case can read it
        got = org.client(key).get(f"/cases/{ref}/attachments/{att_id}")
        assert got.status_code == 200 and got.data == PDF_REPLY
        assert got.mimetype == "application/octet-stream"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["Content-Disposition"].endswith('.pdf"')
        assert "sandbox" in got.headers["Content-Security-Policy"]
        assert got.headers["X-Evidence-SHA256"] == sha
    assert actions(org, case_id).count("attachment.download") == 2
    assert org.client("leader-b").get(f"/cases/{ref}/attachments/{att_id}").status_code == 404
    other_ref, _, _ = org.captured_case()
    assert client.get(f"/cases/{other_ref}/attachments/{att_id}").status_code == 404


def test_a_screenshot_is_shown_inline_and_an_unsupported_file_is_refused_in_danish(org):
    ref, case_id, _ = org.captured_case()
    client = org.client("leader")
    _, token = page_and_token(client, ref)
    shot = png_bytes()
    client.post(f"/cases/{ref}/steps/request_to_author/attachments/upload",
                data={"csrf_token": token, "file": (io.BytesIO(shot), "svar.png")}, content_type="multipart/form-data")
    with org.rt.Session() as s:
        att_id = s.execute(select(StepAttachment.id).order_by(StepAttachment.id.desc())).scalar()
    got = client.get(f"/cases/{ref}/attachments/{att_id}")
    assert got.data == shot and got.mimetype == "image/png" and got.headers["Content-Disposition"].startswith("inline")
    assert "attachment.view" in actions(org, case_id)

    with org.rt.Session() as s:
        before = s.execute(select(StepAttachment.id)).scalars().all()
    resp = client.post(f"/cases/{ref}/steps/request_to_author/attachments/upload",
                       data={"csrf_token": token, "file": (io.BytesIO(ZIP), "svar.pdf")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "Værn kan ikke vedhæfte denne filtype." in resp.get_data(as_text=True)
    resp = client.post(f"/cases/{ref}/steps/request_to_author/attachments/upload",
                       data={"csrf_token": token, "file": (io.BytesIO(b""), "tom.pdf")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert "Den vedhæftede fil er tom." in resp.get_data(as_text=True)
    with org.rt.Session() as s:
        assert s.execute(select(StepAttachment.id)).scalars().all() == before


def test_evidence_of_the_case_is_attached_to_a_step_and_others_may_not_attach(org):
    ref, case_id, base_id = org.captured_case()
    _, _, foreign_id = org.captured_case()
    client = org.client("leader")
    page, token = page_and_token(client, ref)
    assert f'action="/cases/{ref}/steps/secure_evidence/attachments/evidence"' in page
    resp = client.post(f"/cases/{ref}/steps/secure_evidence/attachments/evidence",
                       data={"csrf_token": token, "evidence_id": str(base_id)})
    assert resp.status_code == 302
    client.post(f"/cases/{ref}/steps/secure_evidence/attachments/evidence",
                data={"csrf_token": token, "evidence_id": str(base_id)})  # a second time changes nothing
    with org.rt.Session() as s:
        rows = s.execute(select(StepAttachment).join(CaseStep).where(CaseStep.case_id == case_id)).scalars().all()
        assert [(a.evidence_id, a.sha256, a.step.step_id) for a in rows] == [(base_id, None, "secure_evidence")]
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert f'<a href="#evidence-{base_id}">Bevis nr. {base_id}</a>' in section(page, "step-secure_evidence", "</li>")
    resp = client.post(f"/cases/{ref}/steps/secure_evidence/attachments/evidence",
                       data={"csrf_token": token, "evidence_id": str(foreign_id)}, follow_redirects=True)
    assert "Vælg en bevissikring fra denne sag." in resp.get_data(as_text=True)

    amr = org.client("amr")  # the AMR attaches to the AMR's steps only
    amr_page, amr_token = page_and_token(amr, ref)
    assert f"/cases/{ref}/steps/apv_action_plan/attachments/upload" in amr_page
    assert f"/cases/{ref}/steps/platform_notice/attachments/upload" not in amr_page
    assert amr.post(f"/cases/{ref}/steps/apv_action_plan/attachments/evidence",
                    data={"csrf_token": amr_token, "evidence_id": str(base_id)}).status_code == 302
    assert amr.post(f"/cases/{ref}/steps/platform_notice/attachments/evidence",
                    data={"csrf_token": amr_token, "evidence_id": str(base_id)}).status_code == 403
    employee = org.client("employee")
    employee_page, employee_token = page_and_token(employee, ref)
    assert "/attachments/upload" not in employee_page
    assert employee.post(f"/cases/{ref}/steps/platform_notice/attachments/upload",
                         data={"csrf_token": employee_token, "file": (io.BytesIO(PDF_REPLY), "x.pdf")},
                         content_type="multipart/form-data").status_code == 403
    outsider = org.client("leader-b")
    _, outsider_token = page_and_token(outsider, None)
    for url in (f"/cases/{ref}/steps/secure_evidence/attachments/evidence",
                f"/cases/{ref}/steps/secure_evidence/attachments/upload"):
        resp = outsider.post(url, data={"csrf_token": outsider_token, "evidence_id": str(base_id),
                                        "file": (io.BytesIO(PDF_REPLY), "x.pdf")}, content_type="multipart/form-data")
        assert resp.status_code == 404 and ref not in resp.get_data(as_text=True)
    assert client.post(f"/cases/{ref}/steps/no_such_step/attachments/evidence",
                       data={"csrf_token": token, "evidence_id": str(base_id)}).status_code == 404


# -- where the outcome of a form is said --------------------------------------------------------------

def test_the_outcome_of_a_step_form_is_said_at_the_step_where_the_redirect_lands_not_at_the_top(org):
    """The case page is long (a laptop: ~14,000 px): a message at its top was out of sight of a leader whose
    redirect lands at the step, so a refused skip looked like nothing had happened."""
    ref, _, _ = org.captured_case()
    client = org.client("leader")
    _, token = page_and_token(client, ref)
    url = f"/cases/{ref}/steps/follow_up/state"
    resp = client.post(url, data={"csrf_token": token, "state": "skipped", "reason": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{ref}#step-follow_up")
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    step = section(page, "step-follow_up", "</li>")
    assert "data-flash-placed" in step and "Angiv en begrundelse" in step, step
    assert "<details open>" in step  # its form opens again, to be corrected
    assert page.count("Angiv en begrundelse") == 1  # said once, there
    assert "data-flash-placed" not in client.get(f"/cases/{ref}").get_data(as_text=True)  # and only once

    client.post(url, data={"csrf_token": token, "state": "skipped", "reason": "Sagen er lukket på anden vis"})
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    step = section(page, "step-follow_up", "</li>")
    assert 'class="flash flash-ok">Gemt.</p>' in step and "<details open>" not in step
    assert page.index("data-flash-placed") > page.index('id="step-follow_up"')


def test_a_flash_whose_place_is_not_on_the_page_is_said_at_the_top(org):
    ref, _, _ = org.captured_case()
    client = org.client("leader")
    _, token = page_and_token(client, ref)
    with client.session_transaction() as session:  # a place the page does not have (a step no longer shown)
        session["_flashes"] = [("ok", "Gemt.")]
        session["flash_at"] = "step-no-such-step"
    page = client.get(f"/cases/{ref}").get_data(as_text=True)
    assert "data-flash-placed" not in page
    assert page.index('<div class="flashes" role="status"><p class="flash flash-ok">Gemt.</p>') < page.index(
        'id="deadlines"')
