"""One playground: the training run both front ends drive (the Streamlit app and the browser worker).

A :class:`Playground` is everything one user owns: the settings (rows of :mod:`webapp.core.settings`), the data
they prepare, the runs trained so far, and the training in progress. A front end only turns controls into
:meth:`Playground.update` calls and draws what comes back; every output is JSON-safe (plain dicts, lists, str,
int, float, bool, None; figures are Plotly figure dicts), so the browser worker can post it as it is.

The lifecycle, decided once for both apps
------------------------------------------
- **Train** makes a new run: a fresh model (weights from the seed) trained for ``epochs`` epochs. A training in
  progress is stopped first and kept as a paused run.
- **Step** trains exactly one epoch of the run shown; **Resume** continues it, to the end of its ``epochs``. Both
  continue the same model while the data and the network settings (``session.MODEL_KEYS``: architecture, loss,
  optimizer, L2, L1, dropout, seed) are unchanged; a changed training setting (learning rate, epochs, batch,
  schedule, validation split, early stopping) applies from the next epoch on. A paused run with unchanged
  training settings goes on in the same engine ``TrainingRun`` (schedule and early stopping as in one ``fit``);
  otherwise a new ``TrainingRun`` starts on the same weights and optimizer state. When the data or the network
  settings changed, Step and Resume start a new run from fresh weights, and a note says so.
- **Stop** pauses: the model trained so far is kept, Resume continues it. Any interruption is a Stop.
- **Reset** is a new run at epoch 0 (fresh weights from the seed); on a run already at epoch 0 whose settings
  still fit it does nothing (the weights would be the same).
- Step pressed while training runs pauses it and trains nothing (a note says to press Step again); Explain
  while training runs pauses it too.
- The epoch counter is the model's: every epoch of every training of the run, with one merged history
  (loss curves go on across Step, Resume and changed training settings).

Live frames
-----------
While training runs the front end calls :meth:`Playground.advance` in a loop (Streamlit's script, the worker's
JavaScript-driven loop): each call trains for about ``seconds`` (``FRAME_SECONDS``) and returns a *frame*: the epoch
counter and progress, plus the live figures that are due. One budget decides when figures are due: the loss curve,
the decision boundary (or surface / fitted curve) and the Network view every ``LIVE_EVERY`` s, for as long as all
the time spent on them stays within ``LIVE_SHARE`` of the time so far. That time is measured, not guessed: the
figures' own computation, the front end's time between two ``advance`` calls, and the training slowed down while
the page draws, against the time per epoch of a quiet slice (see :class:`_LiveBudget`). The first frame with
figures comes after a first short slice.

Typical use (both front ends)::

    pg = Playground()
    pg.update({"dataset": "moons", "epochs": 500})   # -> notes for values that were dropped
    pg.train()
    while pg.running:
        frame = pg.advance()                         # draw frame["figures"], frame["text"]
    result = pg.result()                             # metrics, figures, summary, ...
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
import time

import numpy as np

from . import charts, charts_learn, links
from . import lessons as LS
from . import session as S
from . import settings as T

MAX_RUNS = 12            # runs kept (oldest dropped; the run shown is always kept)
MAX_CACHED = 8           # prepared datasets kept
FIRST_SLICE = 0.02       # seconds of training before the first live frame (soon after the click)
LIVE_EVERY = {"network": 0.2, "loss": 0.2, "main": 0.2}   # seconds between live figures of each kind
FRAME_SECONDS = 0.08     # what front ends pass to advance(): under half the figures' interval (see _LiveBudget)
QUIET_AFTER = 0.25       # a slice this long after a frame with figures is quiet: the page has drawn it
QUIET_EVERY = 1.5        # seconds between quiet slices (figures are held back until one has been timed)
LIVE_SHARE = 1 / 6       # live figures take at most this share of the time: training at most 1.2x slower
FIRST_COST_GUESS = 0.02  # seconds a live frame is taken to cost before one has been measured
STOP_WAIT = 5.0          # seconds stop() waits for a slice of training to end
MAIN_FIGURES = ("decision_boundary", "surface", "fit")
FIGURE_ORDER = ("loss", "decision_boundary", "surface", "fit", "network", "confusion_matrix", "predicted_vs_actual",
                "gradient_flow")
RACE_MAX_EPOCHS = 300    # a race trains at most this many epochs per optimizer ...
RACE_MAX_STEPS = 6_000   # ... and at most this many batches per optimizer (the default data and batch: 80 epochs;
#                          four racers then cost about one default Train: ~1.5 s in the browser, landscape included)
RACE_RESOLUTION = 31     # loss landscape grid points per side
# settings a race does not read (it picks its optimizers, has no schedule, validation or early stopping, and
# its epochs are race_epochs()); any other change makes the race shown out of date
RACE_IGNORES = ("optimizer", "lr_schedule", "lr_decay", "validation_split", "early_stopping", "epochs", "live")


def jsonable(obj):
    """``obj`` with NumPy values (and nested containers) as plain JSON types; NaN/inf become None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
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


class _Run:
    """One model and its training so far (internal: front ends see :meth:`Playground.result`)."""

    def __init__(self, rid, model, prepared, data_key, data_name, cfg, settings):
        self.id = rid
        self.model = model
        self.prepared = prepared
        self.data_key = data_key
        self.data_name = data_name
        self.cfg = dict(cfg)
        self.settings = dict(settings)
        self.model_key = (data_key,) + S.model_key(cfg)
        self.train_key = None
        self.training = None         # the engine TrainingRun going on (or ended)
        self.base = {}               # history of earlier TrainingRuns of this model
        self.history = {}
        self.epochs = 0
        self.seconds = 0.0
        self.reason = None
        self.from_link = False
        self.error = None
        self.metrics = None          # None: not computed for the model as it stands
        self.figures = None
        self.name = f"run {rid}: {data_name} {cfg.get('arch')}"

    def sync(self):
        """The whole history: earlier TrainingRuns (``base``) followed by the current one."""
        tr = self.training
        cur = tr.history.history if tr is not None else {}
        base = self.base
        self.history = {k: list(base.get(k, [])) + list(cur.get(k, [])) for k in dict.fromkeys([*base, *cur])}
        self.epochs = len(self.history.get("loss", []))

    def stale(self):
        self.metrics = self.figures = None


class Playground:
    """Settings, data, runs and the training in progress of one user (see the module docstring)."""

    def __init__(self, settings=None):
        self._settings = T.defaults()
        self._csv = None               # {"name", "digest", "table", "preview"} of the uploaded file
        self._cache = {}               # data key -> Prepared (or the ValueError it raised)
        self._runs = []                # oldest first
        self._shown = None             # the run shown (and continued by Step / Resume)
        self._next_id = 1
        self._running = False
        self._lock = threading.RLock()
        self._stop_asked = False
        self._pending_model = None     # a model from a link, until its data is there
        self._link_given = set()       # the settings that link gave
        self._pending_csv = {}         # a link's target/features/task, until a file has those columns
        self._live = None              # the live-frame budget of the training in progress
        self.notes = []                # sentences for the user from the last action (cleared by the next)
        self._lesson = None            # the open lesson (a lessons.Lesson) and its goal's status
        self._status = None
        self._progress = LS.Progress()   # lessons whose goal was reached in this visit (and earlier ones given)
        self._race = None              # the last race (mlp.Race) and its loss surface (mlp.LossSurface)
        self._surface = None
        self._race_out = None          # what race() returned, and what decided it (_race_settings)
        self._race_key = None
        if settings:
            self.update(settings)

    # ------------------------------------------------------------ settings

    @property
    def settings(self):
        """The current settings, every row of the table (a copy)."""
        return copy.deepcopy(self._settings)

    def update(self, changes):
        """Set some settings (native values or link text), as the user's controls do. Returns the notes for values
        that were dropped (``settings.refused``: the control, what is wrong, what is allowed, the value kept; a
        link's values get :meth:`open_link`'s notes instead); the valid ones are kept. The architecture text equal to the data's
        default is stored as None, so it keeps following the data; a loss that no longer fits the output goes
        back to the output's default."""
        notes = []
        if not isinstance(changes, dict):
            raise TypeError(f"update() takes a dict of settings, got {type(changes).__name__}.")
        for key, value in changes.items():
            s = T.SETTINGS.get(key) if isinstance(key, str) else None
            if s is None:
                notes.append(T.unknown(key))
                continue
            if value is None or (s.kind == "arch" and isinstance(value, str) and not value.strip()):
                self._settings[key] = copy.deepcopy(s.default)
                continue
            try:
                self._settings[key] = T.parse(s, value)
            except T.Invalid as e:
                if s.kind == "arch":    # text being typed: kept as typed, checked by check_arch()
                    self._settings[key] = str(value)[:T.MAX_ARCH_CHARS]
                    continue
                notes.append(T.refused(s, value, str(e), self._settings[key]))
        return notes + self._tidy()

    def n_inputs(self):
        """How many numeric inputs the data has before any extra input: a built-in dataset's, or the chosen
        feature columns of the uploaded CSV (0 when one of them is not numeric); None without a file."""
        s = self._settings
        if s["source"] != "csv":
            return T.dataset_inputs(s["dataset"])
        if self._csv is None:
            return None
        features, _ = self._file_control("features")
        table = self._csv["table"]
        return len(features) if all(table.is_numeric(f) for f in features) else 0

    def transform_choices(self):
        """The extra inputs (``transforms``) the data's inputs allow (``settings.transforms_for``): the
        transforms control offers only these, and is not shown when there are none."""
        return T.transforms_for(self.n_inputs())

    def _tidy_transforms(self):
        """Clear the extra inputs the data cannot have (it has one input, or a CSV's columns changed); returns
        the note saying so."""
        s = self._settings
        n = self.n_inputs()
        bad = [t for t in s.get("transforms") or [] if n is not None and t not in T.transforms_for(n)]
        if not bad:
            return []
        s["transforms"] = [t for t in s["transforms"] if t not in bad]
        what = (f"{n} feature column{'s are' if n != 1 else ' is'} chosen" if s["source"] == "csv" and n else
                "a chosen feature column is not numeric" if s["source"] == "csv" else
                f"the {s['dataset']!r} dataset has {n}")
        labels = T.SETTINGS["transforms"].labels()
        they = "it needs" if len(bad) == 1 else "they need"
        return [f"Extra inputs {', '.join(labels.get(t, t) for t in bad)} cleared: {they} two inputs, x1 and x2, "
                f"and {what}."]

    def _tidy(self, link=False):
        """Settings that no longer fit the data or the network go back to their defaults; returns the notes
        saying so (a link's poisson loss on data that is not a count gets the link's note when ``link``)."""
        notes = self._tidy_transforms()
        s = self._settings
        prepared = self._prepared_or_none()
        if s.get("arch") is not None and prepared is not None and s["arch"] == S.default_architecture(prepared):
            s["arch"] = None
        if s.get("loss") is not None:
            act = self._output_activation()
            if act is not None and s["loss"] not in S.loss_choices(act, self._counts()):
                if link and s["loss"] == "poisson" and "loss" in self._link_given:
                    notes.append(T.ignored("loss", "poisson", S.POISSON_ONLY_FOR_COUNTS))
                s["loss"] = None
        return notes

    def _counts(self):
        """Whether the data's target is a count (``session.is_count_target``; None without data)."""
        prepared = self._prepared_or_none()
        return None if prepared is None else S.is_count_target(prepared)

    def _output_activation(self):
        arch = self.arch_text()
        if arch is None:
            return None
        chk = S.check_architecture(arch)
        return chk["output_activation"] if chk["ok"] else None

    def arch_text(self):
        """The architecture in use: the typed text, or the data's default (None without data)."""
        if self._settings.get("arch") is not None:
            return self._settings["arch"]
        prepared = self._prepared_or_none()
        return S.default_architecture(prepared) if prepared is not None else None

    def link_settings(self):
        """The settings a link carries now: the rows that apply, with valid values, and the architecture and loss
        in use (also when they are the data's defaults, so a shared experiment does not depend on them)."""
        s = dict(self._settings)
        s["arch"], s["loss"] = self.arch_text(), self.loss()
        out = {k: v for k, v in s.items() if T.SETTINGS[k].link and v is not None and T.SETTINGS[k].applies(s)}
        valid, _ = links.check(out)
        return valid

    def address(self):
        """The address (query / fragment text, no ``?`` or ``#``) of the current settings."""
        return links.encode(self.link_settings())

    def controls(self, front=None):
        """The rows that apply to the current settings (for ``front``, when given), each with its value and, for
        selects, its options: ``[{**Setting.as_dict(), "value", "options"}]``, in table order."""
        out = []
        for s in T.SETTINGS.values():
            if front is not None and front not in s.fronts:
                continue
            if not s.applies(self._settings):
                continue
            row = s.as_dict()
            row["value"] = self._settings[s.name]
            if s.name == "loss":
                act = self._output_activation() or S.OUTPUT_ACTIVATION.get(T.task_of(self._settings) or "", None)
                row["choices"] = S.loss_choices(act, self._counts()) if act else row["choices"]
                row["value"] = self.loss()
            elif s.name == "arch":
                row["value"] = self.arch_text() or ""
            elif s.control == "file":
                row["value"], row["options"] = self._file_control(s.name)
            elif s.name == "transforms":          # only those the data's inputs allow; none: no control
                row["choices"] = self.transform_choices()
                if not row["choices"]:
                    continue
            if s.control in ("select", "select_slider", "radio"):
                row["options"] = s.options(row["value"]) if s.kind not in ("choice", "list") else row["choices"]
            out.append(jsonable(row))
        return out

    def _file_control(self, name):
        """(value, options) of a control chosen from the uploaded file's columns: the target (default: the last
        column), the features (default: every other column) and the task (None: detected from the target)."""
        s = self._settings
        preview = self._csv["preview"] if self._csv is not None else None
        cols = list(preview["columns"]) if preview else []
        target = s.get("target") if s.get("target") in cols else (preview["default_target"] if preview else None)
        if name == "target":
            return target, cols
        if name == "features":
            others = [c for c in cols if c != target]
            chosen = [c for c in (s.get("features") or others) if c in others]
            return chosen, others
        return s.get(name), T.SETTINGS[name].allowed()

    def loss(self):
        """The loss in use: the chosen one, or the default for the output (None when the output is unknown)."""
        if self._settings.get("loss") is not None:
            return self._settings["loss"]
        act = self._output_activation()
        prepared = self._prepared_or_none()
        if prepared is not None:
            want = S.DEFAULT_LOSS[prepared.task]
            if act is None or want in S.loss_choices(act):
                return want
        return S.loss_choices(act, self._counts())[0] if act else None

    def cfg(self):
        """The session cfg (``build_model`` / ``start_training``) of the current settings."""
        cfg = T.session_args(self._settings, checked=True)["cfg"]
        cfg["arch"] = self.arch_text()
        cfg["loss"] = self.loss()
        return cfg

    # ------------------------------------------------------------ data

    def set_csv(self, data, name="data.csv"):
        """Take an uploaded CSV (bytes or text): returns its preview (``session.csv_preview``, plus ``notes``) and
        makes it the data of the ``csv`` source (the source is switched to it). A link's target / features / task
        waiting for a file are applied when the file has those columns (else a note in ``notes`` names the
        column)."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        digest = hashlib.sha256(raw).hexdigest()[:16]
        if self._csv is None or self._csv["digest"] != digest:
            table = S.read_table(raw)
            self._csv = {"name": str(name or "data.csv"), "digest": digest, "table": table,
                         "preview": S.csv_preview(table)}
        self._csv["name"] = str(name or "data.csv")
        cols = self._csv["preview"]["columns"]
        pending, self._pending_csv = self._pending_csv, {}
        notes = []
        s = self._settings
        s["source"] = "csv"
        if pending.get("target") in cols:
            s["target"] = pending["target"]
            feats = [f for f in pending.get("features") or [] if f in cols and f != pending["target"]]
            s["features"] = feats or None
            s["task"] = pending.get("task")
        else:
            if pending.get("target") is not None:
                notes.append(f"The link's target column {pending['target']!r} is not in {self._csv['name']}; "
                             "its own columns are used.")
            if s.get("target") not in cols:
                s["target"] = None
            if s.get("features") and not set(s["features"]) <= set(cols):
                s["features"] = None
        notes += self._tidy(link=True)
        return jsonable({**self._csv["preview"], "notes": notes})

    def clear_csv(self):
        """Forget the uploaded file."""
        self._csv = None

    def _data_key(self):
        s = self._settings
        args = T.session_args(s, checked=True)
        p = args["prepare"]
        if s["source"] == "csv":
            if self._csv is None:
                return None
            return ("csv", self._csv["digest"], repr(sorted(p.items())))
        return ("builtin", repr(sorted(p.items())))

    def prepared(self):
        """The current data as ``session.Prepared`` (cached); raises ValueError saying what is wrong (no file
        uploaded, bad columns...)."""
        s = self._settings
        key = self._data_key()
        if key is None:
            raise ValueError("Upload a CSV file (or choose a built-in dataset) to start.")
        if key not in self._cache:
            p = T.session_args(s, checked=True)["prepare"]
            try:
                if s["source"] == "csv":
                    prepared = S.prepare_csv(self._csv["table"], **p)
                    prepared.name = self._csv["name"]
                else:
                    prepared = S.prepare_builtin(**p)
            except (ValueError, TypeError) as e:
                prepared = ValueError(str(e))
            while len(self._cache) >= MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = prepared
        prepared = self._cache[key]
        if isinstance(prepared, Exception):
            raise ValueError(str(prepared))
        return prepared

    def prepared_or_none(self):
        """:meth:`prepared`, or None when the data cannot be prepared (see :meth:`data` for why)."""
        try:
            return self.prepared()
        except ValueError:
            return None

    _prepared_or_none = prepared_or_none

    def pending_csv(self):
        """A link's target / features / task waiting for a CSV file with those columns (a copy)."""
        return dict(self._pending_csv)

    def detected_task(self):
        """The task detected from the uploaded CSV's target column (None: no file, or it cannot be told)."""
        if self._csv is None:
            return None
        cols = self._csv["preview"]["columns"]
        target = self._settings.get("target") if self._settings.get("target") in cols else cols[-1]
        try:
            return S.mdata.detect_task(self._csv["table"].values(target))
        except (ValueError, TypeError):
            return None

    def data(self):
        """What the page shows about the data: ``{"ok", "error", "name", "describe", "task", "n_inputs",
        "n_outputs", "n_train", "n_test", "feature_names", "class_names", "notes", "default_arch", "figure",
        "preview", "file", "needs_file"}`` (``preview`` and ``file``: the uploaded CSV's and its name, for the csv
        source)."""
        s = self._settings
        out = {"ok": False, "error": None, "needs_file": s["source"] == "csv" and self._csv is None,
               "preview": self._csv["preview"] if self._csv is not None and s["source"] == "csv" else None,
               "file": self._csv["name"] if self._csv is not None and s["source"] == "csv" else None}
        try:
            p = self.prepared()
        except ValueError as e:
            out["error"] = None if out["needs_file"] else str(e)
            return jsonable(out)
        out.update(ok=True, name=p.name, describe=p.describe(), task=p.task, n_inputs=p.n_inputs,
                   n_outputs=p.n_outputs, n_train=p.n_train, n_test=p.n_test, feature_names=list(p.feature_names),
                   class_names=list(p.class_names), notes=list(p.notes), default_arch=S.default_architecture(p),
                   figure=S.data_figure(p))
        return jsonable(out)

    def check_arch(self):
        """The architecture in use checked against the data: ``session.check_architecture``'s dict plus
        ``text`` (the architecture), ``default`` (the data's), ``losses`` (those the output allows) and ``loss``."""
        prepared = self._prepared_or_none()
        text = self.arch_text() or mlp_example()
        res = S.check_architecture(text, prepared)
        res["text"] = text
        res["default"] = S.default_architecture(prepared) if prepared is not None else None
        act = res.get("output_activation")
        res["losses"] = S.loss_choices(act, self._counts()) if act else []
        res["loss"] = self.loss()
        return jsonable(res)

    # ------------------------------------------------------------ runs

    @property
    def shown(self):
        """The id of the run shown (None before the first run)."""
        return self._shown.id if self._shown is not None else None

    def data_of(self, run_id=None):
        """The ``session.Prepared`` data a run was trained on (the run shown by default), or None."""
        run = self._run(run_id)
        return run.prepared if run is not None else None

    def history(self, run_id=None):
        """The run's whole history (every training of its model, merged): ``{"loss": [...], ...}``."""
        run = self._run(run_id)
        if run is None:
            return {}
        run.sync()
        return jsonable(run.history)

    @property
    def running(self):
        """True while a training is in progress (between train()/resume() and its end or stop())."""
        return self._running

    def _new_run(self, model=None):
        cfg = self.cfg()
        prepared = S.for_loss(self.prepared(), cfg["loss"])     # a poisson run: the count target
        model = S.build_model(cfg, prepared) if model is None else model
        run = _Run(self._next_id, model, prepared, self._data_key(), str(prepared.name), cfg, self.link_settings())
        self._next_id += 1
        self._runs = [r for r in self._runs if r is not self._shown or r.epochs or r.from_link] + [run]
        while len(self._runs) > MAX_RUNS:
            self._runs.pop(0)
        self._shown = run
        return run

    def _fits(self, run):
        """True when ``run``'s model is the one the current data and network settings make."""
        try:
            return run is not None and run.model_key == (self._data_key(),) + S.model_key(self.cfg())
        except ValueError:
            return False

    def _training_for(self, run):
        """The engine TrainingRun that continues ``run``: its own while it has epochs left and the training
        settings are unchanged, else a new one on the same model (weights and optimizer state kept)."""
        cfg = self.cfg()
        tr = run.training
        if tr is not None and not tr.done and run.train_key == S.training_key(cfg):
            return tr
        run.sync()
        run.base = run.history
        run.cfg.update({k: cfg.get(k) for k in S.TRAINING_KEYS})
        run.settings = self.link_settings()
        run.training = None
        run.training = S.start_training(run.model, run.prepared, run.cfg)
        run.train_key = S.training_key(cfg)
        return run.training

    def _run_to_continue(self, what):
        """The run Step / Resume continue, or a new one (with a note) when the settings no longer fit it."""
        run = self._shown
        if self._fits(run):
            return run
        old = run
        run = self._new_run()
        if old is not None:
            self.notes.append(f"The data or the network settings changed since run {old.id}: run {run.id} starts "
                              f"from fresh weights ({what}).")
        return run

    def train(self):
        """Train: a new run with fresh weights, started (call :meth:`advance` until ``running`` is False).
        Returns the first frame (no figures yet)."""
        self.notes = []
        if self._running:
            self.stop()
        run = self._new_run()
        self._start(run)
        return self._frame({})

    def resume(self):
        """Resume: continue the run shown to the end of its epochs (a new run, with a note, when the data or the
        network settings changed). Returns the first frame; then :meth:`advance`."""
        self.notes = []
        if self._running:
            return self._frame({})
        run = self._run_to_continue("Resume")
        self._start(run)
        return self._frame({})

    def _start(self, run):
        tr = self._training_for(run)
        run.reason = None
        run.stale()
        self._shown = run
        self._stop_asked = False
        self._running = True
        self._live = _LiveBudget(tr)

    def step(self):
        """Step: exactly one epoch of the run shown (a new run, with a note, when the data or the network settings
        changed), then its result. While training runs it pauses it instead and trains nothing."""
        self.notes = []
        if self._running:
            run = self._shown
            self.stop()
            self.notes = [f"Step was pressed while training was running: the training is paused at epoch "
                          f"{run.epochs} and nothing is lost. Press Step again to train one epoch at a time, or "
                          "Resume to continue."]
            return self.result()
        run = self._run_to_continue("Step")
        with self._lock:
            tr = self._training_for(run)
            t0 = time.perf_counter()
            tr.step(epochs=1)
            run.seconds += time.perf_counter() - t0
            run.reason = tr.history.stop_reason if tr.done and tr.history.stop_reason else None
            self._finalize(run)
        return self.result()

    def reset(self):
        """Reset: a new run at epoch 0 with fresh weights (nothing happens when the run shown is already fresh
        and fits the settings). Returns its result."""
        self.notes = []
        if self._running:
            self.stop()
        run = self._shown
        if not (self._fits(run) and run.epochs == 0 and not run.from_link):
            run = self._new_run()
        self._finalize(run)
        return self.result()

    def stop(self, wait=STOP_WAIT):
        """Stop: pause the training in progress (waits for the slice being trained); the model is kept and
        Resume continues it. Returns the result."""
        self._stop_asked = True
        if not self._lock.acquire(timeout=wait):
            raise RuntimeError("The training did not pause in time; try again.")
        try:
            if self._running:
                self._pause()
        finally:
            self._lock.release()
        return self.result()

    def _pause(self):
        run = self._shown
        self._running = False
        self._live = None
        run.sync()
        tr = run.training
        if tr is not None and not tr.done:
            run.reason = (f"stopped after epoch {run.epochs} (of {tr.epochs} in this training); the model trained "
                          "so far is kept, and Resume continues it")
        self._finalize(run)

    def advance(self, seconds=FRAME_SECONDS):
        """Train the run in progress for about ``seconds`` and return a frame (JSON-safe)::

            {"running", "epoch", "epochs", "run_epoch", "progress", "loss", "val_loss", "text", "run",
             "figures": {name: figure}, "main": name of the prediction chart or None}

        ``figures`` holds the live figures that are due (see the module docstring); ``running`` is False once
        the training has ended (then :meth:`result` has the metrics and every figure)."""
        with self._lock:
            if not self._running:
                return self._frame({})
            live = self._live
            run = self._shown
            tr = run.training
            now = time.perf_counter()
            live.front_end(now)
            if self._stop_asked:
                self._pause()
                return self._frame({})
            limit = FIRST_SLICE if live.frames == 0 else max(0.0, float(seconds))
            e0, s0 = tr.epoch, time.perf_counter()
            tr.step(seconds=limit)
            took = time.perf_counter() - s0
            run.seconds += took
            live.trained(took, tr.epoch - e0, s0)
            run.sync()
            if tr.done:
                self._running = False
                self._live = None
                run.reason = tr.history.stop_reason or None
                self._finalize(run)
                return self._frame({})
            figs = {}
            if self._settings.get("live", True):
                names = live.due(time.perf_counter())
                if names:
                    t = time.perf_counter()
                    figs = self._live_figures(run, names)
                    live.drew(names, time.perf_counter() - t)
            frame = self._frame(figs)
            live.returned(time.perf_counter())
            return frame

    def _live_figures(self, run, names):
        want = set()
        if "loss" in names:
            want.add("loss")
        if "network" in names:
            want.add("network")
        if "main" in names:
            want.update(MAIN_FIGURES)
        try:
            figs = S.figures(run.model, run.prepared, None, only=want - {"loss"}, picture=True)
        except (ValueError, TypeError):
            figs = {}
        if "loss" in want and run.history.get("loss"):
            figs["loss"] = charts.loss_figure(run.history, title="Loss (live)", ytitle=S.loss_title(run.prepared),
                                              switch=False)
        return figs

    def _frame(self, figs):
        run = self._shown
        tr = run.training if run is not None else None
        hist = run.history if run is not None else {}
        loss = hist.get("loss", [None])[-1] if hist.get("loss") else None
        val = hist.get("val_loss", [None])[-1] if hist.get("val_loss") else None
        epochs = tr.epochs if tr is not None else 0
        run_epoch = tr.epoch if tr is not None else 0
        text = f"Epoch {run_epoch}/{epochs}" if tr is not None else "Epoch 0"
        if loss is not None:
            text += f" · loss {loss:.4g}"
        if val is not None:
            text += f" · validation loss {val:.4g}"
        main = next((k for k in MAIN_FIGURES if k in figs), None)
        frame = jsonable({"running": self._running, "run": run.id if run is not None else None,
                          "epoch": run.epochs if run is not None else 0, "epochs": epochs, "run_epoch": run_epoch,
                          "progress": min(run_epoch / epochs, 1.0) if epochs else 0.0, "loss": loss,
                          "val_loss": val, "text": text, "main": main, "notes": list(self.notes)})
        frame["figures"] = figs        # (webapp.core.charts' dicts are JSON-safe as they are)
        return frame

    def _finalize(self, run):
        """Metrics and every figure of ``run`` as its model stands."""
        run.sync()
        run.error = None
        try:
            run.metrics = S.evaluate(run.model, run.prepared) if run.epochs else {}
            run.figures = S.figures(run.model, run.prepared, run.history if run.epochs else None)
        except (ValueError, TypeError) as e:
            run.metrics = {}
            run.figures = {"loss": charts.loss_figure(run.history)} if run.epochs else {}
            run.error = str(e)
        if run.epochs and any(k.startswith("grad_norm/") for k in run.history):
            run.figures["gradient_flow"] = charts_learn.gradient_flow_figure(run.history, run.model)
        self._shown = run
        if run.epochs and not run.from_link and not self._running:
            self._check_lesson(run)

    # ------------------------------------------------------------ what the page shows

    def _run(self, run_id=None):
        if run_id is None:
            return self._shown
        for r in self._runs:
            if r.id == run_id:
                return r
        raise ValueError(f"There is no run {run_id!r}; the runs are: {', '.join(str(r.id) for r in self._runs)}.")

    def select(self, run_id):
        """Show run ``run_id`` (Step and Resume continue the run shown)."""
        if self._running:
            self.stop()
        self._shown = self._run(run_id)
        return self.result()

    def result(self, run_id=None):
        """The run shown (or ``run_id``) as the page shows it, JSON-safe, or None before the first run::

            {"id", "name", "data", "arch", "epoch", "epochs_setting", "seconds", "reason", "paused", "from_link",
             "error", "trained", "task", "metrics": {"train": {...}, "test": {...}}, "figures": {name: fig},
             "figure_order": [...], "main", "summary", "cfg", "caption", "notes", "loss_title"}
        """
        run = self._run(run_id)
        if run is None:
            return None
        if run.metrics is None and not (self._running and run is self._shown):
            self._finalize(run)
        cfg = run.cfg
        figs = run.figures or {}
        batch = "full batch" if cfg.get("batch_size") is None else f"batch {cfg['batch_size']}"
        secs = run.seconds
        how = "opened from a link" if run.from_link and not run.training else \
            f"{run.epochs} epochs in {secs:.{3 if secs < 0.1 else 2 if secs < 1 else 1}f} s"
        tr = run.training
        out = jsonable({
            "id": run.id, "name": run.name, "data": run.data_name, "arch": cfg.get("arch"), "epoch": run.epochs,
            "epochs_setting": cfg.get("epochs"), "seconds": secs, "reason": run.reason,
            "paused": bool(tr is not None and not tr.done), "from_link": run.from_link, "error": run.error,
            "trained": run.epochs > 0, "task": run.prepared.task, "metrics": run.metrics or {},
            "figure_order": [k for k in FIGURE_ORDER if k in figs],
            "main": next((k for k in MAIN_FIGURES if k in figs), None),
            "summary": run.model.summary(), "cfg": cfg, "notes": list(self.notes), "n_train": run.prepared.n_train,
            "sizes": [run.model.n_inputs] + [sp["units"] for sp in run.model.specs if sp["type"] == "dense"],
            "caption": f"{run.data_name} · {cfg.get('arch')} · {how} · {cfg.get('optimizer')} · "
                       f"lr {cfg.get('learning_rate')} · {batch} · loss {run.model.loss}",
            "loss_title": S.loss_title(run.prepared)})
        out["figures"] = dict(figs)
        out["lesson"] = self.lesson()
        return out

    def runs(self, trained_only=True):
        """Every trained run (for Compare runs; ``trained_only=False``: every run kept), oldest first:
        ``[{"id", "name", "data", "arch", "optimizer", "lr", "batch", "epochs", "seconds", "final_loss",
        "score"}]``."""
        out = []
        for r in self._runs:
            if trained_only and not r.epochs:
                continue
            m = r.metrics or {}
            m = m.get("test") or m.get("train") or {}
            key = "accuracy" if "accuracy" in m else "r2" if "r2" in m else None
            out.append({"id": r.id, "name": r.name, "data": r.data_name, "arch": r.cfg.get("arch"),
                        "optimizer": r.cfg.get("optimizer"), "lr": r.cfg.get("learning_rate"),
                        "batch": "full" if r.cfg.get("batch_size") is None else str(r.cfg["batch_size"]),
                        "epochs": r.epochs, "seconds": round(r.seconds, 2),
                        "final_loss": float(f"{r.history['loss'][-1]:.4g}") if r.history.get("loss") else None,
                        "metrics": r.metrics or {},
                        "score": f"{'accuracy' if key == 'accuracy' else 'R²'} {m[key]:.3f}" if key else None})
        return jsonable(out)

    def compare(self, run_ids=None):
        """Compare runs: ``{"runs": runs(), "chosen": [ids], "figure": the loss curves of the chosen runs
        overlaid (None when none is chosen)}``; ``run_ids`` None chooses the latest four."""
        rows = self.runs()
        ids = [r["id"] for r in rows]
        chosen = ids[-4:] if run_ids is None else [i for i in run_ids if i in ids]
        sel = [r for r in self._runs if r.id in chosen]
        fig = charts.loss_figure([(f"run {r.id}", r.history) for r in sel], title="Loss curves") if sel else None
        return jsonable({"runs": rows, "chosen": chosen, "figure": fig})

    def clear_runs(self):
        """Forget every run (a training in progress is stopped first)."""
        if self._running:
            self.stop()
        self._runs, self._shown = [], None

    # ------------------------------------------------------------ explain, share, files

    def explain(self, row=0, weight=None, paused=False):
        """Explain a step of the run shown (``session.explain`` with the learning rate its next epoch would use).
        ``weight``: None, ``(layer, i, j)`` or ``{"layer", "i", "j"}``. Pauses a training in progress (a note says
        so; ``paused=True``: the front end paused it for this, say so too). Returns the explanation plus
        ``"learning_rate"``, ``"paused"`` and ``"notes"``."""
        if self._running:
            self.stop()
            paused = True
        run = self._shown
        if run is None:
            raise ValueError("There is no model to explain yet: press Train, Step or Reset first.")
        if isinstance(weight, dict):
            unknown = set(weight) - {"layer", "i", "j"}
            if unknown or not {"layer", "i", "j"} <= set(weight):
                raise ValueError("The weight must be given as layer, i (input unit) and j (output unit).")
            weight = (weight["layer"], weight["i"], weight["j"])
        lr = S.next_learning_rate(run.training, run.cfg)
        ex = S.explain(run.model, run.prepared, row=row, weight=weight, learning_rate=lr)
        ex["learning_rate"] = lr
        ex["paused"] = paused
        if paused:
            ex["notes"] = [f"Training was running: it is paused at epoch {run.epochs} so this step can be explained; "
                           "nothing is lost, and Resume continues it."] + list(ex.get("notes") or [])
        return jsonable(ex)

    def share(self, base="", mode="query"):
        """The Share link of the run shown: its settings and, when trained and small enough, the model itself
        (``links.share``: ``{"href", "carries_model", "note"}``); the current settings before any run."""
        run = self._shown
        settings = run.settings if run is not None else self.link_settings()
        model = run.model if run is not None and run.epochs else None
        valid, _ = links.check(settings)
        return links.share(valid, model, base=base, mode=mode)

    def model(self, run_id=None):
        """The ``mlp.MLP`` of the run shown (or ``run_id``), or None (for Download model, Use a model...)."""
        run = self._run(run_id)
        return run.model if run is not None else None

    def file_stem(self, run_id=None):
        """A file name stem for the run's downloads, e.g. ``mlp_run3_circles``."""
        run = self._run(run_id)
        name = str(run.data_name).rsplit(".", 1)[0] if run is not None else "model"
        return f"mlp_run{run.id}_{name}" if run is not None else "mlp_model"

    def model_bytes(self, run_id=None):
        """The run's model file (``model.to_bytes()``, preprocessing included)."""
        run = self._need(run_id)
        return run.model.to_bytes()

    def predictions_csv(self, run_id=None):
        """Train and test rows of the run with its model's predictions, as CSV text."""
        run = self._need(run_id)
        return S.predictions_csv(run.model, run.prepared)

    def onnx_problem(self, run_id=None):
        """Why the run's model cannot be exported to ONNX (no onnx package here, a custom activation), or None;
        checked without building the graph."""
        import importlib.util

        from mlp import export
        run = self._need(run_id)
        if importlib.util.find_spec("onnx") is None:
            return "ONNX export needs the 'onnx' package, which is not installed here."
        try:
            export._check_exportable(run.model, "to_onnx")
        except ValueError as e:
            return str(e)
        return None

    def onnx(self, run_id=None):
        """``(bytes, None)`` of the run's model as ONNX, or ``(None, why not)`` (e.g. no onnx package)."""
        run = self._need(run_id)
        try:
            return run.model.to_onnx(), None
        except (ValueError, TypeError, ImportError) as e:
            return None, str(e)

    def _need(self, run_id):
        run = self._run(run_id)
        if run is None:
            raise ValueError("There is no model yet: press Train (or Step) first.")
        return run

    # ------------------------------------------------------------ lessons and the optimizer race

    def _all_lessons(self):
        return _lessons()

    def _lesson_of(self, number):
        lessons = self._all_lessons()
        if isinstance(number, bool) or not isinstance(number, (int, np.integer, str)) \
                or not str(number).strip().isdigit() or not 1 <= int(number) <= len(lessons):
            raise ValueError(f"There is no lesson {T.clean(number, 20)!r}: the lessons are numbered 1 to "
                             f"{len(lessons)}.")
        return lessons[int(number) - 1]

    def lessons(self):
        """Every lesson, for the Lessons list: ``[{"number", "title", "label" ("2 · XOR needs a hidden layer"),
        "entry" (the label with a ✓ when done), "done", "open"}]``."""
        opened = self._lesson.number if self._lesson is not None else None
        return [{"number": le.number, "title": le.title, "label": le.label, "entry": self._progress.label(le),
                 "done": self._progress.is_done(le.number), "open": le.number == opened}
                for le in self._all_lessons()]

    def open_lesson(self, number):
        """Open lesson ``number``: the settings become the defaults plus the lesson's setup (so the address
        changes too), the run shown is cleared (the runs stay for Compare runs), the goal is not checked yet.
        Returns :meth:`lesson`."""
        lesson = self._lesson_of(number)
        self._load_lesson_settings(lesson, "setup")
        self._lesson = lesson
        return self.lesson()

    def show_solution(self):
        """Load the open lesson's solution: the defaults plus its settings (the learner then presses Train, or
        Race optimizers in a race lesson). Returns :meth:`lesson`."""
        if self._lesson is None:
            raise ValueError("Open a lesson first: there is no solution to show.")
        self._load_lesson_settings(self._lesson, "solution")
        return self.lesson()

    def close_lesson(self):
        """Close the open lesson (the settings stay as they are)."""
        self._lesson = self._status = None

    def _load_lesson_settings(self, lesson, which):
        self.open_link(LS.lesson_settings(lesson, which))     # the defaults, then the lesson's settings
        self._shown = None
        self._race = self._surface = self._race_out = self._race_key = None
        self._status = None

    def lesson(self):
        """The open lesson as the page shows it, or None: ``{"number", "title", "label", "markdown" (the text, for
        Markdown renderers that take $...$ formulas), "html" (``lessons.markdown_html``: formulas left as $...$
        for KaTeX), "goal" ("Goal: ..."), "hints" (Markdown), "hints_html", "race" (True: the goal needs Race
        optimizers), "race_optimizers", "done", "status": {"met", "checked", "details", "message"}}``;
        message: "Goal reached", "Not yet: ..." or "Train to check the goal" ("Race optimizers to check the
        goal" in a race lesson)."""
        le = self._lesson
        if le is None:
            return None
        status = self._status or {
            "met": False, "checked": False, "details": [],
            "message": "Race optimizers to check the goal" if le.race else "Train to check the goal"}
        return jsonable({"number": le.number, "title": le.title, "label": le.label, "markdown": le.text,
                         "html": LS.markdown_html(le.text), "goal": le.goal_line, "hints": list(le.hints),
                         "hints_html": [LS.markdown_html(h) for h in le.hints], "race": bool(le.race),
                         "race_optimizers": list(le.race), "done": self._progress.is_done(le.number),
                         "status": status})

    def _check_lesson(self, run=None, fresh_race=False):
        """Check the open lesson's goal on ``run`` (a finished or paused run; None: the run shown) and the last
        race while it is of the current settings (``fresh_race``: it has just been run); a goal reached marks the
        lesson done."""
        le = self._lesson
        if le is None:
            return
        race = self._race if fresh_race or self._race_is_current() else None
        run = run if run is not None else self._shown
        model, prepared, history = (run.model, run.prepared, run.history) if run is not None and run.epochs \
            else (None, self._prepared_or_none(), None)
        if prepared is None:
            return
        with np.errstate(all="ignore"):
            met, details = LS.check_goal(le, model, prepared, history, race)
        if met:
            self._progress.mark(le.number)
        self._status = {"met": bool(met), "checked": True, "details": details,
                        "message": LS.goal_message(met, details)}

    def progress(self):
        """The lessons done (goal reached) so far, as JSON text (``{"done": [numbers]}``, for localStorage)."""
        return self._progress.to_json()

    def set_progress(self, text):
        """Add the lessons done in an earlier visit (:meth:`progress`'s JSON; anything unreadable adds nothing).
        Returns :meth:`lessons`."""
        self._progress.done |= LS.Progress.from_json(text if isinstance(text, str) else json.dumps(text)).done
        return self.lessons()

    def race_choices(self):
        """The optimizers a race can use (``settings.OPTIMIZERS``): ``[{"name", "label", "default"}]``, the
        defaults first: the open race lesson's racers, else sgd, sgd_momentum, rmsprop and adam."""
        import mlp
        chosen = self._lesson.race if self._lesson is not None and self._lesson.race else mlp.RACE_OPTIMIZERS
        names = list(chosen) + [n for n in T.OPTIMIZERS if n not in chosen]
        return [{"name": n, "label": charts_learn.OPTIMIZER_LABELS.get(n, n), "default": n in chosen}
                for n in names]

    def race_epochs(self, epochs=None):
        """The epochs a race trains: ``epochs`` (default: the epochs setting) capped at ``RACE_MAX_EPOCHS`` and
        at ``RACE_MAX_STEPS`` batches per optimizer."""
        prepared = self.prepared()
        cfg = self.cfg()
        want = cfg["epochs"] if epochs is None else epochs
        if isinstance(want, bool) or not isinstance(want, (int, np.integer)) or not 1 <= want <= T.MAX_EPOCHS:
            raise ValueError(f"The race's epochs must be a whole number from 1 to {T.MAX_EPOCHS:,}, got "
                             f"{T.clean(want, 20)!r}.")
        batch = cfg.get("batch_size") or prepared.n_train
        steps = max(1, math.ceil(prepared.n_train / max(1, int(batch))))
        return int(min(want, RACE_MAX_EPOCHS, max(1, RACE_MAX_STEPS // steps)))

    def race(self, optimizers=None, epochs=None):
        """Race optimizers: the current network and data trained from the same initial weights on the same
        batches once per optimizer (default: :meth:`race_choices`' defaults), each at the learning rate
        setting, for :meth:`race_epochs` epochs. A training in progress is paused first. Returns::

            {"optimizers", "epochs", "figures": {"race": "Optimizer race", "landscape": "Loss landscape"},
             "summary": [{"optimizer", "learning_rate", "epochs", "final_loss", "stop_reason"}], "notes",
             "lesson": lesson() (its goal checked when the lesson races)}
        """
        import mlp
        if self._running:
            self.stop()
        if optimizers is None:
            import mlp as _mlp
            names = list(self._lesson.race if self._lesson is not None and self._lesson.race
                         else _mlp.RACE_OPTIMIZERS)
        else:
            names = optimizers
        if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"Choose at least one optimizer to race, from {', '.join(T.OPTIMIZERS)}.")
        bad = [T.clean(n, 30) for n in names if n not in T.OPTIMIZERS]
        if bad:
            raise ValueError(f"Unknown optimizer(s) {', '.join(map(repr, bad))}: a race can use "
                             f"{', '.join(T.OPTIMIZERS)}.")
        names = list(dict.fromkeys(names))
        cfg = self.cfg()
        prepared = S.for_loss(self.prepared(), cfg["loss"])
        chk = S.check_architecture(cfg["arch"], prepared)
        if not chk["ok"]:
            raise ValueError(chk.get("error") or "The architecture does not fit the data.")
        n = self.race_epochs(epochs)
        want = cfg["epochs"] if epochs is None else int(epochs)
        notes = [] if n == want else [f"The race trains {n} epochs (of {want}): at most {RACE_MAX_EPOCHS} epochs "
                                      f"and {RACE_MAX_STEPS:,} batches per optimizer, so it stays quick."]
        with self._lock, np.errstate(all="ignore"):
            race = LS.race_for(prepared, {**cfg, "epochs": n}, names)
            try:
                surface = mlp.loss_surface(race, resolution=RACE_RESOLUTION)
            except ValueError as e:             # e.g. every racer diverged at once
                surface = None
                notes.append(f"No loss landscape: {e}")
        self._race, self._surface = race, surface
        figures = {"race": charts_learn.race_figure(race)}
        if surface is not None:
            figures["landscape"] = charts_learn.landscape_figure(surface, race)
        if self._lesson is not None and self._lesson.race:
            self._check_lesson(fresh_race=True)
        out = jsonable({"optimizers": names, "epochs": n, "summary": race.summary(), "notes": notes,
                        "lesson": self.lesson()})
        out["figures"] = figures
        self._race_out, self._race_key = out, self._race_settings(names)
        return {**out, "stale": None}

    def race_view(self, optimizers=None):
        """The last race as the apps show it (:meth:`race`'s dict), or None when there is none to show (before a
        race, after a lesson is opened). ``"stale"``: None when the race is of the current settings and of
        ``optimizers`` (the optimizers picked now; None: the race's own), else a sentence saying which settings
        changed since; its figures are then titled as from earlier settings and faded, and its summary is
        kept (it describes that race)."""
        if self._race_out is None:
            return None
        out = self._race_out
        names = out["optimizers"] if optimizers is None else list(dict.fromkeys(optimizers))
        changes = _race_changes(self._race_key, self._race_settings(names))
        if not changes:
            return {**out, "stale": None}
        stale = ("These race charts are from earlier settings (" + "; ".join(changes) + "). Press Race "
                 "optimizers to race the current ones.")
        figures = {k: _faded(fig, " · earlier settings") for k, fig in out["figures"].items()}
        return {**out, "figures": figures, "stale": stale}

    def _race_is_current(self):
        """Whether the last race is of the current settings (a race marked stale does not count for a goal)."""
        return self._race_out is not None and not _race_changes(
            self._race_key, self._race_settings(self._race_out["optimizers"]))

    def _race_settings(self, names):
        """What decides a race: the settings it reads (with the architecture and loss in use, the CSV file),
        the epochs it trains and the optimizers, as ``{label: shown value}``."""
        s = dict(self._settings)
        s["arch"], s["loss"] = self.arch_text(), self.loss()
        out = {T.SETTINGS[k].label: v for k, v in s.items()
               if k not in RACE_IGNORES and T.SETTINGS[k].applies(s)}
        if s.get("source") == "csv":
            out["Data file"] = (self._csv or {}).get("name"), (self._csv or {}).get("digest")
        try:
            out["Epochs per optimizer"] = self.race_epochs()
        except (ValueError, TypeError):
            out["Epochs per optimizer"] = None
        import mlp
        order = list(mlp.RACE_OPTIMIZERS) + [n for n in T.OPTIMIZERS if n not in mlp.RACE_OPTIMIZERS]
        picked = sorted(set(names), key=lambda n: order.index(n) if n in order else len(order))   # (a set)
        out["Optimizers"] = ", ".join(charts_learn.OPTIMIZER_LABELS.get(n, str(n)) for n in picked)
        return out

    def last_race(self):
        """``(mlp.Race, mlp.LossSurface)`` of the last :meth:`race` (``(None, None)`` before one), for Python."""
        return self._race, self._surface

    # ------------------------------------------------------------ links

    def open_link(self, source):
        """Apply a link (query string, fragment or mapping): its valid settings replace the current ones, and a
        model it carries is shown as a run at once (no training) when its data is there; a CSV link waits for the
        file (:meth:`set_csv`). Returns ``{"settings", "notes", "has_model", "needs_file", "opened"}``."""
        if self._running:
            self.stop()
        dec = links.decode(source)
        notes = list(dec.notes)
        self._settings = {**T.defaults(), "live": self._settings.get("live", True)}   # the link's experiment
        self._pending_csv = {}
        for k, v in dec.settings.items():
            if k in ("target", "features", "task"):
                self._pending_csv[k] = v
            else:
                self._settings[k] = v
        self._pending_model = dec.model
        self._link_given = set(dec.settings)   # the model fills in only what the link itself does not say
        if dec.needs_file:
            notes.append(links.CSV_ASK)
        opened = self._open_pending_model(notes)
        notes += self._tidy(link=True)
        self.notes = notes
        return jsonable({"settings": dec.settings, "notes": notes, "has_model": dec.model is not None,
                         "needs_file": bool(dec.needs_file), "opened": opened})

    def _open_pending_model(self, notes):
        model = self._pending_model
        if model is None:
            return False
        prepared = self._prepared_or_none()
        if prepared is None:
            return False
        self._pending_model = None
        why = links.model_mismatch(model, prepared)
        if why:
            notes.append(why)
            return False
        if model.preprocessor is not None:     # the data as the model's own preprocessing sees it
            prepared = _with_preprocessor(prepared, model.preprocessor)
        # the model's own settings, where the link does not give them (a link of either app gives them all; its
        # architecture without the dropout layers its dropout setting adds)
        given = self._link_given
        for k, v in links.settings_from_model(model).items():
            if k in T.SETTINGS and k != "transforms" and k not in given:
                self._settings[k] = v
        hist = getattr(model, "history", None)
        run = _Run(self._next_id, model, prepared, self._data_key(), str(prepared.name), self.cfg(),
                   self.link_settings())
        self._next_id += 1
        run.from_link = True
        run.name += " (from a link)"
        run.base = {k: [float(x) for x in v] for k, v in (getattr(hist, "history", None) or {}).items()}
        self._runs = (self._runs + [run])[-MAX_RUNS:]
        self._finalize(run)
        model.history = hist                  # Download model gives the file the link carried
        return True

    def open_pending(self):
        """Open a link's model once its data is there (after :meth:`set_csv`): ``{"opened": bool, "notes": [...]}``
        (a note says why a model that does not fit the data was not opened)."""
        notes = []
        opened = self._open_pending_model(notes)
        return {"opened": opened, "notes": notes}


_LESSONS = []


def _lessons():
    """The lesson files, read once per process."""
    if not _LESSONS:
        _LESSONS.extend(LS.load_lessons())
    return _LESSONS


def _race_changes(before, now):
    """The settings that differ between two :meth:`Playground._race_settings`, said as "Label: old → now"."""
    def shown(v):
        if isinstance(v, tuple):            # a CSV file: (name, digest)
            return v[0] or "none"
        if isinstance(v, list):
            return ", ".join(map(str, v)) or "none"
        return "default" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
    return [f"{k}: {shown(before.get(k))} → {shown(now.get(k))}" for k in dict.fromkeys([*before, *now])
            if before.get(k) != now.get(k)]


def _faded(fig, suffix):
    """A copy of a figure dict marked as out of date: ``suffix`` after its title, its traces faded."""
    fig = copy.deepcopy(fig)
    title = fig.setdefault("layout", {}).setdefault("title", {})
    title["text"] = (title.get("text") or "") + suffix
    for trace in fig.get("data", []):
        trace["opacity"] = 0.35
    return fig


def mlp_example():
    import mlp
    return mlp.architecture.EXAMPLE


# the throwaway run of warm_up(): the default data and network, one epoch. Data of the default size matter: a
# first race after a warm-up on 200 rows still cost 0.27 s more CPU than the next in Pyodide (the engine's arrays,
# the landscape's above all, grow WebAssembly's memory the first time), after one on the default data none.
WARM_UP = {"epochs": 1}


def warm_up():
    """Run, on a throwaway playground (``WARM_UP``), what a first Train and a first race run, in three short steps:
    a training and its live figures, the results' figures, a race and its loss landscape. In Pyodide code is slower
    the first time it runs (WebAssembly is compiled on first use), so the browser app runs these while its page is
    idle after start-up, one step per call, and stops when the user starts something; no other playground changes.
    A generator: each step yields the figures it made, ``{name: figure}`` (live ones as ``live_<name>``; the page
    draws them once, hidden, so that its charts' first draws are warm too)."""
    pg = Playground(WARM_UP)
    pg.train()
    while pg.running:
        pg.advance()
    yield {f"live_{k}": v for k, v in pg._live_figures(pg._shown, list(LIVE_EVERY)).items()}
    yield pg.result()["figures"]
    yield pg.race(epochs=2)["figures"]


def _with_preprocessor(prepared, pre):
    """``prepared`` with its arrays transformed by ``pre`` (a model's own saved preprocessing)."""
    out = copy.copy(prepared)
    train, test = prepared.tables
    out.preprocessor = pre
    out.X_train, out.y_train = pre.transform_X(train), pre.transform_y(train)
    if len(test):
        out.X_test, out.y_test = pre.transform_X(test), pre.transform_y(test)
    return out


class _LiveBudget:
    """When a live frame carries figures (see the module docstring). Times are ``time.perf_counter()``.

    What live figures cost is counted three ways: computing them, the front end's time between two ``advance``
    calls (sending a frame; in Streamlit the page draws meanwhile), and the training they slow down: the browser
    drawing on the same cores. That slowdown is every slice's time against a *quiet* slice's time per epoch, a slice
    that starts at least ``QUIET_AFTER`` after the last frame with figures, when the page has finished drawing (the
    quicker of the last two);
    summed with its sign, so the machine's own ups and downs cancel. Every ``QUIET_EVERY`` seconds figures are held
    back until a quiet slice has been timed again (a gap of about 0.3 s instead of 0.2)."""

    def __init__(self, training):
        self.start = time.perf_counter()
        self.training = training
        self.frames = 0                # frames returned
        self.train = 0.0               # seconds in training slices
        self.fixed = 0.0               # seconds computing figures and in the front end
        self.slowdown = 0.0            # signed sum of the slices' time above the quiet time per epoch
        self.base = None               # seconds per epoch of a quiet slice (the quicker of the last two)
        self.quiet = []
        self.quiet_at = -math.inf      # when it was measured
        self.drawn_at = -math.inf      # when the last frame with figures was returned
        self.after_draw = False        # the last frame carried figures (its cost is not known yet)
        self.costs = [FIRST_COST_GUESS]   # what the last frames with figures cost (a one-off slow frame, e.g. the
        #                                    front end's first, must not hold back the rest: the least of the last 3)
        self.pending = 0.0             # this frame's cost so far (figures + front end + slowdown)
        self.last = {k: -math.inf for k in LIVE_EVERY}
        self.returned_at = None

    @property
    def spent(self):
        """Seconds live figures have cost so far."""
        return self.fixed + max(0.0, self.slowdown)

    def front_end(self, now):
        """Called as advance() starts: the time since the last frame returned was the front end's."""
        if self.returned_at is not None:
            gap = max(0.0, now - self.returned_at)
            self.fixed += gap
            if self.after_draw:
                self.pending += gap

    def trained(self, seconds, epochs, started):
        """A slice of ``epochs`` epochs took ``seconds``, from ``started``."""
        self.train += seconds
        if epochs <= 0:
            return
        if started - self.drawn_at >= QUIET_AFTER:
            # the quicker of the last two quiet slices: on a busy page a "quiet" one may still be slowed
            self.quiet = (self.quiet + [seconds / epochs])[-2:]
            self.base, self.quiet_at = min(self.quiet), started
        elif self.base is not None:
            slow = seconds - self.base * epochs
            self.slowdown += slow
            self.pending += slow
        if self.after_draw:
            self.costs = (self.costs + [max(self.pending, 0.001)])[-3:]    # a whole frame's cost is known now
            self.after_draw = False

    def due(self, now):
        """The kinds of live figures due now (``loss``, ``main``, ``network``), within the budget."""
        if self.frames and now - self.quiet_at > QUIET_EVERY:
            return []                  # hold back: the next slice measures a quiet time per epoch
        # (a quarter of an interval early is on time: slices of about one interval would otherwise skip every other)
        names = [k for k, every in LIVE_EVERY.items() if now - self.last[k] >= 0.75 * every]
        if not names:
            return []
        if self.frames and self.spent + min(self.costs) > LIVE_SHARE * (now - self.start):
            return []
        return names

    def drew(self, names, seconds):
        now = time.perf_counter()
        for k in names:
            self.last[k] = now
        self.fixed += seconds
        self.pending = seconds
        self.after_draw = True

    def returned(self, now):
        self.frames += 1
        self.returned_at = now
        if self.after_draw:
            self.drawn_at = now
