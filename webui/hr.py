"""HR's read-only pages: case search, a case's full history, the audit log (each reading audited by the
tracker function behind it; the filters are GET forms in ``webui.forms.hr``)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from storage.models import Case, OrgUnit, Role, User
from tracker.oversight import history
from tracker.oversight import search
from tracker.errors import DomainError, NotFound
from tracker.packaging import subject_jobs
from webui import labels
from webui.db import db, runtime
from webui.roles import me, role_required
from webui.forms.hr import MESSAGES, AuditLogForm, CaseSearchForm, HistoryForm, SubjectAccessForm
from webui.timefmt import CPH
from webui.workflow import ACTIONS, rules

bp = Blueprint("hr", __name__)

PER_PAGE = 50
CATEGORY_LABELS = {**labels.CATEGORY_LABELS, search.NOT_ASSESSED: labels.NOT_ASSESSED}
STATUS_LABELS = {"open": _l("Open"), "closed": _l("Closed")}
ROLE_LABELS = labels.PERSON_ROLE_LABELS
#: every action the audit log holds today, said plainly; an action not listed is shown as recorded
ACTION_LABELS = ACTIONS  #: one label per audit action, shared with the case timeline
OBJECT_TYPE_LABELS = {
    "case": _l("Case"), "evidence": _l("Evidence"), "artifact": _l("Evidence file"),
    "case_step": _l("Step or rung"), "case_clock": _l("Clock start"), "step_attachment": _l("Step attachment"),
    "letter": _l("Letter"), "recheck": _l("Re-check"), "user": _l("User"), "unit": _l("Unit"),
    "api_token": _l("API token"), "rule_file": _l("Rules file"), "audit_log": _l("Audit log"),
    "offender": _l("Offender"),
}
@bp.app_template_filter("action_text")
def action_text(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@bp.app_template_filter("category_text")
def category_text(category: str | None) -> str:
    return str(CATEGORY_LABELS.get(category or search.NOT_ASSESSED, category))


@bp.app_template_filter("thousands")
def thousands(n: int) -> str:
    """1.000 in Danish, 1,000 in English."""
    return format_decimal(n)


@bp.app_template_filter("role_text")
def role_text(role: Role) -> str:
    return str(ROLE_LABELS.get(role, role))


# -- the pages ----------------------------------------------------------------------------------
def _start(field) -> datetime | None:
    """The start of that Danish day."""
    return datetime.combine(field.day, time(), CPH) if field.day else None


def _end(field) -> datetime | None:
    """The start of the Danish day after (the filter includes the whole day typed)."""
    return datetime.combine(field.day + timedelta(days=1), time(), CPH) if field.day else None


@bp.get("/hr/cases", endpoint="search")
@role_required(Role.hr)
def search_page():
    session, user, form = db(), me(), CaseSearchForm()
    values, errors = form.texts(), form.problems()
    values.pop("after")
    filters = None
    if not errors:
        try:
            filters = search.CaseFilters(
                employee=values["employee"], unit_id=form.unit.number, offender=values["offender"],
                platform=values["platform"], category=values["category"], status=values["status"],
                created_from=_start(form.start), created_to=_end(form.end), text=values["q"])
        except DomainError as exc:
            errors[exc.field or "form"] = MESSAGES.get(exc.code, MESSAGES["bad_number"])
    result = None
    if filters is not None:
        result = search.find_cases(session, user, filters, after=form.after.number, per_page=PER_PAGE, asked=values)
    units = list(session.execute(select(OrgUnit).order_by(OrgUnit.name)).scalars())
    platforms = sorted(runtime().platforms.platforms, key=lambda p: str(p.name).casefold())
    return render_template(
        "hr/search.html", values=values, errors=errors, result=result,
        unit_options=[(u.id, u.name) for u in units], platform_options=[(p.id, p.name) for p in platforms],
        platform_names={p.id: p.name for p in platforms}, categories=CATEGORY_LABELS, statuses=STATUS_LABELS,
        count_cap=search.COUNT_CAP, page_args=form.link_args("after"), first_page=form.after.data)


@bp.get("/hr/cases/<ref>/history", endpoint="case_history")
@role_required(Role.hr)
def case_history(ref: str):
    form = HistoryForm()
    try:
        case, page = history.case_history(db(), me(), ref, after=form.after.number, rules=rules(),
                                          lang=str(get_locale()))
    except NotFound:
        abort(404)
    return render_template("hr/history.html", case=case, page=page, page_args=form.link_args("after"),
                           first_page=form.after.number is not None)


@bp.get("/hr/audit", endpoint="audit")
@role_required(Role.hr)
def audit_page():
    session, user, form = db(), me(), AuditLogForm()
    values, errors = form.texts(), form.problems()
    values.pop("before")
    before = form.before.number
    page = None
    if not errors:
        filters = history.AuditFilters(actor=values["actor"], system_only=bool(values["system"]),
                                       action=values["action"], case_ref=values["case"],
                                       object_type=values["object_type"], at_from=_start(form.start),
                                       at_to=_end(form.end))
        page = history.audit_log(session, user, filters, before=before, rules=rules(), lang=str(get_locale()))
    actions = sorted(set(history.audit_actions(session)) | set(ACTION_LABELS) | ({values["action"]} - {""}),
                     key=lambda a: action_text(a).casefold())
    return render_template(
        "hr/audit.html", values=values, errors=errors, page=page,
        action_options=[(a, action_text(a)) for a in actions], case_refs=_case_refs(page),
        object_types={**OBJECT_TYPE_LABELS, **({values["object_type"]: values["object_type"]}
                                               if values["object_type"] not in OBJECT_TYPE_LABELS | {"": ""} else {})},
        page_args=form.link_args("before"), first_page=before is not None)


@bp.route("/hr/subject-access", methods=["GET", "POST"], endpoint="subject_access")
@role_required(Role.hr)
def subject_access():
    """The right of access (GDPR art. 15): HR picks a person, a job builds the package, HR downloads it."""
    session, user = db(), me()
    people = list(session.execute(select(User).order_by(User.name, User.id)).scalars())
    form = SubjectAccessForm()
    form.person.choices = [(p.id, f"{p.name} ({p.email})") for p in people]
    if form.validate_on_submit():
        job = subject_jobs.request_subject_export(session, user, session.get(User, form.person.data))
        flash(_("Værn is building the access package (job no. %(id)s). It is listed below when it is ready.",
                id=job.id), "ok")
        return redirect(url_for("hr.subject_access"))
    return render_template("hr/subject_access.html", form=form, people=people,
                           jobs=subject_jobs.jobs_for(runtime(), session, user),
                           keep_hours=int(subject_jobs.KEEP_FOR.total_seconds() // 3600)), 400 if form.errors else 200


@bp.get("/hr/subject-access/<int:job_id>/download", endpoint="subject_access_download")
@role_required(Role.hr)
def subject_access_download(job_id: int):
    try:
        path, name, info = subject_jobs.take_file(runtime(), db(), me(), job_id)
    except NotFound:
        abort(404)
    resp = send_file(path, mimetype="application/zip", as_attachment=True, download_name=name, max_age=0)
    resp.headers["X-Evidence-SHA256"] = info["sha256"]
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _case_refs(page: history.Page | None) -> dict[int, str]:
    ids = {e.event.case_id for e in page.entries if e.event.case_id} if page else set()
    return dict(db().execute(select(Case.id, Case.ref).where(Case.id.in_(ids))).all()) if ids else {}


def page_url(endpoint: str, args: dict, extra: dict | None = None, cursor_name: str | None = None,
             cursor: int | None = None) -> str:
    """The same page with the same filters, at ``cursor`` (None: the first page)."""
    values = {**args, **(extra or {})}
    if cursor_name and cursor is not None:
        values[cursor_name] = cursor
    return url_for(endpoint, **values)


bp.add_app_template_global(page_url, "hr_page_url")
