// Page logic: UI state and rendering only. Every computation (data, model, metrics, chart figures) is done by
// the Python engine in worker.js; this file sends commands and draws the Plotly figure dicts it gets back.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  ready: false,
  training: false,
  dataset: null,      // summary of the prepared data (from the worker)
  archEdited: false,  // user typed an architecture: keep it when the data changes
  csvName: null,
  predictionsCSV: null,
  hasModel: false,
  hasJob: false,      // a model trained (or reset) in this page that Resume / Step continue
  dataGeneration: 0, // bumped by each new dataset (a late chart of older data is not drawn)
  restoring: false,  // settings from a link are being applied (the address is not rewritten meanwhile)
  pendingLoss: null, // loss from a link, chosen once the loss choices for the data are known
  pendingCSV: null,  // target/features/task from a link made with a CSV, applied once the file is uploaded
  lossTask: null,    // the task the loss was chosen for (new data of another task gets that task's default)
};
window.mlpTimings = {}; // seconds since navigation start (performance.now()), read by tests and the benchmark
window.mlpStats = { progress: 0, draws: 0 };

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
      onProgress(msg);
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

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map((v) => {
    const opt = document.createElement("option");
    opt.value = opt.textContent = v;
    return opt;
  }));
  if (selected !== undefined && values.includes(selected)) select.value = selected;
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

// ---- charts (figures are built in Python by webapp/charts.py) --------------------------------------------
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
  Plotly.react(div, fig.data || [], layout, PLOT_CONFIG);
  window.mlpStats.draws++;
  window.mlpStats.drawSeconds = (window.mlpStats.drawSeconds || 0) + (performance.now() - t) / 1000;
}

function drawFigures(figures) {
  // figures: ordered list of {name, figure}; "loss" goes left, the first prediction chart right, the network
  // below them, the other charts after it (their divs are kept by name, so Plotly updates them in place).
  const others = [];
  for (const f of figures) {
    if (f.name === "loss") draw($("loss-chart"), f.figure);
    else if (f.name === "network") {
      draw($("network-chart"), f.figure);
      window.mlpStats.networkDraws = (window.mlpStats.networkDraws || 0) + 1;
    } else others.push(f);
  }
  if (!others.length) return; // a live frame of the network (or the loss) alone
  draw($("pred-chart"), others[0].figure);
  const extra = $("extra-charts");
  const existing = new Map([...extra.children].map((d) => [d.dataset.name, d]));
  const divs = others.slice(1).map((f) => {
    let div = existing.get(f.name);
    if (!div) {
      div = document.createElement("div");
      div.className = "chart";
      div.dataset.name = f.name;
    }
    return div;
  });
  extra.replaceChildren(...divs);
  divs.forEach((div, k) => draw(div, others[k + 1].figure));
}

// Live frames while training: only the newest figure of each chart is drawn, once per animation frame (a
// slow draw never queues stale ones behind it), and drawing takes at most LIVE_DRAW_SHARE of the page's time
// (on a busy machine the page's drawing would otherwise slow the worker's training).
const LIVE_DRAW_SHARE = 0.5;
const liveFigures = new Map();
let liveFrame = null;
let liveNext = 0; // performance.now() before which no live frame is drawn
function drawLive(figures) {
  for (const f of figures) liveFigures.set(f.name, f);
  if (liveFrame !== null) return;
  const frame = () => {
    liveFrame = requestAnimationFrame(() => {
      liveFrame = null;
      const figs = [...liveFigures.values()];
      liveFigures.clear();
      const t = performance.now();
      drawFigures(figs);
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
  liveFigures.clear();
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
  $("metrics").replaceChildren(table(["metric", ...splits], rows));
}

// ---- start-up --------------------------------------------------------------------------------------------
function onReady(info, seconds) {
  state.ready = true;
  window.mlpTimings.ready = performance.now() / 1000;
  window.mlpTimings.workerBoot = seconds;
  setRuntimeStatus(`ready (${window.mlpTimings.ready.toFixed(1)} s)`);
  fillSelect($("dataset"), info.datasets, "circles");
  fillSelect($("optimizer"), info.optimizers, info.defaults.optimizer);
  for (const [k, v] of Object.entries(info.defaults.training || {})) {
    if ($(k) && v !== null && v !== undefined) $(k).value = v;
  }
  renderTransforms(info.transforms || []);
  $("versions").textContent = Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(" · ");
  updateNClasses();
  const start = location.hash.length > 1 ? openLink(location.hash) : loadBuiltin();
  guarded(() => start).then(() => {
    setTrainReady();
    window.mlpTimings.trainReady = performance.now() / 1000;
    document.body.dataset.ready = "1";
    syncURL();
    registerServiceWorkerWhenIdle();
  });
}

// The offline cache re-reads the whole site (~25 MB): it is set up once the first screen is usable and no training
// is running (a Train click right away gets the CPU to itself).
function registerServiceWorkerWhenIdle(delay = 2000) {
  setTimeout(() => {
    if (state.training) registerServiceWorkerWhenIdle(500);
    else registerServiceWorker();
  }, delay);
}

function setTrainReady() {
  const btn = $("train");
  btn.textContent = "Train";
  btn.disabled = state.training || !state.dataset;
  // Step and Reset stay enabled while training runs: pressing them then says why they must wait
  $("step").disabled = $("reset").disabled = !state.dataset;
  $("resume").disabled = state.training || !state.hasJob || !state.dataset;
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

// ---- data ------------------------------------------------------------------------------------------------
function source() {
  return document.querySelector("input[name=source]:checked").value;
}

function num(id) {
  return Number($(id).value);
}

function updateNClasses() {
  $("n-classes-label").hidden = !["blobs", "spiral"].includes($("dataset").value);
}

function renderTransforms(choices) {
  // [[key, label], ...] from the engine (mlp.preprocessing.FEATURE_TRANSFORMS)
  $("transforms-box").hidden = !choices.length;
  $("transforms").replaceChildren(...choices.map(([key, label]) => {
    const lab = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = key;
    cb.dataset.transform = key;
    cb.addEventListener("change", () => guarded(reloadData));
    lab.append(cb, " " + label);
    return lab;
  }));
}

function selectedTransforms() {
  return [...$("transforms").querySelectorAll("input:checked")].map((cb) => cb.value);
}

async function loadBuiltin() {
  const summary = await rpc("builtin", {
    name: $("dataset").value, n_samples: num("n_samples"), noise: num("noise"), seed: num("data_seed"),
    test_size: num("test_size"), n_classes: num("n_classes"), transforms: selectedTransforms(),
  });
  await setDataset(summary);
}

async function loadCSVFile(file) {
  const buf = await file.arrayBuffer();
  // Forget the previous CSV first: if this one is broken, nothing stale stays on screen.
  state.csvName = null;
  state.dataset = null;
  setTrainReady();
  for (const id of ["csv-info", "csv-preview", "target", "features", "data-summary"]) $(id).replaceChildren();
  const preview = await rpc("csv_preview", { name: file.name }, buf);
  state.csvName = file.name;
  const wanted = state.pendingCSV; // settings a link restored: used when this file has those columns
  state.pendingCSV = null;
  if (wanted) {
    if (wanted.target && preview.columns.includes(wanted.target)) preview.default_target = wanted.target;
    if (wanted.features) preview.default_features = wanted.features.filter((c) => preview.columns.includes(c));
    if (wanted.task) $("task").value = wanted.task;
  }
  $("csv-info").textContent = `${file.name}: ${preview.n_rows} rows, ${preview.columns.length} columns` +
    (Object.values(preview.missing || {}).some((n) => n > 0)
      ? " · missing: " + Object.entries(preview.missing).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(", ")
      : "");
  fillSelect($("target"), preview.columns, preview.default_target);
  renderFeatures(preview.columns, preview.default_features);
  $("csv-preview").replaceChildren(table(preview.columns, preview.rows));
  await prepareCSV();
}

function renderFeatures(columns, selected) {
  const box = $("features");
  box.replaceChildren(...columns.map((c) => {
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.value = c;
    cb.checked = selected.includes(c);
    cb.addEventListener("change", () => guarded(prepareCSV));
    label.append(cb, " " + c);
    return label;
  }));
}

function selectedFeatures() {
  const target = $("target").value;
  return [...$("features").querySelectorAll("input:checked")].map((cb) => cb.value).filter((c) => c !== target);
}

async function prepareCSV() {
  if (!state.csvName) return;
  state.dataset = null;
  setTrainReady();
  const summary = await rpc("csv_prepare", {
    target: $("target").value, features: selectedFeatures(), task: $("task").value || null,
    test_size: num("test_size"), seed: num("data_seed"), drop_missing: $("drop_missing").checked,
    transforms: selectedTransforms(),
  });
  await setDataset(summary);
}

async function setDataset(summary) {
  clearAlert();
  state.dataset = null; // Train stays off until the loss choices for this data are known
  setTrainReady();
  $("data-summary").textContent = [summary.describe, ...(summary.notes || [])].join(" ") +
    (summary.class_names && summary.class_names.length ? ` Classes: ${summary.class_names.join(", ")}.` : "");
  if (!state.archEdited) $("arch").value = summary.default_arch;
  // New data: clear the previous run's charts, show the data itself where it can be drawn.
  const generation = ++state.dataGeneration;
  if (window.Plotly) {
    for (const id of ["loss-chart", "pred-chart", "network-chart"]) Plotly.purge($(id));
  }
  $("extra-charts").replaceChildren();
  if (state.lossTask !== summary.task) { // another task: its default loss (unless a link asks for one)
    state.lossTask = summary.task;
    $("loss").replaceChildren();
  }
  try {
    await checkArch();
  } finally {
    state.dataset = summary;
    setTrainReady();
    syncURL(); // the data (and the loss choices) may have changed without a change event
  }
  // The data chart is drawn after Train is enabled (Plotly's first draw is the slowest), unless newer data
  // replaced this one meanwhile.
  if (summary.figure) {
    setTimeout(() => {
      if (generation === state.dataGeneration) draw($("pred-chart"), summary.figure);
    }, 0);
  }
}

async function reloadData() {
  if (!state.ready || state.training) return;
  clearAlert();
  try {
    if (source() === "builtin") await loadBuiltin();
    else await prepareCSV();
  } catch (err) {
    state.dataset = null; // these settings give no data (the message says why): Train waits for a fix
    setTrainReady();
    throw err;
  }
}

// ---- architecture ----------------------------------------------------------------------------------------
async function checkArch() {
  if (!state.ready) return;
  const res = await rpc("check_arch", { text: $("arch").value });
  const msg = $("arch-msg");
  if (res.ok) {
    msg.textContent = `OK · ${res.n_params} parameters`;
    msg.className = "ok";
  } else {
    msg.textContent = res.error + (res.fixed ? ` — suggestion: ${res.fixed}` : "");
    msg.className = "bad";
  }
  if (res.losses && res.losses.length) {
    // keep the chosen loss (or the one a link asked for) when it fits this output, else the data's default
    const wanted = [state.pendingLoss, $("loss").value].find((l) => l && res.losses.includes(l));
    fillSelect($("loss"), res.losses, wanted || res.default_loss);
    if (wanted && wanted === state.pendingLoss) state.pendingLoss = null;
  }
  return res;
}

// ---- training --------------------------------------------------------------------------------------------
// An empty batch size is a full batch (a link's batch_size=full leaves the field empty).
function batchSize() {
  return $("batch_size").value.trim() === "" ? null : num("batch_size");
}

function trainingConfig() {
  return {
    arch: $("arch").value, loss: $("loss").value, optimizer: $("optimizer").value,
    learning_rate: num("learning_rate"), epochs: num("epochs"), batch_size: batchSize(),
    lr_decay: num("lr_decay"), weight_decay: num("weight_decay"), l1: num("l1"),
    early_stopping: num("early_stopping"), seed: num("seed"),
  };
}

function setTraining(on) {
  state.training = on;
  $("stop").disabled = !on;
  $("download").disabled = on || !state.hasModel;
  for (const el of document.querySelectorAll("#data-panel input, #data-panel select")) el.disabled = on;
  setTrainReady();
}

function setEpoch(n) {
  $("epoch-counter").textContent = `Epoch ${n}`;
  $("epoch-counter").dataset.epoch = String(n);
}

// What the worker returns after Train, Resume, Step, Reset or opening a link: draw it all.
function showResults(res) {
  state.hasModel = true;
  state.hasJob = true;
  setEpoch(res.epoch);
  cancelLive(); // a live frame still waiting must not cover the final charts
  drawFigures(res.figures);
  renderMetrics(res.metrics);
  $("model-summary").textContent = res.summary;
  setModelInfo(res.model);
  $("download").disabled = state.training;
  setTrainReady();
  if ($("explain").open) guarded(explainStep);
}

async function train(resume = false) {
  clearAlert();
  setTraining(true);
  $("progress").value = 0;
  $("train-status").textContent = resume ? "Resuming…" : "Training…";
  const started = performance.now();
  try {
    const res = await rpc(resume ? "resume" : "train", { ...trainingConfig(), live: $("live").checked });
    const seconds = (performance.now() - started) / 1000;
    window.mlpTimings.lastTrain = { seconds, epochs: res.epochs_run, pythonSeconds: res.seconds,
      figureSeconds: res.figure_seconds };
    $("progress").value = res.epochs_run / Math.max(1, res.epochs);
    $("train-status").textContent = `${res.stopped ? "Stopped" : "Done"} after ` +
      `${res.epochs_run} epochs in ${seconds.toFixed(2)} s · final loss ${fmt(res.loss)}` +
      (res.stop_reason ? ` (${res.stop_reason}${res.paused ? "; Resume continues" : ""})` : "");
    setTraining(false);
    showResults(res);
    await guarded(updateShareLink);
    document.body.dataset.trained = String(Number(document.body.dataset.trained || 0) + 1);
  } catch (err) {
    $("train-status").textContent = "Training failed.";
    showAlert(err.message);
  } finally {
    setTraining(false);
  }
}

// Step / Reset: one command, then the results (Python refuses them while training runs, with a message).
async function stepOrReset(cmd) {
  const res = await rpc(cmd, trainingConfig());
  clearAlert();
  showResults(res);
  $("train-status").textContent = cmd === "reset" ? "Reset: fresh weights, not trained yet." :
    `Stepped one epoch · loss ${fmt(res.loss)}`;
  await guarded(updateShareLink);
  document.body.dataset.stepped = String(Number(document.body.dataset.stepped || 0) + 1);
}

function onProgress(p) {
  window.mlpStats.progress++;
  $("progress").value = p.run_epoch / Math.max(1, p.epochs);
  setEpoch(p.epoch);
  $("train-status").textContent = `Epoch ${p.run_epoch} / ${p.epochs} · loss ${fmt(p.loss)}` +
    (p.val_loss !== null && p.val_loss !== undefined ? ` · val ${fmt(p.val_loss)}` : "");
  if (p.figures && state.training) drawLive(p.figures);
}

// ---- Explain a step (LaTeX from webapp/explain.py via session.explain, typeset by the vendored KaTeX) -------
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
  const [res, katex] = await Promise.all([
    rpc("explain", { row: num("explain-row"), weight: explainWeight() }), loadKatex()]);
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
  document.body.dataset.explained = String(Number(document.body.dataset.explained || 0) + 1);
}

// ---- links: the address holds the settings (webapp/links.py encodes and decodes, in the worker) -----------
const NUMBER_SETTINGS = ["n_samples", "noise", "data_seed", "test_size", "n_classes", "learning_rate", "epochs",
  "batch_size", "lr_decay", "weight_decay", "l1", "early_stopping", "seed"];

function currentSettings() {
  const s = { source: source() };
  if (s.source === "builtin") {
    s.dataset = $("dataset").value;
  } else {
    if ($("target").value) s.target = $("target").value;
    if ($("features").querySelector("input")) s.features = selectedFeatures();
    if ($("task").value) s.task = $("task").value;
  }
  for (const id of NUMBER_SETTINGS) {
    if ($(id).value !== "" && !(s.source === "csv" && ["n_samples", "noise", "n_classes"].includes(id))) s[id] = num(id);
  }
  if (batchSize() === null) s.batch_size = "full";
  // the page's LR decay is the exponential schedule (a link's lr_decay alone is unused: constant is the default)
  if (s.lr_decay !== undefined && s.lr_decay !== 1) s.lr_schedule = "exponential";
  s.transforms = selectedTransforms();
  s.arch = $("arch").value;
  if ($("loss").value) s.loss = $("loss").value;
  s.optimizer = $("optimizer").value;
  return s;
}

function applySettings(s) {
  if (s.source) {
    const radio = document.querySelector(`input[name=source][value=${s.source}]`);
    if (radio) radio.checked = true;
    const csv = s.source === "csv";
    $("builtin-opts").hidden = csv;
    $("csv-opts").hidden = !csv;
  }
  if (s.dataset !== undefined) $("dataset").value = s.dataset;
  for (const id of NUMBER_SETTINGS) if (s[id] !== undefined && s[id] !== null) $(id).value = s[id] === "full" ? "" : s[id];
  if (Array.isArray(s.transforms)) {
    for (const cb of $("transforms").querySelectorAll("input")) cb.checked = s.transforms.includes(cb.value);
  }
  if (s.optimizer !== undefined) $("optimizer").value = s.optimizer;
  if (s.arch !== undefined) {
    $("arch").value = s.arch;
    state.archEdited = true;
  }
  if (s.loss !== undefined) state.pendingLoss = s.loss;
  if (s.source === "csv") state.pendingCSV = { target: s.target, features: s.features, task: s.task };
  updateNClasses();
}

function showLinkNotes(notes) {
  $("link-notes").textContent = notes.join("\n"); // one line per note (the notes say what was ignored and why)
  $("link-notes").hidden = !notes.length;
}

// Open the address's settings (and the trained model it may carry): restore everything, then show results.
async function openLink(hash) {
  state.restoring = true;
  try {
    const link = await rpc("link_open", { source: hash });
    const notes = [...link.notes];
    applySettings(link.settings);
    if (link.needs_file) { // the note (from Python) asks for the file; its settings wait in state.pendingCSV
      state.dataset = null;
      state.dataGeneration++;
      $("data-summary").textContent = "";
      if (window.Plotly) for (const id of ["loss-chart", "pred-chart", "network-chart"]) Plotly.purge($(id));
      $("extra-charts").replaceChildren();
      showLinkNotes(notes);
      return;
    }
    showLinkNotes(notes);
    await loadBuiltin();
    if (link.has_model) {
      try {
        const res = await rpc("link_model", trainingConfig());
        showResults(res);
        $("train-status").textContent = res.history_dropped ?
          "Opened the trained model from the link (not trained here; its training history was too long to " +
          "travel with it, so the epoch counter starts at 0)." :
          `Opened the trained model from the link (${res.epoch} epochs, not trained here).`;
        await guarded(updateShareLink);
      } catch (err) {
        notes.push(err.message);
        showLinkNotes(notes);
      }
    }
  } finally {
    state.restoring = false;
  }
}

let lastFragment = null;
async function writeURL() {
  if (!state.ready || state.restoring) return;
  const res = await rpc("link_encode", { settings: currentSettings() });
  if (res.fragment !== lastFragment) {
    lastFragment = res.fragment;
    history.replaceState(null, "", "#" + res.fragment);
  }
  document.body.dataset.urlSynced = String(Number(document.body.dataset.urlSynced || 0) + 1);
}
const syncURL = debounce(() => guarded(writeURL), 300);

async function updateShareLink() {
  const res = await rpc("share", { settings: currentSettings(), base: location.href.split("#")[0] });
  const a = $("share-link");
  a.href = res.href;
  a.hidden = $("copy-link").hidden = false;
  a.dataset.carriesModel = res.carries_model ? "1" : "0";
  $("share-note").textContent = res.note || (res.carries_model ? "The link carries the trained model." : "");
  $("share-note").hidden = !$("share-note").textContent;
}

async function downloadModel() {
  const res = await rpc("model_download");
  downloadBlob(new Blob([b64ToBytes(res.b64)], { type: "application/zip" }), res.filename);
}

// ---- predicting with a model file ------------------------------------------------------------------------
function setModelInfo(model) {
  $("model-info").textContent = model ? model.description : "";
  $("predict-file").disabled = !model;
}

async function loadModelFile(file) {
  const res = await rpc("model_load", { name: file.name }, await file.arrayBuffer());
  clearAlert();
  state.hasModel = true;
  $("download").disabled = state.training;
  $("model-summary").textContent = res.summary;
  setModelInfo(res.model);
}

async function predictFile(file) {
  const res = await rpc("predict_csv", { name: file.name }, await file.arrayBuffer());
  clearAlert();
  state.predictionsCSV = res.csv;
  state.predictionsName = res.filename;
  $("predictions").replaceChildren(table(res.columns, res.rows));
  $("predict-notes").textContent = (res.notes || []).join(" ");
  $("predict-notes").hidden = !(res.notes || []).length;
  $("download-predictions").disabled = false;
}

// ---- wiring ----------------------------------------------------------------------------------------------
function wire() {
  const reload = debounce(() => guarded(reloadData), 250);
  for (const id of ["dataset", "n_samples", "noise", "data_seed", "n_classes", "test_size", "target", "task",
    "drop_missing"]) {
    $(id).addEventListener("change", () => {
      if (id === "dataset") updateNClasses();
      if (id === "target" && state.csvName) {
        // the target is never a feature
        const cb = [...$("features").querySelectorAll("input")].find((c) => c.value === $("target").value);
        if (cb) cb.checked = false;
      }
      reload();
    });
  }
  for (const radio of document.querySelectorAll("input[name=source]")) {
    radio.addEventListener("change", () => {
      const csv = source() === "csv";
      $("builtin-opts").hidden = csv;
      $("csv-opts").hidden = !csv;
      updateNClasses();
      if (csv) $("n-classes-label").hidden = true;
      state.archEdited = false;
      if (csv && !state.csvName) {
        state.dataset = null;
        setTrainReady();
      } else {
        reload();
      }
    });
  }
  $("csv-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) {
      clearAlert();
      state.archEdited = false;
      guarded(() => loadCSVFile(file));
    }
  });
  const check = debounce(() => guarded(checkArch), 200);
  $("arch").addEventListener("input", () => {
    state.archEdited = true;
    check();
  });
  $("train").addEventListener("click", () => {
    if (!state.training) train();
  });
  $("stop").addEventListener("click", () => {
    worker.postMessage({ cmd: "stop" });
    $("train-status").textContent = "Stopping…";
  });
  $("resume").addEventListener("click", () => {
    if (!state.training) train(true);
  });
  $("step").addEventListener("click", () => guarded(() => stepOrReset("step_epoch")));
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
    if (!state.ready || state.training || location.hash === "#" + lastFragment) return;
    clearAlert();
    guarded(() => openLink(location.hash)).then(() => {
      setTrainReady();
      syncURL();
    });
  });
  $("copy-link").addEventListener("click", () => guarded(async () => {
    await navigator.clipboard.writeText($("share-link").href);
    $("copy-link").textContent = "Copied";
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 1500);
  }));
  // The address always holds the current settings (never reloads the page).
  for (const ev of ["change", "input"]) {
    document.querySelector("main").addEventListener(ev, (e) => {
      if (!e.target.closest("#explain, #predict-panel") && e.target.type !== "file") syncURL();
    });
  }
  $("download").addEventListener("click", () => guarded(downloadModel));
  $("model-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) guarded(() => loadModelFile(file));
    e.target.value = "";
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
