"""Rule files edited entry by entry in forms with Danish labels; TOML stays what is stored and checked."""
from __future__ import annotations

import re
import tomllib

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Role
from tests.support.factories import csrf_login, make_unit, make_user
from tracker.accounts import rule_files as ops
from tracker.errors import DomainError
from tracker.workflow.platforms import load_platform_directory
from tracker.workflow.removal_signs import load_removal_signs
from tracker.workflow.rules import RULES_DIR, load_rules_with_overrides
from webui.app import create_app
from webui.labels import PLATFORMS_KEY, RULES_KEY

ADMIN, LEADER = "admin@kommune.dk", "leder@kommune.dk"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class Site:
    def __init__(self, rt):
        self.rt = rt
        self.app = create_app(runtime=rt)
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            self.admin_id = make_user(s, Role.admin, None, email=ADMIN).id
            self.leader_id = make_user(s, Role.leader, unit, email=LEADER).id
        self.rules_dir = rt.settings.data_dir / "rules"

    def events(self) -> list[AuditEvent]:
        with self.rt.Session() as s:
            return list(s.execute(select(AuditEvent).where(AuditEvent.action == "rules.save")).scalars())


@pytest.fixture
def site(make_runtime):
    return Site(make_runtime())


def form_fields(html: str) -> dict:
    """The form's current values as a browser would send them (inputs, selected options, checked boxes, text)."""
    data: dict = {}
    for m in re.finditer(r"<input ([^>]*)>", html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        if "name" not in attrs or attrs.get("type") == "file":
            continue
        if attrs.get("type") == "checkbox":
            if "checked" in m.group(1):
                data.setdefault(attrs["name"], []).append(attrs.get("value", "y"))
            continue
        data[attrs["name"]] = attrs.get("value", "")
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        options = re.findall(r"<option([^>]*)>", m.group(2))
        chosen = [o for o in options if "selected" in o] or options[:1]  # a browser sends the first when none is
        data[m.group(1)] = re.search(r'value="([^"]*)"', chosen[0]).group(1) if chosen else ""
    for m in re.finditer(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        import html as html_mod

        data[m.group(1)] = html_mod.unescape(m.group(2)).lstrip("\r\n")
    return {k: html_unescape(v) if isinstance(v, str) else v for k, v in data.items()}


def html_unescape(value: str) -> str:
    import html

    return html.unescape(value)


def test_an_admin_changes_a_deadline_in_its_danish_form_and_the_saved_toml_loads_with_the_real_loader(site):
    client = csrf_login(site.app, ADMIN)
    url = "/admin/rules/deadlines/entries/police_report"
    page = client.get(url).get_data(as_text=True)
    assert "Navn på dansk" in page and "Hvordan tiden tælles" in page  # Danish labels
    data = form_fields(page)
    assert data["label_da"] == "Politianmeldelse inden 72 timer" and data["length_amount"] == "72"
    data.update(label_da="Anmeld til politiet inden 72 timer", at_risk_amount="12")
    resp = client.post(url, data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    saved = (site.rules_dir / "deadlines.toml").read_text(encoding="utf-8")
    assert saved.startswith("# Kommunens egen udgave af deadlines.toml")
    assert "/home" not in saved and "/work" not in saved and "/tmp" not in saved
    rules = load_rules_with_overrides(site.rules_dir)  # the real loader, with the other files in force
    police = rules.deadlines["police_report"]
    assert police.label_da == "Anmeld til politiet inden 72 timer" and police.at_risk_before.amount == 12
    assert police.length.amount == 72 and police.closable_by_note  # untouched fields kept
    assert len(rules.deadlines) == len(tomllib.loads((RULES_DIR / "deadlines.toml").read_text())["deadline"])
    assert site.app.extensions[RULES_KEY].deadlines["police_report"].label_da.startswith("Anmeld")  # in use now
    (event,) = site.events()
    assert event.actor_id == site.admin_id and event.details["entry"] == "police_report"
    assert event.object_id == "deadlines.toml" and event.details["before"]["source"] == "shipped"


def test_a_checklist_step_keeps_its_preconditions_and_deadline_choices(site):
    client = csrf_login(site.app, ADMIN)
    url = "/admin/rules/response/entries/leader_conversation"
    page = client.get(url).get_data(as_text=True)
    assert "Hvem gør det" in page and "Gælder kun når" in page
    data = form_fields(page)
    data["precondition"] = ["author_known"]
    data["label_da"] = "Samtale med lederen samme dag"
    assert client.post(url, data=data).status_code == 302
    step = load_rules_with_overrides(site.rules_dir).step("leader_conversation")
    assert step.label_da == "Samtale med lederen samme dag" and step.precondition == ("author_known",)
    assert step.deadline == "leader_conversation"


def test_invalid_values_are_shown_again_with_danish_errors_and_nothing_is_saved(site):
    client = csrf_login(site.app, ADMIN)
    url = "/admin/rules/platforms/entries/facebook"
    data = form_fields(client.get(url).get_data(as_text=True))
    data.update(hosts="https://facebook.com/groups", dsa_notice_url="http://m.facebook.com/help",
                grade_privacy_report_url="", verified="31.02.2026")
    resp = client.post(url, data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Ændringen blev ikke gemt" in html
    assert "er ikke et værtsnavn" in html  # hosts
    assert "begynder med https://" in html  # the DSA form address
    assert "Giv kanalen en vurdering: H, M eller L." in html  # the privacy channel lost its grade
    assert 'aria-invalid="true"' in html and "https://facebook.com/groups" in html  # the typed values come back
    assert not (site.rules_dir / "platforms.toml").exists() and site.events() == []


def test_a_value_the_real_loader_refuses_is_shown_with_its_line_and_nothing_is_saved(site):
    client = csrf_login(site.app, ADMIN)
    url = "/admin/rules/response/entries/inform_leader"
    data = form_fields(client.get(url).get_data(as_text=True))
    data["order"] = "1"  # the form accepts a number; the loader refuses two checklist steps at position 1
    resp = client.post(url, data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Værn fandt denne fejl i filen" in html
    assert "response.toml" in html and "/tmp" not in html
    assert not (site.rules_dir / "response.toml").exists() and site.events() == []


def test_removal_signs_and_platform_hosts_are_saved_as_lists_the_loaders_accept(site):
    client = csrf_login(site.app, ADMIN)
    url = "/admin/rules/removal-signs/entries/facebook"
    data = form_fields(client.get(url).get_data(as_text=True))
    data["removal_texts"] += "\nDette indhold er ikke tilgængeligt lige nu"
    assert client.post(url, data=data).status_code == 302
    signs = load_removal_signs(site.rules_dir / "removal_signs.toml")
    assert "Dette indhold er ikke tilgængeligt lige nu" in signs.for_platform("facebook").removal_texts
    url = "/admin/rules/platforms/entries/facebook"
    data = form_fields(client.get(url).get_data(as_text=True))
    data.update(hosts="facebook.com\nfb.com\nfb.watch\nfacebook.dk", verified="05.12.2026")
    assert client.post(url, data=data).status_code == 302, client.post(url, data=data).get_data(as_text=True)
    directory = load_platform_directory(site.rules_dir / "platforms.toml")
    facebook = directory.get("facebook")
    assert "facebook.dk" in facebook.hosts and str(facebook.verified) == "2026-12-05"
    assert facebook.sources  # fields the form does not show are kept
    assert site.app.extensions[PLATFORMS_KEY].for_host("www.facebook.dk").id == "facebook"


def test_a_non_admin_is_refused_by_the_page_and_by_the_operation(site):
    leader = csrf_login(site.app, LEADER)
    url = "/admin/rules/deadlines/entries/police_report"
    assert leader.get(url).status_code == 404
    token = TOKEN.search(leader.get("/").get_data(as_text=True)).group(1)
    assert leader.post(url, data={"csrf_token": token, "label_da": "x"}).status_code == 404
    with site.rt.transaction() as s:
        from storage.models import User

        with pytest.raises(DomainError) as e:
            ops.save_rule_entry(s, s.get(User, site.leader_id), site.rules_dir, ops.rule_file("deadlines"),
                                "police_report", {"label_da": "x"})
        assert e.value.code == "not_allowed"
        with pytest.raises(DomainError):
            ops.save_rule_file(s, s.get(User, site.leader_id), site.rules_dir, ops.rule_file("deadlines"),
                               (RULES_DIR / "deadlines.toml").read_text())
    assert not site.rules_dir.exists() or not any(site.rules_dir.iterdir())
    assert csrf_login(site.app, ADMIN).get("/admin/rules/letter-dsa_notice/entries/x").status_code == 404


def test_no_shipped_rule_file_or_letter_holds_a_machine_path_and_comments_are_danish():
    for path in [*RULES_DIR.glob("*.toml"), *(RULES_DIR / "letters").glob("*")]:
        text = path.read_text(encoding="utf-8")
        for root in ("/home/", "/work/", "/tmp/", "/Users/", "/root/", "C:\\"):
            assert root not in text, (path.name, root)
    for path in RULES_DIR.glob("*.toml"):
        comments = " ".join(line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
        assert not re.search(r"\b(the|which|where|when|every|must)\b", comments), path.name


def test_a_ladder_rung_shows_and_saves_its_waiting_days_and_a_checklist_step_has_none(site):
    client = csrf_login(site.app, ADMIN)
    assert 'name="wait_days"' not in client.get("/admin/rules/response/entries/police_report").get_data(as_text=True)
    url = "/admin/rules/response/entries/platform_notice"
    data = form_fields(client.get(url).get_data(as_text=True))
    data["wait_days"] = "abc"
    html = client.post(url, data=data).get_data(as_text=True)
    assert "Skriv et helt tal." in html  # WTForms' own message, in Danish
    data["wait_days"] = "10"
    assert client.post(url, data=data).status_code == 302
    assert load_rules_with_overrides(site.rules_dir).step("platform_notice").wait_days == 10
