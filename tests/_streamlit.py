"""Helpers for the tests and benchmarks that drive the Streamlit app in Chromium: a ``streamlit run`` server on a
free 127.0.0.1 port, and a page-side watch that records when each chart changes on screen."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Page-side: window.mlpCharts.watch() starts recording, for the charts titled Network, Loss (also "Loss (live)")
# and Decision boundary, the time (s, from the call) of every change of what they show (their pictures, lines and
# points), whether drawn by st.plotly_chart or by the live component; window.mlpCharts.times holds them.
CHART_WATCH_JS = r"""
() => {
  const KINDS = {"Network": "network", "Loss": "loss", "Decision boundary": "main"};
  const signature = (plot) => [...plot.querySelectorAll("image, path.js-line")]
      .map((el) => (el.getAttribute("href") || el.getAttribute("d") || "").slice(-48))
      .join("|");
  const state = window.mlpCharts = window.mlpCharts || {};
  state.t0 = performance.now();
  state.times = {network: [], loss: [], main: []};
  state.last = {};
  const check = () => {
    for (const plot of document.querySelectorAll(".js-plotly-plot")) {
      const title = plot.querySelector(".gtitle");
      if (!title) continue;
      const kind = Object.entries(KINDS).find(([t]) => title.textContent.startsWith(t));
      if (!kind) continue;
      const sig = signature(plot);
      if (sig && sig !== state.last[kind[1]]) {
        state.last[kind[1]] = sig;
        state.times[kind[1]].push((performance.now() - state.t0) / 1000);
      }
    }
  };
  check();
  state.times = {network: [], loss: [], main: []};       // what is on screen now is not a change
  if (state.observer) state.observer.disconnect();
  state.observer = new MutationObserver(check);
  state.observer.observe(document.body, {subtree: true, childList: true, attributes: true,
                                         attributeFilter: ["href", "d"]});
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run webapp/app.py`` on a free 127.0.0.1 port (``url``); a context manager that stops it."""

    def __init__(self, root: Path = ROOT, timeout: float = 60, log=subprocess.DEVNULL):
        port = free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", str(Path(root) / "webapp" / "app.py"),
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Streamlit server did not start")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
