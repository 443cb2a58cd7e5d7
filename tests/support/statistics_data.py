"""A small, realistic organisation for the MED statistics: built with the real operations, clock moved.

Shared by tests/integration/test_statistics.py and tests/e2e/test_stats_pages.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import time_machine
from sqlalchemy import select

from storage.models import Case, CaseOffender, Offender, OffenderKind, Role, User
from tests.support.factories import make_case, make_unit, make_user, png_bytes
from tests.support.recheck_captures import finish, gone, manifest, sealed
from tracker.cases import lifecycle
from tracker.cases.evidence import store_bundle
from tracker.cases.register import Report, open_case
from tracker.oversight.statistics import Period
from tracker.workflow import steps
from tracker.workflow.deadlines import COPENHAGEN
from tracker.workflow.recheck import start_recheck, verified_removal
from tracker.workflow.rules import load_rules

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
