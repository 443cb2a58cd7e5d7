"""The password policy, in the spirit of NIST SP 800-63B: length, no common or breached passwords,
nothing built from the person's own name or e-mail — and no composition rules (no "one digit, one sign").

* At least 12 characters for administrators and HR (they see every case), 10 for everyone else.
* Refused when zxcvbn (a maintained port of Dropbox's estimator) puts it under 10^8 guesses: its lists
  hold 30,000 common passwords from leaked-password corpora, names, English words and keyboard
  patterns; the Danish words people build passwords from (``passwords_data/danish_words.txt``) are
  added as dictionary words. 10^8 is zxcvbn's score 3 ("safely unguessable" for online attacks).
* Refused when it contains the e-mail's local part or a part of the person's name (3+ letters).

``check_password`` raises DomainError with a code the admin pages and the CLI say in Danish.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from zxcvbn import zxcvbn

from storage.models import Role
from tracker.errors import DomainError

MIN_LENGTH = 10
MIN_LENGTH_PRIVILEGED = 12
PRIVILEGED_ROLES = frozenset({Role.admin, Role.hr})
MAX_LENGTH = 1000
#: zxcvbn's guesses below which a password counts as common or guessable (its score 3 starts here)
MIN_GUESSES_LOG10 = 8.0
WORDS_FILE = Path(__file__).parent / "passwords_data" / "danish_words.txt"
#: only this much is scored (zxcvbn's time grows with length; a longer password is not weaker)
_SCORED_LENGTH = 72


@lru_cache(maxsize=1)
def danish_words() -> tuple[str, ...]:
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(w.strip().lower() for w in lines if w.strip() and not w.lstrip().startswith("#"))


def min_length(role: Role | str) -> int:
    return MIN_LENGTH_PRIVILEGED if Role(role) in PRIVILEGED_ROLES else MIN_LENGTH


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def personal_parts(email: str = "", name: str = "") -> list[str]:
    """The pieces of a person's e-mail and name a password must not contain (3+ characters each)."""
    local = _fold(email).split("@", 1)[0]
    parts = {local, *re.split(r"[^\w]+", local), *re.split(r"[^\w]+", _fold(name))}
    return sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)


def check_password(password: str, *, role: Role | str, email: str = "", name: str = "") -> None:
    """Return if ``password`` may be used by this person; DomainError otherwise.

    Codes: ``password_short`` (``min_length`` in the message), ``password_long``, ``password_personal``,
    ``password_common``.
    """
    need = min_length(role)
    if len(password) < need:
        err = DomainError("password_short", f"the password must have at least {need} characters", "password")
        err.min_length = need  # type: ignore[attr-defined]
        raise err
    if len(password) > MAX_LENGTH:
        raise DomainError("password_long", f"the password is longer than {MAX_LENGTH} characters", "password")
    folded = _fold(password)
    parts = personal_parts(email, name)
    if any(p in folded for p in parts):
        raise DomainError("password_personal", "the password contains the person's name or e-mail", "password")
    result = zxcvbn(password[:_SCORED_LENGTH], user_inputs=[*danish_words(), *parts], max_length=_SCORED_LENGTH)
    if result["guesses_log10"] < MIN_GUESSES_LOG10:
        raise DomainError("password_common", "the password is too common or too easy to guess", "password")
