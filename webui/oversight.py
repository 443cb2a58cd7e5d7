"""Offenders across cases and near-duplicate evidence: the offender pages, the offender forms on the
case page, and what the case page shows about both (``case_context``).

A case you cannot see is a 404; the forms answer 404 to roles that never change offenders (employee,
AMR, admin) and a calm 403 to a leader who may read but not change the case.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from storage.models import Case, OffenderKind, Role, User
from tracker.oversight import offenders as ops
from tracker.oversight import similar
from tracker.errors import NotFound
from tracker.workflow.steps import can_manage_case
from webui.db import db, runtime
from webui.forms.oversight import (OffenderAddForm, OffenderDecisionForm, OffenderPageForm, OffenderProfileForm,
                                   checked)
from webui.labels import OFFENDER_KIND_LABELS
from webui.roles import me, role_required
from webui.workflow import run_on_case

bp = Blueprint("oversight", __name__)

PER_PAGE = 50
CASES_LISTED = 20  #: other cases named per offender on the case page (the count covers all)

#: the guideline's offender types (DOMAIN.md "Offender types")
KINDS = {OffenderKind.unknown.value: _l("Not assessed yet"), **OFFENDER_KIND_LABELS}
KIND_HINTS = {
    OffenderKind.grieving_relative.value: _l("Often in the care sector; publishes personal information about "
                                             "the staff who handled the case."),
    OffenderKind.aggrieved_citizen.value: _l("Had a bad experience and exposes the employee on Facebook or blogs."),
    OffenderKind.professional_querulant.value: _l("Has no direct interest in the case; runs a public pillory of "
                                                  "employees' work."),
}
LINK_STATES = {ops.SUGGESTED: _l("Suggested"), ops.CONFIRMED: _l("Confirmed"), ops.DISMISSED: _l("Dismissed")}
MESSAGES = {
    "handle_missing": _l("Write the profile's name on the platform (the handle)."),
    "bad_profile_url": _l("The profile address must start with http:// or https://."),
    "bad_platform": _l("Choose a platform from the list."),
    "bad_kind": _l("Choose a type from the list."),
    "text_too_long": _l("The text is too long."),
}


def platform_choices() -> list[tuple[str, str]]:
    return [(p.id, p.name) for p in runtime().platforms.platforms]


@bp.app_template_global("platform_name")
def platform_name(platform_id: str) -> str:
    return dict(platform_choices()).get(platform_id, platform_id)


# -- on the case page -----------------------------------------------------------------------------
def case_context(case: Case, user: User) -> dict:
    """The offenders of the case and, per evidence, look-alikes in other cases (the index's first load may
    backfill columns of older evidence: the request commits that with the page)."""
    session = db()
    views = ops.offenders_on_case(session, case, user)
    near = similar.similar_for_case(session, case, user, runtime().blobs)
    return dict(
        offender_views=views, near_duplicates=near, can_edit_offenders=can_manage_case(user, case),
        can_open_offenders=user.role in ops.OVERSIGHT_ROLES, offender_kinds=KINDS, offender_kind_hints=KIND_HINTS,
        link_states=LINK_STATES, offender_platforms=platform_choices(), similar_thresholds=similar.THRESHOLDS,
        cases_listed=CASES_LISTED,
    )


def _run(ref: str, operation, done: str):
    """Call one operation on the case (``run_on_case``: in a savepoint) and go back to the offender section."""
    return run_on_case(ref, "offenders", operation, done, messages=MESSAGES,
                       forbidden=_("You can read this case, but only the unit's leader and HR can "
                                   "change who is behind it."))


@bp.post("/cases/<ref>/offenders")
@role_required(Role.leader, Role.hr)
def add(ref: str):
    def op(session, case):
        f = checked(OffenderAddForm())
        ops.add_by_hand(session, case, me(), platform=f.platform.data, handle=f.handle.data,
                        profile_url=f.profile_url.data or None, display_name=f.display_name.data or None,
                        known_platforms=tuple(p for p, _name in platform_choices()))
    return _run(ref, op, _("The profile is added to the case."))


@bp.post("/cases/<ref>/offenders/<int:link_id>/decision")
@role_required(Role.leader, Role.hr)
def decide(ref: str, link_id: int):
    form = OffenderDecisionForm()
    state = form.state.data or ""

    def op(session, case):
        ops.decide(session, case, link_id, checked(form).state.data or "", me())
    return _run(ref, op, _("The profile is confirmed.") if state == ops.CONFIRMED
                else _("The suggestion is dismissed."))


@bp.post("/cases/<ref>/offenders/<int:link_id>/profile")
@role_required(Role.leader, Role.hr)
def profile(ref: str, link_id: int):
    def op(session, case):
        f = checked(OffenderProfileForm())
        ops.update_profile(session, case, link_id, me(), kind=f.kind.data or "", note=f.note.data,
                           display_name=f.display_name.data)
    return _run(ref, op, _("Saved."))


# -- the offender pages ---------------------------------------------------------------------------
@bp.get("/offenders")
@role_required(*ops.OVERSIGHT_ROLES)
def offenders():
    try:
        listed = ops.list_offenders(db(), me(), page=OffenderPageForm().page.number or 1, per_page=PER_PAGE)
    except NotFound:
        abort(404)
    return render_template("oversight/offenders.html", rows=listed.rows, total=listed.total, page=listed.page,
                           pages=listed.pages, offender_kinds=KINDS, is_hr=me().role is Role.hr)


@bp.get("/offenders/<int:offender_id>")
@role_required(*ops.OVERSIGHT_ROLES)
def offender(offender_id: int):
    try:
        detail = ops.offender_for(db(), me(), offender_id)
    except NotFound:
        abort(404)
    return render_template("oversight/offender.html", d=detail, offender_kinds=KINDS,
                           offender_kind_hints=KIND_HINTS, link_states=LINK_STATES)
