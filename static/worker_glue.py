"""Python side of the browser app: runs inside the Pyodide Web Worker (static/worker.js).

A thin adapter over the core both apps share: the page's controls are the rows of ``webapp.core.settings`` (sent
once by :func:`info`), a change of a control is :meth:`Playground.update`, and everything shown comes back from
the one :class:`webapp.core.playground.Playground` of the page (data, runs, Train / Step / Stop / Resume / Reset,
live frames, Compare runs, Explain, links). Nothing here decides anything about training or data.

The worker sends commands as ``call(cmd, args_json, data)`` and gets a JSON string back:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "message for the user"}``. While a training runs the
worker calls ``advance`` in a loop (one frame each, posted to the page) and reads its messages in between
(Stop, and the commands the page sends meanwhile).
"""
from __future__ import annotations

import base64
import csv
import io
import json
import sys
import traceback

import numpy as np

import mlp
from webapp.core import session
from webapp.core import settings as T
from webapp.core.playground import Playground, jsonable
from webapp.core.playground import warm_up as _warm_up

FRONT = "browser"          # the rows of the settings table this page shows
MODEL_SUFFIX = ".mlp"      # as the Streamlit app's downloads (a zip; mlp.load opens any name)
PREVIEW_ROWS = 50          # predictions shown in the page (the download has them all)
NO_ONNX = ("Download ONNX is the one thing only the Streamlit app and Python have: exporting needs the onnx "
           "package, which does not run in the browser. Download the model file and run "
           "mlp.load(path).to_onnx() in Python.")


class UserError(ValueError):
    """An error whose message is shown to the user as it is."""


class _Page:
    """What one page owns (one worker serves one page): its playground, and a model file opened to predict."""

    def __init__(self):
        self.pg = Playground()
        self.file_model = None      # a model opened from a file (Use a model), with its file name
        self.file_name = None
        self.data_sent = None       # the data summary last sent (the page redraws the data only when it changes)
        self.warm = None            # the warm-up's steps (playground.warm_up), once the page asked for them


PAGE = _Page()


def _to_bytes(data):
    """Bytes from what the worker passes (a Pyodide JsProxy of a Uint8Array, memoryview, bytes or None)."""
    if data is None:
        return None
    if hasattr(data, "to_bytes"):  # pyodide.ffi.JsProxy of a typed array
        return data.to_bytes()
    return bytes(data)


# ---------------------------------------------------------------- settings and data

def info():
    """The settings table (the page builds its controls from it), what the page says about ONNX, and versions."""
    return {"table": [row for row in T.table() if FRONT in row["fronts"]], "no_onnx": NO_ONNX,
            "versions": {"mlp": getattr(mlp, "__version__", "dev"), "numpy": np.__version__,
                         "python": ".".join(map(str, sys.version_info[:3]))}}


def view(notes=()):
    """Everything the controls show: the rows that apply with their values and options, the architecture check,
    the address, the data (only when it changed since the last reply: the page then redraws it) and notes."""
    pg = PAGE.pg
    data = pg.data()
    key = json.dumps(data, sort_keys=True)
    changed = key != PAGE.data_sent
    PAGE.data_sent = key
    return {"controls": pg.controls(FRONT), "arch": pg.check_arch(), "address": pg.address(),
            "data": data if changed else None, "running": pg.running, "notes": list(notes)}


def update(changes=None):
    """Controls changed: ``{setting: value}``; the values a setting cannot take are named in the notes."""
    return view(PAGE.pg.update(dict(changes or {})))


def set_csv(data=None, name=None):
    """An uploaded CSV becomes the data of the csv source (a link's columns waiting for it are applied)."""
    raw = _to_bytes(data)
    if not raw:
        raise UserError("The file is empty: upload a CSV with a header row and data rows.")
    pg = PAGE.pg
    pg.notes = []
    notes = pg.set_csv(raw, name or "data.csv")["notes"]
    opened = pg.open_pending()
    out = view(notes + pg.notes)
    out["result"] = pg.result() if opened else None
    return out


def open_link(source=""):
    """Open an address (its fragment): its settings, a note for each value dropped, and the trained model it
    carries shown at once (its result) when its data is there."""
    pg = PAGE.pg
    link = pg.open_link(source or "")
    out = view(link["notes"])
    out["link"] = link
    out["result"] = pg.result() if link["opened"] else None
    return out


# ---------------------------------------------------------------- training

def train():
    """Train: a new run from fresh weights; the worker then calls ``advance`` until the frame says it ended."""
    return PAGE.pg.train()


def resume():
    """Resume the run shown (a new run, with a note, when the data or the network changed)."""
    return PAGE.pg.resume()


def advance(seconds=None):
    """A slice of training (``seconds``, or the core's own length): the frame (counter, progress, the live figures
    that are due)."""
    return PAGE.pg.advance() if seconds is None else PAGE.pg.advance(float(seconds))


def stop():
    """Stop (pause) the training; the result of the model trained so far."""
    return PAGE.pg.stop()


def step():
    """Step: one epoch of the run shown (pauses a running training instead); its result."""
    return PAGE.pg.step()


def reset():
    """Reset: fresh weights, epoch 0; its result."""
    return PAGE.pg.reset()


def result(run_id=None):
    """The run shown (or ``run_id``) as the page shows it, or None before the first run."""
    return PAGE.pg.result(run_id)


def select_run(run_id=None):
    """Show run ``run_id`` (Step and Resume continue it)."""
    return PAGE.pg.select(run_id)


def compare(run_ids=None):
    """Compare runs: every trained run, the chosen ones (None: the latest four) and their loss curves overlaid."""
    return PAGE.pg.compare(run_ids)


def clear_runs():
    """Forget every run."""
    PAGE.pg.clear_runs()
    return PAGE.pg.compare()


def explain(row=0, weight=None):
    """Explain a step of the run shown (pauses a running training, with a note)."""
    return PAGE.pg.explain(row=row, weight=weight)


def share(base=""):
    """The Share link of the run shown (the settings, and a small trained model itself)."""
    return PAGE.pg.share(base=str(base or ""), mode="fragment")


def model_download(run_id=None):
    """The run's model file (the same format as ``model.save`` in Python and Streamlit)."""
    pg = PAGE.pg
    return {"filename": pg.file_stem(run_id) + MODEL_SUFFIX,
            "b64": base64.b64encode(pg.model_bytes(run_id)).decode("ascii")}


def predictions_download(run_id=None):
    """The run's training and test rows with its predictions, as CSV text."""
    pg = PAGE.pg
    return {"filename": pg.file_stem(run_id) + "_predictions.csv", "csv": pg.predictions_csv(run_id)}


# ---------------------------------------------------------------- lessons and the optimizer race

def lessons():
    """The Lessons list: ``[{"number", "title", "label", "entry", "done", "open"}]``."""
    return PAGE.pg.lessons()


def _lesson_reply(lesson):
    """The settings a lesson loaded (the controls' view, the address), the lesson, the list and the race's
    optimizers (a race lesson chooses its own)."""
    pg = PAGE.pg
    return {**view(), "lesson": lesson, "lessons": pg.lessons(), "race_choices": pg.race_choices()}


def open_lesson(number=None):
    """Open lesson ``number``: the defaults plus its setup become the settings; no run is shown."""
    return _lesson_reply(PAGE.pg.open_lesson(number))


def show_solution():
    """Load the open lesson's solution settings (the learner then trains, or races)."""
    return _lesson_reply(PAGE.pg.show_solution())


def close_lesson():
    """Close the open lesson (the settings stay): the list and the race's optimizers."""
    PAGE.pg.close_lesson()
    return {"lessons": PAGE.pg.lessons(), "race_choices": PAGE.pg.race_choices()}


def progress():
    """The lessons done, as the core's JSON text (the page keeps it in localStorage)."""
    return PAGE.pg.progress()


def set_progress(text=""):
    """The progress of an earlier visit (``progress``'s text) added; the Lessons list."""
    return {"lessons": PAGE.pg.set_progress(text), "race_choices": PAGE.pg.race_choices()}


def race(optimizers=None):
    """Race optimizers on the current network and data: the figures "Optimizer race" and "Loss landscape"."""
    return PAGE.pg.race(optimizers)


def race_view(optimizers=None):
    """The last race, marked when the settings or ``optimizers`` (those picked now) changed since (or None)."""
    return PAGE.pg.race_view(optimizers)


def warm_up():
    """While the page is idle: the next step of a throwaway training and race (``playground.warm_up``), so that the
    first Train and race of the visit do not pay for code run the first time. The step's figures (for the page to
    draw hidden), or None once every step has run."""
    if PAGE.warm is None:
        PAGE.warm = _warm_up()
    return next(PAGE.warm, None)


# ---------------------------------------------------------------- Use a model (a run's or a file's)

def _describe(model, where):
    info = session.model_info(model)
    text = (f"Model ({where}): {info['n_inputs']} input(s) → {info['n_outputs']} output(s), "
            f"{info['n_params']:,} parameters, output '{info['output_activation']}', loss {info['loss']}")
    if info.get("features"):
        text += f". Needs columns: {', '.join(map(str, info['features']))}"
        if info.get("target"):
            text += f" · predicts {info['target']}"
    if info.get("class_names"):
        text += f" · classes: {', '.join(info['class_names'])}"
    info["description"] = text + "."
    info["template"] = ",".join(map(str, info["features"])) + "\n" if info.get("features") else None
    info["summary"] = model.summary()
    return info


def _use_model(run_id):
    """(model, description of where it is from) for Use a model: the file opened, or a run of this page."""
    if run_id is None or run_id == "file":
        if PAGE.file_model is None:
            raise UserError("There is no model: train one or load a model file first.")
        return PAGE.file_model, f"loaded from {PAGE.file_name}"
    model = PAGE.pg.model(int(run_id))
    if model is None:
        raise UserError("There is no model: train one or load a model file first.")
    return model, f"run {int(run_id)} of this page"


def model_load(data=None, name=None):
    """Open a model file (from Python, Streamlit or this page) for Use a model."""
    model = session.load_model(_to_bytes(data) or b"")
    PAGE.file_model, PAGE.file_name = model, str(name or "a file")
    return _describe(model, f"loaded from {PAGE.file_name}")


def use_model(run_id=None):
    """What the chosen model (``"file"`` or a run id) expects: columns, classes, summary, a CSV template."""
    return _describe(*_use_model(run_id))


def predict_csv(data=None, name=None, run_id=None):
    """Predict every row of an uploaded CSV with the chosen model: CSV text plus a preview and notes."""
    model, _ = _use_model(run_id)
    raw = _to_bytes(data)
    if not raw:
        raise UserError("The CSV file is empty.")
    notes = []
    text = session.predict_csv(model, raw, notes)
    rows = list(csv.reader(io.StringIO(text)))
    stem = (name or "data").rsplit(".", 1)[0]
    return {"csv": text, "columns": rows[0] if rows else [], "rows": rows[1:1 + PREVIEW_ROWS],
            "n_rows": max(0, len(rows) - 1), "filename": f"{stem}_predictions.csv", "notes": notes}


COMMANDS = {f.__name__: f for f in (info, view, update, set_csv, open_link, train, resume, advance, stop, step,
                                     reset, result, select_run, compare, clear_runs, explain, share, model_download,
                                     predictions_download, model_load, use_model, predict_csv, lessons,
                                     open_lesson, show_solution, close_lesson, progress, set_progress, race,
                                     race_view, warm_up)}
DATA_COMMANDS = {"set_csv", "model_load", "predict_csv"}  # take the uploaded bytes as `data`


def _reply(result):
    """The JSON reply. The core's outputs are JSON-safe already (a frame's figures are most of its time in the
    budget: they are not walked again); anything else (NumPy values, NaN) goes through ``jsonable``."""
    try:
        return json.dumps({"ok": True, "result": result}, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps({"ok": True, "result": jsonable(result)}, allow_nan=False)


def call(cmd, args_json="{}", data=None):
    """Run one command; always returns a JSON string (errors become {"ok": false, "error": message}).

    ValueError/TypeError (the engine's and the core's user errors) show their message; anything else is
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
        return _reply(result)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, TypeError):  # may be a bug rather than bad input: keep the trail in the console
            traceback.print_exc(file=sys.stderr)
        return json.dumps({"ok": False, "error": str(exc) or type(exc).__name__, "kind": type(exc).__name__})
    except Exception as exc:  # noqa: BLE001 - the page must keep working whatever happens
        traceback.print_exc(file=sys.stderr)
        return json.dumps({"ok": False, "error": f"Internal error ({type(exc).__name__}): {exc}",
                           "kind": "internal"})
