#!/usr/bin/env python3
"""Build the self-contained static site (the browser app) of the mlp project.

    python static/build.py --out DIR [--pyodide RUNTIME_DIR]

Writes into DIR: the static sources of static/, config.js (where the Pyodide runtime is and the build id),
sw.js (service worker with its precache list and cache name filled in), app.zip (the `mlp` package, the shared
UI-free core webapp/core/ whole and the worker glue, packed from the source tree),
vendor/plotly.min.js (from the npm package plotly.js-cartesian-dist-min pinned in static/package.json, the
Plotly.js bundle with the scatter and heatmap traces the charts use) and vendor/katex/ (KaTeX's script, CSS and
WOFF2 fonts, npm package katex, for the "Explain a step" formulas); `npm ci` runs if node_modules lacks them.

With --pyodide, the Pyodide 0.27.7 runtime and its NumPy wheel are copied from that local distribution into
DIR/pyodide/ and the site needs no network at all; without it the site loads Pyodide from the jsDelivr CDN.
All URLs in the site are relative, so it works under any sub-path (GitHub Pages project sites).

Start-up speed: Pyodide ships Python *sources*, so every start compiles each imported module to bytecode in
WebAssembly, which is most of its start-up time. When a CPython 3.12 interpreter is available (the running one,
$MLP_PYTHON312, `python3.12` on PATH or a pyenv 3.12), the build precompiles with it: app.zip gets
__pycache__/*.cpython-312.pyc next to its sources, and with --pyodide the bundled pyodide/python_stdlib.zip is
replaced by the same standard library compiled to .pyc. The .pyc files are unchecked-hash pycs (PEP 552):
valid for Pyodide's Python 3.12.7 (bytecode magic is fixed within 3.12), never revalidated against the sources,
which are built from the very same bytes. Without Python 3.12 the site is built from sources only (slower
start, same behaviour); --no-precompile forces that.
With --pyodide, NumPy is not installed by Pyodide's package loader either: the build unpacks its wheel into
pyodide/site-packages.zip (with the __pycache__ of its modules when precompiling), which the worker unpacks
into site-packages; its extension modules are then loaded by the first import (faster than loadPackage).
The CDN build can get the same: --pyc-from DIR, with the CDN's python_stdlib.zip, pyodide-lock.json and NumPy
wheel (e.g. fetched from the jsDelivr URL above), writes pyc/python_stdlib.zip (loaded instead of the CDN's
with loadPyodide's stdLibURL) and pyc/site-packages.zip.
Only the Python standard library is used.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent
ROOT = STATIC.parent
PYODIDE_VERSION = "0.27.7"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
# Runtime files the site needs (the lock file resolves the wheels of the packages below).
PYODIDE_CORE = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PYODIDE_PACKAGES = ("numpy",)
# The CDN files the public build precaches (wheel name as listed by the 0.27.7 lock file).
CDN_PRECACHE = PYODIDE_CORE + ("numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",)
# sha256 of that wheel (0.27.7 lock file): a --pyc-from copy must be this very file for its .pyc to fit the CDN's.
CDN_NUMPY_SHA256 = "02230595a882caaf7168e79f68766ae89af9a5ce350ed9ca27a47e4e4f29296d"
# Static sources copied as they are (sw.js is templated, config.js generated).
STATIC_FILES = ("index.html", "app.js", "worker.js", "style.css", "icon.svg", "manifest.webmanifest")
PLOTLY_PACKAGE = "plotly.js-cartesian-dist-min"
PLOTLY_REL = Path("node_modules") / PLOTLY_PACKAGE / "plotly-cartesian.min.js"
# KaTeX (npm package `katex`, pinned in package.json) typesets the "Explain a step" formulas: its script, CSS and
# the WOFF2 fonts the CSS names first (every browser that runs Pyodide reads WOFF2, so WOFF/TTF are left out).
KATEX_PACKAGE = "katex"
KATEX_DIST = Path("node_modules") / KATEX_PACKAGE / "dist"
KATEX_FILES = ("katex.min.js", "katex.min.css")
# axe-core (npm, a devDependency: never shipped) checks the page for WCAG violations in the tests.
AXE_PACKAGE = "axe-core"
AXE_REL = Path("node_modules") / AXE_PACKAGE / "axe.min.js"
# The Python packages the browser runs, each packed whole from the source tree: the engine and the UI-free core
# both apps share. Every file under them is packed (modules and data files, e.g. lessons as .md), only build
# leftovers (__pycache__/, .pyc) are not; nothing is chosen or left out by its name or its content.
PACKAGES = ("mlp", "webapp/core")
# webapp/ itself holds the Streamlit app, which is never shipped: the archive gets a package marker for it.
WEBAPP_MARKER = b'"""The UI-free core of the apps (webapp.core); the Streamlit app is not shipped."""\n'
# Trace types that bundle draws (webapp/charts.py must stay within them; tests/static/test_static_build.py checks).
PLOTLY_TRACES = ("bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image", "pie",
                 "scatter", "scatterternary", "violin")
MARKER = ".mlp-site"  # marks a directory written by this script (safe to wipe on rebuild)
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: identical sources give an identical app.zip
PYC_VERSION = (3, 12)  # Pyodide 0.27.7 runs CPython 3.12.7; its .pyc files need a 3.12 compiler
PYC_TAG = "cpython-312"  # sys.implementation.cache_tag in Pyodide 0.27
STDLIB_ZIP = "python_stdlib.zip"
SITE_ZIP = "site-packages.zip"  # NumPy as installed (+ __pycache__), paths from the file-system root
SITE_PACKAGES = "lib/python3.12/site-packages"  # Pyodide 0.27's site-packages (as seen from "/")
# Runs in the 3.12 interpreter: compile the .py members of the zip argv[1] into unchecked-hash .pyc (PEP 552)
# members of the zip argv[2] (same names + "c"), each compiled with the file name "argv[3] + member name"
# (what tracebacks show). A file that does not compile is left out (it then loads from its source).
_PYC_HELPER = r"""
import importlib.util, sys, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc
assert sys.version_info[:2] == (3, 12), sys.version
src, dst, prefix = sys.argv[1:4]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
    for name in zin.namelist():
        data = zin.read(name)
        try:
            code = compile(data, prefix + name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            print(f"precompile: {name} left as source ({exc})", file=sys.stderr)
            continue
        zout.writestr(name + "c", _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False))
"""


class BuildError(RuntimeError):
    """A build problem the user can fix (message says what and how)."""


def package_files(root: Path, package: str) -> dict[str, bytes]:
    """{archive path: content} of every file of the package directory ``root/package`` (sub-packages and data
    files included), without build leftovers (__pycache__/, .pyc). Raises BuildError without its __init__.py."""
    pkg = root / package
    if not (pkg / "__init__.py").is_file():
        raise BuildError(f"package not found: {pkg}/__init__.py is missing")
    files = {}
    for path in sorted(pkg.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            files[rel.as_posix()] = path.read_bytes()
    return files


def python_sources(root: Path = ROOT) -> dict[str, bytes]:
    """Return {archive path: content} of the Python code (and its data files) the browser runs.

    Each package of PACKAGES whole: the engine `mlp` (as sources: mlp/reference.py's own text is what "Explain a
    step" shows) and the UI-free core `webapp/core` (settings, playground, session, charts, links, explain, and
    any data files beside them); a package marker for webapp/ (the Streamlit app is never shipped), and
    static/worker_glue.py at the archive root.
    """
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        files.update(package_files(root, package))
    files["webapp/__init__.py"] = WEBAPP_MARKER
    files["worker_glue.py"] = (root / "static" / "worker_glue.py").read_bytes()
    return files


def _runs_python312(exe: str) -> bool:
    """True when ``exe`` starts and is CPython 3.12."""
    try:
        proc = subprocess.run([exe, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and proc.stdout.split() == ["cpython", *map(str, PYC_VERSION)]


def find_python312() -> str | None:
    """A CPython 3.12 interpreter to precompile with: $MLP_PYTHON312, this one, `python3.12`, a pyenv 3.12."""
    candidates = [os.environ.get("MLP_PYTHON312")]
    if sys.implementation.name == "cpython" and sys.version_info[:2] == PYC_VERSION:
        candidates.append(sys.executable)
    candidates.append(shutil.which("python3.12"))
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob("3.12*/bin/python3.12"), reverse=True)]
    for exe in candidates:
        if exe and _runs_python312(exe):
            return exe
    return None


def compile_pyc(sources: dict[str, bytes], python: str, prefix: str = "") -> dict[str, bytes]:
    """{name.py: source} -> {name.py: unchecked-hash .pyc bytes} compiled by the CPython 3.12 ``python``.

    ``prefix + name`` is the file name recorded in the code objects. Sources that do not compile are left
    out. Raises BuildError when the interpreter fails.
    """
    if not sources:
        return {}
    with tempfile.TemporaryDirectory(prefix="mlp-pyc-") as tmp:
        src, dst = Path(tmp) / "src.zip", Path(tmp) / "pyc.zip"
        with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as zf:
            for name in sorted(sources):
                zf.writestr(name, sources[name])
        proc = subprocess.run([python, "-I", "-c", _PYC_HELPER, str(src), str(dst), prefix],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"precompiling with {python} failed: {proc.stderr.strip()[-2000:]}")
        if proc.stderr.strip():
            print(proc.stderr.strip(), file=sys.stderr)
        with zipfile.ZipFile(dst) as zf:
            return {name[:-1]: zf.read(name) for name in zf.namelist()}


def pycache_name(path: str) -> str:
    """'pkg/mod.py' -> 'pkg/__pycache__/mod.cpython-312.pyc' (where CPython's path finder looks)."""
    folder, _, base = path.rpartition("/")
    return (folder + "/" if folder else "") + f"__pycache__/{base[:-3]}.{PYC_TAG}.pyc"


def with_pycache(files: dict[str, bytes], python: str, prefix: str) -> dict[str, bytes]:
    """``files`` plus the __pycache__ .pyc of each of its .py files (for a directory on sys.path)."""
    pycs = compile_pyc({n: b for n, b in files.items() if n.endswith(".py")}, python, prefix)
    return {**files, **{pycache_name(n): b for n, b in pycs.items()}}


def precompiled_stdlib(stdlib_zip: bytes, python: str) -> bytes:
    """Pyodide's python_stdlib.zip with every .py replaced by its .pyc (zipimport loads sourceless modules)."""
    try:
        with zipfile.ZipFile(io.BytesIO(stdlib_zip)) as zf:
            members = {i.filename: zf.read(i) for i in zf.infolist()}
    except zipfile.BadZipFile as exc:
        raise BuildError(f"the runtime's {STDLIB_ZIP} is not a zip file ({exc})") from exc
    pycs = compile_pyc({n: b for n, b in members.items() if n.endswith(".py")}, python, "/lib/python312.zip/")
    out = {}
    for name, data in members.items():
        if name in pycs:
            out[name[:-3] + ".pyc"] = pycs[name]
        else:
            out[name] = data
    return make_zip(out)


def site_packages_zip(wheels: list[bytes], python: str | None) -> bytes:
    """The wheels installed: one zip of their files at their site-packages paths from "/", plus the __pycache__
    .pyc of their modules when ``python`` (a CPython 3.12) is given."""
    files: dict[str, bytes] = {}
    for wheel in wheels:
        try:
            with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
                files.update({i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()})
        except zipfile.BadZipFile as exc:
            raise BuildError(f"a runtime wheel is not a zip file ({exc})") from exc
    if any(name.split("/", 1)[0].endswith(".data") for name in files):
        raise BuildError("wheels with a .data directory are not supported")
    if python:
        modules = {n: b for n, b in files.items() if n.endswith(".py") and ".dist-info/" not in n}
        files.update({pycache_name(n): b for n, b in compile_pyc(modules, python, f"/{SITE_PACKAGES}/").items()})
    return make_zip({f"{SITE_PACKAGES}/{n}": b for n, b in files.items()})


def make_zip(files: dict[str, bytes]) -> bytes:
    """Pack {path: bytes} into a deterministic zip (sorted entries, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            if name.endswith("/"):  # a directory entry
                info.external_attr = (0o40755 << 16) | 0x10
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def _vendored(static: Path) -> list[Path]:
    """The npm files the site ships: Plotly's bundle, KaTeX's script and CSS (fonts: see katex_fonts)."""
    return [static / PLOTLY_REL] + [static / KATEX_DIST / n for n in KATEX_FILES]


def ensure_plotly(static: Path = STATIC, npm: str | None = None) -> Path:
    """Return the path of the vendored plotly.min.js, running `npm ci` in static/ when node_modules lacks it or
    KaTeX (both are pinned in package.json / package-lock.json)."""
    target = static / PLOTLY_REL
    _npm_ci(static, npm, lambda: [str(p.relative_to(static)) for p in _vendored(static) if not p.is_file()]
            + ([] if katex_fonts(static) else ["the KaTeX fonts"]), f"{PLOTLY_PACKAGE} and {KATEX_PACKAGE}")
    return target


def ensure_axe(static: Path = STATIC, npm: str | None = None) -> Path:
    """Return the path of axe-core's axe.min.js (a devDependency, for the accessibility tests), running
    `npm ci` in static/ when node_modules lacks it."""
    target = static / AXE_REL
    _npm_ci(static, npm, lambda: [] if target.is_file() else [str(AXE_REL)], AXE_PACKAGE)
    return target


def _npm_ci(static: Path, npm: str | None, missing, what: str) -> None:
    """Run `npm ci` in ``static`` when ``missing()`` (the files not there) is not empty; BuildError if they still
    are not there after it (``what``: the packages, for the message)."""
    if not missing():
        return
    npm = npm or shutil.which("npm")
    if not npm:
        raise BuildError(f"{what} not installed and npm was not found: install Node.js (npm), then run `npm ci` in "
                         f"{static}")
    print(f"build: running npm ci in {static}", file=sys.stderr)
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=static)
    still = missing()
    if proc.returncode != 0 or still:
        raise BuildError(f"`npm ci` in {static} failed (exit {proc.returncode}); missing: {', '.join(still)}")


def katex_fonts(static: Path = STATIC) -> list[Path]:
    """The WOFF2 fonts of the installed KaTeX (empty when it is not installed)."""
    return sorted((static / KATEX_DIST / "fonts").glob("*.woff2"))


def pyodide_files(runtime: Path, core: tuple[str, ...] = PYODIDE_CORE) -> list[str]:
    """Check a local Pyodide distribution and return the file names the site needs from it.

    Requires the ``core`` files and a pyodide-lock.json of version 0.27.7 listing NumPy (and its dependencies),
    whose wheels must be present with the sha256 the lock file records.
    """
    runtime = Path(runtime)
    missing = [f for f in core if not (runtime / f).is_file()]
    if missing:
        raise BuildError(f"{runtime} is not a Pyodide runtime: missing {', '.join(missing)} "
                         "(assemble one with ../shared/tools/pyodide-dist, see README)")
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    version = lock.get("info", {}).get("version")
    if version != PYODIDE_VERSION:
        raise BuildError(f"{runtime} holds Pyodide {version}, the site needs {PYODIDE_VERSION}")
    names: list[str] = list(core)
    todo, seen = list(PYODIDE_PACKAGES), set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        entry = lock["packages"].get(pkg)
        if entry is None:
            raise BuildError(f"{runtime}/pyodide-lock.json does not list package {pkg!r}")
        wheel = runtime / entry["file_name"]
        if not wheel.is_file():
            raise BuildError(f"{wheel} is missing (needed for {pkg})")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if entry.get("sha256") and digest != entry["sha256"]:
            raise BuildError(f"{wheel}: sha256 does not match pyodide-lock.json")
        names.append(entry["file_name"])
        todo.extend(entry.get("depends", []))
    return names


def prepare_out(out: Path) -> None:
    """Create (or empty) the output directory; refuse to wipe a non-empty directory this script did not write."""
    if out.exists():
        if not out.is_dir():
            raise BuildError(f"{out} exists and is not a directory")
        entries = list(out.iterdir())
        if entries and not (out / MARKER).exists():
            raise BuildError(f"{out} is not empty and was not written by build.py; choose another --out")
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by static/build.py; rebuilt (wiped) on each build\n")


def render_sw(template: str, version: str, precache: list[str], runtime_prefix: str) -> str:
    """Fill the placeholders of sw.js: cache version, precache list and the runtime (CDN) URL prefix."""
    for token in ("__CACHE_VERSION__", "/*__PRECACHE__*/[]", "__RUNTIME_PREFIX__"):
        if token not in template:
            raise BuildError(f"sw.js template lacks the placeholder {token}")
    return (template.replace("__CACHE_VERSION__", version)
            .replace("/*__PRECACHE__*/[]", json.dumps(precache))
            .replace("__RUNTIME_PREFIX__", runtime_prefix))


def build(out: Path, pyodide: Path | None = None, root: Path = ROOT, npm: str | None = None,
          precompile: bool | str | None = None, pyc_from: Path | None = None) -> dict:
    """Write the site into `out` and return a summary dict (files, version, pyodide URL, offline flag, pyc).

    precompile: None = with a CPython 3.12 if one is found, False = never, True = required (BuildError if
    there is none), or the path of the 3.12 interpreter to use.
    pyc_from (CDN build only): a local copy of the CDN's python_stdlib.zip, pyodide-lock.json and NumPy wheel;
    the site then serves their precompiled forms (pyc/) and loads the rest of the runtime from the CDN.
    """
    out = Path(out).resolve()
    static = root / "static"
    if static.resolve() == out or static.resolve() in out.parents:
        raise BuildError("--out must not be inside static/ (it holds sources only)")
    if pyc_from is not None and pyodide is not None:
        raise BuildError("--pyc-from is for the CDN build: with --pyodide the bundled runtime is precompiled")
    if pyc_from is not None and precompile is False:
        raise BuildError("--pyc-from precompiles: it cannot go with --no-precompile")
    runtime_names = pyodide_files(pyodide) if pyodide else []
    pyc_names = pyodide_files(pyc_from, core=(STDLIB_ZIP, "pyodide-lock.json")) if pyc_from else []
    if pyc_from is not None:
        numpy = [n for n in pyc_names if n.startswith("numpy-")]
        if numpy != [CDN_PRECACHE[-1]] or \
                hashlib.sha256((Path(pyc_from) / numpy[0]).read_bytes()).hexdigest() != CDN_NUMPY_SHA256:
            raise BuildError(f"{pyc_from}: its NumPy wheel is not the CDN's {CDN_PRECACHE[-1]} (sha256 differs)")
        precompile = True if precompile is None else precompile
    plotly = ensure_plotly(static, npm)
    python = None
    if isinstance(precompile, str):
        if not _runs_python312(precompile):
            raise BuildError(f"{precompile} is not a CPython {'.'.join(map(str, PYC_VERSION))} interpreter")
        python = precompile
    elif precompile is not False:
        python = find_python312()
        if python is None and precompile:
            raise BuildError("precompiling needs CPython 3.12 (Pyodide 0.27's Python): install python3.12 or "
                             "set MLP_PYTHON312")
    sources = python_sources(root)
    app_zip = make_zip(with_pycache(sources, python, "/home/pyodide/mlp_app/") if python else sources)
    prepare_out(out)

    written: dict[str, bytes] = {}

    def put(rel: str, content: bytes) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written[rel] = content

    for name in STATIC_FILES:
        src = static / name
        if src.is_file():
            put(name, src.read_bytes())
    put("app.zip", app_zip)
    put("vendor/plotly.min.js", plotly.read_bytes())
    for name in KATEX_FILES:
        put(f"vendor/katex/{name}", (static / KATEX_DIST / name).read_bytes())
    for font in katex_fonts(static):
        put(f"vendor/katex/fonts/{font.name}", font.read_bytes())
    site_zip = stdlib_url = None
    if pyodide:  # the runtime (stdlib precompiled) and NumPy installed in site-packages.zip
        for name in runtime_names:
            if not name.endswith(".whl"):
                data = (Path(pyodide) / name).read_bytes()
                put(f"pyodide/{name}", precompiled_stdlib(data, python) if python and name == STDLIB_ZIP else data)
        site_zip = f"pyodide/{SITE_ZIP}"
        put(site_zip, site_packages_zip([(Path(pyodide) / n).read_bytes() for n in runtime_names
                                         if n.endswith(".whl")], python))
    if pyc_from:  # CDN build: precompiled stdlib and installed NumPy served by the site itself
        stdlib_url, site_zip = f"pyc/{STDLIB_ZIP}", f"pyc/{SITE_ZIP}"
        put(stdlib_url, precompiled_stdlib((Path(pyc_from) / STDLIB_ZIP).read_bytes(), python))
        put(site_zip, site_packages_zip([(Path(pyc_from) / n).read_bytes() for n in pyc_names
                                         if n.endswith(".whl")], python))

    digest = hashlib.sha256()
    for rel in sorted(written):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(written[rel]).digest())
    version = digest.hexdigest()[:16]
    pyodide_url = "pyodide/" if pyodide else PYODIDE_CDN
    config = {"version": version, "pyodideURL": pyodide_url, "pyodideVersion": PYODIDE_VERSION,
              "offlineRuntime": bool(pyodide), "stdLibURL": stdlib_url, "sitePackages": site_zip}
    put("config.js", ("// Generated by static/build.py\nself.MLP_CONFIG = " + json.dumps(config, indent=1)
                      + ";\n").encode())
    precache = ["./"] + sorted(r for r in written if r != "index.html") + ["index.html"]
    if not pyodide:
        # Public build: the CDN runtime is cached on install too, so the site works offline after one visit.
        # With --pyc-from the site serves the standard library and NumPy itself.
        precache += [PYODIDE_CDN + n for n in (PYODIDE_CORE if pyc_from else CDN_PRECACHE)
                     if not (pyc_from and n == STDLIB_ZIP)]
    sw = render_sw((static / "sw.js").read_text(), version, precache, PYODIDE_CDN)
    put("sw.js", sw.encode())
    put(".nojekyll", b"")
    return {"out": str(out), "version": version, "pyodideURL": pyodide_url, "offline": bool(pyodide),
            "precompiled": python, "files": sorted(written)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Build the static (Pyodide) site of mlp.")
    ap.add_argument("--out", required=True, type=Path, help="output directory (created; rebuilt if ours)")
    ap.add_argument("--pyodide", type=Path, default=None,
                    help=f"local Pyodide {PYODIDE_VERSION} runtime directory to bundle (site needs no network)")
    ap.add_argument("--python312", default=None, metavar="EXE",
                    help="CPython 3.12 to precompile .pyc with (default: found automatically)")
    ap.add_argument("--no-precompile", action="store_true", help="ship Python sources only (slower start-up)")
    ap.add_argument("--pyc-from", type=Path, default=None, metavar="DIR",
                    help="CDN build: a directory with the CDN's python_stdlib.zip, pyodide-lock.json and NumPy "
                         "wheel, to serve them precompiled from the site (needs CPython 3.12)")
    args = ap.parse_args(argv)
    try:
        summary = build(args.out, args.pyodide, precompile=False if args.no_precompile else args.python312,
                        pyc_from=args.pyc_from)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 2
    size = sum((Path(summary["out"]) / f).stat().st_size for f in summary["files"])
    print(f"built {len(summary['files'])} files ({size / 1e6:.1f} MB) into {summary['out']} "
          f"[version {summary['version']}, pyodide: {summary['pyodideURL']}, "
          f"precompiled: {'yes (' + summary['precompiled'] + ')' if summary['precompiled'] else 'no'}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
