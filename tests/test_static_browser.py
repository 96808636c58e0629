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

from tests._browser import (COUNT_COMPILATIONS, MIME_TYPES, PYODIDE_HINT, StaticServer, block_external, browser_skip_reason,
                           launch_chromium, pyodide_runtime_dir)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser
READY_MS = 60_000
TRAIN_MS = 60_000
FRUIT_CSV = "\n".join(["weight,colour,sweet,fruit"] + [
    f"{100 + (7 * i) % 60},{['red', 'green', 'yellow'][i % 3]},{(i * 13) % 10 / 10},"
    f"{['apple', 'pear', 'banana'][(i + (i // 7)) % 3]}" for i in range(90)]) + "\n"
BROKEN_CSV = "a,b,label\n1,2,x\n3,4\n5,6,y,7\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by the documented command, with the local runtime (no network needed)."""
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    runtime = pyodide_runtime_dir()
    if runtime is None:
        pytest.skip(PYODIDE_HINT)
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, str(ROOT / "static" / "build.py"), "--out", str(out),
                           "--pyodide", str(runtime)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def server(site):
    srv = StaticServer(site)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ctx(browser):
    """One browser context for the whole scenario; every non-127.0.0.1 request is aborted and recorded."""
    context = browser.new_context(accept_downloads=True)
    blocked = block_external(context)
    context.blocked = blocked
    yield context
    context.close()
    assert not blocked, f"requests to other hosts: {blocked}"


@pytest.fixture(scope="module")
def page(ctx, server):
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.goto(server.url)
    return pg


def _wait_ready(page):
    page.get_by_role("button", name="Train", exact=True).wait_for(state="visible", timeout=READY_MS)
    page.wait_for_selector("#train:not([disabled])", timeout=READY_MS)


def _train(page, epochs=None):
    """Click Train and wait until the run is over; return the status line."""
    if epochs is not None:
        page.fill("#epochs", str(epochs))
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#train")
    page.wait_for_function(
        f"Number(document.body.dataset.trained || 0) > {before} || !document.getElementById('alert').hidden",
        timeout=TRAIN_MS)
    assert page.is_hidden("#alert"), page.inner_text("#alert")
    return page.inner_text("#train-status")


def _alert(page):
    page.wait_for_selector("[role=alert]:not([hidden])", timeout=15_000)
    return page.get_by_role("alert").inner_text()


def _use_csv(page, name, text):
    page.check("input[name=source][value=csv]")
    page.get_by_label("Upload CSV").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])


def test_train_is_loading_then_ready(page):
    btn = page.locator("#train")
    assert btn.is_disabled()
    assert btn.inner_text() in ("loading…", "Train")  # "Train" only if the runtime was already up
    _wait_ready(page)
    assert page.locator("#arch").input_value() == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    assert page.locator("#loss").input_value() == "bce"  # the loss choices are there before Train is enabled
    # the data plot (Plotly.js, from charts.py) is drawn right after Train is enabled
    page.wait_for_selector("#pred-chart .main-svg", timeout=15_000)


def test_train_default_demo_and_download_model(page, tmp_path):
    import mlp
    status = _train(page)
    assert status.startswith("Done after 1000 epochs"), status
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
    assert len(model.history.history["loss"]) == 1000
    import numpy as np
    from webapp import session
    prepared = session.prepare_builtin("circles", n_samples=400, noise=0.1, seed=0, test_size=0.2)
    acc = session.evaluate(model, prepared)["test"]["accuracy"]
    assert acc > 0.8, acc
    assert np.isfinite(model.predict(prepared.X_test)).all()


def test_stop_keeps_the_model_trained_so_far(page):
    page.fill("#epochs", "10000")
    page.click("#train")
    page.wait_for_function("document.getElementById('train-status').textContent.startsWith('Epoch')",
                           timeout=TRAIN_MS)
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#stop")
    page.wait_for_function(f"Number(document.body.dataset.trained || 0) > {before}", timeout=TRAIN_MS)
    status = page.inner_text("#train-status")
    m = re.match(r"Stopped after (\d+) epochs", status)
    assert m and 0 < int(m.group(1)) < 10000, status
    assert page.is_enabled("#download") and page.is_enabled("#train")
    page.fill("#epochs", "1000")


def test_bad_architecture_shows_engine_message(page):
    page.fill("#arch", "[2, 8, 'rel")
    page.wait_for_function("document.getElementById('arch-msg').classList.contains('bad')", timeout=10_000)
    page.click("#train")
    text = _alert(page)
    assert "architecture" in text.lower() and "Traceback" not in text
    page.fill("#arch", "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']")
    page.wait_for_function("document.getElementById('arch-msg').classList.contains('ok')", timeout=10_000)


def test_csv_with_string_labels_trains(page):
    _use_csv(page, "fruit.csv", FRUIT_CSV)
    page.wait_for_function("document.getElementById('data-summary').textContent.includes('banana')",
                           timeout=15_000)
    assert page.locator("#target").input_value() == "fruit"  # last column by default
    status = _train(page, epochs=100)
    assert status.startswith("Done after 100 epochs"), status
    assert page.locator("#pred-chart .main-svg").count() > 0  # confusion matrix
    assert "accuracy" in page.inner_text("#metrics")


def test_broken_csv_shows_alert_and_page_keeps_working(page):
    _use_csv(page, "broken.csv", BROKEN_CSV)
    text = _alert(page)
    assert "line" in text and "Traceback" not in text
    assert page.is_disabled("#train")
    _use_csv(page, "fruit2.csv", FRUIT_CSV)
    page.wait_for_selector("#train:not([disabled])", timeout=15_000)
    assert page.is_hidden("#alert")


def test_bad_model_file_shows_alert(page):
    page.get_by_label("Load model").set_input_files(
        files=[{"name": "junk.mlp", "mimeType": "application/octet-stream", "buffer": b"not a model"}])
    text = _alert(page)
    assert "model" in text.lower() and "Traceback" not in text


def test_python_session_model_predicts_in_page(page, tmp_path):
    from webapp import session
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


def test_offline_reload_served_by_service_worker(page, server, ctx):
    page.wait_for_selector("#offline-status[data-state=ready]", timeout=60_000)
    server.stop()
    page.reload()
    _wait_ready(page)
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    status = _train(page, epochs=20)  # the runtime works from the cache too
    assert status.startswith("Done after 20 epochs"), status
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
            _wait_ready(pg)
            pg.wait_for_selector("#offline-status[data-state=ready]", timeout=60_000)
            assert "pyodide.asm.wasm" in served
            # with --pyc-from the site serves the standard library and NumPy itself
            assert ("python_stdlib.zip" in served) != pyc and any(n.startswith("numpy-") for n in served) != pyc, \
                served
        context.unroute(CDN + "**")
        context.route(CDN + "**", lambda route: (refused.append(route.request.url), route.abort()))
        pg.reload()  # server stopped, CDN unreachable
        _wait_ready(pg)
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

def train(arch, epochs=3):
    call("train_start", arch=arch, epochs=epochs)
    while not call("train_step", seconds=0.05)["done"]:
        pass
    res = call("train_finish")
    call("model_load", base64.b64decode(call("model_download")["b64"]), name="m.mlp")
    return res

done = []
for name in g.info()["datasets"]:
    summary = call("builtin", name=name, n_samples=120)
    train(summary["default_arch"])
    done.append(name)
csv = CSV_TEXT
call("csv_preview", csv.encode(), name="fruit.csv")
summary = call("csv_prepare", target="fruit")
train(summary["default_arch"])
done.append(f"csv:{summary['task']}:{call('predict_csv', csv.encode())['n_rows']}")

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
    assert "circles" in done and "spiral" in done and "sine" in done and done[-2:] == ["csv:multiclass:90", "engine"]
