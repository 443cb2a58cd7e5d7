"""Re-checks on the case page: each verdict's reason in the page's language, and the leader's decision
on an ``uncertain`` re-check from the two screenshots side by side (images, never the captured HTML).

The decision form posts here (CSRF, audited by tracker.workflow.recheck.decide_uncertain) and is redirected
back to the case. A case you cannot see is a 404; one you see but may not decide on is a 403.
"""
from __future__ import annotations

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from storage.models import Case, Evidence, Recheck, Role, User
from tracker.workflow import recheck
from tracker.workflow.steps import can_manage_case
from webui.forms.workflow import RecheckDecisionForm
from webui.db import runtime

bp = Blueprint("rechecks", __name__)

#: why a re-check reached its verdict (tracker.workflow.recheck_compare.REASONS), as the case page says it
REASONS = {
    "capture_incomplete": _l("The new capture did not complete, so Værn could not look at the page."),
    "login_wall": _l("A login page stood in place of the post, so Værn could not see it."),
    "consent_wall": _l("A cookie or consent dialog still covered the page, so Værn could not see the post."),
    "navigated_away": _l("The page moved on to another site, so Værn could not see the post."),
    "blocked_by_policy": _l("The page led to an address Værn is not allowed to visit, so Værn could not see it."),
    "timed_out": _l("The capture ran out of time before Værn could see the page."),
    "not_seen": _l("The capture ended with status %(status)s and could not see the page."),
    "capture_failed": _l("The capture failed (%(what)s), so Værn could not see the page."),
    "http_gone": _l("The platform answered HTTP %(http_status)s: the post's address no longer exists."),
    "http_withheld": _l("The platform answered HTTP 451: the post is withheld for legal reasons and cannot be "
                        "seen from here."),
    "removal_text": _l("The page shows the platform's removal text “%(removal_text)s” and not the post's text."),
    "deletion_redirect": _l("The address now leads to %(final_url)s, where the platform sends deleted posts."),
    "home_is_login": _l("The address now leads to the home page, which the platform shows visitors who are "
                        "not logged in."),
    "post_online": _l("The post is online as it was captured."),
    "no_comparison": _l("The page answers, but the first capture found no post or text to compare with."),
    "text_changed": _l("The post's text differs from the first capture."),
    "picture_changed": _l("The post's text is the same, but its picture differs."),
    "text_on_page": _l("The post's text is still on the page. The part of the page Værn looks for is gone, "
                       "so the site has changed its layout."),
    "page_text_on_page": _l("The first capture found no post, but its longest passages of text are still on "
                            "the page."),
    "no_sign": _l("The page answers, but Værn found neither the post, nor its text, nor a sign that it was "
                  "removed. Compare the two screenshots."),
    "no_sign_home": _l("The address now leads to the site's front page, and the site is not known to do that "
                       "for removed posts. The post is not on it. Compare the two screenshots."),
    "leader_removed": _l("The leader compared the two screenshots and decided that the post is removed."),
    "leader_online": _l("The leader compared the two screenshots and decided that the post is still online."),
}
#: the leader's two answers on an uncertain re-check
DECISIONS = {"removed": _l("Removed"), "still_online": _l("Still online")}
MESSAGES = {
    "bad_decision": _l("Choose “Removed” or “Still online”."),
    "not_uncertain": _l("This re-check has already been decided, or a newer re-check has answered."),
}
#: the screenshot shown for each capture, the first role it has: the same view of both pages (what a
#: visitor saw first), not the post's crop next to a whole page
SHOT_ROLES = ("screenshot_viewport", "screenshot_full", "screenshot_post")


def reason_label(row: Recheck) -> str:
    """The verdict's reason in the page's language ("" while the re-check is not decided)."""
    if not row.reason_code:
        return ""
    label = REASONS.get(row.reason_code)
    if label is None:
        return row.reason or ""
    details = {k: v for k, v in (row.details or {}).items() if v is not None}
    known = {"status": "?", "what": "?", "http_status": "?", "removal_text": "?", "final_url": "?", **details}
    return str(label) % {k: known[k] for k in ("status", "what", "http_status", "removal_text", "final_url")}


def screenshot(ev: Evidence | None):
    """The artifact to show for a capture: the visible part of the page, else the whole page, else the post."""
    if ev is None:
        return None
    return next((a for role in SHOT_ROLES for a in ev.artifacts if a.role == role), None)


def page_context(session, case: Case, user: User) -> dict:
    """What the case page's re-check section needs beyond the list: the uncertain ones and their screenshots."""
    uncertain = recheck.undecided_uncertain(session, case)
    shots = {}
    for row in uncertain:
        baseline, recapture = session.get(Evidence, row.baseline_evidence_id), session.get(Evidence, row.evidence_id)
        shots[row.id] = ((baseline, screenshot(baseline)), (recapture, screenshot(recapture)))
    return dict(uncertain_rechecks=uncertain, uncertain_shots=shots,
                can_decide_recheck=user.role is Role.leader and can_manage_case(user, case))


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(recheck_reason=reason_label, RECHECK_DECISIONS=DECISIONS)


@bp.post("/cases/<ref>/rechecks/<int:recheck_id>/decision")
@login_required
def decide(ref: str, recheck_id: int):
    from webui.workflow import run_on_case  # reason: cycle — webui.workflow → webui.cases → webui.oversight → webui.workflow

    def op(session, case, form: RecheckDecisionForm):  # the leaders' e-mail of a verified removal: after commit
        recheck.decide_uncertain(session, case, recheck_id, form.decision.data, current_user.user, rt=runtime())

    return run_on_case(ref, "rechecks", op, form=RecheckDecisionForm,
                       done=_("Your decision is saved and recorded in the log."), messages=MESSAGES,
                       forbidden=_("You can read this case, but only the unit's leader decides an uncertain "
                                   "re-check."))
