"""Python side of the browser app: runs inside the Pyodide Web Worker (static/worker.js).

The worker sends commands as ``call(cmd, args_json, data)`` and gets a JSON string back:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "message for the user"}``. Everything is
delegated to ``webapp.core.session`` / ``webapp.core.charts`` / ``webapp.core.links`` and the ``mlp`` engine, exactly as in
the Streamlit app; this module only keeps the per-page state (data, model, training job) and converts values
to JSON.

Training runs in slices (``train_start`` / ``train_step`` / ``train_finish``) so the worker can read a "stop"
message between them: the engine's resumable ``TrainingRun`` (``session.start_training``) gives exactly the
model of one ``session.train`` call, early stopping and schedules included. The job outlives Stop: **Resume**
(``train_resume``) and **Step** (``step_epoch``, one epoch) continue the same model, **Reset** (``reset``)
draws fresh weights; a change of the data or of the model's settings (``session.MODEL_KEYS``) makes a new model.
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
from webapp.core import charts, links, session

MODEL_SUFFIX = ".mlp"  # as the Streamlit app's downloads (a zip; mlp.load opens any name)
LOSS_FIGURE_EVERY = 0.5   # seconds between live loss-curve updates (2 Hz; the network view moves faster)
# Live charts while training: all of them (prediction charts, the network view) at most every FULL_FIGURES_EVERY
# seconds (decision grids are costly); in between, the network view alone (cheap) at most every
# NETWORK_FIGURE_EVERY; and all live figures together take at most FULL_FIGURES_SHARE of the run's time.
FULL_FIGURES_EVERY = 0.75
FULL_FIGURES_SHARE = 0.15
NETWORK_FIGURE_EVERY = 0.2  # every other chunk of the worker (STEP_SECONDS = 0.1 in static/worker.js): ~5 frames/s
# Browser defaults: the session's, with the demo's 1000 epochs (the default run).
BROWSER_DEFAULTS = {"epochs": 1000}
# Settings the page may send: a change of one of session.MODEL_KEYS (or of the data) means a new model for
# Step / Resume; the others (session.TRAINING_KEYS) continue the model.
TRAIN_KEYS = session.MODEL_KEYS + session.TRAINING_KEYS
# Link settings this page has no control for (a Streamlit link may set them), with the values it trains with
# all the same (the LR decay field is the exponential schedule): another value is ignored, and the page says so.
NOT_ON_PAGE = {"lr_schedule": ("constant", "exponential"), "dropout": (0.0,), "validation_split": (0.2,)}
FIGURE_ORDER = ("loss", "network", "decision_boundary", "surface", "fit", "predicted_vs_actual",
                "confusion_matrix")


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
        self.job = None           # the current _TrainJob (kept after Stop: Resume and Step continue it)
        self.running = False      # a Train / Resume loop is in progress (between train_start and train_finish)
        self.link_model = None    # the model an opened link carried, until the page has restored its data
        self.figure_cost = {}     # seconds the full set of figures took, per _cost_key (the live budget)


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
    """Session figures dict -> ordered list [{name, figure}] (loss, network, then the prediction charts)."""
    order = list(FIGURE_ORDER)
    names = sorted(figs, key=lambda n: order.index(n) if n in order else len(order))
    return [{"name": n, "figure": figs[n]} for n in names if figs[n] is not None]


# ---------------------------------------------------------------- commands

def _transforms():
    """[[key, label], ...] of the engine's feature transforms (empty if the engine has none)."""
    table = getattr(mlp.preprocessing, "FEATURE_TRANSFORMS", {})
    return [[key, entry[0]] for key, entry in table.items()]


def info():
    """Choices and defaults for the page controls, plus versions."""
    defaults = dict(session.DEFAULT_CONFIG)
    defaults.update(BROWSER_DEFAULTS)
    return {"datasets": session.datasets(), "optimizers": list(session.OPTIMIZERS), "tasks": list(session.TASKS),
            "transforms": _transforms(),
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


def _transform_kw(transforms):
    """The ``transforms=`` keyword for the session (left out when there are none)."""
    if transforms is None or transforms == []:
        return {}
    if not isinstance(transforms, (list, tuple)) or not all(isinstance(t, str) for t in transforms):
        raise UserError("Feature transforms must be a list of names.")
    return {"transforms": tuple(transforms)}


def builtin(name="circles", n_samples=400, noise=0.1, seed=0, test_size=0.2, n_classes=3, transforms=None):
    """Generate a built-in dataset (with the chosen feature transforms) and make it the current data."""
    _not_while_running("change the data")
    STATE.prepared = None
    STATE.prepared = session.prepare_builtin(name, n_samples=n_samples, noise=noise, seed=seed,
                                             test_size=test_size, n_classes=n_classes,
                                             **_transform_kw(transforms))
    return _summary(STATE.prepared)


def csv_preview(data=None, name=None):
    """Read an uploaded CSV (kept for csv_prepare) and return its preview."""
    STATE.csv = STATE.csv_name = STATE.prepared = None  # a failed upload leaves no stale data behind
    raw = _to_bytes(data)
    if raw is None:
        raise UserError("No file was received.")
    preview = session.csv_preview(raw)
    STATE.csv, STATE.csv_name = raw, name or "data.csv"
    return preview


def csv_prepare(target=None, features=None, task=None, test_size=0.2, seed=0, drop_missing=False, transforms=None):
    """Prepare the uploaded CSV with the chosen target/features/task and make it the current data."""
    if STATE.csv is None:
        raise UserError("Upload a CSV file first.")
    _not_while_running("change the data")
    STATE.prepared = None
    prepared = session.prepare_csv(STATE.csv, target=target or None, features=features or None, task=task or None,
                                   test_size=test_size, seed=seed, drop_missing=bool(drop_missing),
                                   **_transform_kw(transforms))
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


def _not_while_running(what):
    """A clear message instead of a second action in the middle of a training run."""
    if STATE.running:
        raise UserError(f"Training is running: press Stop first, then {what}.")


def _check_cfg(cfg):
    unknown = set(cfg) - set(TRAIN_KEYS)
    if unknown:
        raise UserError(f"Unknown training setting(s): {', '.join(sorted(unknown))}.")
    return session._cfg(cfg)


class _TrainJob:
    """The current model and its training run, advanced slice by slice by ``step``.

    A run is equivalent to a single ``session.train``. ``continue_with`` starts a new run on the same model
    (Resume or Step after the run ended, or with changed training settings); the epochs of earlier runs are
    kept in ``prior`` so the counter and the loss curve go on.
    """

    def __init__(self, cfg, prepared, model=None, prior=None, live=True):
        cfg = session._cfg(cfg)
        self.live = bool(live)  # live charts while training (off: only the epoch and loss numbers)
        self.prepared = prepared
        self.model = model if model is not None else session.build_model(cfg, prepared)
        self.model_key = session.model_key(cfg)
        self.prior = {"loss": [], "val_loss": []} if prior is None else prior
        self._start(cfg)

    def _start(self, cfg):
        self.cfg = cfg
        self.run = session.start_training(self.model, self.prepared, cfg)
        self.epochs = self.run.epochs
        self.history = self.run.history
        self.started = time.perf_counter()
        self.train_seconds = 0.0
        self.figure_seconds = 0.0  # spent on live figures
        self._last_loss_fig = -math.inf
        self._next_full_fig = time.perf_counter() + FULL_FIGURES_EVERY
        self._next_network_fig = time.perf_counter()  # from the first chunk on

    def fits(self, cfg, prepared):
        """True when this job's model is the one for ``cfg`` on ``prepared`` (same data, same model settings)."""
        return prepared is self.prepared and self.model_key == session.model_key(cfg)

    def continue_with(self, cfg):
        """Go on with the same model: keep the current run if it can go on with these settings, else a new run."""
        cfg = session._cfg(cfg)
        if self.run.done or session.training_key(cfg) != session.training_key(self.cfg):
            h = self.history.history
            for key in self.prior:
                self.prior[key] += list(h.get(key) or [])
            self._start(cfg)

    @property
    def done(self):
        return self.run.done

    @property
    def stop_reason(self):
        return self.history.stop_reason

    @property
    def total_epochs(self):
        """Epochs trained on this model, over every run."""
        return len(self.prior["loss"]) + len(self.history)

    def loss_history(self):
        """Every run's losses as one history dict (for the loss curve)."""
        h = self.history.history
        out = {k: v + list(h.get(k) or []) for k, v in self.prior.items()}
        return {k: v for k, v in out.items() if v}

    def step(self, seconds=0.1, epochs=None):
        """Train for about ``seconds`` (at least one epoch), or exactly ``epochs``; return the progress."""
        t = time.perf_counter()
        if epochs is not None:
            self.run.step(epochs=int(epochs))
        else:
            self.run.step(seconds=float(seconds))
        self.train_seconds += time.perf_counter() - t
        return self.progress()

    def stop(self, reason):
        """End the run here, keeping the model trained so far."""
        self.run.stop(reason)

    def next_learning_rate(self):
        """The learning rate the next epoch would use (for the explanation)."""
        return session.next_learning_rate(self.run, self.cfg)

    def progress(self, force_figures=False):
        """Epoch, losses and (throttled) live figures."""
        h = self.history.history
        now = time.perf_counter()
        res = {"epoch": self.total_epochs, "run_epoch": len(self.history), "epochs": self.epochs, "done": self.done,
               "loss": h["loss"][-1] if h.get("loss") else None,
               "val_loss": h["val_loss"][-1] if h.get("val_loss") else None,
               "elapsed": now - self.started}
        figs = []
        if not (self.live or force_figures):
            return res
        if force_figures or now - self._last_loss_fig >= LOSS_FIGURE_EVERY:
            figs.append({"name": "loss", "figure": charts.loss_figure(self.loss_history(),
                                                                    ytitle=session.loss_title(self.prepared))})
            self._last_loss_fig = now
        # the live charts' share of the time so far, counting the one about to be drawn at its last known
        # cost, stays within FULL_FIGURES_SHARE (so a short run does not wait for a costly decision grid)
        def affordable(cost):
            spent = self.figure_seconds + cost
            return spent <= FULL_FIGURES_SHARE * (self.train_seconds + spent)
        if len(self.history) and not self.done:
            t = time.perf_counter()
            full_cost = STATE.figure_cost.get(_cost_key(self))
            if force_figures or (now >= self._next_full_fig and affordable(full_cost or 0.0)):
                figs += _figure_list(session.figures(self.model, self.prepared, None))
                cost = time.perf_counter() - t
                STATE.figure_cost[_cost_key(self)] = cost
                self._next_full_fig = now + max(FULL_FIGURES_EVERY, cost / FULL_FIGURES_SHARE)
                self._next_network_fig = now + NETWORK_FIGURE_EVERY
            elif now >= self._next_network_fig and affordable(0.0):
                figs.append({"name": "network", "figure": session.network_figure(self.model, self.prepared)})
                cost = time.perf_counter() - t
                self._next_network_fig = now + max(NETWORK_FIGURE_EVERY, cost / FULL_FIGURES_SHARE)
        self.figure_seconds += time.perf_counter() - now
        if figs:
            res["figures"] = figs
        return res


def _cost_key(job):
    """Live-figure costs are remembered per data and model size."""
    return (id(job.prepared), job.model.n_params)


def _current_job(cfg):
    """The job whose model fits ``cfg`` and the current data, or None."""
    job = STATE.job
    if job is not None and STATE.prepared is not None and job.fits(cfg, STATE.prepared):
        return job
    return None


def train_start(live=True, **cfg):
    """Build a fresh model from the page's settings for the current data and start training it
    (``live``: charts while training)."""
    _not_while_running("Train again")
    if STATE.prepared is None:
        raise UserError("Prepare the data first (choose a dataset or upload a CSV).")
    cfg = _check_cfg(cfg)
    STATE.job = _TrainJob(cfg, STATE.prepared, live=live)
    STATE.running = True
    return {"epochs": STATE.job.epochs, "n_params": STATE.job.model.n_params, "epoch": 0}


def train_resume(live=True, **cfg):
    """Continue training the current model (after Stop, Step or a finished run)."""
    _not_while_running("Resume")
    cfg = _check_cfg(cfg)
    job = _current_job(cfg)
    if job is None:
        raise UserError("There is no model to resume for these settings (the data or the model settings "
                        "changed, or nothing was trained yet): press Train or Step.")
    job.continue_with(cfg)
    job.live = bool(live)
    STATE.running = True
    return {"epochs": job.epochs, "n_params": job.model.n_params, "epoch": job.total_epochs}


def train_step(seconds=0.1):
    """Advance the running training by about ``seconds``."""
    if STATE.job is None or not STATE.running:
        raise UserError("No training is running.")
    return STATE.job.step(seconds)


def _results(job):
    """What the page shows about the job's model: metrics, figures, summary, epoch counter."""
    model, prepared = job.model, job.prepared
    STATE.model = model
    name = STATE.csv_name if prepared.name == "CSV" and STATE.csv_name else str(prepared.name)
    STATE.model_name = f"mlp_{name.rsplit('.', 1)[0]}"
    losses = job.loss_history()
    t = time.perf_counter()
    figs = session.figures(model, prepared, losses if losses else None)
    STATE.figure_cost[_cost_key(job)] = time.perf_counter() - t  # what a live update of them costs
    h = job.history.history
    return {"epochs": job.epochs, "epochs_run": len(job.history), "epoch": job.total_epochs,
            "stopped": bool(job.stop_reason), "stop_reason": job.stop_reason,
            "loss": h["loss"][-1] if h.get("loss") else None, "seconds": job.train_seconds,
            "figure_seconds": job.figure_seconds,
            "metrics": session.evaluate(model, prepared), "figures": _figure_list(figs),
            "summary": model.summary(), "model": _model_description()}


def train_finish(stopped=False):
    """End the loop (Stop pauses: the model and its run stay for Resume); metrics, figures, model summary."""
    job = STATE.job
    if job is None or not STATE.running:
        raise UserError("No training is running.")
    STATE.running = False
    model = job.model
    model.history = job.history  # the model file carries the run's history
    STATE.model_source = "trained in this page"
    res = _results(job)
    res["stopped"] = bool(stopped or job.stop_reason)
    if stopped and not job.done:  # paused: Resume continues this very run
        res["paused"] = True
        res["stop_reason"] = f"stopped by the user after epoch {job.total_epochs}"
    return res


def step_epoch(**cfg):
    """Step: train exactly one epoch on the current model (a new one if there is none or the data or the
    model settings changed), then stop."""
    _not_while_running("Step")
    if STATE.prepared is None:
        raise UserError("Prepare the data first (choose a dataset or upload a CSV).")
    cfg = _check_cfg(cfg)
    job = _current_job(cfg)
    if job is None:
        job = STATE.job = _TrainJob(cfg, STATE.prepared)
        STATE.model_source = "trained in this page"
    else:
        job.continue_with(cfg)
    job.step(epochs=1)
    job.model.history = job.history
    return _results(job)


def reset(**cfg):
    """Reset: a fresh model (new initial weights from the seed) for the current data; 0 epochs."""
    _not_while_running("Reset")
    if STATE.prepared is None:
        raise UserError("Prepare the data first (choose a dataset or upload a CSV).")
    cfg = _check_cfg(cfg)
    STATE.job = _TrainJob(cfg, STATE.prepared)
    STATE.model_source = "reset in this page (not trained)"
    return _results(STATE.job)


def explain(row=0, weight=None):
    """Explain a step: one training row through the current model (session.explain), with the LaTeX and the
    reference code of each formula."""
    _not_while_running("open Explain a step")
    job = STATE.job
    if job is None or STATE.model is not job.model:
        if STATE.model is not None:   # a model file: its training rows are not here
            raise UserError("Explain a step follows a model trained in this page on its training rows; the model "
                            "opened from a file has none here: press Train, Step or Reset first.")
        raise UserError("There is no model to explain yet: press Train, Step or Reset first.")
    try:
        row = int(row)
    except (TypeError, ValueError):
        raise UserError(f"The row must be a whole number, got {row!r}.") from None
    if weight is not None:
        if not isinstance(weight, dict) or set(weight) - {"layer", "i", "j"}:
            raise UserError("The weight must be given as layer, i (input unit) and j (output unit).")
    return session.explain(job.model, job.prepared, row=row, weight=weight,
                           learning_rate=job.next_learning_rate())


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


# ---------------------------------------------------------------- links (webapp/links.py)

def link_encode(settings=None):
    """The URL fragment (without '#') that holds ``settings`` (the page keeps it in the address bar)."""
    return {"fragment": links.encode(dict(settings or {}))}


def link_open(source=""):
    """Read a link's fragment: the valid settings, a note for every ignored value, and whether it carries a
    trained model (kept until ``link_model`` once the page has restored the settings and the data)."""
    decoded = links.decode(source or "")
    notes = list(decoded.notes)
    defaults = links.defaults()
    for key, honoured in NOT_ON_PAGE.items():
        if decoded.settings.get(key, defaults[key]) not in honoured:
            notes.append(f"This page has no {key} setting: the link's {key}={decoded.settings[key]} was ignored "
                         f"(the default, {defaults[key]}, is used).")
    STATE.link_model = decoded.model
    if decoded.needs_file:  # a CSV cannot travel: the page asks for the file (and opens no model meanwhile)
        notes.append(links.CSV_ASK)
        STATE.link_model = None
    return {"settings": decoded.settings, "notes": notes, "has_model": STATE.link_model is not None,
            "needs_file": bool(decoded.needs_file)}


def link_model(**cfg):
    """Make the model the link carried the current model, on the current data; its results at once."""
    model, STATE.link_model = STATE.link_model, None
    if model is None:
        raise UserError("This link carries no model.")
    if STATE.prepared is None:
        raise UserError("Prepare the data first (choose a dataset or upload a CSV).")
    prepared = STATE.prepared
    why = links.model_mismatch(model, prepared)
    if why:
        raise UserError(why)
    cfg = _check_cfg(cfg)
    earlier = model.history
    prior = {"loss": [], "val_loss": []}
    if earlier is not None:
        for key in prior:
            prior[key] = [float(v) for v in (earlier.history.get(key) or [])]
    STATE.job = _TrainJob(cfg, prepared, model=model, prior=prior)
    model.history = earlier  # Download model gives the file the link carried
    STATE.model_source = "opened from a link"
    res = _results(STATE.job)
    res["history_dropped"] = not prior["loss"]  # a long history does not travel: the counter starts at 0
    return res


def share(settings=None, base=""):
    """The Share link: settings, plus the trained model itself when it is small enough (links.share)."""
    job = STATE.job
    model = job.model if job is not None and STATE.model is job.model and job.total_epochs else None
    return links.share(dict(settings or {}), model, base=str(base or ""), mode="fragment")


COMMANDS = {f.__name__: f for f in (info, builtin, csv_preview, csv_prepare, check_arch, train_start, train_resume,
                                     train_step, train_finish, step_epoch, reset, explain, model_download,
                                     model_load, predict_csv, link_encode, link_open, link_model, share)}
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
