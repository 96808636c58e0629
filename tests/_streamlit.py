"""For the tests and benchmarks that drive the Streamlit app in Chromium (the server: tests._browser.StreamlitServer):
a page-side watch that records when each chart changes on screen."""

# Evaluated in the page (page.evaluate), it starts recording, for the charts titled Network, Loss (also "Loss
# (live)") and Decision boundary, the time (s, from the call) of every change of what they show (their pictures and
# lines), whether drawn by st.plotly_chart or by the live component: window.mlpCharts.times.{network, loss, main}.
CHART_WATCH_JS = r"""
() => {
  const KINDS = {"Network": "network", "Loss": "loss", "Decision boundary": "main"};
  // what changes as the model learns: the node pictures, the loss lines, the map (a heatmap is drawn as an image)
  const PARTS = {network: "image", loss: "path.js-line", main: "image"};
  const signature = (plot, kind) => [...plot.querySelectorAll(PARTS[kind])]
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
      const sig = signature(plot, kind[1]);
      if (sig && sig !== state.last[kind[1]]) {
        state.last[kind[1]] = sig;
        const t = (performance.now() - state.t0) / 1000, seen = state.times[kind[1]];
        if (!seen.length || t - seen[seen.length - 1] > 0.05) seen.push(t);   // (one redraw can take two steps)
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
