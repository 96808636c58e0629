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

ROOT = Path(__file__).resolve().parents[2]
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
def fresh_page(monkeypatch):
    """Each test starts with a new page (a new Playground)."""
    monkeypatch.setattr(glue, "PAGE", glue._Page())


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
    (core / "extra").mkdir()
    (core / "extra" / "01-first.md").write_text("# First lesson\n")
    (core / "extra" / "__init__.py").write_text("")
    (core / "__pycache__").mkdir(exist_ok=True)
    (core / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"old")
    (root / "mlp" / "reference.py").write_text("def layer_forward():\n    pass\n")
    files = build.python_sources(root)
    assert files["webapp/core/brand_new.py"] == b"import streamlit as st\n"
    assert files["webapp/core/extra/01-first.md"] == b"# First lesson\n"
    assert "webapp/core/extra/__init__.py" in files
    assert any(n.startswith("webapp/core/lessons/") and n.endswith(".md") for n in files)   # the real lessons
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


def test_npm_ci_runs_when_axe_core_is_missing(tmp_path):
    root = _fake_root(tmp_path)
    fake_npm = tmp_path / "npm"
    fake_npm.write_text(f"#!/bin/sh\n[ \"$1\" = ci ] || exit 3\nmkdir -p {build.AXE_REL.parent} && echo axe > {build.AXE_REL}\n")
    fake_npm.chmod(0o755)
    assert build.ensure_axe(root / "static", npm=str(fake_npm)).read_text().strip() == "axe"
    (root / "static" / build.AXE_REL).unlink()
    failing = tmp_path / "npm-fail"
    failing.write_text("#!/bin/sh\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(build.BuildError, match="axe.min.js"):
        build.ensure_axe(root / "static", npm=str(failing))


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
        view = _ok("update", changes={"dataset": name, "n_samples": 60, "epochs": 2})
        collect(view["data"]["figure"])
        frame = _ok("train")
        while frame["running"]:
            frame = _ok("advance", seconds=0.0)
            for fig in frame["figures"].values():
                collect(fig)
        for fig in _ok("result")["figures"].values():
            collect(fig)
        collect(_ok("compare")["figure"])
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


# ---------------------------------------------------------------- worker glue (a thin adapter over the core)

from webapp.core import links as L  # noqa: E402
from webapp.core import settings as T  # noqa: E402


def _train(**changes):
    """Set ``changes``, Train, and advance (the worker's loop) until the training ends; (frames, result)."""
    if changes:
        _ok("update", changes=changes)
    frames = [_ok("train")]
    while frames[-1]["running"]:
        frames.append(_ok("advance", seconds=0.0))
    return frames, _ok("result")


def _session_model(settings, epochs=None):
    """The model webapp.core.session trains for ``settings`` in one call (the truth the page is checked against)."""
    args = T.session_args(settings)
    prepared = session.prepare_builtin(**args["prepare"])
    cfg = {**args["cfg"], "arch": settings.get("arch") or session.default_architecture(prepared)}
    if epochs is not None:
        cfg["epochs"] = epochs
    model = session.build_model(cfg, prepared)
    history = session.train(model, prepared, cfg)
    return model, history, prepared


def test_info_sends_the_settings_table_the_page_builds_its_controls_from():
    info = _ok("info")
    assert info["table"] == json.loads(json.dumps(T.table()))   # every row (all of them are the browser's)
    assert [r["name"] for r in info["table"]] == list(T.SETTINGS)
    assert "onnx" in info["no_onnx"] and info["versions"]["numpy"] == np.__version__


def test_the_view_has_each_control_that_applies_with_its_value_and_the_address():
    view = _ok("view")
    rows = {r["name"]: r for r in view["controls"]}
    assert "target" not in rows and "lr_decay" not in rows          # a CSV's, the exponential schedule's
    assert {k: rows[k]["value"] for k in ("dataset", "epochs", "learning_rate")} == \
        {k: T.SETTINGS[k].default for k in ("dataset", "epochs", "learning_rate")}
    linked = L.decode(view["address"])
    assert not linked.notes and linked.settings == {
        **{k: v for k, v in T.defaults(link_only=True).items() if v is not None and T.SETTINGS[k].applies(T.defaults())},
        "arch": view["arch"]["text"], "loss": "bce"}                  # the data's architecture and loss too
    assert view["data"]["ok"] and view["data"]["figure"]["data"] and view["arch"]["ok"]
    assert _ok("view")["data"] is None                                # the same data: not sent again
    view = _ok("update", changes={"lr_schedule": "exponential"})
    assert "lr_decay" in {r["name"] for r in view["controls"]} and view["data"] is None
    view = _ok("update", changes={"dataset": "moons"})
    assert view["data"]["name"] == "moons" and "dataset=moons" in view["address"]


def test_odd_values_from_the_page_are_kept_or_dropped_as_a_links_with_notes_about_the_controls():
    changes = {"learning_rate": "5", "n_samples": "30", "batch_size": "7", "test_size": "0.9", "epochs": "0",
               "dataset": "nope"}
    view = _ok("update", changes=changes)
    assert len(T.check(changes)[1]) == 3                              # a link drops the same three values...
    assert view["notes"] == [                                         # ... typed, each note is about its control
        "Test split: 0.9 cannot be used; it must be a number from 0 to 0.5. Test split stays 0.2.",
        "Epochs: 0 cannot be used; it must be a whole number from 1 to 10,000. Epochs stays 300.",
        "Dataset: nope cannot be used; it must be one of " + ", ".join(T.SETTINGS["dataset"].allowed()) +
        ". Dataset stays circles."]
    rows = {r["name"]: r["value"] for r in view["controls"]}
    assert (rows["learning_rate"], rows["n_samples"], rows["batch_size"]) == (5.0, 30, 7)
    assert [rows[k] for k in ("test_size", "epochs", "dataset")] == \
        [T.SETTINGS[k].default for k in ("test_size", "epochs", "dataset")]       # dropped: the defaults stay


def test_user_errors_are_messages_not_tracebacks():
    assert "Unknown command" in _call("frobnicate")["error"]
    _ok("update", changes={"arch": "[2, 8, 'reluu', 1, 'sigmoid']"})
    reply = _call("train")
    assert not reply["ok"] and "reluu" in reply["error"] and "Traceback" not in reply["error"]
    reply = _call("update", changes={"epochs": 5}, stuff=5)     # a wrong keyword from the page is a bug: said so
    assert not reply["ok"] and reply["kind"] == "internal" and "stuff" in reply["error"]
    reply = _call("explain")
    assert not reply["ok"] and "no model to explain yet" in reply["error"]


def test_internal_errors_are_reported_and_page_keeps_working(monkeypatch):
    def boom(**kw):
        raise RuntimeError("kaput")
    monkeypatch.setitem(glue.COMMANDS, "info", boom)
    reply = _call("info")
    assert not reply["ok"] and reply["kind"] == "internal" and "kaput" in reply["error"]
    assert _ok("update", changes={"dataset": "moons"})["data"]["n_inputs"] == 2


def test_training_in_slices_equals_one_session_train_and_downloads_open_in_python(tmp_path):
    """The worker's loop (train, then advance until the frame says it ended) gives exactly the model of one
    session.train call of the same settings: schedule, validation split, dropout and batches included."""
    settings = {"dataset": "moons", "n_samples": 200, "data_seed": 3, "epochs": 25, "batch_size": 16,
                "learning_rate": 0.02, "lr_schedule": "exponential", "lr_decay": 0.98, "dropout": 0.1,
                "validation_split": 0.25, "seed": 5}
    frames, res = _train(**settings)
    assert [f["epoch"] for f in frames] == sorted(f["epoch"] for f in frames)
    assert not frames[-1]["running"] and res["epoch"] == 25 and res["trained"]
    model, history, prepared = _session_model(settings)
    got = mlp.from_bytes(base64.b64decode(_ok("model_download")["b64"]))
    np.testing.assert_array_equal(got.params, model.params)
    assert got.history.history["val_loss"] == history.history["val_loss"]    # the whole history travels
    assert res["figure_order"][0] == "loss" and res["main"] == "decision_boundary"
    assert 0 <= res["metrics"]["test"]["accuracy"] <= 1
    pred = _ok("predictions_download")
    assert pred["filename"].endswith("_predictions.csv") and pred["csv"] == session.predictions_csv(got, prepared)


def test_stop_keeps_the_model_and_resume_goes_on_as_one_run():
    settings = {"dataset": "circles", "n_samples": 100, "epochs": 2000, "batch_size": 32, "seed": 4}
    _ok("update", changes=settings)
    frame = _ok("train")
    while frame["epoch"] < 7:
        frame = _ok("advance", seconds=0.0)
    paused = _ok("stop")
    assert paused["paused"] and 0 < paused["epoch"] < 2000 and "Resume continues it" in paused["reason"]
    frame = _ok("resume")
    while frame["running"]:
        frame = _ok("advance", seconds=0.0)
    res = _ok("result")
    assert res["epoch"] == 2000
    model, _, _ = _session_model(settings)
    np.testing.assert_array_equal(glue.PAGE.pg.model().params, model.params)


def test_step_three_times_is_three_epochs_and_reset_is_epoch_zero():
    settings = {"dataset": "circles", "n_samples": 200, "seed": 4}
    _ok("update", changes=settings)
    results = [_ok("step") for _ in range(3)]
    assert [r["epoch"] for r in results] == [1, 2, 3] and results[0]["id"] == results[2]["id"]
    model, history, _ = _session_model(settings, epochs=3)
    np.testing.assert_array_equal(glue.PAGE.pg.model().params, model.params)
    assert results[-1]["figures"]["loss"]["data"][0]["y"] == history.history["loss"]
    reset = _ok("reset")
    assert reset["epoch"] == 0 and reset["id"] != results[-1]["id"] and not reset["trained"]


def test_live_frames_carry_figures_and_none_with_live_charts_off(monkeypatch):
    from webapp.core import playground
    monkeypatch.setattr(playground, "FIRST_SLICE", 0.0)      # one epoch a slice, every figure due at once
    monkeypatch.setattr(playground, "LIVE_EVERY", {k: 0.0 for k in playground.LIVE_EVERY})
    monkeypatch.setattr(playground, "LIVE_SHARE", 1.0)
    frames, _ = _train(dataset="xor", n_samples=100, epochs=20)
    shown = {name for f in frames for name in f["figures"]}
    assert {"loss", "network", "decision_boundary"} <= shown
    for f in frames:
        json.dumps(f, allow_nan=False)
    frames, res = _train(live=False)
    assert not any(f["figures"] for f in frames) and res["figures"]    # the final charts come all the same


def test_csv_with_string_labels_trains_and_predicts_with_a_run_or_a_file(tmp_path):
    view = _ok("set_csv", FRUIT_CSV.encode(), name="fruit.csv")
    rows = {r["name"]: r for r in view["controls"]}
    assert rows["target"]["value"] == "fruit" and rows["features"]["value"] == ["weight", "colour", "sweet"]
    assert view["data"]["task"] == "multiclass" and view["data"]["preview"]["n_rows"] == 90
    assert "source=csv" in view["address"]
    _, res = _train(epochs=20)
    assert "confusion_matrix" in res["figures"]
    pred = _ok("predict_csv", FRUIT_CSV.encode(), name="fruit.csv", run_id=res["id"])
    assert pred["n_rows"] == 90 and pred["columns"][0] == "weight" and pred["filename"] == "fruit_predictions.csv"
    assert pred["csv"] == session.predict_csv(glue.PAGE.pg.model(), FRUIT_CSV.encode()) and pred["notes"] == []
    odd = _ok("predict_csv", b"weight,colour,sweet\n120,blue,0.5\n", name="odd.csv", run_id=res["id"])
    assert odd["n_rows"] == 1 and len(odd["notes"]) == 1 and "'colour': 'blue' (1 row)" in odd["notes"][0]
    used = _ok("use_model", run_id=res["id"])
    assert used["template"] == "weight,colour,sweet\n" and "run" in used["description"]


def test_a_model_file_from_python_predicts_in_the_glue(tmp_path):
    prepared = session.prepare_csv(FRUIT_CSV, target="fruit")
    model = session.build_model({"arch": session.default_architecture(prepared), "seed": 1}, prepared)
    session.train(model, prepared, {"epochs": 5})
    info = _ok("model_load", model.to_bytes(), name="py.mlp")
    assert "loaded from py.mlp" in info["description"] and info["features"] == ["weight", "colour", "sweet"]
    pred = _ok("predict_csv", FRUIT_CSV.encode(), name="new.csv", run_id="file")
    assert pred["csv"] == session.predict_csv(model, FRUIT_CSV.encode())


@pytest.mark.parametrize("content", [b"", b"just one column\n1\n2\n", b"a,b\n", b"\x00\x01\x02garbage"])
def test_broken_csv_is_a_user_error(content):
    reply = _call("set_csv", content, name="bad.csv")
    assert not reply["ok"] and reply["error"] and "Traceback" not in reply["error"]
    assert reply["kind"] != "internal", reply


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_bad_model_file_is_a_user_error(content):
    reply = _call("model_load", content, name="bad.mlp")
    assert not reply["ok"] and reply["error"] and reply["kind"] != "internal", reply
    assert not _call("predict_csv", b"a,b\n1,2\n", run_id="file")["ok"]  # still no model


def test_bytes_from_the_worker():
    class FakeJsProxy:
        def to_bytes(self):
            return b"abc"
    assert glue._to_bytes(FakeJsProxy()) == b"abc"
    assert glue._to_bytes(memoryview(b"xy")) == b"xy" and glue._to_bytes(None) is None


def test_explain_follows_the_run_shown():
    _ok("update", changes={"n_samples": 200})
    _ok("step")
    ex = _ok("explain", row=3)
    assert ex["row"] == 3 and any("def layer_forward" in s["code"] for s in ex["sections"])
    for row in ("x", 10_000, -1):
        reply = _call("explain", row=row)
        assert not reply["ok"] and reply["kind"] != "internal" and "row" in reply["error"].lower(), reply
    assert _ok("explain", weight={"layer": 1, "i": 1, "j": 2})["weight"]["label"] == "W1[1,2]"


def test_share_link_round_trip_carries_the_trained_model():
    settings = {"dataset": "moons", "n_samples": 150, "noise": 0.2, "data_seed": 3,
                "arch": "[2, 6, 'tanh', 1, 'sigmoid']", "epochs": 20, "seed": 1, "learning_rate": 0.03}
    _ok("update", changes=settings)
    for _ in range(5):
        _ok("step")
    trained = glue.PAGE.pg.model()
    link = _ok("share", base="http://x/app/")
    assert link["carries_model"] and link["href"].startswith("http://x/app/#")
    glue.PAGE = glue._Page()  # a new tab
    opened = _ok("open_link", source=link["href"].split("#", 1)[1])
    assert opened["link"]["has_model"] and opened["notes"] == [] and opened["result"]["epoch"] == 5
    rows = {r["name"]: r["value"] for r in opened["controls"]}
    assert rows["dataset"] == "moons" and rows["arch"] == settings["arch"] and rows["learning_rate"] == 0.03
    got = mlp.from_bytes(base64.b64decode(_ok("model_download")["b64"]))
    np.testing.assert_array_equal(got.params, trained.params)
    assert _ok("step")["epoch"] == 6  # Step continues the model from the link


def test_a_link_of_either_app_opens_every_setting_and_bad_values_get_notes():
    """The page has every setting Streamlit has: a link's schedule, dropout and validation split are kept."""
    opened = _ok("open_link", source="lr_schedule=cosine&dropout=0.1&validation_split=0.3&epochs=7")
    assert opened["notes"] == []
    rows = {r["name"]: r["value"] for r in opened["controls"]}
    assert (rows["lr_schedule"], rows["dropout"], rows["validation_split"], rows["epochs"]) == ("cosine", 0.1, 0.3, 7)
    broken = _ok("open_link", source="#dataset=nope&epochs=-3&model=%%%&zzz=1")
    assert not broken["link"]["has_model"] and len(broken["notes"]) == 4 and broken["result"] is None
    csv = _ok("open_link", source="source=csv&target=fruit")
    assert csv["link"]["needs_file"] and any("CSV" in n for n in csv["notes"]) and csv["data"]["needs_file"]


def test_share_link_of_a_large_model_carries_the_settings_and_says_so():
    arch = "[2, 40, 'relu', 40, 'relu', 1, 'sigmoid']"  # 1,841 parameters
    _ok("update", changes={"n_samples": 100, "arch": arch})
    _ok("step")
    link = _ok("share", base="")
    assert not link["carries_model"] and "model=" not in link["href"] and "1,000" in link["note"]
    opened = _ok("open_link", source=link["href"])
    assert {r["name"]: r["value"] for r in opened["controls"]}["arch"] == arch and not opened["link"]["has_model"]


def test_compare_runs_overlays_the_loss_curves_of_the_chosen_runs():
    _train(n_samples=100, epochs=5)
    _train(learning_rate=0.03)
    res = _ok("compare")
    assert [r["id"] for r in res["runs"]] == [1, 2] and res["chosen"] == [1, 2]
    names = {t["name"] for t in res["figure"]["data"]}
    assert {"run 1 train", "run 2 train"} <= names, names
    ys = {t["name"]: t["y"] for t in res["figure"]["data"]}
    assert ys["run 1 train"] == glue.PAGE.pg._run(1).history["loss"]
    one = _ok("compare", run_ids=[2])
    assert one["chosen"] == [2] and {t["name"] for t in one["figure"]["data"]} <= {"run 2 train", "run 2 validation"}
    assert _ok("clear_runs")["runs"] == []


def test_warm_up_command_returns_the_figures_and_leaves_the_page_without_a_run():
    figs, step = {}, _ok("warm_up")
    while step is not None:          # one step per call, then None
        figs.update(step)
        step = _ok("warm_up")
    assert {"live_network", "decision_boundary", "race", "landscape"} <= set(figs)
    assert _ok("warm_up") is None
    assert _ok("result") is None and _ok("compare")["runs"] == []
