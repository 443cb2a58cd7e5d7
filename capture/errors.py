"""Errors capture/ raises to its callers."""


class CaptureRefused(ValueError):
    """The input is refused before any capture: malformed URL, wrong scheme, blocked address, bad upload.

    ``reason`` is one line a person can read (Danish UI translates by ``code``).
    """

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CaptureFailed(RuntimeError):
    """The capture machinery itself failed (browser would not start, proxy died)."""


class TimestampError(Exception):
    """No valid RFC 3161 timestamp could be obtained or verified; ``reason`` is one line a person can read.

    The capture stays valid, marked "not timestamped"; the caller may retry later.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
