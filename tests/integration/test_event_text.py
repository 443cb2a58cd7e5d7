"""Every audit event is said as one Danish sentence (English on the English pages) — never raw keys such as
"evidence: 1 · name: …", "verdict: still_online" or "worker: vm:…" — and the case page's timeline shows what
happened, not who looked."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case
from tests.support.factories import csrf_login, make_case, make_done_evidence, make_settings, make_unit, make_user
from tests.support.database import new_runtime
from tracker.oversight import audit
from tracker.oversight.event_text import Names, has_sentence, sentence
from tracker.oversight.history import VIEW_ACTIONS, in_timeline
from tracker.packaging.reports import case_report_html
from tracker.workflow.rules import load_rules
from webui.app import create_app

RULES = load_rules()
ROOT = Path(__file__).resolve().parents[2]
RAW_KEY = re.compile(r"\b(?:[a-z]+_[a-z_]+|evidence|name|verdict|worker|status|reason|fingerprint|via|sha256): ")


def recorded_actions() -> set[str]:
    """Every literal action the code records (audit.record(session, actor, "x.y", …))."""
    found = set()
    for path in [*ROOT.glob("tracker/**/*.py"), *ROOT.glob("webui/**/*.py")]:
        found |= set(re.findall(r'audit\.record\(\s*[^,]+,\s*[^,]+,\s*"([a-z_]+\.[a-z_]+)"', path.read_text()))
    return found | {"evidence.failed", "evidence.refused", "offender.confirmed", "offender.dismissed"}


def event(action: str, object_id: str = "1", **details) -> AuditEvent:
    return AuditEvent(id=1, at=datetime(2026, 12, 5, 10, 5, tzinfo=timezone.utc), actor_id=None, action=action,
                      object_type="x", object_id=object_id, case_id=1, details=details or None, prev_hash="", hash="")


def test_every_action_the_code_records_has_a_sentence():
    actions = recorded_actions()
    assert len(actions) > 40
    assert sorted(a for a in actions if not has_sentence(a)) == []


NAMES = Names(lang="da", step_label=lambda i: RULES.step(i).label_da, people={7: "Lone Leder"})


@pytest.mark.parametrize("e, expected", [
    (event("artifact.view", "ab" * 32, evidence=1, name="screenshot_post.png"),
     "Filen screenshot_post.png fra bevis nr. 1 blev vist."),
    (event("recheck.decided", "3", verdict="still_online", evidence_id=9, reason="the post is online as captured",
           reason_code="post_online"),
     "Genkontrollen gav: stadig online (bevis nr. 9). Grundlag: «opslaget er online som sikret»."),
    (event("evidence.captured", "4", fingerprint="f" * 64, status="consent_dismissed", worker="vm:6652:1403",
           tsa=None), "Bevis nr. 4 blev sikret (sikret efter cookie-dialog); fingeraftrykket (SHA-256 af "
                      "manifest.json) begynder med ffffffffffff. Ikke tidsstemplet. Arbejdsproces: vm:6652:1403."),
    (event("evidence.request", "4", upload_sha256="a" * 64),  # the file's hash: not the fingerprint above
     "En uploadet fil blev modtaget til sikring (bevis nr. 4, filens SHA-256 aaaaaaaaaaaa…)."),
    (event("step.state", "inform_leader", before="todo", state="done", done_at="2026-12-05T10:05:00+00:00",
           by="system", because="leader_opened", leader_id=7),
     "Trinnet «Orienter lederen straks» blev sat til Udført (før: Ikke startet) af Værn, fordi lederen åbnede "
     "sagen (Lone Leder)."),
    (event("step.rung", "request_to_author", sent_at="2026-12-05T10:05:00+00:00", channel="Brev",
           platform_ref=None, outcome="no_answer"),
     "Skridtet «Anmodning til ophavsmanden om at fjerne indholdet» blev registreret, sendt 05.12.2026 kl. 11.05, "
     "via Brev, udfald: intet svar."),
    (event("case.create", "V-2026-00001", episode_at="2026-12-05T10:05:00+00:00"),
     "Sagen blev oprettet; episoden fandt sted 05.12.2026 kl. 11.05."),
    (event("clock.set", "absence_start", before=None, at="2026-12-05T10:05:00+00:00", note=None),
     "Tidspunktet for første fraværsdag blev sat til 05.12.2026 kl. 11.05 (før: ukendt)."),
])
def test_events_read_as_danish_sentences(e, expected):
    if e.action == "step.rung":
        expected = expected.replace("Anmodning til ophavsmanden om at fjerne indholdet",
                                    RULES.step("request_to_author").label_da)
    assert sentence(e, NAMES) == expected


@pytest.mark.parametrize("details, danish", [
    # a reason with values: they are read from the stored sentence, Værn's own English words put into Danish
    ({"reason": "the capture failed (no answer from the server), so it could not see the page",
      "reason_code": "capture_failed"},
     "«sikringen mislykkedes (intet svar fra serveren), så den kunne ikke se siden»"),
    ({"reason": 'the page shows the platform\'s removal text "Dette indhold er ikke tilgængeligt" and not the '
                "post's text", "reason_code": "removal_text"},
     '«siden viser platformens fjernelsestekst "Dette indhold er ikke tilgængeligt" og ikke opslagets tekst»'),
    # stored before reason codes (migration 0007): the earlier wordings, found by their text
    ({"reason": "the post is online as captured"}, "«opslaget er online som sikret»"),
    ({"reason": "the server answered HTTP 410"}, "«serveren svarede HTTP 410»"),
    ({"reason": "the page answers but the post element is gone"}, "«siden svarer, men opslagselementet er væk»"),
])
def test_a_recheck_reason_stored_in_english_reads_in_danish(details, danish):
    e = event("recheck.decided", "3", verdict="removed", evidence_id=9, **details)
    assert sentence(e, NAMES) == f"Genkontrollen gav: fjernet — bekræftet (bevis nr. 9). Grundlag: {danish}."
    assert e.details == {"verdict": "removed", "evidence_id": 9, **details}  # what is stored is not touched


def test_a_recheck_reason_reads_as_stored_on_english_pages():
    e = event("recheck.decided", "3", verdict="still_online", evidence_id=9, reason="the post is online as captured",
              reason_code="post_online")
    assert sentence(e, Names(lang="en")) == \
        "The re-check found: still online (evidence no. 9). Basis: «the post is online as captured»."


@pytest.mark.parametrize("code", [None, "post_online", "no_such_code"])
def test_an_unknown_stored_reason_is_shown_as_stored_and_marked_so(code):
    e = event("recheck.decided", "3", verdict="still_online", evidence_id=9, reason="the post text is on the page",
              reason_code=code)
    assert sentence(e, NAMES) == ("Genkontrollen gav: stadig online (bevis nr. 9). Grundlag, som gemt (på "
                                  "engelsk): «the post text is on the page».")


def test_english_sentences_give_times_with_at_and_sizes_with_a_decimal_point():
    english = Names(lang="en", step_label=lambda i: RULES.step(i).label_en)
    rung = sentence(event("step.rung", "request_to_author", sent_at="2026-12-05T10:05:00+00:00", channel="Letter",
                          platform_ref=None, outcome="no_answer"), english)
    assert "sent 05.12.2026 at 11:05, via Letter" in rung and "kl." not in rung
    assert sentence(event("case.create", "V-2026-00001", episode_at="2026-12-05T10:05:00+00:00"), english) == \
        "The case was opened; the episode took place on 05.12.2026 at 11:05."
    export = event("package.export", via="web", sha256="a" * 64, size=1_234_567, files=12, filename="V.zip")
    assert "1.2 MB" in sentence(export, english) and "1,2 MB" in sentence(export, NAMES)


def test_no_sentence_shows_raw_keys_in_either_language():
    samples = {
        "artifact.download": {"evidence": 1, "name": "page.mhtml", "via": "api", "token": 3},
        "recheck.start": {"baseline_evidence_id": 1, "evidence_id": 2, "on_demand": True},
        "package.export": {"via": "web", "sha256": "a" * 64, "size": 123456, "files": 12, "filename": "V.zip"},
        "audit.view": {"filter_case_ref": "V-2026-00001", "page_before": None},
        "case.facts": {"changed": {"author_known": True, "defamatory": None}},
        "letter.create": {"template": "dsa_notice", "step": "platform_notice", "provisions": ["x"], "sha256": "b" * 64},
        "user.update": {"email": "a@b.dk", "changes": {"role": ["leader", "hr"]}},
        "integrity.verify": {"ok": True, "problems": 0, "blobs": 10, "events": 99, "anchors": 1},
    }
    for lang in ("da", "en"):
        names = Names(lang=lang, step_label=lambda i: RULES.step(i).label_da)
        for action, details in samples.items():
            text = sentence(event(action, **details), names)
            assert text.endswith(".") and not RAW_KEY.search(text), (action, text)
            assert not [k for k in details if "_" in k and k in text], (action, text)
            assert "{" not in text and "None" not in text and "True" not in text, (action, text)


def test_views_and_downloads_are_not_in_the_timeline():
    assert not any(in_timeline(a) for a in VIEW_ACTIONS)
    for action in ("case.create", "evidence.captured", "step.state", "letter.create", "recheck.decided",
                   "package.export"):
        assert in_timeline(action), action


def case_with_people(rt) -> tuple[tuple[int, str, int], int]:
    """A case of Mette Jensen's with its leader Lone Leder and HR, and one secured evidence:
    ((case id, ref, leader id), evidence id)."""
    with rt.transaction() as s:
        unit = make_unit(s, "Jobcenter")
        employee = make_user(s, "employee", unit, name="Mette Jensen")
        leader = make_user(s, "leader", unit, name="Lone Leder", email="lone@kommune.dk")
        make_user(s, "hr", unit, name="Hanne HR", email="hr@kommune.dk")
        case = make_case(s, employee)
        ids = (case.id, case.ref, leader.id)
    return ids, make_done_evidence(rt, ids[0], ids[2])


def timeline_of(page: str) -> str:
    timeline = page[page.index('id="timeline"'):]
    return timeline[:timeline.index("</section>")]


def test_the_case_page_timeline_and_hrs_audit_log_speak_in_sentences(tmp_path):
    rt = new_runtime(make_settings(tmp_path))
    ids, ev_id = case_with_people(rt)
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    try:
        leader_client = csrf_login(app, "lone@kommune.dk")
        for _ in range(3):
            leader_client.get(f"/cases/{ids[1]}")
        leader_client.get(f"/cases/{ids[1]}/evidence/{ev_id}/screenshot_viewport.png")
        page = leader_client.get(f"/cases/{ids[1]}").get_data(as_text=True)
        timeline = timeline_of(page)
        assert "Sagen blev oprettet" in timeline and f"Bevis nr. {ev_id} blev sikret" in timeline
        assert "Trinnet «Orienter lederen straks» blev sat til Udført" in timeline
        assert "fordi lederen åbnede sagen (Lone Leder)" in timeline
        assert "blev åbnet" not in timeline and "blev vist" not in timeline  # views stay in the audit log
        with rt.Session() as s:
            views = s.execute(select(AuditEvent).where(AuditEvent.case_id == ids[0],
                                                       AuditEvent.action == "case.view")).scalars().all()
            assert len(views) == 4  # ... where they are recorded
        hr = csrf_login(app, "hr@kommune.dk")
        log = hr.get(f"/hr/audit?case={ids[1]}").get_data(as_text=True)
        assert "Sagen blev åbnet." in log and f"Filen screenshot_viewport.png fra bevis nr. {ev_id} blev vist." in log
        details = re.findall(r'class="details">([^<]*)<', log)
        assert details and not [d for d in details if RAW_KEY.search(d)]
    finally:
        rt.close()


def test_recheck_reasons_read_in_danish_on_the_timeline_the_audit_log_and_the_case_report(database_url,
                                                                                            make_runtime):
    rt = make_runtime(database_url=database_url)
    ids, ev_id = case_with_people(rt)
    with rt.transaction() as s:  # as the re-check stores them: a coded reason, one from before 0007, one unknown
        for reason, code in (("the post is online as captured", "post_online"),
                             ("the server answered HTTP 410", None), ("the post text is on the page", None)):
            audit.record(s, None, "recheck.decided", "recheck", 1, ids[0], verdict="still_online",
                         evidence_id=ev_id, reason=reason, reason_code=code)
    danish = ("Grundlag: «opslaget er online som sikret».", "Grundlag: «serveren svarede HTTP 410».",
              "Grundlag, som gemt (på engelsk): «the post text is on the page».")
    app = create_app(runtime=rt)
    app.config.update(TESTING=True)
    page = csrf_login(app, "lone@kommune.dk").get(f"/cases/{ids[1]}").get_data(as_text=True)
    timeline = timeline_of(page)
    hr = csrf_login(app, "hr@kommune.dk")
    log = hr.get(f"/hr/audit?case={ids[1]}").get_data(as_text=True)
    with rt.Session() as s:
        report = case_report_html(rt, s, s.get(Case, ids[0]))
    for where, text in (("timeline", timeline), ("audit log", log), ("case report", report)):
        assert [d for d in danish if d in text] == list(danish), where
        assert "«the post is online as captured»" not in text, where
    with hr.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    english = hr.get(f"/hr/audit?case={ids[1]}").get_data(as_text=True)
    assert "Basis: «the post is online as captured»." in english and "Grundlag" not in english
