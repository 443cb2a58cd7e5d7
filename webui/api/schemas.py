"""The JSON Schemas (OpenAPI 3.1) of the API's answers, by name; routes name theirs in ``operation(response=…)``.

Times are strings in ISO 8601 with the offset, Europe/Copenhagen local time. A test checks answers of
the real routes against these schemas, so a field added to an answer without its schema fails.
"""
from __future__ import annotations

from typing import Any


def _t(kind: str, doc: str = "", null: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"] if null else kind, **extra}
    if doc:
        schema["description"] = doc
    return schema


def s(doc: str = "", **kw) -> dict[str, Any]:
    return _t("string", doc, **kw)


def i(doc: str = "", **kw) -> dict[str, Any]:
    return _t("integer", doc, **kw)


def b(doc: str = "", **kw) -> dict[str, Any]:
    return _t("boolean", doc, **kw)


def time(doc: str = "", null: bool = True) -> dict[str, Any]:
    return _t("string", doc, null, format="date-time")


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(props: dict[str, Any], *, doc: str = "", optional: tuple[str, ...] = (), open_: bool = False) -> dict:
    """An object whose fields are all present (except ``optional``); ``open_``: more fields may follow."""
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "required": [k for k in props if k not in optional]}
    if not open_:
        schema["additionalProperties"] = False
    if doc:
        schema["description"] = doc
    return schema


NULL_ANY: dict[str, Any] = {}  #: any JSON value
FACTS = obj({"author_known": b(null=True), "private_information_disclosed": b(null=True),
             "defamatory": b(null=True)}, doc="true, false, or null: not assessed")
CASE_SUMMARY = {"ref": s("the case's reference, e.g. V-2026-00012"), "url": s("this case in the API"),
                "status": s(enum=["open", "closed"]), "category": s(null=True), "created_at": time(null=False),
                "episode_at": time("null: not known"), "closed_at": time()}
ATTACHMENT = obj({"id": i(), "step_id": s(), "evidence_id": i("evidence attached (else an upload)", null=True),
                  "filename": s(null=True), "media_type": s(null=True), "size": i(null=True),
                  "sha256": s(null=True), "created_at": time(null=False),
                  "url": s("the uploaded file's download", null=True)})
STEP = obj({"id": s(), "kind": s(), "order": NULL_ANY, "label_da": s(), "label_en": s(), "actor": s(null=True),
            "deadline": NULL_ANY, "letter": s(null=True), "applies": b("null: a precondition is unanswered", null=True),
            "state": s(enum=["todo", "in_progress", "done", "skipped", "not_applicable"]), "reason": s(null=True),
            "note": s(null=True), "updated_at": time(), "done_at": time(), "sent_at": time(),
            "channel": s(null=True), "platform_ref": s("the other side's reference", null=True),
            "outcome": s(null=True), "receipt_at": time("the other side confirmed receipt (DSA art. 16(4))"),
            "decided_at": time("a rung: the other side told its decision (starts the DSA art. 20 clock)"),
            "statement_of_reasons": s("the platform's reasons, as pasted", null=True),
            "attachments": array(ref("Attachment"))})
RECHECK = obj({"id": i(), "state": s(enum=["pending", "decided"]),
               "verdict": s(enum=["still_online", "changed", "removed", "unreachable", "uncertain", None], null=True),
               "removal_confirmed": b("for removed: true once two re-checks in a row agree", null=True),
               "reason": s("English", null=True), "reason_code": s(null=True), "evidence_id": i(null=True),
               "baseline_evidence_id": i(), "created_at": time(), "decided_at": time(),
               "decided_by": {"anyOf": [obj({"id": i(), "name": s()}), {"type": "null"}],
                              "description": "the leader who decided an uncertain one; null: Værn's rules"}})
LETTER = obj({"id": i(), "template_id": s(), "step_id": s(null=True), "subject": s(), "created_at": time(),
              "updated_at": time(), "sent_at": time("null: a draft"), "sha256": s("of the current text: the version"),
              "sha256_at_send": s(null=True), "url": s(), "body": s("the text (not in lists)")}, optional=("body",))
EXPORT = obj({"id": i(), "kind": s(enum=["package", "case_report", "evidence_report"]), "evidence_id": i(null=True),
              "state": s(enum=["queued", "running", "done", "failed", "expired"]), "step": s(null=True),
              "error": s(null=True), "created_at": time(), "finished_at": time(), "sha256": s(null=True),
              "size": i(null=True), "url": s(), "download_url": s(null=True)})
OFFENDER_LINK = obj({"link_id": i(), "state": s(enum=["suggested", "confirmed", "dismissed"]),
                     "evidence_id": i("the capture it was suggested from", null=True), "decided_at": time(),
                     "created_at": time(), "other_cases": i("other cases it is active in", null=True),
                     "offender": obj({"id": i(), "platform": s(), "handle": s(), "display_name": s(null=True),
                                      "profile_url": s(null=True), "kind": s()})})
CASE_FILE = obj({**CASE_SUMMARY, "unit": obj({"name": s()}), "employee": obj({"name": s()}),
                 "description": s(), "platform": s(null=True), "facts": ref("Facts"),
                 "evidence": array(obj({"id": i(), "kind": s(), "state": s(), "artifacts": array(obj(
                     {"name": s(), "role": s(null=True), "media_type": s(null=True), "size": i(null=True),
                      "sha256": s(), "url": s()}))}, open_=True)),
                 "steps": array(ref("Step")),
                 "deadlines": array(obj({"id": s(), "state": s(enum=["met", "open", "at_risk", "overdue",
                                                                     "unknown_start", "closed"]),
                                         "due_at": time("null: the start is unknown")}, open_=True)),
                 "rechecks": array(ref("Recheck"))}, optional=("url",), open_=True)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": obj({"error": s("an English sentence"), "code": s("stable; see the list of codes"),
                  "field": s("the input field at fault", null=True)}),
    "Facts": FACTS,
    "CaseCreated": obj({"ref": s(), "url": s()}),
    "CaseSummary": obj(CASE_SUMMARY),
    "CaseList": obj({"cases": array(ref("CaseSummary"))}),
    "CaseState": obj({**CASE_SUMMARY, "facts": ref("Facts")}),
    "CaseFile": CASE_FILE,
    "Step": STEP,
    "Attachment": ATTACHMENT,
    "Recheck": RECHECK,
    "RecheckList": obj({"rechecks": array(ref("Recheck"))}),
    "RecheckStarted": obj({"id": i("the first re-check"), "ids": array(i()), "rechecks": array(ref("Recheck"))}),
    "Letter": LETTER,
    "LetterList": obj({"letters": array(ref("Letter")),
                       "available": array(obj({"template_id": s(), "step_id": s(), "label_da": s(), "label_en": s(),
                                               "applies": b("null: a precondition is unanswered", null=True)}))},
                      optional=("available",)),
    "Export": EXPORT,
    "ExportList": obj({"exports": array(ref("Export"))}),
    "OffenderLink": OFFENDER_LINK,
    "OffenderList": obj({"offenders": array(ref("OffenderLink"))}),
}
