"""One vocabulary for the domain's codes: the words pages and reports both use, from one Babel catalogue.

Each table maps a code to its English msgid, marked with ``N_`` so scripts/i18n.py extracts it into the
catalogue webui compiles (webui/translations/da/LC_MESSAGES/messages.mo). webui builds its lazy labels from
these tables (webui/labels.py, webui/workflow.py, webui/cases.py); a report reads the Danish from the same
catalogue with Babel — not Flask — so a page and a report cannot call one code two things. The catalogue
is data beside the webui package (installed with it); tracker imports no webui code.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import Translations

CATALOGUE = Path(__file__).resolve().parents[2] / "webui" / "translations"
LOCALE = "da"


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the catalogue (scripts/i18n.py extracts it); translated where it is shown."""
    return msgid


#: case categories (tracker.cases.lifecycle.CATEGORIES; the guideline's three definitions, DOMAIN.md)
CATEGORIES = {"digital_threat": N_("Digital threat"), "digital_bullying": N_("Digital bullying"),
              "digital_harassment": N_("Digital harassment")}
#: people's roles (storage.models.Role values)
PERSON_ROLES = {"employee": N_("Employee"), "leader": N_("Leader"), "hr": N_("HR"),
                "amr": N_("Work-environment representative"), "admin": N_("Administrator")}
#: checklist step states (storage.models.StepState values)
STEP_STATES = {"todo": N_("Not started"), "in_progress": N_("In progress"), "done": N_("Done"),
               "skipped": N_("Skipped"), "not_applicable": N_("Not applicable")}
#: deadline states (tracker.workflow.deadlines)
DEADLINE_STATES = {"overdue": N_("Overdue"), "at_risk": N_("Due soon"), "open": N_("Running"), "met": N_("Met"),
                   "unknown_start": N_("Start unknown"), "closed": N_("Closed")}

#: what each file of a bundle is (capture/ roles), for people who do not know MHTML from WARC
ARTIFACT_ROLES = {
    "screenshot_full": N_("Screenshot of the whole page"),
    "screenshot_viewport": N_("Screenshot of what was visible first"),
    "screenshot_post": N_("Screenshot of the post itself"),
    "screenshot_wall": N_("Screenshot of the cookie or login wall, before Værn clicked"),
    "mhtml": N_("Complete page archive (MHTML, opens in Chrome/Edge)"),
    "html": N_("The page's HTML source (download only)"),
    "text": N_("The page's visible text"),
    "ocr_text": N_("Text read from the picture by machine (OCR; may contain errors)"),
    "warc": N_("Web archive of all traffic (WARC, for specialists)"),
    "pdf": N_("The page printed to PDF"),
    "original": N_("The uploaded file, unchanged"),
    "preview": N_("Preview of the uploaded file"),
    "manifest": N_("Manifest: what was captured, how, and every file's SHA-256"),
    "timestamp": N_("Trusted timestamp token (RFC 3161)"),
    "timestamp_chain": N_("The time-stamping authority's certificates the timestamp was checked against"),
}

#: a capture's status in a word or two (capture/ status codes)
CAPTURE_STATUS_NAMES = {
    "ok": N_("Secured"),
    "consent_dismissed": N_("Secured after a cookie dialog"),
    "consent_accepted": N_("Secured after accepting cookies"),
    "consent_wall": N_("Covered by a window"),
    "login_wall": N_("Login wall"),
    "navigated_away": N_("Sent on to another page"),
    "not_found": N_("Not found"),
    "blocked_by_policy": N_("Refused by the safety rule"),
    "truncated": N_("Cut off"),
    "timed_out": N_("Time limit reached"),
    "failed": N_("Error"),
}

#: what a capture's status means, as precisely as a report needs it
CAPTURE_STATUS_TEXTS = {
    "ok": N_("The page was fetched and secured without problems: the submitted page (or a redirect on the same "
             "website), with nothing covering it."),
    "consent_dismissed": N_("The page showed a cookie or consent dialog. Værn took a picture of it, rejected "
                            "optional cookies or closed the dialog without consenting (the actions say which "
                            "button), and secured the page afterwards."),
    "consent_accepted": N_("The page showed a cookie or consent dialog that could not be rejected or closed. Værn "
                           "took a picture of the dialog and then accepted cookies to see the content. What is "
                           "secured shows the page as a visitor saw it after accepting cookies."),
    "consent_wall": N_("A window (e.g. a cookie or consent dialog) still covered the content after Værn had tried "
                       "to remove it. What is secured shows the window; the post is not or only partly visible, so "
                       "the capture does not document the post's content."),
    "login_wall": N_("The page required a login, or the server sent a login page instead of the post. What is "
                     "secured shows what a visitor without a login saw, and perhaps not the post."),
    "navigated_away": N_("The page sent the browser on to another website (redirect, automatic refresh or script). "
                         "What is secured is the page it ended on, not necessarily the post. The whole chain of "
                         "addresses is below and in the manifest."),
    "not_found": N_("The server answered that the page does not exist, or the page showed a message that the "
                    "content is not available."),
    "blocked_by_policy": N_("The address, or an address the page sent the browser on to, pointed to a place Værn's "
                            "safety rule may not open (e.g. an internal address). What is secured shows at most "
                            "Værn's own block page, not the post."),
    "truncated": N_("The page was taller than Værn's limit: the picture of the whole page is cut off at the bottom."),
    "timed_out": N_("The page did not finish within the time limit. What is secured is what was shown until then."),
    "failed": N_("The page could not be fetched properly (e.g. an error from the server). What came is saved."),
}

#: an uploaded file's status
UPLOAD_OK_TEXT = N_("The file was received and secured unchanged.")
#: the employee's statement (capture/statement.py), sealed
STATEMENT_OK_TEXT = N_("The employee's statement is kept unchanged as statement.json with its SHA-256 in the "
                       "manifest; statement.txt is the same statement as readable text.")

#: an ``ok`` capture whose coverage could not be measured: only what was established
OK_COVER_UNKNOWN_TEXT = N_("The page was fetched and secured: the submitted page (or a redirect on the same "
                           "website). Whether anything covered part of the page Værn could not measure; see the "
                           "screenshots.")

#: the request for a photo of the screen when the capture could not see the post ({ref}: the case)
PHOTO_REQUEST = N_("Værn could not see the post in this capture. If the employee has seen the post, take a photo of"
                   " the screen (phone or tablet) or a screenshot. The unit's leader adds it to the case under the "
                   "step »React quickly and secure the evidence«; the employee can send it with the form »Report "
                   "harassment« and write the case number {ref} in the description")

#: a capture made with a capture profile (issue 14): whose login it saw the page with; never a cookie
PROFILE_USED = N_("Secured logged in as %(who)s.")
PROFILE_LOGGED_OUT = N_("Værn used the account %(who)s (the capture profile »%(name)s«), but met a login wall: "
                        "the profile is logged out.")

#: the audit chain's actions, as the timeline, HR's log and the reports name them
AUDIT_ACTIONS = {
    "case.create": N_("Case opened"),
    "case.view": N_("Case viewed"),
    "evidence.request": N_("Evidence capture requested"),
    "evidence.captured": N_("Evidence secured"),
    "evidence.timestamped": N_("Evidence timestamped"),
    "artifact.view": N_("Evidence file viewed"),
    "artifact.download": N_("Evidence file downloaded"),
    "artifact.integrity_error": N_("Evidence file failed its check"),
    "step.state": N_("Step changed"),
    "step.rung": N_("Ladder rung recorded"),
    "step.police_report_declined": N_("Police report declined, note written"),
    "step.removed_verified": N_("Removal verified by a new capture"),
    "step.attach": N_("Attachment added to a step"),
    "step.tdb_lookup": N_("Statement of reasons looked up in the DSA Transparency Database"),
    "attachment.view": N_("Step attachment viewed"),
    "attachment.download": N_("Step attachment downloaded"),
    "clock.set": N_("Clock start recorded"),
    "case.facts": N_("Case facts changed"),
    "case.baseline": N_("Case facts recorded in the audit log (baseline)"),
    "recheck.start": N_("Re-check started"),
    "recheck.decided": N_("Re-check concluded"),
    "recheck.leader_decided": N_("Uncertain re-check decided by the leader"),
    "recheck.request": N_("Re-check requested through the API"),
    "letter.create": N_("Letter drafted"),
    "letter.update": N_("Letter edited"),
    "letter.sent": N_("Letter marked as sent"),
    "letter.view": N_("Letter viewed"),
    "letter.download": N_("Letter downloaded"),
    "case.list": N_("Case list viewed"),
    "case.history_view": N_("Full history viewed"),
    "case.search": N_("Cases searched"),
    "audit.view": N_("Audit log viewed"),
    "auth.login": N_("Logged in"),
    "auth.login_failed": N_("Failed login"),
    "auth.sso_refused": N_("Sign-in with the municipality account refused"),
    "auth.sso_failed": N_("Sign-in with the municipality account failed"),
    "token.create": N_("API token created"),
    "token.revoke": N_("API token revoked"),
    "unit.create": N_("Unit created"),
    "user.create": N_("User created"),
    "case.category": N_("Category set"),
    "case.close": N_("Case closed"),
    "case.reopen": N_("Case reopened"),
    "integrity.verify": N_("Audit chain verified"),
    "offender.create": N_("Offender registered"),
    "offender.linked": N_("Offender linked to the case"),
    "offender.list": N_("Offender list viewed"),
    "offender.suggested": N_("Offender suggested from a capture"),
    "offender.update": N_("Offender changed"),
    "offender.view": N_("Offender viewed"),
    "package.export": N_("Case package exported"),
    "package.export_failed": N_("Case package export failed"),
    "report.download": N_("Case report downloaded"),
    "rules.revert": N_("Rules file reverted"),
    "rules.save": N_("Rules file saved"),
    "stats.export": N_("Statistics exported"),
    "stats.view": N_("Statistics viewed"),
    "unit.rename": N_("Unit renamed"),
    "user.password_reset": N_("Password reset"),
    "user.update": N_("User changed"),
    "auth.logout": N_("Logged out"),
    "evidence.retry": N_("Capture attempt failed, will be retried"),
    "offender.dismissed": N_("Offender suggestion dismissed"),
    "offender.confirmed": N_("Offender confirmed"),
    "evidence.failed": N_("Capture failed"),
    "evidence.refused": N_("Capture refused"),
    "case.hold": N_("Legal hold placed"),
    "case.release": N_("Legal hold released"),
    "case.erase": N_("Case content erased by retention"),
    "offender.erase": N_("Offender details erased by retention"),
    "offender.suggestion_erase": N_("Offender suggestion erased by retention"),
    "subject.erase": N_("Person erased on request (art. 17)"),
    "subject.offender_search": N_("Searched what Værn holds about a person"),
    "case.subject_search": N_("Case found in an access-request search"),
    "subject.export_requested": N_("Access package (GDPR art. 15) requested"),
    "subject.export_built": N_("Access package (GDPR art. 15) built"),
    "subject.export_downloaded": N_("Access package (GDPR art. 15) downloaded"),
    "subject.export_failed": N_("Access package (GDPR art. 15) failed"),
    "subject.export": N_("Access package (GDPR art. 15) exported at the command line"),
    "case.subject_export": N_("Case handed out in an access package (GDPR art. 15)"),
}


@lru_cache(maxsize=1)
def catalogue() -> Translations:
    """The Danish catalogue; FileNotFoundError if it is missing (a report never falls back to English)."""
    mo = CATALOGUE / LOCALE / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as fh:
        return Translations(fh, domain="messages")


def danish(table: dict[str, str], code: str | None, default: str | None = None) -> str | None:
    """The Danish word for ``code`` in ``table`` (one of the tables above); ``default`` for an unknown code."""
    msgid = table.get(code or "")
    return catalogue().gettext(msgid) if msgid is not None else default


def danish_text(msgid: str) -> str:
    """The Danish of one of the single texts above (e.g. ``PHOTO_REQUEST``)."""
    return catalogue().gettext(msgid)
