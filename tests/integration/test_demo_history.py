"""The demo's made-up earlier cases: added once through the real operations, each at its own past time,
with real evidence captured from the demo's pages."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.models import AuditEvent, Case, CaseOffender, Evidence, EvidenceState, Offender
from storage.types import utcnow
from tracker.adapters.demo import DEMO_HISTORY, ensure_demo_org, seed_demo_history, start_demo_site, with_demo_alias
from tracker.adapters.jobs import close_capturer
from tracker.workflow.platforms import platform_for_url

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_rt(make_runtime):
    site = start_demo_site(port=None)
    rt = make_runtime(capture_allowed_hosts=site.allowed_hosts)
    yield rt, site
    close_capturer()
    site.stop()


def test_the_demo_history_is_added_once_at_past_times_with_captured_evidence_steps_and_offenders(demo_rt):
    rt, site = demo_rt
    with rt.transaction() as s:
        ensure_demo_org(s)
    now = utcnow()
    assert seed_demo_history(rt, site, now) == len(DEMO_HISTORY)
    assert seed_demo_history(rt, site, now) == 0  # never twice, never into real cases
    demo_directory = with_demo_alias(rt.in_force, site.hosts).directory
    with rt.Session() as s:
        cases = s.execute(select(Case).order_by(Case.created_at)).scalars().all()
        assert len(cases) == len(DEMO_HISTORY)
        closed = [c for c in cases if c.status == "closed"]
        assert len(closed) == 3  # the removed ones older than two months
        recurring = s.execute(select(Offender).where(Offender.handle == "kommunekritikeren")).scalar_one()
        links = s.execute(select(func.count()).select_from(CaseOffender)
                          .where(CaseOffender.offender_id == recurring.id)).scalar()
        assert (links, recurring.kind.value) == (3, "professional_querulant")
        for case, (days, *_rest) in zip(cases, DEMO_HISTORY):
            opened = now - timedelta(days=days)
            assert abs(case.created_at - opened) < timedelta(seconds=1)
            events = s.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)).scalars().all()
            assert {"case.create", "evidence.request", "evidence.captured", "step.state"} <= {e.action for e in events}
            # every event of the case happened within its own past month, none "today"
            assert all(opened - timedelta(seconds=1) <= e.at <= opened + timedelta(days=31) for e in events), case.ref
            (ev,) = case.evidence
            assert ev.state == EvidenceState.done and ev.manifest_sha256
            assert ev.source_url.startswith(site.url("/earlier/", case.platform))
            # in demo mode the evidence's address counts as the case's platform (127.0.0.2 is X, …)
            assert platform_for_url(ev.source_url, demo_directory).id == case.platform
            captured = next(e.at for e in events if e.action == "evidence.captured")
            assert opened < captured < opened + timedelta(minutes=10)
            manifest = json.loads(rt.blobs.read(ev.manifest_sha256))  # the evidence itself says when, too
            started = datetime.fromisoformat(manifest["started_at_utc"].replace("Z", "+00:00"))
            assert opened < started < captured
        actions = set(s.execute(select(AuditEvent.action)).scalars())
        assert {"case.category", "step.state", "step.rung", "offender.linked", "case.close"} <= actions
        shots = s.execute(select(func.count()).select_from(Evidence).where(Evidence.state == EvidenceState.done)).scalar()
        assert shots == len(DEMO_HISTORY)
