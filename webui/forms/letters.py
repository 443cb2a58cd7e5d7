"""The letter forms: drafting one from a template (its provisions ticked), editing a draft (marking it sent posts
nothing but the CSRF token, which CSRFProtect checks app-wide).

Field names are the HTML ``name``s of letters/edit.html and the case page's letter picker. What the text
may be (length, placeholders left, someone else's save) is tracker.workflow.letters' to say.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField


def _text(value: str | None) -> str:
    return value or ""


class NewLetterForm(FlaskForm):
    """Which template, for which step, with which provisions; read from the query on the first GET."""

    template = StringField(filters=[_text])
    step = StringField(filters=[lambda v: v or None])
    provisions = SelectMultipleField(choices=[], validate_choice=False)  # the domain refuses unknown ones


class LetterForm(FlaskForm):
    subject = StringField(filters=[_text])
    body = StringField(filters=[_text])
    version = StringField()  #: the SHA-256 of the body the editor started from (someone else's save is refused)
