"""The Streamlit app while it trains: live frames per second, the first frame, click -> result, live on vs off.

Starts `streamlit run webapp/app.py` on a free 127.0.0.1 port and opens it in Debian's Chromium (Playwright), in
two browser sessions: one with "Live charts while training" on, one with it off. The settings come in the address
(webapp/core/links.py), as a user's link would. Cases:

- default: the app's defaults (what the first Train does);
- 3000: the defaults with 3,000 epochs (a longer run);
- seed: the seed benchmark (circles 1000, [2, 8, 'relu', 8, 'relu', 1, 'sigmoid'], adam 0.01, exponential decay
  0.999, 1,000 epochs, batch 32, no validation split).

Rounds alternate between the two sessions. Per round it reads, in the page, when the Network view, the loss curve
and the decision boundary change on screen (tests/_streamlit.CHART_WATCH_JS), and, from the app, the training
time it reports ("N epochs in X s": the training loop with its live frames). Printed per case (medians over the
rounds): live frames per second (changes of the Network view while training / the training time), the first
frame (click -> the first change), click -> result (the results' Download model button), on a session's first
Train and warm, and the training time with live charts on / off.

    python benchmarks/bench_streamlit.py [--rounds 5] [--only default|3000|seed]
"""
import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._browser import StreamlitServer, launch_chromium  # noqa: E402
from tests._streamlit import CHART_WATCH_JS  # noqa: E402

SEED = {"n_samples": 1000, "arch": "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']", "learning_rate": 0.01,
        "lr_schedule": "exponential", "lr_decay": 0.999, "epochs": 1000, "batch_size": 32, "validation_split": 0.0}
CASES = {"default": {}, "3000": {"epochs": 3000}, "seed": SEED}
TIMEOUT = 180_000


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
    page.wait_for_timeout(500)
    return page


def train_once(page, n):
    """Click Train; return (training seconds the app reports, click -> result seconds, times of the Network
    view's changes after the click)."""
    page.evaluate(CHART_WATCH_JS)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(f"Results · run {n}").wait_for()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    wall = time.perf_counter() - t0
    caption = page.get_by_text(re.compile(r"\d+ epochs in [\d.]+ s")).first
    secs = float(re.search(r"epochs in ([\d.]+) s", caption.inner_text()).group(1))
    page.wait_for_timeout(400)   # the browser finishes drawing before the other session trains
    times = page.evaluate("window.mlpCharts.times")
    return secs, wall, times["network"]


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def measure(browser, url, rounds, only=None):
    """{case: {fps, fps_rounds, first_frame, train_on, train_off, ratio, ratios, warm_on, warm_off, first_on,
    first_off}} (medians over the rounds) for the app at ``url`` (benchmarks/bench_apps.py prints them beside the
    browser app's)."""
    out = {}
    for name, settings in CASES.items():
        if only and name != only:
            continue
        pages = {live: open_session(browser, url, settings, live) for live in (True, False)}
        first = {live: train_once(pages[live], 1) for live in (True, False)}   # a session's first Train
        runs = {True: [], False: []}
        for r in range(rounds):
            for live in ((True, False) if r % 2 == 0 else (False, True)):
                runs[live].append(train_once(pages[live], r + 2))
        on, off = runs[True], runs[False]
        # the last change of the Network view is the results' chart; the ones before it are live frames
        fps = [max(len(t) - 1, 0) / s for s, _, t in on]
        ratios = [a[0] / b[0] for a, b in zip(on, off)]
        out[name] = {"fps": _med(fps), "fps_rounds": fps, "first_frame": _med([t[0] for _, _, t in on if len(t) > 1]),
                     "train_on": _med([x[0] for x in on]), "train_off": _med([x[0] for x in off]),
                     "ratio": _med(ratios), "ratios": ratios, "warm_on": _med([x[1] for x in on]),
                     "warm_off": _med([x[1] for x in off]), "first_on": first[True][1], "first_off": first[False][1]}
        for page in pages.values():
            page.context.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", choices=sorted(CASES))
    args = ap.parse_args()
    os.environ.setdefault("MLP_BLAS_THREADS", "1")
    from playwright.sync_api import sync_playwright

    with StreamlitServer() as server, sync_playwright() as p:
        browser = launch_chromium(p)
        for name, r in measure(browser, server.url, args.rounds, args.only).items():
            print(f"{name}: live frames {r['fps']:.1f}/s (per round {', '.join(f'{x:.1f}' for x in r['fps_rounds'])}); "
                  f"first frame {r['first_frame']:.2f} s after the click; "
                  f"training {r['train_on']:.2f} s live on vs {r['train_off']:.2f} s off -> "
                  f"{r['ratio']:.2f}x (per round {', '.join(f'{x:.2f}' for x in r['ratios'])}); "
                  f"click -> result warm {r['warm_on']:.2f} s live on, "
                  f"{r['warm_off']:.2f} s off; a session's first Train {r['first_on']:.2f} s live on, "
                  f"{r['first_off']:.2f} s off", flush=True)
        browser.close()
        print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
