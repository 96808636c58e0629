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
  dataGeneration: 0, // bumped by each new dataset (a late chart of older data is not drawn)
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
  Plotly.react(div, fig.data || [], layout, PLOT_CONFIG);
  window.mlpStats.draws++;
}

function drawFigures(figures) {
  // figures: ordered list of {name, figure}; "loss" goes left, the first other figure right, the rest below.
  const others = [];
  for (const f of figures) {
    if (f.name === "loss") draw($("loss-chart"), f.figure);
    else others.push(f);
  }
  if (others.length) draw($("pred-chart"), others[0].figure);
  const extra = $("extra-charts");
  const divs = [];
  for (const f of others.slice(1)) {
    const div = document.createElement("div");
    div.className = "chart";
    div.dataset.name = f.name;
    divs.push([div, f.figure]);
  }
  extra.replaceChildren(...divs.map(([d]) => d));
  for (const [div, fig] of divs) draw(div, fig);
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
  $("versions").textContent = Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(" · ");
  updateNClasses();
  guarded(loadBuiltin).then(() => {
    setTrainReady();
    window.mlpTimings.trainReady = performance.now() / 1000;
    document.body.dataset.ready = "1";
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
  $("n-classes-label").hidden = $("dataset").value !== "blobs";
}

async function loadBuiltin() {
  const summary = await rpc("builtin", {
    name: $("dataset").value, n_samples: num("n_samples"), noise: num("noise"), seed: num("seed"),
    test_size: num("test_size"), n_classes: num("n_classes"),
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
    test_size: num("test_size"), seed: num("seed"), drop_missing: $("drop_missing").checked,
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
    Plotly.purge($("loss-chart"));
    Plotly.purge($("pred-chart"));
  }
  $("extra-charts").replaceChildren();
  try {
    await checkArch();
  } finally {
    state.dataset = summary;
    setTrainReady();
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
  if (source() === "builtin") await loadBuiltin();
  else await prepareCSV();
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
  if (res.losses && res.losses.length) fillSelect($("loss"), res.losses, $("loss").value || res.default_loss);
  if (res.losses && !res.losses.includes($("loss").value)) $("loss").value = res.default_loss;
  return res;
}

// ---- training --------------------------------------------------------------------------------------------
function trainingConfig() {
  return {
    arch: $("arch").value, loss: $("loss").value, optimizer: $("optimizer").value,
    learning_rate: num("learning_rate"), epochs: num("epochs"), batch_size: num("batch_size"),
    lr_decay: num("lr_decay"), weight_decay: num("weight_decay"), early_stopping: num("early_stopping"),
    seed: num("seed"),
  };
}

function setTraining(on) {
  state.training = on;
  $("stop").disabled = !on;
  $("train").disabled = on || !state.dataset;
  $("download").disabled = on || !state.hasModel;
  for (const el of document.querySelectorAll("#data-panel input, #data-panel select")) el.disabled = on;
}

async function train() {
  clearAlert();
  setTraining(true);
  $("progress").value = 0;
  $("train-status").textContent = "Training…";
  const started = performance.now();
  try {
    const res = await rpc("train", trainingConfig());
    const seconds = (performance.now() - started) / 1000;
    window.mlpTimings.lastTrain = { seconds, epochs: res.epochs_run, pythonSeconds: res.seconds };
    state.hasModel = true;
    $("progress").value = res.epochs_run / Math.max(1, res.epochs);
    $("train-status").textContent = `${res.stopped ? "Stopped" : "Done"} after ${res.epochs_run} epochs in ` +
      `${seconds.toFixed(2)} s · final loss ${fmt(res.loss)}` + (res.stop_reason ? ` (${res.stop_reason})` : "");
    drawFigures(res.figures);
    renderMetrics(res.metrics);
    $("model-summary").textContent = res.summary;
    setModelInfo(res.model);
    document.body.dataset.trained = String(Number(document.body.dataset.trained || 0) + 1);
  } catch (err) {
    $("train-status").textContent = "Training failed.";
    showAlert(err.message);
  } finally {
    setTraining(false);
  }
}

function onProgress(p) {
  window.mlpStats.progress++;
  $("progress").value = p.epoch / Math.max(1, p.epochs);
  $("train-status").textContent = `Epoch ${p.epoch} / ${p.epochs} · loss ${fmt(p.loss)}` +
    (p.val_loss !== null && p.val_loss !== undefined ? ` · val ${fmt(p.val_loss)}` : "");
  if (p.figures) drawFigures(p.figures);
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
  for (const id of ["dataset", "n_samples", "noise", "seed", "n_classes", "test_size", "target", "task", "drop_missing"]) {
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
      $("n-classes-label").hidden = csv || $("dataset").value !== "blobs";
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
