"""Re-checks through the API: start one, list them, and the leader's decision on an uncertain one
(``tracker.workflow.recheck``, as the case page)."""
from __future__ import annotations

from flask import url_for

from tracker import uow
from tracker.oversight import audit
from tracker.workflow import recheck
from webui.api.core import Field, answer, body, case_or_404, operation, run, user, via
from webui.db import db, runtime

RECHECKS = "Re-checks"


@operation("POST", "/cases/<ref>/rechecks", tag=RECHECKS, summary="Re-check the case's captured URLs", ok=202,
           response="RecheckStarted", body={}, errors=(400, 403, 404, 409),
           who="whoever may see the case but an admin (tracker.workflow.recheck.MAY_REQUEST)")
def start_rechecks(ref: str):
    """Capture every captured URL of the case again and compare; an empty body or ``{}``. One already running
    is not started twice (it is in the answer). 409 no_captured_url."""
    body()  # no fields are defined: an empty body or {} is fine
    case = case_or_404(ref)

    def start(s):
        rows = recheck.request_recheck(s, case, user())
        audit.record(s, user(), "recheck.request", "case", case.ref, case.id, rechecks=[r.id for r in rows], **via())
        return rows
    rows = run(start)
    return answer({"id": rows[0].id, "ids": [r.id for r in rows], "rechecks": [recheck.recheck_data(r) for r in rows]},
                  202, url_for("api.get_case", ref=case.ref))


@operation("GET", "/cases/<ref>/rechecks", tag=RECHECKS, summary="The case's re-checks", response="RecheckList",
           who="whoever may see the case", errors=(404,))
def list_rechecks(ref: str):
    """Oldest first; the read is audited as a view of the case."""
    case = case_or_404(ref)
    s = db()
    rows = recheck.rechecks_data(s, case)
    audit.record(s, user(), "case.view", "case", case.ref, case.id, part="rechecks", **via())
    return answer({"rechecks": rows})


@operation("POST", "/cases/<ref>/rechecks/<int:recheck_id>/decision", tag=RECHECKS, response="Recheck",
           summary="Decide an uncertain re-check", who="the case's unit leader (others who see the case: 403)",
           body={"decision": Field("string", "what the two screenshots show", choices=("removed", "still_online"),
                                   required=True)},
           errors=(400, 403, 404, 409))
def decide_recheck(ref: str, recheck_id: int):
    """The leader's answer where Værn could not tell. 409 not_uncertain once decided or answered by a later
    re-check; a removal confirmed by it tells the leaders, as on the page."""
    decision = body().get("decision") or ""
    case = case_or_404(ref)
    rt, case_id = runtime(), case.id

    def decide(s):
        was = recheck.verified_removal(s, case)
        row = recheck.decide_uncertain(s, case, recheck_id, decision, user())
        now = recheck.verified_removal(s, case)
        if now is not None and now != was:  # the leaders hear of it once the decision is committed
            uow.after_commit(s, lambda: recheck.tell_leaders_removed(rt, case_id))
        return row
    row = run(decide)
    return answer(recheck.recheck_data(row, user()))
