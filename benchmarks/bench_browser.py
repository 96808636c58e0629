"""Speed of the static (Pyodide) site in Chromium, against the same training in native CPython (not a test).

    python benchmarks/bench_browser.py [--runs 3] [--pyodide DIR] [--site DIR]

Builds the site with the local Pyodide runtime (or uses --site), serves it on 127.0.0.1 and measures with
Debian's Chromium via Playwright:
  * cold: time from navigation to a ready Train button in a fresh profile (goal <= 5 s);
  * warm: the same on reload, served by the service-worker cache (goal <= 2 s); and on a second reload (faster:
    by then Chromium's code caches hold compiled code of the runtime);
  * where the start-up time goes (page, Pyodide runtime with NumPy, app files, imports, first data), cold and warm;
  * training: the default demo (circles, [2, 8, 'relu', 8, 'relu', 1, 'sigmoid'], 1000 epochs, batch 32),
    wall clock in the page (with live charts) and the Python time inside the worker (goal <= 4 s);
  * the live views: the same demo again in that page with "Live charts while training" on and off,
    interleaved (goal: on <= 1.2x off), and the frames per second of the live Network view (goal >= 4);
  * the same training in native CPython (webapp.core.session), and the browser/native ratio.
Prints a Markdown table (medians over --runs).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._browser import (PYODIDE_HINT, StaticServer, block_external, browser_skip_reason,  # noqa: E402
                            chromium_path, launch_chromium, pyodide_runtime_dir)

DEMO = {"arch": "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']", "epochs": 1000, "batch_size": 32}


def chromium_version():
    """'156.0.…' of the system Chromium, or '' if it cannot be asked."""
    try:
        out = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        return ""
    words = [w for w in out.split() if w[:1].isdigit() and "." in w]
    return words[0] if words else ""


def native_training(runs):
    """Seconds for the default demo in CPython: session.train alone, and through the worker glue (chunks +
    live figures, exactly what the worker runs)."""
    sys.path.insert(0, str(ROOT / "static"))
    import worker_glue
    from webapp.core import session

    plain, glue = [], []
    for _ in range(runs):
        prepared = session.prepare_builtin("circles")
        model = session.build_model(DEMO, prepared)
        t = time.perf_counter()
        session.train(model, prepared, DEMO)
        plain.append(time.perf_counter() - t)
        worker_glue.STATE = worker_glue._State()
        worker_glue.builtin("circles")
        t = time.perf_counter()
        worker_glue.train_start(**DEMO)
        while not worker_glue.train_step(0.1)["done"]:
            pass
        worker_glue.train_finish()
        glue.append(time.perf_counter() - t)
    return statistics.median(plain), statistics.median(glue)


PHASES = (("worker started", "workerCreated"), ("Pyodide loaded (CDN build: and NumPy)", "runtime"),
          ("NumPy and app files unpacked", "unpacked"), ("engine imported (numpy, mlp, glue)", "engine"),
          ("worker ready", "info"), ("page got ready", "ready"), ("Train ready (data + loss choices)", "trainReady"))


def _phases(timings):
    """Seconds since navigation of each start-up step, from window.mlpTimings (the worker's phases are on the
    worker's clock: shifted by the difference of the two time origins)."""
    worker = timings.get("workerPhases") or {}
    origin = timings.get("workerOrigin", timings["workerCreated"])
    out = {}
    for _, key in PHASES:
        if key in worker:
            out[key] = origin + worker[key]
        elif key in timings:
            out[key] = timings[key]
    return out


def browser_figures(url, runs):
    """Cold ready, warm (service worker) ready, and training times measured in Chromium."""
    from playwright.sync_api import sync_playwright

    ready = "window.mlpTimings && window.mlpTimings.trainReady"
    cold, warm, warm2, train_wall, train_py, live_wall, off_wall, fps = [], [], [], [], [], [], [], []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        for _ in range(runs):
            ctx = browser.new_context()  # fresh profile: no HTTP cache, no service worker
            blocked = block_external(ctx)
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_function(ready, timeout=120_000)
            cold.append(_phases(page.evaluate("window.mlpTimings")))
            page.click("#train")
            page.wait_for_function("window.mlpTimings.lastTrain", timeout=120_000)
            t = page.evaluate("window.mlpTimings.lastTrain")
            train_wall.append(t["seconds"])
            train_py.append(t["pythonSeconds"])
            page.wait_for_selector("#offline-status[data-state=ready]", timeout=120_000)
            # live charts on / off, interleaved in the same warm page (once the offline cache is written)
            for _ in range(2):
                seconds, frames = _train_again(page, live=True)
                live_wall.append(seconds)
                fps.append(frames / seconds)
                off_wall.append(_train_again(page, live=False)[0])
            for store in (warm, warm2):
                page.reload()
                page.wait_for_function(ready, timeout=120_000)
                store.append(_phases(page.evaluate("window.mlpTimings")))
                assert page.evaluate("navigator.serviceWorker.controller !== null")
            assert not blocked, blocked
            ctx.close()
        browser.close()
    med = statistics.median

    def medians(rows):
        return {key: med(r[key] for r in rows) for key in rows[0] if all(key in r for r in rows)}

    return (medians(cold), medians(warm), medians(warm2), med(train_wall), med(train_py), med(live_wall),
            med(off_wall), med(fps))


def _train_again(page, live):
    """Train the default demo once more with live charts on or off: (wall-clock seconds, live frames of the
    Network view drawn during the run)."""
    page.set_checked("#live", live)
    before = page.evaluate("document.body.dataset.trained || 0")
    draws = page.evaluate("window.mlpStats.networkDraws || 0")
    page.click("#train")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=120_000)
    frames = page.evaluate("window.mlpStats.networkDraws") - draws - 1  # the final draw after the run: not live
    return page.evaluate("window.mlpTimings.lastTrain.seconds"), frames


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pyodide", type=Path, default=None, help="local Pyodide runtime (default: as the tests)")
    ap.add_argument("--site", type=Path, default=None, help="an already built site (skips the build)")
    ap.add_argument("--no-precompile", action="store_true",
                    help="build the site with Python sources only (to see what the precompiled .pyc save)")
    args = ap.parse_args(argv)
    reason = browser_skip_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    site = args.site
    tmp = None
    if site is None:
        runtime = args.pyodide or pyodide_runtime_dir()
        if runtime is None:
            sys.exit(f"cannot run: {PYODIDE_HINT}")
        tmp = tempfile.TemporaryDirectory(prefix="mlp-site-")
        site = Path(tmp.name) / "site"
        subprocess.run([sys.executable, str(ROOT / "static" / "build.py"), "--out", str(site),
                        "--pyodide", str(runtime)] + (["--no-precompile"] if args.no_precompile else []),
                       check=True, stdout=subprocess.DEVNULL)
    with zipfile.ZipFile(Path(site) / "app.zip") as zf:
        precompiled = any("__pycache__" in name for name in zf.namelist())
    with StaticServer(site) as server:
        cold, warm, warm2, wall, py, live, off, fps = browser_figures(server.url, args.runs)
    native, native_glue = native_training(args.runs)
    print(f"Browser build, Chromium {chromium_version()} (median of {args.runs}; "
          f"{'precompiled .pyc' if precompiled else 'Python sources, not precompiled'}):\n")
    print("| measure | browser | goal | native CPython | browser / native |")
    print("|---|---|---|---|---|")
    print(f"| navigation → Train ready, cold | {cold['trainReady']:.2f} s | ≤ 5 s | | |")
    print(f"| navigation → Train ready, service-worker cache | {warm['trainReady']:.2f} s | ≤ 2 s | | |")
    print(f"| the same, second reload (code caches warm) | {warm2['trainReady']:.2f} s | | | |")
    print(f"| default demo, 1000 epochs: Python time in the worker | {py:.2f} s | ≤ 4 s | {native:.2f} s "
          f"(session.train) | {py / native:.1f}× |")
    print(f"| default demo, wall clock with live charts | {wall:.2f} s | | {native_glue:.2f} s (glue, same chunks "
          f"and figures) | {wall / native_glue:.1f}× |")
    print(f"| the same again in that page, live charts on / off | {live:.2f} s / {off:.2f} s: {live / off:.2f}× "
          f"| ≤ 1.2× | | |")
    print(f"| live Network view during the default demo | {fps:.1f} frames/s | ≥ 4 | | |")
    print("\nStart-up steps, seconds since navigation (medians):\n")
    print("| step | cold | service-worker cache |")
    print("|---|---|---|")
    for label, key in PHASES:
        if key in cold and key in warm:
            print(f"| {label} | {cold[key]:.2f} | {warm[key]:.2f} |")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
