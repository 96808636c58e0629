"""Training time in the Streamlit app with the live views on vs off (goal: on <= 1.2x off).

Starts `streamlit run webapp/app.py` on a free 127.0.0.1 port, opens it in Debian's Chromium (Playwright)
and trains, in interleaved rounds, in two browser sessions: one with "Live charts while training" on (the
loss curve, the decision boundary and the Network view redrawn a few times a second) and one with it off
(only the progress bar moves). The settings come in the address (webapp/links.py), as a user's link would:

- seed: the seed benchmark — circles 800/200, [2, 8, 'relu', 8, 'relu', 1, 'sigmoid'], adam, lr 0.01,
  exponential decay 0.999, 1000 epochs, batch 32, no validation split;
- seed5k: the same for 5000 epochs (a longer run, many live redraws);
- demo: the app's default demo (circles 400, 150 epochs, batch 32, validation split 0.2).

Per round it reads the training time the app reports ("N epochs in X s": the training loop with its live
refreshes, in the server) and the wall time from the click on Train to the results on screen.

    python benchmarks/bench_streamlit.py [--rounds 7] [--only seed|seed5k|demo]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._browser import launch_chromium  # noqa: E402

SEED = {"dataset": "circles", "n_samples": 1000, "test_size": 0.2, "arch": "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']",
        "optimizer": "adam", "learning_rate": 0.01, "lr_schedule": "exponential", "lr_decay": 0.999,
        "epochs": 1000, "batch_size": 32, "validation_split": 0.0}
DEMO = {}   # the app's defaults
CASES = {"seed": SEED, "seed5k": {**SEED, "epochs": 5000}, "demo": DEMO}
TIMEOUT = 120_000


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "webapp" / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the Streamlit server did not start")


def open_session(browser, url, settings, live):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT)
    page = ctx.new_page()
    query = "&".join(f"{k}={quote(str(v))}" for k, v in settings.items())
    page.goto(url + ("?" + query if query else ""))
    page.get_by_role("button", name="Train", exact=True).wait_for()
    box = page.locator('[data-testid="stSidebar"]').get_by_role("checkbox", name="Live charts while training")
    if box.is_checked() != live:
        page.locator('[data-testid="stSidebar"]').get_by_text("Live charts while training").click()
        page.wait_for_timeout(500)
    assert box.is_checked() == live
    return page


def train_once(page, n):
    """Click Train; return (seconds the app reports for the training, wall seconds to the results)."""
    t0 = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(f"Results · run {n}").wait_for()
    caption = page.get_by_text(re.compile(r"\d+ epochs in [\d.]+ s")).first
    caption.wait_for()
    wall = time.perf_counter() - t0
    secs = float(re.search(r"epochs in ([\d.]+) s", caption.inner_text()).group(1))
    page.wait_for_timeout(300)   # let the browser finish drawing before the other session trains
    return secs, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", choices=sorted(CASES))
    args = ap.parse_args()
    os.environ.setdefault("MLP_BLAS_THREADS", "1")
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            for name, settings in CASES.items():
                if args.only and name != args.only:
                    continue
                pages = {live: open_session(browser, url, settings, live) for live in (True, False)}
                times = {True: [], False: []}
                train_once(pages[True], 1)      # warm-up: first imports, first chart drawn
                train_once(pages[False], 1)
                for r in range(args.rounds):
                    order = (True, False) if r % 2 == 0 else (False, True)
                    for live in order:
                        times[live].append(train_once(pages[live], r + 2))
                on = [t[0] for t in times[True]]
                off = [t[0] for t in times[False]]
                won = [t[1] for t in times[True]]
                woff = [t[1] for t in times[False]]
                ratios = [a / b for a, b in zip(on, off)]
                wratios = [a / b for a, b in zip(won, woff)]
                print(f"{name}: training time live views on {statistics.median(on):.3f} s, off "
                      f"{statistics.median(off):.3f} s -> {statistics.median(ratios):.2f}x (median of "
                      f"{args.rounds} interleaved rounds; per round {', '.join(f'{x:.2f}' for x in ratios)}); "
                      f"click to results {statistics.median(won):.2f} s vs {statistics.median(woff):.2f} s "
                      f"-> {statistics.median(wratios):.2f}x", flush=True)
                for page in pages.values():
                    page.context.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
