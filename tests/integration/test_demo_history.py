"""The demo's made-up earlier cases: added once, through the real operations, visible to HR and in the statistics."""
from __future__ import annotations

from sqlalchemy import func, select

from storage.models import AuditEvent, Case, CaseOffender, Offender
from storage.types import utcnow
from tracker.adapters.demo import DEMO_HISTORY, ensure_demo_org, seed_demo_history


def test_the_demo_history_is_added_once_with_audited_steps_offenders_and_closed_cases(runtime):
    with runtime.transaction() as s:
        ensure_demo_org(s)
        assert seed_demo_history(s, runtime.rules, utcnow()) == len(DEMO_HISTORY)
    with runtime.transaction() as s:
        assert seed_demo_history(s, runtime.rules, utcnow()) == 0  # never twice, never into real cases
        assert s.execute(select(func.count()).select_from(Case)).scalar() == len(DEMO_HISTORY)
        closed = s.execute(select(func.count()).select_from(Case).where(Case.status == "closed")).scalar()
        assert closed == 3  # the removed ones older than two months
        recurring = s.execute(select(Offender).where(Offender.handle == "kommunekritikeren")).scalar_one()
        links = s.execute(select(func.count()).select_from(CaseOffender)
                          .where(CaseOffender.offender_id == recurring.id)).scalar()
        assert (links, recurring.kind.value) == (3, "professional_querulant")
        actions = set(s.execute(select(AuditEvent.action)).scalars())
        assert {"case.category", "step.state", "step.rung", "offender.linked", "case.close"} <= actions
