"""Administration: users, units, the municipality's rule files — and no case content for admins."""
from __future__ import annotations

import io
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from storage.models import AuditEvent, Case, OrgUnit, Role, User
from tests.support.browser import assert_fits_the_width, assert_no_serious_axe_findings, each_viewport, log_in, open_browser, \
    screenshot, served
from tests.support.factories import PASSWORD, csrf_login, make_case, make_done_evidence, make_unit, make_user
from tests.support.factories import post_form as post
from tracker.accounts import admin as ops
from tracker.accounts import rule_files
from tracker.oversight import offenders as offender_ops
from tracker.errors import DomainError
from tracker.workflow import erasure as erasure_file
from tracker.workflow import processing_texts
from tracker.workflow.platforms import DEFAULT_PATH
from tracker.workflow.rules import RULES_DIR, RulesError
from tracker.adapters import runtime as runtime_module
from tracker.adapters.runtime import Runtime
from tracker.accounts.users import authenticate
from webui.app import create_app
from webui.labels import RULES_KEY

ADMIN_EMAIL = "admin@kommune.dk"


class Site:
    """One Værn with an admin, two units, a leader and a case full of recognisable content."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            self.unit_a, self.unit_b = make_unit(s, "Jobcenter").id, make_unit(s, "Borgerservice").id
            self.admin_id = make_user(s, Role.admin, None, email=ADMIN_EMAIL, name="Ada Admin").id
            leader = make_user(s, Role.leader, s.get(OrgUnit, self.unit_a), email="leder@kommune.dk", name="Lis Leder")
            employee = make_user(s, Role.employee, s.get(OrgUnit, self.unit_a), email="ansat@kommune.dk",
                                 name="Eva Ansat")
            self.leader_id, self.employee_id = leader.id, employee.id
            case = make_case(s, employee, url="https://www.facebook.com/groups/hadgruppe/posts/998877",
                             description="HEMMELIG-BESKRIVELSE om trusler")
            offender_ops.add_by_hand(s, case, leader, platform="facebook", handle="@hemmelig.kraenker")
            self.case_ref, self.case_id = case.ref, case.id
        make_done_evidence(rt, self.case_id, self.employee_id, url="https://example.org/hemmeligt-bevis")

    def admin(self):
        """The admin's client, with the pages in English (the Danish texts are tested in test_i18n)."""
        client = csrf_login(self.app, ADMIN_EMAIL)
        client.get("/?lang=en")
        return client

    def audit(self, action: str) -> list[AuditEvent]:
        with self.rt.Session() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
                        .scalars())

    def user(self, email: str) -> User | None:
        with self.rt.Session() as s:
            return s.execute(select(User).where(User.email == email)).scalar()

    @property
    def rules_dir(self):
        return self.rt.settings.data_dir / "rules"


@pytest.fixture
def site(make_runtime):
    return Site(make_runtime())


TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def shown_password(resp) -> str:
    return re.search(r'<code class="password">([^<]+)</code>', resp.get_data(as_text=True)).group(1)


# -- users ------------------------------------------------------------------------------------------
def test_an_admin_creates_a_user_whose_generated_password_is_shown_once_and_works(site):
    client = site.admin()
    resp = post(client, "/admin/users/new", {"name": "Nina Ny", "email": "Nina.Ny@Kommune.DK", "role": "leader",
                                             "unit": str(site.unit_b)})
    assert resp.status_code == 200
    password = shown_password(resp)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    user = site.user("nina.ny@kommune.dk")
    assert (user.name, user.role, user.unit_id, user.active) == ("Nina Ny", Role.leader, site.unit_b, True)
    PasswordHasher().verify(user.password_hash, password)
    assert user.password_hash.startswith("$argon2id$")
    assert password not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    with site.rt.Session() as s:
        assert authenticate(s, "NINA.NY@kommune.dk", password).id == user.id
    event = site.audit("user.create")[-1]
    assert (event.actor_id, event.object_id) == (site.admin_id, str(user.id))
    assert password not in str(event.details) and user.password_hash not in str(event.details)


def test_an_admin_may_choose_the_initial_password_instead(site):
    resp = post(site.admin(), "/admin/users/new", {"name": "Hans HR", "email": "hans@kommune.dk", "role": "hr",
                                                   "password": "en-lang-nok-kode"})
    assert resp.status_code == 302
    with site.rt.Session() as s:
        assert authenticate(s, "hans@kommune.dk", "en-lang-nok-kode") is not None


@pytest.mark.parametrize(("form", "message"), [
    ({"email": "LEDER@kommune.dk"}, "A user with this e-mail address exists already."),
    ({"email": "ikke-en-adresse"}, "Enter a valid e-mail address."),
    ({"role": "amr", "unit": ""}, "must belong to a unit"),
    ({"role": "employee", "unit": ""}, "must belong to a unit"),
    ({"name": "  "}, "Enter a name"),
    ({"password": "kort"}, "at least 10 characters"),
    ({"password": "1234567890"}, "too common"),
    ({"password": "ny-person-1234"}, "name or e-mail"),
], ids=["email-taken-other-case", "bad-email", "amr-without-unit", "employee-without-unit", "no-name", "short-password",
                                                                                           "common-password", "personal-password"])
def test_a_user_that_breaks_a_rule_is_refused_and_nothing_is_saved(site, form, message):
    client = site.admin()
    data = {"name": "Ny Person", "email": "ny@kommune.dk", "role": "leader", "unit": str(site.unit_a), **form}
    with site.rt.Session() as s:
        before = (s.execute(select(func.count()).select_from(User)).scalar(),
                  s.execute(select(func.count()).select_from(AuditEvent)).scalar())
    resp = post(client, "/admin/users/new", data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    with site.rt.Session() as s:
        after = (s.execute(select(func.count()).select_from(User)).scalar(),
                 s.execute(select(func.count()).select_from(AuditEvent)).scalar())
    assert after == before


def test_editing_a_user_records_each_changed_field_before_and_after(site):
    client = site.admin()
    resp = post(client, f"/admin/users/{site.leader_id}", {"name": "Lis Leder-Hansen", "role": "amr",
                                                            "unit": str(site.unit_b), "active": "1"})
    assert resp.status_code == 302
    event = site.audit("user.update")[-1]
    assert event.actor_id == site.admin_id and event.object_id == str(site.leader_id)
    assert event.details["changes"] == {"name": ["Lis Leder", "Lis Leder-Hansen"], "role": ["leader", "amr"],
                                        "unit": ["Jobcenter", "Borgerservice"]}
    assert "password" not in str(event.details) and "argon2" not in str(event.details)
    user = site.user("leder@kommune.dk")
    assert (user.name, user.role, user.unit_id) == ("Lis Leder-Hansen", Role.amr, site.unit_b)


def test_a_deactivated_user_cannot_log_in_but_is_kept_for_the_audit_log(site):
    client = site.admin()
    post(client, f"/admin/users/{site.employee_id}", {"name": "Eva Ansat", "role": "employee",
                                                       "unit": str(site.unit_a)})  # no "active": unticked
    assert site.user("ansat@kommune.dk").active is False
    assert site.audit("user.update")[-1].details["changes"] == {"active": [True, False]}
    login = site.app.test_client().post("/login", data={"email": "ansat@kommune.dk", "password": PASSWORD})
    assert login.status_code in (400, 401)
    active_list = client.get("/admin/users").get_data(as_text=True)
    inactive_list = client.get("/admin/users?active=0").get_data(as_text=True)
    assert "Eva Ansat" not in active_list and "Eva Ansat" in inactive_list


def test_the_last_active_admin_cannot_deactivate_or_demote_themselves(site):
    client = site.admin()
    for form in ({"name": "Ada Admin", "role": "hr", "unit": "", "active": "1"},
                 {"name": "Ada Admin", "role": "admin", "unit": ""}):
        resp = post(client, f"/admin/users/{site.admin_id}", form)
        assert resp.status_code == 400
        assert "at least one active administrator" in resp.get_data(as_text=True)
    admin = site.user(ADMIN_EMAIL)
    assert (admin.role, admin.active) == (Role.admin, True)
    # with a second admin, the first may step down
    with site.rt.transaction() as s:
        make_user(s, Role.admin, None, email="admin2@kommune.dk")
    resp = post(client, f"/admin/users/{site.admin_id}", {"name": "Ada Admin", "role": "hr", "unit": "",
                                                           "active": "1"})
    assert resp.status_code == 302 and site.user(ADMIN_EMAIL).role is Role.hr
    assert client.get("/admin").status_code == 302  # her role changed: her session ended with it
    client = site.admin()
    assert client.get("/admin").status_code == 404  # no longer an admin: the pages are gone for her


def test_the_user_page_has_a_plain_title_and_one_token_section(site):
    page = site.admin().get(f"/admin/users/{site.leader_id}").get_data(as_text=True)
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title and "Administration" in title
    assert page.count('id="tokens-title"') == 1


def test_a_password_reset_replaces_the_old_password_and_is_audited_without_it(site):
    client = site.admin()
    page = client.get(f"/admin/users/{site.leader_id}").get_data(as_text=True)
    resp = client.post(f"/admin/users/{site.leader_id}/password", data={"csrf_token": TOKEN.search(page).group(1)})
    assert resp.status_code == 200
    new = shown_password(resp)
    with site.rt.Session() as s:
        assert authenticate(s, "leder@kommune.dk", PASSWORD) is None
        assert authenticate(s, "leder@kommune.dk", new) is not None
    event = site.audit("user.password_reset")[-1]
    assert event.details == {"email": "leder@kommune.dk"}


def test_the_user_list_filters_by_unit_role_and_state_and_pages(site):
    with site.rt.transaction() as s:
        unit, hashed = s.get(OrgUnit, site.unit_b), s.get(User, site.employee_id).password_hash
        for n in range(ops.PAGE_SIZE + 3):  # rows without 53 argon2 hashings
            s.add(User(email=f"mange{n:02d}@kommune.dk", name=f"Mange {n:02d}", role=Role.employee, unit=unit,
                       password_hash=hashed))
    client = site.admin()
    first = client.get(f"/admin/users?unit={site.unit_b}").get_data(as_text=True)
    assert first.count("Mange ") == ops.PAGE_SIZE and "Lis Leder" not in first
    second = client.get(f"/admin/users?unit={site.unit_b}&page=2").get_data(as_text=True)
    assert second.count("Mange ") == 3
    leaders = client.get("/admin/users?role=leader").get_data(as_text=True)
    assert "Lis Leder" in leaders and "Mange" not in leaders and "Eva Ansat" not in leaders


def test_user_rules_hold_on_both_databases(runtime):
    with runtime.transaction() as s:
        admin = make_user(s, Role.admin, None, email="a@kommune.dk")
        unit = make_unit(s, "Ældreplejen")
        user, generated = ops.create_user(s, admin, email="Ø.Nielsen@Kommune.dk", name="Øjvind", role="amr",
                                          unit_id=unit.id)
        assert generated and user.email == "ø.nielsen@kommune.dk"
    with runtime.transaction() as s, pytest.raises(DomainError) as e:
        ops.create_user(s, s.get(User, admin.id), email="ø.NIELSEN@kommune.dk", name="x", role="hr", unit_id=None)
    assert e.value.code == "user_exists"
    with runtime.transaction() as s, pytest.raises(DomainError) as e:
        me = s.get(User, admin.id)
        ops.update_user(s, me, me, name=me.name, role="hr", unit_id=None, active=True)
    assert e.value.code == "last_admin"
    with runtime.transaction() as s:
        changes = ops.update_user(s, s.get(User, admin.id), s.get(User, user.id), name="Øjvind", role="leader",
                                  unit_id=unit.id, active=True)
    assert changes == {"role": ["amr", "leader"]}
    with runtime.Session() as s:
        page = ops.list_users(s, role=Role.leader)
        assert (page.total, [u.name for u in page.users]) == (1, ["Øjvind"])


# -- units ------------------------------------------------------------------------------------------
def test_units_are_created_and_renamed_with_audit_and_unique_names(site):
    client = site.admin()
    assert post(client, "/admin/units", {"name": "Skoletandplejen"}).status_code == 302
    assert post(client, "/admin/units", {"name": "jobcenter"}).status_code == 302  # another case: allowed on create
    resp = post(client, f"/admin/units/{site.unit_b}", {"name": "Jobcenter"})
    assert resp.status_code == 400 and "exists already" in resp.get_data(as_text=True)
    assert post(client, f"/admin/units/{site.unit_b}", {"name": "Borgerservice Nord"}).status_code == 302
    with site.rt.Session() as s:
        assert s.get(OrgUnit, site.unit_b).name == "Borgerservice Nord"
    assert site.audit("unit.rename")[-1].details == {"changes": {"name": ["Borgerservice", "Borgerservice Nord"]}}
    assert site.audit("unit.create")[-1].actor_id == site.admin_id


# -- no case content --------------------------------------------------------------------------------
SECRETS = ("HEMMELIG", "hadgruppe", "hemmelig.kraenker", "hemmeligt-bevis")


def test_admin_pages_show_no_case_content_and_case_pages_are_404_for_admins(site):
    client = site.admin()
    pages = ["/admin", "/admin/users", "/admin/users?active=all", "/admin/users/new", f"/admin/users/{site.employee_id}",
             "/admin/units", f"/admin/units/{site.unit_a}", "/admin/rules",
             *[f"/admin/rules/{f.id}" for f in rule_files.rule_files()], "/"]
    for url in pages:
        resp = client.get(url)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200, url
        assert site.case_ref not in body, url
        for secret in SECRETS:
            assert secret not in body, (url, secret)
    for url in (f"/cases/{site.case_ref}", f"/hr/cases/{site.case_ref}/history", "/hr/audit", "/offenders"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("email", ["leder@kommune.dk", "ansat@kommune.dk"])
def test_other_roles_get_404_on_every_admin_page(site, email):
    client = csrf_login(site.app, email)
    for url in ("/admin", "/admin/users", "/admin/users/new", "/admin/units", "/admin/rules", "/admin/rules/response"):
        assert client.get(url).status_code == 404, url


# -- rule files -------------------------------------------------------------------------------------
def _shipped(name: str) -> str:
    return (DEFAULT_PATH if name == "platforms.toml" else RULES_DIR / name).read_text(encoding="utf-8")


def test_a_valid_rule_file_is_saved_as_a_local_version_used_at_once_and_after_a_restart(site):
    client = site.admin()
    text = _shipped("deadlines.toml").replace('"Politianmeldelse inden 72 timer"', '"Anmeld til politiet (72 t)"')
    resp = post(client, "/admin/rules/deadlines", {"content": text})
    assert resp.status_code == 302
    saved = site.rules_dir / "deadlines.toml"
    assert saved.read_text(encoding="utf-8") == text
    assert [p.name for p in site.rules_dir.iterdir()] == ["deadlines.toml"]  # no temp file left behind
    assert site.app.extensions[RULES_KEY].deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"
    page = client.get("/admin/rules/deadlines").get_data(as_text=True)
    assert "Local version" in page and "Anmeld til politiet (72 t)" in page
    assert "Local version" in client.get("/admin/rules").get_data(as_text=True)
    event = site.audit("rules.save")[-1]
    assert event.object_id == "deadlines.toml" and event.details["before"]["source"] == "shipped"
    restarted = create_app(runtime=site.rt)
    assert restarted.extensions[RULES_KEY].deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"


def test_a_rule_file_saved_in_one_process_is_used_by_the_others_on_the_same_data_directory(site, make_runtime,
                                                                                           monkeypatch, caplog):
    monkeypatch.setattr(runtime_module, "RULES_LOOK_EVERY", 0)  # in production they look every few seconds
    same = dict(data_dir=site.rt.settings.data_dir, secret_key=site.rt.settings.secret_key)
    other_web = create_app(runtime=make_runtime(**same))  # a second `vaern serve` behind the same proxy
    worker = make_runtime(**same)  # a `vaern worker`: it has read the files at its start
    assert worker.rules.deadlines["police_report"].label_da == "Politianmeldelse inden 72 timer"
    text = _shipped("deadlines.toml").replace('"Politianmeldelse inden 72 timer"', '"Anmeld til politiet (72 t)"')
    assert post(site.admin(), "/admin/rules/deadlines", {"content": text}).status_code == 302

    other_web.test_client().get("/login")  # its next request
    assert other_web.extensions[RULES_KEY].deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"
    assert other_web.extensions["vaern"].rules.deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"
    assert worker.refresh_in_force() is True  # before its next job (huey's pre-execute hook)
    assert worker.rules.deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"
    assert worker.refresh_in_force() is False  # nothing new

    (site.rules_dir / "deadlines.toml").write_text(text.replace('counting = "elapsed"', "counting = elapsed", 1))
    assert worker.refresh_in_force() is False  # a file broken on disk by hand: the files in use stay
    assert worker.rules.deadlines["police_report"].label_da == "Anmeld til politiet (72 t)"
    assert "do not load; keeping the ones in use" in caplog.text and "deadlines.toml: not valid TOML" in caplog.text


BROKEN = [
    ("deadlines", "deadlines.toml", lambda t: t.replace('counting = "elapsed"', "counting = elapsed", 1),
     "deadlines.toml: not valid TOML"),
    ("response", "response.toml", lambda t: t.replace('deadline = "police_report"', 'deadline = "ingen_frist"', 1),
     "response.toml: step 'police_report', field 'deadline': unknown deadline id 'ingen_frist'"),
    ("platforms", "platforms.toml", lambda t: t.replace('hosts = ["facebook.com", "fb.com", "fb.watch"]',
                                                        'hosts = ["https://facebook.com/"]', 1),
     "platforms.toml: platform 'facebook', field 'hosts[0]'"),
    ("letter-dsa_notice", "letters/dsa_notice.txt.j2", lambda t: t + "\n{% if %}\n",
     "dsa_notice.txt.j2: not a valid template"),
    ("removal-signs", "removal_signs.toml", lambda t: t.replace(
        'removal_texts = ["research/platforms.md §3 (YouTube, graded M)"]', "", 1),
     "removal_signs.toml: platform 'youtube', field 'sources': removal_texts needs a source"),
    ("retention", "retention.toml", lambda t: t.replace("keep_years = 5\nenforced = true", "keep_years = 11\nenforced = true", 1),
     "retention.toml: rule 'closed_case', field 'keep_years': closed cases are kept 1 to 10 years after closing"),
    ("erasure", "erasure.toml", lambda t: t.replace('article = "art. 17, stk. 3, litra e"\n', "", 1),
     "erasure.toml: exception 'legal_hold', field 'article': Field required"),
    ("processing-record", "processing_record.toml", lambda t: t.replace('role = "admin"', 'role = "hr"', 1),
     "processing_record.toml: role, field 'role': no text for the role 'admin'"),
]


@pytest.mark.parametrize(("file_id", "name", "breaks", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_rule_file_is_refused_with_the_loaders_one_line_and_nothing_is_saved(site, file_id, name, breaks,
                                                                                      message):
    client = site.admin()
    rules_before = site.app.extensions[RULES_KEY]
    events = len(site.audit("rules.save"))
    shipped = (RULES_DIR / name).read_text(encoding="utf-8") if file_id != "platforms" else _shipped(name)
    broken = breaks(shipped)
    assert broken != shipped
    resp = post(client, f"/admin/rules/{file_id}", {"content": broken})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "The file was not saved" in body
    error = re.search(r"<p><code>([^<]+)</code></p>", body).group(1)
    assert message.replace("'", "&#39;") in error, error
    assert "/tmp" not in error and "vaern-check" not in error
    assert not site.rules_dir.exists() or not any(site.rules_dir.rglob("*.*"))
    assert site.app.extensions[RULES_KEY] is rules_before
    assert len(site.audit("rules.save")) == events


def test_a_letter_template_is_uploaded_as_a_file_shown_escaped_and_reverted(site):
    client = site.admin()
    text = _shipped("letters/dsa_notice.txt.j2") + "{# <script>alert('x')</script> #}\n"
    resp = post(client, "/admin/rules/letter-dsa_notice",
                {"file": (io.BytesIO(text.encode("utf-8")), "dsa_notice.txt.j2"), "content": "ignored"},
                content_type="multipart/form-data")
    assert resp.status_code == 302
    assert (site.rules_dir / "letters" / "dsa_notice.txt.j2").read_text(encoding="utf-8") == text
    page = client.get("/admin/rules/letter-dsa_notice").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    token = TOKEN.search(page).group(1)
    resp = client.post("/admin/rules/letter-dsa_notice/revert", data={"csrf_token": token})
    assert resp.status_code == 302
    assert not (site.rules_dir / "letters" / "dsa_notice.txt.j2").exists()
    assert "Shipped with Værn" in client.get("/admin/rules/letter-dsa_notice").get_data(as_text=True)
    assert site.audit("rules.revert")[-1].details["after"]["source"] == "shipped"


def test_the_platform_directory_saved_by_the_admin_is_the_one_the_app_uses(site):
    client = site.admin()
    text = _shipped("platforms.toml").replace('name = "Facebook"', 'name = "Facebook (Meta)"', 1)
    assert post(client, "/admin/rules/platforms", {"content": text}).status_code == 302
    assert site.app.extensions["vaern.platforms"].get("facebook").name == "Facebook (Meta)"
    assert create_app(runtime=site.rt).extensions["vaern.platforms"].get("facebook").name == "Facebook (Meta)"


def test_a_broken_local_file_on_disk_stops_the_start_with_one_line(site):
    site.rules_dir.mkdir()
    (site.rules_dir / "response.toml").write_text("[[step]]\nid = 3\n", encoding="utf-8")
    with pytest.raises(RulesError) as e:
        create_app(runtime=site.rt)
    assert str(e.value).startswith(str(site.rules_dir / "response.toml")) and "\n" not in str(e.value)


@pytest.mark.parametrize(("name", "breaks", "message"), [
    ("erasure.toml", lambda t: t.replace('applies_to = "journal"', 'applies_to = "esdh"', 1),
     "exception 'journal', field 'applies_to': Input should be"),
    ("processing_record.toml", lambda t: t.replace('letter = "g"', 'letter = "h"', 1),
     "section 'h', field 'letter': Input should be"),
], ids=["erasure", "processing-record"])
def test_a_broken_local_copy_of_the_erasure_or_record_file_stops_the_start_and_every_reload(site, monkeypatch, caplog,
                                                                                            name, breaks, message):
    site.rules_dir.mkdir()
    (site.rules_dir / name).write_text(breaks(_shipped(name)), encoding="utf-8")
    with pytest.raises(DomainError) as e:
        create_app(runtime=site.rt)
    assert str(e.value).startswith(f"{site.rules_dir / name}: {message}") and "\n" not in str(e.value)
    monkeypatch.setattr(runtime_module, "RULES_LOOK_EVERY", 0)  # a process already running keeps its files
    assert site.rt.refresh_in_force() is False
    assert f"{name}: {message.split(':')[0]}" in caplog.text


@pytest.mark.parametrize("module", [erasure_file, processing_texts], ids=["erasure", "processing-record"])
def test_a_broken_shipped_erasure_or_record_file_stops_the_start_with_one_line(site, tmp_path, monkeypatch, module):
    broken = tmp_path / module.FILE_NAME
    broken.write_text(module.DEFAULT_PATH.read_text(encoding="utf-8") + "\n[[section\n", encoding="utf-8")
    monkeypatch.setattr(module, "DEFAULT_PATH", broken)  # as if the installed copy were damaged
    with pytest.raises(DomainError) as e:
        create_app(runtime=site.rt)
    assert str(e.value).startswith(f"{broken}: not valid TOML") and "\n" not in str(e.value)


def test_the_administrator_confirms_statements_of_the_record_and_the_record_page_shows_the_municipalitys_text(
        site, make_runtime):
    client = site.admin()
    record = client.get("/admin/processing-record").get_data(as_text=True)
    assert "Sikkerhedskopier" in record and "IT-driften" not in record
    before = int(re.search(r"(\d+) statements must be confirmed", record).group(1))
    assert 'href="/admin/rules/processing-record"' in record

    page = client.get("/admin/rules/processing-record").get_data(as_text=True)
    assert "Texts of the record of processing (GDPR art. 30)" in page and "[[confirmed]]" in page
    own = _shipped("processing_record.toml").replace(
        "Stille beviser til rådighed for en politianmeldelse", "Aarhus Kommunes egen formulering: stille beviser til "
        "rådighed for en politianmeldelse", 1) + (
        '\n[[confirmed]]\nstatement = "backups"\ntext = "Databasen kopieres hver nat til kommunens backupsystem."\n'
        'confirmed_by = "IT-driften, 1.12.2026"\n')
    refused = post(client, "/admin/rules/processing-record", {"content": own.replace('"backups"', '"backup"')})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "The file was not saved" in body
    assert "processing_record.toml: confirmed &#39;backup&#39;, field &#39;statement&#39;: Input should be" in body
    assert not (site.rules_dir / "processing_record.toml").exists() and not site.audit("rules.save")

    assert post(client, "/admin/rules/processing-record", {"content": own}).status_code == 302
    assert (site.rules_dir / "processing_record.toml").read_text(encoding="utf-8") == own
    assert site.audit("rules.save")[-1].object_id == "processing_record.toml"
    record = client.get("/admin/processing-record").get_data(as_text=True)
    assert "Aarhus Kommunes egen formulering" in record
    assert "Kommunens bekræftelse (IT-driften, 1.12.2026): Databasen kopieres hver nat" in record
    assert f"{before - 1} statements must be confirmed" in record
    markdown = client.get("/admin/processing-record.md").get_data(as_text=True)
    assert "Aarhus Kommunes egen formulering" in markdown
    # another `vaern serve` on the same data directory makes the record from the same file
    other_web = create_app(runtime=make_runtime(data_dir=site.rt.settings.data_dir,
                                                secret_key=site.rt.settings.secret_key))
    other = csrf_login(other_web, ADMIN_EMAIL)
    other.get("/?lang=en")
    assert "Aarhus Kommunes egen formulering" in other.get("/admin/processing-record").get_data(as_text=True)

    page = client.get("/admin/rules/processing-record").get_data(as_text=True)
    assert client.post("/admin/rules/processing-record/revert",
                       data={"csrf_token": TOKEN.search(page).group(1)}).status_code == 302
    assert "Aarhus Kommunes" not in client.get("/admin/processing-record").get_data(as_text=True)


def test_the_municipalitys_own_erasure_exceptions_are_the_ones_an_erasure_plan_names(site):
    client = site.admin()
    own = (_shipped("erasure.toml").replace('label_da = "Sagen er åben"', 'label_da = "Sagen kører stadig"', 1)
           .replace('label_en = "The case is open"', 'label_en = "The case is still running"', 1))
    assert own != _shipped("erasure.toml")
    assert post(client, "/admin/rules/erasure", {"content": own}).status_code == 302
    plan = post(client, "/hr/privacy/erase", {"email": "ansat@kommune.dk", "reason": "E-mail af 1.12.2026"})
    assert plan.status_code == 200 and "The case is still running" in plan.get_data(as_text=True)  # an English page


def test_reverting_is_refused_when_the_shipped_file_no_longer_fits_the_other_local_files(site):
    client = site.admin()
    response = _shipped("response.toml").replace('deadline = "police_report"', 'deadline = "politi"', 1)
    deadlines = _shipped("deadlines.toml").replace('id = "police_report"', 'id = "politi"', 1)
    # the two local files only fit each other (a deadline renamed in both)
    site.rules_dir.mkdir()
    (site.rules_dir / "deadlines.toml").write_text(deadlines, encoding="utf-8")
    with pytest.raises(RulesError):
        create_app(runtime=site.rt)
    (site.rules_dir / "response.toml").write_text(response, encoding="utf-8")
    create_app(runtime=site.rt)  # both local files fit each other
    page = client.get("/admin/rules/deadlines").get_data(as_text=True)
    resp = client.post("/admin/rules/deadlines/revert", data={"csrf_token": TOKEN.search(page).group(1)})
    assert resp.status_code == 302
    assert (site.rules_dir / "deadlines.toml").exists()
    assert "does not fit the other files" in client.get("/admin/rules/deadlines").get_data(as_text=True)


def test_no_case_is_touched_by_rule_file_changes(site):
    with site.rt.Session() as s:
        before = s.execute(select(func.count()).select_from(Case)).scalar()
    post(site.admin(), "/admin/rules/deadlines", {"content": _shipped("deadlines.toml")})
    with site.rt.Session() as s:
        assert s.execute(select(func.count()).select_from(Case)).scalar() == before


# -- in a real browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_the_admin_pages_in_a_browser_pass_axe_and_fit_a_phone(site, monkeypatch):
    from playwright.sync_api import expect

    from tracker.accounts.tokens import create_token, revoke_token

    monkeypatch.setattr(runtime_module, "RULES_LOOK_EVERY", 0)  # each page looks at the files on disk
    site.rules_dir.mkdir()
    broken = site.rules_dir / "retention.toml"

    with site.rt.transaction() as s:  # the user page shows a live and a revoked token
        leader = s.get(User, site.leader_id)
        create_token(s, leader, "sagssystem")
        revoke_token(s, create_token(s, leader, "gammelt system")[0])
    with served(site.app) as base, open_browser() as browser:
        for name, page in each_viewport(browser):
            log_in(page, base, ADMIN_EMAIL)

            def check(shot: str) -> None:
                screenshot(page, f"admin-{shot}-{name}")
                assert_fits_the_width(page, (shot, name))
                assert_no_serious_axe_findings(page, f"{shot} {name}")
                body = page.content()
                assert site.case_ref not in body and not any(s in body for s in SECRETS), shot

            for shot, url in (("index", "/admin"), ("users", "/admin/users?active=all"),
                              ("user", f"/admin/users/{site.leader_id}"), ("units", "/admin/units"),
                              ("rules", "/admin/rules"), ("rule-file", "/admin/rules/deadlines"),
                              ("rule-file-record", "/admin/rules/processing-record"),
                              ("rule-step", "/admin/rules/response/entries/police_report"),
                              ("rule-deadline", "/admin/rules/deadlines/entries/police_report"),
                              ("rule-platform", "/admin/rules/platforms/entries/facebook"),
                              ("own-password", "/account/password")):
                page.goto(base + url)
                check(shot)
            # a file broken by hand on disk after the start: the rule pages say which, why, and what stays in use
            broken.write_text("[[rule]]\nid = 3\n", encoding="utf-8")
            for shot, url in (("rules-not-loaded", "/admin/rules"), ("rule-file-not-loaded", "/admin/rules/retention")):
                page.goto(base + url)
                expect(page.locator("#not-loaded")).to_contain_text("retention.toml: rule #1, field 'id'")
                check(shot)
            broken.unlink()
            if name == "desktop":  # create a user and a refused rule file, the way an admin does
                page.goto(f"{base}/admin/users/new")
                check("user-new")
                page.locator("#name").fill("Bo Browser")
                page.locator("#email").fill("bo@kommune.dk")
                page.locator("#role").select_option("leader")
                page.locator("#unit").select_option(str(site.unit_b))
                page.locator("main button[type=submit]").click()
                expect(page.locator("code.password")).to_have_text(re.compile(r"^[a-z2-9-]{19}$"))
                check("password")
                page.goto(f"{base}/admin/rules/response")
                page.locator("#file").set_input_files(files=[{"name": "response.toml", "mimeType": "text/plain",
                                                              "buffer": b"[[step]]\nid = 1\n"}])
                page.locator("main form[enctype] button[type=submit]").click()
                expect(page.locator(".alert")).to_contain_text("response.toml")
                check("rule-refused")


def test_the_municipalitys_own_files_are_used_for_new_cases_case_pages_letters_and_reports(site):
    """Saved once by the admin, the local platform directory and letter template reach every reader."""
    from tracker.packaging.reports import case_report_html

    client = site.admin()
    text = _shipped("platforms.toml").replace('name = "Facebook"', 'name = "Facebook (Meta)"', 1)
    assert post(client, "/admin/rules/platforms", {"content": text}).status_code == 302
    letter = _shipped("letters/request_to_author.txt.j2").replace(
        "Emne: Anmodning om at fjerne indhold", "Emne: Kommunens egen anmodning om at fjerne indhold", 1)
    assert post(client, "/admin/rules/letter-request_to_author", {"content": letter}).status_code == 302

    leader = csrf_login(site.app, "leder@kommune.dk")
    assert "Facebook (Meta)" in leader.get(f"/cases/{site.case_ref}").get_data(as_text=True)
    page = leader.get(f"/cases/{site.case_ref}/letters/new?template=request_to_author").get_data(as_text=True)
    resp = leader.post(f"/cases/{site.case_ref}/letters/new",
                       data={"template": "request_to_author", "csrf_token": TOKEN.search(page).group(1)})
    assert resp.status_code == 302
    with site.rt.Session() as s:
        from storage.models import Case, Letter

        drafted = s.execute(select(Letter).where(Letter.case_id == site.case_id)).scalar_one()
        assert drafted.subject.startswith("Kommunens egen anmodning om at fjerne indhold")
        assert "Facebook (Meta)" in case_report_html(site.rt, s, s.get(Case, site.case_id))

    page = leader.get("/report").get_data(as_text=True)  # a new case is matched against the local directory
    resp = leader.post("/report", data={"url": "https://www.facebook.com/groups/x/posts/1", "description": "igen",
                                        "csrf_token": TOKEN.search(page).group(1)})
    assert resp.status_code == 302
    assert "Facebook (Meta)" in leader.get(resp.headers["Location"]).get_data(as_text=True)
