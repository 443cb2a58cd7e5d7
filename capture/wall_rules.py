"""Consent-dialog and login-wall rules, read once from the data files beside this module.

They are data (capture/consent.toml, capture/login_walls.toml) because maintainers change them
when a platform changes its dialogs or wording; the code only says how they are used.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Cmp:
    """One consent-management platform: its dialog and its buttons by kind."""

    name: str
    container: str
    reject: tuple[str, ...]
    close: tuple[str, ...]
    accept: tuple[str, ...]


@dataclass(frozen=True)
class ConsentRules:
    cmps: tuple[Cmp, ...]
    generic_container: str
    generic_words: str  #: regex: a dialog mentioning these is about consent
    generic_buttons: str  #: CSS: a generic dialog must hold one of these to count
    frame_hint: re.Pattern[str]
    generic_reject: tuple[str, ...]
    generic_close: tuple[str, ...]
    reject_labels: tuple[str, ...]
    reject_links: int
    close_labels: tuple[str, ...]
    accept_labels: tuple[str, ...]

    def container_of(self, name: str | None) -> str:
        """The CSS selector of the dialog found (``generic`` or unknown: the generic dialog selector)."""
        return next((c.container for c in self.cmps if c.name == name), self.generic_container)


@dataclass(frozen=True)
class LoginRules:
    paths: tuple[str, ...]
    phrases: tuple[str, ...]  #: Danish and English, matched case-insensitively as plain text
    max_text_chars: int
    password_field: str  #: CSS of a password field
    overlay: str  #: CSS of a dialog-like ancestor that makes the form cover the page


class RulesError(ValueError):
    """A rules file is missing a key or holds a wrong type: fail at start, not mid-capture."""


def _load(name: str) -> dict:
    with open(HERE / name, "rb") as fh:
        return tomllib.load(fh)


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{where}: {key} must be a list of strings")
    return tuple(value)


@lru_cache(maxsize=1)
def consent_rules() -> ConsentRules:
    data = _load("consent.toml")
    try:
        cmps = tuple(Cmp(name=c["name"], container=c["container"], reject=_strings(c, "reject", c["name"]),
                         close=_strings(c, "close", c["name"]), accept=_strings(c, "accept", c["name"]))
                     for c in data["cmp"])
        gen, labels = data["generic"], data["labels"]
        rules = ConsentRules(
            cmps=cmps, generic_container=gen["container"], generic_words=gen["words"], generic_buttons=gen["buttons"],
            frame_hint=re.compile(gen["frame_hint"], re.I), generic_reject=_strings(gen, "reject", "generic"),
            generic_close=_strings(gen, "close", "generic"), reject_labels=_strings(labels, "reject", "labels"),
            reject_links=int(labels["reject_links"]), close_labels=_strings(labels, "close", "labels"),
            accept_labels=_strings(labels, "accept", "labels"))
    except KeyError as exc:
        raise RulesError(f"consent.toml: missing {exc}") from None
    for pattern in (*rules.reject_labels, *rules.close_labels, *rules.accept_labels, rules.generic_words):
        re.compile(pattern)  # a broken pattern fails here, at start
    return rules


@lru_cache(maxsize=1)
def _login_data() -> dict:
    data = _load("login_walls.toml")
    if "generic" not in data or "platform" not in data:
        raise RulesError("login_walls.toml: needs [generic] and [platform.*]")
    return data


def login_rules(platform: str) -> LoginRules:
    """The rules for ``platform`` (its own plus the generic ones); ``generic`` gets every platform's phrases."""
    data = _login_data()
    gen = data["generic"]
    generic_phrases = _strings(gen, "phrases_da", "generic") + _strings(gen, "phrases_en", "generic")
    if platform == "generic":
        paths = _strings(gen, "paths", "generic")
        phrases = generic_phrases + tuple(p for name, t in data["platform"].items()
                                          for p in _strings(t, "phrases_da", name) + _strings(t, "phrases_en", name))
    else:
        table = data["platform"].get(platform)
        if table is None:
            raise RulesError(f"login_walls.toml: no [platform.{platform}]")
        paths = _strings(table, "paths", platform)
        phrases = _strings(table, "phrases_da", platform) + _strings(table, "phrases_en", platform) + generic_phrases
    try:
        form = {"password_field": str(gen["password_field"]), "overlay": str(gen["overlay"])}
    except KeyError as exc:
        raise RulesError(f"login_walls.toml: missing generic {exc}") from None
    return LoginRules(paths=paths, phrases=tuple(dict.fromkeys(phrases)), max_text_chars=int(gen["max_text_chars"]),
                      **form)
