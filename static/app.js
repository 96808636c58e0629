// Page logic: it draws, and nothing else. Every setting, computation and decision (data, runs, training, figures,
// links) belongs to the core both apps share (webapp/core: the settings table and the Playground), run by the
// Python worker (worker.js + worker_glue.py); this file builds the controls from the settings table, sends what the
// user changes, and draws the controls' values, the frames and the results it gets back.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  ready: false,
  training: false,
  controls: new Map(), // setting name -> {row, wrap, set(row)} built from the settings table
  data: null,          // the core's data summary (ok, describe, figure, preview...)
  archOK: false,       // the architecture fits the data (Train waits otherwise)
  hasRun: false,       // a run is shown (Step / Resume / downloads / share)
  result: null,        // the run shown, as the core describes it
  restoring: false,    // a link is being opened (the address is not rewritten meanwhile)
  address: null,       // the address last written (#...)
  compareChosen: null, // the runs chosen there (null: the core's choice, the latest four)
  runs: [],            // the trained runs (Compare runs, Use a model)
  dataError: false,    // the alert shows why the data cannot be prepared
  explainPaused: false, // Explain was pressed while training ran (the core paused it for the explanation)
  fileModel: false,    // a model file is open in Use a model
  predictionsCSV: null,
  predictionsName: null,
};
window.mlpTimings = {}; // seconds since navigation start (performance.now()), read by tests and the benchmark
window.mlpStats = { progress: 0, draws: 0 };

function bump(counter) { // body data counters: tests and the benchmark wait for them
  document.body.dataset[counter] = String(Number(document.body.dataset[counter] || 0) + 1);
}

// ---- worker RPC ------------------------------------------------------------------------------------------
const worker = new Worker("worker.js");
window.mlpTimings.workerCreated = performance.now() / 1000;
let nextId = 1;
const pending = new Map();

function rpc(cmd, args = {}, data = undefined) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    const msg = { id, cmd, args };
    if (data !== undefined) {
      msg.data = data;
      worker.postMessage(msg, [data]);
    } else {
      worker.postMessage(msg);
    }
  });
}

worker.onmessage = (event) => {
  const msg = event.data;
  switch (msg.type) {
    case "status":
      setRuntimeStatus(msg.text);
      break;
    case "ready":
      window.mlpTimings.workerPhases = msg.phases;
      window.mlpTimings.workerOrigin = (msg.timeOrigin - performance.timeOrigin) / 1000; // worker clock → page's
      onReady(msg.info, msg.seconds);
      break;
    case "fatal":
      setRuntimeStatus("failed to start");
      showAlert("The Python runtime could not start: " + msg.error);
      $("train").textContent = "unavailable";
      break;
    case "progress":
      onFrame(msg);
      break;
    case "reply": {
      const p = pending.get(msg.id);
      if (!p) break;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
      break;
    }
  }
};
worker.onerror = (event) => {
  showAlert("The worker failed: " + (event.message || "unknown error"));
};

// ---- small helpers ---------------------------------------------------------------------------------------
function showAlert(text) {
  const el = $("alert");
  el.textContent = text;
  el.hidden = false;
}

function clearAlert() {
  const el = $("alert");
  el.textContent = "";
  el.hidden = true;
}

// Run an async UI action; any error is shown in the alert and the page keeps working.
async function guarded(fn) {
  try {
    return await fn();
  } catch (err) {
    showAlert(err.message || String(err));
    return undefined;
  }
}

function setRuntimeStatus(text) {
  $("runtime-status").textContent = "Python: " + text;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function fmt(v) {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}

function table(columns, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const v of row) tr.insertCell().textContent = v === null || v === undefined ? "" : fmt(v);
  }
  return t;
}

function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function node(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el) el[k] = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

function showNotes(id, notes) {
  const el = typeof id === "string" ? $(id) : id;
  el.textContent = (notes || []).join("\n"); // one line per note (each says what and why)
  el.hidden = !(notes || []).length;
}

// ---- charts (figures are built in Python by webapp/core/charts.py) ---------------------------------------
const PLOT_CONFIG = { responsive: true, displaylogo: false };

// Plotly.js (3.5 MB) is not needed until there is something to draw: it is loaded by the first draw (the data
// chart, drawn once Train is enabled), so that parsing it does not compete with the start of the worker.
let plotlyLoading = null;
function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "vendor/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        plotlyLoading = null; // try again on the next draw
        reject(new Error("Plotly.js (the charts) could not be loaded."));
      };
      document.head.appendChild(script);
    });
  }
  return plotlyLoading;
}

function draw(div, fig) {
  if (!fig) return;
  if (!window.Plotly) { // draw once Plotly.js is there (draws keep their order)
    loadPlotly().then(() => draw(div, fig), (err) => showAlert(err.message));
    return;
  }
  const layout = Object.assign({}, fig.layout);
  if (typeof layout.template === "string") delete layout.template; // named templates are a plotly.py feature
  layout.autosize = true;
  const t = performance.now();
  const data = reuseEqualTraces(div, fig.data || []);
  Plotly.react(div, data, layout, PLOT_CONFIG);
  window.mlpStats.draws++;
  window.mlpStats.drawSeconds = (window.mlpStats.drawSeconds || 0) + (performance.now() - t) / 1000;
}

// Traces equal to the ones the chart shows keep their old objects, so Plotly.react redraws only what changed (a
// live decision boundary is then its map, a small picture, not its thousand points; as webapp/live_charts.js).
function reuseEqualTraces(div, data) {
  const prev = div.mlpShown || [];
  div.mlpShown = data.map((trace, i) => {
    const json = JSON.stringify(trace);   // (before Plotly adds its own keys to the trace)
    return prev[i] && prev[i].json === json ? prev[i] : { trace, json };
  });
  return div.mlpShown.map((shown) => shown.trace);
}

function purge(div) {
  div.mlpShown = null;
  if (window.Plotly) Plotly.purge(div);
  div.replaceChildren();
}

function clearCharts() {
  for (const id of ["loss-chart", "pred-chart", "network-chart"]) purge($(id));
  $("extra-charts").replaceChildren();
}

// Where each figure goes: the loss curve left, the prediction chart the core names `main` (decision boundary,
// surface, fitted curve) right, the network below them, every other chart after it in the core's order.
function drawFigures(figures, main, order) {
  const others = [];
  for (const name of order || Object.keys(figures)) {
    const fig = figures[name];
    if (!fig) continue;
    if (name === "loss") draw($("loss-chart"), fig);
    else if (name === main) draw($("pred-chart"), fig);
    else if (name === "network") {
      draw($("network-chart"), fig);
      window.mlpStats.networkDraws = (window.mlpStats.networkDraws || 0) + 1;
    } else others.push([name, fig]);
  }
  if (!order) return; // a live frame: only the charts it carries
  if (!main && others.length) draw($("pred-chart"), others.shift()[1]); // no 2-D plane: the first other chart
  const extra = $("extra-charts");
  const existing = new Map([...extra.children].map((d) => [d.dataset.name, d]));
  const divs = others.map(([name]) => existing.get(name) || node("div", { className: "chart", dataset: { name } }));
  extra.replaceChildren(...divs);
  divs.forEach((div, k) => draw(div, others[k][1]));
}

// Live frames while training: only the newest figure of each chart is drawn, once per animation frame (a
// slow draw never queues stale ones behind it), and drawing takes at most LIVE_DRAW_SHARE of the page's time
// (on a busy machine the page's drawing would otherwise slow the worker's training).
const LIVE_DRAW_SHARE = 0.5;
const liveFigures = {};
let liveMain = null;
let liveFrame = null;
let liveNext = 0; // performance.now() before which no live frame is drawn
function drawLive(figures, main) {
  Object.assign(liveFigures, figures);
  if (main) liveMain = main;
  if (liveFrame !== null) return;
  const frame = () => {
    liveFrame = requestAnimationFrame(() => {
      liveFrame = null;
      const figs = Object.assign({}, liveFigures);
      for (const k of Object.keys(liveFigures)) delete liveFigures[k];
      const t = performance.now();
      drawFigures(figs, liveMain, null);
      const took = performance.now() - t;
      liveNext = performance.now() + took * (1 / LIVE_DRAW_SHARE - 1);
    });
  };
  const wait = liveNext - performance.now();
  if (wait > 0) liveFrame = setTimeout(frame, wait);
  else frame();
}

function cancelLive() {
  if (liveFrame !== null) {
    cancelAnimationFrame(liveFrame);
    clearTimeout(liveFrame);
  }
  liveFrame = null;
  liveNext = 0;
  for (const k of Object.keys(liveFigures)) delete liveFigures[k];
}

function renderMetrics(metrics) {
  // metrics: {"train": {name: value}, "test": {...}}; only scalar values are tabulated.
  const splits = Object.keys(metrics || {}).filter((k) => metrics[k] && typeof metrics[k] === "object");
  const names = [];
  for (const s of splits) {
    for (const [k, v] of Object.entries(metrics[s])) {
      if (typeof v === "number" && !names.includes(k)) names.push(k);
    }
  }
  const rows = names.map((n) => [n, ...splits.map((s) => metrics[s][n])]);
  $("metrics").replaceChildren(...(rows.length ? [table(["metric", ...splits], rows)] : []));
}

// ---- controls, built from the core's settings table (webapp/core/settings.py, sent by the worker) -----------
// Each row gives the setting's name, kind, label, help, group and control; the core's view gives, for the rows
// that apply now, their value and options. A control sends what the user chose; the core keeps it or drops it
// with a note, and the view it returns is drawn back into every control.

// Only the view of the latest change is drawn: an older one, answered meanwhile, would undo a newer choice
// on screen (its notes are still shown).
let changeSeq = 0;
function sendChange(name, value) {
  const seq = ++changeSeq;
  return guarded(async () => {
    const view = await rpc("update", { changes: { [name]: value } });
    const notes = view.notes;  // about this control's value (what is wrong, what is allowed): said beside it
    view.notes = [];
    if (seq === changeSeq) applyView(view);
    showControlNote(name, notes);
  });
}

// The core's note on a value typed into a control, right below it (gone with the control's next change).
function showControlNote(name, notes) {
  const ctl = state.controls.get(name);
  if (!ctl) return showNotes("link-notes", notes);
  if (!ctl.note) {
    ctl.note = node("p", { className: "note control-note", role: "alert", hidden: true });
    ctl.note.dataset.noteFor = name;
    ctl.wrap.after(ctl.note);
  }
  showNotes(ctl.note, notes);
}

// printf "%.2f" (the row's fmt) for a number shown beside a slider
function formatNumber(row, v) {
  const m = /^%\.(\d+)f$/.exec(row.fmt || "");
  return m && typeof v === "number" ? v.toFixed(Number(m[1])) : String(v);
}

function optionText(row, v) {
  if (v === null || v === undefined) return state.data && state.data.task ? `auto (${state.data.task})` : "auto";
  const labels = row.option_labels || {};
  return labels[v] !== undefined ? labels[v] : String(v);
}

// The value a select holds, as the core sent it (numbers stay numbers; the "auto" option is null).
function selectValue(select) {
  const opt = select.selectedOptions[0];
  return opt ? JSON.parse(opt.dataset.value) : null;
}

function fillOptions(select, row, options, value) {
  const list = [...options];
  // a column setting of the file with no default (the task): "auto", the core detects it
  if (row.control === "file" && row.default === null && !list.includes(null)) list.unshift(null);
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  select.replaceChildren(...list.map((v) => node("option", {
    value: text(v), textContent: optionText(row, v), dataset: { value: JSON.stringify(v) } })));
  select.value = text(value);
}

// A number box sends its value when it is committed (Enter, or leaving it); until then what is typed is kept.
function typedNumber(input, name) {
  input.addEventListener("input", () => { input.dataset.pending = "1"; });
  input.addEventListener("change", () => {
    delete input.dataset.pending;
    sendChange(name, input.value.trim() === "" ? null : input.value);
  });
}

function labelled(row, control, extra = []) {
  const lab = node("label", { title: row.help }, row.label, control, ...extra);
  return lab;
}

function checkList(row, name, onChange) {
  const box = node("fieldset", { className: "checks", title: row.help }, node("legend", {}, row.label));
  box.dataset.setting = name;
  box.addEventListener("change", () => onChange([...box.querySelectorAll("input:checked")].map((c) => c.value)));
  return box;
}

function setChecks(box, row, options, values) {
  const have = [...box.querySelectorAll("input")].map((c) => c.value);
  if (JSON.stringify(have) !== JSON.stringify(options)) {
    box.replaceChildren(box.querySelector("legend"), ...options.map((v) => node("label", {},
      node("input", { type: "checkbox", name: row.name, value: v }), " " + optionText(row, v))));
  }
  for (const c of box.querySelectorAll("input")) c.checked = (values || []).includes(c.value);
}

// Does not overwrite what the user is typing in a text box, nor a value typed but not sent yet.
function setInput(input, value) {
  const text = value === null || value === undefined ? "" : String(value);
  if (input.dataset.pending || (document.activeElement === input && input.type === "text")) return;
  if (input.value !== text) input.value = text;
}

const MAKE = {
  radio(row) {
    const box = node("fieldset", { className: "source", title: row.help }, node("legend", {}, row.label));
    box.addEventListener("change", (e) => sendChange(row.name, e.target.value));
    return { wrap: box, set(r) {
      const have = [...box.querySelectorAll("input")].map((c) => c.value);
      if (JSON.stringify(have) !== JSON.stringify(r.options)) {
        box.replaceChildren(box.querySelector("legend"), ...r.options.map((v) => node("label", {},
          node("input", { type: "radio", name: r.name, value: v }), " " + optionText(r, v))));
      }
      for (const c of box.querySelectorAll("input")) c.checked = c.value === r.value;
    } };
  },
  select(row) {
    const select = node("select", { id: row.name });
    select.addEventListener("change", () => sendChange(row.name, selectValue(select)));
    return { wrap: labelled(row, select), set: (r) => fillOptions(select, r, r.options || r.choices || [], r.value) };
  },
  select_slider(row) {
    return MAKE.select(row);
  },
  number(row) {
    const input = node("input", { id: row.name, type: "number", step: row.step === null ? "any" : row.step });
    if (row.lo !== null && !row.lo_open) input.min = row.lo;
    if (row.hi !== null && !row.hi_open) input.max = row.hi;
    typedNumber(input, row.name);
    return { wrap: labelled(row, input), set: (r) => setInput(input, r.value) };
  },
  slider(row) {
    const range = node("input", { type: "range", min: row.lo, max: row.hi, step: row.step || "any",
      "aria-label": `${row.label} (slider)` });
    const input = node("input", { id: row.name, type: "number", min: row.lo, max: row.hi, step: row.step || "any",
      className: "slider-value" });
    range.addEventListener("input", () => { input.value = range.value; });
    range.addEventListener("change", () => sendChange(row.name, range.value));
    typedNumber(input, row.name);
    const wrap = node("label", { title: row.help }, row.label, node("span", { className: "slider" }, range, input));
    return { wrap, set(r) {
      setInput(input, formatNumber(r, r.value));
      range.value = r.value;
    } };
  },
  checks(row) {
    const box = checkList(row, row.name, (values) => sendChange(row.name, values));
    return { wrap: box, set: (r) => setChecks(box, r, r.choices, r.value) };
  },
  text(row) {
    const input = node("input", { id: row.name, type: "text", spellcheck: false, autocomplete: "off" });
    const msg = node("p", { id: `${row.name}-msg`, className: "muted", "aria-live": "polite" });
    const fix = node("button", { type: "button", className: "secondary small", hidden: true,
      textContent: "Use the suggestion" });
    const send = debounce(() => {
      delete input.dataset.pending;
      sendChange(row.name, input.value);
    }, 300);
    input.addEventListener("input", () => {
      input.dataset.pending = "1";
      send();
    });
    fix.addEventListener("click", () => sendChange(row.name, fix.dataset.value));
    const wrap = node("div", { className: "wide", title: row.help }, node("label", { className: "wide" }, row.label,
      input), msg, fix);
    return { wrap, msg, fix, set: (r) => setInput(input, r.value) };
  },
  checkbox(row) {
    const input = node("input", { id: row.name, type: "checkbox" });
    input.addEventListener("change", () => sendChange(row.name, input.checked));
    return { wrap: node("label", { title: row.help }, input, " " + row.label), set: (r) => { input.checked = !!r.value; } };
  },
  file(row) { // chosen from the uploaded file's columns (options from the core)
    if (row.kind === "columns") {
      const box = checkList(row, row.name, (values) => sendChange(row.name, values));
      box.id = row.name;
      return { wrap: box, set: (r) => setChecks(box, r, r.options || [], r.value) };
    }
    return MAKE.select(row);
  },
};

function buildControls(table) {
  for (const box of document.querySelectorAll(".controls[data-group]")) {
    box.replaceChildren();
    box.removeAttribute("aria-busy");
  }
  for (const row of table) {
    const box = document.querySelector(`.controls[data-group="${row.group}"]`);
    const make = MAKE[row.control];
    if (!box || !make) continue; // (a control kind this page does not know: the core still has its default)
    const ctl = make(row);
    ctl.row = row;
    ctl.wrap.dataset.setting = row.name;
    ctl.wrap.hidden = true;
    box.append(ctl.wrap);
    if ((row.choices || []).includes("csv")) box.append($("csv-box")); // the upload right after the data source
    state.controls.set(row.name, ctl);
  }
}

// The view the core returns after every change: each control's value, options and whether it applies.
function applyView(view) {
  if (view.data) showData(view.data);
  const shown = new Set();
  for (const row of view.controls) {
    const ctl = state.controls.get(row.name);
    if (!ctl) continue;
    ctl.set(row);
    ctl.wrap.hidden = false;
    shown.add(row.name);
  }
  for (const [name, ctl] of state.controls) {
    if (shown.has(name)) continue;
    ctl.wrap.hidden = true;
    if (ctl.note) ctl.note.hidden = true;
  }
  $("csv-box").hidden = !view.controls.some((r) => r.control === "file");
  showArch(view.arch);
  if (view.notes && view.notes.length) showNotes("link-notes", view.notes);
  writeAddress(view.address);
  setButtons();
  if (state.raceShown) guarded(refreshRace);
  return view;
}

function showArch(arch) {
  const ctl = [...state.controls.values()].find((c) => c.row.kind === "arch");
  state.archOK = !!(arch && arch.ok);
  if (!ctl || !arch) return;
  ctl.msg.textContent = arch.ok ? `OK · ${arch.n_params.toLocaleString("en")} parameters` : arch.error;
  ctl.msg.className = arch.ok ? "ok" : "bad";
  ctl.fix.hidden = arch.ok || !arch.fixed;
  ctl.fix.dataset.value = arch.fixed || "";
  ctl.fix.textContent = arch.fixed ? `Use ${arch.fixed}` : "";
}

// ---- data ------------------------------------------------------------------------------------------------
// The core sends its data summary when the data changed: the page then clears the previous run's charts and
// shows the data itself where it can be drawn.
function showData(data) {
  state.data = data;
  const p = data.preview;
  $("csv-info").textContent = p ? `${data.file}: ${p.n_rows.toLocaleString("en")} rows, ` +
    `${p.columns.length} columns` +
    (Object.keys(p.missing || {}).length ? " · missing: " +
      Object.entries(p.missing).map(([c, n]) => `${c} ${n}`).join(", ") : "") : "";
  $("csv-preview").replaceChildren(...(p ? [table(p.columns, p.rows)] : []));
  $("data-summary").textContent = data.ok ? [data.describe, ...(data.notes || [])].join(" ") +
    (data.class_names && data.class_names.length ? ` Classes: ${data.class_names.join(", ")}.` : "") :
    data.needs_file ? "Upload a CSV file (or choose a built-in dataset) to start." : "";
  if (data.error) showAlert(data.error);
  else if (!$("alert").hidden && state.dataError) clearAlert();
  state.dataError = !!data.error;
  cancelLive();
  clearCharts();
  renderMetrics({});
  $("run-caption").textContent = "";
  if (data.figure) setTimeout(() => { if (state.data === data) draw($("pred-chart"), data.figure); }, 0);
}

async function uploadCSV(file) {
  const buf = await file.arrayBuffer();
  const res = await rpc("set_csv", { name: file.name }, buf);
  clearAlert();
  applyView(res);
  if (res.result) await showResult(res.result);
}

// ---- start-up --------------------------------------------------------------------------------------------
function onReady(info, seconds) {
  state.ready = true;
  window.mlpTimings.ready = performance.now() / 1000;
  window.mlpTimings.workerBoot = seconds;
  setRuntimeStatus(`ready (${window.mlpTimings.ready.toFixed(1)} s)`);
  buildControls(info.table);
  $("onnx-note").textContent = info.no_onnx;
  $("versions").textContent = Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(" · ");
  const start = location.hash.length > 1 ? openLink(location.hash) : rpc("view").then(applyView);
  guarded(() => start).then(() => guarded(startLessons)).then(() => {
    window.mlpTimings.trainReady = performance.now() / 1000;
    document.body.dataset.ready = "1";
    warmUpWhenIdle();
    registerServiceWorkerWhenIdle();
  });
}

// Code runs slower the first time (the worker's WebAssembly, Plotly.js's chart types): once the first screen has been
// usable and idle for a second and nothing was pressed, the worker trains and races a throwaway model (the core's
// warm_up, three short steps) and the page draws its figures once, off screen and untitled, so that the visit's
// first Train and race do not pay for it. It stops as soon as the user starts something (who waits one step at most).
const WARM_UP_DELAY = 1000;
function warmUpWhenIdle() {
  const idle = (fn) => (window.requestIdleCallback ? requestIdleCallback(fn, { timeout: 1000 }) : setTimeout(fn, 50));
  const busy = () => state.hasRun || state.training || state.racing;
  setTimeout(() => idle(async () => {
    try {
      let figures;
      while (!busy() && (figures = await rpc("warm_up"))) await drawHidden(figures, idle, busy);
      if (!figures) bump("warm");
    } catch (err) { // only a warm-up: the page works as before
      console.warn("warm-up:", err);
    }
  }), WARM_UP_DELAY);
}

async function drawHidden(figures, idle, busy) {
  await loadPlotly();
  const box = node("div", { className: "warm-up", ariaHidden: "true", inert: true });
  box.style.cssText = "position:absolute;left:-10000px;top:0;width:700px;overflow:hidden";
  document.body.append(box);
  for (const fig of Object.values(figures)) {
    await new Promise((resolve) => idle(resolve));
    if (busy()) break;
    const div = node("div");
    box.append(div);
    await Plotly.newPlot(div, fig.data || [], Object.assign({}, fig.layout, { title: undefined }), PLOT_CONFIG);
    Plotly.purge(div);
    div.remove();
  }
  box.remove();
}

// The offline cache re-reads the whole site (~25 MB): it is set up once the first screen is usable and no training
// is running (a Train click right away gets the CPU to itself).
function registerServiceWorkerWhenIdle(delay = 2000) {
  setTimeout(() => {
    if (state.training) registerServiceWorkerWhenIdle(500);
    else registerServiceWorker();
  }, delay);
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const status = $("offline-status");
  try {
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "sw-activated" && status.dataset.state === "ready" &&
          status.dataset.version !== e.data.version) {
        status.textContent = "Offline: updated (reload for the new version)";
      }
    });
    await navigator.serviceWorker.register("sw.js");
    const reg = await navigator.serviceWorker.ready;
    status.textContent = "Offline: ready";
    status.dataset.state = "ready";
    status.classList.remove("muted");
    if (reg.active) status.dataset.version = (self.MLP_CONFIG || {}).version || "";
  } catch (err) {
    status.textContent = "Offline: unavailable";
    status.dataset.state = "error";
    console.warn("service worker:", err);
  }
}


// ---- training --------------------------------------------------------------------------------------------
function setButtons() {
  const ready = state.ready && !!state.data && state.data.ok && state.archOK;
  const btn = $("train");
  btn.textContent = "Train";
  btn.disabled = state.training || !ready;
  // Step and Reset stay enabled while training runs: the core pauses the training for them (and says so)
  $("step").disabled = $("reset").disabled = !ready;
  $("resume").disabled = state.training || !ready || !state.hasRun;
  $("stop").disabled = !state.training;
  for (const id of ["download", "download-run-predictions"]) $(id).disabled = state.training || !state.hasRun;
  $("race").disabled = state.training || state.racing || !ready;
  for (const b of document.querySelectorAll("#lesson-list button, #show-solution, #close-lesson")) {
    b.disabled = state.training || state.racing;
  }
}

function setTraining(on) {
  state.training = on;
  // the data cannot change under a training run (the data panel's controls wait)
  for (const el of document.querySelectorAll("#data-panel input, #data-panel select")) el.disabled = on;
  setButtons();
}

function setEpoch(n) {
  $("epoch-counter").textContent = `Epoch ${n}`;
  $("epoch-counter").dataset.epoch = String(n);
}

// A frame of the training in progress (Playground.advance): the counter, the progress, the live figures.
function onFrame(frame) {
  window.mlpStats.progress++;
  $("progress").value = frame.progress;
  setEpoch(frame.epoch);
  $("train-status").textContent = frame.text;
  const figs = frame.figures || {};
  if (state.training && Object.keys(figs).length) drawLive(figs, frame.main);
}

// A run as the core describes it (after Train, Resume, Step, Reset, Stop, or opening a link): draw it all.
async function showResult(res) {
  if (!res) return;
  if (!state.result || state.result.id !== res.id) { // another model: Explain picks its weight afresh
    for (const id of ["explain-layer", "explain-i", "explain-j"]) $(id).value = "";
  }
  state.result = res;
  state.hasRun = true;
  setEpoch(res.epoch);
  cancelLive(); // a live frame still waiting must not cover the final charts
  drawFigures(res.figures, res.main, res.figure_order);
  renderMetrics(res.metrics);
  $("model-summary").textContent = res.summary;
  $("run-caption").textContent = `Run ${res.id} · ${res.caption}`;
  $("progress").value = res.epochs_setting ? Math.min(1, res.epoch / res.epochs_setting) : 0;
  $("train-status").textContent = res.error ? `The results could not be computed: ${res.error}` :
    res.reason ? `Stopped: ${res.reason}.` : res.trained ? `Done: ${res.caption}.` : "Fresh weights, not trained yet.";
  showNotes("train-notes", res.notes);
  setButtons();
  if (res.lesson !== undefined) await guarded(() => lessonChecked(res.lesson));
  // the explanation follows the model shown (unless it is what paused the training: it is up to date)
  if ($("explain").open && !state.training && !state.explainPaused) guarded(explainStep);
  state.explainPaused = false;
  await guarded(updateShareLink);
  await guarded(() => refreshRuns());
}

async function train(cmd) {
  clearAlert();
  setTraining(true);
  $("progress").value = 0;
  $("train-status").textContent = cmd === "resume" ? "Resuming…" : "Training…";
  const started = performance.now();
  try {
    const res = await rpc(cmd);
    const seconds = (performance.now() - started) / 1000;
    window.mlpTimings.lastTrain = { seconds, epochs: res.epoch, pythonSeconds: res.seconds };
    setTraining(false);
    await showResult(res);
    bump("trained");
  } catch (err) {
    $("train-status").textContent = "Training failed.";
    showAlert(err.message);
  } finally {
    setTraining(false);
  }
}

// Step / Reset: one command, then the run's result.
async function stepOrReset(cmd) {
  const res = await rpc(cmd);
  clearAlert();
  await showResult(res);
  bump("stepped");
}

async function download(cmd, type) {
  const res = await rpc(cmd);
  const blob = res.b64 ? new Blob([b64ToBytes(res.b64)], { type }) : new Blob([res.csv], { type });
  downloadBlob(blob, res.filename);
}

// ---- Compare runs (the core keeps the runs and overlays their loss curves) --------------------------------
// The choice of runs is the user's until a new run comes: then it is the core's again (the latest runs).
async function refreshRuns(choice = undefined) {
  if (choice !== undefined) state.compareChosen = choice;
  else if (state.result && !state.runs.some((r) => r.id === state.result.id)) state.compareChosen = null;
  renderCompare(await rpc("compare", { run_ids: state.compareChosen }));
}

const RUN_COLUMNS = [["id", "run"], ["data", "data"], ["arch", "architecture"], ["optimizer", "optimizer"],
  ["lr", "lr"], ["batch", "batch"], ["epochs", "epochs"], ["seconds", "seconds"], ["final_loss", "final train loss"],
  ["score", "test score"]];

function renderCompare(res) {
  const runs = res.runs;
  state.runs = runs;
  $("compare-empty").hidden = runs.length > 0;
  $("compare-runs").hidden = $("clear-runs").hidden = $("compare-chart").hidden = !runs.length;
  const box = $("compare-runs");
  box.replaceChildren(box.querySelector("legend"), ...runs.map((r) => node("label", {},
    node("input", { type: "checkbox", value: r.id, checked: res.chosen.includes(r.id) }), " " + r.name)));
  if (res.figure) draw($("compare-chart"), res.figure);
  else purge($("compare-chart"));
  $("compare-table").replaceChildren(...(runs.length ?
    [table(RUN_COLUMNS.map(([, label]) => label), runs.map((r) => RUN_COLUMNS.map(([k]) => r[k])))] : []));
  fillUseModel(runs);
  bump("compared");
}

// ---- Explain a step (LaTeX from webapp/core/explain.py via Playground.explain, typeset by the vendored KaTeX) ----
let katexLoading = null;
function loadKatex() {
  if (window.katex) return Promise.resolve(window.katex);
  if (!katexLoading) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "vendor/katex/katex.min.css";
    document.head.appendChild(css);
    katexLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "vendor/katex/katex.min.js";
      script.onload = () => resolve(window.katex);
      script.onerror = () => {
        katexLoading = null;
        reject(new Error("KaTeX (the formulas) could not be loaded."));
      };
      document.head.appendChild(script);
    });
  }
  return katexLoading;
}

function explainWeight() {
  const vals = ["explain-layer", "explain-i", "explain-j"].map((id) => $(id).value.trim());
  if (vals.every((v) => v === "")) return null;
  if (vals.some((v) => v === "")) throw new Error("Choose the weight with all three of layer, i and j (or none).");
  const [layer, i, j] = vals.map(Number);
  return { layer, i, j };
}

// A box that may scroll is focusable, so that it can be scrolled from the keyboard (WCAG 2.1.1).
function scrollable(el, label) {
  el.tabIndex = 0;
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", label);
  return el;
}

function codeBlock(start, code, label) {
  const pre = scrollable(document.createElement("pre"), label);
  pre.className = "code";
  const lines = code.replace(/\n$/, "").split("\n");
  pre.textContent = lines.map((l, k) => `${String(start + k).padStart(4)}  ${l}`).join("\n");
  return pre;
}

async function explainStep() {
  if (state.training) state.explainPaused = true; // the core pauses the training to explain a step
  const [res, katex] = await Promise.all([
    rpc("explain", { row: Number($("explain-row").value), weight: explainWeight() }), loadKatex()]);
  clearAlert();
  if (res.weight) {
    $("explain-layer").value = res.weight.layer;
    $("explain-i").value = res.weight.i;
    $("explain-j").value = res.weight.j;
  }
  $("explain-row").max = Math.max(0, res.n_rows - 1);
  const out = [];
  const head = document.createElement("p");
  head.className = "muted";
  head.textContent = `Training row ${res.row} of ${res.n_rows}` + (res.weight ? ` · weight ${res.weight.label}` : "");
  out.push(head);
  for (const note of res.notes || []) { // what the numbers mean beyond the formulas (e.g. dropout is off)
    const p = document.createElement("p");
    p.className = "muted explain-note";
    p.textContent = note;
    out.push(p);
  }
  for (const sec of res.sections) {
    const box = document.createElement("section");
    box.className = "explain-step";
    box.dataset.id = sec.id;
    const h = document.createElement("h4");
    h.textContent = sec.title;
    const formulas = document.createElement("div");
    formulas.className = "formulas";
    for (const tex of sec.latex) {
      const div = scrollable(document.createElement("div"), `formula: ${sec.title}`);
      div.className = "formula";
      div.dataset.tex = tex;
      katex.render(tex, div, { displayMode: true, throwOnError: false });
      formulas.appendChild(div);
    }
    const code = document.createElement("div");
    code.className = "code-col";
    const cap = document.createElement("div");
    cap.className = "muted code-caption";
    cap.textContent = `mlp/reference.py · ${sec.code_name} (line ${sec.code_start})`;
    code.append(cap, codeBlock(sec.code_start, sec.code, `code: ${sec.code_name}`));
    const grid = document.createElement("div");
    grid.className = "explain-grid";
    grid.append(formulas, code);
    box.append(h, grid);
    out.push(box);
  }
  $("explain-out").replaceChildren(...out);
  bump("explained");
}

// ---- links: the address holds the settings (the core encodes and decodes it) ------------------------------
function writeAddress(address) {
  if (state.restoring || address === undefined || address === null) return;
  if (address !== state.address) {
    state.address = address;
    history.replaceState(null, "", "#" + address);
  }
  bump("urlSynced");
}

// Open an address: the core applies its settings (a note for every value it drops) and shows the trained model
// it may carry at once.
async function openLink(hash) {
  state.restoring = true;
  let res;
  try {
    res = await rpc("open_link", { source: hash });
  } finally {
    state.restoring = false;
  }
  showNotes("link-notes", res.notes);
  res.notes = [];
  applyView(res);
  if (res.result) {
    await showResult(res.result);
    $("train-status").textContent = res.result.trained ?
      `Opened the trained model from the link (${res.result.epoch} epochs, not trained here).` :
      "Opened the trained model from the link (not trained here; its training history was too long to travel " +
      "with it, so the epoch counter starts at 0).";
  }
}

async function updateShareLink() {
  const res = await rpc("share", { base: location.href.split("#")[0] });
  const a = $("share-link");
  a.href = res.href;
  a.hidden = $("copy-link").hidden = false;
  a.dataset.carriesModel = res.carries_model ? "1" : "0";
  $("share-note").textContent = res.note || (res.carries_model ? "The link carries the trained model." : "");
  $("share-note").hidden = !$("share-note").textContent;
}

// ---- Lessons (webapp/core/lessons via the Playground: texts, setups, goals and their checks are the core's) ----
// The page lists them, shows the open one (its formulas typeset by KaTeX) and keeps the progress (the core's JSON)
// in localStorage, so a ✓ stays across visits.
const PROGRESS_KEY = "mlp.lessons.progress";
state.lesson = null;

function storedProgress() {
  try {
    return localStorage.getItem(PROGRESS_KEY);
  } catch (err) { // storage disabled: progress for this visit only
    return null;
  }
}

async function startLessons() {
  const res = await rpc("set_progress", { text: storedProgress() || "" });
  renderLessonList(res.lessons);
  renderRaceChoices(res.race_choices);
  bump("lessons");
}

function renderLessonList(list) {
  const items = list.map((le) => {
    const btn = node("button", { type: "button", dataset: { number: String(le.number) } }, le.label);
    if (le.done) btn.append(" ", node("span", { className: "tick", title: "Goal reached" }, "✓"));
    btn.setAttribute("aria-current", le.open ? "true" : "false");
    btn.addEventListener("click", () => guarded(() => openLesson(le.number)));
    return node("li", {}, btn);
  });
  $("lesson-list").replaceChildren(...items);
  setButtons();
}

// Formulas between $$...$$ (display) or $...$ (inline) in the text nodes of `el`, typeset by KaTeX.
const MATH = /\$\$([\s\S]+?)\$\$|\$([^$\n]+?)\$/g;
async function typeset(el) {
  if (!el.textContent.includes("$")) return;
  const katex = await loadKatex();
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.nodeValue.includes("$")) texts.push(n);
  for (const t of texts) {
    const parts = [];
    let pos = 0;
    for (const m of t.nodeValue.matchAll(MATH)) {
      parts.push(document.createTextNode(t.nodeValue.slice(pos, m.index)));
      const span = node("span", { className: "math" });
      span.dataset.tex = m[1] !== undefined ? m[1] : m[2];
      katex.render(span.dataset.tex.trim(), span, { displayMode: m[1] !== undefined, throwOnError: false });
      parts.push(span);
      pos = m.index + m[0].length;
    }
    parts.push(document.createTextNode(t.nodeValue.slice(pos)));
    t.replaceWith(...parts);
  }
}

function showLessonStatus(status) {
  const el = $("lesson-status");
  el.textContent = status ? status.message : "";
  el.className = "lesson-status" + (status && status.checked ? (status.met ? " met" : " unmet") : "");
  el.dataset.met = status && status.met ? "1" : "0";
}

async function showLesson(lesson) {
  if (!lesson || !state.lesson || state.lesson.number !== lesson.number) $("lesson-hints").open = false;
  state.lesson = lesson;
  $("lesson").hidden = !lesson;
  if (!lesson) return;
  $("lesson").dataset.number = String(lesson.number);
  $("lesson-title").textContent = lesson.label;
  $("lesson-text").innerHTML = lesson.html; // the core's HTML: everything but its own tags is escaped
  $("lesson-goal").textContent = lesson.goal;
  showLessonStatus(lesson.status);
  $("lesson-race-note").hidden = !lesson.race;
  $("lesson-hints").hidden = !(lesson.hints || []).length;
  // (the core's HTML, escaped but for its own tags)
  $("lesson-hint-list").innerHTML = "<ul>" + (lesson.hints_html || []).map((h) => `<li>${h}</li>`).join("") + "</ul>";
  await Promise.all([typeset($("lesson-text")), typeset($("lesson-hint-list"))]);
  bump("lessonShown");
}

// No run is shown (a lesson was opened, or its solution loaded): the charts of the last one go.
function clearResult() {
  cancelLive();
  clearCharts();
  state.hasRun = false;
  state.result = null;
  setEpoch(0);
  $("progress").value = 0;
  $("metrics").replaceChildren();
  $("model-summary").textContent = "";
  $("run-caption").textContent = "";
  $("train-status").textContent = "";
  showNotes("train-notes", []);
  showRace(null);
  if (state.data && state.data.figure) draw($("pred-chart"), state.data.figure);
  setButtons();
}

// Open a lesson or load its solution: the core sets the settings (the controls and the address follow).
async function lessonAction(cmd, args = {}) {
  clearAlert();
  const res = await rpc(cmd, args);
  showNotes("link-notes", res.notes);
  res.notes = [];
  applyView(res);
  clearResult();
  renderLessonList(res.lessons);
  renderRaceChoices(res.race_choices);
  await showLesson(res.lesson);
  await guarded(updateShareLink);
}

async function openLesson(number) {
  await lessonAction("open_lesson", { number });
  $("lesson").scrollIntoView({ block: "nearest" });
}

// After a run (or a race) the core has checked the goal: show it, and keep the progress when it was reached.
async function lessonChecked(lesson) {
  if (!lesson) return;
  const wasDone = state.lesson && state.lesson.status && state.lesson.status.met;
  state.lesson = lesson;
  showLessonStatus(lesson.status);
  if (lesson.status && lesson.status.met) {
    const progress = await rpc("progress");
    try {
      localStorage.setItem(PROGRESS_KEY, typeof progress === "string" ? progress : JSON.stringify(progress));
    } catch (err) {
      console.warn("the lessons' progress could not be stored:", err);
    }
    if (!wasDone) renderLessonList(await rpc("lessons"));
  }
  bump("lessonChecked");
}

// ---- Race optimizers: the core trains one model per optimizer from the same start (mlp.race) and draws the
// race and the loss landscape (webapp/core/charts_learn.py) ------------------------------------------------------
// The optimizers a race can use, checked as the core proposes (a race lesson's own racers, else the classic four).
function renderRaceChoices(choices) {
  const box = $("race-optimizers");
  state.raceLabels = Object.fromEntries(choices.map((c) => [c.name, c.label]));
  box.replaceChildren(box.querySelector("legend"), ...choices.map((c) => node("label", {},
    node("input", { type: "checkbox", name: "race-optimizer", value: c.name, checked: c.default }), " " + c.label)));
}

function raceSummary(res) {
  const parts = (res.summary || []).map((r) => `${(state.raceLabels || {})[r.optimizer] || r.optimizer}: ` +
    (r.final_loss === null ||
    r.final_loss === undefined ? "diverged" : `loss ${fmt(r.final_loss)}`));
  return `${res.epochs} epochs each · ` + parts.join(" · ");
}

function racePicked() {
  return [...$("race-optimizers").querySelectorAll("input:checked")].map((c) => c.value);
}

// The race shown (the core's race_view): its charts, summary and notes, and, once a setting it read or the
// optimizers picked have changed, the core's sentence saying so (its figures then come titled and faded).
function showRace(res) {
  state.raceShown = !!res;
  state.raceStale = res ? res.stale || null : null;
  for (const [id, name] of [["race-chart", "race"], ["landscape-chart", "landscape"]]) {
    $(id).hidden = !res; // (shown before drawing: Plotly sizes a chart to its box)
    if (!res) purge($(id));
    else draw($(id), res.figures[name]);
  }
  $("race-status").textContent = res ? raceSummary(res) : "";
  showNotes("race-notes", res ? res.notes : []);
  showNotes("race-stale", state.raceStale ? [state.raceStale] : []);
}

// After a change of the settings or of the optimizers picked: is the race shown still the current one?
async function refreshRace() {
  if (!state.raceShown || state.racing) return;
  const res = await rpc("race_view", { optimizers: racePicked() });
  if (!res || (res.stale || null) !== state.raceStale) showRace(res);
  bump("raceChecked");
}

async function race() {
  clearAlert();
  state.racing = true;
  setButtons();
  $("race-status").textContent = "Racing…";
  const started = performance.now();
  try {
    const res = await rpc("race", { optimizers: racePicked() });
    window.mlpTimings.lastRace = { seconds: (performance.now() - started) / 1000, optimizers: res.optimizers };
    showRace(res);
    if (res.lesson !== undefined) await lessonChecked(res.lesson);
    bump("raced");
  } catch (err) {
    $("race-status").textContent = "";
    showAlert(err.message);
  } finally {
    state.racing = false;
    setButtons();
  }
}

// ---- Use a model: a run of this page or a model file, to predict a CSV ------------------------------------
function fillUseModel(runs) {
  const select = $("use-model");
  const keep = select.value;
  select.replaceChildren(...[...runs].reverse().map((r) => node("option", { value: String(r.id),
    textContent: r.name })), node("option", { value: "file", textContent: "a model file" }));
  select.value = [...select.options].some((o) => o.value === keep) && keep !== "file" ? keep :
    (state.fileModel && keep === "file") || !runs.length ? "file" : String(runs[runs.length - 1].id);
  if (select.value !== keep) guarded(chooseModel);
}

function setModelInfo(info) {
  $("model-info").textContent = info ? info.description : "";
  $("use-model-summary").textContent = info ? info.summary : "";
  $("download-template").hidden = !(info && info.template);
  $("download-template").dataset.csv = info && info.template ? info.template : "";
  $("predict-file").disabled = !info;
}

async function chooseModel() {
  const id = $("use-model").value;
  $("model-file-label").hidden = id !== "file";
  if (id === "file" && !state.fileModel) {
    setModelInfo(null);
    return;
  }
  setModelInfo(await rpc("use_model", { run_id: id }));
}

async function loadModelFile(file) {
  const info = await rpc("model_load", { name: file.name }, await file.arrayBuffer());
  clearAlert();
  state.fileModel = true;
  $("use-model").value = "file";
  setModelInfo(info);
}

async function predictFile(file) {
  const res = await rpc("predict_csv", { name: file.name, run_id: $("use-model").value }, await file.arrayBuffer());
  clearAlert();
  state.predictionsCSV = res.csv;
  state.predictionsName = res.filename;
  $("predictions").replaceChildren(table(res.columns, res.rows));
  showNotes("predict-notes", res.notes);
  $("download-predictions").disabled = false;
}

// ---- wiring ----------------------------------------------------------------------------------------------
function wire() {
  $("csv-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) {
      clearAlert();
      guarded(() => uploadCSV(file));
    }
  });
  $("train").addEventListener("click", () => {
    if (!state.training) train("train");
  });
  $("stop").addEventListener("click", () => {
    worker.postMessage({ cmd: "stop" });
    $("train-status").textContent = "Stopping…";
  });
  $("resume").addEventListener("click", () => {
    if (!state.training) train("resume");
  });
  $("step").addEventListener("click", () => guarded(() => stepOrReset("step")));
  $("reset").addEventListener("click", () => guarded(() => stepOrReset("reset")));
  $("explain").addEventListener("toggle", () => {
    if ($("explain").open) guarded(explainStep);
  });
  $("explain-go").addEventListener("click", () => guarded(explainStep));
  for (const id of ["explain-row", "explain-layer", "explain-i", "explain-j"]) {
    $(id).addEventListener("change", () => guarded(explainStep));
  }
  // A link pasted into this tab changes only the fragment (no reload): open it like a new one.
  window.addEventListener("hashchange", () => {
    if (!state.ready || state.training || location.hash === "#" + state.address) return;
    clearAlert();
    guarded(() => openLink(location.hash));
  });
  $("copy-link").addEventListener("click", () => guarded(async () => {
    await navigator.clipboard.writeText($("share-link").href);
    $("copy-link").textContent = "Copied";
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 1500);
  }));
  $("download").addEventListener("click", () => guarded(() => download("model_download", "application/zip")));
  $("download-run-predictions").addEventListener("click",
    () => guarded(() => download("predictions_download", "text/csv")));
  $("compare-runs").addEventListener("change", () => guarded(() => refreshRuns(
    [...$("compare-runs").querySelectorAll("input:checked")].map((c) => Number(c.value)))));
  $("clear-runs").addEventListener("click", () => guarded(async () => {
    renderCompare(await rpc("clear_runs"));
    state.hasRun = false;
    setButtons();
  }));
  $("use-model").addEventListener("change", () => guarded(chooseModel));
  $("show-solution").addEventListener("click", () => guarded(() => lessonAction("show_solution")));
  $("close-lesson").addEventListener("click", () => guarded(async () => {
    const res = await rpc("close_lesson");
    renderLessonList(res.lessons);
    renderRaceChoices(res.race_choices);
    await showLesson(null);
  }));
  $("race-optimizers").addEventListener("change", () => guarded(refreshRace));
  $("race").addEventListener("click", () => {
    if (!state.racing && !state.training) race();
  });
  $("lesson-go-race").addEventListener("click", () => {
    $("race-box").scrollIntoView({ block: "center" });
    $("race").focus();
  });
  $("model-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) guarded(() => loadModelFile(file));
    e.target.value = "";
  });
  $("download-template").addEventListener("click", () => {
    downloadBlob(new Blob([$("download-template").dataset.csv], { type: "text/csv" }), "template.csv");
  });
  $("predict-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) guarded(() => predictFile(file));
    e.target.value = "";
  });
  $("download-predictions").addEventListener("click", () => {
    if (state.predictionsCSV) {
      downloadBlob(new Blob([state.predictionsCSV], { type: "text/csv" }), state.predictionsName || "predictions.csv");
    }
  });
}

wire();
