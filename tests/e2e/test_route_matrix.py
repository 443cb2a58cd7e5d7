"""The permission test of issue 5: every role against every route of the app, from one table.

``ROUTES`` holds one line per endpoint: how to build its URL from the test organisation, and for GET and
POST who may use it. Everyone else gets exactly 404 (a page you may not use looks like one that does
not exist); anonymous visitors are sent to the login page (the JSON API answers 401). A person who may
read a case but not change it gets the calm 403 page of the case's own forms. A route the app has but
the table lacks fails the test: a new route cannot land without a permission decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
from sqlalchemy import func, select

from storage.models import Base, Case, Recheck, Role, User
from storage.types import utcnow
from tests.support.factories import PASSWORD, make_case, make_done_evidence, make_settings, make_unit, make_user, png_bytes
from tests.support.database import new_runtime
from tracker.accounts import profiles as profile_ops
from tracker.packaging import exports as export_ops
from tracker.packaging import subject_jobs as subject_ops
from tracker.workflow import letters as letter_ops
from tracker.oversight import offenders as offender_ops
from tracker.workflow import steps as step_ops
from tracker.workflow.rules import load_rules
from tracker.adapters.runtime import Runtime
from tracker.accounts.tokens import create_token
from webui.app import create_app

ANON = "anonymous"
#: (key, role, unit); the case belongs to unit A's "employee-A"
PEOPLE = [
    ("employee-A", "employee", "A"), ("colleague-A", "employee", "A"), ("leader-A", "leader", "A"),
    ("hr-A", "hr", "A"), ("amr-A", "amr", "A"), ("admin-A", "admin", None),
    ("employee-B", "employee", "B"), ("leader-B", "leader", "B"), ("amr-B", "amr", "B"),
]
KEYS = [p[0] for p in PEOPLE]

# -- who is who ---------------------------------------------------------------------------------------
EVERYONE = frozenset(KEYS)
SEES = frozenset({"employee-A", "leader-A", "hr-A", "amr-A"})  #: may read the case (tracker/accounts/permissions.py)
MANAGES = frozenset({"leader-A", "hr-A"})  #: may change the case: its unit's leader and HR
LEADS = frozenset({"leader-A"})  #: the case's unit leader
OVERSIGHT = frozenset({"hr-A", "leader-A", "amr-A", "leader-B", "amr-B"})  #: offender pages and MED statistics
#: the offender linked to the case: HR and the case unit's leader and AMR (B's see no case of theirs with it)
SEES_OFFENDER = frozenset({"hr-A", "leader-A", "amr-A"})
READS_LETTERS = frozenset({"leader-A", "hr-A", "amr-A"})  #: every letter; the employee only sent ones
RECHECKS = SEES  #: may ask for a re-check: whoever may see the case (tracker.workflow.recheck.MAY_REQUEST)
REPORTERS = frozenset({"employee-A", "colleague-A", "leader-A", "amr-A", "employee-B", "leader-B", "amr-B"})
ADMIN = frozenset({"admin-A"})
HR = frozenset({"hr-A"})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Access:
    """Who gets through (any answer but 403/404), and who sees the case but is refused with 403."""

    ok: frozenset[str]
    refused: frozenset[str] = NOBODY

    def expected(self, key: str) -> str:
        return "ok" if key in self.ok else "403" if key in self.refused else "404"


def may(ok: frozenset[str], refused: frozenset[str] = NOBODY) -> Access:
    return Access(frozenset(ok), frozenset(refused))


@dataclass(frozen=True)
class Route:
    url: str  #: formatted with ``Org.values`` ({ref}, {evidence_id}, …)
    get: Access | None = None
    post: Access | None = None
    form: dict | Callable[[], dict] = field(default_factory=dict)  #: a POST body that passes validation
    to_login: bool = False  #: allowed use ends on the login page (logging out)


def png_upload() -> dict:
    import io

    return {"file": (io.BytesIO(png_bytes()), "skaermbillede.png")}


#: one line per endpoint of the app (except 'static'); add a line with every new route
ROUTES: dict[str, Route] = {
    "auth.login": Route("/login", get=may(EVERYONE), post=may(EVERYONE)),  # anonymous: 200, the others: redirect
    "auth.logout": Route("/logout", post=may(EVERYONE), to_login=True),
    "auth.password": Route("/account/password", get=may(EVERYONE), post=may(EVERYONE)),  # an empty form: 200
    "cases.index": Route("/", get=may(EVERYONE)),
    "cases.detail": Route("/cases/{ref}", get=may(SEES)),
    "cases.evidence_status": Route("/cases/{ref}/evidence/{evidence_id}/status.json", get=may(SEES)),
    "cases.artifact": Route("/cases/{ref}/evidence/{evidence_id}/screenshot_viewport.png", get=may(SEES)),
    "report.new": Route("/report", get=may(REPORTERS), post=may(REPORTERS)),
    "help.archiveweb": Route("/help/archiveweb", get=may(EVERYONE)),
    "help.iphone": Route("/help/phone", get=may(EVERYONE)),
    # the installable app: public files without case data; the share target fills the reporter's own draft
    "phone.manifest": Route("/manifest.webmanifest", get=may(EVERYONE)),
    "phone.service_worker": Route("/sw.js", get=may(EVERYONE)),
    "phone.offline": Route("/offline", get=may(EVERYONE)),
    "phone.share": Route("/share", post=may(REPORTERS), form={"text": "Se https://example.org/opslag?fbclid=x"}),
    "phone.shared": Route("/share", get=may(REPORTERS)),
    "letters.new": Route("/cases/{ref}/letters/new", get=may(MANAGES, SEES - MANAGES), post=may(MANAGES, SEES - MANAGES)),
    "letters.edit": Route("/cases/{ref}/letters/{letter_id}", get=may(READS_LETTERS),
                          post=may(MANAGES, READS_LETTERS - MANAGES)),
    "letters.send": Route("/cases/{ref}/letters/{letter_id}/send", post=may(MANAGES, READS_LETTERS - MANAGES)),
    "letters.download": Route("/cases/{ref}/letters/{letter_id}/download.txt", get=may(READS_LETTERS)),
    "workflow.step_state": Route("/cases/{ref}/steps/leader_conversation/state", post=may(MANAGES, SEES - MANAGES),
                                 form={"state": "in_progress"}),
    "workflow.rung": Route("/cases/{ref}/steps/request_to_author/rung", post=may(MANAGES, SEES - MANAGES)),
    "cases.save_rung": Route("/cases/{ref}/steps/request_to_author/rung-and-state", post=may(MANAGES, SEES - MANAGES)),
    "workflow.decline_police_report": Route("/cases/{ref}/police-report/decline", post=may(MANAGES, SEES - MANAGES)),
    "workflow.clock": Route("/cases/{ref}/clocks", post=may(MANAGES, SEES - MANAGES)),
    "workflow.facts": Route("/cases/{ref}/facts", post=may(MANAGES, SEES - MANAGES)),
    "workflow.close": Route("/cases/{ref}/close", post=may(MANAGES, SEES - MANAGES)),
    "workflow.reopen": Route("/cases/{ref}/reopen", post=may(MANAGES, SEES - MANAGES)),
    "workflow.hold": Route("/cases/{ref}/hold", post=may(HR, SEES - HR), form={"reason": "Retssag ved byretten"}),
    "workflow.release": Route("/cases/{ref}/release", post=may(HR, SEES - HR)),
    "workflow.request_recheck": Route("/cases/{ref}/recheck", post=may(RECHECKS, SEES - RECHECKS)),
    "rechecks.decide": Route("/cases/{ref}/rechecks/{recheck_id}/decision", post=may(LEADS, SEES - LEADS),
                             form={"decision": "still_online"}),  # an uncertain re-check: its leader decides
    "workflow.removed_verified": Route("/cases/{ref}/steps/platform_notice/removed-verified",  # the leader only
                                       post=may(LEADS, SEES - LEADS), form={"evidence_id": "{evidence_id}"}),
    "workflow.attach_evidence": Route("/cases/{ref}/steps/leader_conversation/attachments/evidence",
                                      post=may(MANAGES, SEES - MANAGES), form={"evidence_id": "{evidence_id}"}),
    "workflow.attach_upload": Route("/cases/{ref}/steps/leader_conversation/attachments/upload",
                                    post=may(MANAGES, SEES - MANAGES), form=png_upload),
    "workflow.attachment": Route("/cases/{ref}/attachments/{attachment_id}", get=may(SEES)),
    "workflow.tdb_lookup": Route("/cases/{ref}/steps/platform_notice/tdb-lookup",
                                 post=may(MANAGES, SEES - MANAGES), form={"puid": "12345"}),
    # the JSON API: bearer tokens instead of the session (anonymous: 401)
    "api.list_cases": Route("/api/v1/cases", get=may(EVERYONE)),
    "api.create_case": Route("/api/v1/cases", post=may(REPORTERS, HR | ADMIN)),  # documented 403 not_allowed
    "api.get_case": Route("/api/v1/cases/{ref}", get=may(SEES)),
    "api.artifact": Route("/api/v1/cases/{ref}/evidence/{evidence_id}/text.txt", get=may(SEES)),
    "api.start_rechecks": Route("/api/v1/cases/{ref}/rechecks", post=may(RECHECKS)),
    "api.list_rechecks": Route("/api/v1/cases/{ref}/rechecks", get=may(SEES)),
    "api.decide_recheck": Route("/api/v1/cases/{ref}/rechecks/{recheck_id}/decision", post=may(LEADS, SEES - LEADS)),
    **{f"api.{name}": Route(f"/api/v1/cases/{{ref}}/{path}", post=may(MANAGES, SEES - MANAGES)) for name, path in [
        ("close_case", "close"), ("reopen_case", "reopen"), ("set_facts", "facts"), ("set_category", "category"),
        ("set_clock", "clocks"), ("attach_evidence", "steps/leader_conversation/attachments"),
        ("create_letter", "letters"), ("add_offender", "offenders"), ("decide_offender", "offenders/{link_id}/decision")]},
    "api.update_step": Route("/api/v1/cases/{ref}/steps/leader_conversation", post=may(MANAGES, SEES - MANAGES),
                             form={"state": "in_progress"}),
    "api.removed_verified": Route("/api/v1/cases/{ref}/steps/platform_notice/removed-verified",
                                  post=may(LEADS, SEES - LEADS)),
    "api.attach_upload": Route("/api/v1/cases/{ref}/steps/leader_conversation/attachments/upload",
                               post=may(MANAGES, SEES - MANAGES), form=png_upload),
    "api.attachment": Route("/api/v1/cases/{ref}/attachments/{attachment_id}", get=may(SEES)),
    "api.list_letters": Route("/api/v1/cases/{ref}/letters", get=may(SEES)),
    "api.get_letter": Route("/api/v1/cases/{ref}/letters/{letter_id}", get=may(READS_LETTERS)),
    "api.update_letter": Route("/api/v1/cases/{ref}/letters/{letter_id}", post=may(MANAGES, READS_LETTERS - MANAGES)),
    "api.send_letter": Route("/api/v1/cases/{ref}/letters/{letter_id}/send", post=may(MANAGES, READS_LETTERS - MANAGES)),
    "api.list_offenders": Route("/api/v1/cases/{ref}/offenders", get=may(SEES)),
    "api.list_exports": Route("/api/v1/cases/{ref}/exports", get=may(SEES)),
    "api.openapi_json": Route("/api/v1/openapi.json", get=may(EVERYONE)),  # public, as is api.docs (PUBLIC)
    "api.docs": Route("/api/v1/docs", get=may(EVERYONE)),
    # HR's oversight: HR only
    "hr.search": Route("/hr/cases", get=may(HR)),
    "hr.case_history": Route("/hr/cases/{ref}/history", get=may(HR)),
    "hr.audit": Route("/hr/audit", get=may(HR)),
    # issue 16.4: erasure on request for HR and the administrator (a preview of nobody: 400, nothing changes);
    # the access search shows case text, so HR only (a 2-character search is refused before any PDF is made)
    "privacy.erase": Route("/hr/privacy/erase", get=may(HR | ADMIN), post=may(HR | ADMIN),
                           form={"email": "nobody@example.org", "reason": "Test", "action": "preview"}),
    "privacy.access": Route("/hr/privacy/access", get=may(HR)),
    "privacy.handout": Route("/hr/privacy/access/handout", post=may(HR), form={"q": "ab"}),
    "hr.subject_access": Route("/hr/subject-access", get=may(HR), post=may(HR), form={"person": "{employee_id}"}),
    "hr.subject_access_download": Route("/hr/subject-access/{subject_job_id}/download", get=may(HR)),
    # offenders: read by HR (all) and leaders/AMR (own unit); changed by the case's leader and HR
    "oversight.offenders": Route("/offenders", get=may(OVERSIGHT)),
    "oversight.offender": Route("/offenders/{offender_id}", get=may(SEES_OFFENDER)),
    "oversight.add": Route("/cases/{ref}/offenders", post=may(MANAGES)),
    "oversight.decide": Route("/cases/{ref}/offenders/{link_id}/decision", post=may(MANAGES)),
    "oversight.profile": Route("/cases/{ref}/offenders/{link_id}/profile", post=may(MANAGES)),
    # statistics for MED: counts only, no case content
    "stats.index": Route("/stats", get=may(OVERSIGHT)),
    "stats.csv": Route("/stats.csv", get=may(OVERSIGHT)),
    "stats.chart": Route("/stats/charts/months.svg", get=may(OVERSIGHT)),
    # exports: whoever may read the case
    "exports.evidence_report": Route("/cases/{ref}/evidence/{evidence_id}/report.pdf", get=may(SEES)),
    "exports.case_report": Route("/cases/{ref}/report.pdf", get=may(SEES)),
    "exports.case_package": Route("/cases/{ref}/package.zip", get=may(SEES)),
    # a package or report being built: only the person who asked for it (leader-A here), while they see the case
    "exports.status": Route("/cases/{ref}/exports/{export_id}", get=may(LEADS)),
    "exports.status_json": Route("/cases/{ref}/exports/{export_id}/status.json", get=may(LEADS)),
    "exports.download": Route("/cases/{ref}/exports/{export_id}/download", get=may(LEADS)),
    "api.start_export": Route("/api/v1/cases/{ref}/exports", post=may(SEES)),
    "api.export_status": Route("/api/v1/cases/{ref}/exports/{export_id}", get=may(LEADS)),
    "api.export_download": Route("/api/v1/cases/{ref}/exports/{export_id}/download", get=may(LEADS)),
    # administration: admins only (HR and leaders included get 404)
    "admin.index": Route("/admin", get=may(ADMIN)),
    "admin.users": Route("/admin/users", get=may(ADMIN)),
    "admin.user_new": Route("/admin/users/new", get=may(ADMIN), post=may(ADMIN)),
    "admin.user_edit": Route("/admin/users/{colleague_id}", get=may(ADMIN), post=may(ADMIN)),
    "admin.user_password": Route("/admin/users/{colleague_id}/password", post=may(ADMIN)),
    "admin.token_revoke": Route("/admin/users/{colleague_id}/tokens/{spare_token_id}/revoke", post=may(ADMIN)),
    "admin.units": Route("/admin/units", get=may(ADMIN), post=may(ADMIN)),
    "admin.unit_edit": Route("/admin/units/{unit_b}", get=may(ADMIN), post=may(ADMIN)),
    "admin.rules": Route("/admin/rules", get=may(ADMIN)),
    "admin.rule_file": Route("/admin/rules/deadlines", get=may(ADMIN), post=may(ADMIN)),
    "admin.rule_revert": Route("/admin/rules/deadlines/revert", post=may(ADMIN)),
    "admin.rule_entry": Route("/admin/rules/deadlines/entries/police_report", get=may(ADMIN), post=may(ADMIN)),
    "admin.rule_download": Route("/admin/rules/deadlines/download", get=may(ADMIN)),
    "admin.processing_record": Route("/admin/processing-record", get=may(ADMIN)),
    "admin.processing_record_download_pdf": Route("/admin/processing-record.pdf", get=may(ADMIN)),
    "admin.processing_record_download_markdown": Route("/admin/processing-record.md", get=may(ADMIN)),
    "demo.mail": Route("/demo/mail", get=may(NOBODY)),  # only under `vaern demo` (tests/test_demo_mode.py)
    "admin.profiles": Route("/admin/profiles", get=may(ADMIN), post=may(ADMIN)),
    "admin.profile_remove": Route("/admin/profiles/matrix/remove", get=may(ADMIN), post=may(ADMIN)),
    # the remote browser (issue 14): with no session open, the admin is sent back (no browser is started)
    "admin.remote_open": Route("/admin/profiles/remote", post=may(ADMIN)),  # no address: the form again (400)
    "admin.remote_page": Route("/admin/profiles/remote", get=may(ADMIN)),
    "admin.remote_frame": Route("/admin/profiles/remote/frame", get=may(ADMIN)),  # no session: 410
    "admin.remote_input": Route("/admin/profiles/remote/input", post=may(ADMIN)),  # no session: 410
    "admin.remote_save": Route("/admin/profiles/remote/save", post=may(ADMIN)),
    "admin.remote_cancel": Route("/admin/profiles/remote/cancel", post=may(ADMIN)),
    "sso.admin_status": Route("/admin/sso", get=may(ADMIN)),
    # single sign-on is off in this organisation: both are 404 for everyone (tests/e2e/test_sso.py has them on)
    "sso.start": Route("/login/sso", post=may(NOBODY)),
    "sso.callback": Route("/login/sso/callback?code=x&state=y", get=may(NOBODY)),
}
#: run last for each person: it ends the session
LAST = ("auth.logout",)
#: open to anonymous visitors too
PUBLIC = ("auth.login", "api.openapi_json", "api.docs", "phone.manifest", "phone.service_worker", "phone.offline")
#: answer 404 to anonymous visitors too: single sign-on, which this organisation does not have
OFF = ("sso.start", "sso.callback")


class Org:
    """The organisation of the matrix: two units, every role, one case with done evidence, a draft letter,
    a step attachment, an API token per person."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        self.people: dict[str, tuple[int, str]] = {}
        self.tokens: dict[str, str] = {}
        rules = load_rules()
        with rt.transaction() as s:
            units = {"A": make_unit(s, "Jobcenter"), "B": make_unit(s, "Borgerservice")}
            for key, role, unit in PEOPLE:
                u = make_user(s, role, units.get(unit), email=f"{key.lower()}@kommune.dk", name=f"Person {key}")
                self.people[key] = (u.id, u.email)
                self.tokens[key] = create_token(s, u, "matrix")[1]
                if key == "colleague-A":  # a second token, for the admin's revoke button
                    self.spare_token_id = create_token(s, u, "reserve")[0].id
            employee = s.get(User, self.people["employee-A"][0])
            case = make_case(s, employee, description="Trusler i kommentarfeltet")
            self.ref, self.case_id, unit_b = case.ref, case.id, units["B"].id
        self.evidence_id = make_done_evidence(rt, self.case_id, self.people["employee-A"][0])
        with rt.transaction() as s:
            case, leader = s.get(Case, self.case_id), s.get(User, self.people["leader-A"][0])
            letter = letter_ops.create_letter(s, leader, case, "request_to_author", rules=rules)
            attachment = step_ops.attach_upload(s, rt.blobs, case, "leader_conversation", leader, png_bytes(),
                                                "svar.png", max_bytes=rt.settings.upload_max_bytes, rules=rules)
            link = offender_ops.add_by_hand(s, case, leader, platform="facebook", handle="@vred.borger")
            self.letter_id, self.attachment_id = letter.id, attachment.id
            self.link_id, self.offender_id = link.id, link.offender_id
        with rt.transaction() as s:  # leader-A asked for an evidence report; the job built it
            export = export_ops.request_export(s, s.get(User, self.people["leader-A"][0]), s.get(Case, self.case_id),
                                               "evidence_report", evidence_id=self.evidence_id)
            export_id = export.id
        assert export_ops.run_export_job(rt, export_id) == "done"
        with rt.transaction() as s:  # hr-A asked for employee-A's access package; the job built it
            subject_job_id = subject_ops.request_subject_export(s, s.get(User, self.people["hr-A"][0]),
                                                                s.get(User, self.people["employee-A"][0])).id
        assert subject_ops.run_subject_job(rt, subject_job_id) == "done"
        with rt.transaction() as s:  # a capture profile, for the admin's remove page
            profile_ops.import_profile(s, None, rt.settings, "matrix", "facebook.com", b'{"cookies": []}')
        with rt.transaction() as s:  # an uncertain re-check of the case (the evidence stands in for both captures)
            row = Recheck(case_id=self.case_id, baseline_evidence_id=self.evidence_id, evidence_id=self.evidence_id,
                          verdict="uncertain", reason_code="no_sign", details={}, decided_at=utcnow())
            s.add(row)
            s.flush()
            self.recheck_id = row.id
        self.values = {"ref": self.ref, "export_id": export_id, "evidence_id": self.evidence_id, "letter_id": self.letter_id,
                       "recheck_id": self.recheck_id,
                       "attachment_id": self.attachment_id, "colleague_id": self.people["colleague-A"][0],
                       "unit_b": unit_b, "link_id": self.link_id, "offender_id": self.offender_id,
                       "spare_token_id": self.spare_token_id,
                       "subject_job_id": subject_job_id, "employee_id": self.people["employee-A"][0]}

    def client(self, key: str):
        c = self.app.test_client()
        if key != ANON:
            resp = c.post("/login", data={"email": self.people[key][1], "password": PASSWORD})
            assert resp.status_code == 302, f"{key} could not log in"
        return c

    def snapshot(self) -> dict[str, int]:
        """The number of rows in every table, and the rule files saved: a denied POST must change none."""
        with self.rt.Session() as s:
            counts = {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                      for t in Base.metadata.sorted_tables}
            counts["users.active"] = s.execute(select(func.count()).select_from(User)
                                               .where(User.active.is_(True))).scalar_one()
            counts["users.admins"] = s.execute(select(func.count()).select_from(User)
                                               .where(User.role == Role.admin)).scalar_one()
        rules_dir = self.rt.settings.data_dir / "rules"
        counts["rule_files"] = len(list(rules_dir.rglob("*"))) if rules_dir.exists() else 0
        return counts


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("matrix")))
    yield Org(rt)
    rt.close()


def _outcome(path: str, status: int, location: str) -> str:
    if status == 404:
        return "404"
    if status == 403:
        return "403"
    if path.startswith("/api/") and status == 401:
        return "login"
    if status == 302 and location.startswith("/login"):
        return "login"
    if status >= 500:
        return f"error {status}"
    return "ok"


def _request(org: Org, client, key: str, method: str, route: Route):
    url = route.url.format(**org.values)
    if url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {org.tokens[key]}"} if key != ANON else {}
        if method == "POST" and callable(route.form):  # a file: multipart, as a client uploads it
            return url, client.open(url, method=method, headers=headers, data=route.form())
        body = {k: v.format(**org.values) for k, v in route.form.items()} if method == "POST" else None
        return url, client.open(url, method=method, headers=headers, json=body)
    if method == "GET":
        return url, client.get(url)
    form = route.form() if callable(route.form) else {k: v.format(**org.values) for k, v in route.form.items()}
    return url, client.post(url, data=form)


def _methods(rule) -> list[str]:
    return [m for m in ("GET", "POST") if m in rule.methods]


def test_every_route_of_the_app_has_a_permission_decision_in_the_table(org):
    missing, stale, methods = [], [], []
    endpoints = {}
    for rule in org.app.url_map.iter_rules():
        if rule.endpoint != "static":
            endpoints.setdefault(rule.endpoint, set()).update(_methods(rule))
    for endpoint, offered in sorted(endpoints.items()):
        route = ROUTES.get(endpoint)
        if route is None:
            missing.append(f"{endpoint} ({', '.join(sorted(offered))})")
            continue
        decided = {m for m in ("GET", "POST") if getattr(route, m.lower()) is not None}
        if decided != offered:
            methods.append(f"{endpoint}: the app offers {sorted(offered)}, the table decides {sorted(decided)}")
    stale = sorted(set(ROUTES) - set(endpoints))
    assert not missing, ("routes without a permission decision — add a line for each to ROUTES in "
                         f"tests/e2e/test_route_matrix.py: {'; '.join(missing)}")
    assert not methods, "; ".join(methods)
    assert not stale, f"the table names endpoints the app does not have: {', '.join(stale)}"


def _order(endpoints):
    return sorted(endpoints, key=lambda e: (e in LAST, e))


@pytest.mark.parametrize("key", [*KEYS, ANON])
def test_each_person_gets_exactly_the_access_the_table_gives(org, key):
    """Allowed: any answer but 403/404; refused: 403; everyone else 404; anonymous: the login page (API: 401)."""
    client = org.client(key)
    wrong = []
    for endpoint in _order(ROUTES):
        route = ROUTES[endpoint]
        if endpoint not in org.app.view_functions:
            continue  # reported by the completeness test
        for method in ("GET", "POST"):
            access = getattr(route, method.lower())
            if access is None:
                continue
            if key == ANON:
                expected = "ok" if endpoint in PUBLIC else "404" if endpoint in OFF else "login"
            else:
                expected = access.expected(key)
                expected = "login" if expected == "ok" and route.to_login else expected
            # a refused POST changes nothing (logging out is a success that ends at the login page)
            refused = expected != "ok" and not (route.to_login and key != ANON)
            before = org.snapshot() if method == "POST" and refused else None
            url, resp = _request(org, client, key, method, route)
            body = resp.get_data(as_text=True) if expected == "404" else ""
            resp.close()  # file downloads hold the file open until closed
            got = _outcome(url, resp.status_code, resp.headers.get("Location", ""))
            if got != expected:
                wrong.append(f"{method} {url} ({endpoint}): expected {expected}, got {resp.status_code}")
            elif before is not None:
                after = org.snapshot()
                changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
                if changed:
                    wrong.append(f"{method} {url} ({endpoint}) was refused but changed {changed}")
            if expected == "404" and org.ref in body:
                wrong.append(f"{method} {url} ({endpoint}): the 404 page names the case")
    assert not wrong, f"{key}:\n  " + "\n  ".join(wrong)
