"""Error pages: calm, in the user's language, no internals."""
from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError


def register_error_pages(app: Flask) -> None:
    def page(code: int, title: str, text: str):
        return render_template("errors/error.html", code=code, title=title, text=text), code

    app.register_error_handler(404, lambda e: page(404, _("Page not found"),
                               _("The page does not exist, or you do not have access to it.")))
    app.register_error_handler(413, lambda e: page(413, _("File too large"),
                               _("The file is larger than Værn accepts.")))
    app.register_error_handler(429, lambda e: page(429, _("Too many attempts"),
                               _("Too many login attempts. Wait a minute and try again.")))
    app.register_error_handler(CSRFError, lambda e: page(400, _("The form expired"),
                               _("The form was open too long or came from elsewhere. Go back, reload the page and try again.")))
    app.register_error_handler(500, lambda e: page(500, _("Something went wrong"),
                               _("Værn could not complete the request. Nothing was saved half-way. Try again in a moment.")))
