"""MED evaluations: when the local handling is next evaluated, and the reminder e-mail before each one.

The guideline has MED evaluate the handling of digital harassment twice a year; the municipality sets
the days as ``med_evaluation_dates`` (MM-DD, comma-separated; default 15 March and 15 September). Dates
are Copenhagen calendar days. ``med_reminder_days`` before each date (and until the date itself, should
a sweep be missed) HR, every leader and every AMR get one reminder mail, keyed ``med:<date>:<user id>``.
The mail carries only the date and the link to the statistics page, no case content.
"""
from __future__ import annotations

import calendar
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.models import Role, User
from tracker.workflow.deadlines import COPENHAGEN
from tracker.errors import DomainError
from tracker.settings import parse_month_days

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

log = logging.getLogger(__name__)

#: who is reminded: those who read the statistics and bring them to MED
REMINDED_ROLES = (Role.hr, Role.leader, Role.amr)
REMINDER_KIND = "med_reminder"


def evaluation_days(spec: str) -> list[tuple[int, int]]:
    """The (month, day) pairs of ``med_evaluation_dates``, sorted, duplicates removed.

    Raises DomainError("med_dates_invalid") naming the bad entry (e.g. 13-01 or 04-31). 29 February is
    allowed and falls on 28 February in other years.
    """
    try:
        return parse_month_days(spec)
    except ValueError as exc:
        raise DomainError("med_dates_invalid", f"VAERN_MED_EVALUATION_DATES: {exc}", "med_evaluation_dates") from None


def _on(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _dates_around(spec: str, today: date) -> list[date]:
    days = evaluation_days(spec)
    return [_on(year, m, d) for year in (today.year - 1, today.year, today.year + 1) for m, d in days]


def next_dates(spec: str, today: date, count: int = 2) -> list[date]:
    """The next ``count`` evaluation dates on or after ``today``."""
    upcoming = [d for d in _dates_around(spec, today) if d >= today]
    upcoming += [_on(today.year + 2, m, d) for m, d in evaluation_days(spec)]  # count > dates per year
    return sorted(upcoming)[:count]


def previous_date(spec: str, today: date) -> date:
    """The latest evaluation date before ``today``: where the statistics' default period starts."""
    return max(d for d in _dates_around(spec, today) if d < today)


def local_today(now: datetime) -> date:
    return now.astimezone(COPENHAGEN).date()


def reminder_window_date(spec: str, reminder_days: int, today: date) -> date | None:
    """The evaluation date whose reminder is due ``today`` (from ``reminder_days`` before it up to the
    day itself), or None."""
    for upcoming in next_dates(spec, today, count=len(evaluation_days(spec))):
        if upcoming - timedelta(days=reminder_days) <= today:
            return upcoming
    return None


def reminder_text(base_url: str, evaluation: date, today: date) -> tuple[str, str]:
    """Subject and body of the reminder: the date, how far off, the statistics link (Danish, then English)."""
    when = evaluation.strftime("%d.%m.%Y")
    days = (evaluation - today).days
    link = f"{base_url.rstrip('/')}/stats"
    da_left = "i dag" if days == 0 else ("i morgen" if days == 1 else f"om {days} dage")
    en_left = "today" if days == 0 else ("tomorrow" if days == 1 else f"in {days} days")
    subject = f"Værn: MED-evaluering {when} / MED evaluation"
    body = (f"MED evaluerer den lokale håndtering af digital chikane {when} ({da_left}).\n"
            f"Statistikken til mødet (sager, politianmeldelse inden 72 timer, fjernelser, frister) "
            f"kan ses og hentes som CSV her:\n{link}\n\n"
            f"MED evaluates the local handling of digital harassment on {when} ({en_left}).\n"
            f"The statistics for the meeting can be seen and downloaded as CSV here:\n{link}\n\n"
            "-- \nVærn. Svar ikke på denne e-mail. / Do not reply to this e-mail.\n")
    return subject, body


def send_reminders(rt: "Runtime", now: datetime) -> int:
    """Send the MED reminder to every active HR, leader and AMR user once per evaluation date, from
    ``med_reminder_days`` before it to the day itself. Returns how many mails were sent."""
    if not rt.mail_configured():
        return 0
    settings = rt.settings
    today = local_today(now)
    evaluation = reminder_window_date(settings.med_evaluation_dates, settings.med_reminder_days, today)
    if evaluation is None:
        return 0
    with rt.Session() as session:
        recipients = list(session.execute(select(User.id).where(
            User.role.in_(REMINDED_ROLES), User.active.is_(True)).order_by(User.id)).scalars())
    subject, body = reminder_text(settings.base_url, evaluation, today)
    sent = sum(rt.send_text_once(f"med:{evaluation.isoformat()}:{uid}", uid, REMINDER_KIND, subject, body)
               for uid in recipients)
    if sent:
        log.info("MED reminder for %s sent to %d user(s)", evaluation.isoformat(), sent)
    return sent
