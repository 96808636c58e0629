#!/usr/bin/env python3
"""Assemble the local Pyodide 0.27.7 runtime (with NumPy) that the offline browser build and its tests use.

    python3 scripts/get_pyodide.py [--out DIR] [--cdn URL]

DIR defaults to ~/.cache/mlp/pyodide-0.27.7. The core (pyodide.js, pyodide.asm.wasm, python_stdlib.zip, ...)
comes from the npm package pyodide@0.27.7 (`npm pack`, checked by npm); pyodide-lock.json and the wheels the
site needs (NumPy 2.0.2 and whatever the lock says it depends on) come from the Pyodide 0.27.7 release on the
jsDelivr CDN, each checked against the sha256 the lock file records (and the lock itself against the NumPy
wheel's known hash). --cdn (or $MLP_PYODIDE_CDN) points at another copy of that release, e.g. a mirror.
Nothing is left in DIR unless everything checked out. Standard library only (plus the npm client).
Exit status: 0 ready, 2 a download failed or was refused (the message says why and what to do instead).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("mlp_static_build", ROOT / "static" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)  # the site's own constants and its check of a runtime directory

VERSION = build.PYODIDE_VERSION
DEFAULT_OUT = Path.home() / ".cache" / "mlp" / f"pyodide-{VERSION}"
NPM_FILES = ("pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "package.json")
TIMEOUT = 60  # seconds per request
WHEEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*\.whl")  # a plain file name, nothing that leaves the folder


class FetchError(RuntimeError):
    """A download failed or did not check out; the message says which and what to do."""


OFFLINE_HELP = (f"Without access to it, point MLP_PYODIDE_DIR at any Pyodide {VERSION} distribution directory "
                f"that contains NumPy (e.g. the official release archive pyodide-{VERSION}.tar.bz2, extracted), "
                f"or copy one to {DEFAULT_OUT}.")


def is_ready(path: Path) -> bool:
    """True when `path` is a complete runtime as the site build checks it (files, version, wheel hashes)."""
    try:
        build.pyodide_files(Path(path))
    except (build.BuildError, OSError, ValueError, KeyError, TypeError):
        return False
    return True


def download(url: str) -> bytes:
    """The body at `url`, or FetchError saying the address could not be reached."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:   # ValueError: not a URL
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot download {url} ({reason}). The Pyodide wheels come from the Pyodide {VERSION} "
                         f"release on the jsDelivr CDN. {OFFLINE_HELP}") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheels(base: str, into: Path) -> list[str]:
    """Download pyodide-lock.json and the wheels the site needs from `base` into `into`; return their names."""
    raw = download(base + "pyodide-lock.json")
    try:
        lock = json.loads(raw)
        version = lock["info"]["version"]
        packages = lock["packages"]
    except (ValueError, KeyError, TypeError):
        raise FetchError(f"{base}pyodide-lock.json is not a Pyodide lock file") from None
    if version != VERSION:
        raise FetchError(f"{base}pyodide-lock.json is for Pyodide {version}, not {VERSION}")
    if packages.get("numpy", {}).get("sha256") != build.CDN_NUMPY_SHA256:
        raise FetchError(f"{base}pyodide-lock.json is not the Pyodide {VERSION} release's lock file "
                         f"(its NumPy sha256 is not {build.CDN_NUMPY_SHA256})")
    (into / "pyodide-lock.json").write_bytes(raw)
    names, todo, seen = [], list(build.PYODIDE_PACKAGES), set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        entry = packages.get(pkg)
        name = entry.get("file_name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not WHEEL_NAME.fullmatch(name):
            raise FetchError(f"{base}pyodide-lock.json has no usable entry for package {pkg!r}")
        data = download(base + entry["file_name"])
        if sha256(data) != entry.get("sha256"):
            raise FetchError(f"{base}{entry['file_name']}: sha256 {sha256(data)} does not match the "
                             f"{entry.get('sha256')} in pyodide-lock.json; refusing it")
        (into / entry["file_name"]).write_bytes(data)
        names.append(entry["file_name"])
        todo.extend(entry.get("depends", []))
    return names


def fetch_core(into: Path, npm: str = "npm") -> None:
    """Copy the runtime core from the npm package pyodide@VERSION into `into`."""
    if not shutil.which(npm):
        raise FetchError(f"npm is not installed: the Pyodide core comes from the npm package pyodide@{VERSION} "
                         f"(Debian: apt-get install npm). {OFFLINE_HELP}")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", f"pyodide@{VERSION}", "--silent"], cwd=tmp,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        tgz = Path(tmp) / f"pyodide-{VERSION}.tgz"
        if proc.returncode != 0 or not tgz.is_file():
            raise FetchError(f"`npm pack pyodide@{VERSION}` failed: {proc.stderr.strip()[-500:]}. {OFFLINE_HELP}")
        with tarfile.open(tgz) as tar:
            for name in NPM_FILES:
                try:
                    member = tar.extractfile(f"package/{name}")
                except KeyError:
                    member = None
                if member is None:
                    raise FetchError(f"the npm package pyodide@{VERSION} has no {name}")
                (into / name).write_bytes(member.read())


def assemble(out: Path = DEFAULT_OUT, base: str | None = None, npm: str = "npm") -> Path:
    """Make `out` a complete Pyodide runtime (unless it already is) and return it; FetchError when not possible."""
    out = Path(out).expanduser()
    if is_ready(out):
        return out
    base = base or os.environ.get("MLP_PYODIDE_CDN") or build.PYODIDE_CDN
    base = base if base.endswith("/") else base + "/"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FetchError(f"{out} exists and is not a complete Pyodide {VERSION} runtime: remove it or choose "
                         "another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".pyodide-", dir=out.parent))
    try:
        fetch_wheels(base, stage)  # first: the part most likely to be out of reach
        fetch_core(stage, npm)
        build.pyodide_files(stage)  # the very check the site build makes
        stage.chmod(0o755)
        if out.exists():
            out.rmdir()
        stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where the runtime goes (default {DEFAULT_OUT})")
    ap.add_argument("--cdn", default=None, help=f"base URL of the Pyodide release (default $MLP_PYODIDE_CDN "
                                                f"or {build.PYODIDE_CDN})")
    args = ap.parse_args(argv)
    try:
        out = assemble(args.out, args.cdn)
    except (FetchError, build.BuildError) as exc:
        print(f"get_pyodide: {exc}", file=sys.stderr)
        return 2
    print(f"Pyodide {VERSION} runtime with NumPy ready in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
