"""scripts/get_pyodide.py: assembles a Pyodide 0.27.7 runtime from the npm package (for real, through npm) and a
Pyodide release served over HTTP (here a local server standing in for the jsDelivr CDN, serving a real
distribution), and refuses wheels or lock files that do not check out."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from tests._browser import PYODIDE_HINT, StaticServer, pyodide_runtime_dir

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("get_pyodide", ROOT / "scripts" / "get_pyodide.py")
gp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gp)
NUMPY_WHEEL = "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"


@pytest.fixture(scope="module")
def runtime() -> Path:
    path = pyodide_runtime_dir()
    assert path is not None, PYODIDE_HINT   # scripts/test.sh assembles one; CI has one
    return path


@pytest.fixture(scope="module")
def cdn(tmp_path_factory, runtime):
    """One local server standing in for the CDN: /release/ is the real distribution, and each fake_cdn call
    adds a folder of its own."""
    root = tmp_path_factory.mktemp("cdn")
    (root / "release").symlink_to(runtime, target_is_directory=True)
    with StaticServer(root) as server:
        yield root, server.url


_count = iter(range(10 ** 6))


def fake_cdn(cdn, runtime: Path, lock_edit=None, wheel_edit=None) -> str:
    """The base URL of a copy of the release's lock file and NumPy wheel, optionally edited."""
    root, url = cdn
    name = f"case{next(_count)}"
    folder = root / name
    folder.mkdir()
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    wheel = (runtime / NUMPY_WHEEL).read_bytes()
    if wheel_edit:
        wheel = wheel_edit(wheel)
    if lock_edit:
        lock_edit(lock, wheel)
    (folder / "pyodide-lock.json").write_text(json.dumps(lock))
    (folder / NUMPY_WHEEL).write_bytes(wheel)
    return f"{url}{name}/"


def test_assembles_a_runtime_the_site_build_accepts(tmp_path, runtime, cdn, capsys):
    out = tmp_path / "cache" / "pyodide-0.27.7"
    assert gp.main(["--out", str(out), "--cdn", cdn[1] + "release/"]) == 0
    assert "ready in" in capsys.readouterr().out
    names = gp.build.pyodide_files(out)  # raises unless version and sha256 check out
    assert NUMPY_WHEEL in names
    for name in ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", NUMPY_WHEEL):
        assert (out / name).read_bytes() == (runtime / name).read_bytes(), name
    assert json.loads((out / "package.json").read_text())["version"] == "0.27.7"  # from npm
    assert sorted(p.name for p in out.parent.iterdir()) == ["pyodide-0.27.7"]  # no staging left
    # Ready already: nothing is downloaded (from a base where nothing is).
    assert gp.main(["--out", str(out), "--cdn", "http://127.0.0.1:1/"]) == 0


def flip_byte(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]


def test_a_wheel_with_the_wrong_sha256_is_refused(tmp_path, runtime, cdn, capsys):
    out = tmp_path / "rt"
    assert gp.main(["--out", str(out), "--cdn", fake_cdn(cdn, runtime, wheel_edit=flip_byte)]) == 2
    err = capsys.readouterr().err
    assert NUMPY_WHEEL in err and "sha256" in err and "refusing" in err
    assert list(tmp_path.iterdir()) == []   # neither the runtime nor its staging folder


def test_a_lock_file_rewritten_to_match_another_wheel_is_refused(tmp_path, runtime, cdn, capsys):
    def rehash(lock, wheel):
        lock["packages"]["numpy"]["sha256"] = hashlib.sha256(wheel).hexdigest()

    base = fake_cdn(cdn, runtime, lock_edit=rehash, wheel_edit=flip_byte)
    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", base]) == 2
    assert "not the Pyodide 0.27.7 release's lock file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_of_another_version_is_refused(tmp_path, runtime, cdn, capsys):
    def other(lock, wheel):
        lock["info"]["version"] = "0.26.4"

    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", fake_cdn(cdn, runtime, lock_edit=other)]) == 2
    assert "is for Pyodide 0.26.4, not 0.27.7" in capsys.readouterr().err


def test_an_unreachable_cdn_says_what_to_do(tmp_path, capsys):
    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", "http://127.0.0.1:1/"]) == 2   # nobody listens
    err = capsys.readouterr().err
    assert "cannot download" in err and "jsDelivr" in err and "MLP_PYODIDE_DIR" in err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_on_the_cdn_is_reported(tmp_path, runtime, cdn, capsys):
    base = fake_cdn(cdn, runtime)
    (cdn[0] / base.rstrip("/").rsplit("/", 1)[1] / NUMPY_WHEEL).unlink()
    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", base]) == 2
    assert f"cannot download {base}{NUMPY_WHEEL}" in capsys.readouterr().err


def test_an_existing_directory_is_never_overwritten(tmp_path, runtime, cdn, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert gp.main(["--out", str(out), "--cdn", cdn[1] + "release/"]) == 2
    assert "is not a complete Pyodide 0.27.7 runtime" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_the_base_url_comes_from_the_environment(tmp_path, runtime, cdn, monkeypatch):
    base = fake_cdn(cdn, runtime, wheel_edit=flip_byte)
    monkeypatch.setenv("MLP_PYODIDE_CDN", base.rstrip("/"))
    with pytest.raises(gp.FetchError, match=f"{base}{NUMPY_WHEEL}: sha256"):
        gp.assemble(tmp_path / "rt")


@pytest.mark.parametrize("file_name", ["../numpy.whl", "/etc/passwd", "..", "sub/numpy.whl", 5, None])
def test_a_lock_entry_naming_a_path_is_refused(tmp_path, runtime, cdn, capsys, file_name):
    def evil(lock, wheel):
        lock["packages"]["numpy"]["file_name"] = file_name

    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", fake_cdn(cdn, runtime, lock_edit=evil)]) == 2
    assert "has no usable entry for package 'numpy'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_base_that_is_no_url_is_reported(tmp_path, capsys):
    assert gp.main(["--out", str(tmp_path / "rt"), "--cdn", "not a url"]) == 2
    assert "cannot download not a url/pyodide-lock.json" in capsys.readouterr().err
