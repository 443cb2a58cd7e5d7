"""The tests' own house rules: three layers, shared code in tests/support, no clocks in asserts, a working gate."""
from __future__ import annotations

import ast
import socket
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LAYERS = {
    "unit": "no browser, no network, no database server (pure logic, files, SQLite); the whole layer in under a minute",
    "integration": "database and queue servers, SMTP, the proxy, other programs (openssl, tesseract), the app on a "
                   "database — but no Chromium",
    "e2e": "a real Chromium: pages in Playwright, captures, PDF printing, `vaern` commands that capture",
}
WHERE = "\n".join(f"  tests/{name}/ — {what}" for name, what in LAYERS.items())


def all_test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name.startswith("test_") or p.name.endswith("_test.py"))


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_every_test_module_sits_in_one_of_the_three_layers():
    outside = [p.relative_to(TESTS.parent) for p in all_test_modules()
               if p.relative_to(TESTS).parts[0] not in LAYERS]
    assert not outside, (f"test modules outside the three layers: {', '.join(map(str, outside))}.\n"
                         f"Put each under the fastest layer all its tests fit (git mv, the file whole):\n{WHERE}\n"
                         "Shared helpers go to tests/support/ (not named test_*).")


def test_support_holds_no_tests():
    misplaced = [p.relative_to(TESTS.parent) for p in all_test_modules() if p.relative_to(TESTS).parts[0] == "support"]
    assert not misplaced, f"tests/support/ is for shared helpers; move these test modules to a layer: {misplaced}"


def test_no_test_module_imports_another_test_module_or_a_benchmark():
    bad = []
    for path in all_test_modules() + sorted((TESTS / "support").rglob("*.py")) + sorted(TESTS.rglob("conftest.py")):
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] == "benchmarks" or any(part.startswith("test_") for part in parts):
                bad.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert not bad, ("shared helpers belong in tests/support/ (move the function there and import it from "
                     "both places):\n" + "\n".join(bad))


CLOCKS = {"monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns"}


def _is_clock(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "time" and node.func.attr in CLOCKS


def test_no_test_measures_how_long_something_took():
    """How long something takes is benchmarks/' business; a test asserts what happened (waits have timeouts).

    A measurement is a clock reading minus an earlier one (``time.monotonic() - started``); a clock
    reading used as input (``run.t0 = time.monotonic() - 55``) is fine.
    """
    found = []
    for path in all_test_modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and _is_clock(node.left) \
                    and not isinstance(node.right, ast.Constant):
                found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}: time.{node.left.func.attr}() - …")
    assert not found, ("tests that time something (put timings in benchmarks/; bound a wait with "
                       "tests.support.factories.wait_until or @pytest.mark.timeout as a watchdog):\n" + "\n".join(found))


def test_the_gate_refuses_a_program_with_a_message_that_says_where_the_test_belongs():
    with pytest.raises(AssertionError, match="tests/integration .* or tests/e2e"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.parametrize("family, address", [(socket.AF_INET, ("127.0.0.1", 5432)),
                                             (socket.AF_INET6, ("::1", 6379))], ids=["ipv4", "ipv6"])
def test_the_gate_refuses_connections_and_server_sockets(family, address):
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no such address family here")
    with sock:
        with pytest.raises(AssertionError, match="connect to"):
            sock.connect(address)
        with pytest.raises(AssertionError, match="open a server socket"):
            sock.bind((address[0], 0))


def test_the_gate_refuses_the_database_and_queue_servers(request):
    for fixture in ("pg_url", "redis_url"):
        with pytest.raises(AssertionError, match=f"the {fixture} fixture"):
            request.getfixturevalue(fixture)
