"""Statistics for MED: the page (charts beside tables), the CSV download, the charts as SVG, and the
next MED evaluation dates with their countdown.

HR sees every unit; a leader or AMR their own unit (``tracker.accounts.permissions.visible_cases``); employees
and admins get 404. Viewing the page (``stats.view``) and downloading the CSV (``stats.export``) are
audit events whose object is the period (``2026-03-15_2026-09-14``). The charts show exactly the page's
numbers and are not logged again.

CSV, chosen for Excel on Danish Windows: UTF-8 with a byte-order mark (so æøå open right), semicolon
separators, CRLF line ends, decimal comma. Tidy long format, one number per row:
``statistic;key;label;value`` — ``statistic`` and ``key`` are stable English ids (e.g.
``police_report_72h;in_time``), ``label`` is in the reader's language, the header row too. A text cell
that a spreadsheet would run as a formula (=, +, -, @) is prefixed with an apostrophe.
"""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, render_template, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from storage.models import Role
from storage.types import utcnow
from tracker.oversight import med
from tracker.errors import DomainError
from tracker.oversight.statistics import (NO_PLATFORM, POLICE_BUCKETS, READERS, RUNG_BUCKETS, Count, MedStatistics,
                                         Period, default_period, make_period, read_statistics)
from webui import charts
from webui.db import db, runtime
from webui.forms.oversight import PeriodForm
from webui.labels import CATEGORY_LABELS, NOT_ASSESSED, OFFENDER_KIND_LABELS
from webui.roles import me, role_required
from webui.workflow import OUTCOMES, label, rules

bp = Blueprint("stats", __name__)

CATEGORIES = {**CATEGORY_LABELS, "not_assessed": NOT_ASSESSED}
OFFENDER_KINDS = {
    **OFFENDER_KIND_LABELS, "unknown": _l("Type not assessed"),
    "none": _l("No offender recorded"),
}
POLICE = {
    "in_time": _l("Reported within 72 hours"),
    "late": _l("Reported after 72 hours"),
    "declined": _l("The employee did not want a report (leader's note)"),
    "overdue": _l("Not reported, and the 72 hours have passed"),
    "running": _l("Not reported yet, still within 72 hours"),
    "closed": _l("Step skipped or not applicable"),
    "unknown_episode": _l("Time of the episode unknown"),
}
RUNG = {**{k: OUTCOMES[k] for k in ("removed", "partly_removed", "refused", "no_answer")},
        "waiting": _l("Waiting for an answer"), "skipped": _l("Skipped or not applicable")}
#: chart name → its heading (also the start of the image's text alternative)
CHARTS = {
    "months": _l("Cases per month"), "units": _l("Cases per unit"), "platforms": _l("Cases per platform"),
    "categories": _l("Cases per category"), "offenders": _l("Cases per offender type"),
    "police": _l("Police report within 72 hours"), "takedown": _l("Takedown outcomes per rung"),
    "overdue": _l("Open overdue steps"),
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- reading the request --------------------------------------------------------------------------
def _period(form: PeriodForm) -> Period:
    """The period asked for; a missing end is taken from the default (since the last MED meeting)."""
    for field in (form.start, form.end):
        if field.errors:
            raise DomainError("bad_date", f"{field.name} is not a date", field.name)
    default = default_period(runtime().settings.med_evaluation_dates, med.local_today(utcnow()))
    return make_period(form.start.day or default.start, form.end.day or default.end)


def _period_args(period: Period) -> dict[str, str]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


def _statistics(period: Period, purpose: str) -> MedStatistics:
    """Read (and, for the page and the CSV, audit) the statistics through the one tracker function."""
    return read_statistics(db(), me(), period, rules(), utcnow(), purpose=purpose)


# -- labels ---------------------------------------------------------------------------------------
def month_label(key: str) -> str:
    year, month = (int(x) for x in key.split("-"))
    return format_date(date(year, month, 1), "LLLL yyyy")


def platform_label(key: str) -> str:
    if key == NO_PLATFORM:
        return _("Uploaded file (no address)")
    try:
        return runtime().platforms.get(key).name
    except KeyError:
        return key


def overdue_label(rule_id: str) -> str:
    """What is overdue, said by its deadline (shorter and plainer than the step's full label)."""
    return label(rules().deadlines[rule_id])


def _labelled(rows: list[Count], names) -> list[tuple[str, str, int]]:
    """(key, label, count) rows; ``names`` is a dict or a function of the key."""
    get = names if callable(names) else (lambda k: str(names.get(k, k)))
    return [(r.key, get(r.key), r.count) for r in rows]


def tables(st: MedStatistics) -> dict[str, list[tuple[str, str, int]]]:
    """Every simple count table of the page and the CSV as (key, label, count) rows."""
    return {
        "months": _labelled(st.per_month, month_label),
        "units": _labelled(st.per_unit, lambda k: k),
        "platforms": _labelled(st.per_platform, platform_label),
        "categories": _labelled(st.per_category, CATEGORIES),
        "offenders": _labelled(st.per_offender_kind, OFFENDER_KINDS),
        "police": [(k, str(POLICE[k]), st.police.counts[k]) for k in POLICE_BUCKETS],
    }


def rung_rows(st: MedStatistics) -> list[tuple[str, str, dict[str, int], int]]:
    return [(t.step_id, label(rules().step(t.step_id)), t.counts, t.verified) for t in st.takedown]


def days_text(days: int) -> str:
    """"i dag", "i morgen", "om 23 dage"."""
    if days == 0:
        return _("today")
    if days == 1:
        return _("tomorrow")
    return ngettext("in %(num)d day", "in %(num)d days", days)


def duration_text(span) -> str:
    """A median duration: hours under two days, else days with one decimal (Danish comma)."""
    hours = span.total_seconds() / 3600
    if hours < 48:
        return _("%(num)s hours", num=format_decimal(round(hours, 1), format="#,##0.#"))
    return _("%(num)s days", num=format_decimal(round(hours / 24, 1), format="#,##0.0"))


def percent(share: float | None) -> str:
    return "" if share is None else format_decimal(round(share * 100, 1), format="#,##0.0")


def med_box(today: date) -> dict:
    """The next two evaluation dates with their countdown, or an error flag if the setting is unusable."""
    settings = runtime().settings
    try:
        dates = med.next_dates(settings.med_evaluation_dates, today, 2)
    except DomainError:
        return {"error": True}
    return {"error": False, "reminder_days": settings.med_reminder_days,
            "dates": [(d, d.strftime("%d.%m.%Y"), days_text((d - today).days)) for d in dates]}


# -- pages ----------------------------------------------------------------------------------------
@bp.get("/stats")
@role_required(*READERS)
def index():
    today = med.local_today(utcnow())
    form = PeriodForm()
    try:
        period = _period(form)
    except DomainError as exc:
        return render_template("stats/index.html", st=None, error=_period_error(exc.code), form=form.texts(),
                               med=med_box(today)), 400
    st = _statistics(period, "view")
    args = _period_args(period)
    return render_template(
        "stats/index.html", st=st, error=None, form=args, med=med_box(today), tables=tables(st),
        rungs=rung_rows(st), RUNG=RUNG, RUNG_BUCKETS=RUNG_BUCKETS, CHARTS=CHARTS,
        chart_urls={name: url_for("stats.chart", name=name, **args) for name in CHARTS},
        csv_url=url_for("stats.csv", **args), rate=percent(st.police.rate_in_time),
        median=duration_text(st.removal.median) if st.removal.median is not None else None,
        overdue=[(overdue_label(o.rule_id), o) for o in st.overdue],
        is_hr=me().role is Role.hr)


def _period_error(code: str) -> str:
    return {
        "period_reversed": _("The period ends before it starts. Check the dates."),
        "period_too_long": _("Choose a period of at most ten years."),
        "period_too_old": _("The period starts before the year 2000. Check the year."),
    }.get(code, _("A date could not be read. Write it as day.month.year, e.g. 15.03.2026."))


def _period_or_400() -> Period:
    try:
        return _period(PeriodForm())
    except DomainError:
        abort(400)


@bp.get("/stats/charts/<name>.svg")
@role_required(*READERS)
def chart(name: str):
    if name not in CHARTS:
        abort(404)
    st = _statistics(_period_or_400(), "chart")
    axis = _("Cases")
    if name == "takedown":
        rows = rung_rows(st)
        svg = charts.stacked_chart([r[1] for r in rows],
                                   [(str(RUNG[b]), [r[2][b] for r in rows]) for b in RUNG_BUCKETS], axis_label=axis)
    elif name == "overdue":
        svg = charts.bar_chart([overdue_label(o.rule_id) for o in st.overdue],
                               [o.count for o in st.overdue], axis_label=axis)
    else:
        rows = tables(st)[name]
        svg = charts.bar_chart([r[1] for r in rows], [r[2] for r in rows], horizontal=name != "months",
                               axis_label=axis)
    resp = Response(svg, mimetype="image/svg+xml")
    # opened on its own, the image may use its inline styles and nothing else
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return resp


# -- CSV ------------------------------------------------------------------------------------------
def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def csv_rows(st: MedStatistics) -> list[tuple[str, str, str, str]]:
    """The statistics as (statistic, key, label, value) rows, in the page's order."""
    rows = [("period", "from", _("From"), st.period.start.isoformat()),
            ("period", "to", _("To"), st.period.end.isoformat()),
            ("cases", "total", _("Cases in the period"), str(st.total))]
    names = {"months": "cases_per_month", "units": "cases_per_unit", "platforms": "cases_per_platform",
             "categories": "cases_per_category", "offenders": "cases_per_offender_type",
             "police": "police_report_72h"}
    for name, table in tables(st).items():
        rows += [(names[name], key, text, str(count)) for key, text, count in table]
    rate = st.police.rate_in_time
    rows.append(("police_report_72h", "rate_in_time_percent", _("Share reported within 72 hours (%)"),
                 "" if rate is None else _decimal(rate * 100)))
    for step_id, step_name, counts, verified in rung_rows(st):
        rows += [("takedown_outcome", f"{step_id}:{b}", f"{step_name}: {RUNG[b]}", str(counts[b]))
                 for b in RUNG_BUCKETS]
        rows.append(("takedown_outcome", f"{step_id}:verified", f"{step_name}: {_('verified by a new capture')}",
                     str(verified)))
    median = st.removal.median
    rows += [("verified_removal", "count", _("Cases with a verified removal"), str(st.removal.count)),
             ("verified_removal", "median_hours", _("Median hours from the case was opened to verified removal"),
              "" if median is None else _decimal(median.total_seconds() / 3600))]
    rows += [("open_overdue_steps", o.step_id or o.rule_id, overdue_label(o.rule_id), str(o.count))
             for o in st.overdue]
    return rows


@bp.get("/stats.csv", endpoint="csv")
@role_required(*READERS)
def csv_download():
    period = _period_or_400()
    st = _statistics(period, "export")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow([_("statistic"), _("key"), _("label"), _("value")])
    writer.writerows([_cell(v) for v in row] for row in csv_rows(st))
    resp = Response(("\ufeff" + buf.getvalue()).encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="vaern-statistik_{period.label}.csv"'
    return resp

