"""The employee's report form (a new case): the post's address, when it happened, what happened, a file.

Field names are the HTML ``name``s of report/new.html. The form coerces the Danish time and checks
lengths; the address itself is tracker.cases.register's to judge (DomainError with the field).
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from capture.errors import CaptureRefused
from capture.upload import sniff
from tracker.cases.register import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH
from webui.forms.workflow import TOO_LONG, LocalTimeField
from webui.wacz_upload import wacz_problem


class ReportForm(FlaskForm):
    url = StringField(_l("Address (URL) of the post"),
                      validators=[Optional(), Length(max=MAX_URL_LENGTH + 1000, message=TOO_LONG)])
    episode_at = LocalTimeField(_l("When was it posted or when did it happen?"), max_length=40)
    description = TextAreaField(_l("What happened? (a few lines)"),
                                validators=[Optional(), Length(max=MAX_DESCRIPTION_LENGTH + 1000, message=TOO_LONG)])
    upload = FileField(_l("Or attach a screenshot, photo of the screen, PDF or e-mail (.eml)"))

    #: the attached file's bytes once validated (None without a file)
    upload_bytes: bytes | None = None

    def validate_upload(self, field) -> None:
        """Empty, too large or of a kind Værn cannot read: said at once (the capture job checks it fully)."""
        file = field.data
        if not (file and getattr(file, "filename", "")):
            return
        data = file.read()
        if not data:
            raise ValidationError(_l("The attached file is empty."))
        if len(data) > current_app.extensions["vaern"].settings.upload_max_bytes:
            raise ValidationError(_l("The file is larger than Værn accepts."))
        if problem := wacz_problem(data):  # a changed WACZ is refused here, naming the file
            raise ValidationError(problem)
        if not _supported_upload(data):
            raise ValidationError(_l("Værn cannot read this kind of file. Attach a picture (PNG, JPEG, WebP, HEIC), "
                                "a PDF or an e-mail saved as .eml."))
        self.upload_bytes = data


def _supported_upload(data: bytes) -> bool:
    """Quick type check from the bytes so the person hears at once."""
    try:
        sniff(data, wacz=True)
    except CaptureRefused:
        return False
    return True
