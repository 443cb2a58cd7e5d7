"""What a refused password means, in the person's words: on the admin pages (the user's language) and in
the CLI (Danish, from the same catalogue)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

from babel.support import Translations

from tracker.errors import DomainError
from tracker.accounts.passwords import MAX_LENGTH, MIN_LENGTH, MIN_LENGTH_PRIVILEGED

TRANSLATIONS = Path(__file__).parent / "translations"
CODES = frozenset({"password_short", "password_long", "password_personal", "password_common"})


def _texts(_: Callable[[str], str]) -> dict[str, str]:
    return {
        "password_short": _("The password must have at least %(num)d characters (%(privileged)d for "
                            "administrators and HR, %(others)d for everyone else)."),
        "password_long": _("The password is too long (at most %(max)d characters)."),
        "password_personal": _("The password must not contain the person's name or e-mail address."),
        "password_common": _("The password is too common or too easy to guess. Use a few unrelated words "
                             "or a longer sentence."),
    }


def _say(exc: DomainError, gettext: Callable[[str], str]) -> str:
    text = _texts(gettext)[exc.code]
    need = getattr(exc, "min_length", MIN_LENGTH)
    return text % {"num": need, "privileged": MIN_LENGTH_PRIVILEGED, "others": MIN_LENGTH, "max": MAX_LENGTH}


def for_page(exc: DomainError) -> str:
    """The message in the current request's language (needs an app context)."""
    from flask_babel import gettext

    return _say(exc, gettext)


@lru_cache(maxsize=1)
def _danish() -> Translations:
    return Translations.load(str(TRANSLATIONS), ["da"])


def in_danish(exc: DomainError) -> str:
    """The message in Danish, for the command line."""
    return _say(exc, _danish().gettext)
