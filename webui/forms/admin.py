"""The administration's forms: users, units, the list filter and the one-button forms (password reset,
token revocation).

The forms coerce and check what a form can see (a name is there, an e-mail looks like one, an id is a
number); the rules that need the database (a taken e-mail, the last administrator) stay in
``tracker.accounts.admin`` and come back as DomainError codes, said by ``MESSAGES``.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from storage.models import Role
from webui.forms.hr import GetForm, Number, Text

#: what the person reads for each refusal (form checks and tracker.accounts.admin's DomainError codes)
MESSAGES = {
    "email": _l("Enter a valid e-mail address."),
    "sso_account": _l("This person signs in with the municipality account and has no password in Værn."),
    "user_exists": _l("A user with this e-mail address exists already."),
    "name": _l("Enter a name (at most 200 characters)."),
    "role": _l("Choose a role."),
    "unit_required": _l("Employees, leaders and work-environment representatives must belong to a unit."),
    "unit_unknown": _l("Choose one of the units."),
    "last_admin": _l("Værn must keep at least one active administrator. Make someone else an administrator first."),
    "unit_name": _l("Enter a unit name (at most 200 characters)."),
    "unit_exists": _l("A unit with this name exists already."),
}
_EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"


def optional_id(value) -> int | None:
    """A select's id: "" (none chosen) is None; anything but digits is refused by ``validate_id``."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() and len(text) <= 12 else -1


def first_error(form) -> tuple[str, str] | None:
    """(field name, message) of the form's first refused field, in the form's order; None if none was."""
    for field in form:
        if field.errors:
            return field.name, str(field.errors[0])
    return None


class _UserFields(FlaskForm):
    name = StringField(validators=[DataRequired(MESSAGES["name"]), Length(max=200, message=MESSAGES["name"])])
    role = SelectField(choices=[r.value for r in Role], validate_choice=False,
                       validators=[DataRequired(MESSAGES["role"])])
    # which units exist is the tracker's check (``unit_unknown``); the form only reads the number
    unit = SelectField(coerce=optional_id, choices=[], validate_choice=False)


class UserNewForm(_UserFields):
    email = StringField(validators=[DataRequired(MESSAGES["email"]), Length(max=320, message=MESSAGES["email"]),
                                    Regexp(_EMAIL, message=MESSAGES["email"])])
    password = PasswordField(validators=[Optional(), Length(max=1000)])


class UserEditForm(_UserFields):
    active = BooleanField()


class UnitForm(FlaskForm):
    name = StringField(validators=[DataRequired(MESSAGES["unit_name"]),
                                   Length(max=200, message=MESSAGES["unit_name"])])


class ActionForm(FlaskForm):
    """A form that is only a button (reset a password, revoke a token): its CSRF token is all it carries."""


class UserFilterForm(GetForm):
    """The user list's filters; a value that cannot be read is ignored (the list shows more, not an error)."""

    unit = Number()
    role = Text()
    active = Text()
    page = Number()

    def values(self) -> dict:
        """unit id, Role, active (True/False, None: all; not given: active) and page."""
        active = self.active.data if self.active.raw_data else "1"
        return {"unit_id": self.unit.number,
                "role": Role(self.role.data) if self.role.data in Role.__members__ else None,
                "active": {"1": True, "0": False}.get(active), "page": self.page.number or 1}


class RemoteOpenForm(FlaskForm):
    """Open the remote browser on the platform's login page (issue 14)."""

    url = StringField(validators=[DataRequired(_l("Enter the address of the platform's login page.")),
                                  Length(max=4096, message=_l("The address is too long."))])


class RemoteSaveForm(FlaskForm):
    """Save the remote browser's login as a capture profile (the checks of an import apply)."""

    name = StringField(validators=[DataRequired(_l("Enter a name of 1 to 80 characters: small letters a–z, digits, "
                                                   "'.', '_' and '-'.")), Length(max=80)])
    hosts = StringField(validators=[DataRequired(_l("Enter one or more hosts, separated by commas, each as host or "
                                                    "host:port (e.g. facebook.com, m.facebook.com).")),
                                    Length(max=2000)])
    account = StringField(validators=[Optional(), Length(max=200, message=_l("Describe the account in at most "
                                                                             "200 characters."))])
