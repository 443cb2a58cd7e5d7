"""The main menu: which pages each role is offered (the routes check the role again on the server)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from storage.models import Role
from tracker.accounts.permissions import can_report


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  #: a lazy translation
    roles: frozenset[Role] | None  #: None: every role that passes ``when``


REPORTERS = frozenset({Role.employee, Role.leader, Role.amr})
ITEMS = (
    NavItem("cases.index", _l("Cases"), None),
    NavItem("report.new", _l("Report harassment"), REPORTERS),
    NavItem("hr.search", _l("Search cases"), frozenset({Role.hr})),
    NavItem("oversight.offenders", _l("Offenders"), frozenset({Role.hr, Role.leader, Role.amr})),
    NavItem("stats.index", _l("Statistics for MED"), frozenset({Role.hr, Role.leader, Role.amr})),
    NavItem("hr.audit", _l("Audit log"), frozenset({Role.hr})),
    NavItem("hr.subject_access", _l("Right of access"), frozenset({Role.hr})),
    NavItem("admin.index", _l("Administration"), frozenset({Role.admin})),
    NavItem("privacy.erase", _l("Data subject requests"), frozenset({Role.hr, Role.admin})),
)


def menu() -> list[NavItem]:
    """The items the signed-in user is offered, for pages that exist in this app."""
    if not current_user.is_authenticated:
        return []
    user = current_user.user
    items = []
    for item in ITEMS:
        if item.endpoint not in current_app.view_functions:
            continue
        if item.roles is not None and user.role not in item.roles:
            continue
        if item.endpoint == "report.new" and not can_report(user):
            continue
        items.append(item)
    return items
