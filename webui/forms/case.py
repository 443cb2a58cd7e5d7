"""The employee's report form (a new case): the post's address, when it happened, what happened, a file.

Field names are the HTML ``name``s of report/new.html. The form coerces the Danish time and checks
lengths; the address itself is tracker.cases.register's to judge (DomainError with the field).
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from capture.errors import CaptureRefused
from capture.upload import sniff
from tracker.cases.register import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from tracker.cases.statement import MAX_SHORT, MAX_WHAT, MAX_WITNESSES
from webui.forms.workflow import TOO_LONG, LocalTimeField
from webui.wacz_upload import wacz_problem


#: what the employee met (tracker/cases/statement.py KINDS), as the form offers it
KIND_CHOICES = [SelectChoice(value, label) for value, label in (
    ("url", _l("A post or message online (there is an address)")), ("phone_call", _l("A phone call")),
    ("letter", _l("A letter")), ("in_person", _l("In person (at the counter, a home visit …)")),
    ("email", _l("An e-mail")), ("sms", _l("A text message (SMS)")), ("other", _l("Something else")))]


class ReportForm(FlaskForm):
    kind = RadioField(_l("What kind of episode?"), choices=KIND_CHOICES, default="url", validate_choice=False)
    url = StringField(_l("Address (URL) of the post"),
                      validators=[Optional(), Length(max=MAX_URL_LENGTH + 1000, message=TOO_LONG)])
    episode_at = LocalTimeField(_l("When was it posted or when did it happen?"), max_length=40)
    description = TextAreaField(_l("What happened? (a few lines)"),
                                validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH + 1000, message=TOO_LONG)])
    statement = TextAreaField(_l("What was said or done? In your own words"),
                              validators=[Optional(), Length(max=MAX_WHAT, message=TOO_LONG)])
    who = StringField(_l("Who did it? (if you know)"), validators=[Optional(), Length(max=MAX_SHORT, message=TOO_LONG)])
    where = StringField(_l("Where did it happen?"), validators=[Optional(), Length(max=MAX_SHORT, message=TOO_LONG)])
    witnesses = TextAreaField(_l("Witnesses (who saw or heard it)"),
                              validators=[Optional(), Length(max=MAX_WITNESSES, message=TOO_LONG)])
    photo = FileField(_l("Take a photo of the screen"))
    upload = FileField(_l("Or attach a screenshot, photo of the screen, PDF or e-mail (.eml)"))
    #: attach the file shared from the phone (the file itself is named in the session, never in the form)
    shared_file = BooleanField(_l("Attach the shared file"), default=True)

    #: the attached file's bytes once validated (None without a file)
    upload_bytes: bytes | None = None
    photo_bytes: bytes | None = None

    def validate_upload(self, field) -> None:
        """Empty, too large or of a kind Værn cannot read: said at once (the capture job checks it fully)."""
        self.upload_bytes = _checked(field)

    def validate_photo(self, field) -> None:
        self.photo_bytes = _checked(field)


def _checked(field) -> bytes | None:
    file = field.data
    if not (file and getattr(file, "filename", "")):
        return None
    data = file.read()
    if not data:
        raise ValidationError(_l("The attached file is empty."))
    if problem := upload_problem(data):
        raise ValidationError(problem)
    return data


def upload_problem(data: bytes):
    """Why Værn cannot take ``data`` as evidence (a lazy Danish text), or None. Shared by the share target."""
    if len(data) > current_app.extensions["vaern"].settings.upload_max_bytes:
        return _l("The file is larger than Værn accepts.")
    if problem := wacz_problem(data):  # a changed WACZ is refused here, naming the file
        return problem
    if not _supported_upload(data):
        return _l("Værn cannot read this kind of file. Attach a picture (PNG, JPEG, WebP, HEIC), "
                  "a PDF or an e-mail saved as .eml.")
    return None


def _supported_upload(data: bytes) -> bool:
    """Quick type check from the bytes so the person hears at once."""
    try:
        sniff(data, wacz=True)
    except CaptureRefused:
        return False
    return True
