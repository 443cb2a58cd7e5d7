"""Offenders and statistics: the offender forms on the case page, the offender list's page and the
statistics period (GET forms).

The offender forms read the fields; ``tracker.oversight.offenders`` decides what is valid (a known
platform, a profile address, a type from the guideline) and its DomainError codes are said by
``webui.oversight.MESSAGES``. A form's own refusal carries the same codes (``refusal``).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from tracker.errors import DomainError
from tracker.oversight.offenders import MAX_HANDLE, MAX_NAME, MAX_NOTE, MAX_URL
from webui.forms.hr import Day, GetForm, Number

#: the limits are the tracker's; a form refuses only far beyond them so the tracker says it first
SLACK = 1000


class OffenderAddForm(FlaskForm):
    platform = StringField(validators=[DataRequired(_l("Choose a platform from the list.")), Length(max=200)])
    handle = StringField(validators=[Length(max=MAX_HANDLE + SLACK)])
    profile_url = StringField(validators=[Length(max=MAX_URL + SLACK)])
    display_name = StringField(validators=[Length(max=MAX_NAME + SLACK)])


class OffenderDecisionForm(FlaskForm):
    state = StringField(validators=[Length(max=20)])


class OffenderProfileForm(FlaskForm):
    kind = StringField(validators=[Length(max=50)])
    note = TextAreaField(validators=[Length(max=MAX_NOTE + SLACK)])
    display_name = StringField(validators=[Length(max=MAX_NAME + SLACK)])


#: a refused field → the code its refusal is said by
FIELD_CODES = {"platform": "bad_platform", "handle": "handle_missing", "profile_url": "bad_profile_url",
               "display_name": "text_too_long", "note": "text_too_long", "kind": "bad_kind", "state": "bad_state"}


def checked(form: FlaskForm) -> FlaskForm:
    """The form, validated; a refusal is raised as the DomainError the tracker would raise for that field."""
    if not form.validate_on_submit():
        for field in form:
            if field.errors:
                raise DomainError(FIELD_CODES.get(field.name, "form"), str(field.errors[0]), field.name)
        raise DomainError("form", "the form was not sent")
    return form


class OffenderPageForm(GetForm):
    page = Number()


class PeriodForm(GetForm):
    """The statistics period; an empty end is filled in from the default period by the page."""

    start = Day(name="from")
    end = Day(name="to")
