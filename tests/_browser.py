"""Shared helpers for browser tests: Debian's Chromium driven by Playwright, and a local static server.

`npx playwright install` cannot download browsers here, so tests launch the system Chromium
(``shutil.which("chromium")``) with flags that keep it from calling home. Import-safe without Playwright.
Also the static site's shared fixtures (``site``, ``server``, ``browser``) and the helpers that drive its page.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PYODIDE_VERSION = "0.27.7"
PYODIDE_HINT = (
    f"no local Pyodide {PYODIDE_VERSION} runtime: `python3 scripts/get_pyodide.py` assembles one in "
    f"~/.cache/mlp/pyodide-{PYODIDE_VERSION} (`bash scripts/test.sh` runs it; it needs the npm registry and the "
    f"jsDelivr CDN), or set MLP_PYODIDE_DIR to a Pyodide {PYODIDE_VERSION} distribution directory with NumPy")
MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
              ".json": "application/json", ".webmanifest": "application/manifest+json",
              ".svg": "image/svg+xml", ".zip": "application/zip", ".whl": "application/zip"}

# Python source that records every module compiled from source (not loaded from .pyc) in `compiled`:
# run first in a script to check that precompiled bytecode is used (Pyodide and CPython 3.12 alike).
COUNT_COMPILATIONS = """
import importlib._bootstrap_external as be
compiled = []
orig = be.SourceLoader.source_to_code
def counting(self, data, path, *, _optimize=-1):
    compiled.append(path)
    return orig(self, data, path, _optimize=_optimize)
be.SourceLoader.source_to_code = counting
"""


def chromium_path() -> str | None:
    """Path of the system Chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def playwright_available() -> bool:
    """True when the Playwright Python package can be imported."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def browser_skip_reason() -> str | None:
    """Why browser tests cannot run here (None when they can)."""
    if not playwright_available():
        return "Playwright is not installed (pip install playwright)"
    if not chromium_path():
        return "no chromium on PATH (Debian: apt-get install chromium)"
    return None


def launch_chromium(playwright, headless: bool = True, **kwargs):
    """Launch the system Chromium with the project's flags (extra ``args`` are appended)."""
    args = CHROMIUM_ARGS + list(kwargs.pop("args", []))
    return playwright.chromium.launch(executable_path=chromium_path(), headless=headless, args=args, **kwargs)


def pyodide_runtime_dir() -> Path | None:
    """The local Pyodide runtime ($MLP_PYODIDE_DIR or ~/.cache/mlp/pyodide-0.27.7) if complete, else None."""
    env = os.environ.get("MLP_PYODIDE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "mlp" / f"pyodide-{PYODIDE_VERSION}"
    needed = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
    if all((path / f).is_file() for f in needed) and any(path.glob("numpy-*.whl")):
        return path
    return None


REPO = Path(__file__).resolve().parents[1]

# Node script: boot Pyodide with NumPy, mount host folders (NODEFS), run a Python file, print its last
# expression. argv: runtime dir, the Python file, then "host_dir=>/mount/point" pairs.
_PYODIDE_RUNNER = r"""
const [runtime, script, ...mounts] = process.argv.slice(1);
const { loadPyodide } = require(runtime + "/pyodide.js");
(async () => {
  const py = await loadPyodide({ indexURL: runtime + "/" });
  await py.loadPackage("numpy", { messageCallback: () => {} });
  for (const m of mounts) {
    const [dir, at] = m.split("=>");
    py.FS.mkdirTree(at);
    py.FS.mount(py.FS.filesystems.NODEFS, { root: dir }, at);
  }
  console.log(py.runPython(require("fs").readFileSync(script, "utf8")));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run_in_pyodide(code: str, mounts: dict | None = None, timeout: float = 300) -> str:
    """Run Python ``code`` in the local Pyodide runtime under node, with the repository at ``/src`` (on
    ``sys.path``) and each ``{host_dir: mount_point}`` of ``mounts``; returns the value of the code's last
    expression (``str``). Fails (never skips) without a runtime or node."""
    import subprocess
    import tempfile

    runtime = pyodide_runtime_dir()
    assert runtime is not None, PYODIDE_HINT
    assert shutil.which("node"), "node is needed to run Pyodide here"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "main.py"
        script.write_text('import sys\nsys.path.insert(0, "/src")\n' + code)
        pairs = [f"{REPO}=>/src", f"{tmp}=>/run"] + [f"{Path(d)}=>{at}" for d, at in (mounts or {}).items()]
        out = subprocess.run(["node", "-e", _PYODIDE_RUNNER, str(runtime), str(script), *pairs],
                             capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler with correct MIME types, no caching and no request logging."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class StaticServer:
    """A threaded HTTP server for a directory on 127.0.0.1 (random free port); ``stop()`` takes it offline."""

    def __init__(self, directory, host: str = "127.0.0.1", port: int = 0):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.running = True

    def stop(self):
        """Shut the server down and close its socket (new connections are refused)."""
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)
            self.running = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def block_external(context, allowed_hosts=("127.0.0.1",)) -> list[str]:
    """Abort every request of ``context`` to a host other than ``allowed_hosts``; return the list of the
    blocked URLs (filled as they happen) so a test can assert it stays empty."""
    blocked: list[str] = []

    def handler(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in allowed_hosts:
            blocked.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", handler)

    def watch(request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in allowed_hosts \
                and request.url not in blocked:
            blocked.append(request.url)

    context.on("request", watch)
    return blocked


# ---------------------------------------------------------------- accessibility (axe-core, npm)

AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


def axe_script() -> str:
    """axe-core's axe.min.js from static/node_modules (a devDependency pinned in static/package.json; `npm ci`
    runs when it is missing, as static/build.py does for Plotly.js and KaTeX)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("mlp_static_build_axe", REPO / "static" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.ensure_axe(REPO / "static").read_text()


def axe_violations(page, context=None, tags=AXE_TAGS) -> list[str]:
    """Run axe-core in ``page`` (the whole document, or the ``context`` selector) with the WCAG 2 A/AA rules;
    return one line per violating element: rule id, impact, element and axe's summary (empty: none)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_script())
    found = page.evaluate(
        """([context, tags]) => axe.run(context || document, {runOnly: {type: 'tag', values: tags}})
             .then(r => r.violations.flatMap(v => v.nodes.map(n =>
               `${v.id} (${v.impact}): ${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\\s+/g, ' ')}`)))""",
        [context, list(tags)])
    return list(found)


# ---------------------------------------------------------------- a live Streamlit server

def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run webapp/app.py`` on a free 127.0.0.1 port (headless, no usage statistics, no file watcher);
    ``url`` once it answers its health check. ``stop()`` (or leaving the ``with``) ends it."""

    def __init__(self, timeout: float = 60):
        import subprocess
        import sys
        import time
        import urllib.request
        port = free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "webapp" / "app.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError("the Streamlit server did not start:\n" + out)
            time.sleep(0.2)

    def stop(self):
        """End the server (it is killed if it does not stop within 10 s)."""
        import subprocess
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def build_offline_site(out) -> Path:
    """The site built into ``out`` by the documented command, with the local Pyodide runtime (no network needed);
    fails (never skips) without a runtime."""
    import subprocess
    import sys
    runtime = pyodide_runtime_dir()
    assert runtime is not None, PYODIDE_HINT
    proc = subprocess.run([sys.executable, str(REPO / "static" / "build.py"), "--out", str(out),
                           "--pyodide", str(runtime)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(out)


# ---------------------------------------------------------------- the static site in Chromium (shared fixtures)
# Module-scoped, as each test module had them: a module imports those it uses (`from tests._browser import site,
# server, browser  # noqa: F401 - fixtures`) and gets its own site, server and browser.

READY_MS = 60_000   # the page's runtime is up (Pyodide loaded, the core answered)
TRAIN_MS = 60_000   # a run, a race or any other action of the worker is over


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by the documented command, with the local runtime (no network needed)."""
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    if pyodide_runtime_dir() is None:
        pytest.skip(PYODIDE_HINT)
    return build_offline_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def server(site):
    """The site served on 127.0.0.1 (a test may ``stop()`` it to go offline)."""
    with StaticServer(site) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    """The system Chromium, driven by Playwright."""
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


def offline_context(browser, **options):
    """A new context of ``browser`` in which every request to a host other than 127.0.0.1 is aborted and recorded
    in ``context.blocked``; ``close_offline_context`` closes it and checks that list is empty."""
    context = browser.new_context(**options)
    context.blocked = block_external(context)
    return context


def close_offline_context(context):
    context.close()
    assert not context.blocked, f"requests to other hosts: {context.blocked}"


def open_page(context, url, ready=False):
    """A new tab of ``context`` on ``url`` whose uncaught errors are kept in ``page.errors``; with ``ready``,
    returned once the page's core has drawn its first view."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(url)
    if ready:
        wait_loaded(page)
    return page


def wait_loaded(page):
    """Wait until the page's core has answered once (settings drawn from the address)."""
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=READY_MS)


def wait_ready(page):
    """Wait until Train can be clicked (the runtime is up)."""
    page.get_by_role("button", name="Train", exact=True).wait_for(state="visible", timeout=READY_MS)
    page.wait_for_selector("#train:not([disabled])", timeout=READY_MS)


def synced(page) -> int:
    """How many times the page has redrawn the core's view of the settings (the address is rewritten each time)."""
    return int(page.evaluate("document.body.dataset.urlSynced || 0"))


def wait_synced(page, before: int, timeout: float = 15_000):
    page.wait_for_function(f"Number(document.body.dataset.urlSynced || 0) > {before}", timeout=timeout)


def set_value(page, selector, value):
    """Type ``value`` into a number or text control and commit it (as leaving the field does); wait until the
    core's view of it is drawn back."""
    before = synced(page)
    page.fill(selector, str(value))
    page.locator(selector).dispatch_event("change")
    wait_synced(page, before)


def train_in_page(page, epochs=None):
    """Click Train and wait until the run is over; return the status line."""
    if epochs is not None:
        set_value(page, "#epochs", epochs)
    before = int(page.evaluate("document.body.dataset.trained || 0"))
    page.click("#train")
    page.wait_for_function(
        f"Number(document.body.dataset.trained || 0) > {before} || !document.getElementById('alert').hidden",
        timeout=TRAIN_MS)
    assert page.is_hidden("#alert"), page.inner_text("#alert")
    return page.inner_text("#train-status")


def click_and_wait(page, selector, counter):
    """Click, then wait until the action is done (the body's ``counter`` grows) or an error is shown."""
    before = int(page.evaluate(f"document.body.dataset.{counter} || 0"))
    shown = page.is_visible("#alert")  # an earlier message: wait for the action itself
    page.click(selector)
    page.wait_for_function(
        f"Number(document.body.dataset.{counter} || 0) > {before} || "
        f"(!{str(shown).lower()} && !document.getElementById('alert').hidden)", timeout=TRAIN_MS)
    assert page.is_hidden("#alert"), page.inner_text("#alert")


def download_model(page, tmp_path, name="m.mlp"):
    """Click Download model and open the file with ``mlp.load``."""
    import mlp
    with page.expect_download() as dl:
        page.click("#download")
    path = tmp_path / name
    dl.value.save_as(path)
    return mlp.load(str(path))
