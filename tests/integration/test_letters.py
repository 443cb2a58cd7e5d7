"""Danish letters drafted from a case: content, editing until sent, freezing, download, access, injection, audit."""
from __future__ import annotations

import hashlib
import shutil

import pytest
from flask import render_template_string
from flask_login import login_user
from markupsafe import escape
from sqlalchemy import func, select

from storage.models import AuditEvent, Case, Evidence, Letter, User
from tests.support.factories import PASSWORD, make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.workflow import letters as ops
from tracker.workflow.checklist import LETTERS
from tracker.errors import DomainError
from tracker.adapters.runtime import Runtime
from webui.app import create_app
from webui.auth import SessionUser

URL_1 = "https://www.facebook.com/groups/borgere/posts/123"
URL_2 = "https://www.facebook.com/groups/borgere/posts/456?q={{7*7}}"
NASTY = "Han skrev {{ 7*7 }} og {% raw %} <script>alert('x')</script> & æøå"

PEOPLE = [
    ("employee-A", "employee", "A"), ("colleague-A", "employee", "A"), ("leader-A", "leader", "A"),
    ("hr-A", "hr", "A"), ("amr-A", "amr", "A"), ("admin-A", "admin", "A"),
    ("employee-B", "employee", "B"), ("leader-B", "leader", "B"), ("hr-B", "hr", "B"),
    ("amr-B", "amr", "B"), ("admin-B", "admin", "B"),
]
WRITERS = {"leader-A", "hr-A", "hr-B"}
READ_ALL = WRITERS | {"amr-A"}
READ_SENT = READ_ALL | {"employee-A"}


class Org:
    """Two units; unit A's employee has a case with two captured URLs (and the first, still queued, request)."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        self.people: dict[str, tuple[int, str, str]] = {}
        with rt.transaction() as s:
            units = {"A": make_unit(s, "Jobcenter"), "B": make_unit(s, "Borgerservice")}
            for key, role, unit in PEOPLE:
                u = make_user(s, role, units[unit], email=f"{key.lower()}@kommune.dk", name=f"Person {key}")
                self.people[key] = (u.id, u.email, u.name)
            employee = s.get(User, self.people["employee-A"][0])
            case = make_case(s, employee, url=URL_1, description=NASTY)
            self.ref, self.case_id = case.ref, case.id
        self.evidence_ids = [make_done_evidence(rt, self.case_id, self.people["employee-A"][0], url=u)
                             for u in (URL_1, URL_2)]

    def client(self, key: str):
        c = self.app.test_client()
        resp = c.post("/login", data={"email": self.people[key][1], "password": PASSWORD})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return c

    def draft(self, template_id: str = "dsa_notice", key: str = "leader-A", **form) -> Letter:
        resp = self.client(key).post(f"/cases/{self.ref}/letters/new", data={"template": template_id, **form})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return self.letter(int(resp.headers["Location"].rsplit("/", 1)[1]))

    def letter(self, letter_id: int) -> Letter:
        with self.rt.Session() as s:
            letter = s.get(Letter, letter_id)
            s.expunge(letter)
            return letter

    def evidence(self) -> list[Evidence]:
        with self.rt.Session() as s:
            rows = [s.get(Evidence, i) for i in self.evidence_ids]
            for ev in rows:
                _ = list(ev.artifacts)
            s.expunge_all()
            return rows

    def url(self, letter_id: int, action: str = "") -> str:
        return f"/cases/{self.ref}/letters/{letter_id}{action}"


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("letters")))
    yield Org(rt)
    rt.close()


def count(org: Org, *where) -> int:
    with org.rt.Session() as s:
        return s.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar()


def filled(body: str) -> str:
    """The body with every [UDFYLD: …] placeholder replaced, as a leader would before sending."""
    out, rest = [], body
    while ops.PLACEHOLDER in rest:
        before, _, rest = rest.partition(ops.PLACEHOLDER)
        out.append(before + "(udfyldt)")
        rest = rest.partition("]")[2]
    return "".join(out) + rest


# -- what each letter contains ---------------------------------------------------------------------------
def test_the_dsa_notice_has_all_four_elements_of_article_16_with_urls_fingerprints_and_the_notifier(org):
    letter = org.draft("dsa_notice", provisions=["119", "267"])
    body, (_, email, name) = letter.body, org.people["leader-A"]
    assert "DSA artikel 16" in letter.subject and org.ref in letter.subject and "Facebook" in letter.subject
    # (a) substantiated explanation with the ticked provisions in plain words, and room for the facts
    assert "(a) Begrundelse" in body and "straffeloven § 119, stk. 1" in body and "straffeloven § 267" in body
    assert "person i offentlig tjeneste" in body and "ærekrænkelse" in body and "§ 264 d" not in body
    assert "[UDFYLD: kort og sagligt" in body
    assert "uden ophold" in body  # a threat (§ 119) asks for handling without delay (recital 52)
    # (b) the exact URLs, (c) the notifier, (d) the good-faith statement
    assert "(b) Den nøjagtige placering" in body and URL_1 in body and URL_2 in body
    assert f"Navn: {name}" in body and f"E-mail: {email}" in body
    assert "(d) Erklæring i god tro" in body and "i god tro mener" in body and "nøjagtige og fuldstændige" in body
    # the evidence: fingerprint and capture time (Danish and UTC) of each, and the platform's channel
    for ev in org.evidence():
        assert ev.fingerprint in body
        assert ops.dk_time(ev.finished_at) in body and ops.utc_time(ev.finished_at) in body
    assert "https://m.facebook.com/help/contact/319149701968527" in body  # Facebook's DSA form (platforms.toml)


def test_the_dsa_notice_without_ticked_provisions_asks_the_leader_to_name_them(org):
    body = org.draft("dsa_notice").body
    assert "[UDFYLD: hvilke bestemmelser i dansk ret" in body and "uden ophold" not in body


def test_the_police_evidence_annex_lists_every_evidence_item_every_file_and_how_to_verify(org):
    body = org.draft("police_evidence_annex", provisions=["266"]).body
    assert "straffeloven § 266" in body and "Beviser (3)" in body
    assert "Ikke sikret (status: queued)" in body  # the first request is still queued: listed, not hidden
    for ev in org.evidence():
        assert ev.source_url in body and ev.fingerprint in body
        assert ops.utc_time(ev.finished_at) in body and ops.dk_time(ev.finished_at) in body
        assert len(ev.artifacts) == 5
        for art in ev.artifacts:
            assert f"- {art.name}\n      SHA-256: {art.sha256}" in body
    assert "ikke tidsstemplet" in body
    assert "Sådan kontrolleres beviserne" in body and "certutil -hashfile" in body and "shasum -a 256" in body


@pytest.mark.parametrize("template_id, pieces", [
    ("request_to_author", ["fjerne indholdet", "officielle kanaler", URL_1, URL_2, "Med venlig hilsen"]),
    ("datatilsynet_complaint", ["Datatilsynet", "artikel 77", "artikel 17", URL_1, URL_2, "Person employee-A",
                                "fuldmagt", "fingeraftryk"]),
    ("declined_police_report_note", ["InsuBiz", "72 timer", "offererstatningsloven § 10, stk. 1",
                                     "Jeg har tilbudt Person employee-A at deltage ved en politianmeldelse",
                                     "registreres hos politiet", URL_1, URL_2]),
    ("citizen_channels_letter", ["Brev:", "E-mail:", "Telefon:", "Personligt fremmøde:",
                                 "Vi behandler ikke sager på de sociale medier", "Jobcenter"]),
])
def test_each_other_letter_renders_its_required_pieces_in_danish(org, template_id, pieces):
    letter = org.draft(template_id)
    assert letter.subject and letter.step_id is None and letter.sent_at is None
    for piece in pieces:
        assert piece in letter.body, piece
    assert org.ref in letter.subject + letter.body
    if template_id in ("datatilsynet_complaint", "declined_police_report_note"):
        for ev in org.evidence():
            assert ev.fingerprint in letter.body
    if template_id == "citizen_channels_letter":
        assert "Person employee-A" not in letter.body  # the citizen is not told the employee's name


def test_every_letter_id_in_the_rules_has_a_template_that_renders(org):
    assert ops.check_templates() == LETTERS
    with org.rt.Session() as s:
        case, leader = s.get(Case, org.case_id), s.get(User, org.people["leader-A"][0])
        for template_id in LETTERS:
            subject, body = ops.render(template_id, ops.build_context(case, leader))
            assert subject and body.endswith("\n") and not body.startswith("Emne:")


def test_a_draft_can_be_linked_to_the_step_that_offers_it_and_no_other(org):
    assert org.draft("dsa_notice", step="platform_notice").step_id == "platform_notice"
    resp = org.client("leader-A").post(f"/cases/{org.ref}/letters/new",
                                       data={"template": "dsa_notice", "step": "request_to_author"})
    assert resp.status_code == 400 and "Dette trin bruger ikke det brev" in resp.get_data(as_text=True)


# -- injection ---------------------------------------------------------------------------------------------
def test_template_code_and_html_in_case_data_come_out_literally_never_evaluated(org):
    letter = org.draft("dsa_notice")
    assert NASTY in letter.body  # {{ 7*7 }}, {% raw %} and <script> exactly as typed
    assert URL_2 in letter.body and "q=49" not in letter.body
    page = org.client("leader-A").get(org.url(letter.id)).get_data(as_text=True)
    assert "<script>alert(" not in page and str(escape("<script>alert('x')</script>")) in page
    assert "{{ 7*7 }}" in page


def test_a_template_file_cannot_reach_python_internals(tmp_path):
    directory = tmp_path / "letters"
    shutil.copytree(ops.TEMPLATE_DIR, directory)
    (directory / "dsa_notice.txt.j2").write_text("Emne: x\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(ops.LetterTemplateError, match="dsa_notice.txt.j2: rendering failed"):
        ops.render("dsa_notice", {}, directory)


def test_a_broken_template_file_is_reported_in_one_line_naming_it(tmp_path):
    directory = tmp_path / "letters"
    shutil.copytree(ops.TEMPLATE_DIR, directory)
    (directory / "citizen_channels_letter.txt.j2").write_text("Emne: x\n{% if %}\n")
    with pytest.raises(ops.LetterTemplateError) as info:
        ops.check_templates(directory)
    assert "citizen_channels_letter.txt.j2: not a valid template" in str(info.value) and "\n" not in str(info.value)
    (directory / "citizen_channels_letter.txt.j2").unlink()
    with pytest.raises(ops.LetterTemplateError, match="cannot read the letter template"):
        ops.check_templates(directory)


# -- editing, sending, freezing --------------------------------------------------------------------------
def test_a_draft_is_edited_then_marked_sent_after_which_it_is_frozen_with_its_sha256(org):
    letter = org.draft("citizen_channels_letter")
    client = org.client("leader-A")
    new_body = filled(letter.body) + "\r\nEkstra linje med æøå\r\n"
    resp = client.post(org.url(letter.id), data={"subject": "  Sådan   kontakter du os ", "body": new_body,
                                                 "version": ops.body_sha256(letter.body)})
    assert resp.status_code == 200 and "Brevet er gemt" in resp.get_data(as_text=True)
    edited = org.letter(letter.id)
    assert edited.subject == "Sådan kontakter du os"
    assert edited.body.endswith("Ekstra linje med æøå\n") and "\r" not in edited.body

    assert client.post(org.url(letter.id, "/send")).status_code == 302
    sent = org.letter(letter.id)
    assert sent.sent_at is not None and sent.sent_by_id == org.people["leader-A"][0]
    assert sent.sha256_at_send == hashlib.sha256(sent.body.encode("utf-8")).hexdigest()

    resp = client.post(org.url(letter.id), data={"subject": "Ændret", "body": "Ændret tekst"})
    assert resp.status_code == 409 and "markeret som sendt" in resp.get_data(as_text=True)
    assert client.post(org.url(letter.id, "/send")).status_code == 409
    after = org.letter(letter.id)
    assert (after.body, after.subject, after.sent_at) == (sent.body, sent.subject, sent.sent_at)
    page = client.get(org.url(letter.id)).get_data(as_text=True)
    assert "<textarea" not in page and sent.sha256_at_send in page


def test_a_letter_with_placeholders_left_cannot_be_marked_sent(org):
    letter = org.draft("request_to_author")
    resp = org.client("leader-A").post(org.url(letter.id, "/send"))
    assert resp.status_code == 409 and "UDFYLD" in resp.get_data(as_text=True)
    assert org.letter(letter.id).sent_at is None


def test_an_edit_made_on_an_outdated_copy_is_refused_not_silently_overwritten(org):
    letter = org.draft("citizen_channels_letter")
    first, second = org.client("leader-A"), org.client("hr-B")
    version = ops.body_sha256(letter.body)
    assert first.post(org.url(letter.id), data={"subject": "A", "body": "Første", "version": version}).status_code == 200
    resp = second.post(org.url(letter.id), data={"subject": "B", "body": "Anden", "version": version})
    assert resp.status_code == 409 and "Nogen anden har gemt brevet" in resp.get_data(as_text=True)
    assert org.letter(letter.id).body == "Første\n"


def test_an_empty_letter_is_not_saved(org):
    letter = org.draft("citizen_channels_letter")
    resp = org.client("leader-A").post(org.url(letter.id), data={"subject": "x", "body": " \r\n "})
    assert resp.status_code == 400 and org.letter(letter.id).body == letter.body


def test_the_operations_refuse_a_sent_letter_too(org):
    letter = org.draft("citizen_channels_letter")
    with org.rt.transaction() as s:
        row, case = s.get(Letter, letter.id), s.get(Case, org.case_id)
        leader = s.get(User, org.people["leader-A"][0])
        row.body = filled(row.body)
        ops.mark_sent(s, leader, case, row)
    with org.rt.Session() as s:
        row, case, leader = s.get(Letter, letter.id), s.get(Case, org.case_id), s.get(User, org.people["leader-A"][0])
        with pytest.raises(DomainError) as info:
            ops.update_letter(s, leader, case, row, subject="x", body="y")
        assert info.value.code == "letter_sent"


# -- download ------------------------------------------------------------------------------------------------
def test_the_download_is_utf8_plain_text_as_an_attachment_whose_sha256_matches_the_sent_letter(org):
    letter = org.draft("declined_police_report_note")
    client = org.client("hr-A")
    client.post(org.url(letter.id), data={"subject": letter.subject, "body": filled(letter.body)})
    client.post(org.url(letter.id, "/send"))
    sent = org.letter(letter.id)
    resp = client.get(org.url(letter.id, "/download.txt"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="{org.ref}-brev-{letter.id}-declined_police_report_note.txt"')
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in resp.headers["Content-Security-Policy"]
    data = resp.get_data()
    assert data.decode("utf-8") == sent.body and "ønsker ikke" in data.decode("utf-8")
    assert hashlib.sha256(data).hexdigest() == sent.sha256_at_send == resp.headers["X-Letter-SHA256"]


# -- who may do what -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [p[0] for p in PEOPLE])
def test_each_role_gets_exactly_its_access_to_letters(org, key):
    draft = org.draft("citizen_channels_letter")
    sent = org.draft("citizen_channels_letter")
    leader = org.client("leader-A")
    leader.post(org.url(sent.id), data={"subject": sent.subject, "body": filled(sent.body)})
    assert leader.post(org.url(sent.id, "/send")).status_code == 302
    client = org.client(key)

    for letter, readers in ((draft, READ_ALL), (sent, READ_SENT)):
        for action in ("", "/download.txt"):
            resp = client.get(org.url(letter.id, action))
            assert resp.status_code == (200 if key in readers else 404), (key, letter.id, action)
            if key not in readers:
                assert letter.body not in resp.get_data(as_text=True)
    sees_case = key in READ_SENT
    denied = 403 if sees_case else 404  # may see the case, may not write: 403 reveals nothing new
    assert client.get(f"/cases/{org.ref}/letters/new?template=dsa_notice").status_code == (
        200 if key in WRITERS else denied)
    assert client.post(f"/cases/{org.ref}/letters/new", data={"template": "dsa_notice"}).status_code == (
        302 if key in WRITERS else denied)
    edit = 200 if key in WRITERS else (403 if key in READ_ALL else 404)  # the employee cannot see a draft
    assert client.post(org.url(draft.id), data={"subject": "x", "body": filled(draft.body)}).status_code == edit
    assert client.post(org.url(draft.id, "/send")).status_code == (302 if key in WRITERS else edit)
    if key not in WRITERS:
        assert org.letter(draft.id).sent_at is None


def test_a_letter_of_another_case_is_not_found_under_your_own_case(org):
    letter = org.draft("citizen_channels_letter")
    client = org.client("employee-B")
    own = client.post("/report", data={"url": URL_1, "description": "x"}).headers["Location"].rsplit("/", 1)[1]
    for action in ("", "/download.txt"):
        assert client.get(f"/cases/{own}/letters/{letter.id}{action}").status_code == 404


# -- audit -------------------------------------------------------------------------------------------------------
def test_every_create_edit_send_view_and_download_is_audited(org):
    actions = ("letter.create", "letter.update", "letter.sent", "letter.view", "letter.download")
    before = {a: count(org, AuditEvent.action == a) for a in actions}
    letter = org.draft("citizen_channels_letter")
    client = org.client("leader-A")
    client.get(org.url(letter.id))
    client.post(org.url(letter.id), data={"subject": "s", "body": filled(letter.body)})
    client.post(org.url(letter.id, "/send"))
    client.get(org.url(letter.id, "/download.txt"))
    assert {a: count(org, AuditEvent.action == a) - before[a] for a in actions} == {
        "letter.create": 1, "letter.update": 1, "letter.sent": 1, "letter.view": 1, "letter.download": 1}
    sent = org.letter(letter.id)
    with org.rt.Session() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "letter.sent")
                       .order_by(AuditEvent.id.desc()).limit(1)).scalar()
    assert (ev.actor_id, ev.case_id, ev.object_id, ev.details["sha256"]) == (
        org.people["leader-A"][0], org.case_id, str(letter.id), sent.sha256_at_send)


# -- the case page partial ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, sees_draft, may_draft", [
    ("leader-A", True, True), ("amr-A", True, False), ("employee-A", False, False)])
def test_the_case_page_partial_lists_the_letters_the_user_may_read(org, key, sees_draft, may_draft):
    letter = org.draft("request_to_author")
    with org.app.test_request_context():
        from webui.db import db

        login_user(SessionUser(db().get(User, org.people[key][0])))
        case = db().get(Case, org.case_id)
        html = render_template_string('{% include "cases/_letters.html" %}', case=case)
    assert (f"/letters/{letter.id}\"" in html) is sees_draft
    assert ("/letters/new" in html) is may_draft


def test_a_notice_about_a_site_outside_the_platform_directory_asks_for_the_hosts_name(org):
    with org.rt.transaction() as s:
        case = make_case(s, s.get(User, org.people["employee-A"][0]), url="https://blog.example.org/indlaeg/7")
        leader = s.get(User, org.people["leader-A"][0])
        subject, body = ops.render("dsa_notice", ops.build_context(case, leader))
    assert "[UDFYLD: navnet på hjemmesidens ejer eller hostingfirma]" in subject
    assert body.startswith("Til: [UDFYLD: navnet på hjemmesidens ejer eller hostingfirma]")
    assert "https://blog.example.org/indlaeg/7" in body
