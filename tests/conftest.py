"""Suite-wide pytest hooks.

With MLP_FAIL_ON_SKIP=1 (set by .ci/run) any skipped test fails the session: skips inside tests, skip marks,
and module-level skips (``pytest.importorskip`` or ``pytest.skip(allow_module_level=True)`` at import) alike.
The reasons are listed at the end. Expected failures (xfail) are not skips.
"""
from __future__ import annotations

import os

import pytest

FAIL_ON_SKIP = os.environ.get("MLP_FAIL_ON_SKIP", "") not in ("", "0")
_skipped: list[tuple[str, str]] = []


def _record(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid or "(collection)", reason))


def pytest_runtest_logreport(report):
    _record(report)


def pytest_collectreport(report):
    _record(report)


def pytest_sessionfinish(session, exitstatus):
    if FAIL_ON_SKIP and _skipped and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if FAIL_ON_SKIP and _skipped:
        terminalreporter.section("skipped tests fail this run (MLP_FAIL_ON_SKIP is set)", sep="=", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}", red=True)


@pytest.fixture
def torch_float64():
    """torch's default dtype float64 for one test: torch keeps scalar optimizer state (NAdam's mu_product,
    step counts) in the default dtype, float32 unless told otherwise, and a float64 comparison needs it there too."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
