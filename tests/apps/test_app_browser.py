"""The Streamlit app in a real browser: Playwright drives Debian's chromium against a live
`streamlit run webapp/app.py` server started here on a free 127.0.0.1 port."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import mlp
from tests._browser import browser_skip_reason, launch_chromium
from tests.apps.test_session import labelled_csv

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
WAIT = 30_000  # ms, generous for a loaded CI machine


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A live Streamlit server for the app; yields its URL."""
    reason = browser_skip_reason()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "webapp" / "app.py"),
           "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("streamlit server did not start:\n" + proc.stdout.read().decode(errors="replace"))
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (= a new Streamlit session) per test."""
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(WAIT)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def _train_button(page):
    return page.get_by_role("button", name="Train", exact=True)


def _download(page, label, path):
    with page.expect_download() as d:
        page.get_by_role("button", name=label, exact=True).click()
    d.value.save_as(path)
    return path


def _upload_csv(page, name, data):
    page.locator('[data-testid="stSidebar"]').get_by_text("Upload CSV", exact=True).first.click()
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])


def _open_and_train(page, url):
    """Open the app, click Train on the default; returns (seconds to the Train button, total seconds)."""
    t0 = time.perf_counter()
    page.goto(url)
    _train_button(page).wait_for()
    t1 = time.perf_counter()
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    return t1 - t0, time.perf_counter() - t0


def test_open_train_default_download_and_load(server, browser, page, tmp_path, capsys):
    ready, total = _open_and_train(page, server)
    # a second visitor (new session, empty browser cache) on the now-warm server
    ctx = browser.new_context()
    ctx.set_default_timeout(WAIT)
    ready2, total2 = _open_and_train(ctx.new_page(), server)
    ctx.close()
    with capsys.disabled():
        print(f"\n[browser] open page -> trained default model: {total:.2f} s on a cold server "
              f"(Train button after {ready:.2f} s); {total2:.2f} s warm (button after {ready2:.2f} s)")
    page.get_by_text("accuracy (test)").wait_for()
    assert page.get_by_text("Decision boundary").count() >= 1
    # the results come into view without scrolling: the decision boundary starts on the first screen
    box = page.get_by_text("Decision boundary").first.bounding_box()
    assert box is not None and box["y"] < 800, box

    model = mlp.load(_download(page, "Download model", tmp_path / "model.mlp"))
    assert model.n_inputs == 2 and model.preprocessor.features == ["x1", "x2"]
    # the trained default explained: every formula typesets (tiny gradients in 10^{-k} notation included)
    page.get_by_text("Explain a step", exact=True).click()
    page.locator(".katex").first.wait_for()
    page.get_by_text(f"Training row 0 (of 0–{DEFAULT_ROWS - 1})").wait_for()
    assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").all_inner_texts()
    preds = mlp.data.read_csv(_download(page, "Download predictions (CSV)", tmp_path / "pred.csv"))
    assert preds.columns == ["split", "x1", "x2", "y", "predicted_y", "p(0)", "p(1)"]
    # the downloaded model reproduces the app's predictions from raw columns
    mine = model.predict(model.preprocessor.transform_X(preds))[:, 0]
    np.testing.assert_allclose(mine, np.asarray(preds.column("p(1)"), float), atol=1e-6)
    test = [r for r in zip(preds.column("split"), preds.column("y"), preds.column("predicted_y")) if r[0] == "test"]
    assert np.mean([y == p for _, y, p in test]) >= 0.95


def test_upload_csv_with_string_labels_and_train(server, page):
    page.goto(server)
    _train_button(page).wait_for()
    _upload_csv(page, "iris_like.csv", labelled_csv())
    page.get_by_text("Data preview").wait_for()
    page.get_by_text("iris_like.csv: binary classification").wait_for()
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    page.get_by_text("Confusion matrix (test)").first.wait_for()
    assert page.get_by_text("virginica").count() >= 1


def test_broken_csv_shows_error_and_app_keeps_working(server, page):
    page.goto(server)
    _train_button(page).wait_for()
    _upload_csv(page, "broken.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n")
    err = page.locator('[data-testid="stAlertContentError"]')
    err.first.wait_for()
    assert "line 3 has 2 fields" in err.first.inner_text()
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": labelled_csv(sep=";")}])
    page.get_by_text("good.csv: binary classification").wait_for()
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()


def test_stop_keeps_the_model_trained_so_far(server, page, tmp_path):
    page.goto(server)
    arch = page.get_by_role("textbox", name="Architecture")
    arch.fill("[2, 256, 'relu', 256, 'relu', 1, 'sigmoid']")
    arch.press("Enter")
    page.get_by_text("66,817 parameters").wait_for()
    _type_number(page, "Epochs", "10000")
    _train_button(page).click()
    page.get_by_text(re.compile(r"Epoch \d+/10000")).first.wait_for()  # live progress
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("the model trained so far is kept").first.wait_for()
    model = mlp.load(_download(page, "Download model", tmp_path / "stopped.mlp"))
    assert 0 < len(model.history.epochs) < 10000


# ------------------------------------------------------------------ Step, Explain, the live network view and links in the browser

from urllib.parse import quote  # noqa: E402

from webapp.core import links as L  # noqa: E402
from webapp.core import session as S  # noqa: E402

BIG = "[2, 64, 'relu', 64, 'relu', 1, 'sigmoid']"
DEFAULT_ROWS = S.prepare_builtin(**L.session_args({})["prepare"]).n_train   # training rows of the default data


def _epoch(page, n):
    page.get_by_text(f"Epoch {n}", exact=True).wait_for()


def _settled(page):
    """Wait until the script run has finished drawing (Streamlit marks elements of the previous run stale)."""
    page.wait_for_function("() => !document.querySelector('[data-stale=true]')")


def _choose(page, label, option):
    """Pick ``option`` in the select box ``label`` (again if a rerun redrew the box while it was open)."""
    box = page.get_by_role("combobox", name=label)
    for attempt in range(3):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: the list closed; open it again
            if attempt == 2:
                raise
    page.wait_for_function("([label, v]) => [...document.querySelectorAll('input[role=combobox]')]"
                           ".some(e => e.getAttribute('aria-label') === label && e.value === v)", arg=[label, option])


def _slide(page, label, value):
    """Move the select slider ``label`` to the option shown as ``value`` with the keyboard."""
    slider = page.get_by_role("slider", name=label)
    slider.focus()
    slider.press("Home")
    for _ in range(30):
        if slider.get_attribute("aria-valuetext") == value:
            break
        slider.press("ArrowRight")
    assert slider.get_attribute("aria-valuetext") == value


def _type_number(page, label, value):
    """Type ``value`` into the number box ``label`` and press Enter; again if a rerun still under way (a loaded
    machine) redrew the box with its old value before the new one reached the server."""
    box = page.get_by_role("spinbutton", name=label)
    for attempt in range(3):
        box.fill(value)
        box.press("Enter")
        try:
            page.wait_for_function(f"() => location.search.includes('{label.lower()}={value}')", timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            if attempt == 2:
                raise
            _settled(page)


def _network_pictures(page):
    """The data URIs of the node pictures of the Network chart on the page (they change as it learns), drawn by
    st.plotly_chart or, while training runs, by the live component."""
    chart = page.locator(".js-plotly-plot").filter(has_text="Network").first
    chart.wait_for()
    return chart.locator("image").evaluate_all("els => els.map(e => e.getAttribute('href')).join('|')")


def _tex(page):
    """The TeX source of every KaTeX formula on the page (KaTeX keeps it in a MathML annotation)."""
    return page.locator(".katex annotation").evaluate_all("els => els.map(e => e.textContent)")


def test_step_reset_and_explain_match_the_trace(server, page, tmp_path):
    page.goto(server)
    for n in (1, 2, 3):
        page.get_by_role("button", name="Step", exact=True).click()
        _epoch(page, n)
    page.get_by_role("button", name="Reset", exact=True).click()
    _epoch(page, 0)
    page.get_by_text("Fresh weights, not trained yet").wait_for()
    page.get_by_role("button", name="Step", exact=True).click()
    _epoch(page, 1)
    _settled(page)
    page.get_by_text("Explain a step", exact=True).click()
    row = page.get_by_role("spinbutton", name="Training row")
    row.fill("5")
    row.press("Enter")
    page.get_by_text(f"Training row 5 (of 0–{DEFAULT_ROWS - 1})").wait_for()
    assert page.locator(".katex").count() >= 20
    assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").all_inner_texts()
    tex = " ".join(_tex(page))
    model = mlp.load(_download(page, "Download model", tmp_path / "m.mlp"))
    prepared = S.prepare_builtin(**L.session_args({})["prepare"])
    tr = model.trace(prepared.X_train[5:6], prepared.y_train[5:6])
    assert f"{tr.loss:.4g}" in tex
    for z in tr.layers[0].z[0]:
        assert f"{z:.4g}" in tex or abs(z) < 1e-3, (z, tex[:500])
    assert page.get_by_text("mlp/reference.py").count() >= 5


def test_network_moves_while_training_and_step_then_pauses(server, page):
    # 2,000 rows: 10,000 epochs take long enough, even on a quiet machine, to still be running when the
    # test presses Step and opens Explain (with 400 rows the run could end first)
    page.goto(server + "?epochs=10000&n_samples=2000&arch=" + quote(BIG))
    page.get_by_text("4,417 parameters").wait_for()
    _train_button(page).click()
    page.get_by_text(re.compile(r"Epoch \d+/10000")).first.wait_for()
    first = _network_pictures(page)
    deadline = time.monotonic() + 20
    while _network_pictures(page) == first:   # the live view is redrawn with the training's new weights
        assert time.monotonic() < deadline, "the Network chart did not change during training"
        page.wait_for_timeout(200)
    assert page.get_by_text(re.compile(r"Epoch \d+/10000")).count() >= 1   # still training
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text("Step was pressed while training was running").wait_for()
    page.get_by_text("the model trained so far is kept").first.wait_for()
    shown = page.get_by_text(re.compile(r"^Epoch \d+$")).first.inner_text()
    assert int(shown.split()[1]) > 0
    page.get_by_role("button", name="Step", exact=True).click()
    _epoch(page, int(shown.split()[1]) + 1)
    _settled(page)
    # Explain while training runs: the training pauses (nothing lost) and the step is explained
    page.get_by_text("Explain a step", exact=True).click()
    page.get_by_role("button", name="Resume", exact=True).click()
    page.get_by_text(re.compile(r"Epoch \d+/10000")).first.wait_for()
    row = page.get_by_role("spinbutton", name="Training row")
    row.fill("3")
    row.press("Enter")
    page.get_by_text("so this step can be explained").wait_for()
    page.get_by_text("Training row 3 (of 0–").wait_for()
    assert page.locator(".katex").count() >= 20


def test_address_new_tab_share_link_and_broken_link(server, browser, page, tmp_path):
    page.goto(server)
    _train_button(page).wait_for()
    _choose(page, "Dataset", "moons")
    page.get_by_text("Two interleaving half circles", exact=False).first.wait_for()
    page.locator('[data-testid="stSidebar"]').get_by_text("x1²", exact=True).click()
    page.get_by_text("3 network inputs", exact=False).first.wait_for()     # transforms: one more input
    assert page.get_by_role("textbox", name="Architecture").input_value().startswith("[3, ")
    _slide(page, "L1", "0.001")
    page.wait_for_function("() => location.search.includes('l1=0.001')")
    _settled(page)
    _type_number(page, "Epochs", "40")
    page.wait_for_function("() => location.search.includes('epochs=40') && location.search.includes('l1=0.001')"
                           " && location.search.includes('dataset=moons')")
    # the address, opened in a new tab: the same settings (a new session)
    tab = page.context.new_page()
    tab.goto(page.url)
    tab.get_by_role("spinbutton", name="Epochs").wait_for()
    assert tab.get_by_role("spinbutton", name="Epochs").input_value() == "40"
    assert tab.locator('[data-testid="stSidebar"]').get_by_role("checkbox", name="x1²").is_checked()
    assert tab.get_by_role("slider", name="L1").get_attribute("aria-valuetext") == "0.001"
    assert tab.get_by_role("combobox", name="Dataset").input_value() == "moons"
    tab.close()
    # train, then the Share link in a new tab shows that model at once, and its download has the same weights
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    net = page.locator(".js-plotly-plot").filter(has_text="Network").first
    assert "x1²" in net.inner_text()
    mine = mlp.load(_download(page, "Download model", tmp_path / "mine.mlp"))
    assert mine.n_inputs == 3 and mine.optimizer.hyper["l1"] == 0.001
    href = page.get_by_role("link", name="Share link").get_attribute("href")
    assert href.startswith(server.rstrip("/")) and "model=" in href
    tab = page.context.new_page()
    tab.goto(href)
    tab.get_by_text("opened from a link").first.wait_for()
    assert tab.get_by_text("Epoch 40", exact=True).count() == 1
    theirs = mlp.load(_download(tab, "Download model", tmp_path / "theirs.mlp"))
    for a, b in zip(theirs.get_weights(), mine.get_weights()):
        np.testing.assert_array_equal(a, b)
    # a hand-broken link: notes on the page, and the app still trains
    tab.goto(server + "?n_samples=abc&zzz=1&epochs=-1&optimizer=sgd&yyy=see%20https://example.invalid/x%20[a](b)")
    warn = tab.locator('[data-testid="stAlertContentWarning"]')
    warn.first.wait_for()
    text = " ".join(warn.all_inner_texts())
    assert "n_samples" in text and "zzz" in text and "epochs" in text
    assert "example.invalid" in text and warn.locator("a").count() == 0     # a value is text, never a link
    _train_button(tab).click()
    tab.get_by_role("button", name="Download model", exact=True).wait_for()
    assert "sgd" in tab.get_by_text(re.compile(f"{L.defaults()['epochs']} epochs in")).first.inner_text()
    tab.close()


# ------------------------------------------------------------------ issue 16: live frames, accessibility

from tests._browser import axe_violations  # noqa: E402
from tests._streamlit import CHART_WATCH_JS  # noqa: E402


def test_the_network_view_moves_at_least_six_times_in_a_3000_epoch_run(server, page):
    """Live frames reach the page while the script trains (drawn in place by the live component)."""
    page.goto(server + "?epochs=3000")
    _train_button(page).wait_for()
    _settled(page)
    page.evaluate(CHART_WATCH_JS)
    _train_button(page).click()
    # 3,000 epochs take 6-13 s here, longer while other jobs share the two cores: wait for the end, not a speed
    page.get_by_role("button", name="Download model", exact=True).wait_for(timeout=180_000)
    page.wait_for_timeout(500)
    times = page.evaluate("window.mlpCharts.times")
    # the last change is the results' chart; the ones before it came while the training ran
    assert len(times["network"]) - 1 >= 6, times
    assert len(times["loss"]) - 1 >= 6 and len(times["main"]) - 1 >= 6, times
    assert page.get_by_text("3000 epochs in").count() == 1


def test_the_app_has_no_wcag_a_or_aa_violation(server, page):
    """axe-core (npm, pinned in static/package.json) on every screen: before and after training, Explain a step,
    Compare runs, Use a model."""
    page.goto(server)
    _train_button(page).wait_for()
    _settled(page)
    assert axe_violations(page) == []
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    _settled(page)
    assert axe_violations(page) == []
    page.get_by_text("Explain a step", exact=True).click()
    page.locator(".katex").first.wait_for()
    _settled(page)
    assert axe_violations(page) == []
    for tab in ("Compare runs", "Use a model"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        assert axe_violations(page) == [], tab
