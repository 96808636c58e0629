// Web Worker: runs Pyodide + the real `mlp` engine. All ML, data and chart logic is Python (worker_glue.py);
// this file only moves messages. Protocol (page -> worker): {id, cmd, args, data?}; replies:
// {type: "reply", id, ok, result | error}, plus {type: "status"}, {type: "ready"}, {type: "progress"}.
"use strict";

importScripts("config.js");
const CFG = self.MLP_CONFIG;
const PYODIDE_URL = new URL(CFG.pyodideURL, self.location.href).href;
const APP_DIR = "/home/pyodide/mlp_app";

let glue = null;
let stopRequested = false;
let training = false;
let queue = Promise.resolve(); // commands run one at a time; "stop" bypasses the queue
// While a training runs, every other command runs between two of its slices (Python is idle then): the core
// decides what it means (Step and Explain pause the training, a setting changes the next run...). Only a second
// Train / Resume waits for the first to end.
const QUEUED = new Set(["train", "resume"]);

function post(msg) {
  self.postMessage(msg);
}

// Call the glue: Python returns a JSON string {ok, result | error}.
function callGlue(cmd, args, data) {
  const out = glue.call(cmd, JSON.stringify(args || {}), data === undefined ? null : data);
  return JSON.parse(out);
}

// Fetch a file of the site as bytes (started early so downloads overlap the interpreter's start).
function fetchBytes(url) {
  return fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.arrayBuffer();
  });
}

async function boot() {
  const t0 = performance.now();
  const phases = {}; // seconds since the worker's time origin, for the benchmark
  const mark = (name) => { phases[name] = performance.now() / 1000; };
  try {
    post({ type: "status", text: "loading Python…" });
    const appZip = fetchBytes("app.zip");
    // NumPy installed by static/build.py (its wheel's files + their .pyc, paths from "/"), if the build had the
    // wheel: unpacked into site-packages, its extension modules load on first import. Faster than loadPackage.
    const sitePackages = CFG.sitePackages ? fetchBytes(CFG.sitePackages) : null;
    importScripts(PYODIDE_URL + "pyodide.js");
    mark("pyodide.js");
    // packages (CDN build): NumPy downloads while the interpreter boots (faster than loadPackage afterwards).
    // stdLibURL: the standard library precompiled by static/build.py --pyc-from (CDN build), else the runtime's.
    const py = await loadPyodide({
      indexURL: PYODIDE_URL, packages: sitePackages ? [] : ["numpy"],
      stdLibURL: CFG.stdLibURL ? new URL(CFG.stdLibURL, self.location.href).href : undefined,
      stdout: (s) => console.log(s), stderr: (s) => console.warn(s),
    });
    mark("runtime");
    post({ type: "status", text: "loading the engine…" });
    if (sitePackages) py.unpackArchive(await sitePackages, "zip", { extractDir: "/" });
    py.unpackArchive(await appZip, "zip", { extractDir: APP_DIR });
    py.runPython(`import sys\nif ${JSON.stringify(APP_DIR)} not in sys.path: sys.path.insert(0, ${JSON.stringify(APP_DIR)})`);
    mark("unpacked");
    glue = py.pyimport("worker_glue");
    mark("engine");
    const info = callGlue("info", {});
    if (!info.ok) throw new Error(info.error);
    mark("info");
    post({ type: "ready", info: info.result, seconds: (performance.now() - t0) / 1000, phases,
      timeOrigin: performance.timeOrigin });
  } catch (err) {
    post({ type: "fatal", error: String(err && err.message ? err.message : err) });
  }
}

// Yield to the worker's event loop (its messages: Stop, the page's commands) and come back at once: a message to
// itself, as setTimeout(0) is clamped to 4 ms once nested (time the core's live budget would count as drawing).
const yieldChannel = new MessageChannel();
const yieldWaiters = [];
yieldChannel.port1.onmessage = () => yieldWaiters.shift()();
function yieldToEvents() {
  return new Promise((resolve) => {
    yieldWaiters.push(resolve);
    yieldChannel.port2.postMessage(null);
  });
}

// Train / Resume: the core's first frame, then one frame per slice of training (posted to the page as it comes)
// until the frame says the training ended; between slices the worker yields to its event loop so "stop" and the
// page's other commands get through. The reply is the run's result.
async function train(cmd) {
  stopRequested = false;
  let r = callGlue(cmd, {});
  while (r.ok && r.result.running) {
    post({ type: "progress", ...r.result });
    await yieldToEvents();
    r = callGlue(stopRequested ? "stop" : "advance", {}); // a slice as long as the core's live budget wants
    if (stopRequested) return r;
  }
  if (!r.ok) {
    callGlue("stop", {}); // the model so far stays; the error is reported
    return r;
  }
  post({ type: "progress", ...r.result });
  return callGlue("result", {});
}

async function handle(msg) {
  const { id, cmd, args, data } = msg;
  let reply;
  try {
    if (!glue) throw new Error("the Python runtime is not ready");
    const bytes = data ? new Uint8Array(data) : undefined;
    if (cmd === "train" || cmd === "resume") {
      training = true;
      try {
        reply = await train(cmd);
      } finally {
        training = false;
      }
    } else {
      reply = callGlue(cmd, args, bytes);
    }
  } catch (err) {
    reply = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  post({ type: "reply", id, ...reply });
}

self.onmessage = (event) => {
  const msg = event.data;
  if (msg.cmd === "stop") {
    stopRequested = true;
    return;
  }
  if (training && !QUEUED.has(msg.cmd)) {
    handle(msg);
    return;
  }
  queue = queue.then(() => handle(msg));
};

const booted = boot();
queue = booted;
