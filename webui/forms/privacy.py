"""The data subject's rights (issue 16.4): the erasure form (preview and erase are both POSTs with CSRF) and the
access search (a GET filter, like HR's case search; the handout it makes is a POST)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField


def _text(value):
    return (value or "").strip()


class ErasureForm(FlaskForm):
    """Who (an e-mail or an offender number), why, and whether HR judged the closed cases' retention not needed."""

    email = StringField(default="", filters=[_text])
    offender = StringField(default="", filters=[_text])
    reason = StringField(default="", filters=[_text])
    within = BooleanField(default=False)


class HandoutForm(FlaskForm):
    """The handout of an access search: the words searched for, carried over from the result page."""

    q = HiddenField(default="", filters=[_text])
