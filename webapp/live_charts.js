// Live charts of the Streamlit app (webapp/app.py mounts this as an st.components.v2 component, one mount per
// frame, and once more for the results' loss curve, prediction chart and Network view). It only draws: the figures
// are webapp.core.charts' Plotly figure dicts, made in Python; a chart given as null is hidden.
//
// st.plotly_chart gives each new figure a new element, so the browser builds the chart from scratch every frame.
// Here each chart keeps one <div> for the whole page (re-attached to whichever mount is current) and is updated
// with Plotly.react; traces equal to the last frame's keep their old objects, so Plotly redraws only what changed
// (a decision boundary frame is then its map, a small PNG, not its thousand points). Plotly.js is the one
// Streamlit's own plotly_chart loads into the page (window.Plotly); until it is there the newest frame waits.
// A mount's root may be gone by the time it is drawn (a newer mount replaced it): the divs go to the newest.
const NAMES = ["loss", "main", "network"];          // their places on the page (a grid: loss | main, network)
const DRAW_ORDER = ["network", "loss", "main"];     // the order they are drawn in (see schedule)
const CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false, showLink: false };

function state() {
  if (!window.__mlpLive) {
    window.__mlpLive = { divs: new Map(), shown: new Map(), root: null, todo: {}, frame: null, waiting: false };
  }
  return window.__mlpLive;
}

// Frames that arrive faster than the page draws (a busy machine) are merged: only the newest figure of each chart
// is drawn, so a slow page never works through a queue of stale frames. One chart per animation frame, the
// Network view first: each is on screen as soon as it is drawn (the first frame's decision boundary replaces the
// results' full map, the slowest redraw, and no longer holds the other two back).
function schedule(root, data) {
  const st = state();
  st.root = root;
  for (const name of NAMES) if (data && name in data) st.todo[name] = data[name];
  if (st.frame === null) st.frame = requestAnimationFrame(drawNext);
}

function drawNext() {
  const st = state();
  st.frame = null;
  if (!window.Plotly) {                 // Plotly.js not loaded yet: draw the newest frame once it is
    if (!st.waiting) {
      st.waiting = true;
      const started = performance.now();
      const poll = () => {
        if (window.Plotly || performance.now() - started >= 10000) {
          st.waiting = false;
          if (window.Plotly && st.frame === null) st.frame = requestAnimationFrame(drawNext);
        } else {
          setTimeout(poll, 50);
        }
      };
      setTimeout(poll, 50);
    }
    return;
  }
  for (const name of NAMES) {           // the charts go to the newest mount, in their places
    let div = st.divs.get(name);
    if (!div) {
      div = document.createElement("div");
      div.className = `mlp-live-chart mlp-live-${name}`;
      st.divs.set(name, div);
    }
    if (div.parentNode !== st.root) st.root.appendChild(div);
  }
  const name = DRAW_ORDER.find((n) => n in st.todo);
  if (name === undefined) return;
  const fig = st.todo[name];
  delete st.todo[name];
  drawChart(st, name, fig);
  if (DRAW_ORDER.some((n) => n in st.todo)) st.frame = requestAnimationFrame(drawNext);
}

function reuseEqualTraces(prev, fig) {
  if (!prev) return fig;
  const data = fig.data.map((trace, i) => {
    const old = prev.data[i];
    return old && old.__json === (trace.__json = JSON.stringify(trace)) ? old : trace;
  });
  return { data, layout: fig.layout };
}

function drawChart(st, name, fig) {
  const div = st.divs.get(name);
  div.hidden = !fig;                                // null: this chart has nothing to show (e.g. an untrained run)
  if (!fig) {
    st.shown.delete(name);
    return;
  }
  const shown = reuseEqualTraces(st.shown.get(name), fig);
  const layout = Object.assign({}, shown.layout, { autosize: true, uirevision: name });
  if (typeof layout.template === "string") delete layout.template;
  // the page's font and left-aligned titles, as Streamlit's own charts beside these
  layout.font = Object.assign({ family: getComputedStyle(document.body).fontFamily }, layout.font);
  if (layout.title) layout.title = Object.assign({ x: 0, xanchor: "left", xref: "paper" }, layout.title);
  const started = performance.now();
  window.Plotly.react(div, shown.data, layout, CONFIG);
  st.shown.set(name, shown);
  window.mlpLiveDraws = (window.mlpLiveDraws || 0) + 1;     // (read by the tests and the benchmark)
  window.mlpLiveSeconds = (window.mlpLiveSeconds || 0) + (performance.now() - started) / 1000;
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".mlp-live");
  if (!root) {
    root = document.createElement("div");
    root.className = "mlp-live";
    root.setAttribute("aria-label", "Live charts of the training in progress");
    parentElement.appendChild(root);
  }
  schedule(root, data);
}
