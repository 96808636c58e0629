"""Streamlit front end: ``streamlit run webapp/app.py``.

UI only: data, models and charts come from ``webapp.session`` / ``webapp.charts`` / ``mlp``.
Everything a user owns lives in ``st.session_state`` (one per browser session).

Training runs inside the script with an epoch callback that records the history in
session state and refreshes the progress bar and loss chart a few times a second.
Any interaction (the Stop button, or changing a widget) starts a new script run; that
run asks the training loop to stop at the end of its epoch, waits for it, and keeps the
model trained so far as a normal run.
"""

import csv
import hashlib
import io
import itertools
import math
import os
import sys
import time

# One BLAS thread per matrix product: the engine's products are small, sessions train in parallel
# threads, and when the app runs locally the browser drawing the charts needs a core too. With
# OpenBLAS's default (a thread per core) its threads spin on a busy CPU and training stalls
# (measured on 2 cores: 150 epochs of [2, 128, 128, 1] took 5.8 s with live charts, 0.5 s with one
# thread). This must run before NumPy is first imported (`streamlit run` has not imported it yet);
# set MLP_BLAS_THREADS (or OPENBLAS_NUM_THREADS, ...) to choose another number.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("MLP_BLAS_THREADS", "1"))

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:  # `streamlit run webapp/app.py` only puts webapp/ on the path
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from webapp import charts  # noqa: E402
from webapp import session as S  # noqa: E402

UPDATE_EVERY = 0.25      # seconds between live progress/chart refreshes
MAX_RUNS = 12            # runs kept per browser session (oldest dropped)
MAX_CACHED = 8           # prepared datasets kept per browser session
EXAMPLE_ARCH = "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
STOP_WAIT = 5.0          # seconds a new run waits for an interrupted training loop
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256, "full batch"]
SCHEDULES = ["constant", "exponential", "step", "cosine"]
L2_VALUES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
USER_ERRORS = (ValueError, TypeError)
SESSION_MODEL, UPLOAD_MODEL = "A run from this session", "Upload a model file"
METRIC_LABELS = {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1",
                 "r2": "R²", "mae": "MAE", "rmse": "RMSE", "loss": "loss"}
BOUNDED = {"accuracy", "precision", "recall", "f1", "r2"}   # shown with fixed decimals
LOSS_HELP = ("The training loss on the standardised target, (y − mean) / std of the training rows, which "
             "is what the network learns; MAE and RMSE are in the target's own units.")


# ------------------------------------------------------------------ state

def _ss():
    ss = st.session_state
    ss.setdefault("runs", [])         # finished runs (dicts), newest last
    ss.setdefault("cache", {})        # data key -> Prepared / preview
    ss.setdefault("job", None)        # the training in progress (survives an interrupted script run)
    ss.setdefault("next_run", 1)
    ss.setdefault("notice", None)
    return ss


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
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


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


# ------------------------------------------------------------------ runs

def _claim(job):
    """True for the one caller that may turn ``job`` into a run (atomic under the GIL)."""
    token = object()
    return job.setdefault("claimed", token) is token


def _finish(job, history, stopped):
    """Turn a (finished or interrupted) training job into a run kept in session state."""
    ss = st.session_state
    if not _claim(job):
        return None
    if ss.get("job") is job:
        ss["job"] = None
    model, prepared = job["model"], job["prepared"]
    hist = dict(getattr(history, "history", None) or job["history"])
    epochs = len(hist.get("loss", []))
    if epochs == 0:
        ss["notice"] = ("info", "Training was stopped before the first epoch ended; nothing to keep.")
        return None
    reason = getattr(history, "stop_reason", None)
    if stopped:
        reason = f"stopped after epoch {epochs} of {job['cfg']['epochs']}; the model trained so far is kept"
    rid = ss["next_run"]
    ss["next_run"] = rid + 1
    run = {"id": rid, "name": f"run {rid}: {prepared.name} {job['cfg']['arch']}", "model": model,
           "prepared": prepared, "cfg": job["cfg"], "history": hist, "epochs": epochs, "reason": reason,
           "seconds": time.monotonic() - job["started"]}
    try:
        run["metrics"] = S.evaluate(model, prepared)
        run["figures"] = S.figures(model, prepared, hist)
    except USER_ERRORS as e:
        run["metrics"], run["figures"] = {}, {"loss": charts.loss_figure(hist)}
        run["error"] = str(e)
    ss["runs"] = (ss["runs"] + [run])[-MAX_RUNS:]
    ss["selected_run"] = rid
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
    _finish(job, job.get("result"), stopped=job.get("result") is None or job["status"] == "stopped")


def _train(prepared, cfg, stop_slot, progress_slot, chart_slot):
    """Build and train a model with live progress; returns the new run or None."""
    ss = st.session_state
    try:
        model = S.build_model(cfg, prepared)
    except USER_ERRORS as e:
        st.error(str(e))
        return None
    job = {"model": model, "prepared": prepared, "cfg": cfg, "history": {}, "status": "running",
           "stop": False, "result": None, "started": time.monotonic()}
    ss["job"] = job
    stop_slot.button("Stop", key="stop", help="Stop now and keep the model trained so far")
    bar = progress_slot.progress(0.0, text="Training…")
    # the first refresh comes after UPDATE_EVERY: a short training goes straight to the results
    total, last, n_updates = int(cfg["epochs"]), [time.monotonic()], [0]

    def on_epoch(epoch, logs):
        for k, v in logs.items():
            job["history"].setdefault(k, []).append(float(v))
        if job["stop"]:
            return True
        now = time.monotonic()
        if now - last[0] >= UPDATE_EVERY and epoch < total:
            last[0] = now
            n_updates[0] += 1
            text = f"Epoch {epoch}/{total} · loss {logs['loss']:.4g}"
            if "val_loss" in logs:
                text += f" · validation loss {logs['val_loss']:.4g}"
            bar.progress(min(epoch / total, 1.0), text=text)
            with chart_slot.container():
                _plot(charts.loss_figure(job["history"], title="Loss (live)", ytitle=S.loss_title(prepared)),
                      key=f"live_{n_updates[0]}")
        return False

    try:
        job["result"] = S.train(model, prepared, cfg, on_epoch)
    except USER_ERRORS as e:
        ss["job"] = None
        progress_slot.empty()
        st.error(str(e))
        return None
    finally:
        if job["status"] == "running":
            job["status"] = "stopped" if job["stop"] else "done"
    if job["stop"]:  # the stop came from a newer script run, which keeps the model
        return None
    # (a newer run may have claimed the job meanwhile: _finish then returns None)
    run = _finish(job, job["result"], stopped=False)
    if run is None:
        return None
    progress_slot.empty()  # the results say how long it took; the charts move up into view
    stop_slot.empty()
    chart_slot.empty()
    return run


# ------------------------------------------------------------------ sidebar: data

# Data widgets hidden while the other source is chosen (or, for the class count, another dataset). Streamlit
# drops a widget's value on a run that does not draw it; assigning the value to itself at the start of the run
# keeps it. Only hidden widgets are touched (a drawn widget with a value set this way logs a warning). File
# uploaders cannot be kept.
_BUILTIN_KEYS = ("dataset", "n_samples", "noise", "n_classes", "test_size", "data_seed")
_CSV_KEYS = ("csv_test_size", "csv_seed")
_CSV_PREFIXES = ("target_", "features_", "task_", "drop_")   # per uploaded file
_CLASS_DATASETS = ("blobs", "spiral")                          # the datasets with a class-count slider
_SOURCES = ("Built-in dataset", "Upload CSV")


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
        if hidden:
            ss[k] = ss[k]


def _data_sidebar():
    """Data controls; returns (prepared or None, error text or None, csv preview or None)."""
    sb = st.sidebar
    sb.header("1 · Data")
    source = sb.radio("Data source", _SOURCES, horizontal=True, key="source")
    if source == _SOURCES[0]:
        names = S.datasets()
        name = sb.selectbox("Dataset", names, index=names.index("circles") if "circles" in names else 0,
                            key="dataset")
        about = (getattr(S.mdata, "DATASETS", {}).get(name) or {}).get("description")
        if about:  # plain text: '*' and '_' in formulas are not Markdown here
            about = about.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
            sb.caption(f"{about} Task: {S.BUILTIN_TASKS.get(name, '?')}.")
        n = sb.slider("Samples", 50, 2000, 400, step=50, key="n_samples")
        noise = sb.slider("Noise", 0.0, 0.5, 0.1, step=0.01, key="noise",
                          help="Standard deviation of the Gaussian noise added to the points "
                               "(classification) or to the target (regression).")
        n_classes = sb.slider("Classes", 2, 6, 3, key="n_classes") if name in _CLASS_DATASETS else 3
        test = sb.slider("Test split", 0.1, 0.5, 0.2, step=0.05, key="test_size",
                         help="Share of the rows held out for testing; the model never trains on them.")
        seed = sb.number_input("Data seed", 0, 10**6, 0, key="data_seed",
                               help="Seeds both the generated points and the train/test split.")
        key = ("builtin", name, n, noise, n_classes, test, seed)
        try:
            return _cached(key, lambda: S.prepare_builtin(name, n, noise, seed, test, n_classes)), None, None
        except USER_ERRORS as e:
            return None, str(e), None

    up = sb.file_uploader("Upload CSV", type=["csv", "txt", "tsv"], key="csv_file",
                          max_upload_size=S.MAX_UPLOAD_MB,
                          help="Header row first; comma, semicolon or tab separated; "
                               f"up to {S.MAX_UPLOAD_MB} MB and {S.MAX_ROWS:,} rows.")
    if up is None:
        return None, None, None
    raw = up.getvalue()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    try:
        table = _cached(("table", digest), lambda: S.read_table(raw))
        preview = _cached(("preview", digest), lambda: S.csv_preview(table))
    except USER_ERRORS as e:
        return None, f"Could not read {up.name}: {e}", None
    cols = preview["columns"]
    target = sb.selectbox("Target column", cols, index=len(cols) - 1, key=f"target_{digest}")
    options = [c for c in cols if c != target]
    features = sb.multiselect("Feature columns", options, default=options, key=f"features_{digest}_{target}")
    try:
        detected = S.mdata.detect_task(table.column(target))
    except USER_ERRORS:
        detected = None  # prepare_csv reports why (e.g. a single class)
    auto = f"auto ({detected})" if detected else "auto"
    task = sb.selectbox("Task", [auto, *S.TASKS], key=f"task_{digest}_{target}",
                        help="Detected from the target column; override it if needed.")
    task = detected if task == auto else task
    used = set(features) | {target}
    missing = {c: n for c, n in preview["missing"].items() if c in used}
    drop = False
    if missing:
        sb.warning("Missing values: " + ", ".join(f"{c} ({n})" for c, n in missing.items()))
        drop = sb.checkbox("Drop rows with missing values", value=False, key=f"drop_{digest}")
    test = sb.slider("Test split", 0.1, 0.5, 0.2, step=0.05, key="csv_test_size")
    seed = sb.number_input("Split seed", 0, 10**6, 0, key="csv_seed")
    key = ("csv", digest, target, tuple(features), task, test, seed, drop)
    try:
        prepared = _cached(key, lambda: S.prepare_csv(table, target, features, task, test, seed, drop))
        prepared.name = up.name
        return prepared, None, preview
    except USER_ERRORS as e:
        return None, str(e), preview


# ------------------------------------------------------------------ sidebar: training settings

def _training_sidebar(output_activation, task):
    sb = st.sidebar
    sb.header("2 · Training")
    losses = S.loss_choices(output_activation or S.OUTPUT_ACTIVATION.get(task, "sigmoid"))
    cfg = {"loss": sb.selectbox("Loss", losses, key=f"loss_{output_activation}",
                                help="Only losses compatible with the output layer are offered "
                                     "(bce ⇔ sigmoid, cce ⇔ softmax).")}
    cfg["optimizer"] = sb.selectbox("Optimizer", S.OPTIMIZERS, key="optimizer")
    cfg["learning_rate"] = sb.select_slider("Learning rate", LEARNING_RATES, value=S.DEFAULT_CONFIG["learning_rate"],
                                            key="lr")
    c1, c2 = sb.columns(2)
    cfg["epochs"] = c1.number_input("Epochs", 1, S.MAX_EPOCHS, 150, key="epochs")
    bs = c2.selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(32), key="batch_size")
    cfg["batch_size"] = None if bs == "full batch" else bs
    cfg["lr_schedule"] = sb.selectbox("LR schedule", SCHEDULES, key="schedule",
                                      help="constant: the same learning rate throughout; exponential: lr × decay "
                                           "each epoch; step: ×0.1 every third of the epochs; cosine: anneal to 0.")
    cfg["lr_decay"] = 1.0
    if cfg["lr_schedule"] == "exponential":
        cfg["lr_decay"] = sb.number_input("LR decay (per epoch)", 0.5, 1.0, 0.99, step=0.001, format="%.3f",
                                          key="lr_decay", help="The learning rate is multiplied by this "
                                                               "after every epoch.")
    c1, c2 = sb.columns(2)
    cfg["weight_decay"] = c1.selectbox("L2 (weight decay)", L2_VALUES, key="l2")
    cfg["dropout"] = c2.slider("Dropout", 0.0, 0.5, 0.0, step=0.05, key="dropout",
                               help="Adds dropout(p) after each hidden layer. Ignored when the architecture "
                                    "text already has dropout layers.")
    c1, c2 = sb.columns(2)
    cfg["validation_split"] = c1.slider("Validation split", 0.0, 0.4, 0.2, step=0.05, key="val_split",
                                        help="Part of the training rows held out for the validation curve.")
    cfg["early_stopping"] = c2.number_input("Early stop patience", 0, 1000, 0, key="patience",
                                            help="Stop after this many epochs without improvement of the validation "
                                                 "loss (training loss without a validation split); 0 = off.")
    cfg["seed"] = sb.number_input("Model seed", 0, 10**6, 0, key="model_seed")
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
    about = prepared.describe() if prepared is not None else "Choose data to train on."
    if chk["ok"]:
        st.caption(f"✓ {chk['n_params']:,} parameters · output '{chk['output_activation']}' · {about}")
    else:
        st.error(chk["error"])
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
    stem = f"mlp_run{run['id']}_{os.path.splitext(prepared.name)[0]}"
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("Download model", run["model_bytes"], file_name=f"{stem}.mlp",
                       mime="application/zip", key=f"dl_model_{run['id']}", type="primary", on_click="ignore",
                       help="The model file (weights + preprocessing); open it with mlp.load or 'Upload model'.")
    c2.download_button("Download predictions (CSV)", run["pred_csv"], file_name=f"{stem}_predictions.csv",
                       mime="text/csv", key=f"dl_pred_{run['id']}", on_click="ignore",
                       help="Train and test rows with the model's predictions.")


def _results(run):
    prepared, model, cfg = run["prepared"], run["model"], run["cfg"]
    st.subheader(f"Results · run {run['id']}")
    batch = "full batch" if cfg.get("batch_size") is None else f"batch {cfg['batch_size']}"
    st.caption(f"{prepared.name} · `{cfg['arch']}` · {run['epochs']} epochs in {run['seconds']:.1f} s · "
               f"{cfg['optimizer']} · lr {cfg['learning_rate']} · {batch} · loss {model.loss}")
    if run.get("reason"):
        st.info(f"Training {run['reason']}." if run["reason"].startswith("stopped") else run["reason"])
    if run.get("error"):
        st.error(run["error"])
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
        _plot(figs["loss"], key=f"loss_{run['id']}")
    with c2:
        _plot(figs[main[0] if main else second], key=f"main_{run['id']}")
    _downloads(run)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Metrics**")
        st.markdown(_metrics_markdown(m, prepared.task))
        st.markdown("**Network**")
        st.code(model.summary(), language=None)
    with c2:
        if main and second in figs:
            _plot(figs[second], key=f"second_{run['id']}")


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
            st.info(note)
        pre = prepared.preprocessor
        if pre is not None and list(prepared.feature_names) != list(pre.features):
            st.caption(f"{len(pre.features)} feature column(s) become {prepared.n_inputs} network inputs "
                       f"(each category of a text column is its own 0/1 input): "
                       + ", ".join(prepared.feature_names))
        if fresh:
            fig = S.data_figure(prepared)
            if fig is not None:
                c1, _ = st.columns(2)
                with c1:
                    _plot(fig, key="data_fig")
            if shown is not None:
                st.caption(f"The results below are from run {shown['id']} ({shown['prepared'].name}); "
                           f"press **Train** to train on {prepared.name}.")


# ------------------------------------------------------------------ tabs

def _train_tab(prepared, data_error, preview):
    ss = st.session_state
    if data_error:
        st.error(data_error)
    elif prepared is None:
        st.info("Upload a CSV in the sidebar (or pick a built-in dataset) to start.")
    # architecture and settings stay on the page (and keep their values) even without data
    chk = _architecture(prepared)
    task = prepared.task if prepared is not None else None
    cfg = _training_sidebar(chk["output_activation"] if chk["ok"] else None, task)
    cfg["arch"] = ss["arch"]
    if cfg.get("dropout") and chk["ok"] and "dropout" in ss["arch"]:
        st.caption("The Dropout slider is ignored: the architecture already has dropout layers.")
    b1, b2, _ = st.columns([1, 1, 4])
    clicked = b1.button("Train", type="primary", disabled=not chk["ok"] or prepared is None, key="train")
    stop_slot, progress_slot, chart_slot = b2.empty(), st.empty(), st.empty()
    if ss.get("notice"):
        kind, text = ss.pop("notice")
        getattr(st, kind)(text)
    if clicked and prepared is not None:
        _train(prepared, cfg, stop_slot, progress_slot, chart_slot)
    runs = ss["runs"]
    shown = None
    if runs:
        ids = [r["id"] for r in runs][::-1]
        if ss.get("selected_run") not in ids:
            ss["selected_run"] = ids[0]
        shown = next(r for r in runs if r["id"] == ss["selected_run"])
    _data_view(prepared, preview, shown)
    if len(runs) > 1:
        names = {r["id"]: r["name"] for r in runs}
        sel = st.selectbox("Show run", ids, format_func=names.get, key="selected_run")
        shown = next(r for r in runs if r["id"] == sel)
    if shown is not None:
        _results(shown)


def _compare_tab():
    ss = st.session_state
    runs = ss["runs"]
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
        st.error(f"Could not open {up.name} as a model: {e}")
        return None
    info = S.model_info(model)
    st.success(f"Loaded {up.name}: {info['n_inputs']} input(s) → {info['n_outputs']} output(s) "
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
        st.caption(f"Needs columns: {', '.join(info['features'])}"
                   + (f" · predicts {info['target']}" if info["target"] else "")
                   + (f" · classes: {', '.join(info['class_names'])}" if info["class_names"] else ""))
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
        st.error(f"Could not predict {csv_up.name}: {e}")
        return
    for note in notes:
        st.warning(note)
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
    _keep_hidden_widget_values()
    _collect_interrupted()
    st.title("MLP playground")
    st.caption("A multi-layer perceptron written from scratch in NumPy. Pick data in the sidebar, "
               "type an architecture, press **Train**.")
    prepared, data_error, preview = _data_sidebar()
    t_train, t_compare, t_model = st.tabs(["Train & results", "Compare runs", "Use a model"])
    with t_train:
        _train_tab(prepared, data_error, preview)
    with t_compare:
        _compare_tab()
    with t_model:
        _model_tab()


main()
