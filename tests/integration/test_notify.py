"""E-mail notifications against a real SMTP server (aiosmtpd): who gets what, once, and nothing sensitive."""
from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from storage.models import Case, CaseStep, NotificationSent, Role, StepState
from storage.types import utcnow
from tests.support.factories import make_case, make_unit, make_user
from tests.support.recheck_captures import finish, gone, manifest, sealed
from tests.support.smtp import Inbox, free_port
from tracker.adapters import jobs
from tracker.adapters import notify
from tracker.cases.evidence import store_bundle
from tracker.workflow.recheck import start_recheck

POST_URL = "https://www.facebook.com/borgerforeningen/posts/99887766554433"
DESCRIPTION = "Han skriver at han ved hvor jeg bor og offentliggør min adresse"
EMPLOYEE = "Bjørn Ødegård"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def rt(make_runtime, smtp):
    return make_runtime(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="vaern@kommune.test",
                        base_url="https://vaern.kommune.test/")


def setup_case(rt, *, episode_at=None) -> dict:
    """A unit with two leaders, an AMR and the harassed employee; a leader elsewhere; one case."""
    with rt.transaction() as s:
        unit = make_unit(s)
        leaders = [make_user(s, Role.leader, unit) for _ in range(2)]
        make_user(s, Role.amr, unit)
        make_user(s, Role.leader, make_unit(s))
        employee = make_user(s, Role.employee, unit, name=EMPLOYEE)
        case = make_case(s, employee, url=POST_URL, description=DESCRIPTION, episode_at=episode_at)
        return {"case_id": case.id, "ref": case.ref, "leaders": sorted(u.email for u in leaders),
                "baseline": case.evidence[0].id}


def assert_neutral(msg, ref: str) -> str:
    body = msg.get_content()
    assert ref in msg["Subject"] and ref in body
    assert f"https://vaern.kommune.test/cases/{ref}" in body
    for secret in (EMPLOYEE, "Ødegård", POST_URL, "facebook", DESCRIPTION, "adresse"):
        assert secret not in body and secret not in msg["Subject"]
    assert msg["From"] == "vaern@kommune.test"
    return body


def test_a_new_case_is_mailed_to_the_units_leaders_after_commit_once_and_without_content(rt, smtp):
    jobs.bind_enqueue_on_commit(rt)
    with rt.transaction() as s:  # rolled back: no one is told
        make_case(s, make_user(s, Role.employee, make_unit(s)), url=POST_URL)
        s.rollback()
    assert [t.name for t in rt.huey.pending() if t.name == "notify_case_opened"] == []

    c = setup_case(rt)
    tasks = [t for t in rt.huey.pending() if t.name == "notify_case_opened"]
    assert [t.args for t in tasks] == [(c["case_id"],)]
    assert rt.huey.execute(tasks[0]) == 2

    assert sorted(to for _, (to,) in smtp.envelopes) == c["leaders"]
    assert {frm for frm, _ in smtp.envelopes} == {"vaern@kommune.test"}
    for msg in smtp.messages:
        body = assert_neutral(msg, c["ref"])
        assert "ny sag" in body.lower() and "new case" in body.lower()

    assert notify.case_opened(rt, c["case_id"]) == 0  # sent once
    notify.send_due(rt)  # the sweep does not send it again (it may send deadline reminders)
    assert len([m for m in smtp.messages if "Ny sag" in m["Subject"]]) == 2
    with rt.Session() as s:
        keys = set(s.execute(select(NotificationSent.key)).scalars())
    assert {k.rsplit(":", 1)[0] for k in keys if k.startswith("case_opened")} == {f"case_opened:{c['case_id']}"}


def test_a_refused_mail_is_rolled_back_and_sent_by_the_next_sweep(rt, smtp):
    c = setup_case(rt)
    smtp.reject = True
    assert notify.case_opened(rt, c["case_id"]) == 0
    with rt.Session() as s:
        assert s.execute(select(NotificationSent)).scalars().all() == []
    smtp.reject = False
    notify.send_due(rt)
    assert sorted(m["To"] for m in smtp.messages if "Ny sag" in m["Subject"]) == c["leaders"]


def test_a_verified_removal_is_mailed_to_the_leaders_once(rt, smtp):
    c = setup_case(rt)
    store_bundle(rt, c["baseline"], sealed(manifest()))
    finish(rt, start_recheck(rt, c["case_id"], c["baseline"]), gone())
    assert not [m for m in smtp.messages if "Fjernelse" in m["Subject"]]  # one removal-looking check is not enough
    finish(rt, start_recheck(rt, c["case_id"], c["baseline"]), gone())
    removal = [m for m in smtp.messages if "Fjernelse" in m["Subject"]]
    assert sorted(m["To"] for m in removal) == c["leaders"]
    for msg in removal:
        assert "Removal verified" in msg["Subject"]
        assert_neutral(msg, c["ref"])
    finish(rt, start_recheck(rt, c["case_id"], c["baseline"]), gone())  # still removed: no new mail
    assert notify.removal_verified(rt, c["case_id"]) == 0
    assert len([m for m in smtp.messages if "Fjernelse" in m["Subject"]]) == 2


def test_deadline_reminders_go_out_24_hours_and_2_hours_before_and_when_overdue_each_once(rt, smtp):
    t0 = utcnow()
    c = setup_case(rt, episode_at=t0 - timedelta(hours=50))  # police report due at t0 + 22 h
    done = setup_case(rt, episode_at=t0 - timedelta(hours=50))  # reported: the clock is met
    declined = setup_case(rt, episode_at=t0 - timedelta(hours=50))  # the leader's note closes it
    with rt.transaction() as s:
        s.add(CaseStep(case_id=done["case_id"], step_id="police_report", state=StepState.done, done_at=t0))
        s.add(CaseStep(case_id=declined["case_id"], step_id="police_report", state=StepState.skipped,
                       outcome="declined", reason="Ønsker ikke anmeldelse", note="Ønsker ikke anmeldelse"))

    def police_keys():
        with rt.Session() as s:
            keys = s.execute(select(NotificationSent.key).where(NotificationSent.kind.like("deadline%"))).scalars()
            return sorted({k.split(":")[1] + ":" + k.split(":")[3] for k in keys if ":police_report:" in k})

    def police_mails():
        return [m for m in smtp.messages if m["Subject"].startswith("Værn: Frist")
                and f"/cases/{c['ref']}" in m.get_content()]

    cid = c["case_id"]
    notify.deadline_reminders(rt, t0 - timedelta(hours=3))  # 25 h before: nothing for the police report
    assert police_keys() == []
    notify.deadline_reminders(rt, t0)
    assert police_keys() == [f"{cid}:24h"]
    notify.deadline_reminders(rt, t0 + timedelta(hours=1))
    assert police_keys() == [f"{cid}:24h"]
    notify.deadline_reminders(rt, t0 + timedelta(hours=21))
    assert police_keys() == [f"{cid}:24h", f"{cid}:2h"]
    notify.deadline_reminders(rt, t0 + timedelta(hours=23))
    notify.deadline_reminders(rt, t0 + timedelta(hours=30))
    assert police_keys() == [f"{cid}:24h", f"{cid}:2h", f"{cid}:overdue"]  # nothing for the other two cases

    subjects = [m["Subject"] for m in police_mails() if m["To"] == c["leaders"][0]]
    assert any("24 timer" in s for s in subjects) and any("2 timer" in s for s in subjects)
    assert any("overskredet" in s for s in subjects)
    for msg in police_mails():
        assert_neutral(msg, c["ref"])
        assert "Politi" not in msg.get_content()  # the mail does not say which deadline
    due = (t0 + timedelta(hours=22)).astimezone(ZoneInfo("Europe/Copenhagen"))
    danish, english = police_mails()[0].get_content().split(f"Case {c['ref']}")
    assert f"({due:%d.%m.%Y} kl. {due:%H.%M})" in danish  # as the Danish pages write it
    assert f"({due:%d.%m.%Y} at {due:%H:%M})" in english and "kl." not in english


def test_a_platform_notice_without_receipt_or_decision_is_reminded_after_the_configured_days(rt, smtp):
    t0 = utcnow()
    c = setup_case(rt)
    answered = setup_case(rt)
    sent = t0 - timedelta(days=2, hours=20)  # receipt due after 3 days (deadlines.toml), decision after 7
    with rt.transaction() as s:
        s.add(CaseStep(case_id=c["case_id"], step_id="platform_notice", state=StepState.in_progress, sent_at=sent))
        s.add(CaseStep(case_id=answered["case_id"], step_id="platform_notice", state=StepState.done, sent_at=sent,
                       receipt_at=sent + timedelta(hours=1), decided_at=sent + timedelta(days=1), outcome="refused"))

    def dsa_keys():
        with rt.Session() as s:
            keys = s.execute(select(NotificationSent.key).where(NotificationSent.kind.like("deadline%"))).scalars()
            return sorted({":".join(k.split(":")[1:4]) for k in keys if ":dsa_notice_" in k})

    notify.deadline_reminders(rt, t0)  # 4 h before the receipt is due
    assert dsa_keys() == [f"{c['case_id']}:dsa_notice_receipt:24h"]
    notify.deadline_reminders(rt, t0 + timedelta(days=1))  # receipt overdue
    notify.deadline_reminders(rt, t0 + timedelta(days=4))  # decision due in 4 h
    notify.deadline_reminders(rt, t0 + timedelta(days=5))  # decision overdue
    cid = c["case_id"]
    assert dsa_keys() == [f"{cid}:dsa_notice_decision:24h", f"{cid}:dsa_notice_decision:overdue",
                          f"{cid}:dsa_notice_receipt:24h", f"{cid}:dsa_notice_receipt:overdue"]  # not the answered one
    mails = [m for m in smtp.messages if f"/cases/{c['ref']}" in m.get_content()]
    assert any("overskredet" in m["Subject"] for m in mails)
    for msg in mails:
        assert_neutral(msg, c["ref"])


def test_a_reminder_for_a_clock_whose_start_is_unknown_is_never_sent(rt, smtp):
    c = setup_case(rt, episode_at=None)
    notify.deadline_reminders(rt, utcnow() + timedelta(days=400))
    with rt.Session() as s:
        keys = list(s.execute(select(NotificationSent.key)).scalars())
    assert not [k for k in keys if k.startswith(f"deadline:{c['case_id']}:police_report")]


def test_without_smtp_notifications_are_skipped_and_logged_once(make_runtime, caplog, monkeypatch):
    rt = make_runtime(smtp_host=None)
    monkeypatch.setattr(notify, "_skip_logged", False)
    jobs.bind_enqueue_on_commit(rt)
    caplog.set_level(logging.WARNING, logger="tracker.adapters.notify")
    c = setup_case(rt)
    assert [t for t in rt.huey.pending() if t.name == "notify_case_opened"] == []
    assert notify.case_opened(rt, c["case_id"]) == 0
    assert notify.send_due(rt) == 0
    assert notify.deadline_reminders(rt, utcnow()) == 0
    with rt.Session() as s:
        assert s.execute(select(NotificationSent)).scalars().all() == []
        assert s.get(Case, c["case_id"]) is not None
    assert len([r for r in caplog.records if "no SMTP server" in r.getMessage()]) == 1


def test_mail_is_sent_with_the_configured_login(make_runtime):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins = []

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"vaern", b"hemmeligt")
        logins.append(ok)
        return AuthResult(success=ok)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            auth_require_tls=False, authenticator=authenticator)
    controller.start()
    try:
        rt = make_runtime(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_user="vaern",
                          smtp_password="hemmeligt")
        c = setup_case(rt)
        assert notify.case_opened(rt, c["case_id"]) == 2
    finally:
        controller.stop()
    assert logins and all(logins) and len(inbox.messages) == 2
