"""Logging in, changing one's own password and logging out (a button: only its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1000)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password.")),
                                                                 Length(max=1000)])
    new = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password.")), Length(max=1000)])
    repeat = PasswordField(_l("New password again"), validators=[DataRequired(_l("Enter the new password again."))])


class LogoutForm(FlaskForm):
    """The logout button."""


class SsoForm(FlaskForm):
    """The "Log ind med kommunens konto" button: its CSRF token and where to go afterwards."""

    next = HiddenField()
