"""tests/conftest.py: with MLP_FAIL_ON_SKIP set, any skip (in a test, by a mark, or of a whole module) fails the
session and its reason is listed; without it the suite behaves as plain pytest. Runs pytest on a small project."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

FILES = {
    "test_ok.py": "def test_ok():\n    assert True\n",
    "test_xfail.py": ("import pytest\n\n@pytest.mark.xfail(reason='known', strict=True)\n"
                      "def test_x():\n    assert False\n"),
    "test_inside.py": "import pytest\n\ndef test_s():\n    pytest.skip('skipped inside REASON_INSIDE')\n",
    "test_mark.py": "import pytest\n\n@pytest.mark.skipif(True, reason='REASON_MARK')\ndef test_m():\n    pass\n",
    "test_module.py": ("import pytest\npytest.importorskip('no_such_module_for_mlp_tests')\n\n"
                       "def test_never():\n    pass\n"),
    "test_module2.py": "import pytest\npytest.skip('REASON_MODULE', allow_module_level=True)\n",
}


def run(tmp_path: Path, files: dict[str, str], fail_on_skip: bool) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "MLP_FAIL_ON_SKIP"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # faster start: the check needs no plugin
    if fail_on_skip:
        env["MLP_FAIL_ON_SKIP"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_every_kind_of_skip_fails_the_run_and_is_listed(tmp_path):
    proc = run(tmp_path, FILES, fail_on_skip=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "skipped tests fail this run" in out
    for reason in ("REASON_INSIDE", "REASON_MARK", "no_such_module_for_mlp_tests", "REASON_MODULE"):
        assert reason in out, out
    assert "test_xfail" not in out.split("skipped tests fail this run")[1]


@pytest.mark.parametrize("name", ["test_inside.py", "test_mark.py", "test_module.py", "test_module2.py"])
def test_each_skip_alone_fails(tmp_path, name):
    proc = run(tmp_path, {"test_ok.py": FILES["test_ok.py"], name: FILES[name]}, fail_on_skip=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_without_the_variable_skips_are_plain_skips(tmp_path):
    proc = run(tmp_path, FILES, fail_on_skip=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped tests fail this run" not in proc.stdout


def test_a_clean_run_passes(tmp_path):
    proc = run(tmp_path, {"test_ok.py": FILES["test_ok.py"], "test_xfail.py": FILES["test_xfail.py"]},
               fail_on_skip=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_failures_keep_their_exit_status(tmp_path):
    proc = run(tmp_path, {"test_bad.py": "def test_bad():\n    assert False\n", "test_mark.py": FILES["test_mark.py"]},
               fail_on_skip=True)
    assert proc.returncode == 1 and "1 failed" in proc.stdout
