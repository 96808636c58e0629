"""End-to-end test of the static (Pyodide) site in real Chromium, fully offline.

Builds the site with the local Pyodide runtime, serves it on 127.0.0.1, blocks every other host, and drives
the page: train the default demo, stop a run, download the model and open it with `mlp.load`, CSV with string
labels, broken inputs (role="alert"), a model made by the Python session layer predicting in the page, and
finally a reload with the server stopped (the service worker serves the app).
Skipped, saying why, without Playwright/Chromium or a local Pyodide runtime.
"""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests._browser import (COUNT_COMPILATIONS, MIME_TYPES, PYODIDE_HINT, TRAIN_MS, StaticServer, axe_violations,
                            block_external, click_and_wait, close_offline_context, download_model, offline_context,
                            open_page, pyodide_runtime_dir, set_value, synced, train_in_page, wait_loaded, wait_ready,
                            wait_synced)
from tests._browser import browser, server, site  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser
FRUIT_CSV = "\n".join(["weight,colour,sweet,fruit"] + [
    f"{100 + (7 * i) % 60},{['red', 'green', 'yellow'][i % 3]},{(i * 13) % 10 / 10},"
    f"{['apple', 'pear', 'banana'][(i + (i // 7)) % 3]}" for i in range(90)]) + "\n"
BROKEN_CSV = "a,b,label\n1,2,x\n3,4\n5,6,y,7\n"


@pytest.fixture(scope="module")
def ctx(browser):
    """One browser context for the whole scenario; every non-127.0.0.1 request is aborted and recorded."""
    context = offline_context(browser, accept_downloads=True)
    yield context
    close_offline_context(context)


@pytest.fixture(scope="module")
def page(ctx, server):
    return open_page(ctx, server.url)


def _type(page, selector, text):
    """Type into a text control (sent once typing pauses); wait until the core's view of it is drawn back."""
    before = synced(page)
    page.fill(selector, text)
    wait_synced(page, before)


def _choose(page, selector, value):
    """Pick ``value`` in a select control; wait until the core's view of it is drawn back."""
    before = synced(page)
    page.select_option(selector, str(value))
    wait_synced(page, before)


def _alert(page):
    page.wait_for_selector("[role=alert]:not([hidden])", timeout=15_000)
    return page.get_by_role("alert").inner_text()


def _use_csv(page, name, text):
    if not page.is_checked("input[name=source][value=csv]"):
        before = synced(page)
        page.check("input[name=source][value=csv]")
        wait_synced(page, before)
    page.set_input_files("#csv-file",
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])


def test_train_is_loading_then_ready(page):
    btn = page.locator("#train")
    assert btn.is_disabled()
    assert btn.inner_text() in ("loading…", "Train")  # "Train" only if the runtime was already up
    wait_ready(page)
    assert page.locator("#arch").input_value() == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    assert page.locator("#loss").input_value() == "bce"  # the loss choices are there before Train is enabled
    # the data plot (Plotly.js, from charts.py) is drawn right after Train is enabled
    page.wait_for_selector("#pred-chart .main-svg", timeout=15_000)


def _default_data():
    """The default data, prepared by the core's session functions as the page's core does."""
    from webapp.core import session
    from webapp.core import settings as T
    return session.prepare_builtin(**T.session_args({})["prepare"])


def test_train_default_demo_and_download_model(page, tmp_path):
    import mlp
    from webapp.core import session
    from webapp.core import settings as T
    epochs = T.SETTINGS["epochs"].default
    status = train_in_page(page)
    assert status.startswith(f"Done: circles · [2, 8, 'relu', 8, 'relu', 1, 'sigmoid'] · {epochs} epochs"), status
    assert page.inner_text("#epoch-counter") == f"Epoch {epochs}"
    assert page.evaluate("window.mlpStats.progress") >= 2  # live progress during the run
    metrics = page.inner_text("#metrics")
    assert "accuracy" in metrics and "test" in metrics
    assert page.locator("#loss-chart .main-svg").count() > 0
    assert page.locator("#pred-chart .heatmaplayer, #pred-chart .hm").count() > 0  # decision boundary
    with page.expect_download() as dl:
        page.click("#download")
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.suffix == ".mlp"
    model = mlp.load(str(path))
    assert model.n_inputs == 2 and model.n_outputs == 1 and model.preprocessor is not None
    assert len(model.history.history["loss"]) == epochs
    import numpy as np
    prepared = _default_data()
    acc = session.evaluate(model, prepared)["test"]["accuracy"]
    assert acc > 0.8, acc
    assert np.isfinite(model.predict(prepared.X_test)).all()
    # the page's predictions of the run: session.predictions_csv of the downloaded model, to the last bits of the
    # generated points (wasm's and the host's libm may differ by one unit in the last place)
    with page.expect_download() as dl:
        page.click("#download-run-predictions")
    got = mlp.data.read_csv(Path(dl.value.path()).read_text())
    want = mlp.data.read_csv(session.predictions_csv(model, prepared))
    assert got.columns == want.columns and len(got) == len(want)
    for col in want.columns:
        if col == "split":
            assert got.column(col) == want.column(col)
        else:
            np.testing.assert_allclose(got.values(col), want.values(col), rtol=1e-9, atol=1e-12)


def _epoch(page):
    return int(page.get_attribute("#epoch-counter", "data-epoch") or 0)


def _network_html(page):
    return page.evaluate("document.getElementById('network-chart').innerHTML")


def test_network_moves_during_a_long_run_stop_pauses_resume_continues(page):
    wait_ready(page)
    set_value(page, "#epochs", 10000)
    page.click("#train")
    page.wait_for_function("document.getElementById('train-status').textContent.startsWith('Epoch')",
                           timeout=TRAIN_MS)
    # the Network chart is redrawn while training runs, and what it shows changes
    n0 = page.evaluate("window.mlpStats.networkDraws || 0")
    page.wait_for_function(f"(window.mlpStats.networkDraws || 0) > {n0}", timeout=TRAIN_MS)
    first = _network_html(page)
    # the live decision boundary: its points keep their trace objects (Plotly redraws only the map, a picture)
    page.evaluate("window.__points = document.getElementById('pred-chart').data[1];"
                  "window.__map = document.getElementById('pred-chart').layout.images[0].source")
    page.wait_for_function(f"(window.mlpStats.networkDraws || 0) > {n0 + 2}", timeout=TRAIN_MS)
    assert _network_html(page) != first
    assert page.evaluate("document.getElementById('pred-chart').layout.images[0].source !== window.__map")
    assert page.evaluate("document.getElementById('pred-chart').data[1] === window.__points")
    assert "Network" in page.inner_text("#network-chart")
    # Step while training: the core pauses the training (nothing is lost) and says so; Resume goes on
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#step")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=TRAIN_MS)
    page.wait_for_selector("#train-notes:not([hidden])", timeout=15_000)
    assert "Step was pressed while training was running" in page.inner_text("#train-notes")
    paused_at = _epoch(page)
    assert 0 < paused_at < 10000 and page.is_enabled("#resume")
    page.click("#resume")
    page.wait_for_function(f"Number(document.getElementById('epoch-counter').dataset.epoch) > {paused_at + 5}",
                           timeout=TRAIN_MS)
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#stop")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=TRAIN_MS)
    status = page.inner_text("#train-status")
    stopped_at = _epoch(page)
    assert status.startswith(f"Stopped: stopped after epoch {stopped_at}"), status
    assert paused_at + 5 < stopped_at < 10000 and page.inner_text("#epoch-counter") == f"Epoch {stopped_at}"
    assert page.is_enabled("#download") and page.is_enabled("#train") and page.is_enabled("#resume")
    # Explain while training pauses it too, with a note among the explanation's
    page.click("#resume")
    page.wait_for_function(f"Number(document.getElementById('epoch-counter').dataset.epoch) > {stopped_at + 5}",
                           timeout=TRAIN_MS)
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#explain summary")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=TRAIN_MS)
    page.wait_for_function("document.getElementById('explain-out').textContent.includes('it is paused at epoch')",
                           timeout=TRAIN_MS)
    page.click("#explain summary")
    assert _epoch(page) > stopped_at + 5
    set_value(page, "#epochs", 300)


def _numbers(tex):
    """Every number written in a LaTeX string (1.2 \\times 10^{-5} read as 1.2e-5)."""
    tex = re.sub(r"([-\d.]+)\s*\\times\s*10\^\{([-\d]+)\}", r"\1e\2", tex)
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", tex)]


def _has_number(texts, value):
    nums = [v for t in texts for v in _numbers(t)]
    return any(abs(v - value) <= 1e-3 * max(abs(value), 1e-3) for v in nums), (value, nums)


def test_the_warm_up_draws_off_screen_leaves_nothing_and_trains_nothing_of_the_page(ctx, server):
    # once the first screen of a new page is usable and idle, the worker warms up on a throwaway run; the page
    # draws its figures off screen and removes them: no chart, run or counter of the page changes
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(server.url)
    wait_ready(page)
    page.wait_for_selector("#pred-chart .main-svg", timeout=15_000)   # the data chart
    charts = page.locator(".js-plotly-plot").count()
    page.wait_for_function("document.body.dataset.warm === '1'", timeout=TRAIN_MS)
    assert page.locator(".warm-up").count() == 0 and page.locator(".js-plotly-plot").count() == charts
    assert page.inner_text("#epoch-counter") == "Epoch 0" and page.is_disabled("#download")
    assert not page.errors, page.errors
    assert train_in_page(page).startswith("Done:")
    page.close()


def test_step_reset_and_explain_match_the_trace_of_the_downloaded_model(page, tmp_path):
    import numpy as np
    from webapp.core import settings as T
    wait_ready(page)
    click_and_wait(page, "#reset", "stepped")
    assert page.inner_text("#epoch-counter") == "Epoch 0"
    for _ in range(3):
        click_and_wait(page, "#step", "stepped")
    assert page.inner_text("#epoch-counter") == "Epoch 3"
    page.click("#explain summary")
    page.wait_for_function("Number(document.body.dataset.explained || 0) > 0", timeout=TRAIN_MS)
    page.fill("#explain-row", "5")
    click_and_wait(page, "#explain-go", "explained")
    assert page.locator("#explain-out .katex").count() >= 10  # typeset by the vendored KaTeX
    assert "Training row 5" in page.inner_text("#explain-out")
    code = page.inner_text("#explain-out .explain-step[data-id=loss] pre.code")
    assert "def loss_value" in code  # the reference implementation's own source, beside the formula
    layer, i, j = (int(page.input_value(f"#explain-{k}")) for k in ("layer", "i", "j"))
    # independent truth: the same model (downloaded) traced natively on the same training row
    model = download_model(page, tmp_path)
    prepared = _default_data()
    t = model.trace(prepared.X_train[5:6], prepared.y_train[5:6], learning_rate=T.SETTINGS["learning_rate"].default)
    L = t.layers[layer - 1]

    def texts(section):
        return page.eval_on_selector_all(f"#explain-out .explain-step[data-id^={section}] .formula",
                                         "els => els.map(e => e.dataset.tex)")
    for section, value in (("loss", t.loss), ("forward-1", t.layers[0].z[0, j if layer == 1 else 0]),
                           ("gradient", L.grad_W[i, j]), ("update", L.update_W[i, j])):
        ok, info = _has_number(texts(section), float(value))
        assert ok, (section, info)
    assert _has_number(texts("forward-1"), float(np.asarray(t.x)[0, 0]))[0]
    rendered = page.inner_text("#explain-out .explain-step[data-id=loss] .katex-html").replace("\n", "")
    assert _has_number([rendered], float(t.loss))[0], (rendered, t.loss)   # typeset, as written
    # a row out of range: a clear message, the explanation stays
    page.fill("#explain-row", "100000")
    page.click("#explain-go")
    assert "row" in _alert(page).lower()
    assert page.locator("#explain-out .katex").count() >= 10
    page.fill("#explain-row", "0")
    click_and_wait(page, "#explain-go", "explained")
    page.click("#explain summary")


def test_the_lr_schedule_is_a_control_and_its_decay_shows_with_the_exponential_one(ctx, server):
    """The page has Streamlit's LR schedule choice; the decay applies (is shown, and in the address) only with
    the exponential schedule, as its row in the settings table says."""
    other = open_page(ctx, server.url, ready=True)
    try:
        assert other.is_hidden("#lr_decay")
        _choose(other, "#lr_schedule", "exponential")
        assert other.is_visible("#lr_decay")
        set_value(other, "#lr_decay", "0.99")
        assert "lr_schedule=exponential" in other.evaluate("location.hash")
        assert "lr_decay=0.99" in other.evaluate("location.hash")
        _choose(other, "#lr_schedule", "cosine")
        assert other.is_hidden("#lr_decay") and "lr_decay" not in other.evaluate("location.hash")
        assert "lr_schedule=cosine" in other.evaluate("location.hash")
        assert not other.errors, other.errors
    finally:
        other.close()


def test_explain_shows_its_notes(ctx, server):
    """What the numbers mean beyond the formulas (here: dropout is off in the explained step) is on the page."""
    from urllib.parse import quote
    other = open_page(ctx, server.url + "#arch=" + quote("[2, 8, 'relu', 'dropout(0.2)', 1, 'sigmoid']"), ready=True)
    try:
        click_and_wait(other, "#step", "stepped")
        other.click("#explain summary")
        other.wait_for_function("Number(document.body.dataset.explained || 0) > 0", timeout=TRAIN_MS)
        assert "Dropout is off here" in other.inner_text("#explain-out .explain-note")
        assert not other.errors, other.errors
    finally:
        other.close()


def test_transforms_change_the_inputs_and_l1_reaches_the_model(page, tmp_path):
    wait_ready(page)
    page.check("input[name=transforms][value='x1^2']")
    page.wait_for_function("document.getElementById('arch').value.startsWith('[3,')", timeout=15_000)
    page.check("input[name=transforms][value='x2^2']")
    page.wait_for_function("document.getElementById('arch').value.startsWith('[4,')", timeout=15_000)
    _choose(page, "#l1", "0.001")
    click_and_wait(page, "#step", "stepped")
    assert "Input · 4" in page.inner_text("#network-chart")
    model = download_model(page, tmp_path)
    assert model.n_inputs == 4 and tuple(model.preprocessor.transforms) == ("x1^2", "x2^2")
    assert model.optimizer.hyper["l1"] == 0.001
    page.uncheck("input[name=transforms][value='x2^2']")
    page.wait_for_function("document.getElementById('arch').value.startsWith('[3,')", timeout=15_000)
    # 1-D data cannot have them: the core clears them, says so below the dataset, and offers none
    _choose(page, "#dataset", "sine")
    assert page.inner_text("[data-note-for=dataset]") == ("Extra inputs x1² cleared: it needs two inputs, x1 and "
                                                          "x2, and the 'sine' dataset has 1.")
    assert page.is_hidden("[data-setting=transforms]") and page.is_hidden("#alert")
    page.wait_for_selector("#train:not([disabled])", timeout=15_000)
    assert page.input_value("#arch").startswith("[1,")
    _choose(page, "#dataset", "circles")                  # 2-D again: all five offered, none checked
    assert page.is_visible("[data-setting=transforms]") and page.is_hidden("[data-note-for=dataset]")
    assert page.eval_on_selector_all("input[name=transforms]", "els => els.map(e => e.value)") == \
        ["x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    assert not page.eval_on_selector_all("input[name=transforms]:checked", "els => els.map(e => e.value)")
    page.wait_for_function("document.getElementById('arch').value.startsWith('[2,')", timeout=15_000)
    _choose(page, "#l1", "0")


FIELDS = ("#dataset", "#n_samples", "#noise", "#data_seed", "#arch", "#loss", "#optimizer", "#learning_rate",
          "#epochs", "#batch_size", "#l1", "#weight_decay", "#seed", "#lr_schedule", "#dropout", "#validation_split",
          "#test_size", "#early_stopping")


def _fields(pg):
    values = {f: pg.input_value(f) for f in FIELDS}
    values["transforms"] = pg.eval_on_selector_all("input[name=transforms]:checked", "els => els.map(e => e.value)")
    return values


def test_settings_live_in_the_address_and_a_new_tab_restores_them(page, ctx):
    wait_ready(page)
    _choose(page, "#dataset", "moons")
    set_value(page, "#noise", "0.25")
    set_value(page, "#data_seed", "7")
    page.check("input[name=transforms][value='x1*x2']")
    page.wait_for_function("document.getElementById('arch').value.startsWith('[3,')", timeout=15_000)
    _type(page, "#arch", "[3, 6, 'tanh', 1, 'sigmoid']")
    _choose(page, "#optimizer", "rmsprop")
    _choose(page, "#learning_rate", "0.03")
    _choose(page, "#l1", "0.0001")
    _choose(page, "#lr_schedule", "step")
    set_value(page, "#dropout", "0.1")
    set_value(page, "#validation_split", "0.3")
    set_value(page, "#seed", "3")
    page.wait_for_function("location.hash.includes('seed=3') && location.hash.includes('rmsprop') && "
                           "location.hash.includes('l1=0.0001') && location.hash.includes('tanh') && "
                           "location.hash.includes('dropout=0.1') && location.hash.includes('lr_schedule=step') && "
                           "location.hash.includes('data_seed=7') && location.hash.includes('validation_split=0.3') && "
                           "location.hash.includes('noise=0.25')",
                           timeout=15_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded
    want = _fields(page)
    other = open_page(ctx, page.url, ready=True)
    try:
        assert _fields(other) == want
        assert other.is_hidden("#link-notes")
        # no model in this tab yet: Explain says so
        other.click("#explain summary")
        assert "no model to explain yet" in _alert(other)
        assert not other.errors, other.errors
    finally:
        other.close()


def test_share_link_opens_the_trained_model_without_training(page, ctx, tmp_path):
    import numpy as np
    wait_ready(page)
    train_in_page(page, epochs=40)
    link = page.locator("#share-link")
    link.wait_for(state="visible", timeout=15_000)
    assert link.inner_text() == "Share link" and page.is_visible("#copy-link")
    href = link.get_attribute("href")
    assert href.startswith(page.url.split("#")[0] + "#") and "model=" in href
    mine = download_model(page, tmp_path, "mine.mlp")
    other = open_page(ctx, href, ready=True)
    try:
        other.wait_for_function("document.getElementById('metrics').textContent.includes('accuracy')",
                                timeout=TRAIN_MS)
        assert other.evaluate("document.body.dataset.trained") is None  # nothing was trained there
        assert "Opened the trained model from the link" in other.inner_text("#train-status")
        assert other.inner_text("#epoch-counter") == "Epoch 40"
        assert other.locator("#pred-chart .main-svg, #network-chart .main-svg").count() >= 2
        assert _fields(other) == _fields(page)
        theirs = download_model(other, tmp_path, "theirs.mlp")
        np.testing.assert_array_equal(theirs.params, mine.params)
        assert not other.errors, other.errors
    finally:
        other.close()
    # back to the default settings for the tests that follow (the page opens its own default address)
    page.evaluate("location.hash = ''")
    page.goto(page.url.split("#")[0])
    wait_loaded(page)


def test_hand_broken_link_shows_a_note_and_the_app_works(ctx, server):
    from webapp.core import settings as T
    other = open_page(ctx, server.url + "#dataset=nope&epochs=abc&arch=%5B2,%20oops&model=AAAA!!&zzz=1", ready=True)
    try:
        other.wait_for_selector("#link-notes:not([hidden])", timeout=15_000)
        notes = other.inner_text("#link-notes")
        assert "dataset" in notes and "epochs" in notes and "model" in notes.lower(), notes
        assert other.input_value("#dataset") == "circles"
        assert other.input_value("#epochs") == str(T.SETTINGS["epochs"].default)
        status = train_in_page(other, epochs=20)
        assert status.startswith("Done: circles") and "· 20 epochs in" in status, status
        # a link pasted into the same tab changes only the fragment (no reload): it is opened all the same
        other.evaluate("location.hash = 'dataset=moons&noise=0.3&epochs=30'")
        other.wait_for_function("document.getElementById('dataset').value === 'moons'", timeout=15_000)
        assert other.input_value("#noise") == "0.30" and other.input_value("#epochs") == "30"
        assert other.is_hidden("#link-notes")
        other.wait_for_function("document.getElementById('data-summary').textContent.startsWith('moons')",
                                timeout=15_000)
        assert not other.errors, other.errors
    finally:
        other.close()


def test_a_full_batch_link_trains_full_batch_and_stays_in_the_address(ctx, server):
    """batch_size=full (as a Streamlit link has it) is an option of the batch size: it trains on the full batch."""
    other = open_page(ctx, server.url + "#batch_size=full&epochs=5", ready=True)
    try:
        assert other.input_value("#batch_size") == "full" and other.is_hidden("#link-notes")
        status = train_in_page(other)
        assert status.startswith("Done: circles") and "5 epochs in" in status and "full batch" in status, status
        set_value(other, "#seed", "4")
        assert "seed=4" in other.evaluate("location.hash") and "batch_size=full" in other.evaluate("location.hash")
        assert not other.errors, other.errors
    finally:
        other.close()


def test_a_typed_value_out_of_range_gets_a_note_about_its_control(ctx, server):
    """A number typed into a control that the table does not allow: the core's note about the control (what is
    wrong, what is allowed, the value kept) below it, never a link's note; the next change clears it."""
    from webapp.core import settings as T
    other = open_page(ctx, server.url + "#epochs=30", ready=True)
    try:
        epochs = T.SETTINGS["epochs"]
        set_value(other, "#epochs", epochs.hi + 5)
        note = other.locator("[data-note-for=epochs]")
        assert note.get_attribute("role") == "alert" and note.is_visible()
        assert note.inner_text() == (f"Epochs: {epochs.hi + 5} cannot be used; it must be a whole number from 1 to "
                                     f"{epochs.hi:,}. Epochs stays 30.")
        assert other.is_hidden("#link-notes") and other.input_value("#epochs") == "30"
        assert "from the link" not in other.inner_text("body")
        set_value(other, "#epochs", "40")
        assert note.is_hidden() and "epochs=40" in other.evaluate("location.hash")
        assert not other.errors, other.errors
    finally:
        other.close()


def test_bad_architecture_shows_engine_message_and_the_fix(page):
    _type(page, "#arch", "[2, 8, 'rel")
    page.wait_for_function("document.getElementById('arch-msg').classList.contains('bad')", timeout=10_000)
    text = page.inner_text("#arch-msg")
    assert "architecture" in text.lower() and "Traceback" not in text
    assert page.is_disabled("#train")   # Train waits for an architecture that fits the data
    _type(page, "#arch", "[3, 8, 'relu', 1, 'sigmoid']")   # the wrong input size: the core offers the fix
    page.wait_for_selector("#arch-msg.bad + button:not([hidden])", timeout=10_000)
    page.click("#arch-msg + button")
    page.wait_for_function("document.getElementById('arch').value === \"[2, 8, 'relu', 1, 'sigmoid']\"",
                           timeout=10_000)
    page.wait_for_function("document.getElementById('arch-msg').classList.contains('ok')", timeout=10_000)
    _type(page, "#arch", "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']")
    page.wait_for_function("document.getElementById('arch-msg').classList.contains('ok')", timeout=10_000)
    page.wait_for_selector("#train:not([disabled])", timeout=10_000)


def test_csv_with_string_labels_trains(page):
    _use_csv(page, "fruit.csv", FRUIT_CSV)
    page.wait_for_function("document.getElementById('data-summary').textContent.includes('banana')",
                           timeout=15_000)
    assert page.locator("#target").input_value() == "fruit"  # last column by default
    assert page.eval_on_selector_all("#features input:checked", "els => els.map(e => e.value)") == \
        ["weight", "colour", "sweet"]
    status = train_in_page(page, epochs=100)
    assert status.startswith("Done: fruit.csv") and "100 epochs in" in status, status
    assert page.locator("#pred-chart .main-svg").count() > 0  # confusion matrix
    assert "accuracy" in page.inner_text("#metrics")


def test_broken_csv_shows_alert_and_page_keeps_working(page):
    """A file that cannot be read is named in the alert; the file read before stays the data (nothing is lost)."""
    _use_csv(page, "broken.csv", BROKEN_CSV)
    text = _alert(page)
    assert "line" in text and "Traceback" not in text
    assert page.inner_text("#csv-info").startswith("fruit.csv:") and page.is_enabled("#train")
    _use_csv(page, "fruit2.csv", FRUIT_CSV)
    page.wait_for_function("document.getElementById('csv-info').textContent.startsWith('fruit2.csv:')",
                           timeout=15_000)
    assert page.is_hidden("#alert") and page.is_enabled("#train")


def test_bad_model_file_shows_alert(page):
    page.get_by_label("Load model").set_input_files(
        files=[{"name": "junk.mlp", "mimeType": "application/octet-stream", "buffer": b"not a model"}])
    text = _alert(page)
    assert "model" in text.lower() and "Traceback" not in text


def test_python_session_model_predicts_in_page(page, tmp_path):
    from webapp.core import session
    prepared = session.prepare_csv(FRUIT_CSV, target="fruit")
    model = session.build_model({"arch": session.default_architecture(prepared), "seed": 2}, prepared)
    session.train(model, prepared, {"epochs": 30})
    page.get_by_label("Load model").set_input_files(
        files=[{"name": "python.mlp", "mimeType": "application/zip", "buffer": model.to_bytes()}])
    page.wait_for_function("document.getElementById('model-info').textContent.includes('python.mlp')",
                           timeout=15_000)
    assert page.is_hidden("#alert")
    page.get_by_label("CSV to predict").set_input_files(
        files=[{"name": "new.csv", "mimeType": "text/csv", "buffer": FRUIT_CSV.encode()}])
    page.wait_for_selector("#download-predictions:not([disabled])", timeout=15_000)
    with page.expect_download() as dl:
        page.click("#download-predictions")
    got = Path(dl.value.path()).read_text()
    assert got == session.predict_csv(model, FRUIT_CSV.encode())
    assert page.is_hidden("#predict-notes")
    # a colour the model never saw: predicted, and the page says so beside the predictions
    page.get_by_label("CSV to predict").set_input_files(
        files=[{"name": "odd.csv", "mimeType": "text/csv", "buffer": b"weight,colour,sweet\n120,blue,0.5\n"}])
    page.wait_for_selector("#predict-notes:not([hidden])", timeout=15_000)
    assert "'colour': 'blue' (1 row)" in page.inner_text("#predict-notes")
    assert page.locator("#predictions tbody tr").count() == 1


def test_compare_runs_overlays_the_loss_curves_of_two_runs(ctx, server):
    """Two runs of different learning rates: Compare runs lists both and overlays their loss curves (the curves
    are the histories of the runs' models, downloaded); unticking one leaves the other."""
    import mlp
    other = open_page(ctx, server.url + "#epochs=30&n_samples=200", ready=True)
    try:
        assert other.is_visible("#compare-empty") and other.is_hidden("#compare-chart")
        train_in_page(other)
        with other.expect_download() as dl:
            other.click("#download")
        first = mlp.load(dl.value.path()).history.history["loss"]
        _choose(other, "#learning_rate", "0.03")
        before = int(other.evaluate("document.body.dataset.compared || 0"))
        train_in_page(other)
        other.wait_for_function(f"Number(document.body.dataset.compared || 0) > {before}", timeout=15_000)
        with other.expect_download() as dl:
            other.click("#download")
        second = mlp.load(dl.value.path()).history.history["loss"]
        assert other.locator("#compare-runs input:checked").count() == 2
        assert other.locator("#compare-table tbody tr").count() == 2
        curves = other.evaluate("""() => Object.fromEntries(document.getElementById('compare-chart').data
                                     .map((t) => [t.name, t.y]))""")
        assert {"run 1 train", "run 2 train"} <= set(curves), curves.keys()
        assert curves["run 1 train"] == first and curves["run 2 train"] == second
        assert other.locator("#compare-chart .scatterlayer .trace").count() >= 2   # drawn
        before = int(other.evaluate("document.body.dataset.compared || 0"))
        other.uncheck("#compare-runs input[value='1']")
        other.wait_for_function(f"Number(document.body.dataset.compared || 0) > {before}", timeout=15_000)
        names = other.evaluate("document.getElementById('compare-chart').data.map((t) => t.name)")
        assert names and all(n.startswith("run 2") for n in names), names
        assert not other.errors, other.errors
    finally:
        other.close()


def test_no_wcag_a_or_aa_violation_before_and_after_training(ctx, server):
    """axe-core (npm) finds no WCAG 2 A/AA violation in the page: at start-up, and with every result, the
    explanation, Compare runs, Use a model and the share link on screen."""
    other = open_page(ctx, server.url + "#epochs=30", ready=True)
    try:
        other.wait_for_selector("#offline-status[data-state=ready]", timeout=60_000)
        assert axe_violations(other) == []
        train_in_page(other)
        train_in_page(other)
        other.click("#explain summary")
        other.wait_for_function("Number(document.body.dataset.explained || 0) > 0", timeout=TRAIN_MS)
        other.wait_for_selector("#share-link:not([hidden])", timeout=15_000)
        found = axe_violations(other)
        assert found == [], "\n".join(found)
        assert not other.errors, other.errors
    finally:
        other.close()


def test_offline_reload_served_by_service_worker(page, server, ctx):
    page.wait_for_selector("#offline-status[data-state=ready]", timeout=60_000)
    wait_ready(page)
    _use_csv(page, "fruit.csv", FRUIT_CSV)
    page.wait_for_function("location.hash.includes('source=csv')", timeout=15_000)  # the address holds the source
    server.stop()
    page.reload()
    wait_loaded(page)
    # a CSV cannot travel in the address: the reloaded page restores the settings and asks for the file
    assert "upload the same file" in page.inner_text("#link-notes")
    assert page.is_checked("input[name=source][value=csv]") and page.is_disabled("#train")
    page.check("input[name=source][value=builtin]")
    # the address carried the CSV's architecture: the core offers the one the circles need
    page.wait_for_selector("#arch-msg.bad + button:not([hidden])", timeout=15_000)
    page.click("#arch-msg + button")
    wait_ready(page)
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    status = train_in_page(page, epochs=20)  # the runtime works from the cache too
    assert status.startswith("Done: circles") and "20 epochs in" in status, status
    assert not page.errors, page.errors
    assert not ctx.blocked, ctx.blocked


# ---------------------------------------------------------------- public (CDN) build

CDN = "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/"


@pytest.mark.parametrize("pyc", [False, True], ids=["sources", "pyc-from"])
def test_cdn_build_caches_runtime_for_offline_use(browser, tmp_path_factory, pyc):
    """The public build loads Pyodide from the CDN URL (answered here from the local runtime, nothing leaves
    the machine); after one visit the service worker serves site and runtime with server and CDN gone.
    With --pyc-from, the site serves the precompiled standard library itself: the CDN's is never fetched."""
    runtime = pyodide_runtime_dir()
    if runtime is None:
        pytest.skip(PYODIDE_HINT)
    out = tmp_path_factory.mktemp("site-cdn")
    extra = ["--pyc-from", str(runtime)] if pyc else []
    proc = subprocess.run([sys.executable, str(ROOT / "static" / "build.py"), "--out", str(out)] + extra,
                          capture_output=True, text=True, timeout=300)
    if pyc and proc.returncode != 0 and "3.12" in proc.stderr:
        pytest.skip("no CPython 3.12 to precompile with")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (out / "pyodide").exists() and CDN in (out / "config.js").read_text()
    assert (out / "pyc" / "python_stdlib.zip").is_file() == pyc
    served, refused = [], []

    def fake_cdn(route):
        name = route.request.url[len(CDN):].split("?")[0]
        path = runtime / name
        served.append(name)
        if "/" in name or not path.is_file():
            return route.fulfill(status=404, body="not found")
        route.fulfill(status=200, body=path.read_bytes(), headers={
            "content-type": MIME_TYPES.get(path.suffix, "application/octet-stream"),
            "access-control-allow-origin": "*", "cache-control": "public, max-age=31536000, immutable"})

    context = browser.new_context()
    blocked = block_external(context, allowed_hosts=("127.0.0.1", "cdn.jsdelivr.net"))
    context.route(CDN + "**", fake_cdn)  # registered last: runs before the blocking handler
    try:
        with StaticServer(out) as srv:
            pg = context.new_page()
            pg.goto(srv.url)
            wait_ready(pg)
            pg.wait_for_selector("#offline-status[data-state=ready]", timeout=60_000)
            assert "pyodide.asm.wasm" in served
            # with --pyc-from the site serves the standard library and NumPy itself
            assert ("python_stdlib.zip" in served) != pyc and any(n.startswith("numpy-") for n in served) != pyc, \
                served
        context.unroute(CDN + "**")
        context.route(CDN + "**", lambda route: (refused.append(route.request.url), route.abort()))
        pg.reload()  # server stopped, CDN unreachable
        wait_ready(pg)
        assert not refused, f"runtime files not served from the cache: {refused}"
    finally:
        context.close()
    assert not [u for u in blocked if not u.startswith(CDN)], blocked


# ---------------------------------------------------------------- every dataset in real Pyodide (Node.js)

NODE_RUNNER = r"""
const path = require("path"), fs = require("fs");
const site = process.argv[2];
const { loadPyodide } = require(path.join(site, "pyodide", "pyodide.js"));
const config = JSON.parse(fs.readFileSync(path.join(site, "config.js"), "utf8").split("self.MLP_CONFIG = ")[1]
  .replace(/;\s*$/, ""));
const unpack = (py, rel, dir) => py.unpackArchive(new Uint8Array(fs.readFileSync(path.join(site, rel))), "zip",
  { extractDir: dir });
(async () => {
  // as static/worker.js does
  const py = await loadPyodide({ indexURL: path.join(site, "pyodide") + path.sep,
    packages: config.sitePackages ? [] : ["numpy"] });
  if (config.sitePackages) unpack(py, config.sitePackages, "/");
  unpack(py, "app.zip", "/home/pyodide/mlp_app");
  py.runPython("import sys; sys.path.insert(0, '/home/pyodide/mlp_app')");
  const out = py.runPython(fs.readFileSync(process.argv[3], "utf8"));
  console.log("RESULT " + out);
})().catch((e) => { console.error(e); process.exit(1); });
"""

NODE_SCRIPT = r"""
import base64, json
import worker_glue as g

def call(cmd, data=None, **kw):
    r = json.loads(g.call(cmd, json.dumps(kw), data))
    if not r["ok"]:
        raise AssertionError(f"{cmd} {kw.get('name', '')}: {r['error']}")
    return r["result"]

def train(**changes):
    call("update", changes=changes)
    frame = call("train")
    while frame["running"]:
        frame = call("advance", seconds=0.05)
    res = call("result")
    call("model_load", base64.b64decode(call("model_download")["b64"]), name="m.mlp")
    return res

done = []
for row in g.info()["table"]:
    if row["name"] == "dataset":
        datasets = row["choices"]
for name in datasets:
    train(dataset=name, n_samples=120, epochs=3)
    done.append(name)
csv = CSV_TEXT
view = call("set_csv", csv.encode(), name="fruit.csv")
res = train(target="fruit")
done.append(f"csv:{view['data']['task']}:{call('predict_csv', csv.encode(), run_id=res['id'])['n_rows']}")

# Step, Explain (mlp/reference.py's own source), Compare runs and a Share link round trip, in wasm32
call("update", changes={"source": "builtin", "dataset": "circles", "n_samples": 120, "transforms": ["x1*x2"]})
for _ in range(2):
    step = call("step")
ex = call("explain", row=3)
assert step["epoch"] == 2 and ex["row"] == 3 and all(s["code"] for s in ex["sections"]), ex["sections"][0]
assert any("def layer_forward" in s["code"] for s in ex["sections"])
assert len(call("compare")["figure"]["data"]) >= 4
link = call("share", base="")
assert link["carries_model"] and call("open_link", source=link["href"])["link"]["has_model"]
done.append("explain+link")

# the engine's own paths the glue does not take: the locked single-sample forward, and a deep copy that trains
import copy
import numpy as np
from mlp import MLP
m = MLP(seed=0).sequential([2, 8, "relu", 1, "sigmoid"]).set_loss("bce")
x = np.array([0.3, -0.2])
assert np.allclose(m.forward(x), m.predict(x[None])[0], rtol=1e-12)
c = copy.deepcopy(m)
c.fit(np.random.default_rng(0).standard_normal((16, 2)), np.ones(16), epochs=3, learning_rate=0.1)
assert np.allclose(c.forward(x), c.predict(x[None])[0], rtol=1e-12) and c.forward(x)[0] > m.forward(x)[0]
done.append("engine")
json.dumps(done)
"""


PYC_SCRIPT = COUNT_COMPILATIONS + r"""
import json, sys
import worker_glue, numpy.polynomial, csv
json.dumps({"compiled": compiled, "stdlib": [sys.modules[m].__file__ for m in ("zipfile", "csv", "json")],
            "numpy": numpy.__version__})
"""


def _run_in_node(site, tmp_path, script, timeout=180):
    """Run a Python script in the built site's Pyodide under Node.js (set up as the worker does); its result."""
    import json
    import shutil
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    runner, path = tmp_path / "run.js", tmp_path / "script.py"
    runner.write_text(NODE_RUNNER)
    path.write_text(script)
    proc = subprocess.run([node, str(runner), str(site), str(path)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.split("RESULT ", 1)[1])


def test_site_python_runs_from_precompiled_bytecode(site, tmp_path):
    """Built with CPython 3.12 at hand, nothing is compiled from source at start-up in Pyodide: the standard
    library comes from .pyc in python_stdlib.zip, NumPy and the app from their __pycache__."""
    with zipfile.ZipFile(site / "app.zip") as zf:
        precompiled = any("__pycache__" in name for name in zf.namelist())
    if not precompiled:
        import importlib.util
        spec = importlib.util.spec_from_file_location("mlp_static_build", ROOT / "static" / "build.py")
        build = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build)
        assert build.find_python312() is None, "a CPython 3.12 is there but the site was not precompiled"
        pytest.skip("no CPython 3.12 to precompile with: the site ships sources only")
    res = _run_in_node(site, tmp_path, PYC_SCRIPT)
    assert res["numpy"] == "2.0.2" and res["compiled"] == [], res
    assert all(f.endswith(".pyc") and f.startswith("/lib/python312.zip/") for f in res["stdlib"]), res


def test_every_dataset_trains_in_pyodide_under_node(site, tmp_path):
    """Every built-in dataset and a string-label CSV through the glue in the built site's Pyodide (wasm32
    NumPy: catches 32-bit integer issues faster than the page), then the engine's single-sample forward (it
    takes a thread lock) and a deep copy that trains, which the glue does not use."""
    done = _run_in_node(site, tmp_path, NODE_SCRIPT.replace("CSV_TEXT", repr(FRUIT_CSV)))
    assert "circles" in done and "spiral" in done and "sine" in done
    assert done[-3:] == ["csv:multiclass:90", "explain+link", "engine"], done
