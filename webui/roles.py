"""Route guards by role. A page a role may not use answers 404, like a page that does not exist."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user, login_required

from storage.models import Role, User


def role_required(*roles: Role) -> Callable:
    """Signed in (else the login page) and one of ``roles`` (else 404)."""
    allowed = frozenset(roles)

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.user.role not in allowed:
                abort(404)
            return view(*args, **kwargs)

        return guarded

    return wrap


def me() -> User:
    """The signed-in user's row."""
    return current_user.user
