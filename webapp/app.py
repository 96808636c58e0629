"""Streamlit front end: ``streamlit run webapp/app.py``.

UI only: data, models, charts, explanations and links come from ``webapp.core.session`` /
``webapp.core.charts`` / ``webapp.core.links`` / ``mlp``. Everything a user owns lives in ``st.session_state``
(one per browser session).

A *run* is one model and its training so far. Train makes a new run and trains it; Step trains one more
epoch of the run shown (making a new run when the data or the network settings changed); Resume trains it
on to the end of its epochs; Reset draws fresh weights (a new run at epoch 0). Training advances the
engine's resumable ``TrainingRun`` in slices of about ``UPDATE_EVERY`` seconds and refreshes the progress,
the loss curve, the decision boundary and the network view between slices. Any interaction (Stop, or
changing a widget) starts a new script run; Streamlit interrupts the old one at its next refresh, between
two slices, so the model is always whole; the new run keeps it as a paused run that Resume continues.

The address bar always holds the current settings (``links.encode``); opening such an address restores
them, and a Share link also carries a small trained model.
"""

import csv
import hashlib
import io
import itertools
import math
import os
import re
import sys
import time
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# One BLAS thread per matrix product: the engine's products are small, sessions train in parallel
# threads, and when the app runs locally the browser drawing the charts needs a core too. With
# OpenBLAS's default (a thread per core) its threads spin on a busy CPU and training stalls
# (measured on 2 cores: 150 epochs of [2, 128, 128, 1] took 5.8 s with live charts, 0.5 s with one
# thread). This must run before NumPy is first imported (`streamlit run` has not imported it yet);
# set MLP_BLAS_THREADS (or OPENBLAS_NUM_THREADS, ...) to choose another number.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("MLP_BLAS_THREADS", "1"))

try:
    import webapp.core  # noqa: F401  (installed: `pip install -e .`, or run from the repository root)
except ImportError:     # `streamlit run webapp/app.py` from a checkout puts only webapp/ on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import streamlit as st  # noqa: E402

from mlp.preprocessing import FEATURE_TRANSFORMS  # noqa: E402
from webapp.core import charts  # noqa: E402
from webapp.core import links  # noqa: E402
from webapp.core import session as S  # noqa: E402

UPDATE_EVERY = 0.25      # seconds between live progress refreshes
LIVE_SHARE = 8           # live charts are redrawn while drawing takes at most 1/LIVE_SHARE of the training time
FIRST_DRAW_GUESS = 0.1   # seconds a chart redraw is taken to cost before the first one is measured
MAX_RUNS = 12            # runs kept per browser session (oldest dropped)
MAX_CACHED = 8           # prepared datasets kept per browser session
EXAMPLE_ARCH = "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
STOP_WAIT = 5.0          # seconds a new run waits for an interrupted training loop
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256, "full batch"]
SCHEDULES = ["constant", "exponential", "step", "cosine"]
L2_VALUES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
L1_VALUES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
USER_ERRORS = (ValueError, TypeError)
SESSION_MODEL, UPLOAD_MODEL = "A run from this session", "Upload a model file"
METRIC_LABELS = {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1",
                 "r2": "R²", "mae": "MAE", "rmse": "RMSE", "loss": "loss"}
BOUNDED = {"accuracy", "precision", "recall", "f1", "r2"}   # shown with fixed decimals
LOSS_HELP = ("The training loss on the standardised target, (y − mean) / std of the training rows, which "
             "is what the network learns; MAE and RMSE are in the target's own units.")
_SOURCES = ("Built-in dataset", "Upload CSV")
TRANSFORM_KEYS = {k: f"tf_{k}" for k in FEATURE_TRANSFORMS}   # transform -> checkbox key

# Widget defaults, set in session state before the widgets are drawn (the widgets take no value of their
# own), so that a link can set any of them first without a "default value and Session State" conflict.
DEFAULTS = {
    "source": _SOURCES[0], "dataset": "circles", "n_samples": 400, "noise": 0.1, "n_classes": 3,
    "test_size": 0.2, "data_seed": 0, "csv_test_size": 0.2, "csv_seed": 0,
    "optimizer": "adam", "lr": S.DEFAULT_CONFIG["learning_rate"], "epochs": 150, "batch_size": 32,
    "schedule": "constant", "lr_decay": 0.99, "l2": 0.0, "l1": 0.0, "dropout": 0.0, "val_split": 0.2,
    "patience": 0, "model_seed": 0, "live": True, **{key: False for key in TRANSFORM_KEYS.values()},
}


# ------------------------------------------------------------------ plain text

_MARKDOWN = re.compile(r"([\\`*_\[\]<>$~|:])")   # links, autolinks, emphasis, code, formulas, tables


_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")   # where Markdown turns bare text into a link (no escape stops it)


def _plain(text):
    """``text`` for st.info/warning/error (which render Markdown) shown as written: a column name, a
    category or a link's value cannot become a link, a formula or emphasis in the app's own message
    (a zero-width space inside ``://``, ``www.`` and before ``@`` keeps bare addresses from being linked)."""
    text = _AUTOLINK.sub(lambda m: m.group(1)[:-1] + "\u200b" + m.group(1)[-1], str(text))
    return _MARKDOWN.sub(r"\\\1", text)


# ------------------------------------------------------------------ state

def _ss():
    ss = st.session_state
    ss.setdefault("runs", [])         # runs (dicts), newest last
    ss.setdefault("cache", {})        # data key -> Prepared / preview
    ss.setdefault("job", None)        # the training in progress (survives an interrupted script run)
    ss.setdefault("next_run", 1)
    ss.setdefault("notice", None)
    return ss


def _defaults():
    ss = st.session_state
    for k, v in DEFAULTS.items():
        ss.setdefault(k, v)
    if ss.get("dataset") not in S.datasets():
        ss["dataset"] = S.datasets()[0]


def _cached(key, make):
    """Per-session cache (never shared between browser sessions)."""
    cache = st.session_state["cache"]
    if key not in cache:
        value = make()
        while len(cache) >= MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return cache[key]


def _plot(fig, key):
    """Draw a figure dict from webapp.core.charts. Handed over as a Figure built without validation: st.plotly_chart
    validates a plain dict property by property (57 ms for the Network view, 28 ms for a decision boundary;
    4.5 and 13 ms this way), and these dicts are the same ones the browser build gives Plotly.js as they are."""
    import plotly.graph_objects as go

    st.plotly_chart(go.Figure(fig, _validate=False), key=key, width="stretch", config={"displaylogo": False})


def _num(v, bounded=False):
    """A metric for people: 0.927 / 14,041 / 0.0123 (never 14041.0959)."""
    if v is None or not math.isfinite(v):
        return "–"
    if bounded:
        return f"{v:.3f}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _table(header, rows):
    """Rows of CSV cells as records for st.dataframe, with all-number columns as numbers
    (right-aligned, sortable, 6 significant digits) and everything else as text."""
    cols = list(zip(*rows)) if rows else [()] * len(header)
    typed = []
    for col in cols:
        nums = []
        for c in col:
            if c is None or (isinstance(c, str) and not c.strip()):
                nums.append(None)
                continue
            try:
                f = float(c)
            except (TypeError, ValueError):
                nums = None
                break
            if not math.isfinite(f):
                nums = None
                break
            nums.append(float(f"{f:.6g}"))
        typed.append(nums if nums is not None else [None if c is None else str(c) for c in col])
    return [dict(zip(header, r)) for r in zip(*typed)] if typed else []


# ------------------------------------------------------------------ links: settings <-> widgets

def _in(options):
    return lambda v: v if v in options else None


def _number(v):
    """``v`` as a float, or None for text that is not a number (and for True/False)."""
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _int_range(lo, hi, step=1):
    def conv(v):
        f = _number(v)
        if f is None or not f.is_integer() or not lo <= f <= hi or (f - lo) % step:
            return None
        return int(f)
    return conv


def _float_range(lo, hi, step=None):
    def conv(v):
        f = _number(v)
        if f is None or not (math.isfinite(f) and lo - 1e-12 <= f <= hi + 1e-12):
            return None
        if step is not None:
            k = round((f - lo) / step)
            if abs(lo + k * step - f) > 1e-9:
                return None
            f = round(lo + k * step, 10)
        return f
    return conv


def _float_in(options):
    def conv(v):
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return next((o for o in options if math.isclose(o, f, rel_tol=1e-9, abs_tol=1e-15)), None)
    return conv


# link setting -> (widget key, value -> widget value or None when the widget cannot show it); the data
# settings of a CSV source use the CSV widgets; loss and the CSV columns wait for their widgets (pending).
_WIDGETS = {
    "dataset": ("dataset", lambda v: v if v in S.datasets() else None),
    "n_samples": ("n_samples", _int_range(50, 2000, 50)),
    "noise": ("noise", _float_range(0.0, 0.5, 0.01)),
    "n_classes": ("n_classes", _int_range(2, 6)),
    "test_size": ("test_size", _float_range(0.1, 0.5, 0.05)),
    "data_seed": ("data_seed", _int_range(0, 10**6)),
    "arch": ("arch", lambda v: v if isinstance(v, str) and v.strip() else None),
    "optimizer": ("optimizer", _in(S.OPTIMIZERS)),
    "learning_rate": ("lr", _float_in(LEARNING_RATES)),
    "epochs": ("epochs", _int_range(1, S.MAX_EPOCHS)),
    "batch_size": ("batch_size", lambda v: "full batch" if v in ("full", None) else _in(BATCH_SIZES[:-1])(
        _int_range(1, 10**6)(v))),
    "lr_schedule": ("schedule", lambda v: "constant" if v in (None, "constant") else _in(SCHEDULES)(v)),
    "lr_decay": ("lr_decay", _float_range(0.5, 1.0)),
    "weight_decay": ("l2", _float_in(L2_VALUES)),
    "l1": ("l1", _float_in(L1_VALUES)),
    "dropout": ("dropout", _float_range(0.0, 0.5, 0.05)),
    "validation_split": ("val_split", _float_range(0.0, 0.4, 0.05)),
    "early_stopping": ("patience", _int_range(0, 1000)),
    "seed": ("model_seed", _int_range(0, 10**6)),
}
_CSV_WIDGETS = {"test_size": "csv_test_size", "data_seed": "csv_seed"}


def _restore_from_link():
    """On a session's first script run, apply the settings (and model) in the address; returns nothing.

    What the app cannot show is said in ``ss["link_notes"]``; a model waits in ``ss["link_model"]`` for its
    data (a CSV source waits for the file)."""
    ss = st.session_state
    if ss.get("link_read"):
        return
    ss["link_read"] = True
    params = st.query_params.to_dict()
    if not params:
        return
    dec = links.decode(params)
    notes = list(dec.notes)
    sett = dict(dec.settings)
    csv_source = sett.get("source") == "csv"
    if "source" in sett:
        ss["source"] = _SOURCES[1] if csv_source else _SOURCES[0]
    if "transforms" in sett:
        chosen = set(sett["transforms"] or [])
        for k, key in TRANSFORM_KEYS.items():
            ss[key] = k in chosen
    for name, value in sett.items():
        if name in ("source", "transforms"):
            continue
        if name == "loss":
            ss["pending_loss"] = value
            continue
        if name in ("target", "features", "task"):
            ss.setdefault("pending_csv", {})[name] = value
            continue
        if name not in _WIDGETS:
            notes.append(f"The setting {name!r} is not used by this app; it was ignored.")
            continue
        key, conv = _WIDGETS[name]
        if csv_source and name in _CSV_WIDGETS:
            key = _CSV_WIDGETS[name]
        shown = conv(value)
        if shown is None:
            notes.append(f"{name}={value!r} is not one of the values this app offers; the default "
                         f"({DEFAULTS.get(key, 'as drawn')!r}) is used instead.")
            continue
        ss[key] = shown
        if key == "arch":
            ss["arch_default"] = "(from a link)"   # the link's text stays, whatever the data's default
    if csv_source:
        ss["link_asks_file"] = True
    if dec.model is not None:
        ss["link_model"] = dec.model
    ss["link_notes"] = notes


def _link_settings(data, cfg):
    """The current settings as ``links`` names them (what the address bar and the Share link carry)."""
    out = links.settings_from_session({}, {**cfg, "lr_schedule": cfg.get("lr_schedule") or "constant"})
    out.update(data["settings"])
    return {k: v for k, v in out.items() if v is not None}


def _sync_address(settings):
    """Keep the address bar equal to the current settings (only written when it changed); a value a link
    cannot hold (an architecture being typed, a loss that does not fit it) is left out until it is valid."""
    valid, _ = links.check(settings)
    want = dict(parse_qsl(links.encode(valid), keep_blank_values=True))
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def _base_url():
    url = getattr(st.context, "url", None) or ""
    if not url:
        return ""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path or "/", "", ""))


# ------------------------------------------------------------------ runs and training

def _model_key(cfg, data):
    return (data["key"],) + S.model_key(cfg)


def _new_run(prepared, cfg, data, settings, model=None):
    """A run at epoch 0: a fresh model for ``cfg`` (or ``model``, e.g. one opened from a link)."""
    ss = st.session_state
    model = S.build_model(cfg, prepared) if model is None else model
    rid = ss["next_run"]
    ss["next_run"] = rid + 1
    return {"id": rid, "name": f"run {rid}: {prepared.name} {cfg['arch']}", "model": model, "prepared": prepared,
            "cfg": dict(cfg), "settings": dict(settings), "model_key": _model_key(cfg, data), "train_key": None,
            "training": None, "base": {}, "history": {}, "epochs": 0, "reason": None, "seconds": 0.0,
            "metrics": {}, "figures": {}}


def _sync(run):
    """The run's whole history: earlier training runs (``base``) followed by the current one."""
    tr = run["training"]
    cur = tr.history.history if tr is not None else {}
    base = run["base"]
    run["history"] = {k: list(base.get(k, [])) + list(cur.get(k, [])) for k in dict.fromkeys([*base, *cur])}
    run["epochs"] = len(run["history"].get("loss", []))


def _training_for(run, cfg):
    """The engine TrainingRun that continues ``run``: its own while it has epochs left and the training
    settings are unchanged, else a new one on the same model (weights and optimizer state kept)."""
    tr = run["training"]
    if tr is not None and not tr.done and run["train_key"] == S.training_key(cfg):
        return tr
    _sync(run)
    run["base"] = run["history"]
    run["cfg"].update({k: cfg.get(k) for k in S.TRAINING_KEYS})
    run["training"] = None
    tr = S.start_training(run["model"], run["prepared"], run["cfg"])
    run["training"], run["train_key"] = tr, S.training_key(cfg)
    return tr


def _finalize(run):
    """Metrics and figures for the run as it stands; keeps it in the session's runs and shows it."""
    ss = st.session_state
    _sync(run)
    for k in ("model_bytes", "pred_csv", "onnx", "share"):
        run.pop(k, None)
    run.pop("error", None)
    model, prepared = run["model"], run["prepared"]
    try:
        run["metrics"] = S.evaluate(model, prepared) if run["epochs"] else {}
        run["figures"] = S.figures(model, prepared, run["history"] if run["epochs"] else None)
    except USER_ERRORS as e:
        run["metrics"], run["figures"] = {}, ({"loss": charts.loss_figure(run["history"])} if run["epochs"] else {})
        run["error"] = str(e)
    if all(r is not run for r in ss["runs"]):
        ss["runs"] = (ss["runs"] + [run])[-MAX_RUNS:]
    ss["selected_run"] = run["id"]
    return run


def _collect_interrupted():
    """A new script run started while a training loop was running: stop it and keep its model."""
    ss = st.session_state
    job = ss.get("job")
    if not job:
        return
    job["stop"] = True
    deadline = time.monotonic() + STOP_WAIT
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    if job["status"] == "running":  # a very long epoch: check again shortly
        st.info("Stopping the training at the end of the current epoch…")
        time.sleep(0.5)
        st.rerun()
    ss["job"] = None
    run = job["run"]
    _sync(run)
    tr = run["training"]
    if tr is not None and not tr.done:
        run["reason"] = (f"stopped after epoch {run['epochs']} (of {tr.epochs} in this training); the model "
                         f"trained so far is kept, and Resume continues it")
    _finalize(run)
    ss["interrupted"] = run["id"]


def _advance(run, cfg, n_epochs, ui):
    """Train ``run`` ``n_epochs`` more epochs (None: to the end of its epochs) with live progress.
    Returns True when it ran to its end here (False: interrupted; a newer script run keeps it)."""
    ss = st.session_state
    tr = _training_for(run, cfg)
    job = {"run": run, "status": "running", "stop": False}
    ss["job"] = job
    live = bool(ss.get("live", True))
    if n_epochs is None:
        ui["stop"].button("Stop", key="stop", help="Pause now and keep the model trained so far; Resume continues")
    bar = ui["progress"].progress(0.0, text="Training…") if n_epochs is None else None
    run["reason"] = None
    t0 = time.monotonic()
    next_refresh, n_updates, done = t0 + UPDATE_EVERY, 0, 0
    # Drawing budget: the charts are redrawn only while all drawing so far (the script's own time, plus the
    # training time it slowed down: the browser drawing on the same cores, the server sending the charts)
    # stays within 1/LIVE_SHARE of the time trained; the progress bar moves every UPDATE_EVERY regardless.
    fastest, slowdown, spent, guess, last_draw = math.inf, 0.0, 0.0, FIRST_DRAW_GUESS, None
    finished = False
    try:
        while not tr.done and (n_epochs is None or done < n_epochs):
            e0, s0 = tr.epoch, time.monotonic()
            left = None if n_epochs is None else n_epochs - done
            tr.step(epochs=left, seconds=max(0.0, next_refresh - s0))
            done += tr.epoch - e0
            _sync(run)
            if job["stop"] or tr.epoch == e0:
                break
            took = time.monotonic() - s0     # epochs after a draw slower than the fastest seen: slowed by it
            fastest = min(fastest, took / (tr.epoch - e0))
            if last_draw is not None:
                slowdown += max(0.0, took - fastest * (tr.epoch - e0))
            now = time.monotonic()
            if bar is None or tr.done or now < next_refresh:
                continue
            if last_draw is not None:        # the last chart draw's full cost is known now
                guess, last_draw = last_draw + slowdown, None
            spent, slowdown = spent + slowdown, 0.0
            draw = live and spent + guess <= (now - t0) / LIVE_SHARE
            n_updates += 1
            _live_refresh(run, tr, bar, ui, draw, n_updates)
            cost = time.monotonic() - now
            spent += cost
            if draw:
                last_draw = cost
            next_refresh = time.monotonic() + UPDATE_EVERY
        finished = not job["stop"]
    finally:
        run["seconds"] += time.monotonic() - t0
        job["status"] = "done" if finished else "stopped"
    if not finished:
        return False
    ss["job"] = None
    if tr.done and tr.history.stop_reason:
        run["reason"] = tr.history.stop_reason
    _finalize(run)
    for slot in ("progress", "stop", "live"):
        ui[slot].empty()
    return True


def _live_refresh(run, tr, bar, ui, live, n):
    """Progress, epoch counter and (live views on) loss, decision boundary and network, between two slices."""
    hist, prepared = run["history"], run["prepared"]
    loss = hist["loss"][-1]
    text = f"Epoch {tr.epoch}/{tr.epochs} · loss {loss:.4g}"
    if hist.get("val_loss"):
        text += f" · validation loss {hist['val_loss'][-1]:.4g}"
    bar.progress(min(tr.epoch / tr.epochs, 1.0), text=text)
    ui["epoch"].markdown(f"**Epoch {run['epochs']}**")
    if not live:
        return
    try:
        figs = S.figures(run["model"], prepared)    # (the loss curve is drawn here, titled "live")
    except USER_ERRORS:
        figs = {}
    figs["loss"] = charts.loss_figure(hist, title="Loss (live)", ytitle=S.loss_title(prepared))
    main = next((k for k in ("decision_boundary", "surface", "fit") if k in figs), None)
    with ui["live"].container():
        c1, c2 = st.columns(2)
        with c1:
            _plot(figs["loss"], key=f"live_loss_{n}")
        if main:
            with c2:
                _plot(figs[main], key=f"live_main_{n}")
        if "network" in figs:
            _plot(figs["network"], key=f"live_net_{n}")


# ------------------------------------------------------------------ sidebar: data

# Data widgets hidden while the other source is chosen (or, for the class count, another dataset). Streamlit
# drops a widget's value on a run that does not draw it; assigning the value to itself at the start of the run
# keeps it. Only hidden widgets are touched (a drawn widget with a value set this way logs a warning). File
# uploaders cannot be kept.
_BUILTIN_KEYS = ("dataset", "n_samples", "noise", "n_classes", "test_size", "data_seed")
_CSV_KEYS = ("csv_test_size", "csv_seed")
_CSV_PREFIXES = ("target_", "features_", "task_", "drop_")   # per uploaded file
_CLASS_DATASETS = ("blobs", "spiral")                          # the datasets with a class-count slider


def _keep_hidden_widget_values():
    ss = st.session_state
    builtin = ss.get("source", _SOURCES[0]) == _SOURCES[0]
    for k in map(str, list(ss.keys())):
        if builtin:
            hidden = k in _CSV_KEYS or k.startswith(_CSV_PREFIXES) or \
                (k == "n_classes" and ss.get("dataset") not in _CLASS_DATASETS)
        else:   # the CSV widgets are drawn only once a file is uploaded
            hidden = k in _BUILTIN_KEYS or (ss.get("csv_file") is None and
                                            (k in _CSV_KEYS or k.startswith(_CSV_PREFIXES)))
        hidden = hidden or (k == "lr_decay" and ss.get("schedule") != "exponential") or \
            (k.startswith("explain_") and k != "explain_was_open" and not ss.get("explain"))
        if hidden:
            ss[k] = ss[k]


def _transforms_sidebar(sb):
    """Playground's extra input features; returns the chosen FEATURE_TRANSFORMS keys."""
    sb.caption("Extra inputs computed from x1, x2 (2-D data only), as in TensorFlow Playground")
    cols = sb.columns(3)
    chosen = []
    for n, (k, (label, _fn)) in enumerate(FEATURE_TRANSFORMS.items()):
        if cols[n % 3].checkbox(label, key=TRANSFORM_KEYS[k]):
            chosen.append(k)
    return chosen


def _data_sidebar():
    """Data controls; returns {"prepared", "error", "preview", "key", "settings"} (prepared None: no data)."""
    sb = st.sidebar
    ss = st.session_state
    sb.header("1 · Data")
    source = sb.radio("Data source", _SOURCES, horizontal=True, key="source")
    out = {"prepared": None, "error": None, "preview": None, "key": None, "settings": {}}
    if source == _SOURCES[0]:
        names = S.datasets()
        name = sb.selectbox("Dataset", names, key="dataset")
        about = (getattr(S.mdata, "DATASETS", {}).get(name) or {}).get("description")
        if about:  # plain text: '*' and '_' in formulas are not Markdown here
            sb.caption(f"{_plain(about)} Task: {S.BUILTIN_TASKS.get(name, '?')}.")
        n = sb.slider("Samples", 50, 2000, step=50, key="n_samples")
        noise = sb.slider("Noise", 0.0, 0.5, step=0.01, key="noise",
                          help="Standard deviation of the Gaussian noise added to the points "
                               "(classification) or to the target (regression).")
        n_classes = sb.slider("Classes", 2, 6, key="n_classes") if name in _CLASS_DATASETS else ss["n_classes"]
        test = sb.slider("Test split", 0.1, 0.5, step=0.05, key="test_size",
                         help="Share of the rows held out for testing; the model never trains on them.")
        seed = sb.number_input("Data seed", 0, 10**6, key="data_seed",
                               help="Seeds both the generated points and the train/test split.")
        tfs = _transforms_sidebar(sb)
        out["settings"] = {"source": "builtin", "dataset": name, "n_samples": n, "noise": noise,
                           "data_seed": seed, "test_size": test, "n_classes": n_classes, "transforms": tfs}
        out["key"] = key = ("builtin", name, n, noise, n_classes, test, seed, tuple(tfs))
        try:
            out["prepared"] = _cached(key, lambda: S.prepare_builtin(name, n, noise, seed, test, n_classes,
                                                                     transforms=tuple(tfs)))
        except USER_ERRORS as e:
            out["error"] = str(e)
        return out

    up = sb.file_uploader("Upload CSV", type=["csv", "txt", "tsv"], key="csv_file",
                          max_upload_size=S.MAX_UPLOAD_MB,
                          help="Header row first; comma, semicolon or tab separated; "
                               f"up to {S.MAX_UPLOAD_MB} MB and {S.MAX_ROWS:,} rows.")
    pending = ss.get("pending_csv") or {}
    tfs = [k for k, key in TRANSFORM_KEYS.items() if ss.get(key)]
    out["settings"] = {"source": "csv", "test_size": ss["csv_test_size"], "data_seed": ss["csv_seed"],
                       "transforms": tfs, **pending}
    if up is None:
        if ss.get("link_asks_file"):
            want = f" (target column {_plain(repr(pending['target']))})" if pending.get("target") else ""
            sb.info(f"This link was made with an uploaded CSV{want}: a file cannot travel in a link. "
                    "Upload the same file to continue with the link's settings.")
        _transforms_sidebar(sb)
        return out
    raw = up.getvalue()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    try:
        table = _cached(("table", digest), lambda: S.read_table(raw))
        preview = _cached(("preview", digest), lambda: S.csv_preview(table))
    except USER_ERRORS as e:
        out["error"] = f"Could not read {up.name}: {e}"
        return out
    out["preview"] = preview
    cols = preview["columns"]
    if pending:   # settings from a link, applied once to the first file that has those columns
        ss.pop("pending_csv", None)
        ss.pop("link_asks_file", None)
        if pending.get("target") in cols:
            ss[f"target_{digest}"] = pending["target"]
            feats = [f for f in pending.get("features") or [] if f in cols and f != pending["target"]]
            if feats:
                ss[f"features_{digest}_{pending['target']}"] = feats
            if pending.get("task") in S.TASKS:
                ss[f"task_{digest}_{pending['target']}"] = pending["task"]
        else:
            ss.setdefault("link_notes", []).append(
                f"The link's target column {pending.get('target')!r} is not in {up.name}; its own columns are used.")
    target = sb.selectbox("Target column", cols, index=len(cols) - 1, key=f"target_{digest}")
    options = [c for c in cols if c != target]
    features = sb.multiselect("Feature columns", options, default=options, key=f"features_{digest}_{target}")
    try:
        detected = S.mdata.detect_task(table.values(target))   # arrays (a list of 200,000 cells: 0.1 s a rerun)
    except USER_ERRORS:
        detected = None  # prepare_csv reports why (e.g. a single class)
    auto = f"auto ({detected})" if detected else "auto"
    tkey = f"task_{digest}_{target}"
    if ss.get(tkey) is not None and ss[tkey] not in (auto, *S.TASKS):
        ss[tkey] = auto
    task = sb.selectbox("Task", [auto, *S.TASKS], key=tkey,
                        help="Detected from the target column; override it if needed.")
    task = detected if task == auto else task
    used = set(features) | {target}
    missing = {c: n for c, n in preview["missing"].items() if c in used}
    drop = False
    if missing:
        sb.warning("Missing values: " + ", ".join(f"{_plain(c)} ({n})" for c, n in missing.items()))
        drop = sb.checkbox("Drop rows with missing values", value=False, key=f"drop_{digest}")
    test = sb.slider("Test split", 0.1, 0.5, step=0.05, key="csv_test_size")
    seed = sb.number_input("Split seed", 0, 10**6, key="csv_seed")
    tfs = _transforms_sidebar(sb)
    out["settings"] = {"source": "csv", "target": target, "features": list(features), "task": task,
                       "test_size": test, "data_seed": seed, "transforms": tfs}
    out["key"] = key = ("csv", digest, target, tuple(features), task, test, seed, drop, tuple(tfs))
    try:
        prepared = _cached(key, lambda: S.prepare_csv(table, target, features, task, test, seed, drop,
                                                      transforms=tuple(tfs)))
        prepared.name = up.name
        out["prepared"] = prepared
    except USER_ERRORS as e:
        out["error"] = str(e)
    return out


# ------------------------------------------------------------------ sidebar: training settings

def _training_sidebar(output_activation, task):
    sb = st.sidebar
    ss = st.session_state
    sb.header("2 · Training")
    losses = S.loss_choices(output_activation or S.OUTPUT_ACTIVATION.get(task, "sigmoid"))
    loss_key = f"loss_{output_activation}"
    if ss.get("pending_loss") is not None and output_activation is not None:
        want = ss.pop("pending_loss")
        if want in losses:
            ss[loss_key] = want
        else:
            ss.setdefault("link_notes", []).append(
                f"loss={want!r} does not fit the '{output_activation}' output; {losses[0]!r} is used.")
    cfg = {"loss": sb.selectbox("Loss", losses, key=loss_key,
                                help="Only losses compatible with the output layer are offered "
                                     "(bce ⇔ sigmoid, cce ⇔ softmax).")}
    cfg["optimizer"] = sb.selectbox("Optimizer", S.OPTIMIZERS, key="optimizer")
    cfg["learning_rate"] = sb.select_slider("Learning rate", LEARNING_RATES, key="lr")
    c1, c2 = sb.columns(2)
    cfg["epochs"] = c1.number_input("Epochs", 1, S.MAX_EPOCHS, key="epochs")
    bs = c2.selectbox("Batch size", BATCH_SIZES, key="batch_size")
    cfg["batch_size"] = None if bs == "full batch" else bs
    schedule = sb.selectbox("LR schedule", SCHEDULES, key="schedule",
                            help="constant: the same learning rate throughout; exponential: lr × decay "
                                 "each epoch; step: ×0.1 every third of the epochs; cosine: anneal to 0.")
    cfg["lr_schedule"] = None if schedule == "constant" else schedule
    cfg["lr_decay"] = 1.0
    if schedule == "exponential":
        cfg["lr_decay"] = sb.number_input("LR decay (per epoch)", 0.5, 1.0, step=0.001, format="%.3f",
                                          key="lr_decay", help="The learning rate is multiplied by this "
                                                               "after every epoch.")
    c1, c2, c3 = sb.columns(3)
    cfg["weight_decay"] = c1.selectbox("L2", L2_VALUES, key="l2", help="Weight decay (L2 regularization)")
    cfg["l1"] = c2.selectbox("L1", L1_VALUES, key="l1",
                             help="Adds L1 × Σ|W| over the weight matrices (biases excluded) to the loss")
    cfg["dropout"] = c3.slider("Dropout", 0.0, 0.5, step=0.05, key="dropout",
                               help="Adds dropout(p) after each hidden layer. Ignored when the architecture "
                                    "text already has dropout layers.")
    c1, c2 = sb.columns(2)
    cfg["validation_split"] = c1.slider("Validation split", 0.0, 0.4, step=0.05, key="val_split",
                                        help="Part of the training rows held out for the validation curve.")
    cfg["early_stopping"] = c2.number_input("Early stop patience", 0, 1000, key="patience",
                                            help="Stop after this many epochs without improvement of the validation "
                                                 "loss (training loss without a validation split); 0 = off.")
    cfg["seed"] = sb.number_input("Model seed", 0, 10**6, key="model_seed")
    sb.checkbox("Live charts while training", key="live",
                help="Redraw the loss curve, the decision boundary and the network view a few times a second "
                     "while training runs (off: only the progress bar moves).")
    return cfg


# ------------------------------------------------------------------ main: architecture

def _set_arch(text):
    st.session_state["arch"] = text


def _architecture(prepared):
    """Architecture input, validated as you type against the data (if any); returns the check dict."""
    ss = st.session_state
    default = S.default_architecture(prepared) if prepared is not None else EXAMPLE_ARCH
    if "arch" not in ss:
        ss["arch"] = ss["arch_default"] = default
    elif prepared is not None and ss["arch"] == ss.get("arch_default"):
        ss["arch"] = default  # the text follows the data's default until the user edits it
    if prepared is not None:
        ss["arch_default"] = default
    st.text_input("Architecture", key="arch",
                  help="List syntax: input size, then layer sizes each followed by an activation; "
                       f"'dropout(0.2)' may follow a hidden layer. E.g. {EXAMPLE_ARCH}")
    chk = S.check_architecture(ss["arch"], prepared)
    about = _plain(prepared.describe()) if prepared is not None else "Choose data to train on."
    if chk["ok"]:
        st.caption(f"✓ {chk['n_params']:,} parameters · output '{chk['output_activation']}' · {about}")
    else:
        st.error(_plain(chk["error"]))
        c1, c2 = st.columns(2)
        if chk["fixed"]:
            c1.button(f"Fix: use {chk['fixed']}", on_click=_set_arch, args=(chk["fixed"],), key="fix_arch")
        c2.button(f"Use default {default}", on_click=_set_arch, args=(default,), key="default_arch")
        st.caption(about)
    return chk


# ------------------------------------------------------------------ main: results

def _metrics_markdown(metrics, task=None):
    """Train/test metrics as a small Markdown table (lighter for the browser than a data grid)."""
    splits = [k for k in ("train", "test") if metrics.get(k)]
    names = [k for k in ("accuracy", "precision", "recall", "f1", "r2", "mae", "rmse", "loss")
             if any(k in metrics[s] for s in splits)]
    lines = ["| metric | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    for k in names:
        label = S.REGRESSION_LOSS_TITLE if k == "loss" and task == "regression" else METRIC_LABELS.get(k, k)
        cells = [(f"{metrics[s][k]:.4f}" if k in BOUNDED else _num(metrics[s][k])) if k in metrics[s] else ""
                 for s in splits]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _downloads(run):
    prepared, model = run["prepared"], run["model"]
    if "model_bytes" not in run:
        run["model_bytes"] = model.to_bytes()
        run["pred_csv"] = S.predictions_csv(model, prepared)
    if "onnx" not in run:   # (bytes, None) or (None, why not)
        try:
            run["onnx"] = (model.to_onnx(), None)
        except (ValueError, TypeError, ImportError) as e:
            run["onnx"] = (None, str(e))
    stem = f"mlp_run{run['id']}_{os.path.splitext(prepared.name)[0]}"
    c1, c2, c3, _ = st.columns([1, 1, 1.3, 1.7])
    c1.download_button("Download model", run["model_bytes"], file_name=f"{stem}.mlp",
                       mime="application/zip", key=f"dl_model_{run['id']}", type="primary", on_click="ignore",
                       help="The model file (weights + preprocessing); open it with mlp.load or 'Upload model'.")
    onnx, why = run["onnx"]
    if onnx is not None:
        c2.download_button("Download ONNX", onnx, file_name=f"{stem}.onnx", mime="application/octet-stream",
                           key=f"dl_onnx_{run['id']}", on_click="ignore",
                           help="The model as ONNX (raw feature columns in, as float32; preprocessing inside "
                                "the graph), for onnxruntime and other tools.")
    else:
        c2.button("Download ONNX", disabled=True, key=f"dl_onnx_{run['id']}", help=why)
    c3.download_button("Download predictions (CSV)", run["pred_csv"], file_name=f"{stem}_predictions.csv",
                       mime="text/csv", key=f"dl_pred_{run['id']}", on_click="ignore",
                       help="Train and test rows with the model's predictions.")
    if why:
        st.caption(f"No ONNX export for this model: {why}")


def _share(run):
    """The Share link of a run: its settings and (small models) the trained model itself."""
    if "share" not in run:
        try:
            valid, _ = links.check(run["settings"])
            run["share"] = links.share(valid, run["model"], base=_base_url(), mode="query")
        except USER_ERRORS as e:
            run["share"] = {"href": None, "carries_model": False, "note": f"No share link: {e}"}
    share = run["share"]
    if share.get("href"):
        what = "this trained model and its settings" if share["carries_model"] else "these settings"
        st.markdown(f"[**Share link**]({share['href']}) · opens {what} in a new tab; copy it from the box below.")
        st.code(share["href"], language=None, wrap_lines=True, height=80 if len(share["href"]) > 300 else "content")
    if share.get("note"):
        st.caption(share["note"])


def _results(run):
    prepared, model, cfg = run["prepared"], run["model"], run["cfg"]
    st.subheader(f"Results · run {run['id']}")
    batch = "full batch" if cfg.get("batch_size") is None else f"batch {cfg['batch_size']}"
    secs = run["seconds"]
    how = "opened from a link" if run.get("from_link") else \
        f"{run['epochs']} epochs in {secs:.{3 if secs < 0.1 else 2 if secs < 1 else 1}f} s"
    st.caption(f"{_plain(prepared.name)} · `{cfg['arch']}` · {how} · "
               f"{cfg['optimizer']} · lr {cfg['learning_rate']} · {batch} · loss {model.loss}")
    if run.get("reason"):
        st.info(f"Training {run['reason']}." if run["reason"].startswith("stopped") else run["reason"])
    if run.get("error"):
        st.error(_plain(run["error"]))
    if not run["epochs"]:
        st.info("Fresh weights, not trained yet: press **Step** to train one epoch or **Resume** to train "
                f"{cfg['epochs']} epochs.")
    m = run["metrics"]
    test = m.get("test") or m.get("train") or {}
    cols = st.columns(4)
    keys = ["accuracy", "precision", "recall", "f1"] if prepared.task != "regression" else ["r2", "mae", "rmse", "loss"]
    split = "test" if m.get("test") else "train"
    for c, k in zip(cols, keys):
        if k in test:
            c.metric(f"{METRIC_LABELS[k]} ({split})", _num(test[k], bounded=k in BOUNDED),
                     help=LOSS_HELP if k == "loss" else None)
    figs = run["figures"]
    main = [k for k in ("decision_boundary", "surface", "fit") if k in figs]
    second = "confusion_matrix" if "confusion_matrix" in figs else "predicted_vs_actual"
    c1, c2 = st.columns(2)
    with c1:
        if "loss" in figs:
            _plot(figs["loss"], key=f"loss_{run['id']}")
    with c2:
        if main or second in figs:
            _plot(figs[main[0] if main else second], key=f"main_{run['id']}")
    if "network" in figs:
        _plot(figs["network"], key=f"network_{run['id']}")
    _downloads(run)
    if run["epochs"]:
        _share(run)
    c1, c2 = st.columns(2)
    with c1:
        if m:
            st.markdown("**Metrics**")
            st.markdown(_metrics_markdown(m, prepared.task))
        st.markdown("**Network summary**")
        st.code(model.summary(), language=None)
    with c2:
        if main and second in figs:
            _plot(figs[second], key=f"second_{run['id']}")


def _numbered(start, code):
    """Source lines prefixed with their line numbers in mlp/reference.py."""
    lines = code.rstrip("\n").split("\n")
    width = len(str(start + len(lines) - 1))
    return "\n".join(f"{start + i:>{width}}  {line}" for i, line in enumerate(lines))


# Formulas with their numbers are wide: a smaller KaTeX size inside the expander, and a long one scrolls
# sideways instead of being cut off; the code beside it is set a little smaller too.
_EXPLAIN_CSS = """<style>
[data-testid="stExpander"] .katex { font-size: 0.95em; }
[data-testid="stExpander"] .katex-display { overflow-x: auto; overflow-y: hidden; padding: 2px 0; margin: 0.4em 0; }
[data-testid="stExpander"] pre code { font-size: 0.78rem; }
</style>"""


def _explain(run, interrupted):
    """The "Explain a step" expander: one training row through the model, formulas with numbers and code.
    Computed only while it is open (opening it reruns the script; during training that pauses it)."""
    ss = st.session_state
    was_open = ss.get("explain_was_open", False)
    exp = st.expander("Explain a step", key="explain", on_change="rerun")
    ss["explain_was_open"] = bool(exp.open)
    if not exp.open:
        return
    with exp:
        st.markdown(_EXPLAIN_CSS, unsafe_allow_html=True)
        if run is None:
            st.info("There is no model to explain yet: press **Train** or **Step** first.")
            return
        model, prepared = run["model"], run["prepared"]
        layers = [s for s in model.specs if s["type"] == "dense"]
        sizes = [model.n_inputs] + [s["units"] for s in layers]
        c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
        row = c1.number_input("Training row", min_value=0, value=0, step=1, key="explain_row",
                              help=f"Which of the {prepared.n_train} training rows (0 = the first) goes through "
                                   "the network")
        names = ["auto (largest gradient in layer 1)"] + \
            [f"layer {k + 1} ({sizes[k]} → {sizes[k + 1]})" for k in range(len(layers))]
        layer = c2.selectbox("Weight of layer", range(len(layers) + 1), format_func=names.__getitem__,
                             key=f"explain_layer_{run['id']}")
        i = j = 0
        if layer:
            i = c3.number_input("from unit i", min_value=0, value=0, step=1, key="explain_i",
                                help=f"Input unit of the weight, 0 to {sizes[layer - 1] - 1}")
            j = c4.number_input("to unit j", min_value=0, value=0, step=1, key="explain_j",
                                help=f"Output unit of the weight, 0 to {sizes[layer] - 1}")
        trigger = (row, layer, i, j)
        if interrupted and (not was_open or ss.get("explain_last") != trigger):
            st.info(f"Training was running: it is paused at epoch {run['epochs']} so this step can be explained; "
                    "nothing is lost, and Resume continues it.")
        ss["explain_last"] = trigger
        lr = S.next_learning_rate(run.get("training"), run["cfg"])
        try:
            ex = S.explain(model, prepared, row=int(row), weight=(int(layer), int(i), int(j)) if layer else None,
                           learning_rate=lr)
        except USER_ERRORS as e:
            st.error(_plain(e))
            return
        st.caption(f"Training row {ex['row']} (of 0–{ex['n_rows'] - 1}) as the network sees it, weight "
                   f"{ex['weight']['label']}, learning rate {lr:g}: the update is the one a training step on this "
                   "row alone would make from the optimizer's present state. Nothing here changes the model.")
        for note in ex["notes"]:
            st.caption(_plain(note))
        for sec in ex["sections"]:
            st.markdown(f"**{sec['title']}**")
            left, right = st.columns([11, 9])
            with left:
                for formula in sec["latex"]:
                    st.latex(formula)
            with right:
                if sec.get("code"):
                    end = sec["code_start"] + sec["code"].rstrip("\n").count("\n")
                    st.caption(f"`mlp/reference.py` · `{sec['code_name']}` · lines {sec['code_start']}–{end}")
                    st.code(_numbered(sec["code_start"], sec["code"]), language="python", wrap_lines=True)


def _data_view(prepared, preview, shown=None):
    """What the data looks like: always before its first training; ``shown`` is the run whose
    results follow (when it was trained on other data, the new data is plotted too)."""
    fresh = shown is None or shown["prepared"] is not prepared
    if preview is not None:
        with st.expander(f"Data preview · {preview['n_rows']:,} rows × {len(preview['columns'])} columns",
                         expanded=fresh):
            st.dataframe(_table(preview["columns"], preview["rows"]), hide_index=True)
    if prepared is not None:
        for note in prepared.notes:
            st.info(_plain(note))
        pre = prepared.preprocessor
        if pre is not None and list(prepared.feature_names) != list(pre.features):
            st.caption(f"{len(pre.features)} feature column(s) become {prepared.n_inputs} network inputs: "
                       + ", ".join(map(_plain, prepared.feature_names))
                       + " (each category of a text column is its own 0/1 input; extra features are computed "
                         "from x1, x2)")
        if fresh:
            fig = S.data_figure(prepared)
            if fig is not None:
                c1, _ = st.columns(2)
                with c1:
                    _plot(fig, key="data_fig")
            if shown is not None:
                st.caption(f"The results below are from run {shown['id']} ({_plain(shown['prepared'].name)}); "
                           f"press **Train** to train on {_plain(prepared.name)}.")


# ------------------------------------------------------------------ tabs

def _shown_run():
    ss = st.session_state
    runs = ss["runs"]
    if not runs:
        return None
    ids = [r["id"] for r in runs]
    if ss.get("selected_run") not in ids:
        ss["selected_run"] = ids[-1]
    return next(r for r in runs if r["id"] == ss["selected_run"])


def _open_link_model(data, cfg, settings):
    """A model that came in the address: shown as a run at once (no training) once its data is there."""
    ss = st.session_state
    model, prepared = ss.get("link_model"), data["prepared"]
    if model is None or prepared is None:
        return
    ss.pop("link_model")
    why = links.model_mismatch(model, prepared)
    if why:
        ss.setdefault("link_notes", []).append(why)
        return
    if model.preprocessor is not None:   # the data as the model's own preprocessing sees it
        prepared = _with_preprocessor(prepared, model.preprocessor)
    run = _new_run(prepared, cfg, data, settings, model=model)
    run["from_link"] = True
    run["name"] = f"run {run['id']}: {prepared.name} {cfg['arch']} (from a link)"
    hist = getattr(model, "history", None)
    run["base"] = {k: list(v) for k, v in (getattr(hist, "history", None) or {}).items()}
    _finalize(run)


def _with_preprocessor(prepared, pre):
    """``prepared`` with its arrays transformed by ``pre`` (a model's own saved preprocessing)."""
    import copy

    out = copy.copy(prepared)
    train, test = prepared.tables
    out.preprocessor = pre
    out.X_train, out.y_train = pre.transform_X(train), pre.transform_y(train)
    if len(test):
        out.X_test, out.y_test = pre.transform_X(test), pre.transform_y(test)
    return out


def _train_tab(data):
    ss = st.session_state
    prepared = data["prepared"]
    interrupted = ss.pop("interrupted", None)
    notes_slot = st.container()   # the link's notes, filled once the link's model has been tried too
    if data["error"]:
        st.error(_plain(data["error"]))
    elif prepared is None:
        st.info("Upload a CSV in the sidebar (or pick a built-in dataset) to start.")
    # architecture and settings stay on the page (and keep their values) even without data
    chk = _architecture(prepared)
    task = prepared.task if prepared is not None else None
    cfg = _training_sidebar(chk["output_activation"] if chk["ok"] else None, task)
    cfg["arch"] = ss["arch"]
    settings = _link_settings(data, cfg)
    _sync_address(settings)
    _open_link_model(data, cfg, settings)
    for note in ss.get("link_notes") or []:
        notes_slot.warning("From the link: " + _plain(note))
    if cfg.get("dropout") and chk["ok"] and "dropout" in ss["arch"]:
        st.caption("The Dropout slider is ignored: the architecture already has dropout layers.")
    ready = chk["ok"] and prepared is not None
    shown = _shown_run()
    b = st.columns([1, 1, 1, 1, 1, 3], vertical_alignment="center")
    clicked = b[0].button("Train", type="primary", disabled=not ready, key="train",
                          help="A new model with fresh weights, trained for the chosen epochs")
    step = b[1].button("Step", disabled=not ready, key="step",
                       help="Train exactly one epoch of the model shown (a new model when the data or the network "
                            "settings changed), then stop")
    resume = b[2].button("Resume", disabled=not ready, key="resume",
                         help="Continue training the model shown, to the end of its epochs")
    reset = b[3].button("Reset", disabled=not ready, key="reset", help="Fresh weights: back to epoch 0")
    ui = {"stop": b[4].empty(), "epoch": b[5].empty(), "progress": st.empty(), "live": st.empty()}
    ui["epoch"].markdown(f"**Epoch {shown['epochs'] if shown else 0}**")
    if ss.get("notice"):
        kind, text = ss.pop("notice")
        getattr(st, kind)(text)
    action = "train" if clicked else "step" if step else "resume" if resume else "reset" if reset else None
    if action and interrupted and action == "step":
        st.warning(f"Step was pressed while training was running: the training is paused at epoch "
                   f"{shown['epochs'] if shown else 0} and nothing is lost. Press Step again to train one epoch "
                   "at a time, or Resume to continue.")
    elif action and ready:
        ss.pop("link_notes", None)   # said once the user acts on the page
        _act(action, shown, prepared, cfg, data, settings, ui)
    shown = _shown_run()
    ui["epoch"].markdown(f"**Epoch {shown['epochs'] if shown else 0}**")
    _data_view(prepared, data["preview"], shown)
    runs = ss["runs"]
    if len(runs) > 1:
        names = {r["id"]: r["name"] for r in runs}
        sel = st.selectbox("Show run", [r["id"] for r in runs][::-1], format_func=names.get, key="selected_run")
        shown = next(r for r in runs if r["id"] == sel)
    if shown is not None:
        _results(shown)
    _explain(shown, interrupted)


def _act(action, shown, prepared, cfg, data, settings, ui):
    """Train / Step / Resume / Reset (the buttons above the results)."""
    try:
        same = shown is not None and shown["model_key"] == _model_key(cfg, data)
        if action in ("train", "reset") or not same:
            if action == "reset" and shown is not None and same and shown["epochs"] == 0:
                return   # already fresh
            run = _new_run(prepared, cfg, data, settings)
            if action in ("step", "resume") and shown is not None:
                st.info(f"The data or the network settings changed since run {shown['id']}: "
                        f"run {run['id']} starts from fresh weights.")
        else:
            run = shown
        run["settings"] = dict(settings)
        if action == "reset":
            _finalize(run)
        elif _advance(run, cfg, 1 if action == "step" else None, ui) is False:
            return
    except USER_ERRORS as e:
        st.error(_plain(e))


def _compare_tab():
    ss = st.session_state
    runs = [r for r in ss["runs"] if r["epochs"]]
    if not runs:
        st.info("Train a model first; every run of this session is listed here.")
        return
    names = {r["id"]: r["name"] for r in runs}
    # a new run resets the choice to the latest runs
    chosen = st.multiselect("Runs", list(names), default=list(names)[-4:], format_func=names.get,
                            key=f"compare_{runs[-1]['id']}")
    sel = [r for r in runs if r["id"] in chosen]
    if sel:
        _plot(charts.loss_figure([(f"run {r['id']}", r["history"]) for r in sel], title="Loss curves"),
              key="compare_loss")
    rows = []
    for r in runs:
        m = r["metrics"].get("test") or r["metrics"].get("train") or {}
        key = "accuracy" if "accuracy" in m else "r2" if "r2" in m else None
        cfg = r["cfg"]
        rows.append({"run": r["id"], "data": r["prepared"].name, "architecture": cfg["arch"],
                     "optimizer": cfg["optimizer"], "lr": cfg["learning_rate"],
                     "batch": "full" if cfg.get("batch_size") is None else str(cfg["batch_size"]),
                     "epochs": r["epochs"], "seconds": round(r["seconds"], 2),
                     "final train loss": float(f"{r['history']['loss'][-1]:.4g}"),
                     "test score": f"{METRIC_LABELS[key]} {m[key]:.3f}" if key else "–"})
    st.dataframe(rows, hide_index=True, width="stretch")
    if st.button("Clear all runs", key="clear_runs"):
        ss["runs"] = []
        st.rerun()


def _chosen_model():
    """The model to predict with: a run of this session or an uploaded model file (None: not chosen yet)."""
    runs = st.session_state["runs"]
    source = UPLOAD_MODEL
    if runs:
        source = st.radio("Model", [SESSION_MODEL, UPLOAD_MODEL], horizontal=True, key="model_source")
    if source == SESSION_MODEL:
        names = {r["id"]: r["name"] for r in runs}
        # (keyed by the newest run, so a new run becomes the choice)
        rid = st.selectbox("Run", list(names)[::-1], format_func=names.get, key=f"predict_run_{runs[-1]['id']}")
        return next(r for r in runs if r["id"] == rid)["model"]
    up = st.file_uploader("Upload model", key="model_file", max_upload_size=S.MAX_UPLOAD_MB,
                          help="A file from 'Download model'.")
    if up is None:
        return None
    raw = up.getvalue()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    try:
        model = _cached(("model", digest), lambda: S.load_model(raw))
    except USER_ERRORS as e:
        st.error(_plain(f"Could not open {up.name} as a model: {e}"))
        return None
    info = S.model_info(model)
    st.success(f"Loaded {_plain(up.name)}: {info['n_inputs']} input(s) → {info['n_outputs']} output(s) "
               f"({info['output_activation']}), {info['n_params']:,} parameters.")
    return model


def _model_tab():
    st.write("Predict new rows with a trained model: a run of this session, or a model file saved by this "
             "app (or by `model.save`). The CSV needs the raw columns the model was trained on.")
    model = _chosen_model()
    if model is None:
        return
    info = S.model_info(model)
    if info["features"]:
        st.caption(f"Needs columns: {', '.join(map(_plain, info['features']))}"
                   + (f" · predicts {_plain(info['target'])}" if info["target"] else "")
                   + (f" · classes: {', '.join(map(_plain, info['class_names']))}" if info["class_names"] else ""))
        st.download_button("CSV template", ",".join(info["features"]) + "\n", file_name="template.csv",
                           mime="text/csv", key="dl_template", on_click="ignore",
                           help="A CSV with just the header row the model needs; add your rows below it.")
    st.code(model.summary(), language=None)
    csv_up = st.file_uploader("CSV to predict", type=["csv", "txt", "tsv"], key="predict_file",
                              max_upload_size=S.MAX_UPLOAD_MB)
    if csv_up is None:
        return
    notes = []
    try:
        out = S.predict_csv(model, csv_up.getvalue(), notes)
    except USER_ERRORS as e:
        st.error(_plain(f"Could not predict {csv_up.name}: {e}"))
        return
    for note in notes:
        st.warning(_plain(note))
    reader = csv.reader(io.StringIO(out))
    header, rows = next(reader), list(itertools.islice(reader, 50))
    n_rows = len(rows) + sum(1 for _ in reader)
    st.dataframe(_table(header, rows), hide_index=True)
    st.caption(f"{n_rows:,} rows predicted (first {len(rows)} shown).")
    st.download_button("Download predictions", out, file_name=f"{os.path.splitext(csv_up.name)[0]}_predictions.csv",
                       mime="text/csv", key="dl_predict", on_click="ignore")


def main():
    """Render the whole page (one Streamlit script run)."""
    st.set_page_config(page_title="MLP playground", page_icon="🧠", layout="wide")
    _ss()
    _restore_from_link()
    _keep_hidden_widget_values()
    _defaults()
    _collect_interrupted()
    st.title("MLP playground")
    st.caption("A multi-layer perceptron written from scratch in NumPy. Pick data in the sidebar, "
               "type an architecture, press **Train**.")
    data = _data_sidebar()
    t_train, t_compare, t_model = st.tabs(["Train & results", "Compare runs", "Use a model"])
    with t_train:
        _train_tab(data)
    with t_compare:
        _compare_tab()
    with t_model:
        _model_tab()


main()
