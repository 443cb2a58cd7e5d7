"""Re-checks: the comparison rules, which URLs are due, two agreeing removals, and real re-captures."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Case, CaseStep, Evidence, EvidenceState, Recheck, Role, User
from storage.types import utcnow
from tests.support.factories import make_case, make_settings, make_unit, make_user
from tests.support.recheck_captures import POST_TEXT, POST_URL, finish, gone, manifest, sealed
from tests.support.switch_site import SwitchSite
from tests.support.database import new_runtime
from tracker.adapters import jobs
from tracker.workflow import recheck
from tracker.errors import DomainError, NotFound
from tracker.cases.evidence import store_bundle
from tracker.workflow.recheck import compare, decide, due_rechecks, reason_text, start_recheck, verified_removal
from tracker.workflow.removal_signs import (PlatformSigns, RemovalSigns, RemovalSignsError, load_removal_signs,
                                   signs_in_force)
from tracker.adapters.runtime import Runtime

HOUR = timedelta(hours=1)
BASE = manifest()


# -- the comparison rules (pure) ----------------------------------------------------------------
ELSEWHERE = "Borgerforeningen. Velkommen til vores side. Ingen opslag at vise her."
SIGNS = RemovalSigns((PlatformSigns(id="generic", removal_texts=("Opslaget er fjernet af platformen",),
                                    deletion_redirects=("/removed",), sources={"removal_texts": ("test",),
                                                                               "deletion_redirects": ("test",)}),),
                     Path("test"))


@pytest.mark.parametrize("new, state, page, verdict, code", [
    (manifest(), "done", POST_TEXT, "still_online", "post_online"),
    (manifest(phash="ffff0000ffff0003"), "done", POST_TEXT, "still_online", "post_online"),  # 2 bits: noise
    (manifest(text="b" * 64), "done", "", "changed", "text_changed"),
    (manifest(phash="0000ffff0000ffff"), "done", POST_TEXT, "changed", "picture_changed"),  # same text, new picture
    (manifest(status="not_found", http=404, text=None, basis=None), "done", "", "removed", "http_gone"),
    (manifest(status="not_found", http=410, text=None, basis=None), "done", "", "removed", "http_gone"),
    (manifest(status="not_found", http=451, text=None, basis=None), "done", "", "removed", "http_withheld"),
    # the post element is gone but its text is on the page: the markup changed, the post is online
    (manifest(text=None, basis="screenshot_viewport"), "done", f"Nyt design\n{POST_TEXT}\nDel", "still_online",
     "text_on_page"),
    # neither element, nor text, nor a removal sign: uncertain, never removed
    (manifest(text=None, basis="screenshot_viewport"), "done", ELSEWHERE, "uncertain", "no_sign"),
    (manifest(final_url="https://example.org/", text=None, basis="screenshot_viewport"), "done", ELSEWHERE,
     "uncertain", "no_sign_home"),
    # the capture's own tombstone list said not_found on a 200 page; Værn's sourced list does not confirm it
    (manifest(status="not_found", http=200, text=None, basis=None), "done", "Siden blev ikke fundet",
     "uncertain", "no_sign"),
    (manifest(status="failed", http=503, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="failed", http=500, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="failed", http=None, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="failed", http=429, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="failed", http=403, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="failed", http=404, text=None, basis=None), "done", "", "unreachable", "capture_failed"),
    (manifest(status="timed_out"), "done", "", "unreachable", "timed_out"),
    (manifest(status="blocked_by_policy", http=None), "done", "", "unreachable", "blocked_by_policy"),
    (manifest(status="blocked_by_policy", http=200, text=None, basis=None), "done", ELSEWHERE, "unreachable",
     "blocked_by_policy"),
    (manifest(status="login_wall", final_url="https://example.org/login", text=None, basis=None), "done", "",
     "unreachable", "login_wall"),
    (manifest(status="consent_wall", text=None, basis=None), "done", ELSEWHERE, "unreachable", "consent_wall"),
    (manifest(status="navigated_away", http=404, final_url="https://other.example/", text=None, basis=None), "done",
     "", "unreachable", "navigated_away"),
    (manifest(status="something_new", text=None, basis=None), "done", "", "unreachable", "not_seen"),
    (manifest(status="consent_accepted"), "done", POST_TEXT, "still_online", "post_online"),
    (manifest(final_url="https://www.instagram.com/", text=None, basis=None, platform="instagram"), "done", "",
     "unreachable", "home_is_login"),
    (None, "failed", "", "unreachable", "capture_incomplete"),
    (None, "refused", "", "unreachable", "capture_incomplete"),
])
def test_a_recapture_is_removed_only_on_positive_evidence_and_a_page_not_seen_is_unreachable(
        new, state, page, verdict, code):
    found = compare(BASE, new, state=state, page_text=page, signs=SIGNS)
    assert (found.verdict, found.code) == (verdict, code), found.details
    assert found.reason == reason_text(code, found.details) and "unknown" not in found.reason


def test_the_platform_removal_text_and_deletion_redirect_from_the_data_file_are_removals():
    gone_page = manifest(status="ok", text=None, basis="screenshot_viewport")
    found = compare(BASE, gone_page, page_text="Forside\nOPSLAGET er fjernet af platformen.", signs=SIGNS,
                    platform="generic")
    assert (found.verdict, found.code, found.details["removal_text"]) == (
        "removed", "removal_text", "Opslaget er fjernet af platformen")
    # the removal text next to the post's own text (e.g. quoted in a comment) removes nothing
    both = compare(BASE, gone_page, page_text=f"{POST_TEXT}\nOpslaget er fjernet af platformen", signs=SIGNS,
                   platform="generic")
    assert both.verdict == "still_online"
    # another platform's wording is not this platform's sign
    assert compare(BASE, gone_page, page_text="Opslaget er fjernet af platformen", signs=SIGNS,
                   platform="facebook").verdict == "uncertain"
    moved = compare(BASE, manifest(final_url="https://example.org/removed?id=1", text=None, basis=None),
                    page_text="", signs=SIGNS, platform="generic")
    assert (moved.verdict, moved.code) == ("removed", "deletion_redirect")


def test_the_shipped_removal_signs_are_sourced_and_a_youtube_tombstone_is_a_removal():
    signs = load_removal_signs()
    assert all(p.sources.get("removal_texts") for p in signs.platforms if p.removal_texts)
    assert signs.for_platform("linkedin").removal_texts == ()  # "cannot be displayed" is also a login gate
    tomb = manifest(status="ok", text=None, basis="screenshot_viewport", platform="youtube")
    assert compare(BASE, tomb, page_text="Video unavailable\nThis video isn't available anymore",
                   platform="youtube").verdict == "removed"


def test_a_broken_removal_signs_file_is_named_in_one_line(tmp_path):
    bad = tmp_path / "removal_signs.toml"
    bad.write_text('[[platform]]\nid = "x"\nremoval_texts = ["Post gone"]\n', encoding="utf-8")
    with pytest.raises(RemovalSignsError, match=r"removal_signs.toml: platform 'x', field 'sources'"):
        load_removal_signs(bad)
    bad.write_text('[[platform]]\nid = "x"\nremoval_texts = ["Post gone"]\n[platform.sources]\n'
                   'removal_texts = ["a test"]\n', encoding="utf-8")
    assert signs_in_force(tmp_path).for_platform("x").removal_texts == ("Post gone",)
    assert signs_in_force(tmp_path / "none").path.name == "removal_signs.toml"


def test_a_page_whose_original_capture_found_no_post_is_online_only_if_its_text_is_still_there():
    base = manifest(text=None, basis="screenshot_viewport")
    first_page = "Borgerforeningens side om kommunen og dens medarbejdere\nKort\nJeg ved hvor sagsbehandleren bor, hun skal passe på"
    found = compare(base, manifest(text="c" * 64), page_text=f"Ny menu\n{first_page}", baseline_text=first_page)
    assert (found.verdict, found.code, found.details["comparable"]) == ("still_online", "page_text_on_page", False)
    assert compare(base, manifest(text="c" * 64), page_text="Noget helt andet", baseline_text=first_page
                   ).verdict == "uncertain"
    assert compare(base, manifest(text="c" * 64), page_text="x", baseline_text="Kort").code == "no_comparison"
    assert compare(base, manifest(status="not_found", http=404)).verdict == "removed"


# -- synthetic captures in the database ---------------------------------------------------------
@pytest.fixture
def rt(database_url, make_runtime) -> Runtime:
    """SQLite, and PostgreSQL when VAERN_TEST_DATABASE_URL is set."""
    return make_runtime(database_url=database_url)


def open_case_with_baseline(rt, url: str = POST_URL) -> tuple[int, int, int, int]:
    """A case whose URL was captured (state done); returns (case id, baseline id, employee id, leader id)."""
    with rt.transaction() as s:
        unit = make_unit(s)
        leader = make_user(s, Role.leader, unit)
        case = make_case(s, make_user(s, Role.employee, unit), url=url)
        ids = case.id, case.evidence[0].id, case.employee_id, leader.id
    store_bundle(rt, ids[1], sealed(manifest()))
    return ids


def test_only_two_agreeing_rechecks_verify_a_removal_and_unreachable_ones_are_no_evidence(rt):
    case_id, base_id, _, _ = open_case_with_baseline(rt)
    verdicts = []
    for m, state in [(gone(), "done"), (None, "failed"), (manifest(status="failed", http=503), "done")]:
        verdicts.append(finish(rt, start_recheck(rt, case_id, base_id), m, state))
        with rt.Session() as s:
            assert verified_removal(s, s.get(Case, case_id)) is None
    assert verdicts == ["removed_pending", "unreachable", "unreachable"]

    confirming = start_recheck(rt, case_id, base_id)
    assert finish(rt, confirming, gone()) == "removed"
    with rt.Session() as s:
        row = s.get(Recheck, confirming)
        assert verified_removal(s, s.get(Case, case_id)) == row.evidence_id
        assert row.details["http_status"] == 404 and row.decided_at is not None
    third = start_recheck(rt, case_id, base_id)
    assert finish(rt, third, gone()) == "removed"
    with rt.Session() as s:  # the first confirming capture stays the one the ladder cites
        assert verified_removal(s, s.get(Case, case_id)) == s.get(Recheck, confirming).evidence_id

    assert finish(rt, start_recheck(rt, case_id, base_id), manifest()) == "still_online"
    with rt.Session() as s:
        assert verified_removal(s, s.get(Case, case_id)) is None


def test_a_verdict_is_decided_once(rt):
    case_id, base_id, _, _ = open_case_with_baseline(rt)
    rid = start_recheck(rt, case_id, base_id)
    assert decide(rt, rid) is None  # capture not finished yet
    assert finish(rt, rid, manifest(text="d" * 64)) == "changed"
    assert decide(rt, rid) == "changed"
    with rt.Session() as s:
        assert s.get(Recheck, rid).details["same_text"] is False


def test_a_url_is_due_until_rechecked_within_the_interval_or_its_takedown_is_verified(rt):
    case_id, base_id, _, leader_id = open_case_with_baseline(rt)
    with rt.transaction() as s:  # the same URL captured again is not a second baseline
        ev = Evidence(case_id=case_id, kind="url", source_url=POST_URL, state=EvidenceState.queued,
                      created_by_id=leader_id)
        s.add(ev)
        s.flush()
        second = ev.id
    store_bundle(rt, second, sealed(manifest()))
    other_case, failed_base, _, _ = open_case_with_baseline(rt, "https://example.org/opslag/2")
    with rt.transaction() as s:  # a baseline that did not capture the post is not compared with
        s.get(Evidence, failed_base).capture_status = "failed"

    def due(now):
        with rt.Session() as s:
            return [e.id for e in due_rechecks(s, now, 6 * HOUR)]

    now = utcnow()
    assert due(now) == [base_id]
    rid = start_recheck(rt, case_id, base_id)
    assert due(now) == [] and due(now + 7 * HOUR) == []  # its capture is still queued
    finish(rt, rid, manifest())
    assert due(now + 5 * HOUR) == [] and due(now + 7 * HOUR) == [base_id]  # the re-capture is no baseline
    with rt.transaction() as s:
        s.add(CaseStep(case_id=case_id, step_id="platform_notice", outcome="removed",
                       verified_by_evidence_id=base_id))
    assert due(now + 7 * HOUR) == []


def test_a_closed_case_is_not_rechecked(rt):
    case_id, _, _, _ = open_case_with_baseline(rt)
    with rt.transaction() as s:
        s.get(Case, case_id).status = "closed"
        assert due_rechecks(s, utcnow(), HOUR) == []


def test_the_periodic_run_starts_due_rechecks_as_the_system_and_enqueues_their_captures(rt):
    case_id, base_id, employee_id, _ = open_case_with_baseline(rt)
    assert recheck.run_due(rt) == 1
    assert recheck.run_due(rt) == 0
    with rt.Session() as s:
        row = s.execute(select(Recheck)).scalar_one()
        ev = s.get(Evidence, row.evidence_id)
        assert (row.case_id, row.baseline_evidence_id, row.verdict) == (case_id, base_id, None)
        assert ev.source_url == POST_URL and ev.created_by_id == employee_id  # the reporter; audit actor: system
    assert [t.args[0] for t in rt.huey.pending() if t.name == "capture_evidence"] == [row.evidence_id]


def test_a_leader_can_ask_for_a_recheck_and_mark_a_verified_removal_on_the_ladder(rt):
    case_id, base_id, employee_id, leader_id = open_case_with_baseline(rt)
    jobs.bind_enqueue_on_commit(rt)
    with rt.transaction() as s:
        case, leader = s.get(Case, case_id), s.get(User, leader_id)
        hr, admin = make_user(s, Role.hr), make_user(s, Role.admin)
        outsider = make_user(s, Role.leader, make_unit(s))
        for nobody in (outsider, admin):  # the admin reads no case content
            with pytest.raises(NotFound):
                recheck.request_recheck(s, case, nobody)
        first = recheck.request_recheck(s, case, leader)
        assert [r.id for r in recheck.request_recheck(s, case, hr)] == [first[0].id]  # not twice (HR may ask)
        assert rt.huey.pending_count() == 0  # enqueued after commit
    assert [t.args[0] for t in rt.huey.pending()] == [first[0].evidence_id]
    assert finish(rt, first[0].id, gone()) == "removed_pending"
    second = start_recheck(rt, case_id, base_id)
    assert finish(rt, second, gone()) == "removed"

    with rt.transaction() as s:
        step = CaseStep(case_id=case_id, step_id="platform_notice")
        s.add(step)
        s.flush()
        leader = s.get(User, leader_id)
        with pytest.raises(DomainError):  # the pending one does not verify anything
            recheck.mark_removed_verified(s, step, first[0].evidence_id, leader)
        with pytest.raises(DomainError):
            recheck.mark_removed_verified(s, step, verified_removal(s, s.get(Case, case_id)),
                                          s.get(User, employee_id))
        recheck.mark_removed_verified(s, step, verified_removal(s, s.get(Case, case_id)), leader)
        assert step.outcome == "removed" and step.updated_by_id == leader_id
    with rt.Session() as s:
        assert due_rechecks(s, utcnow() + 100 * HOUR, HOUR) == []


def test_an_uncertain_recheck_never_counts_until_the_leader_decides_and_the_decision_is_recorded(rt):
    case_id, base_id, employee_id, leader_id = open_case_with_baseline(rt)
    unsure = manifest(text=None, basis="screenshot_viewport")
    assert finish(rt, start_recheck(rt, case_id, base_id), gone()) == "removed_pending"
    first = start_recheck(rt, case_id, base_id)
    assert finish(rt, first, unsure, page_text="Velkommen til foreningen") == "uncertain"
    second = start_recheck(rt, case_id, base_id)
    assert finish(rt, second, unsure, page_text="Velkommen til foreningen") == "uncertain"
    with rt.Session() as s:
        case = s.get(Case, case_id)
        assert verified_removal(s, case) is None  # uncertain ones are neither removals nor a break
        row = s.get(Recheck, first)
        assert (row.reason_code, row.decided_by_id) == ("no_sign", None)
        assert "neither the post element, nor the post's text, nor a removal sign" in row.reason
        assert [r.id for r in recheck.undecided_uncertain(s, case)] == [first, second]

    with rt.transaction() as s:
        case, employee, leader = s.get(Case, case_id), s.get(User, employee_id), s.get(User, leader_id)
        with pytest.raises(DomainError) as refused:
            recheck.decide_uncertain(s, case, second, "removed", employee)
        assert refused.value.code == "not_allowed"
        with pytest.raises(NotFound):
            recheck.decide_uncertain(s, case, second, "removed", make_user(s, Role.leader, make_unit(s)))
        with pytest.raises(DomainError) as bad:
            recheck.decide_uncertain(s, case, second, "maybe", leader)
        assert bad.value.code == "bad_decision"
        row = recheck.decide_uncertain(s, case, second, "removed", leader)
        assert (row.verdict, row.decided_by_id, row.reason_code) == ("removed", leader_id, "leader_removed")
        assert row.details["finding"]["verdict"] == "uncertain" and row.details["agrees_with_recheck"]
        assert verified_removal(s, case) == row.evidence_id  # the first removal and the leader's agree
        with pytest.raises(DomainError) as late:  # a newer re-check answered: the older one is closed
            recheck.decide_uncertain(s, case, first, "still_online", leader)
        assert late.value.code == "not_uncertain"
        assert recheck.undecided_uncertain(s, case) == []
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "recheck.leader_decided")).scalar_one()
        assert (event.actor_id, event.details["before"], event.details["verdict"]) == (leader_id, "uncertain",
                                                                                      "removed")
        data = recheck.rechecks_data(s, case)
        assert [d["verdict"] for d in data] == ["removed", "uncertain", "removed"]
        assert [d["removal_confirmed"] for d in data] == [False, None, True]
        assert data[2]["decided_by"] == {"id": leader_id, "name": leader.name}


def test_a_leader_saying_still_online_breaks_a_run_of_removals(rt):
    case_id, base_id, _, leader_id = open_case_with_baseline(rt)
    assert finish(rt, start_recheck(rt, case_id, base_id), gone()) == "removed_pending"
    unsure = start_recheck(rt, case_id, base_id)
    assert finish(rt, unsure, manifest(text=None, basis=None), page_text="Forside") == "uncertain"
    with rt.transaction() as s:
        row = recheck.decide_uncertain(s, s.get(Case, case_id), unsure, "still_online", s.get(User, leader_id))
        assert (row.verdict, row.reason_code) == ("still_online", "leader_online")
    assert finish(rt, start_recheck(rt, case_id, base_id), gone()) == "removed_pending"


# -- real re-captures through the capture job ---------------------------------------------------
@pytest.fixture(scope="module")
def sites():
    up, down = SwitchSite(), SwitchSite()
    yield up, down
    up.stop()
    down.stop()


@pytest.fixture(scope="module")
def capture_rt(sites, tmp_path_factory):
    """One runtime (one Chromium) for all real captures of this module; both sites allow-listed."""
    up, down = sites
    rt = new_runtime(make_settings(tmp_path_factory.mktemp("recheck-capture"),
                                             capture_allowed_hosts=f"{up.host},{down.host}", capture_time_cap=20))
    # the fixture site's removal wording, as a municipality's own copy of the removal signs would list it
    rt.rules_dir.mkdir(parents=True, exist_ok=True)
    (rt.rules_dir / "removal_signs.toml").write_text(
        '[[platform]]\nid = "generic"\nremoval_texts = ["Dette opslag er fjernet af platformens moderatorer"]\n'
        '[platform.sources]\nremoval_texts = ["tests/support/switch_site.py"]\n', encoding="utf-8")
    yield rt
    rt.close()


def run_job(rt, evidence_id: int) -> str:
    """The capture task's body, as a consumer runs it (capture, store, then decide a re-check)."""
    return rt.huey.vaern_capture.call_local(evidence_id)


def real_case(rt, url: str) -> tuple[int, int]:
    with rt.transaction() as s:
        case = make_case(s, make_user(s, Role.employee, make_unit(s)), url=url)
        case_id, base_id = case.id, case.evidence[0].id
    assert run_job(rt, base_id) == "done"
    with rt.Session() as s:
        assert s.get(Evidence, base_id).capture_status == "ok"
    return case_id, base_id


def real_recheck(rt, case_id: int, base_id: int) -> Recheck:
    rid = start_recheck(rt, case_id, base_id)
    with rt.Session() as s:
        ev_id = s.get(Recheck, rid).evidence_id
    run_job(rt, ev_id)
    with rt.Session() as s:
        return s.get(Recheck, rid)


def verified(rt, case_id: int) -> int | None:
    with rt.Session() as s:
        return verified_removal(s, s.get(Case, case_id))


@pytest.mark.browser
def test_a_post_that_goes_404_twice_is_verified_removed_and_online_again_is_not(capture_rt, sites):
    rt, (site, _) = capture_rt, sites
    site.mode["/p/1"] = "online"
    case_id, base_id = real_case(rt, site.url("/p/1"))

    online = real_recheck(rt, case_id, base_id)
    assert online.verdict == "still_online", online.details
    assert online.details["same_text"] is True and online.details["phash_distance"] <= 8

    site.mode["/p/1"] = "gone"
    first = real_recheck(rt, case_id, base_id)
    assert first.verdict == "removed_pending" and first.details["http_status"] == 404
    assert verified(rt, case_id) is None
    second = real_recheck(rt, case_id, base_id)
    assert second.verdict == "removed"
    assert verified(rt, case_id) == second.evidence_id
    with rt.Session() as s:  # the removal capture is kept as evidence
        assert s.get(Evidence, second.evidence_id).capture_status == "not_found"

    site.mode["/p/1"] = "online"
    back = real_recheck(rt, case_id, base_id)
    assert back.verdict == "still_online"
    assert verified(rt, case_id) is None

    site.mode["/p/1"] = "edited"
    assert real_recheck(rt, case_id, base_id).verdict == "changed"


@pytest.mark.browser
def test_a_server_that_answers_503_or_refuses_connections_is_unreachable_never_removed(capture_rt, sites):
    rt, (site, down) = capture_rt, sites
    site.mode["/p/2"] = "online"
    case_id, base_id = real_case(rt, site.url("/p/2"))
    site.mode["/p/2"] = "unavailable"
    row = real_recheck(rt, case_id, base_id)
    assert row.verdict == "unreachable" and row.details["http_status"] == 503

    down.mode["/p/3"] = "online"
    case_id, base_id = real_case(rt, down.url("/p/3"))
    down.stop()  # connection refused from now on
    row = real_recheck(rt, case_id, base_id)
    assert row.verdict == "unreachable", row.details
    assert verified(rt, case_id) is None


@pytest.mark.browser
def test_changed_markup_with_the_posts_text_still_there_is_still_online_never_removed(capture_rt, sites):
    rt, (site, _) = capture_rt, sites
    site.mode["/p/4"] = "online"
    case_id, base_id = real_case(rt, site.url("/p/4"))
    site.mode["/p/4"] = "restyled"
    for _ in range(2):  # twice: two of the old "element gone" verdicts used to verify a removal
        row = real_recheck(rt, case_id, base_id)
        assert (row.verdict, row.reason_code) == ("still_online", "text_on_page"), row.details
        assert "the post's text is still on the page" in row.reason
    assert verified(rt, case_id) is None


@pytest.mark.browser
def test_a_410_and_the_platforms_removal_text_are_removals_that_two_agreeing_verify(capture_rt, sites):
    rt, (site, _) = capture_rt, sites
    site.mode["/p/5"] = "online"
    case_id, base_id = real_case(rt, site.url("/p/5"))
    site.mode["/p/5"] = "deleted"
    first = real_recheck(rt, case_id, base_id)
    assert (first.verdict, first.reason_code, first.details["http_status"]) == ("removed_pending", "http_gone", 410)
    site.mode["/p/5"] = "tombstone"
    second = real_recheck(rt, case_id, base_id)
    assert (second.verdict, second.reason_code) == ("removed", "removal_text"), second.details
    assert second.details["removal_text"] == "Dette opslag er fjernet af platformens moderatorer"
    assert verified(rt, case_id) == second.evidence_id


@pytest.mark.browser
def test_a_page_without_the_post_its_text_or_a_removal_sign_is_uncertain_and_the_leader_decides_in_the_browser(
        capture_rt, sites):
    from playwright.sync_api import expect

    from tests.support.browser import (PHONE, assert_fits_the_width, assert_no_serious_axe_findings, log_in, new_page,
                               open_browser, screenshot, served)
    from webui.app import create_app

    rt, (site, _) = capture_rt, sites
    site.mode["/p/6"] = "online"
    case_id, base_id = real_case(rt, site.url("/p/6"))
    site.mode["/p/6"] = "blank"
    rows = [real_recheck(rt, case_id, base_id) for _ in range(2)]
    assert [(r.verdict, r.reason_code) for r in rows] == [("uncertain", "no_sign")] * 2
    assert verified(rt, case_id) is None  # two uncertain re-checks verify nothing
    with rt.transaction() as s:
        case = s.get(Case, case_id)
        leader = make_user(s, Role.leader, s.get(User, case.employee_id).unit, name="Lone Leder")
        ref, leader_email, leader_id = case.ref, leader.email, leader.id
        base_shot = next(a.name for a in s.get(Evidence, base_id).artifacts if a.role == "screenshot_viewport")

    app = create_app(runtime=rt)
    with served(app) as base, open_browser() as browser:
        for name, options in (("desktop", {}), ("phone", PHONE)):
            page = new_page(browser, **options)
            log_in(page, base, leader_email)
            page.goto(f"{base}/cases/{ref}#rechecks")
            block = page.locator(f"#recheck-{rows[-1].id}")
            expect(block).to_contain_text("Værn fandt hverken opslaget, dets tekst eller tegn på, at det er fjernet.")
            shots = block.locator("img.shot")
            expect(shots).to_have_count(2)
            assert shots.nth(0).get_attribute("src").endswith(f"/evidence/{base_id}/{base_shot}")
            assert f"/evidence/{rows[-1].evidence_id}/" in shots.nth(1).get_attribute("src")
            assert all(shots.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(2))
            expect(page.locator(f"#recheck-{rows[0].id}")).to_have_count(1)  # both are open to a decision
            assert_no_serious_axe_findings(page, f"uncertain re-check ({name})")
            assert_fits_the_width(page, name)
            screenshot(block, f"recheck-uncertain-{name}")
            if name == "desktop":
                page.context.close()
                continue
            block.get_by_role("button", name="Fjernet").click()
            expect(page.locator("#rechecks .flash")).to_contain_text("Din beslutning er gemt")  # said where it was made
            expect(page.locator(f"#recheck-row-{rows[-1].id}")).to_contain_text("besluttet af Lone Leder")
            expect(page.locator(".recheck-uncertain")).to_have_count(0)  # the newer answer closes the older one
            page.context.close()
    with rt.Session() as s:
        row = s.get(Recheck, rows[-1].id)
        assert (row.verdict, row.decided_by_id, row.reason_code) == ("removed_pending", leader_id, "leader_removed")
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "recheck.leader_decided",
                                                   AuditEvent.case_id == case_id)).scalar_one()
        assert (event.actor_id, event.details["decision"]) == (leader_id, "removed")
        viewed = s.execute(select(AuditEvent.details).where(AuditEvent.action == "artifact.view",
                                                            AuditEvent.case_id == case_id)).scalars().all()
        assert {d["evidence"] for d in viewed} >= {base_id, rows[-1].evidence_id}  # the images, audited
    assert verified(rt, case_id) is None  # one removal verdict (the leader's) is not yet two
    site.mode["/p/6"] = "deleted"
    assert real_recheck(rt, case_id, base_id).verdict == "removed"  # agrees with the leader's decision
    assert verified(rt, case_id) is not None
