"""Forms for one entry of a rule file: a checklist step, a deadline, a platform, a platform's removal signs.

An administrator edits the fields here instead of raw TOML. Each form turns the entry's raw table into
field values (``fill``) and its valid fields back into the keys it owns (``changes``); keys a form does not
show (ids, sources, restarts) stay as they were. The whole file is then written as TOML and checked by
the real loaders (``tracker.accounts.admin.save_rule_entry``): these validators only catch what a person
mistypes, with a Danish message next to the field.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from tracker.workflow.platforms import CHANNELS, normalize_host
from webui.letters import TEMPLATE_NAMES
from webui.workflow import ACTORS, CLOCKS, PRECONDITIONS

REQUIRED = _l("Fill in this field.")
WHOLE_NUMBER = _l("Write a whole number.")
UNITS = {"hours": _l("hours"), "working_days": _l("working days"), "days": _l("days"), "weeks": _l("weeks"),
         "months": _l("months"), "years": _l("years")}
COUNTINGS = {"elapsed": _l("Exact elapsed time (hours)"), "calendar": _l("Calendar (days, weeks, months, years)"),
             "working_days": _l("Working days (Monday–Friday)")}
GRADES = {"": _l("No grade"), "H": _l("H: the platform's own page"),
          "M": _l("M: platform code or several other sources"), "L": _l("L: a single other source")}
ADDRESS = _l("Address (https://…)")
CHANNEL_LABELS = {"dsa_notice_url": _l("Notice form for illegal content (DSA art. 16)"),
                  "general_report_url": _l("General report page"),
                  "privacy_report_url": _l("Privacy report (doxxing)"),
                  "defamation_report_url": _l("Defamation report"),
                  "email": _l("E-mail address for notices")}


class _Number(IntegerField):
    """An IntegerField whose "not a number" message is Danish (WTForms ships no Danish catalogue), shown as a
    text field with a numeric keyboard (styled like the other fields; no spinner)."""

    widget = TextInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(str(WHOLE_NUMBER)) from None


class _Date(DateField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(str(_l("Write a date as dd.mm.åååå, e.g. 05.12.2026."))) from None


class _Select(SelectField):
    def pre_validate(self, form):
        try:
            super().pre_validate(form)
        except ValidationError:
            raise ValidationError(_l("Choose one of the options.")) from None


class _SelectMany(SelectMultipleField):
    def pre_validate(self, form):
        try:
            super().pre_validate(form)
        except ValidationError:
            raise ValidationError(_l("Choose one of the options.")) from None


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class _EntryForm(FlaskForm):
    """WTForms' own messages (e.g. "Not a valid integer value") follow Flask-Babel's locale (Flask-WTF's i18n)."""

    def fill(self, entry: dict[str, Any]) -> None:  # pragma: no cover - each form has its own
        raise NotImplementedError

    def changes(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


class StepForm(_EntryForm):
    """A step of response.toml: checklist step, ladder rung or alternative."""

    order = _Number(_l("Position in its list (1, 2, 3 … without gaps)"),
                         [InputRequired(WHOLE_NUMBER), NumberRange(1, 99, _l("Write a number from 1 to 99."))])
    label_da = StringField(_l("Name in Danish"), [DataRequired(REQUIRED), Length(max=300)])
    label_en = StringField(_l("Name in English"), [DataRequired(REQUIRED), Length(max=300)])
    guideline_da = TextAreaField(_l("The guideline's own words"), [DataRequired(REQUIRED), Length(max=4000)])
    source = StringField(_l("Where in the guideline"), [DataRequired(REQUIRED), Length(max=500)])
    actor = _Select(_l("Who does it"), choices=_choices(ACTORS.items()))
    deadline = _Select(_l("Deadline"), choices=[])
    precondition = _SelectMany(_l("Applies only when"), choices=_choices(PRECONDITIONS.items()),
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    letter = _Select(_l("Letter draft offered"), choices=_choices([("", _l("No letter")), *TEMPLATE_NAMES.items()]))
    wait_days = _Number(_l("Days to wait for an answer (ladder rungs only)"),
                             [Optional(), NumberRange(1, 365, _l("Write a number of days from 1 to 365."))])

    def set_deadlines(self, deadlines: dict[str, str]) -> None:
        """The deadline choices: the ids in deadlines.toml in force, named by their Danish label."""
        self.deadline.choices = _choices([("", _l("No deadline")), *deadlines.items()])

    def fill(self, entry: dict[str, Any]) -> None:
        for name in ("order", "label_da", "label_en", "guideline_da", "source", "actor", "wait_days"):
            getattr(self, name).data = entry.get(name)
        self.deadline.data = entry.get("deadline") or ""
        self.letter.data = entry.get("letter") or ""
        pre = entry.get("precondition") or []
        self.precondition.data = [pre] if isinstance(pre, str) else list(pre)

    def changes(self) -> dict[str, Any]:
        return {"order": self.order.data, "label_da": self.label_da.data.strip(),
                "label_en": self.label_en.data.strip(), "guideline_da": self.guideline_da.data.strip(),
                "source": self.source.data.strip(), "actor": self.actor.data,
                "deadline": self.deadline.data or None, "letter": self.letter.data or None,
                "precondition": list(self.precondition.data) or None, "wait_days": self.wait_days.data}


def _length_fields(label: str, optional: bool = False):
    amount_validators = [Optional()] if optional else [InputRequired(WHOLE_NUMBER)]
    amount = _Number(label, [*amount_validators, NumberRange(0, 1000, _l("Write a number from 0 to 1000."))])
    unit = _Select(_l("Unit"), choices=_choices([("", "—")] * optional + list(UNITS.items())))
    return amount, unit


class DeadlineForm(_EntryForm):
    """A deadline of deadlines.toml."""

    label_da = StringField(_l("Name in Danish"), [DataRequired(REQUIRED), Length(max=300)])
    label_en = StringField(_l("Name in English"), [DataRequired(REQUIRED), Length(max=300)])
    length_amount, length_unit = _length_fields(_l("Number"))
    counting = _Select(_l("How the time is counted"), choices=_choices(COUNTINGS.items()))
    starts_at = _Select(_l("The clock starts at"), choices=_choices(CLOCKS.items()))
    legal_source = StringField(_l("Legal source (exact citation)"), [DataRequired(REQUIRED), Length(max=500)])
    consequence_da = TextAreaField(_l("What happens if it is missed (Danish)"), [DataRequired(REQUIRED),
                                                                                Length(max=2000)])
    at_risk_amount, at_risk_unit = _length_fields(_l("Number"))
    extension_amount, extension_unit = _length_fields(_l("Number (empty: no extension)"), optional=True)
    closable_by_note = BooleanField(_l("A leader's note may close it as met"))
    day_ends_at = StringField(_l("The working day ends at (working days only, e.g. 16:00)"),
                              [Optional(), Regexp(r"^([01]\d|2[0-3]):[0-5]\d$",
                                                  message=_l("Write a time as hh:mm, e.g. 16:00."))])

    def validate_extension_unit(self, field) -> None:
        if self.extension_amount.data is not None and not field.data:
            raise ValidationError(_l("Choose the unit of the extension."))

    def fill(self, entry: dict[str, Any]) -> None:
        for name in ("label_da", "label_en", "counting", "starts_at", "legal_source", "consequence_da"):
            getattr(self, name).data = entry.get(name)
        for prefix, key in (("length", "length"), ("at_risk", "at_risk_before"), ("extension", "extension")):
            value = entry.get(key) or {}
            getattr(self, f"{prefix}_amount").data = value.get("amount")
            getattr(self, f"{prefix}_unit").data = value.get("unit")
        self.closable_by_note.data = bool(entry.get("closable_by_note"))
        day_end = entry.get("day_ends_at")
        self.day_ends_at.data = day_end.strftime("%H:%M") if hasattr(day_end, "strftime") else day_end

    def changes(self) -> dict[str, Any]:
        extension = None
        if self.extension_amount.data is not None:
            extension = {"amount": self.extension_amount.data, "unit": self.extension_unit.data}
        return {"label_da": self.label_da.data.strip(), "label_en": self.label_en.data.strip(),
                "length": {"amount": self.length_amount.data, "unit": self.length_unit.data},
                "counting": self.counting.data, "starts_at": self.starts_at.data,
                "legal_source": self.legal_source.data.strip(), "consequence_da": self.consequence_da.data.strip(),
                "at_risk_before": {"amount": self.at_risk_amount.data, "unit": self.at_risk_unit.data},
                "extension": extension, "closable_by_note": True if self.closable_by_note.data else None,
                "day_ends_at": _text(self.day_ends_at.data)}


def _https(form, field) -> None:
    if field.data and not field.data.strip().startswith("https://"):
        raise ValidationError(_l("Write the whole address, starting with https://"))


class PlatformForm(_EntryForm):
    """A platform of platforms.toml: its hosts, reporting channels with their grades, notes and check date."""

    name = StringField(_l("Name"), [DataRequired(REQUIRED), Length(max=200)])
    hosts = TextAreaField(_l("Host names, one per line (subdomains count too)"), [Length(max=4000)])
    dsa_notice_url = StringField(ADDRESS, [Optional(), Length(max=2000), _https])
    general_report_url = StringField(ADDRESS, [Optional(), Length(max=2000), _https])
    privacy_report_url = StringField(ADDRESS, [Optional(), Length(max=2000), _https])
    defamation_report_url = StringField(ADDRESS, [Optional(), Length(max=2000), _https])
    email = StringField(_l("E-mail address"), [Optional(), Length(max=300),
                                                  Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                                         message=_l("Write a valid e-mail address."))])
    grade_dsa_notice_url = _Select(_l("Grade"), choices=_choices(GRADES.items()))
    grade_general_report_url = _Select(_l("Grade"), choices=_choices(GRADES.items()))
    grade_privacy_report_url = _Select(_l("Grade"), choices=_choices(GRADES.items()))
    grade_defamation_report_url = _Select(_l("Grade"), choices=_choices(GRADES.items()))
    grade_email = _Select(_l("Grade"), choices=_choices(GRADES.items()))
    notes_da = TextAreaField(_l("What the leader must know (Danish)"), [Length(max=8000)])
    verified = _Date(_l("Links last checked live (empty: never)"), [Optional()], widget=TextInput(),
                         format=["%d.%m.%Y", "%Y-%m-%d"], render_kw={"inputmode": "numeric"})

    #: set by the page: the fallback entry has no hosts
    is_fallback = False

    def validate_hosts(self, field) -> None:
        hosts = _lines(field.data)
        if not hosts and not self.is_fallback:
            raise ValidationError(_l("Write at least one host name, e.g. facebook.com."))
        for host in hosts:
            try:
                normalize_host(host)
            except ValueError:
                raise ValidationError(_l("%(host)s is not a host name. Write e.g. facebook.com (no https:// "
                                         "and no path).", host=host)) from None
            if any(c in host for c in "/:*@ "):
                raise ValidationError(_l("%(host)s is not a host name. Write e.g. facebook.com (no https:// "
                                         "and no path).", host=host))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for channel in CHANNELS:
            given = bool((getattr(self, channel).data or "").strip())
            grade = getattr(self, f"grade_{channel}")
            if given and not grade.data:
                grade.errors = [*grade.errors, _l("Grade this channel H, M or L.")]
                ok = False
            elif grade.data and not given:
                grade.errors = [*grade.errors, _l("Remove the grade, or fill in the channel.")]
                ok = False
        return ok

    def channel_rows(self):
        """(what the channel is, its field, its grade field) per channel, for the template."""
        return [(CHANNEL_LABELS[c], getattr(self, c), getattr(self, f"grade_{c}")) for c in CHANNELS]

    def fill(self, entry: dict[str, Any]) -> None:
        self.name.data = entry.get("name")
        self.hosts.data = "\n".join(entry.get("hosts") or [])
        grades = entry.get("confidence") or {}
        for channel in CHANNELS:
            getattr(self, channel).data = entry.get(channel)
            getattr(self, f"grade_{channel}").data = grades.get(channel, "")
        self.notes_da.data = entry.get("notes_da", "")
        verified = entry.get("verified")
        self.verified.data = verified if isinstance(verified, date) else None

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name.data.strip(), "notes_da": (self.notes_da.data or "").strip()}
        if not self.is_fallback:
            out["hosts"] = _lines(self.hosts.data)
        for channel in CHANNELS:
            out[channel] = _text(getattr(self, channel).data)
        out["confidence"] = {c: getattr(self, f"grade_{c}").data for c in CHANNELS
                             if getattr(self, f"grade_{c}").data} or None
        out["verified"] = self.verified.data or False
        return out


class RemovalSignsForm(_EntryForm):
    """One platform's removal signs in removal_signs.toml."""

    removal_texts = TextAreaField(_l("Texts the platform shows instead of a deleted post, one per line"),
                                  [Length(max=8000)])
    deletion_redirects = TextAreaField(_l("Addresses a deleted post is sent to, one path per line (e.g. /unavailable)"),
                                       [Length(max=4000)])

    def validate_deletion_redirects(self, field) -> None:
        for line in _lines(field.data):
            if not line.startswith("/"):
                raise ValidationError(_l("Write each address as a path starting with /, e.g. /unavailable."))

    def fill(self, entry: dict[str, Any]) -> None:
        self.removal_texts.data = "\n".join(entry.get("removal_texts") or [])
        self.deletion_redirects.data = "\n".join(entry.get("deletion_redirects") or [])

    def changes(self) -> dict[str, Any]:
        return {"removal_texts": _lines(self.removal_texts.data), "deletion_redirects": _lines(self.deletion_redirects.data)}


#: the form of each TOML rule file, by file id (tracker.accounts.admin.ENTRY_TABLES)
ENTRY_FORMS: dict[str, type[_EntryForm]] = {"response": StepForm, "deadlines": DeadlineForm,
                                            "platforms": PlatformForm, "removal-signs": RemovalSignsForm}


class RuleFileForm(FlaskForm):
    """A whole rule file replaced: an uploaded file, or (no file chosen) the edited text. The real loaders judge it."""
    file = FileField()
    content = TextAreaField()

    def uploaded(self) -> bool:
        return bool(self.file.data and getattr(self.file.data, "filename", ""))

    def new_content(self) -> bytes | str:
        return self.file.data.read() if self.uploaded() else (self.content.data or "")
