"""Python side of the browser app: runs inside the Pyodide Web Worker (static/worker.js).

The worker sends commands as ``call(cmd, args_json, data)`` and gets a JSON string back:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "message for the user"}``. Everything is
delegated to ``webapp.session`` / ``webapp.charts`` and the ``mlp`` engine, exactly as in the Streamlit app;
this module only keeps the per-page state (data, model, training job) and converts values to JSON.

Training runs in slices (``train_start`` / ``train_step`` / ``train_finish``) so the worker can read a "stop"
message between them: the engine's resumable ``TrainingRun`` (``session.start_training``) gives exactly the
model of one ``session.train`` call, early stopping and schedules included.
"""
from __future__ import annotations

import base64
import json
import math
import sys
import time
import traceback

import numpy as np

import mlp
from webapp import charts, session

MODEL_SUFFIX = ".mlp"  # as the Streamlit app's downloads (a zip; mlp.load opens any name)
LOSS_FIGURE_EVERY = 0.2   # seconds between live loss-curve updates (~5 Hz)
FULL_FIGURES_EVERY = 0.75  # minimum seconds between live prediction-chart updates...
FULL_FIGURES_SHARE = 0.15  # ...and at most this share of the training time goes to them (grids are costly)
# Browser defaults: the session's, with the demo's 1000 epochs (the default run).
BROWSER_DEFAULTS = {"epochs": 1000}
# Settings the page may send.
TRAIN_KEYS = ("arch", "loss", "optimizer", "learning_rate", "epochs", "batch_size", "lr_decay", "lr_schedule",
              "weight_decay", "dropout", "validation_split", "early_stopping", "seed")


class UserError(ValueError):
    """An error whose message is shown to the user as it is."""


class _State:
    """Everything one page owns (one worker serves one page)."""

    def __init__(self):
        self.prepared = None      # session.Prepared of the current data
        self.csv = None           # bytes of the uploaded CSV
        self.csv_name = None      # its file name
        self.model = None         # the current model (trained here or loaded from a file)
        self.model_source = None  # description of where the model came from
        self.model_name = "model"  # file stem for downloads
        self.job = None           # running _TrainJob


STATE = _State()


# ---------------------------------------------------------------- JSON helpers

def _jsonable(obj):
    """Convert NumPy values (and nested containers) to plain JSON types; NaN/inf become None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _to_bytes(data):
    """Bytes from what the worker passes (a Pyodide JsProxy of a Uint8Array, memoryview, bytes or None)."""
    if data is None:
        return None
    if hasattr(data, "to_bytes"):  # pyodide.ffi.JsProxy of a typed array
        return data.to_bytes()
    return bytes(data)


def _figure_list(figs):
    """Session figures dict -> ordered list [{name, figure}] (loss first, then the prediction charts)."""
    order = ["loss", "decision_boundary", "fit", "predicted_vs_actual", "confusion_matrix"]
    names = sorted(figs, key=lambda n: order.index(n) if n in order else len(order))
    return [{"name": n, "figure": figs[n]} for n in names if figs[n] is not None]


# ---------------------------------------------------------------- commands

def info():
    """Choices and defaults for the page controls, plus versions."""
    defaults = dict(session.DEFAULT_CONFIG)
    defaults.update(BROWSER_DEFAULTS)
    return {"datasets": session.datasets(), "optimizers": list(session.OPTIMIZERS), "tasks": list(session.TASKS),
            "defaults": {"optimizer": defaults["optimizer"],
                         "training": {k: defaults[k] for k in ("learning_rate", "epochs", "batch_size",
                                                               "lr_decay")}},
            "versions": {"mlp": getattr(mlp, "__version__", "dev"), "numpy": np.__version__,
                         "python": ".".join(map(str, sys.version_info[:3]))}}


def _summary(prepared):
    """What the page shows about prepared data (and the defaults that follow from it)."""
    arch = session.default_architecture(prepared)
    return {"name": prepared.name, "task": prepared.task, "n_inputs": prepared.n_inputs,
            "n_outputs": prepared.n_outputs, "n_train": prepared.n_train, "n_test": prepared.n_test,
            "feature_names": list(prepared.feature_names), "class_names": list(prepared.class_names),
            "target": prepared.target, "describe": prepared.describe(), "notes": list(prepared.notes),
            "default_arch": arch, "figure": session.data_figure(prepared)}


def builtin(name="circles", n_samples=400, noise=0.1, seed=0, test_size=0.2, n_classes=3):
    """Generate a built-in dataset and make it the current data."""
    STATE.prepared = session.prepare_builtin(name, n_samples=n_samples, noise=noise, seed=seed,
                                             test_size=test_size, n_classes=n_classes)
    return _summary(STATE.prepared)


def csv_preview(data=None, name=None):
    """Read an uploaded CSV (kept for csv_prepare) and return its preview."""
    STATE.csv = STATE.csv_name = STATE.prepared = None  # a failed upload leaves no stale data behind
    raw = _to_bytes(data)
    if raw is None:
        raise UserError("No file was received.")
    preview = session.csv_preview(raw)
    preview.pop("table", None)
    STATE.csv, STATE.csv_name = raw, name or "data.csv"
    STATE.prepared = None
    return preview


def csv_prepare(target=None, features=None, task=None, test_size=0.2, seed=0, drop_missing=False):
    """Prepare the uploaded CSV with the chosen target/features/task and make it the current data."""
    if STATE.csv is None:
        raise UserError("Upload a CSV file first.")
    STATE.prepared = None
    prepared = session.prepare_csv(STATE.csv, target=target or None, features=features or None, task=task or None,
                                   test_size=test_size, seed=seed, drop_missing=bool(drop_missing))
    STATE.prepared = prepared
    return _summary(prepared)


def check_arch(text=""):
    """Validate architecture text against the current data; add the losses that fit its output."""
    res = session.check_architecture(text, STATE.prepared)
    act = res.get("output_activation")
    res["losses"] = session.loss_choices(act) if act else []
    if STATE.prepared is not None and res["losses"]:
        default = session.DEFAULT_LOSS[STATE.prepared.task]
        res["default_loss"] = default if default in res["losses"] else res["losses"][0]
    else:
        res["default_loss"] = res["losses"][0] if res["losses"] else None
    return res


class _TrainJob:
    """One training run, advanced slice by slice by ``step``; equivalent to a single ``session.train``."""

    def __init__(self, cfg, prepared):
        self.cfg = session._cfg(cfg)
        self.prepared = prepared
        self.model = session.build_model(self.cfg, prepared)
        self.run = session.start_training(self.model, prepared, self.cfg)
        self.epochs = self.run.epochs
        self.history = self.run.history
        self.started = time.perf_counter()
        self.train_seconds = 0.0
        self._last_loss_fig = -math.inf
        self._next_full_fig = time.perf_counter() + FULL_FIGURES_EVERY

    @property
    def done(self):
        return self.run.done

    @property
    def stop_reason(self):
        return self.history.stop_reason

    def step(self, seconds=0.1):
        """Train for about ``seconds`` (at least one epoch); return the progress."""
        t = time.perf_counter()
        self.run.step(seconds=float(seconds))
        self.train_seconds += time.perf_counter() - t
        return self.progress()

    def stop(self, reason):
        """End the run here, keeping the model trained so far."""
        self.run.stop(reason)

    def progress(self, force_figures=False):
        """Epoch, losses and (throttled) live figures."""
        h = self.history.history
        now = time.perf_counter()
        res = {"epoch": len(self.history), "epochs": self.epochs, "done": self.done,
               "loss": h["loss"][-1] if h.get("loss") else None,
               "val_loss": h["val_loss"][-1] if h.get("val_loss") else None,
               "elapsed": now - self.started}
        figs = []
        if force_figures or now - self._last_loss_fig >= LOSS_FIGURE_EVERY:
            figs.append({"name": "loss", "figure": charts.loss_figure(self.history,
                                                                    ytitle=session.loss_title(self.prepared))})
            self._last_loss_fig = now
        if len(self.history) and not self.done and (force_figures or now >= self._next_full_fig):
            figs += _figure_list(session.figures(self.model, self.prepared, None))
            cost = time.perf_counter() - now
            self._next_full_fig = now + max(FULL_FIGURES_EVERY, cost / FULL_FIGURES_SHARE)
        if figs:
            res["figures"] = figs
        return res


def train_start(**cfg):
    """Build a fresh model from the page's settings for the current data."""
    if STATE.prepared is None:
        raise UserError("Prepare the data first (choose a dataset or upload a CSV).")
    unknown = set(cfg) - set(TRAIN_KEYS)
    if unknown:
        raise UserError(f"Unknown training setting(s): {', '.join(sorted(unknown))}.")
    STATE.job = _TrainJob(cfg, STATE.prepared)
    return {"epochs": STATE.job.epochs, "n_params": STATE.job.model.n_params}


def train_step(seconds=0.1):
    """Advance the running training by about ``seconds``."""
    if STATE.job is None:
        raise UserError("No training is running.")
    return STATE.job.step(seconds)


def train_finish(stopped=False):
    """End the run (Stop keeps the model trained so far); metrics, final figures and the model summary."""
    job = STATE.job
    if job is None:
        raise UserError("No training is running.")
    STATE.job = None
    if stopped and not job.done:
        job.stop(f"stopped by the user after epoch {len(job.history)}")
    model, prepared = job.model, job.prepared
    model.history = job.history  # the model file carries the whole run's history
    STATE.model, STATE.model_source = model, "trained in this page"
    name = STATE.csv_name if prepared.name == "CSV" and STATE.csv_name else str(prepared.name)
    STATE.model_name = f"mlp_{name.rsplit('.', 1)[0]}"
    figs = session.figures(model, prepared, job.history)
    h = job.history.history
    return {"epochs": job.epochs, "epochs_run": len(job.history), "stopped": bool(stopped or job.stop_reason),
            "stop_reason": job.stop_reason, "loss": h["loss"][-1] if h.get("loss") else None,
            "seconds": job.train_seconds, "metrics": session.evaluate(model, prepared),
            "figures": _figure_list(figs), "summary": model.summary(), "model": _model_description()}


def _model_description():
    """Info about the current model for the page ("what it expects")."""
    if STATE.model is None:
        return None
    info = session.model_info(STATE.model)
    feats = info.get("features")
    text = (f"Model ({STATE.model_source}): {info['n_inputs']} input(s) → {info['n_outputs']} output(s), "
            f"{info['n_params']} parameters, output '{info['output_activation']}', loss {info['loss']}")
    if feats:
        text += f". Predicts {info.get('target')!s} from columns: {', '.join(map(str, feats))}"
    if info.get("class_names"):
        text += f"; classes: {', '.join(info['class_names'])}"
    info["description"] = text + "."
    return info


def model_download():
    """The current model as a model file (same format as ``model.save`` in Python and Streamlit)."""
    if STATE.model is None:
        raise UserError("There is no model yet: train one or load a model file.")
    data = STATE.model.to_bytes()
    return {"filename": STATE.model_name + MODEL_SUFFIX, "b64": base64.b64encode(data).decode("ascii")}


def model_load(data=None, name=None):
    """Open a model file (from Python, Streamlit or this page) and make it the current model."""
    raw = _to_bytes(data)
    model = session.load_model(raw or b"")
    STATE.model, STATE.model_source = model, f"loaded from {name}" if name else "loaded from a file"
    STATE.model_name = (name or "model").rsplit(".", 1)[0]
    return {"summary": model.summary(), "model": _model_description()}


def predict_csv(data=None, name=None, preview_rows=50):
    """Predict every row of an uploaded CSV with the current model; CSV text plus a preview."""
    if STATE.model is None:
        raise UserError("There is no model: train one or load a model file first.")
    raw = _to_bytes(data)
    if not raw:
        raise UserError("The CSV file is empty.")
    notes = []
    text = session.predict_csv(STATE.model, raw, notes)
    import csv as _csv
    import io as _io
    rows = list(_csv.reader(_io.StringIO(text)))
    stem = (name or "data").rsplit(".", 1)[0]
    return {"csv": text, "columns": rows[0] if rows else [], "rows": rows[1:1 + int(preview_rows)],
            "n_rows": max(0, len(rows) - 1), "filename": f"{stem}-predictions.csv", "notes": notes}


COMMANDS = {f.__name__: f for f in (info, builtin, csv_preview, csv_prepare, check_arch, train_start, train_step,
                                     train_finish, model_download, model_load, predict_csv)}
DATA_COMMANDS = {"csv_preview", "model_load", "predict_csv"}  # take the uploaded bytes as `data`


def call(cmd, args_json="{}", data=None):
    """Run one command; always returns a JSON string (errors become {"ok": false, "error": message}).

    ValueError/TypeError (the engine's and the session's user errors) show their message; anything else is
    reported as an internal error with its type, and the traceback goes to the console (stderr).
    """
    try:
        fn = COMMANDS.get(cmd)
        if fn is None:
            raise UserError(f"Unknown command {cmd!r}.")
        args = json.loads(args_json or "{}")
        if not isinstance(args, dict):
            raise UserError("Command arguments must be an object.")
        if cmd in DATA_COMMANDS:
            args["data"] = data
        try:
            result = fn(**args)
        except TypeError as exc:
            # A wrong keyword from the page is a bug, not a user error: say which.
            if "unexpected keyword argument" in str(exc) and f"{fn.__name__}()" in str(exc):
                raise RuntimeError(str(exc)) from exc
            raise
        return json.dumps({"ok": True, "result": _jsonable(result)}, allow_nan=False)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, TypeError):  # may be a bug rather than bad input: keep the trail in the console
            traceback.print_exc(file=sys.stderr)
        return json.dumps({"ok": False, "error": str(exc) or type(exc).__name__, "kind": type(exc).__name__})
    except Exception as exc:  # noqa: BLE001 - the page must keep working whatever happens
        traceback.print_exc(file=sys.stderr)
        return json.dumps({"ok": False, "error": f"Internal error ({type(exc).__name__}): {exc}",
                           "kind": "internal"})
