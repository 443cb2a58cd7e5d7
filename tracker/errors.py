"""Errors the domain raises to its callers; ``code`` lets the web layer say it in Danish."""


class DomainError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(LookupError):
    """The object does not exist *or the user may not see it* (never confirm existence)."""
