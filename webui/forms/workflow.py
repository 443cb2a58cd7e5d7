"""The case page's workflow forms: steps, ladder rungs, the police-report decline, clocks, facts, closing,
step attachments and re-check decisions.

Field names are the HTML ``name``s of the case page's templates. The forms coerce (Danish times, evidence
ids, yes/no/unknown answers) and say what cannot be read; what the domain decides (a state, a reason that
is missing, who may change what) stays with tracker.workflow and comes back as a DomainError.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import Field, StringField

from webui.timefmt import parse_local

BAD_TIME = _l("The time could not be read. Write the date and the time, e.g. 26.11.2026 14.05.")
CHECK_FORM = _l("The change could not be saved. Check the form.")
TOO_LONG = _l("The text is too long.")


class LocalTimeField(StringField):
    """A typed Danish date and time (``26.11.2026 14.05``) as an aware datetime; empty is None.

    Re-rendered as typed; ``max_length`` refuses an absurd text before trying to read it.
    """

    def __init__(self, label=None, validators=None, max_length: int | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.max_length = max_length

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        if self.max_length is not None and len(raw) > self.max_length:
            self.data = None
            raise ValueError(TOO_LONG)
        try:
            self.data = parse_local(raw)
        except ValueError:
            self.data = None
            raise ValueError(BAD_TIME) from None

    def _value(self) -> str:
        return self.raw_data[0] if self.raw_data else ""


class AnswerField(Field):
    """yes / no / unknown (the default when not sent) as True / False / None."""

    ANSWERS = {"yes": True, "no": False, "unknown": None}

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else "unknown"
        if raw not in self.ANSWERS:
            self.data = None
            raise ValueError(CHECK_FORM)
        self.data = self.ANSWERS[raw]


class StepStateForm(FlaskForm):
    state = StringField()
    reason = StringField()
    note = StringField()
    done_at = LocalTimeField()


class RungForm(FlaskForm):
    sent_at = LocalTimeField()
    channel = StringField()
    platform_ref = StringField()
    outcome = StringField(filters=[lambda v: v or None])
    statement_of_reasons = StringField()
    receipt_at = LocalTimeField()
    decided_at = LocalTimeField()

    def times(self) -> dict:
        """``receipt_at`` / ``decided_at`` as posted; a field the form did not have keeps its recorded value."""
        return {name: self[name].data for name in ("receipt_at", "decided_at") if self[name].raw_data}


class RungAndStateForm(RungForm):
    """The cockpit's one form per ladder rung: the record, and optionally the step's state, reason and note."""
    state = StringField(filters=[lambda v: v or ""])
    reason = StringField()
    note = StringField()

    def note_sent(self) -> str | None:
        """The note as posted; None when the form had no note field (then the note stays as it is)."""
        return self.note.data if self.note.raw_data else None


class NoteForm(FlaskForm):
    """The police-report decline, closing and reopening: one note (its rules are the domain's)."""

    note = StringField(default="", filters=[lambda v: v or ""])


class HoldForm(FlaskForm):
    """A legal hold's reason (its rules are the domain's: tracker.cases.hold)."""

    reason = StringField(default="", filters=[lambda v: v or ""])


class ClockForm(FlaskForm):
    name = StringField(default="", filters=[lambda v: v or ""])
    at = LocalTimeField()
    note = StringField()


class FactsForm(FlaskForm):
    author_known = AnswerField()
    private_information_disclosed = AnswerField()
    defamatory = AnswerField()
    category = StringField(filters=[lambda v: v or None])

    def facts(self) -> dict[str, bool | None]:
        return {name: self[name].data for name in ("author_known", "private_information_disclosed", "defamatory")}

    def category_sent(self) -> bool:
        """The category select is on the page only for some; absent, the category is left as it is."""
        return bool(self.category.raw_data)


class IdField(Field):
    """A row id; missing, not a number or beyond a 64-bit database integer is "choose one" (WTForms' own
    messages are not in our catalogue, and a larger number would be an OverflowError in the database)."""

    def __init__(self, message, **kwargs):
        super().__init__(**kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            self.data = int(valuelist[0])
        except (IndexError, ValueError, TypeError):
            self.data = None
        if self.data is None or not 0 < self.data < 2**63:
            self.data = None
            raise ValueError(self.message)


class EvidenceChoiceForm(FlaskForm):
    """A capture of the case: attached to a step, or confirming a removal."""

    evidence_id = IdField(_l("Choose evidence of this case."))


class AttachUploadForm(FlaskForm):
    file = FileField(validators=[FileRequired(_l("Choose a file to attach."))])


class RecheckDecisionForm(FlaskForm):
    decision = StringField(default="", filters=[lambda v: v or ""])


class EmptyForm(FlaskForm):
    """A button that only posts (asking for a re-check): the CSRF token is all it carries."""


def first_error(form: FlaskForm) -> str:
    """The first field error, for the flash message of a form posted from the case page."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return str(CHECK_FORM)


class TdbLookupForm(FlaskForm):
    """The reported content's identifier at the platform (PUID) to look up in the DSA Transparency Database."""
    puid = StringField(default="", filters=[lambda v: (v or "").strip()])
