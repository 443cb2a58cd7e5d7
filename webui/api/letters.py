"""Letters through the API: list, draft from a template, read, edit while unsent, mark sent
(``tracker.workflow.letters``, as the letter pages: the unit's leader and HR write; AMR reads every
letter; the case's employee reads the sent ones; a letter you may not read is a 404)."""
from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from storage.models import Case, Letter
from tracker.errors import NotFound
from tracker.oversight import audit
from tracker.workflow import letters as ops
from tracker.workflow import steps
from webui.api.core import Field, answer, body, case_or_404, not_found, operation, rules, run, user, via
from webui.db import db, runtime
from webui.labels import RULES_KEY

LETTERS = "Letters"
WRITERS = "the unit's leader and HR (others who see the case: 403 not_allowed)"


def letter_data(case: Case, letter: Letter, with_body: bool = False) -> dict[str, Any]:
    data = {"id": letter.id, "template_id": letter.template_id, "step_id": letter.step_id, "subject": letter.subject,
            "created_at": letter.created_at, "updated_at": letter.updated_at, "sent_at": letter.sent_at,
            "sha256": ops.body_sha256(letter.body), "sha256_at_send": letter.sha256_at_send,
            "url": url_for("api.get_letter", ref=case.ref, letter_id=letter.id)}
    if with_body:
        data["body"] = letter.body
    return data


def _letter_or_404(case: Case, letter_id: int) -> Letter:
    try:
        return ops.get_letter_for(db(), user(), case, letter_id)
    except NotFound:
        raise not_found() from None


@operation("GET", "/cases/<ref>/letters", tag=LETTERS, summary="The case's letters you may read",
           response="LetterList", who="whoever may see the case (the employee: the sent letters)", errors=(404,))
def list_letters(ref: str):
    """Oldest first, without their text (read one letter for it); audited as a view of the case. For the
    unit's leader and HR also ``available``: every step's letter template that can be drafted (the DSA art. 20
    complaint and art. 21 filing included), with whether the step applies to the case."""
    case = case_or_404(ref)
    s = db()
    rows = ops.letters_for(s, user(), case)
    audit.record(s, user(), "case.view", "case", case.ref, case.id, part="letters", **via())
    data: dict[str, Any] = {"letters": [letter_data(case, x) for x in rows]}
    if ops.can_write_letters(user(), case):
        step_rows = steps.step_rows(s, case)
        data["available"] = [{"template_id": st.letter, "step_id": st.id, "label_da": st.label_da,
                              "label_en": st.label_en, "applies": steps.applies(st, case, step_rows)}
                             for st in rules().steps if st.letter]
    return answer(data)


@operation("POST", "/cases/<ref>/letters", tag=LETTERS, summary="Draft a letter from a template", ok=201,
           response="Letter", who=WRITERS, errors=(400, 403, 404),
           body={"template_id": Field("string", "the letter to draft", choices=ops.LETTERS, required=True),
                 "step_id": Field("string", "the step the letter belongs to (it must offer this letter)",
                                  nullable=True),
                 "provisions": Field("strings", "the criminal provisions to cite (templates that print them)",
                                     choices=ops.PROVISION_IDS)})
def create_letter(ref: str):
    """The draft is filled from the case; ``[UDFYLD: …]`` marks what the writer must complete.
    400 unknown_letter, unknown_provision, step_letter_mismatch."""
    b = body()
    case = case_or_404(ref)
    letter = run(lambda s: ops.create_letter(
        s, user(), case, b.get("template_id") or "", step_id=b.get("step_id"), provisions=b.get("provisions") or (),
        rules=current_app.extensions.get(RULES_KEY), platforms=runtime().platforms, local_dir=runtime().letters_dir))
    location = url_for("api.get_letter", ref=case.ref, letter_id=letter.id)
    return answer(letter_data(case, letter, with_body=True), 201, location)


@operation("GET", "/cases/<ref>/letters/<int:letter_id>", tag=LETTERS, summary="One letter with its text",
           response="Letter", who="who may read it (see the list)", errors=(404,))
def get_letter(ref: str, letter_id: int):
    """The read is audited (letter.view). ``sha256`` is the version to send back when editing."""
    case = case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    run(lambda s: ops.record_view(s, user(), case, letter))
    return answer(letter_data(case, letter, with_body=True))


@operation("POST", "/cases/<ref>/letters/<int:letter_id>", tag=LETTERS, summary="Edit an unsent letter",
           response="Letter", who=WRITERS, errors=(400, 403, 404, 409), max_body=512 * 1024,
           body={"subject": Field("string", "the subject (absent: kept)"),
                 "body": Field("string", "the whole text (absent: kept)"),
                 "version": Field("string", "the sha256 you read; a letter saved by someone since is 409 "
                                  "letter_changed", nullable=True)})
def update_letter(ref: str, letter_id: int):
    """409 letter_sent once it is marked sent, letter_changed if ``version`` is not the current text."""
    b = body()
    case = case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    run(lambda s: ops.update_letter(s, user(), case, letter, subject=b.get("subject", letter.subject),
                                    body=b.get("body", letter.body), expected_sha256=b.get("version")))
    return answer(letter_data(case, letter, with_body=True))


@operation("POST", "/cases/<ref>/letters/<int:letter_id>/send", tag=LETTERS, summary="Mark the letter sent",
           response="Letter", who=WRITERS, body={}, errors=(403, 404, 409))
def send_letter(ref: str, letter_id: int):
    """Freezes it with who, when and the SHA-256 of the text (Værn does not send it). 409 letter_sent,
    letter_unfinished (``[UDFYLD: …]`` left)."""
    body()
    case = case_or_404(ref)
    letter = _letter_or_404(case, letter_id)
    run(lambda s: ops.mark_sent(s, user(), case, letter))
    return answer(letter_data(case, letter, with_body=True))
