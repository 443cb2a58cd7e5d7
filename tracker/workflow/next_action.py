"""What the leader should do next on a case, with its deadline: the top of the case page's cockpit.

Pure data from the case file (``tracker.cases.casefile.case_overview``): no session, no clock of its own,
so the order of actions can be tested in milliseconds. The most urgent counting deadline whose step is
still open comes first ("Anmeld til politiet senest … — om 2 dage 20 timer"); then steps whose deadline
cannot start because a time is unknown; then the ladder rung the workflow suggests; then the first
open checklist step. The page turns each action into a sentence in its language.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

#: a step's action as an imperative (the rule files name steps as nouns); unknown steps use their label
ACTIONS: dict[str, tuple[str, str]] = {
    "secure_evidence": ("Sikr beviserne", "Secure the evidence"),
    "inform_leader": ("Orienter lederen", "Inform the leader"),
    "leader_conversation": ("Hold samtalen med medarbejderen", "Talk with the employee"),
    "police_report": ("Anmeld til politiet", "Report to the police"),
    "declined_police_report_note": ("Skriv notatet om, at medarbejderen ikke ønsker politianmeldelse",
                                    "Write the note that the employee does not want a police report"),
    "work_injury_report": ("Anmeld arbejdsskaden", "Report the work injury"),
    "contact_citizen": ("Kontakt borgeren om fremtidige henvendelser", "Tell the citizen how to make contact"),
    "request_removal": ("Forsøg at få opslaget fjernet", "Try to get the post removed"),
    "request_to_author": ("Bed ophavsmanden fjerne opslaget", "Ask the author to remove the post"),
    "platform_notice": ("Anmeld opslaget til platformen", "Report the post to the platform"),
    "datatilsynet_complaint": ("Klag til Datatilsynet", "Complain to the Data Protection Agency"),
    "injunction": ("Søg fogedforbud", "Apply for an injunction"),
    "med_evaluation": ("Evaluer episoden i MED", "Evaluate the episode in MED"),
}
#: a ladder rung's clock starts after the rung was taken, so its action is the deadline's, not the rung's
DEADLINE_ACTIONS: dict[str, tuple[str, str]] = {
    "justification_suit": ("Anlæg justifikationssagen", "Bring the justification suit"),
    "dsa_internal_complaint": ("Klag til platformen over dens afgørelse, hvis den er forkert",
                               "Complain to the platform about its decision if it is wrong"),
    "gdpr_answer": ("Følg op på anmodningen om sletning", "Follow up on the erasure request"),
}
CLOSED = frozenset({"done", "skipped", "not_applicable"})
COUNTING = {"overdue": 0, "at_risk": 1, "open": 2}  #: deadline states that count towards a due time


@dataclass(frozen=True)
class NextAction:
    step_id: str
    action_da: str
    action_en: str
    why: str  #: deadline | unknown_start | suggested_rung | checklist
    deadline_id: str | None = None
    deadline_state: str | None = None  #: overdue | at_risk | open | unknown_start
    due: datetime | None = None
    remaining: timedelta | None = None  #: due - now; negative when overdue
    starts_at: str | None = None  #: the clock that has no time yet (why == unknown_start)


def _action(step: Mapping[str, Any], why: str, deadline: Mapping[str, Any] | None = None,
            now: datetime | None = None) -> NextAction:
    da, en = ACTIONS.get(step["id"], (step["label_da"], step["label_en"]))
    if deadline is not None and step["kind"] == "ladder":
        da, en = DEADLINE_ACTIONS.get(deadline["id"], (da, en))
    if deadline is None:
        return NextAction(step["id"], da, en, why)
    due = deadline["due_at"]
    return NextAction(step["id"], da, en, why, deadline["id"], deadline["state"], due,
                      due - now if due is not None and now is not None else None, deadline["starts_at"])


def _open(step: Mapping[str, Any]) -> bool:
    return step["state"] not in CLOSED and step["applies"] is not False


def next_actions(overview: Mapping[str, Any], now: datetime, suggested_rung: str | None = None) -> list[NextAction]:
    """Every open step that has something to do, most urgent first; empty for a closed case.

    ``suggested_rung`` is the ladder rung ``tracker.workflow.steps.suggest_next_rung`` proposes (or None).
    """
    if overview["status"] != "open":
        return []
    steps = [s for s in overview["steps"] if _open(s)]
    deadlines = {d["id"]: d for d in overview["deadlines"]}
    out: list[NextAction] = []
    seen: set[str] = set()

    def add(action: NextAction) -> None:
        if action.step_id not in seen:
            seen.add(action.step_id)
            out.append(action)

    counting = sorted((d for d in deadlines.values() if d["state"] in COUNTING and d["due_at"] is not None),
                      key=lambda d: (COUNTING[d["state"]], d["due_at"]))
    for d in counting:
        for step in steps:
            if step["deadline"] == d["id"]:
                add(_action(step, "deadline", d, now))
    for step in steps:  # a clock that waits for a time nobody has entered (e.g. the episode's)
        d = deadlines.get(step["deadline"] or "")
        if d is not None and d["state"] == "unknown_start" and step["kind"] == "checklist" and d["starts_at"] in (
                "episode", "case_opened"):
            add(_action(step, "unknown_start", d, now))
    for step in steps:
        if step["id"] == suggested_rung:
            add(_action(step, "suggested_rung"))
    for step in steps:
        if step["kind"] == "checklist" and step["actor"] != "amr":
            add(_action(step, "checklist"))
    return out


def next_action(overview: Mapping[str, Any], now: datetime, suggested_rung: str | None = None) -> NextAction | None:
    """The one thing to do first (None when nothing is open)."""
    actions = next_actions(overview, now, suggested_rung)
    return actions[0] if actions else None
