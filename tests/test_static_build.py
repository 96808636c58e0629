"""CPython tests of the static (Pyodide) build: static/build.py and the worker glue static/worker_glue.py.

The glue is the Python that runs in the browser's Web Worker; here it runs under CPython with the same
engine and session code, so its behaviour (errors, chunked training, model files) is checked without a browser.
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
sys.path[:0] = [str(STATIC), str(ROOT)]

build = importlib.import_module("build")
glue = importlib.import_module("worker_glue")

import mlp  # noqa: E402
from tests._browser import COUNT_COMPILATIONS  # noqa: E402
from webapp.core import session  # noqa: E402

ARCH = "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
FRUIT_CSV = "\n".join(["weight,colour,sweet,fruit"] + [
    f"{100 + 7 * i % 60},{['red', 'green', 'yellow'][i % 3]},{(i * 13) % 10 / 10},"
    f"{['apple', 'pear', 'banana'][(i + (i // 7)) % 3]}" for i in range(90)]) + "\n"


# ---------------------------------------------------------------- helpers

def _call(cmd, data=None, **args):
    """Run a glue command the way the worker does; return the decoded reply."""
    out = glue.call(cmd, json.dumps(args), data)
    assert isinstance(out, str)
    return json.loads(out)


def _ok(cmd, data=None, **args):
    reply = _call(cmd, data, **args)
    assert reply["ok"], reply
    return reply["result"]


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts with an empty page state."""
    monkeypatch.setattr(glue, "STATE", glue._State())


KATEX_FONT = "KaTeX_Main-Regular.woff2"


def _fake_root(tmp_path, plotly=True):
    """A copy of the project sources (engine, webapp, static sources) with a fake vendored Plotly and KaTeX."""
    root = tmp_path / "src"
    shutil.copytree(ROOT / "mlp", root / "mlp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "webapp", root / "webapp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(STATIC, root / "static", ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    if plotly:
        target = root / "static" / build.PLOTLY_REL
        target.parent.mkdir(parents=True)
        target.write_text("/* fake plotly */ window.Plotly = {};\n")
        katex = root / "static" / build.KATEX_DIST
        (katex / "fonts").mkdir(parents=True)
        (katex / "katex.min.js").write_text("/* fake katex */ window.katex = {};\n")
        (katex / "katex.min.css").write_text(f"@font-face{{src:url(fonts/{KATEX_FONT}) format(\"woff2\")}}\n")
        (katex / "fonts" / KATEX_FONT).write_bytes(b"wOF2")
        (katex / "fonts" / "KaTeX_Main-Regular.ttf").write_bytes(b"ttf")  # not shipped (WOFF2 only)
    return root


FAKE_STDLIB = {"os_like.py": b"X = 1\n", "pkg/": b"", "pkg/__init__.py": b"", "data.txt": b"kept as it is",
               "pkg/mod.py": b"def f():\n    return 42\n"}
FAKE_WHEEL = {"numpy/__init__.py": b"from numpy._core.sub import VALUE\n", "numpy/_core/__init__.py": b"",
              "numpy/_core/sub.py": b"VALUE = 7\n", "numpy/_core/_m.cpython-312-wasm32-emscripten.so": b"\0asm",
              "numpy-2.0.2.dist-info/METADATA": b"Name: numpy\nVersion: 2.0.2\n"}
PYC_MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of every CPython 3.12
PY312 = build.find_python312()
needs_py312 = pytest.mark.skipif(PY312 is None, reason="no CPython 3.12 to precompile with (python3.12 on PATH, "
                                                       "a pyenv 3.12 or MLP_PYTHON312)")


def _fake_runtime(tmp_path, version="0.27.7", corrupt=False):
    """A minimal stand-in for a Pyodide distribution (dummy core files, a tiny stdlib zip, a lock listing a tiny
    numpy wheel)."""
    rt = tmp_path / "runtime"
    rt.mkdir()
    for name in build.PYODIDE_CORE:
        if name != "pyodide-lock.json":
            (rt / name).write_bytes(b"fake " + name.encode())
    (rt / "python_stdlib.zip").write_bytes(build.make_zip(FAKE_STDLIB))
    wheel = build.make_zip(FAKE_WHEEL)
    (rt / "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl").write_bytes(wheel)
    (rt / "unrelated-1.0-py3-none-any.whl").write_bytes(b"not needed")
    digest = hashlib.sha256(b"other" if corrupt else wheel).hexdigest()
    lock = {"info": {"version": version}, "packages": {
        "numpy": {"file_name": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", "sha256": digest,
                  "depends": []}}}
    (rt / "pyodide-lock.json").write_text(json.dumps(lock))
    return rt


def _zip_members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# ---------------------------------------------------------------- build.py

def test_python_sources_pack_the_engine_and_the_core_whole_and_the_glue():
    files = build.python_sources(ROOT)
    assert {"mlp/__init__.py", "mlp/network.py", "webapp/__init__.py", "webapp/core/__init__.py",
            "webapp/core/settings.py", "webapp/core/playground.py", "webapp/core/session.py", "worker_glue.py"} \
        <= set(files)
    assert not any(name.startswith("webapp/") and not name.startswith("webapp/core/")
                   for name in set(files) - {"webapp/__init__.py"})   # the Streamlit app is not shipped
    assert files["webapp/__init__.py"] == build.WEBAPP_MARKER
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in files)
    # every file of both packages, as it is in the source tree
    for package in build.PACKAGES:
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith(".pyc"):
                assert files[rel] == path.read_bytes(), rel


def test_a_package_is_packed_whole_data_files_and_new_modules_included(tmp_path):
    """Whatever is added to webapp/core (a module, a sub-package, lessons as .md files) is packed, by no list of
    names: a module importing anything at all is packed as it is."""
    root = _fake_root(tmp_path)
    core = root / "webapp" / "core"
    (core / "brand_new.py").write_text("import streamlit as st\n")   # not searched: the core is packed whole
    (core / "lessons").mkdir()
    (core / "lessons" / "01-first.md").write_text("# First lesson\n")
    (core / "lessons" / "__init__.py").write_text("")
    (core / "__pycache__").mkdir(exist_ok=True)
    (core / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"old")
    (root / "mlp" / "reference.py").write_text("def layer_forward():\n    pass\n")
    files = build.python_sources(root)
    assert files["webapp/core/brand_new.py"] == b"import streamlit as st\n"
    assert files["webapp/core/lessons/01-first.md"] == b"# First lesson\n"
    assert "webapp/core/lessons/__init__.py" in files
    assert files["mlp/reference.py"] == b"def layer_forward():\n    pass\n"
    assert not any("__pycache__" in n for n in files)
    (core / "__init__.py").unlink()
    with pytest.raises(build.BuildError, match="webapp/core/__init__.py"):
        build.python_sources(root)


def test_data_files_reach_the_site_beside_the_precompiled_modules(tmp_path):
    root = _fake_root(tmp_path)
    (root / "webapp" / "core" / "notes.md").write_text("kept as it is\n")
    out = tmp_path / "site"
    build.build(out, None, root=root, precompile=PY312 or False)
    app = _zip_members(out / "app.zip")
    assert app["webapp/core/notes.md"] == b"kept as it is\n"
    assert not any(n.startswith("webapp/core/__pycache__/notes") for n in app)


def test_zip_is_deterministic_and_unpackable():
    files = {"b.py": b"x = 1\n", "a/c.py": b"y = 2\n"}
    first, second = build.make_zip(files), build.make_zip(dict(reversed(list(files.items()))))
    assert first == second
    with zipfile.ZipFile(__import__("io").BytesIO(first)) as zf:
        assert zf.namelist() == ["a/c.py", "b.py"]
        assert zf.read("b.py") == b"x = 1\n"


def test_build_cdn_site(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    summary = build.build(out, None, root=root)
    for name in ("index.html", "app.js", "worker.js", "style.css", "sw.js", "config.js", "app.zip",
                 "vendor/plotly.min.js"):
        assert (out / name).is_file(), name
    assert not (out / "pyodide").exists()
    config = (out / "config.js").read_text()
    assert build.PYODIDE_CDN in config and summary["offline"] is False
    assert '"sitePackages": null' in config and '"stdLibURL": null' in config  # NumPy: loadPackage from the CDN
    sw = (out / "sw.js").read_text()
    assert "__CACHE_VERSION__" not in sw and "/*__PRECACHE__*/" not in sw and "__RUNTIME_PREFIX__" not in sw
    assert summary["version"] in sw
    precache = json.loads(sw.split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert "app.zip" in precache and "index.html" in precache and "./" in precache
    # the public build caches the CDN runtime too, so it works offline after one visit
    assert build.PYODIDE_CDN + "pyodide.asm.wasm" in precache
    assert any(u.startswith(build.PYODIDE_CDN + "numpy-") for u in precache)
    with zipfile.ZipFile(out / "app.zip") as zf:
        assert "worker_glue.py" in zf.namelist() and "mlp/io.py" in zf.namelist()


def test_katex_is_vendored_with_its_woff2_fonts_and_precached(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    build.build(out, None, root=root)
    vendor = out / "vendor" / "katex"
    assert (vendor / "katex.min.js").read_text().startswith("/* fake katex */")
    assert (vendor / "fonts" / KATEX_FONT).read_bytes() == b"wOF2"
    assert not (vendor / "fonts" / "KaTeX_Main-Regular.ttf").exists()
    precache = json.loads((out / "sw.js").read_text().split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert {"vendor/katex/katex.min.js", "vendor/katex/katex.min.css",
            f"vendor/katex/fonts/{KATEX_FONT}"} <= set(precache)
    app = (out / "app.js").read_text()
    assert '"vendor/katex/katex.min.js"' in app and '"vendor/katex/katex.min.css"' in app


def test_real_katex_css_names_only_fonts_the_site_ships():
    """With the pinned KaTeX installed: every font its CSS asks for first (WOFF2) is one the build copies."""
    import re
    css = STATIC / build.KATEX_DIST / "katex.min.css"
    if not css.is_file():
        build.ensure_plotly(STATIC)  # npm ci: the package is pinned in package.json / package-lock.json
    shipped = {p.name for p in build.katex_fonts(STATIC)}
    wanted = set(re.findall(r"url\(fonts/([^)]+\.woff2)\)", css.read_text()))
    assert wanted and wanted <= shipped, wanted - shipped


def test_site_urls_are_relative_and_plotly_is_vendored(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    build.build(out, None, root=root)
    html = (out / "index.html").read_text()
    import re
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(not r.startswith(("/", "http:", "https:", "//")) for r in refs), refs
    # Plotly.js is loaded by app.js (once the runtime is ready), from the vendored copy
    assert 'script.src = "vendor/plotly.min.js"' in (out / "app.js").read_text()
    assert (out / "vendor" / "plotly.min.js").is_file()
    for f in ("app.js", "worker.js", "index.html"):
        text = (out / f).read_text()
        assert "cdn.plot.ly" not in text and "unpkg.com" not in text
    for rel in refs:
        assert (out / rel).is_file(), rel


def test_build_with_local_runtime(tmp_path):
    root = _fake_root(tmp_path)
    rt = _fake_runtime(tmp_path)
    out = tmp_path / "site"
    summary = build.build(out, rt, root=root)
    assert summary["offline"] is True
    names = sorted(p.name for p in (out / "pyodide").iterdir())
    # NumPy comes installed in site-packages.zip (its wheel is not needed by the page)
    assert set(names) == set(build.PYODIDE_CORE) | {"site-packages.zip"}, names
    site = _zip_members(out / "pyodide" / "site-packages.zip")
    for name, data in FAKE_WHEEL.items():
        assert site["lib/python3.12/site-packages/" + name] == data
    config = (out / "config.js").read_text()
    assert '"pyodideURL": "pyodide/"' in config and '"sitePackages": "pyodide/site-packages.zip"' in config
    sw = (out / "sw.js").read_text()
    precache = json.loads(sw.split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert "pyodide/pyodide.asm.wasm" in precache and "pyodide/site-packages.zip" in precache
    assert not [u for u in precache if "cdn.jsdelivr.net" in u]


@needs_py312
def test_local_runtime_is_precompiled(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    summary = build.build(out, _fake_runtime(tmp_path), root=root, precompile=True)
    assert summary["precompiled"]
    stdlib = _zip_members(out / "pyodide" / "python_stdlib.zip")
    assert {"os_like.pyc", "pkg/__init__.pyc", "pkg/mod.pyc", "data.txt", "pkg/"} == set(stdlib)
    assert stdlib["data.txt"] == b"kept as it is"
    site = _zip_members(out / "pyodide" / "site-packages.zip")
    prefix = "lib/python3.12/site-packages/numpy/"
    assert {n for n in site if "__pycache__" in n} == {prefix + "__pycache__/__init__.cpython-312.pyc",
                                                       prefix + "_core/__pycache__/__init__.cpython-312.pyc",
                                                       prefix + "_core/__pycache__/sub.cpython-312.pyc"}
    app = _zip_members(out / "app.zip")
    for name in ("mlp/__pycache__/network.cpython-312.pyc", "__pycache__/worker_glue.cpython-312.pyc",
                 "webapp/core/__pycache__/session.cpython-312.pyc", "mlp/network.py"):
        assert name in app, name
    # the sources ship beside their .pyc (the explanation shows mlp/reference.py's own lines)
    for name in [n for n in app if n.endswith(".pyc")]:
        src = name.replace("__pycache__/", "").replace(".cpython-312.pyc", ".py")
        assert src in app, src
    assert app["mlp/network.py"] == (root / "mlp" / "network.py").read_bytes()
    pycs = [b for n, b in [*stdlib.items(), *site.items(), *app.items()] if n.endswith(".pyc")]
    assert len(pycs) > 10
    for pyc in pycs:  # PEP 552 header: 3.12 magic, flags 0b01 = hash-based, not checked against the source
        assert pyc[:4] == PYC_MAGIC_312 and int.from_bytes(pyc[4:8], "little") == 1


@needs_py312
def test_precompiled_code_is_what_python312_compiles_and_runs(tmp_path):
    """In CPython 3.12: the stdlib zip imports from its .pyc only, numpy's __pycache__ is used without compiling
    any source, and each app.zip .pyc holds exactly the code object of its source."""
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    build.build(out, _fake_runtime(tmp_path), root=root, precompile=True)
    installed = tmp_path / "installed"
    with zipfile.ZipFile(out / "pyodide" / "site-packages.zip") as zf:
        zf.extractall(installed)  # as the worker does, at "/"
    app = tmp_path / "app"
    with zipfile.ZipFile(out / "app.zip") as zf:
        zf.extractall(app)
    script = COUNT_COMPILATIONS + f"""
import marshal, pathlib, sys
sys.path[:0] = [{str(out / "pyodide" / "python_stdlib.zip")!r}, {str(installed / build.SITE_PACKAGES)!r}]
import os_like, pkg.mod, numpy
assert pkg.mod.f() == 42 and os_like.X == 1 and pkg.mod.__file__.endswith("mod.pyc"), pkg.mod.__file__
assert numpy.VALUE == 7 and not compiled, compiled
app = pathlib.Path({str(app)!r})
n = 0
for src in app.rglob("*.py"):
    pyc = src.parent / "__pycache__" / (src.stem + ".cpython-312.pyc")
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code == compile(src.read_bytes(), code.co_filename, "exec", dont_inherit=True), src
    assert code.co_filename == "/home/pyodide/mlp_app/" + src.relative_to(app).as_posix()
    n += 1
assert n > 10, n
print("OK", n)
"""
    proc = subprocess.run([PY312, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("OK"), proc.stdout + proc.stderr


@needs_py312
def test_cdn_build_serves_precompiled_stdlib_and_numpy_pyc(tmp_path, monkeypatch):
    root = _fake_root(tmp_path)
    rt = _fake_runtime(tmp_path)
    for name in ("pyodide.asm.wasm", "pyodide.js"):  # only the stdlib, the lock and the wheels are needed
        (rt / name).unlink()
    out = tmp_path / "site"
    with pytest.raises(build.BuildError, match="not the CDN's"):
        build.build(out, None, root=root, pyc_from=rt)  # the fake wheel is not the CDN's wheel
    wheel = rt / "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    monkeypatch.setattr(build, "CDN_NUMPY_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    summary = build.build(out, None, root=root, pyc_from=rt)
    assert summary["precompiled"] and not (out / "pyodide").exists()
    assert "pkg/mod.pyc" in _zip_members(out / "pyc" / "python_stdlib.zip")
    site = _zip_members(out / "pyc" / "site-packages.zip")
    assert {"lib/python3.12/site-packages/numpy/__pycache__/__init__.cpython-312.pyc",
            "lib/python3.12/site-packages/numpy/_core/_m.cpython-312-wasm32-emscripten.so"} <= set(site)
    config = (out / "config.js").read_text()
    assert '"stdLibURL": "pyc/python_stdlib.zip"' in config and build.PYODIDE_CDN in config
    assert '"sitePackages": "pyc/site-packages.zip"' in config
    precache = json.loads((out / "sw.js").read_text().split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert {"pyc/python_stdlib.zip", "pyc/site-packages.zip"} <= set(precache)
    cdn = {u[len(build.PYODIDE_CDN):] for u in precache if u.startswith(build.PYODIDE_CDN)}
    assert cdn == set(build.PYODIDE_CORE) - {"python_stdlib.zip"}, cdn  # the CDN's stdlib and wheel: unused
    app = _zip_members(out / "app.zip")  # the app's sources ship beside their bytecode here too
    for rel in ("mlp/reference.py", "webapp/core/explain.py", "webapp/core/links.py"):
        assert app[rel] == (root / rel).read_bytes() and build.pycache_name(rel) in app, rel
    with pytest.raises(build.BuildError, match="CDN build"):
        build.build(out, rt, root=root, pyc_from=rt)


def test_no_precompile_ships_sources(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    rt = _fake_runtime(tmp_path)
    summary = build.build(out, rt, root=root, precompile=False)
    assert summary["precompiled"] is None
    assert (out / "pyodide" / "python_stdlib.zip").read_bytes() == (rt / "python_stdlib.zip").read_bytes()
    site = _zip_members(out / "pyodide" / "site-packages.zip")  # NumPy installed, no bytecode
    assert set(site) == {"lib/python3.12/site-packages/" + n for n in FAKE_WHEEL}
    assert not any("__pycache__" in n for n in _zip_members(out / "app.zip"))
    assert '"stdLibURL": null' in (out / "config.js").read_text()


def test_precompile_needs_python312(tmp_path):
    fake = tmp_path / "python3.11"
    fake.write_text("#!/bin/sh\necho cpython 3 11\n")
    fake.chmod(0o755)
    assert not build._runs_python312(str(fake))
    with pytest.raises(build.BuildError, match="3.12"):
        build.build(tmp_path / "site", None, root=_fake_root(tmp_path), precompile=str(fake))
    if PY312:
        assert build._runs_python312(PY312)


@pytest.mark.parametrize("problem, message", [("missing", "missing"), ("version", "0.26.0"),
                                              ("sha", "sha256")])
def test_bad_runtime_is_refused(tmp_path, problem, message):
    rt = _fake_runtime(tmp_path, version="0.26.0" if problem == "version" else "0.27.7",
                       corrupt=problem == "sha")
    if problem == "missing":
        (rt / "pyodide.asm.wasm").unlink()
    with pytest.raises(build.BuildError, match=message):
        build.pyodide_files(rt)


def test_rebuild_wipes_own_output_but_not_foreign_dirs(tmp_path):
    root = _fake_root(tmp_path)
    out = tmp_path / "site"
    build.build(out, None, root=root)
    (out / "stale.txt").write_text("old")
    build.build(out, None, root=root)
    assert not (out / "stale.txt").exists()
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(build.BuildError, match="not empty"):
        build.build(foreign, None, root=root)
    assert (foreign / "keep.txt").read_text() == "mine"
    with pytest.raises(build.BuildError, match="static"):
        build.build(root / "static" / "out", None, root=root)


def test_same_sources_same_version(tmp_path):
    root = _fake_root(tmp_path)
    v1 = build.build(tmp_path / "a", None, root=root)["version"]
    v2 = build.build(tmp_path / "b", None, root=root)["version"]
    (root / "static" / "style.css").write_text("body {}\n")
    v3 = build.build(tmp_path / "c", None, root=root)["version"]
    assert v1 == v2 != v3


def test_npm_ci_runs_when_plotly_missing(tmp_path):
    root = _fake_root(tmp_path, plotly=False)
    fake_npm = tmp_path / "npm"
    k = build.KATEX_DIST
    fake_npm.write_text("#!/bin/sh\n[ \"$1\" = ci ] || exit 3\n"
                        f"mkdir -p {build.PLOTLY_REL.parent} {k}/fonts && echo '/*p*/' > {build.PLOTLY_REL}\n"
                        f"echo k > {k}/katex.min.js && echo c > {k}/katex.min.css && echo f > {k}/fonts/a.woff2\n")
    fake_npm.chmod(0o755)
    path = build.ensure_plotly(root / "static", npm=str(fake_npm))
    assert path.read_text().strip() == "/*p*/"
    failing = tmp_path / "npm-fail"
    failing.write_text("#!/bin/sh\nexit 1\n")
    failing.chmod(0o755)
    shutil.rmtree(root / "static" / "node_modules")
    with pytest.raises(build.BuildError, match="npm ci"):
        build.ensure_plotly(root / "static", npm=str(failing))


def test_cli_reports_errors_with_exit_code(tmp_path, capsys):
    code = build.main(["--out", str(tmp_path / "o"), "--pyodide", str(tmp_path / "nowhere")])
    assert code == 2
    assert "not a Pyodide runtime" in capsys.readouterr().err


def test_package_json_pins_plotly_and_katex_and_lock_matches():
    pkg = json.loads((STATIC / "package.json").read_text())
    assert sorted(pkg["dependencies"]) == sorted([build.PLOTLY_PACKAGE, build.KATEX_PACKAGE])
    assert sorted(pkg["devDependencies"]) == [build.AXE_PACKAGE]  # the tests' accessibility checker, not shipped
    lock = json.loads((STATIC / "package-lock.json").read_text())
    for name, version in {**pkg["dependencies"], **pkg["devDependencies"]}.items():
        assert version[0].isdigit(), f"pin an exact version of {name}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_vendored_plotly_bundle_draws_every_trace_type_the_charts_use():
    """The site ships the cartesian Plotly.js bundle: every figure the browser gets (webapp.core.charts through the
    glue, for each task) uses only trace types that bundle has."""
    used = set()

    def collect(fig):
        used.update(trace.get("type", "scatter") for trace in (fig or {}).get("data", []))

    for name in ("circles", "spiral", "sine", "plane"):
        summary = _ok("builtin", name=name, n_samples=60)
        collect(summary["figure"])
        _ok("train_start", arch=summary["default_arch"], epochs=2)
        step = _ok("train_step", seconds=0.05)
        for f in step.get("figures", []):
            collect(f["figure"])
        for f in _ok("train_finish")["figures"]:
            collect(f["figure"])
    assert "scatter" in used and "heatmap" in used
    assert used <= set(build.PLOTLY_TRACES), used - set(build.PLOTLY_TRACES)
    plotly = STATIC / build.PLOTLY_REL
    if plotly.is_file():  # the bundle itself registers them
        text = plotly.read_text(errors="replace")
        for trace in used:
            assert f'moduleType:"trace",name:"{trace}"' in text, trace


def test_javascript_parses():
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    for name in ("app.js", "worker.js", "sw.js"):
        proc = subprocess.run([node, "--check", str(STATIC / name)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- worker glue

def test_info_lists_choices():
    info = _ok("info")
    assert "circles" in info["datasets"] and "adam" in info["optimizers"]
    assert info["defaults"]["training"]["epochs"] == 1000
    assert info["versions"]["numpy"] == np.__version__


def test_builtin_data_and_architecture_check():
    summary = _ok("builtin", name="circles", n_samples=200, noise=0.1, seed=1, test_size=0.2)
    assert summary["n_inputs"] == 2 and summary["task"] == "binary"
    assert summary["default_arch"] == ARCH and summary["figure"]["data"]
    res = _ok("check_arch", text=ARCH)
    assert res["ok"] and res["default_loss"] == "bce" and "bce" in res["losses"]
    bad = _ok("check_arch", text="[2, 8, 'rel")
    assert not bad["ok"] and bad["error"] and "Traceback" not in bad["error"]
    wrong = _ok("check_arch", text="[3, 4, 'relu', 1, 'sigmoid']")
    assert not wrong["ok"] and wrong["fixed"]


def test_user_errors_are_messages_not_tracebacks():
    reply = _call("builtin", name="nope")
    assert not reply["ok"] and "nope" in reply["error"] and "Traceback" not in reply["error"]
    assert not _call("train_start", arch=ARCH)["ok"]  # no data yet
    assert "Unknown command" in _call("frobnicate")["error"]
    _ok("builtin", name="circles")
    reply = _call("train_start", arch="[2, 8, 'reluu', 1, 'sigmoid']", epochs=5)
    assert not reply["ok"] and "reluu" in reply["error"]
    reply = _call("train_start", arch=ARCH, stuff=5)
    assert not reply["ok"] and "stuff" in reply["error"]


def test_internal_errors_are_reported_and_page_keeps_working(monkeypatch):
    def boom(**kw):
        raise RuntimeError("kaput")
    monkeypatch.setitem(glue.COMMANDS, "info", boom)
    reply = _call("info")
    assert not reply["ok"] and reply["kind"] == "internal" and "kaput" in reply["error"]
    assert _ok("builtin", name="moons")["n_inputs"] == 2


def _train(seconds=0.05, **cfg):
    start = _ok("train_start", **cfg)
    steps = 0
    while True:
        prog = _ok("train_step", seconds=seconds)
        steps += 1
        if prog["done"]:
            break
    return start, steps, prog


def test_chunked_training_equals_one_session_train():
    """Chunks of epochs give exactly the model of a single session.train call (optimizer state, RNG, lr)."""
    _ok("builtin", name="circles", n_samples=200, seed=3)
    cfg = {"arch": ARCH, "epochs": 60, "batch_size": 16, "learning_rate": 0.02, "lr_decay": 0.98,
           "optimizer": "adam", "seed": 5, "early_stopping": 1000}
    job = glue._TrainJob(cfg, glue.STATE.prepared)
    steps = 0
    while not job.done:
        job.step(0.0)  # one epoch per chunk: the most chunks possible
        steps += 1
    assert steps == 60
    ref = session.build_model(cfg, glue.STATE.prepared)
    hist = session.train(ref, glue.STATE.prepared, cfg)
    np.testing.assert_array_equal(job.model.params, ref.params)
    assert job.history.history["loss"] == hist.history["loss"]
    assert job.history.history["lr"] == hist.history["lr"]
    assert job.history.epochs == list(range(1, 61))


def test_chunked_early_stopping_equals_one_session_train():
    """Early stopping carries across chunks: same stop epoch, reason and restored weights."""
    _ok("builtin", name="moons", n_samples=200, seed=1)
    cfg = {"arch": "[2, 16, 'relu', 1, 'sigmoid']", "epochs": 400, "learning_rate": 0.05, "seed": 2,
           "early_stopping": 5}
    job = glue._TrainJob(cfg, glue.STATE.prepared)
    while not job.done:
        job.step(0.0)
    ref = session.build_model(cfg, glue.STATE.prepared)
    hist = session.train(ref, glue.STATE.prepared, cfg)
    assert hist.stopped_early and "early stopping" in hist.stop_reason and len(hist) < 400
    assert job.history.stop_reason == hist.stop_reason and len(job.history) == len(hist)
    np.testing.assert_array_equal(job.model.params, ref.params)


def test_train_progress_finish_and_download_open_in_python(tmp_path):
    _ok("builtin", name="circles", n_samples=200)
    start, steps, prog = _train(arch=ARCH, epochs=40, batch_size=32)
    assert start["epochs"] == 40 and prog["epoch"] == 40
    res = _ok("train_finish", stopped=False)
    assert res["epochs_run"] == 40 and not res["stopped"]
    names = [f["name"] for f in res["figures"]]
    assert names[0] == "loss" and "decision_boundary" in names and "confusion_matrix" in names
    assert 0 <= res["metrics"]["test"]["accuracy"] <= 1 and "Model" in res["model"]["description"]
    dl = _ok("model_download")
    assert dl["filename"] == "mlp_circles.mlp"
    path = tmp_path / dl["filename"]
    path.write_bytes(base64.b64decode(dl["b64"]))
    model = mlp.load(str(path))
    X = glue.STATE.prepared.X_test
    np.testing.assert_allclose(model.predict(X), glue.STATE.model.predict(X))
    assert len(model.history.history["loss"]) == 40  # the whole run's history travels with the file


def test_stop_keeps_model_trained_so_far():
    _ok("builtin", name="circles", n_samples=200)
    _ok("train_start", arch=ARCH, epochs=5000)
    prog = _ok("train_step", seconds=0.0)
    assert 1 <= prog["epoch"] < 5000 and not prog["done"]
    res = _ok("train_finish", stopped=True)
    assert res["stopped"] and res["epochs_run"] == prog["epoch"] and "stopped by the user" in res["stop_reason"]
    assert _ok("model_download")["b64"]
    assert not _call("train_step")["ok"]  # no job any more


def test_progress_carries_live_loss_figure(monkeypatch):
    monkeypatch.setattr(glue, "FULL_FIGURES_EVERY", 0.0)
    monkeypatch.setattr(glue, "FULL_FIGURES_SHARE", 1.0)
    _ok("builtin", name="xor", n_samples=100)
    _ok("train_start", arch="[2, 4, 'tanh', 1, 'sigmoid']", epochs=50)
    prog = _ok("train_step", seconds=0.0)
    figs = {f["name"]: f["figure"] for f in prog["figures"]}
    assert figs["loss"]["data"][0]["y"] and "decision_boundary" in figs and "network" in figs
    json.dumps(prog, allow_nan=False)


def test_live_network_view_between_full_updates_and_live_off(monkeypatch):
    monkeypatch.setattr(glue, "FULL_FIGURES_EVERY", 1e9)  # the prediction charts: not during this run
    monkeypatch.setattr(glue, "NETWORK_FIGURE_EVERY", 0.0)
    monkeypatch.setattr(glue, "FULL_FIGURES_SHARE", 1.0)
    _ok("builtin", name="xor", n_samples=100)
    _ok("train_start", arch="[2, 4, 'tanh', 1, 'sigmoid']", epochs=50)
    first = {f["name"]: f["figure"] for f in _ok("train_step", seconds=0.0)["figures"]}
    second = {f["name"]: f["figure"] for f in _ok("train_step", seconds=0.0)["figures"]}
    assert "network" in first and "decision_boundary" not in first
    assert first["network"] == session.network_figure(*_model_after(glue.STATE.job, 1))
    assert second["network"] != first["network"]  # it moves with the weights
    _ok("train_finish", stopped=True)
    _ok("train_start", arch="[2, 4, 'tanh', 1, 'sigmoid']", epochs=50, live=False)
    prog = _ok("train_step", seconds=0.0)
    assert "figures" not in prog and prog["epoch"] == 1  # live charts off: numbers only
    assert _ok("train_finish")["figures"]  # the final charts come all the same


def _model_after(job, epochs):
    """A model trained like ``job`` for ``epochs`` (the same seed and settings), with its data."""
    model = session.build_model(job.cfg, job.prepared)
    session.train(model, job.prepared, {**job.cfg, "epochs": epochs})
    return model, job.prepared


def test_csv_with_string_labels_trains_and_predicts(tmp_path):
    preview = _ok("csv_preview", FRUIT_CSV.encode(), name="fruit.csv")
    assert preview["default_target"] == "fruit" and preview["n_rows"] == 90
    assert preview["default_features"] == ["weight", "colour", "sweet"]
    summary = _ok("csv_prepare", target="fruit", features=["weight", "colour", "sweet"], test_size=0.2)
    assert summary["task"] == "multiclass" and sorted(summary["class_names"]) == ["apple", "banana", "pear"]
    _train(arch=summary["default_arch"], epochs=20)
    res = _ok("train_finish")
    assert "confusion_matrix" in [f["name"] for f in res["figures"]]
    assert _ok("model_download")["filename"] == "mlp_fruit.mlp"
    pred = _ok("predict_csv", FRUIT_CSV.encode(), name="fruit.csv")
    assert pred["n_rows"] == 90 and pred["columns"][0] == "weight" and pred["filename"] == "fruit-predictions.csv"
    assert pred["csv"] == session.predict_csv(glue.STATE.model, FRUIT_CSV.encode()) and pred["notes"] == []
    odd = _ok("predict_csv", b"weight,colour,sweet\n120,blue,0.5\n", name="odd.csv")
    assert odd["n_rows"] == 1 and len(odd["notes"]) == 1 and "'colour': 'blue' (1 row)" in odd["notes"][0]


@pytest.mark.parametrize("content", [b"", b"just one column\n1\n2\n", b"a,b\n", b"\x00\x01\x02garbage"])
def test_broken_csv_is_a_user_error(content):
    reply = _call("csv_preview", content, name="bad.csv")
    assert not reply["ok"] and reply["error"] and "Traceback" not in reply["error"]
    assert reply["kind"] != "internal", reply


def test_model_from_python_session_predicts_in_glue(tmp_path):
    prepared = session.prepare_csv(FRUIT_CSV, target="fruit")
    model = session.build_model({"arch": session.default_architecture(prepared), "seed": 1}, prepared)
    session.train(model, prepared, {"epochs": 5})
    path = tmp_path / "py.mlp"
    model.save(str(path))
    info = _ok("model_load", path.read_bytes(), name="py.mlp")
    assert "loaded from py.mlp" in info["model"]["description"] and info["model"]["features"]
    pred = _ok("predict_csv", FRUIT_CSV.encode(), name="new.csv")
    assert pred["csv"] == session.predict_csv(model, FRUIT_CSV.encode())
    assert _ok("model_download")["filename"] == "py.mlp"
    reply = _call("explain")   # says why (the page shows the opened model, not "no model")
    assert not reply["ok"] and "opened from a file" in reply["error"] and "no model" not in reply["error"]


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_bad_model_file_is_a_user_error(content):
    reply = _call("model_load", content, name="bad.mlp")
    assert not reply["ok"] and reply["error"] and reply["kind"] != "internal", reply
    assert not _call("predict_csv", b"a,b\n1,2\n")["ok"]  # still no model


def test_jsonable_and_bytes_helpers():
    assert glue._jsonable({"a": np.float64("nan"), "b": np.arange(3), "c": (np.int64(2), np.bool_(True))}) == \
        {"a": None, "b": [0, 1, 2], "c": [2, True]}

    class FakeJsProxy:
        def to_bytes(self):
            return b"abc"
    assert glue._to_bytes(FakeJsProxy()) == b"abc"
    assert glue._to_bytes(memoryview(b"xy")) == b"xy" and glue._to_bytes(None) is None


# ---------------------------------------------------------------- Step / Resume / Reset / Explain / links

DEMO = {"arch": ARCH, "epochs": 1000, "batch_size": 32, "seed": 4}


def _fresh(cfg, prepared):
    model = session.build_model(cfg, prepared)
    return model


def test_step_three_times_is_three_epochs_of_one_run():
    """Step trains exactly one epoch on the current model: three Steps are the first three epochs of a
    session.train of the same settings (same weights, same losses), and the counter says 3."""
    _ok("builtin", name="circles", n_samples=200)
    results = [_ok("step_epoch", **DEMO) for _ in range(3)]
    assert [r["epoch"] for r in results] == [1, 2, 3]
    assert {"loss", "network", "decision_boundary"} <= {f["name"] for f in results[-1]["figures"]}
    ref = _fresh(DEMO, glue.STATE.prepared)
    hist = session.train(ref, glue.STATE.prepared, {**DEMO, "epochs": 3})
    np.testing.assert_array_equal(glue.STATE.model.params, ref.params)
    loss_fig = next(f["figure"] for f in results[-1]["figures"] if f["name"] == "loss")
    assert loss_fig["data"][0]["y"] == hist.history["loss"]


def test_stop_then_resume_equals_one_uninterrupted_run():
    _ok("builtin", name="moons", n_samples=200, seed=2)
    cfg = {**DEMO, "epochs": 30, "lr_decay": 0.97}
    _ok("train_start", **cfg)
    glue.STATE.job.step(epochs=7)
    paused = _ok("train_finish", stopped=True)
    assert paused["paused"] and paused["epoch"] == 7 and "stopped by the user" in paused["stop_reason"]
    assert _ok("step_epoch", **cfg)["epoch"] == 8  # Step continues the paused run too
    _ok("train_resume", **cfg)
    while not _ok("train_step", seconds=0.01)["done"]:
        pass
    res = _ok("train_finish")
    assert res["epoch"] == 30 and not res["stopped"]
    ref = _fresh(cfg, glue.STATE.prepared)
    hist = session.train(ref, glue.STATE.prepared, cfg)
    np.testing.assert_array_equal(glue.STATE.model.params, ref.params)
    assert glue.STATE.job.history.history["lr"] == hist.history["lr"]
    # after the end, Step goes on with the same model (a new run of the same settings): epoch 31
    assert _ok("step_epoch", **cfg)["epoch"] == 31


def test_reset_draws_the_initial_weights_and_new_data_or_model_makes_a_new_model():
    _ok("builtin", name="circles", n_samples=200)
    for _ in range(2):
        _ok("step_epoch", **DEMO)
    res = _ok("reset", **DEMO)
    assert res["epoch"] == 0 and "network" in {f["name"] for f in res["figures"]}
    np.testing.assert_array_equal(glue.STATE.model.params, _fresh(DEMO, glue.STATE.prepared).params)
    assert _ok("step_epoch", **DEMO)["epoch"] == 1
    assert _ok("step_epoch", **{**DEMO, "learning_rate": 0.02})["epoch"] == 2  # training settings: same model
    assert _ok("step_epoch", **{**DEMO, "arch": "[2, 4, 'tanh', 1, 'sigmoid']"})["epoch"] == 1  # new model
    _ok("builtin", name="circles", n_samples=200, seed=1)
    assert _ok("step_epoch", **{**DEMO, "arch": "[2, 4, 'tanh', 1, 'sigmoid']"})["epoch"] == 1  # new data
    with pytest.raises(AssertionError, match="nothing was trained|no model to resume"):
        _ok("train_resume", **DEMO)


def test_step_reset_explain_and_data_while_training_are_clear_messages_and_lose_nothing():
    _ok("builtin", name="circles", n_samples=200)
    _ok("train_start", **DEMO)
    _ok("train_step", seconds=0.0)
    for cmd, args in (("step_epoch", DEMO), ("reset", DEMO), ("explain", {}), ("train_start", DEMO),
                      ("builtin", {"name": "moons"})):
        reply = _call(cmd, **args)
        assert not reply["ok"] and reply["error"].startswith("Training is running: press Stop first"), reply
    prog = _ok("train_step", seconds=0.0)  # the run goes on where it was
    assert prog["epoch"] == 2
    assert _ok("train_finish", stopped=True)["epoch"] == 2


def test_explain_before_any_model_and_bad_rows_are_messages():
    _ok("builtin", name="circles", n_samples=200)
    reply = _call("explain")
    assert not reply["ok"] and "no model to explain yet" in reply["error"]
    _ok("reset", **DEMO)
    for row in ("x", 10_000, -1):
        reply = _call("explain", row=row)
        assert not reply["ok"] and reply["kind"] != "internal" and "row" in reply["error"].lower(), reply
    reply = _call("explain", weight={"layer": 1})
    assert not reply["ok"] and reply["kind"] != "internal"
    for i in (None, 0.5):   # said as such (int() gave a Python message for None and took 0.5 for 0)
        reply = _call("explain", weight={"layer": 1, "i": i, "j": 0})
        assert not reply["ok"] and "The weight's i must be a whole number" in reply["error"], reply
    assert _ok("explain", weight={"layer": 1, "i": 1, "j": 2})["weight"]["label"] == "W1[1,2]"


def test_l1_and_transforms_reach_the_model():
    summary = _ok("builtin", name="circles", n_samples=200, transforms=["x1^2", "x2^2"])
    assert summary["n_inputs"] == 4 and summary["default_arch"].startswith("[4,")
    _ok("step_epoch", **{**DEMO, "arch": summary["default_arch"], "l1": 0.01})
    model = mlp.from_bytes(base64.b64decode(_ok("model_download")["b64"]))
    assert model.n_inputs == 4 and tuple(model.preprocessor.transforms) == ("x1^2", "x2^2")
    assert glue.STATE.model.optimizer.hyper["l1"] == 0.01 and model.optimizer.hyper["l1"] == 0.01
    reply = _call("builtin", name="sine", n_samples=100, transforms=["x1^2"])  # 1-D data: a clear message
    assert not reply["ok"] and reply["kind"] != "internal" and "2" in reply["error"]


def test_share_link_round_trip_carries_the_trained_model():
    settings = {"source": "builtin", "dataset": "moons", "n_samples": 150, "noise": 0.2, "data_seed": 3,
                "arch": "[2, 6, 'tanh', 1, 'sigmoid']", "epochs": 20, "seed": 1, "learning_rate": 0.03}
    _ok("builtin", name="moons", n_samples=150, noise=0.2, seed=3)
    cfg = {k: settings[k] for k in ("arch", "epochs", "seed", "learning_rate")}
    for _ in range(5):
        _ok("step_epoch", **cfg)
    trained = glue.STATE.model
    link = _ok("share", settings=settings, base="http://x/app/")
    assert link["carries_model"] and link["href"].startswith("http://x/app/#")
    glue.STATE = glue._State()  # a new tab
    opened = _ok("link_open", source=link["href"].split("#", 1)[1])
    assert opened["has_model"] and opened["notes"] == []
    assert opened["settings"]["dataset"] == "moons" and opened["settings"]["arch"] == settings["arch"]
    _ok("builtin", name="moons", n_samples=150, noise=0.2, seed=3)
    res = _ok("link_model", **cfg)
    assert res["epoch"] == 5 and res["metrics"]["test"]["accuracy"] > 0.5
    got = mlp.from_bytes(base64.b64decode(_ok("model_download")["b64"]))
    np.testing.assert_array_equal(got.params, trained.params)
    assert _ok("step_epoch", **cfg)["epoch"] == 6  # Step continues the model from the link


def test_broken_link_gives_notes_not_errors():
    opened = _ok("link_open", source="#dataset=nope&epochs=-3&model=%%%&zzz=1")
    assert not opened["has_model"] and len(opened["notes"]) >= 3 and "dataset" not in opened["settings"]
    csv = _ok("link_open", source="source=csv&target=fruit")
    assert csv["needs_file"] and any("CSV" in n for n in csv["notes"])


def test_a_link_setting_the_page_cannot_show_is_named_in_a_note():
    """A Streamlit link's schedule, dropout or validation split is not silently lost (the page has no control)."""
    opened = _ok("link_open", source="lr_schedule=cosine&dropout=0.1&validation_split=0.2&epochs=7")
    assert len(opened["notes"]) == 2, opened["notes"]
    assert "lr_schedule=cosine was ignored" in opened["notes"][0] and "dropout=0.1" in opened["notes"][1]
    assert _ok("link_open", source="lr_schedule=constant&dropout=0.0&validation_split=0.2")["notes"] == []
    assert _ok("link_open", source="lr_schedule=exponential&lr_decay=0.99")["notes"] == []   # the LR decay field


def test_share_link_of_a_large_model_carries_the_settings_and_says_so():
    _ok("builtin", name="circles", n_samples=100)
    arch = "[2, 40, 'relu', 40, 'relu', 1, 'sigmoid']"  # 1,841 parameters
    _ok("step_epoch", arch=arch, epochs=5)
    assert glue.STATE.model.n_params > 1000
    link = _ok("share", settings={"dataset": "circles", "arch": arch}, base="")
    assert not link["carries_model"] and "model=" not in link["href"] and "1,000" in link["note"]
    opened = _ok("link_open", source=link["href"])
    assert opened["settings"]["arch"] == arch and not opened["has_model"]


def test_live_prediction_charts_wait_until_their_known_cost_fits_the_budget(monkeypatch):
    monkeypatch.setattr(glue, "FULL_FIGURES_EVERY", 0.0)
    monkeypatch.setattr(glue, "NETWORK_FIGURE_EVERY", 0.0)
    _ok("builtin", name="xor", n_samples=100)
    _ok("train_start", arch="[2, 4, 'tanh', 1, 'sigmoid']", epochs=50)
    key = glue._cost_key(glue.STATE.job)
    glue.STATE.figure_cost[key] = 1e6  # far more than 15 % of any run so far
    names = {f["name"] for f in _ok("train_step", seconds=0.0).get("figures", [])}
    assert "network" in names and "decision_boundary" not in names
    glue.STATE.figure_cost[key] = 0.0
    glue.STATE.job.figure_seconds = 0.0
    names = {f["name"] for f in _ok("train_step", seconds=0.0).get("figures", [])}
    assert "decision_boundary" in names
    _ok("train_finish")
    assert glue.STATE.figure_cost[key] > 0.0  # the final charts' cost is remembered for the next run
