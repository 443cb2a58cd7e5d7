"""Offenders on a case through the API: list the links (as the case page shows them), confirm or dismiss a
suggestion, add one by hand (``tracker.oversight.offenders``: the unit's leader and HR change them)."""
from __future__ import annotations

from typing import Any

from storage.models import CaseOffender, Offender
from tracker.oversight import audit
from tracker.oversight import offenders as ops
from webui.api.core import Field, answer, body, case_or_404, operation, run, user, via
from webui.db import db, runtime

OFFENDERS = "Offenders"
MANAGERS = "the unit's leader and HR (others who see the case: 403 not_allowed)"


def link_data(link: CaseOffender, offender: Offender, other_cases: int | None = None) -> dict[str, Any]:
    return {"link_id": link.id, "state": link.state, "evidence_id": link.evidence_id, "decided_at": link.decided_at,
            "created_at": link.created_at, "other_cases": other_cases,
            "offender": {"id": offender.id, "platform": offender.platform, "handle": offender.handle,
                         "display_name": offender.display_name, "profile_url": offender.profile_url,
                         "kind": offender.kind.value}}


@operation("GET", "/cases/<ref>/offenders", tag=OFFENDERS, summary="The case's offenders",
           response="OffenderList", who="whoever may see the case", errors=(404,))
def list_offenders(ref: str):
    """Active links first, each with the number of other cases the offender is active in; audited as a view."""
    case = case_or_404(ref)
    s = db()
    views = ops.offenders_on_case(s, case, user())
    audit.record(s, user(), "case.view", "case", case.ref, case.id, part="offenders", **via())
    return answer({"offenders": [link_data(v.link, v.offender, v.other_cases) for v in views]})


@operation("POST", "/cases/<ref>/offenders", tag=OFFENDERS, summary="Add an offender by hand", ok=201,
           response="OffenderLink", who=MANAGERS, errors=(400, 403, 404),
           body={"platform": Field("string", "a platform id of the platform directory, or generic", required=True),
                 "handle": Field("string", "the profile's name on the platform", required=True),
                 "profile_url": Field("string", "the profile's address", nullable=True),
                 "display_name": Field("string", "the name shown", nullable=True)})
def add_offender(ref: str):
    """Linked as confirmed; a dismissed link is confirmed again. 400 handle_missing, bad_platform, bad_profile_url."""
    b = body()
    case = case_or_404(ref)
    known = tuple(p.id for p in runtime().platforms.platforms)
    link = run(lambda s: ops.add_by_hand(s, case, user(), platform=b.get("platform") or "", handle=b.get("handle") or "",
                                         profile_url=b.get("profile_url"), display_name=b.get("display_name"),
                                         known_platforms=known))
    return answer(link_data(link, db().get(Offender, link.offender_id)), 201)


@operation("POST", "/cases/<ref>/offenders/<int:link_id>/decision", tag=OFFENDERS, response="OffenderLink",
           summary="Confirm or dismiss an offender on the case", who=MANAGERS, errors=(400, 403, 404),
           body={"state": Field("string", "the decision", choices=(ops.CONFIRMED, ops.DISMISSED), required=True)})
def decide_offender(ref: str, link_id: int):
    """A dismissed suggestion means "not this person" and no longer counts. 400 bad_state."""
    state = body().get("state") or ""
    case = case_or_404(ref)
    link = run(lambda s: ops.decide(s, case, link_id, state, user()))
    return answer(link_data(link, db().get(Offender, link.offender_id)))
