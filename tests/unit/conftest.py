"""The unit layer's gate: a test here that starts a program or opens a socket fails at once, loudly.

Unit tests use no browser, no network and no database server (SQLite files, threads and Flask's test
client are fine). While a test under tests/unit is set up, run or torn down, starting a program
through ``subprocess`` (Chromium, Playwright's driver, openssl, tesseract, a `vaern` command) and
connecting or binding a socket (PostgreSQL, Redis, SMTP, a local HTTP server, the proxy) raise
``LayerViolation``, which names what was tried and where the test belongs instead.
"""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest


class LayerViolation(AssertionError):
    """A unit test reached for a process or the network."""


def _refuse(what: str):
    raise LayerViolation(
        f"a unit test tried to {what}. Unit tests use no browser, no network and no database server: "
        "move the test to tests/integration (database or queue server, SMTP, proxy, other programs) or "
        "tests/e2e (a real browser), or test the logic without it.")


class _GatedPopen(subprocess.Popen):
    def __init__(self, args, *a, **kw):  # noqa: D107 - refuses before anything starts
        self._child_created = False  # what Popen.__del__ looks at
        _refuse(f"start a process ({args!r})")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_bind = socket.socket.bind


def _network(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_UNIX", None))


def _connect(self, address):
    if _network(self):
        _refuse(f"connect to {address!r}")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if _network(self):
        _refuse(f"connect to {address!r}")
    return _real_connect_ex(self, address)


def _bind(self, address):
    if _network(self):
        _refuse(f"open a server socket on {address!r}")
    return _real_bind(self, address)


HERE = Path(__file__).parent


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Gate the whole test (its fixtures, even session-wide ones it is the first to use, and its body).

    pytest calls this hook of every conftest for every test, hence the check of the test's folder.
    """
    if not item.path.is_relative_to(HERE):
        return (yield)
    mp = pytest.MonkeyPatch()
    mp.setattr(subprocess, "Popen", _GatedPopen)
    mp.setattr(socket.socket, "connect", _connect)
    mp.setattr(socket.socket, "connect_ex", _connect_ex)
    mp.setattr(socket.socket, "bind", _bind)
    try:
        return (yield)
    finally:
        mp.undo()


@pytest.fixture
def pg_url():
    _refuse("use PostgreSQL (the pg_url fixture)")


@pytest.fixture
def redis_url():
    _refuse("use Redis (the redis_url fixture)")
