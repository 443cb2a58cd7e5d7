"""Statistics for MED over a small, realistic organisation built with the real operations, on SQLite and
PostgreSQL; the MED dates and the reminder mail against a real SMTP server, with the clock moved.

The organisation itself is built by tests/support/statistics_data.py (the statistics pages use it too).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from storage.models import NotificationSent, Role, User
from tests.support.factories import make_unit, make_user
from tests.support.smtp import Inbox, free_port
from tests.support.statistics_data import NOW, PERIOD, RULES, at, build_dataset
from tracker.oversight import med
from tracker.workflow.deadlines import COPENHAGEN
from tracker.errors import DomainError
from tracker.oversight.statistics import Count, Period, default_period, make_period, med_statistics


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
    assert list(takedown) == ["request_to_author", "platform_notice", "internal_complaint", "dispute_settlement",
                              "datatilsynet_complaint", "injunction"]
    assert takedown["request_to_author"] == ({"removed": 2, "partly_removed": 0, "refused": 1, "no_answer": 0,
                                              "waiting": 0, "skipped": 0}, 1)
    assert takedown["platform_notice"] == ({"removed": 1, "partly_removed": 0, "refused": 0, "no_answer": 1,
                                            "waiting": 1, "skipped": 1}, 1)
    assert sum(takedown["injunction"][0].values()) == 0
    assert st.removal.count == 2 and st.removal.median == timedelta(hours=72)  # 96 h and 48 h
    # the waiting platform notice has neither receipt nor decision after the configured 3 and 7 days (DSA art. 16)
    assert [(o.step_id, o.refs) for o in st.overdue] == [
        ("leader_conversation", (r[8], r[4], r[5])), ("police_report", (r[8], r[4])),
        ("platform_notice", (r[6],)), ("platform_notice", (r[6],))]
    assert {o.rule_id for o in st.overdue if o.step_id == "platform_notice"} == {"dsa_notice_receipt",
                                                                                 "dsa_notice_decision"}


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
