"""The two front ends side by side while they train: the Streamlit app and the browser app, the same cases measured
the same way in one run (not a test).

    python benchmarks/bench_apps.py [--rounds 5] [--only default|3000|seed] [--pyodide DIR] [--site DIR]

Starts `streamlit run webapp/app.py` and serves the offline static site (built with the local Pyodide runtime, or
--site), both on 127.0.0.1, and measures each with benchmarks/bench_streamlit.measure and
benchmarks/bench_browser.measure in Debian's Chromium: for every case of bench_streamlit.CASES, live frames per
second of the Network view, the first frame after the click, click -> result (a session's first Train, and warm)
and the training time with live charts on / off. Prints one Markdown table, medians over the rounds.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import bench_browser  # noqa: E402
import bench_streamlit  # noqa: E402

from tests._browser import StaticServer, browser_skip_reason, launch_chromium  # noqa: E402
from tests._browser import StreamlitServer  # noqa: E402

ROWS = (("live frames of the Network view", lambda r: f"{r['fps']:.1f}/s"),
        ("first frame after the click", lambda r: f"{r['first_frame']:.2f} s"),
        ("click → result, a session's first Train (live on / off)", lambda r: f"{r['first_on']:.2f} / "
                                                                           f"{r['first_off']:.2f} s"),
        ("click → result, warm (live on / off)", lambda r: f"{r['warm_on']:.2f} / {r['warm_off']:.2f} s"),
        ("training time, live on / off", lambda r: f"{r['train_on']:.2f} / {r['train_off']:.2f} s: "
                                                   f"**{r['ratio']:.2f}x**"))


def table(streamlit, browser):
    """The Markdown table of both apps' results (``measure`` dicts)."""
    lines = ["| case | measure | Streamlit | browser |", "|---|---|---|---|"]
    for case in streamlit:
        for k, (label, fmt) in enumerate(ROWS):
            lines.append(f"| {case if k == 0 else ''} | {label} | {fmt(streamlit[case])} | {fmt(browser[case])} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=sorted(bench_streamlit.CASES))
    ap.add_argument("--pyodide", type=Path, default=None, help="local Pyodide runtime (default: as the tests)")
    ap.add_argument("--site", type=Path, default=None, help="an already built site (skips the build)")
    args = ap.parse_args(argv)
    reason = browser_skip_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    os.environ.setdefault("MLP_BLAS_THREADS", "1")
    tmp, site = (None, args.site) if args.site else bench_browser.build_site(args.pyodide)
    from playwright.sync_api import sync_playwright
    with StreamlitServer() as st_server, StaticServer(site) as static, sync_playwright() as pw:
        chromium = launch_chromium(pw)
        streamlit = bench_streamlit.measure(chromium, st_server.url, args.rounds, args.only)
        browser = bench_browser.measure(chromium, static.url, args.rounds, args.only)
        chromium.close()
    print(f"Chromium {bench_browser.chromium_version()}, {args.rounds} rounds, medians "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):\n")
    print(table(streamlit, browser))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
