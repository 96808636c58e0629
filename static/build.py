#!/usr/bin/env python3
"""Build the self-contained static site (the browser app) of the mlp project.

    python static/build.py --out DIR [--pyodide RUNTIME_DIR]

Writes into DIR: the static sources of static/, config.js (where the Pyodide runtime is and the build id),
sw.js (service worker with its precache list and cache name filled in), app.zip (the `mlp` package, the shared
webapp helpers session.py/charts.py and the worker glue, packed from the source tree) and vendor/plotly.min.js
(from the npm package plotly.js-dist-min pinned in static/package.json; `npm ci` runs if node_modules is missing).

With --pyodide, the Pyodide 0.27.7 runtime and its NumPy wheel are copied from that local distribution into
DIR/pyodide/ and the site needs no network at all; without it the site loads Pyodide from the jsDelivr CDN.
All URLs in the site are relative, so it works under any sub-path (GitHub Pages project sites).
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
# Static sources copied as they are (sw.js is templated, config.js generated).
STATIC_FILES = ("index.html", "app.js", "worker.js", "style.css", "icon.svg", "manifest.webmanifest")
PLOTLY_REL = Path("node_modules") / "plotly.js-dist-min" / "plotly.min.js"
MARKER = ".mlp-site"  # marks a directory written by this script (safe to wipe on rebuild)
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: identical sources give an identical app.zip


class BuildError(RuntimeError):
    """A build problem the user can fix (message says what and how)."""


def python_sources(root: Path = ROOT) -> dict[str, bytes]:
    """Return {archive path: content} of the Python code the browser runs.

    The whole `mlp` package, webapp/session.py and webapp/charts.py (the UI-agnostic helpers shared with the
    Streamlit app) and static/worker_glue.py (at the archive root). webapp/__init__.py is taken from the
    source tree unless it imports streamlit, in which case an empty package marker replaces it.
    """
    files: dict[str, bytes] = {}
    pkg = root / "mlp"
    if not (pkg / "__init__.py").is_file():
        raise BuildError(f"engine package not found: {pkg}/__init__.py")
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts:
            continue
        files[rel.as_posix()] = path.read_bytes()
    for name in ("session.py", "charts.py"):
        path = root / "webapp" / name
        if not path.is_file():
            raise BuildError(f"shared webapp helper not found: {path}")
        files[f"webapp/{name}"] = path.read_bytes()
    init = root / "webapp" / "__init__.py"
    text = init.read_bytes() if init.is_file() else b""
    if b"streamlit" in text:
        text = b""
    files["webapp/__init__.py"] = text or b'"""Shared helpers (browser build: session and charts only)."""\n'
    glue = root / "static" / "worker_glue.py"
    files["worker_glue.py"] = glue.read_bytes()
    return files


def make_zip(files: dict[str, bytes]) -> bytes:
    """Pack {path: bytes} into a deterministic zip (sorted entries, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def ensure_plotly(static: Path = STATIC, npm: str | None = None) -> Path:
    """Return the path of the vendored plotly.min.js, running `npm ci` in static/ when node_modules lacks it."""
    target = static / PLOTLY_REL
    if target.is_file():
        return target
    npm = npm or shutil.which("npm")
    if not npm:
        raise BuildError("plotly.js is not installed and npm was not found: install Node.js (npm), "
                         f"then run `npm ci` in {static}")
    print(f"build: running npm ci in {static}", file=sys.stderr)
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=static)
    if proc.returncode != 0 or not target.is_file():
        raise BuildError(f"`npm ci` in {static} failed (exit {proc.returncode}); plotly.js-dist-min is missing")
    return target


def pyodide_files(runtime: Path) -> list[str]:
    """Check a local Pyodide distribution and return the file names the site needs from it.

    Requires the core files and a pyodide-lock.json of version 0.27.7 listing NumPy (and its dependencies),
    whose wheels must be present with the sha256 the lock file records.
    """
    runtime = Path(runtime)
    missing = [f for f in PYODIDE_CORE if not (runtime / f).is_file()]
    if missing:
        raise BuildError(f"{runtime} is not a Pyodide runtime: missing {', '.join(missing)} "
                         "(assemble one with ../shared/tools/pyodide-dist, see README)")
    lock = json.loads((runtime / "pyodide-lock.json").read_text())
    version = lock.get("info", {}).get("version")
    if version != PYODIDE_VERSION:
        raise BuildError(f"{runtime} holds Pyodide {version}, the site needs {PYODIDE_VERSION}")
    names: list[str] = list(PYODIDE_CORE)
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


def build(out: Path, pyodide: Path | None = None, root: Path = ROOT, npm: str | None = None) -> dict:
    """Write the site into `out` and return a summary dict (files, version, pyodide URL, offline flag)."""
    out = Path(out).resolve()
    static = root / "static"
    if static.resolve() == out or static.resolve() in out.parents:
        raise BuildError("--out must not be inside static/ (it holds sources only)")
    runtime_names = pyodide_files(pyodide) if pyodide else []
    plotly = ensure_plotly(static, npm)
    app_zip = make_zip(python_sources(root))
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
    for name in runtime_names:
        put(f"pyodide/{name}", (Path(pyodide) / name).read_bytes())

    digest = hashlib.sha256()
    for rel in sorted(written):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(written[rel]).digest())
    version = digest.hexdigest()[:16]
    pyodide_url = "pyodide/" if pyodide else PYODIDE_CDN
    config = {"version": version, "pyodideURL": pyodide_url, "pyodideVersion": PYODIDE_VERSION,
              "offlineRuntime": bool(pyodide)}
    put("config.js", ("// Generated by static/build.py\nself.MLP_CONFIG = " + json.dumps(config, indent=1)
                      + ";\n").encode())
    precache = ["./"] + sorted(r for r in written if r != "index.html") + ["index.html"]
    if not pyodide:
        # Public build: the CDN runtime is cached on install too, so the site works offline after one visit.
        precache += [PYODIDE_CDN + n for n in CDN_PRECACHE]
    sw = render_sw((static / "sw.js").read_text(), version, precache, PYODIDE_CDN)
    put("sw.js", sw.encode())
    put(".nojekyll", b"")
    return {"out": str(out), "version": version, "pyodideURL": pyodide_url, "offline": bool(pyodide),
            "files": sorted(written)}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Build the static (Pyodide) site of mlp.")
    ap.add_argument("--out", required=True, type=Path, help="output directory (created; rebuilt if ours)")
    ap.add_argument("--pyodide", type=Path, default=None,
                    help=f"local Pyodide {PYODIDE_VERSION} runtime directory to bundle (site needs no network)")
    args = ap.parse_args(argv)
    try:
        summary = build(args.out, args.pyodide)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 2
    size = sum((Path(summary["out"]) / f).stat().st_size for f in summary["files"])
    print(f"built {len(summary['files'])} files ({size / 1e6:.1f} MB) into {summary['out']} "
          f"[version {summary['version']}, pyodide: {summary['pyodideURL']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
