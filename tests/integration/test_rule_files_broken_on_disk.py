"""A rule file broken by hand on disk after the start: the pages and jobs that use it keep the last version that
loaded (never a 500), the administrator's rule-file pages say which file, the loader's line and since when, and once
the file is fixed the new version is used and the warning is gone. The real app over real files, on both databases.

Each kind of file goes the same way: the administrator saves version 1 on the rule-file page, someone breaks the
copy in <data_dir>/rules by hand, then writes a correct version 2 there by hand (as an operator with a text editor
would). RULES_LOOK_EVERY is 0, so every request (and every job, through the worker's pre-execute hook, called here
as ``refresh_in_force``) looks at the files, as production does every few seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
from markupsafe import escape
from sqlalchemy import select

from storage.models import Role, User
from storage.types import utcnow
from tests.support.cli import said, vaern
from tests.support.factories import csrf_login, make_case, make_unit, make_user, post_form
from tracker.accounts.rule_files import rule_file
from tracker.adapters import runtime as runtime_module
from tracker.packaging.subject_export import gather_for
from tracker.workflow.recheck import removal_signs
from webui.app import create_app
from tracker.wording import local_time

ADMIN, EMPLOYEE = "admin@kommune.dk", "ansat@kommune.dk"


class Site:
    """One Værn (web process) with an administrator and an employee whose case is open."""

    def __init__(self, rt):
        self.rt = rt
        self.app = create_app(runtime=rt)
        self.app.config.update(TESTING=True)
        with rt.transaction() as s:
            unit = make_unit(s, "Jobcenter")
            make_user(s, Role.admin, None, email=ADMIN, name="Ada Admin")
            employee = make_user(s, Role.employee, unit, email=EMPLOYEE, name="Eva Ansat")
            make_case(s, employee, description="Trussel i en kommentar")
        self.client = csrf_login(self.app, ADMIN)
        self.client.get("/?lang=en")  # English pages (the Danish warning is read once below)

    @property
    def rules_dir(self):
        return self.rt.settings.data_dir / "rules"

    def get(self, url: str) -> str:
        resp = self.client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        return resp.get_data(as_text=True)

    def erase_preview(self) -> str:
        resp = post_form(self.client, "/hr/privacy/erase", {"email": EMPLOYEE, "reason": "E-mail af 1.12.2026"})
        assert resp.status_code == 200, resp.status_code
        return resp.get_data(as_text=True)

    def employee(self, session) -> User:
        return session.execute(select(User).where(User.email == EMPLOYEE)).scalar_one()


@dataclass(frozen=True)
class Kind:
    file_id: str
    version: Callable[[str, int], str]  #: the shipped text made into version n (its marker in it)
    marker: Callable[[int], str]
    breaks: Callable[[str], str]
    line: str  #: the loader's line for the broken file (from the file's name on)
    in_use: Callable[[Site], str]  #: what the pages and functions that use the file show now

    @property
    def name(self) -> str:
        return rule_file(self.file_id).name


def _retention_in_use(site: Site) -> str:
    site.rt.refresh_in_force()  # as the worker does before the subject-export job
    with site.rt.Session() as s:
        package = gather_for(site.rt, s, site.employee(s), utcnow()).document["retention_rules"]
    site.erase_preview()
    return site.get("/admin/processing-record") + " ".join(r["label_da"] for r in package)


def _signs_in_use(site: Site) -> str:
    site.rt.refresh_in_force()  # as the worker does before a re-check
    signs = removal_signs(site.rt)
    assert signs.removal_text_on("youtube", "Video unavailable") == "Video unavailable"
    return " | ".join(signs.for_platform("youtube").removal_texts)


KINDS = [
    Kind("retention",
         lambda t, n: t.replace('keep_years = 5\nenforced = true\nlabel_da = "Lukkede sager slettes 5 år efter lukning"',
                                f'keep_years = {n + 5}\nenforced = true\n'
                                f'label_da = "Lukkede sager slettes {n + 5} år efter lukning"', 1),
         lambda n: f"Lukkede sager slettes {n + 5} år efter lukning",
         lambda t: t.replace("keep_years = 6\nenforced = true", "keep_years = 11\nenforced = true", 1),
         "retention.toml: rule 'closed_case', field 'keep_years': closed cases are kept 1 to 10 years after closing",
         _retention_in_use),
    Kind("erasure",
         lambda t, n: t.replace('label_en = "The case is open"', f'label_en = "The case is open (version {n})"', 1),
         lambda n: f"The case is open (version {n})",
         lambda t: t.replace('article = "art. 17, stk. 3, litra e"\n', "", 1),
         "erasure.toml: exception 'legal_hold', field 'article': Field required",
         lambda site: site.erase_preview()),
    Kind("removal-signs",
         lambda t, n: t.replace('removal_texts = ["Video unavailable", ',
                                f'removal_texts = ["Video unavailable", "Videoen er fjernet ({n})", ', 1),
         lambda n: f"Videoen er fjernet ({n})",
         lambda t: t.replace('removal_texts = ["research/platforms.md §3 (YouTube, graded M)"]', "", 1),
         "removal_signs.toml: platform 'youtube', field 'sources': removal_texts needs a source",
         _signs_in_use),
    Kind("processing-record",
         lambda t, n: t.replace("Stille beviser til rådighed for en politianmeldelse",
                                f"Stille beviser til rådighed for en politianmeldelse (udgave {n})", 1),
         lambda n: f"Stille beviser til rådighed for en politianmeldelse (udgave {n})",
         lambda t: t.replace('role = "admin"', 'role = "hr"', 1),
         "processing_record.toml: role, field 'role': no text for the role 'admin'",
         lambda site: site.get("/admin/processing-record") + site.get("/admin/processing-record.md")),
]


@pytest.fixture
def site(runtime, monkeypatch):
    monkeypatch.setattr(runtime_module, "RULES_LOOK_EVERY", 0)  # in production they look every few seconds
    return Site(runtime)


@pytest.mark.parametrize("kind", KINDS, ids=[k.file_id for k in KINDS])
def test_a_file_broken_on_disk_leaves_the_last_version_in_use_and_the_admin_sees_why_until_it_is_fixed(
        site, kind, caplog):
    shipped = rule_file(kind.file_id).shipped.read_text(encoding="utf-8")
    v1, v2 = kind.version(shipped, 1), kind.version(shipped, 2)
    assert kind.marker(1) in v1 and kind.marker(2) in v2 and kind.breaks(v1) != v1
    before_save = utcnow()
    assert post_form(site.client, f"/admin/rules/{kind.file_id}", {"content": v1}).status_code == 302
    assert kind.marker(1) in kind.in_use(site)
    assert "does not load" not in site.get("/admin/rules")

    local = site.rules_dir / kind.name
    local.write_text(kind.breaks(v1), encoding="utf-8")  # by hand, after the start
    shown = kind.in_use(site) + kind.in_use(site)  # twice: the problem is logged once, not at every look
    assert kind.marker(1) in shown
    assert [r.getMessage() for r in caplog.records if "do not load" in r.getMessage()] == [
        f"the rule files in {site.rules_dir} changed but do not load; keeping the ones in use: {kind.line}"]

    problem = site.rt.load_problem
    assert (problem.file, problem.message) == (kind.name, kind.line)
    assert before_save <= problem.in_use_since <= problem.noticed_at
    for page in (site.get("/admin/rules"), site.get(f"/admin/rules/{kind.file_id}")):
        warning = page.split('id="not-loaded"', 1)[1].split("</section>", 1)[0]
        assert f"{kind.name} on disk does not load" in warning
        assert f"<code>{escape(kind.line)}</code>" in warning
        assert (f"Værn keeps using the version taken into use {local_time(problem.in_use_since, 'en')} until the file "
                "is fixed.") in warning
        assert str(site.rules_dir) not in warning
    assert f'href="/admin/rules/{kind.file_id}"' in site.get("/admin/rules").split('id="not-loaded"', 1)[1]

    local.write_text(v2, encoding="utf-8")  # fixed by hand
    shown = kind.in_use(site)
    assert kind.marker(2) in shown and kind.marker(1) not in shown
    assert site.rt.load_problem is None
    assert 'id="not-loaded"' not in site.get("/admin/rules") + site.get(f"/admin/rules/{kind.file_id}")


def test_the_warning_is_in_danish_and_a_save_on_the_page_clears_it(site):
    local = site.rules_dir / "retention.toml"
    local.parent.mkdir()
    local.write_text("[[rule]]\nid = 3\n", encoding="utf-8")
    da = csrf_login(site.app, ADMIN)  # Danish by default
    page = da.get("/admin/rules").get_data(as_text=True)
    assert "retention.toml på disken kan ikke indlæses" in page
    assert "Værn bruger fortsat den version, der blev taget i brug" in page
    assert "Ret retention.toml" in page and "(kan ikke indlæses: bruges ikke)" in page

    shipped = rule_file("retention").shipped.read_text(encoding="utf-8")
    assert post_form(site.client, "/admin/rules/retention", {"content": shipped}).status_code == 302
    assert site.rt.load_problem is None and 'id="not-loaded"' not in site.get("/admin/rules")


def test_a_letter_broken_on_disk_is_named_by_its_place_and_the_warning_says_it_cannot_be_drafted(site):
    """Letters are only checked when the files are loaded; a letter is read from its file when it is drafted."""
    letter = rule_file("letter-dsa_notice")
    local = site.rules_dir / letter.name
    local.parent.mkdir(parents=True)
    local.write_text(letter.shipped.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    page = site.get("/admin/rules")
    warning = page.split('id="not-loaded"', 1)[1].split("</section>", 1)[0]
    assert "letters/dsa_notice.txt.j2 on disk does not load" in warning
    assert "<code>letters/dsa_notice.txt.j2: not a valid template (line " in warning and "vaern-letters" not in warning
    assert "so this letter cannot be drafted until the file is fixed" in warning
    assert 'href="/admin/rules/letter-dsa_notice"' in warning


def test_another_file_is_not_saved_while_one_on_disk_does_not_load(site):
    """Saving deadlines.toml would put a set in force that cannot load: refused with the broken file's line."""
    (site.rules_dir).mkdir()
    (site.rules_dir / "erasure.toml").write_text("[[exception]]\nid = 1\n", encoding="utf-8")
    deadlines = rule_file("deadlines").shipped.read_text(encoding="utf-8")
    resp = post_form(site.client, "/admin/rules/deadlines", {"content": deadlines})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "The file was not saved" in body
    assert "erasure.toml: exception #1, field &#39;id&#39;: Input should be a valid string" in body
    assert not (site.rules_dir / "deadlines.toml").exists()


def test_a_file_saved_by_hand_in_another_encoding_is_a_problem_not_a_500(site):
    """Notepad's Windows-1252: the loaders say it is not UTF-8; the file's own page still opens."""
    shipped = rule_file("removal-signs").shipped.read_text(encoding="utf-8")
    local = site.rules_dir / "removal_signs.toml"
    local.parent.mkdir()
    local.write_bytes(shipped.replace("Video unavailable", "Videoen er slettet af ejeren (æøå)", 1).encode("cp1252"))
    page = site.get("/admin/rules/removal-signs")
    assert "removal_signs.toml: not UTF-8 text (byte " in page
    assert "Videoen er slettet af ejeren (\ufffd\ufffd\ufffd)" in page  # shown as it can be read
    assert removal_signs(site.rt).removal_text_on("youtube", "Video unavailable") == "Video unavailable"


# -- the commands that run once read the file from disk: one line and exit 2, never a traceback ----------------
def _run(rt, *args: str):
    env = {"database_url": rt.settings.database_url} if rt.settings.database_url else {}
    return vaern(*args, data_dir=rt.settings.data_dir, **env)


@pytest.mark.parametrize(("name", "command", "line"), [
    ("retention.toml", ("retention", "run", "--dry-run"), "rule #1, field 'id': Input should be a valid string"),
    ("erasure.toml", ("subject", "erase", "--email", EMPLOYEE, "--reason", "E-mail", "--dry-run"),
     "exception #1, field 'id': Input should be a valid string"),
], ids=["retention-run", "subject-erase"])
def test_a_command_that_runs_once_says_which_file_is_broken_in_one_line(runtime, name, command, line):
    with runtime.transaction() as s:
        make_user(s, Role.employee, make_unit(s), email=EMPLOYEE)
    local = runtime.settings.data_dir / "rules" / name
    local.parent.mkdir()
    local.write_text(f"[[{'rule' if name == 'retention.toml' else 'exception'}]]\nid = 1\n", encoding="utf-8")
    done = _run(runtime, *command)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert said(done.stderr) == [f"vaern: {local}: {line}"]
    local.write_bytes('[[rule]]\nid = "lukket"\nlabel_da = "Sletning efter år"\n'.encode("cp1252"))
    done = _run(runtime, *command)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert said(done.stderr) == [f"vaern: {local}: not UTF-8 text (byte 50)"]


def test_a_worker_checks_the_files_at_its_start_like_the_web_server(tmp_path, redis_url):
    """Afterwards it keeps the last version that loaded (its pre-execute hook is ``refresh_in_force``)."""
    data = tmp_path / "data"
    (data / "rules").mkdir(parents=True)
    (data / "rules" / "removal_signs.toml").write_text("[[platform]]\nid = 1\n", encoding="utf-8")
    start = vaern("worker", data_dir=data, redis_url=redis_url, timeout=60)
    assert start.returncode == 2 and "Traceback" not in start.stderr, start.stderr
    assert said(start.stderr) == [f"vaern: {data / 'rules' / 'removal_signs.toml'}: platform #1, field 'id': "
                                  "Input should be a valid string"]
