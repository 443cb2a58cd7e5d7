"""Re-checks: the comparison rules, which URLs are due, two agreeing removals, and real re-captures."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import Case, CaseStep, Evidence, EvidenceState, Recheck, Role, User
from storage.types import utcnow
from tests.factories import make_case, make_settings, make_unit, make_user
from tests.fixtures_recheck.captures import POST_URL, finish, gone, manifest, sealed
from tests.fixtures_recheck.switch_site import SwitchSite
from tracker import jobs, recheck
from tracker.errors import DomainError, NotFound
from tracker.evidence import store_bundle
from tracker.recheck import compare, decide, due_rechecks, start_recheck, verified_removal
from tracker.runtime import Runtime

HOUR = timedelta(hours=1)
BASE = manifest()


# -- the comparison rules (pure) ----------------------------------------------------------------
@pytest.mark.parametrize("new, state, verdict", [
    (manifest(), "done", "still_online"),
    (manifest(phash="ffff0000ffff0003"), "done", "still_online"),  # 2 bits: rendering noise
    (manifest(text="b" * 64), "done", "changed"),
    (manifest(phash="0000ffff0000ffff"), "done", "changed"),  # same text, another picture
    (manifest(status="not_found", http=404, text=None, basis=None), "done", "removed"),
    (manifest(status="not_found", http=410, text=None, basis=None), "done", "removed"),
    (manifest(status="not_found", http=200, text=None, basis=None), "done", "removed"),  # tombstone text
    (manifest(final_url="https://example.org/", text=None, basis="screenshot_viewport"), "done", "removed"),
    (manifest(text=None, basis="screenshot_viewport"), "done", "removed"),  # the post element is gone
    (manifest(status="failed", http=503, text=None, basis=None), "done", "unreachable"),
    (manifest(status="failed", http=500, text=None, basis=None), "done", "unreachable"),
    (manifest(status="failed", http=None, text=None, basis=None), "done", "unreachable"),  # DNS / refused
    (manifest(status="failed", http=429, text=None, basis=None), "done", "unreachable"),
    (manifest(status="failed", http=403, text=None, basis=None), "done", "unreachable"),
    (manifest(status="timed_out"), "done", "unreachable"),
    (manifest(status="blocked_by_policy", http=None), "done", "unreachable"),
    (manifest(status="login_wall", final_url="https://example.org/login", text=None, basis=None), "done",
     "unreachable"),
    (manifest(final_url="https://www.instagram.com/", text=None, basis=None, platform="instagram"), "done",
     "unreachable"),
    (None, "failed", "unreachable"),
    (None, "refused", "unreachable"),
])
def test_a_recapture_is_judged_by_rules_and_a_transient_error_never_reads_as_removed(new, state, verdict):
    assert compare(BASE, new, state=state).verdict == verdict


def test_a_page_whose_original_capture_found_no_post_element_is_only_judged_online_or_gone():
    base = manifest(text=None, basis="screenshot_viewport")
    found = compare(base, manifest(text="c" * 64))
    assert found.verdict == "still_online" and found.details["comparable"] is False
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
        hr = make_user(s, Role.hr)
        outsider = make_user(s, Role.leader, make_unit(s))
        with pytest.raises(NotFound):
            recheck.request_recheck(s, case, outsider)
        with pytest.raises(DomainError):
            recheck.request_recheck(s, case, hr)
        first = recheck.request_recheck(s, case, leader)
        assert [r.id for r in recheck.request_recheck(s, case, leader)] == [first[0].id]  # not twice
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
    rt = Runtime.from_settings(make_settings(tmp_path_factory.mktemp("recheck-capture"),
                                             capture_allowed_hosts=f"{up.host},{down.host}", capture_time_cap=20))
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
