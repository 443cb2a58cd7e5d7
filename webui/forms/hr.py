"""HR's list filters (case search, a case's history, the audit log) as GET forms, and the fields every
GET filter of the site uses.

A filter changes nothing, so it is a plain WTForms ``Form`` on the query string without a CSRF token.
Each field keeps the text as typed (trimmed, cut to its limit) in ``data`` for re-rendering, and what it
means (a date, a number) beside it; a value that cannot be read is a field error in the reader's
language, not an exception.
"""
from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, SelectField, StringField

from webui.timefmt import parse_date

MESSAGES = {
    "bad_date": _l("The date could not be read. Write it as day.month.year, e.g. 26.11.2026."),
    "bad_category": _l("Choose a category from the list."),
    "bad_status": _l("Choose a status from the list."),
    "bad_number": _l("Choose a value from the list."),
}


class Text(StringField):
    """Free text, trimmed and cut to ``limit`` characters (a filter never refuses text)."""

    def __init__(self, *args, limit: int = 200, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit = limit

    def process_formdata(self, valuelist):
        self.data = (valuelist[0] if valuelist else "").strip()[:self.limit]


class Day(Text):
    """A typed date (26.11.2026 or ISO); ``day`` is the date, None when empty or unreadable."""

    def __init__(self, *args, message=MESSAGES["bad_date"], **kwargs):
        super().__init__(*args, **kwargs)
        self.message, self.day = message, None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.day = None
        if self.data:
            try:
                self.day: date | None = parse_date(self.data)
            except ValueError:
                self.process_errors.append(self.message)


class Number(Text):
    """A whole number of at most 12 digits (an id or a cursor); ``number`` is None when empty or unreadable."""

    def __init__(self, *args, message=MESSAGES["bad_number"], **kwargs):
        super().__init__(*args, **kwargs)
        self.message, self.number = message, None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.number = None
        if self.data:
            if self.data.isdigit() and len(self.data) <= 12:
                self.number: int | None = int(self.data)
            else:
                self.process_errors.append(self.message)


class GetForm(Form):
    """A filter read from the query string."""

    #: fields whose problems are not shown (a cursor from a stale link is read as "the first page")
    quiet: tuple[str, ...] = ()

    def __init__(self, formdata=None, **kwargs):
        super().__init__(request.args if formdata is None else formdata, **kwargs)
        self.validate()

    def texts(self) -> dict[str, str]:
        """Every field's text as typed (trimmed), by its name in the query string."""
        return {f.name: f.data or "" for f in self}

    def problems(self) -> dict[str, str]:
        """{name: message} of the fields that could not be read."""
        return {f.name: f.errors[0] for f in self if f.errors and f.name not in self.quiet}

    def link_args(self, drop: str) -> dict[str, str]:
        """The filled-in filters for page links, without the cursor ``drop``."""
        return {k: v for k, v in self.texts().items() if v and k != drop}


class CaseSearchForm(GetForm):
    employee = Text()
    unit = Number()
    offender = Text()
    platform = Text()
    category = Text()
    status = Text()
    start = Day(name="from")
    end = Day(name="to")
    q = Text(limit=500)
    after = Number()
    quiet = ("after",)


class HistoryForm(GetForm):
    after = Number()
    quiet = ("after",)


class AuditLogForm(GetForm):
    actor = Text()
    action = Text()
    case = Text()
    object_type = Text()
    start = Day(name="from")
    end = Day(name="to")
    system = Text()
    before = Number()
    quiet = ("before",)


class SubjectAccessForm(FlaskForm):
    """HR picks the person whose access package (GDPR art. 15) Værn builds; the choices are set by the view."""

    person = SelectField(coerce=int, validate_choice=True)
