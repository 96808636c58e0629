"""The browser app (the static Pyodide site) while it trains, measured as benchmarks/bench_streamlit.py measures the
Streamlit app, plus its start-up (not a test).

    python benchmarks/bench_browser.py [--rounds 5] [--only default|3000|seed] [--race-visits 6] [--pyodide DIR]
                                       [--site DIR]

Builds the site with the local Pyodide runtime (or uses --site), serves it on 127.0.0.1 and opens it in Debian's
Chromium (Playwright), every other host blocked. Start-up: navigation -> a ready Train button in a fresh profile
(cold) and reloaded from the service-worker cache, with where the time goes. Then, for each case of
bench_streamlit.CASES (the defaults, 3,000 epochs, the seed benchmark), in two pages (two workers) with "Live
charts while training" on and off, alternating rounds as for Streamlit: live frames per second (changes of the
Network view on screen while training / the training time the core reports), the first frame (click -> the first
change), click -> result (a page's first Train and warm) and the training time with live charts on / off. The
charts are watched by the same page-side code as Streamlit's (tests/_streamlit.CHART_WATCH_JS). Last, the same
training in native CPython (the same Playground) for the browser / native ratio, and Race optimizers on the
defaults: a visit's first race (clicked at once, or after the page's idle warm-up) and the next ones.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from bench_streamlit import CASES  # noqa: E402  (the same cases for both apps)

from tests._browser import (PYODIDE_HINT, StaticServer, block_external, browser_skip_reason,  # noqa: E402
                            chromium_path, launch_chromium, pyodide_runtime_dir)
from tests._streamlit import CHART_WATCH_JS  # noqa: E402

TIMEOUT = 180_000
PHASES = (("worker started", "workerCreated"), ("Pyodide loaded (CDN build: and NumPy)", "runtime"),
          ("NumPy and app files unpacked", "unpacked"), ("engine imported (numpy, mlp, core, glue)", "engine"),
          ("worker ready (settings table)", "info"), ("page got ready", "ready"),
          ("Train ready (controls, data)", "trainReady"))


def chromium_version():
    """'156.0.…' of the system Chromium, or '' if it cannot be asked."""
    try:
        out = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        return ""
    words = [w for w in out.split() if w[:1].isdigit() and "." in w]
    return words[0] if words else ""


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def _phases(timings):
    """Seconds since navigation of each start-up step, from window.mlpTimings (the worker's phases are on the
    worker's clock: shifted by the difference of the two time origins)."""
    worker = timings.get("workerPhases") or {}
    origin = timings.get("workerOrigin", timings["workerCreated"])
    return {key: origin + worker[key] if key in worker else timings[key]
            for _, key in PHASES if key in worker or key in timings}


def _open(browser, url, settings=None, live=True):
    """A page (its own browser context: its own worker) opened on the settings' address, ready to train."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT)
    blocked = block_external(ctx)
    page = ctx.new_page()
    page.blocked = blocked
    fragment = "&".join(f"{k}={quote(str(v))}" for k, v in (settings or {}).items())
    page.goto(url + ("#" + fragment if fragment else ""))
    page.wait_for_function("window.mlpTimings && window.mlpTimings.trainReady", timeout=TIMEOUT)
    page.wait_for_selector("#train:not([disabled])")
    if page.is_checked("#live") != live:
        before = page.evaluate("Number(document.body.dataset.urlSynced || 0)")
        page.set_checked("#live", live)
        page.wait_for_function(f"Number(document.body.dataset.urlSynced || 0) > {before}")
    return page


def train_once(page):
    """Click Train; return (training seconds the core reports, click -> result seconds, times of the Network
    view's changes after the click)."""
    page.evaluate(CHART_WATCH_JS)
    before = page.evaluate("Number(document.body.dataset.trained || 0)")
    t0 = time.perf_counter()
    page.click("#train")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=TIMEOUT)
    wall = time.perf_counter() - t0
    secs = page.evaluate("window.mlpTimings.lastTrain.pythonSeconds")
    page.wait_for_timeout(400)   # the page finishes drawing before the other page trains
    return secs, wall, page.evaluate("window.mlpCharts.times")["network"]


def startup(browser, url, runs):
    """Start-up phases (seconds since navigation): cold (fresh profile), from the service-worker cache, and its
    second reload; medians over ``runs``."""
    cold, warm, warm2 = [], [], []
    for _ in range(runs):
        page = _open(browser, url)
        cold.append(_phases(page.evaluate("window.mlpTimings")))
        page.wait_for_selector("#offline-status[data-state=ready]", timeout=TIMEOUT)
        for store in (warm, warm2):
            page.reload()
            page.wait_for_function("window.mlpTimings && window.mlpTimings.trainReady", timeout=TIMEOUT)
            store.append(_phases(page.evaluate("window.mlpTimings")))
            assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert not page.blocked, page.blocked
        page.context.close()

    def medians(rows):
        return {key: _med([r[key] for r in rows]) for key in rows[0] if all(key in r for r in rows)}
    return {"cold": medians(cold), "warm": medians(warm), "warm2": medians(warm2)}


def measure(browser, url, rounds, only=None):
    """{case: {fps, fps_rounds, first_frame, train_on, train_off, ratio, ratios, warm_on, warm_off, first_on,
    first_off}} for the cases of bench_streamlit.CASES, measured as bench_streamlit.measure does."""
    out = {}
    for name, settings in CASES.items():
        if only and name != only:
            continue
        pages = {live: _open(browser, url, settings, live) for live in (True, False)}
        first = {live: train_once(pages[live]) for live in (True, False)}   # a page's first Train
        runs = {True: [], False: []}
        for r in range(rounds):
            for live in ((True, False) if r % 2 == 0 else (False, True)):
                runs[live].append(train_once(pages[live]))
        on, off = runs[True], runs[False]
        # the last change of the Network view is the results' chart; the ones before it are live frames
        fps = [max(len(t) - 1, 0) / s for s, _, t in on]
        out[name] = {"fps": _med(fps), "fps_rounds": fps,
                     "first_frame": _med([t[0] for _, _, t in on if len(t) > 1]),
                     "train_on": _med([x[0] for x in on]), "train_off": _med([x[0] for x in off]),
                     "ratio": _med([a[0] / b[0] for a, b in zip(on, off)]),
                     "ratios": [a[0] / b[0] for a, b in zip(on, off)],
                     "warm_on": _med([x[1] for x in on]), "warm_off": _med([x[1] for x in off]),
                     "first_on": first[True][1], "first_off": first[False][1]}
        for page in pages.values():
            assert not page.blocked, page.blocked
            page.context.close()
    return out


def race_once(page):
    """Click Race optimizers; seconds from the click to both charts drawn."""
    before = page.evaluate("Number(document.body.dataset.raced || 0)")
    t0 = time.perf_counter()
    page.click("#race")
    page.wait_for_function(f"Number(document.body.dataset.raced || 0) > {before}", timeout=TIMEOUT)
    return time.perf_counter() - t0


def races(browser, url, visits):
    """Race optimizers on the defaults, click -> both charts: a visit's first race clicked as soon as the page is
    ready (before its warm-up) or once the warm-up is over, and the next two races; medians over ``visits``."""
    first = {False: [], True: []}
    warm = []
    for v in range(visits):
        page = _open(browser, url)
        page.wait_for_selector("#race:not([disabled])")
        after = v % 2 == 1
        if after:
            page.wait_for_function("document.body.dataset.warm === '1'", timeout=TIMEOUT)
        first[after].append(race_once(page))
        warm += [race_once(page), race_once(page)]
        page.context.close()
    return {"before_warm_up": _med(first[False]), "after_warm_up": _med(first[True]), "warm": _med(warm),
            "all": {"before": first[False], "after": first[True], "warm": warm}}


def native_seconds(settings, runs=3):
    """The training time the core reports for ``settings`` in native CPython (the same Playground, live off)."""
    from webapp.core.playground import Playground
    times = []
    for _ in range(runs):
        pg = Playground({**settings, "live": False})
        pg.train()
        while pg.running:
            pg.advance()
        times.append(pg.result()["seconds"])
    return _med(times)


def build_site(pyodide, precompile=True):
    """Build the offline site into a temporary directory; returns (TemporaryDirectory, site path)."""
    runtime = pyodide or pyodide_runtime_dir()
    if runtime is None:
        sys.exit(f"cannot run: {PYODIDE_HINT}")
    tmp = tempfile.TemporaryDirectory(prefix="mlp-site-")
    site = Path(tmp.name) / "site"
    subprocess.run([sys.executable, str(ROOT / "static" / "build.py"), "--out", str(site), "--pyodide",
                    str(runtime)] + ([] if precompile else ["--no-precompile"]), check=True, stdout=subprocess.DEVNULL)
    return tmp, site


def print_cases(results, label="browser"):
    for name, r in results.items():
        print(f"{name} ({label}): live frames {r['fps']:.1f}/s (per round "
              f"{', '.join(f'{x:.1f}' for x in r['fps_rounds'])}); first frame {r['first_frame']:.2f} s after the "
              f"click; training {r['train_on']:.2f} s live on vs {r['train_off']:.2f} s off -> {r['ratio']:.2f}x "
              f"(per round {', '.join(f'{x:.2f}' for x in r['ratios'])}); click -> result warm "
              f"{r['warm_on']:.2f} s live on, {r['warm_off']:.2f} s off; a page's first Train {r['first_on']:.2f} s "
              f"live on, {r['first_off']:.2f} s off", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=sorted(CASES))
    ap.add_argument("--startup-runs", type=int, default=3)
    ap.add_argument("--pyodide", type=Path, default=None, help="local Pyodide runtime (default: as the tests)")
    ap.add_argument("--site", type=Path, default=None, help="an already built site (skips the build)")
    ap.add_argument("--race-visits", type=int, default=6, help="visits for the race timing (0: none)")
    ap.add_argument("--no-precompile", action="store_true",
                    help="build the site with Python sources only (to see what the precompiled .pyc save)")
    args = ap.parse_args(argv)
    reason = browser_skip_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    tmp, site = (None, args.site) if args.site else build_site(args.pyodide, not args.no_precompile)
    with zipfile.ZipFile(Path(site) / "app.zip") as zf:
        precompiled = any("__pycache__" in name for name in zf.namelist())
    from playwright.sync_api import sync_playwright
    with StaticServer(site) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        start = startup(browser, server.url, args.startup_runs) if args.startup_runs else None
        results = measure(browser, server.url, args.rounds, args.only) if args.rounds else {}
        race = races(browser, server.url, args.race_visits) if args.race_visits else None
        browser.close()
    print(f"Browser app, Chromium {chromium_version()} "
          f"({'precompiled .pyc' if precompiled else 'Python sources, not precompiled'}), medians:\n")
    print_cases(results)
    for name, r in results.items():
        native = native_seconds(CASES[name])
        print(f"{name}: training (live off) {r['train_off']:.2f} s in the browser vs {native:.2f} s in native "
              f"CPython -> {r['train_off'] / native:.1f}x")
    if start:
        cold, warm, warm2 = start["cold"], start["warm"], start["warm2"]
        print(f"\nnavigation -> Train ready: {cold['trainReady']:.2f} s cold, {warm['trainReady']:.2f} s from the "
              f"service-worker cache, {warm2['trainReady']:.2f} s on its second reload\n")
        print("| start-up step, seconds since navigation | cold | service-worker cache |")
        print("|---|---|---|")
        for label, key in PHASES:
            if key in cold and key in warm:
                print(f"| {label} | {cold[key]:.2f} | {warm[key]:.2f} |")
    if race:
        print(f"\nRace optimizers (defaults), click -> both charts: a visit's first race {race['before_warm_up']:.2f} s "
              f"when clicked at once, {race['after_warm_up']:.2f} s after the page's warm-up; the next races "
              f"{race['warm']:.2f} s (medians; " + "; ".join(f"{k}: {', '.join(f'{x:.2f}' for x in v)}"
                                                          for k, v in race["all"].items()) + ")")
    print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
