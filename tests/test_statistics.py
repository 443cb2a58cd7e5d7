"""Statistics for MED over a small, realistic organisation built with the real operations, on SQLite and
PostgreSQL; the MED dates and the reminder mail against a real SMTP server, with the clock moved."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from storage.models import Case, CaseOffender, NotificationSent, Offender, OffenderKind, Role, User
from tests.factories import make_case, make_unit, make_user, png_bytes
from tests.fixtures_recheck.captures import finish, gone, manifest, sealed
from tests.test_notify import Inbox, free_port  # the real aiosmtpd inbox of the notification tests
from tracker.cases import lifecycle
from tracker.oversight import med
from tracker.workflow import steps
from tracker.cases.register import Report, open_case
from tracker.workflow.deadlines import COPENHAGEN
from tracker.errors import DomainError
from tracker.cases.evidence import store_bundle
from tracker.workflow.recheck import start_recheck, verified_removal
from tracker.workflow.rules import load_rules
from tracker.oversight.statistics import Count, Period, default_period, make_period, med_statistics

RULES = load_rules()


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN)


#: when the statistics are read, and the half-year since the March MED meeting
NOW = at(9, 10, 12)
PERIOD = Period(date(2026, 3, 15), date(2026, 9, 14))


@dataclass
class Dataset:
    refs: dict[int, str]  #: case number in the docstring below → reference
    emails: dict[str, str]


def build_dataset(rt) -> Dataset:
    """Jobcenter (A) and Borgerservice (B) with cases 1-8, Tandplejen without cases.

    1 A facebook, threat, reported after 37 h, author refused, platform removed it (verified 96 h), closed
    2 A x, harassment, reported after 121 h, author removed it (not verified)
    3 A facebook, not assessed, police report declined, platform no answer
    4 B youtube, bullying, not reported (overdue), author removed it (verified 48 h)
    5 B upload, not assessed, 28 h after the episode (running); the leader talk is overdue
    6 A generic site, not assessed, episode unknown, platform notice waiting
    7 B facebook, not assessed, police report not applicable, platform notice skipped
    8 A facebook, opened in February (before the period), nothing done: two overdue steps
    """
    with rt.transaction() as s:
        a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
        make_unit(s, "Tandplejen")
        users = {"employee-a": make_user(s, Role.employee, a), "leader-a": make_user(s, Role.leader, a),
                 "amr-a": make_user(s, Role.amr, a), "employee-b": make_user(s, Role.employee, b),
                 "leader-b": make_user(s, Role.leader, b), "amr-b": make_user(s, Role.amr, b),
                 "hr": make_user(s, Role.hr), "admin": make_user(s, Role.admin)}
        emails = {k: u.email for k, u in users.items()}
    upload_sha = rt.blobs.put(png_bytes())

    def opened(number: int, when: datetime, unit: str, url: str | None, episode: datetime | None) -> int:
        with time_machine.travel(when, tick=False), rt.transaction() as s:
            reporter = s.get(User, ids[f"employee-{unit}"])
            if url is None:
                case = open_case(s, reporter, Report(url=None, episode_at=episode, description="Skærmbillede",
                                                     upload_sha256=upload_sha, upload_filename="skaermbillede.png"))
            else:
                case = make_case(s, reporter, url=url, episode_at=episode)
            refs[number] = case.ref
            return case.id

    with rt.Session() as s:
        ids = {k: s.execute(select(User.id).where(User.email == e)).scalar_one() for k, e in emails.items()}
    refs: dict[int, str] = {}
    fb = "https://www.facebook.com/groups/borgere/posts/{}"
    c1 = opened(1, at(4, 2, 10), "a", fb.format(1), at(4, 1, 20))
    c2 = opened(2, at(4, 20, 9), "a", "https://x.com/vred_borger/status/2", at(4, 15, 9))
    c6 = opened(6, at(5, 5, 10), "a", "https://example.org/blog/6", None)
    c7 = opened(7, at(5, 20, 10), "b", fb.format(7), at(5, 19, 10))
    c3 = opened(3, at(6, 10, 8), "a", fb.format(3), at(6, 9, 22))
    c4 = opened(4, at(7, 1, 12), "b", "https://www.youtube.com/watch?v=abc4", at(6, 30, 12))
    opened(5, at(9, 9, 10), "b", None, at(9, 9, 8))
    opened(8, at(2, 1, 10), "a", fb.format(8), at(1, 31, 10))

    with time_machine.travel(NOW - timedelta(days=1), tick=False), rt.transaction() as s:
        case = {n: s.execute(select(Case).where(Case.ref == ref)).scalar_one() for n, ref in refs.items()}
        la, lb = s.get(User, ids["leader-a"]), s.get(User, ids["leader-b"])
        now = NOW - timedelta(days=1)
        for n, leader in ((1, la), (2, la), (3, la), (6, la), (7, lb)):
            steps.set_state(s, case[n], "leader_conversation", "done", leader, done_at=case[n].created_at,
                            rules=RULES, now=now)
        lifecycle.set_category(s, case[1], la, "digital_threat")
        lifecycle.set_category(s, case[2], la, "digital_harassment")
        lifecycle.set_category(s, case[4], lb, "digital_bullying")
        steps.set_state(s, case[1], "police_report", "done", la, done_at=at(4, 3, 9), rules=RULES, now=now)
        steps.set_state(s, case[2], "police_report", "done", la, done_at=at(4, 20, 10), rules=RULES, now=now)
        steps.decline_police_report(s, case[3], la, "Medarbejderen ønsker ikke at anmelde; notat i InsuBiz",
                                    rules=RULES, now=now)
        steps.set_state(s, case[7], "police_report", "not_applicable", lb, reason="Registreret hos politiet",
                        rules=RULES, now=now)
        rung = steps.record_rung
        rung(s, case[1], "request_to_author", la, at(4, 3, 10), "Brev", None, "refused", None, rules=RULES, now=now)
        rung(s, case[1], "platform_notice", la, at(4, 4, 9), "DSA-formular", "FB-1", None, None, rules=RULES, now=now)
        rung(s, case[2], "request_to_author", la, at(4, 20, 11), "E-mail", None, "removed", None, rules=RULES, now=now)
        rung(s, case[3], "platform_notice", la, at(6, 11, 9), "DSA-formular", None, "no_answer", None,
             rules=RULES, now=now)
        rung(s, case[4], "request_to_author", lb, at(7, 1, 13), "Brev", None, None, None, rules=RULES, now=now)
        rung(s, case[6], "platform_notice", la, at(5, 6, 10), "E-mail", None, None, None, rules=RULES, now=now)
        steps.set_state(s, case[7], "platform_notice", "skipped", lb, reason="Opslaget var allerede slettet",
                        rules=RULES, now=now)
        citizen = Offender(platform="facebook", handle="vred.borger", kind=OffenderKind.aggrieved_citizen)
        relative = Offender(platform="facebook", handle="soren.s", kind=OffenderKind.grieving_relative)
        querulant = Offender(platform="youtube", handle="kommunewatch", kind=OffenderKind.professional_querulant)
        s.add_all([citizen, relative, querulant])
        s.flush()
        s.add_all([CaseOffender(case_id=c1, offender_id=citizen.id, state="confirmed"),
                   CaseOffender(case_id=c2, offender_id=citizen.id, state="suggested"),
                   CaseOffender(case_id=c2, offender_id=querulant.id, state="dismissed"),
                   CaseOffender(case_id=c3, offender_id=relative.id, state="confirmed"),
                   CaseOffender(case_id=c4, offender_id=querulant.id, state="confirmed")])

    def verify_removal(case_id: int, rung_id: str, checks: tuple[datetime, datetime], leader: str) -> None:
        with rt.Session() as s:
            baseline = s.get(Case, case_id).evidence[0].id
        with time_machine.travel(checks[0] - timedelta(hours=1), tick=False):
            store_bundle(rt, baseline, sealed(manifest()))
        for when in checks:
            with time_machine.travel(when, tick=False):
                finish(rt, start_recheck(rt, case_id, baseline), gone())
        with time_machine.travel(checks[1] + timedelta(hours=1), tick=False), rt.transaction() as s:
            case = s.get(Case, case_id)
            steps.record_verified_removal(s, case, rung_id, verified_removal(s, case), s.get(User, ids[leader]),
                                          rules=RULES)

    verify_removal(c1, "platform_notice", (at(4, 5, 10), at(4, 6, 10)), "leader-a")
    verify_removal(c4, "request_to_author", (at(7, 2, 12), at(7, 3, 12)), "leader-b")
    with time_machine.travel(at(4, 7, 9), tick=False), rt.transaction() as s:
        lifecycle.close_case(s, s.get(Case, c1), s.get(User, ids["leader-a"]), "Fjernet og fulgt op")
    return Dataset(refs, emails)


def stats_for(rt, email: str, period: Period = PERIOD):
    with rt.Session() as s:
        viewer = s.execute(select(User).where(User.email == email)).scalar_one()
        return med_statistics(s, viewer, period, RULES, NOW)


def as_dict(rows: list[Count]) -> dict[str, int]:
    return {r.key: r.count for r in rows}


def test_hr_sees_exact_counts_for_every_unit_in_the_period(runtime):
    data = build_dataset(runtime)
    st = stats_for(runtime, data.emails["hr"])
    r = data.refs
    assert st.total == 7  # case 8 was opened before the period
    assert [(c.key, c.count) for c in st.per_month] == [
        ("2026-03", 0), ("2026-04", 2), ("2026-05", 2), ("2026-06", 1), ("2026-07", 1), ("2026-08", 0),
        ("2026-09", 1)]
    assert [(c.key, c.count) for c in st.per_unit] == [("Borgerservice", 3), ("Jobcenter", 4), ("Tandplejen", 0)]
    assert [(c.key, c.count) for c in st.per_platform] == [
        ("facebook", 3), ("generic", 1), ("none", 1), ("x", 1), ("youtube", 1)]
    assert as_dict(st.per_category) == {"digital_threat": 1, "digital_bullying": 1, "digital_harassment": 1,
                                        "not_assessed": 4}
    assert as_dict(st.per_offender_kind) == {"grieving_relative": 1, "aggrieved_citizen": 2,
                                             "professional_querulant": 1, "unknown": 0, "none": 3}
    assert st.police.counts == {"in_time": 1, "late": 1, "declined": 1, "overdue": 1, "running": 1, "closed": 1,
                                "unknown_episode": 1}
    assert st.police.ended == 5 and st.police.rate_in_time == pytest.approx(0.2)
    takedown = {t.step_id: (t.counts, t.verified) for t in st.takedown}
    assert list(takedown) == ["request_to_author", "platform_notice", "datatilsynet_complaint", "injunction"]
    assert takedown["request_to_author"] == ({"removed": 2, "partly_removed": 0, "refused": 1, "no_answer": 0,
                                              "waiting": 0, "skipped": 0}, 1)
    assert takedown["platform_notice"] == ({"removed": 1, "partly_removed": 0, "refused": 0, "no_answer": 1,
                                            "waiting": 1, "skipped": 1}, 1)
    assert sum(takedown["injunction"][0].values()) == 0
    assert st.removal.count == 2 and st.removal.median == timedelta(hours=72)  # 96 h and 48 h
    assert [(o.step_id, o.refs) for o in st.overdue] == [
        ("leader_conversation", (r[8], r[4], r[5])), ("police_report", (r[8], r[4]))]


def test_a_leader_of_unit_b_sees_only_unit_bs_numbers(runtime):
    data = build_dataset(runtime)
    for who in ("leader-b", "amr-b"):
        st = stats_for(runtime, data.emails[who])
        assert st.total == 3
        assert [(c.key, c.count) for c in st.per_unit] == [("Borgerservice", 3)]
        assert as_dict(st.per_platform) == {"facebook": 1, "none": 1, "youtube": 1}
        assert st.police.counts == {"in_time": 0, "late": 0, "declined": 0, "overdue": 1, "running": 1,
                                    "closed": 1, "unknown_episode": 0}
        assert st.removal.count == 1 and st.removal.median == timedelta(hours=48)
        r = data.refs
        assert [(o.step_id, o.refs) for o in st.overdue] == [
            ("leader_conversation", (r[4], r[5])), ("police_report", (r[4],))]


def test_a_period_counts_cases_by_their_copenhagen_opening_day_both_ends_included(runtime):
    data = build_dataset(runtime)
    hr = data.emails["hr"]
    assert stats_for(runtime, hr, make_period(date(2026, 4, 2), date(2026, 4, 20))).total == 2  # cases 1 and 2
    assert stats_for(runtime, hr, make_period(date(2026, 4, 3), date(2026, 4, 19))).total == 0
    early = stats_for(runtime, hr, make_period(date(2026, 1, 1), date(2026, 2, 28)))
    assert early.total == 1 and early.police.counts["overdue"] == 1
    assert [c.key for c in early.per_month] == ["2026-01", "2026-02"]


def test_a_reversed_or_absurd_period_is_refused():
    with pytest.raises(DomainError) as exc:
        make_period(date(2026, 9, 1), date(2026, 3, 1))
    assert exc.value.code == "period_reversed"
    with pytest.raises(DomainError):
        make_period(date(1999, 1, 1), date(2026, 3, 1))
    with pytest.raises(DomainError):
        make_period(date(2001, 1, 1), date(2026, 3, 1))


def test_the_default_period_runs_from_the_previous_med_meeting_to_today():
    assert default_period("03-15,09-15", date(2026, 9, 1)) == Period(date(2026, 3, 15), date(2026, 9, 1))
    assert default_period("03-15,09-15", date(2026, 3, 15)) == Period(date(2025, 9, 15), date(2026, 3, 15))
    assert default_period("09-15, 03-15", date(2027, 1, 2)) == Period(date(2026, 9, 15), date(2027, 1, 2))
    assert default_period("13-45", date(2026, 9, 1)) == Period(date(2026, 3, 2), date(2026, 9, 1))  # 6 months


# -- MED dates and the reminder --------------------------------------------------------------------
def test_the_next_med_dates_come_from_the_settings_and_wrap_around_the_year():
    assert med.next_dates("03-15,09-15", date(2026, 9, 16)) == [date(2027, 3, 15), date(2027, 9, 15)]
    assert med.next_dates("03-15,09-15", date(2026, 9, 15)) == [date(2026, 9, 15), date(2027, 3, 15)]
    assert med.next_dates("06-01", date(2026, 6, 2)) == [date(2027, 6, 1), date(2028, 6, 1)]
    assert med.next_dates("02-29", date(2027, 1, 1), 2) == [date(2027, 2, 28), date(2028, 2, 29)]
    for bad in ("13-01", "04-31", "00-10", ""):
        with pytest.raises(DomainError) as exc:
            med.evaluation_days(bad)
        assert exc.value.code == "med_dates_invalid"
    assert med.reminder_window_date("03-15,09-15", 14, date(2026, 8, 31)) is None
    assert med.reminder_window_date("03-15,09-15", 14, date(2026, 9, 1)) == date(2026, 9, 15)
    assert med.reminder_window_date("03-15,09-15", 14, date(2026, 9, 15)) == date(2026, 9, 15)


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def test_the_med_reminder_goes_to_hr_leaders_and_amr_once_from_14_days_before(make_runtime, smtp):
    rt = make_runtime(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="vaern@kommune.test",
                      base_url="https://vaern.kommune.test/", med_evaluation_dates="03-15,09-15", med_reminder_days=14)
    with rt.transaction() as s:
        unit = make_unit(s)
        people = {key: make_user(s, role, unit if role in (Role.employee, Role.leader, Role.amr) else None)
                  for key, role in (("hr", Role.hr), ("leader", Role.leader), ("amr", Role.amr),
                                    ("employee", Role.employee), ("admin", Role.admin), ("gone", Role.leader))}
        people["gone"].active = False
        wanted = sorted(people[k].email for k in ("hr", "leader", "amr"))
        ids = {k: u.id for k, u in people.items()}

    with time_machine.travel(at(8, 31, 23, 30), tick=False):  # 15 days before (Copenhagen): too early
        assert med.send_reminders(rt, datetime.now(COPENHAGEN)) == 0
    with time_machine.travel(at(9, 1, 0, 30), tick=False):  # 14 days before, 22:30 UTC the evening before
        assert med.send_reminders(rt, datetime.now(COPENHAGEN)) == 3
    with time_machine.travel(at(9, 14, 8), tick=False):
        assert med.send_reminders(rt, datetime.now(COPENHAGEN)) == 0  # once per date and person
    assert sorted(to for _, (to,) in smtp.envelopes) == wanted
    msg = smtp.messages[0]
    assert msg["Subject"] == "Værn: MED-evaluering 15.09.2026 / MED evaluation"
    body = msg.get_content()
    assert "om 14 dage" in body and "https://vaern.kommune.test/stats" in body
    with rt.Session() as s:
        keys = set(s.execute(select(NotificationSent.key)).scalars())
    assert keys == {f"med:2026-09-15:{ids[k]}" for k in ("hr", "leader", "amr")}

    with time_machine.travel(at(3, 1, 9, year=2027), tick=False):  # the next meeting: a new reminder
        assert med.send_reminders(rt, datetime.now(COPENHAGEN)) == 3
    assert len(smtp.messages) == 6 and "15.03.2027" in smtp.messages[-1]["Subject"]
