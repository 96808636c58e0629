"""Streamlit front end: ``streamlit run webapp/app.py``.

A thin adapter over :class:`webapp.core.playground.Playground` (one per browser session, in
``st.session_state["pg"]``): the sidebar's widgets are built from the settings table
(``webapp.core.settings``) and every change goes to ``Playground.update``; the buttons call Train / Step /
Resume / Reset / Stop; while training runs the script loops on ``Playground.advance`` and puts each frame's
figures into the same placeholders the results use, so the page updates in place. No data, model or training
logic lives here.

Streamlit can interrupt the script only at an ``st.*`` call, i.e. between two frames: an interrupted training
(Stop, any widget) is paused whole, and the next script run finds the Playground still running and stops it
(``Playground.stop``), keeping the model for Resume.
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
from pathlib import Path
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

from webapp.core import links  # noqa: E402
from webapp.core import session as S  # noqa: E402
from webapp.core import settings as T  # noqa: E402
from webapp.core.playground import FRAME_SECONDS, Playground  # noqa: E402

USER_ERRORS = (ValueError, TypeError)
SESSION_MODEL, UPLOAD_MODEL = "A run from this session", "Upload a model file"
METRIC_LABELS = {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1",
                 "r2": "R²", "mae": "MAE", "rmse": "RMSE", "loss": "loss", "poisson_deviance": "Poisson deviance"}
BOUNDED = {"accuracy", "precision", "recall", "f1", "r2"}   # shown with fixed decimals
LOSS_HELP = ("The training loss on the standardised target, (y − mean) / std of the training rows, which "
             "is what the network learns; MAE and RMSE are in the target's own units.")
DEVIANCE_HELP = ("The mean Poisson deviance of the predicted mean counts (scikit-learn's mean_poisson_deviance): "
                 "how well they explain the counts, 0 for a perfect fit; lower is better.")
PLOT_CONFIG = {"displaylogo": False}
TRANSFORM_KEY = "tf_{}"                      # one checkbox per feature transform
# Live frames are drawn by a small component that updates its charts in place (see live_charts.js): with
# st.plotly_chart every frame is a new chart, built from scratch by the browser and by plotly.py on the server.
_LIVE_CSS = """
.mlp-live { display: grid; grid-template-columns: 1fr 1fr; column-gap: 1rem; }
.mlp-live-chart { min-height: 450px; }
.mlp-live-chart[hidden] { display: none; }
.mlp-live-network { grid-column: span 2; }
"""
_LIVE_JS = (Path(__file__).resolve().parent / "live_charts.js").read_text()

# Streamlit draws captions at 60 % opacity: grey on white at 2.7:1, below WCAG AA's 4.5:1 for text. Opaque and a
# darker grey (#585b64: 6.8:1 on white, 6.4:1 on the sidebar) they stay quieter than body text. Code and formulas
# wrap rather than scroll (a scrolling region must be reachable by keyboard, and st.code's and st.latex's are not).
_CSS = """<style>
[data-testid="stCaptionContainer"] { opacity: 1; color: #585b64; }
[data-testid="stExpander"] .katex { font-size: 0.9em; }
[data-testid="stExpander"] .katex-display { overflow: visible; padding: 2px 0; margin: 0.4em 0; }
[data-testid="stExpander"] pre code { font-size: 0.78rem; }
.st-key-lesson_list button p { white-space: normal; text-align: left; }
.st-key-lesson_list button { justify-content: flex-start; }
</style>"""


# ------------------------------------------------------------------ plain text

_MARKDOWN = re.compile(r"([\\`*_\[\]<>$~|:])")   # links, autolinks, emphasis, code, formulas, tables
_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")      # where Markdown turns bare text into a link (no escape stops it)


def _plain(text):
    """``text`` for st.info/warning/error (which render Markdown) shown as written: a column name, a
    category or a link's value cannot become a link, a formula or emphasis in the app's own message
    (a zero-width space inside ``://``, ``www.`` and before ``@`` keeps bare addresses from being linked)."""
    text = _AUTOLINK.sub(lambda m: m.group(1)[:-1] + "\u200b" + m.group(1)[-1], str(text))
    return _MARKDOWN.sub(r"\\\1", text)


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


def _plot(where, fig, key):
    """Draw a figure dict from webapp.core.charts. Handed over as a Figure built without validation:
    st.plotly_chart validates a plain dict property by property (57 ms for the Network view, 28 ms for a
    decision boundary; 4.5 and 13 ms this way), and these dicts are the ones the browser gives Plotly.js."""
    import plotly.graph_objects as go

    where.plotly_chart(go.Figure(fig, _validate=False), key=key, width="stretch", config=PLOT_CONFIG)
    st.session_state["plotly_on_page"] = True


# ------------------------------------------------------------------ the Playground and the address

def _pg():
    """This session's Playground; on the session's first run, the address's link is applied to it."""
    ss = st.session_state
    if "pg" not in ss:
        pg = ss["pg"] = Playground()
        params = st.query_params.to_dict()
        if params:
            opened = pg.open_link(params)
            ss["link_asks_file"] = opened["needs_file"]     # (said in the sidebar, beside the file uploader)
            ss["link_notes"] = [n for n in opened["notes"] if n != links.CSV_ASK]
    return ss["pg"]


def _sync_address(pg):
    """Keep the address bar equal to the current settings (written only when it changed)."""
    want = dict(parse_qsl(pg.address(), keep_blank_values=True))
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def _base_url():
    url = getattr(st.context, "url", None) or ""
    if not url:
        return ""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, p.path or "/", "", ""))


# ------------------------------------------------------------------ widgets from the settings table

def _changed(name):
    """A widget changed (Streamlit calls this before the script runs): tell the Playground."""
    ss = st.session_state
    value = ss[name]
    ss["control_notes"] = {name: ss["pg"].update({name: None if name == "task" and value == "auto" else value})}


def _changed_transforms():
    ss = st.session_state
    keys = T.SETTINGS["transforms"].allowed()
    ss["control_notes"] = {"transforms": ss["pg"].update(
        {"transforms": [k for k in keys if ss.get(TRANSFORM_KEY.format(k))]})}


def _control_notes(where, name):
    """The core's notes on a value typed into this control (what is wrong, what is allowed), below it, once."""
    for note in (st.session_state.get("control_notes") or {}).pop(name, []):
        where.warning(_plain(note))


def _fmt_number(v):
    if isinstance(v, str):
        return "full batch" if v == "full" else v
    return f"{v:g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) and v >= 10_000 else str(v)


def _widget(where, row):
    """One widget for a row of ``Playground.controls("streamlit")``, showing the Playground's value."""
    ss = st.session_state
    name, control = row["name"], row["control"]
    kw = {"key": name, "help": row["help"], "on_change": _changed, "args": (name,)}
    if control == "checks":             # (a group of checkboxes: its label, as the other widgets have theirs)
        where.markdown(f"**{_plain(row['label'])}**", help=row["help"])
        cols = where.columns(3)
        for n, key in enumerate(row["choices"]):
            wkey = TRANSFORM_KEY.format(key)
            ss[wkey] = key in (row["value"] or [])
            cols[n % 3].checkbox(row["option_labels"][key], key=wkey, on_change=_changed_transforms)
        _control_notes(where, name)
        return
    ss[name] = row["value"]
    if control == "radio":
        labels = row["option_labels"]
        where.radio(row["label"], row["options"], format_func=labels.get, horizontal=True, **kw)
    elif control == "select":
        labels = row.get("option_labels") or {}
        where.selectbox(row["label"], row["options"], format_func=lambda v: labels.get(v, _fmt_number(v)), **kw)
    elif control == "select_slider":
        where.select_slider(row["label"], row["options"], format_func=_fmt_number, **kw)
    elif control == "slider":
        cast = int if row["kind"] == "int" else float
        where.slider(row["label"], cast(row["lo"]), cast(row["hi"]), step=cast(row["step"]),
                     format=row["fmt"] or None, **kw)
    elif control == "number":
        cast = int if row["kind"] == "int" else float
        where.number_input(row["label"], cast(row["lo"]), cast(row["hi"]), step=cast(row["step"]),
                           format=row["fmt"] or None, **kw)
    elif control == "checkbox":
        where.checkbox(row["label"], **kw)
    else:
        raise ValueError(f"No Streamlit widget for the control {control!r} of setting {name!r}.")
    _control_notes(where, name)


def _data_sidebar(pg, rows):
    """The data widgets (table rows of group "data"); returns ``Playground.data()``."""
    sb = st.sidebar
    sb.header("1 · Data")
    s = pg.settings
    for row in rows:
        if row["control"] == "file" or row["name"] in ("test_size", "data_seed", "transforms", "drop_missing"):
            continue
        _widget(sb, row)
        if row["name"] == "dataset":
            about = (S.mdata.DATASETS.get(s["dataset"]) or {}).get("description")
            if about:  # plain text: '*' and '_' in formulas are not Markdown here
                sb.caption(f"{_plain(about)} Task: {S.BUILTIN_TASKS.get(s['dataset'], '?')}.")
    error = None
    if s["source"] == "csv":
        error = _csv_widgets(pg)
    by_name = {r["name"]: r for r in rows}
    for name in ("test_size", "data_seed", "transforms"):
        if name in by_name:
            _widget(sb, by_name[name])
    data = pg.data()
    if error:
        data["error"] = error
    return data


def _csv_widgets(pg):
    """The CSV file and its columns (target, features, task, missing values); returns an error or None."""
    sb = st.sidebar
    ss = st.session_state
    up = sb.file_uploader("Upload CSV", type=["csv", "txt", "tsv"], key="csv_file", max_upload_size=S.MAX_UPLOAD_MB,
                          help="Header row first; comma, semicolon or tab separated; "
                               f"up to {S.MAX_UPLOAD_MB} MB and {S.MAX_ROWS:,} rows.")
    if up is None:
        pg.clear_csv()
        if ss.get("link_asks_file"):
            target = pg.pending_csv().get("target")
            want = f" (target column {_plain(repr(target))})" if target else ""
            sb.info(f"This link was made with an uploaded CSV{want}: a file cannot travel in a link. "
                    "Upload the same file to continue with the link's settings.")
        return None
    try:
        preview = pg.set_csv(up.getvalue(), up.name)
    except USER_ERRORS as e:
        pg.clear_csv()
        return f"Could not read {up.name}: {e}"
    ss.pop("link_asks_file", None)
    if preview["notes"]:
        ss.setdefault("link_notes", []).extend(preview["notes"])
    opened = pg.open_pending()
    if opened["notes"]:
        ss.setdefault("link_notes", []).extend(opened["notes"])
    rows = {r["name"]: r for r in pg.controls("streamlit")}     # the file's columns: values and options
    for name in ("target", "features"):
        row = rows[name]
        ss[name] = row["value"]
        widget = sb.selectbox if name == "target" else sb.multiselect
        widget(row["label"], row["options"], key=name, help=row["help"], on_change=_changed, args=(name,))
    detected = pg.detected_task()
    auto = f"auto ({detected})" if detected else "auto"
    ss["task"] = rows["task"]["value"] or "auto"
    sb.selectbox(rows["task"]["label"], ["auto", *rows["task"]["options"]], key="task", help=rows["task"]["help"],
                 format_func=lambda v: auto if v == "auto" else v, on_change=_changed, args=("task",))
    used = set(rows["features"]["value"]) | {rows["target"]["value"]}
    missing = {c: n for c, n in preview["missing"].items() if c in used}
    if missing:
        sb.warning("Missing values: " + ", ".join(f"{_plain(c)} ({n})" for c, n in missing.items()))
        _widget(sb, rows["drop_missing"])
    return None


def _training_sidebar(pg, rows):
    sb = st.sidebar
    sb.header("2 · Training")
    for row in rows:
        if row["name"] != "arch":
            _widget(sb, row)


# ------------------------------------------------------------------ main: architecture

def _set_arch(text):
    st.session_state["pg"].update({"arch": text})


def _architecture(pg, data):
    """Architecture input, validated as you type against the data (if any); returns the check dict."""
    ss = st.session_state
    chk = pg.check_arch()
    ss["arch"] = chk["text"]
    st.text_input(T.SETTINGS["arch"].label, key="arch", help=T.SETTINGS["arch"].help, on_change=_changed,
                  args=("arch",))
    about = _plain(data["describe"]) if data["ok"] else "Choose data to train on."
    if chk["ok"]:
        st.caption(f"✓ {chk['n_params']:,} parameters · output '{chk['output_activation']}' · {about}")
    else:
        st.error(_plain(chk["error"]))
        c1, c2 = st.columns(2)
        if chk["fixed"]:
            c1.button(f"Fix: use {chk['fixed']}", on_click=_set_arch, args=(chk["fixed"],), key="fix_arch")
        default = chk["default"] or S.mlp.architecture.EXAMPLE
        c2.button(f"Use default {default}", on_click=_set_arch, args=(default,), key="default_arch")
        st.caption(about)
    return chk


# ------------------------------------------------------------------ main: training and results

def _action(name):
    st.session_state["action"] = name


@st.cache_resource(show_spinner=False)
def _live_component():
    """The live-charts component, registered once per server process (registering costs ~0.5 s)."""
    return st.components.v2.component("mlp_live_charts", js=_LIVE_JS, css=_LIVE_CSS, isolate_styles=False)


@st.cache_resource(show_spinner=False)
def _live_warmth():
    return {"warm": False}


def _warm_live():
    """Mount the live component once in this server process, before any training: the first mount with data costs
    ~0.8 s (Streamlit looks for data frames in it, which imports its data-frame libraries), which would otherwise
    be charged to the first training's live budget."""
    state = _live_warmth()
    slot = st.empty()      # on every run, so that the elements after it keep their places from run to run
    if not state["warm"]:
        with slot:
            _live_component()(data={"warm-up": {"data": [], "layout": {}}}, key="live_warmup")
        slot.empty()
        state["warm"] = True


def _train_loop(pg, ui, slots):
    """Advance the Playground frame by frame; each frame's figures go to the live component, in place of the
    results' charts (they come back when the training ends)."""
    ss = st.session_state
    ui["stop"].button("Stop", key="stop", help="Pause now and keep the model trained so far; Resume continues")
    bar = ui["progress"].progress(0.0, text="Training…")
    for name in ("header", "loss", "main", "network", "rest"):   # (the page redraws less while frames come)
        slots[name].empty()
    live = _live_component()
    n, shown_at = 0, -1.0
    while pg.running:
        frame = pg.advance(FRAME_SECONDS)
        n += 1
        figs = frame["figures"]
        if figs or time.perf_counter() - shown_at >= 2 * FRAME_SECONDS:   # (each delta costs the page a redraw)
            bar.progress(frame["progress"], text=frame["text"])
            ui["epoch"].markdown(f"**Epoch {frame['epoch']}**")
            shown_at = time.perf_counter()
        if not figs:
            continue
        shown = {"loss": figs.get("loss"), "main": figs.get(frame["main"]), "network": figs.get("network")}
        shown = {k: v for k, v in shown.items() if v is not None}
        if not ss.get("plotly_on_page"):   # Plotly.js comes with st.plotly_chart: the first frame loads it
            _plot(slots["live"], shown.get("network") or next(iter(shown.values())), key=f"live_first_{n}")
            continue
        with slots["live"]:
            live(data=shown, key=f"live_{n}")
    ui["stop"].empty()
    ui["progress"].empty()


def _act(pg, action, ui, slots):
    """Train / Step / Resume / Reset (the buttons above the results)."""
    try:
        if action == "train":
            pg.train()
        elif action == "resume":
            pg.resume()
        elif action == "step":
            pg.step()
        elif action == "reset":
            pg.reset()
        if pg.running:
            _train_loop(pg, ui, slots)
    except USER_ERRORS as e:
        st.error(_plain(e))


def _metrics_markdown(metrics, task=None, loss_title=None):
    """Train/test metrics as a small Markdown table (lighter for the browser than a data grid)."""
    splits = [k for k in ("train", "test") if metrics.get(k)]
    names = [k for k in ("accuracy", "precision", "recall", "f1", "r2", "mae", "rmse", "poisson_deviance", "loss")
             if any(k in metrics[s] for s in splits)]
    lines = ["| metric | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    for k in names:
        label = (loss_title or S.REGRESSION_LOSS_TITLE) if k == "loss" and task == "regression" else \
            METRIC_LABELS.get(k, k)
        cells = [(f"{metrics[s][k]:.4f}" if k in BOUNDED else _num(metrics[s][k])) if k in metrics[s] else ""
                 for s in splits]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _downloads(pg, res):
    rid = res["id"]
    stem = pg.file_stem(rid)
    c1, c2, c3, _ = st.columns([1, 1, 1.3, 1.7])
    c1.download_button("Download model", lambda: pg.model_bytes(rid), file_name=f"{stem}.mlp",
                       mime="application/zip", key=f"dl_model_{rid}", type="primary", on_click="ignore",
                       help="The model file (weights + preprocessing); open it with mlp.load or 'Upload model'.")
    why = pg.onnx_problem(rid)
    if why is None:
        c2.download_button("Download ONNX", lambda: pg.onnx(rid)[0], file_name=f"{stem}.onnx",
                           mime="application/octet-stream", key=f"dl_onnx_{rid}", on_click="ignore",
                           help="The model as ONNX (raw feature columns in, as float32; preprocessing inside "
                                "the graph), for onnxruntime and other tools.")
    else:
        c2.button("Download ONNX", disabled=True, key=f"dl_onnx_{rid}", help=why)
    c3.download_button("Download predictions (CSV)", lambda: pg.predictions_csv(rid),
                       file_name=f"{stem}_predictions.csv", mime="text/csv", key=f"dl_pred_{rid}", on_click="ignore",
                       help="Train and test rows with the model's predictions.")
    if why:
        st.caption(_plain(f"No ONNX export for this model: {why}"))


def _share(pg):
    """The Share link of the run shown: its settings and (small models) the trained model itself."""
    ss = st.session_state
    key = (pg.shown, pg.result()["epoch"], _base_url())
    if ss.get("share_key") != key:
        try:
            ss["share"] = pg.share(base=_base_url(), mode="query")
        except USER_ERRORS as e:
            ss["share"] = {"href": None, "carries_model": False, "note": f"No share link: {e}"}
        ss["share_key"] = key
    share = ss["share"]
    if share.get("href"):
        what = "this trained model and its settings" if share["carries_model"] else "these settings"
        st.markdown(f"[**Share link**]({share['href']}) · opens {what} in a new tab; copy it from the box below.")
        ss["share_text"] = share["href"]
        st.text_input("Share link (select it all and copy)", key="share_text")
    if share.get("note"):
        st.caption(share["note"])


def _results(pg, res, slots):
    """The run shown: header, metrics, the charts (where the live frames were), downloads."""
    cfg, figs = res["cfg"], res["figures"]
    with slots["header"].container():
        st.subheader(f"Results · run {res['id']}")
        st.caption(_plain(res["caption"]))
        reason = res["reason"]
        if reason:
            st.info(f"Training {reason}." if reason.startswith("stopped") else reason)
        if res["error"]:
            st.error(_plain(res["error"]))
        if not res["trained"]:
            st.info("Fresh weights, not trained yet: press **Step** to train one epoch or **Resume** to train "
                    f"{cfg['epochs']} epochs.")
        m = res["metrics"]
        test = m.get("test") or m.get("train") or {}
        cols = st.columns(4)
        keys = ["accuracy", "precision", "recall", "f1"] if res["task"] != "regression" else \
            ["r2", "mae", "rmse", "poisson_deviance" if "poisson_deviance" in test else "loss"]
        split = "test" if m.get("test") else "train"
        for c, k in zip(cols, keys):
            if k in test:
                c.metric(f"{METRIC_LABELS[k]} ({split})", _num(test[k], bounded=k in BOUNDED),
                         help={"loss": LOSS_HELP, "poisson_deviance": DEVIANCE_HELP}.get(k))
    main = res["main"]
    second = "confusion_matrix" if "confusion_matrix" in figs else "predicted_vs_actual"
    rid, ep = res["id"], res["epoch"]
    # the loss curve, the prediction chart and the Network view: drawn in place of the live frames by the same
    # component (Plotly.react on the charts already there); st.plotly_chart only while Plotly.js is not yet in
    # the page (it comes with the first st.plotly_chart)
    shown = {"loss": figs.get("loss"), "main": figs.get(main or second), "network": figs.get("network")}
    if st.session_state.get("plotly_on_page"):
        for name in shown:
            slots[name].empty()
        with slots["live"]:
            _live_component()(data=shown, key=f"charts_{rid}_{ep}")
    else:
        slots["live"].empty()
        for name, fig in shown.items():
            if fig is None:
                slots[name].empty()
            else:
                _plot(slots[name], fig, key=f"{name}_{rid}_{ep}")
    with slots["rest"].container():
        _downloads(pg, res)
        if res["trained"]:
            _share(pg)
        c1, c2 = st.columns(2)
        with c1:
            if m:
                st.markdown("**Metrics**")
                st.markdown(_metrics_markdown(m, res["task"], res.get("loss_title")))
            st.markdown("**Network summary**")
            st.code(res["summary"], language=None, wrap_lines=True)
        with c2:
            if main and second in figs:
                _plot(st, figs[second], key=f"second_{rid}_{ep}")
        if "gradient_flow" in figs:
            _plot(st, figs["gradient_flow"], key=f"gradient_flow_{rid}_{ep}")


def _numbered(start, code):
    """Source lines prefixed with their line numbers in mlp/reference.py."""
    lines = code.rstrip("\n").split("\n")
    width = len(str(start + len(lines) - 1))
    return "\n".join(f"{start + i:>{width}}  {line}" for i, line in enumerate(lines))


def _explain(pg, res, interrupted):
    """The "Explain a step" expander: one training row through the model, formulas with numbers and code.
    Computed only while it is open (opening it reruns the script; during training that pauses it)."""
    ss = st.session_state
    was_open = ss.get("explain_was_open", False)
    exp = st.expander("Explain a step", key="explain", on_change="rerun")
    ss["explain_was_open"] = bool(exp.open)
    if not exp.open:
        return
    with exp:
        if res is None:
            st.info("There is no model to explain yet: press **Train** or **Step** first.")
            return
        sizes = res["sizes"]
        n_layers = len(sizes) - 1
        c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
        row = c1.number_input("Training row", min_value=0, value=0, step=1, key="explain_row",
                              help=f"Which of the {res['n_train']} training rows (0 = the first) goes through "
                                   "the network")
        names = ["auto (largest gradient in layer 1)"] + \
            [f"layer {k + 1} ({sizes[k]} → {sizes[k + 1]})" for k in range(n_layers)]
        layer = c2.selectbox("Weight of layer", range(n_layers + 1), format_func=names.__getitem__,
                             key=f"explain_layer_{res['id']}")
        i = j = 0
        if layer:
            i = c3.number_input("from unit i", min_value=0, value=0, step=1, key="explain_i",
                                help=f"Input unit of the weight, 0 to {sizes[layer - 1] - 1}")
            j = c4.number_input("to unit j", min_value=0, value=0, step=1, key="explain_j",
                                help=f"Output unit of the weight, 0 to {sizes[layer] - 1}")
        # a training interrupted by opening Explain, or by asking for another row or weight, was paused for this
        trigger = (int(row), int(layer), int(i), int(j))
        paused = interrupted and (not was_open or ss.get("explain_last") != trigger)
        ss["explain_last"] = trigger
        try:
            ex = pg.explain(row=int(row), weight=(int(layer), int(i), int(j)) if layer else None, paused=paused)
        except USER_ERRORS as e:
            st.error(_plain(e))
            return
        if ex["paused"]:
            st.info(ex["notes"][0])
        st.caption(f"Training row {ex['row']} (of 0–{ex['n_rows'] - 1}) as the network sees it, weight "
                   f"{ex['weight']['label']}, learning rate {ex['learning_rate']:g}: the update is the one a training "
                   "step on this row alone would make from the optimizer's present state. Nothing here changes the "
                   "model.")
        for note in ex["notes"][1 if ex["paused"] else 0:]:
            st.caption(_plain(note))
        for sec in ex["sections"]:
            st.markdown(f"**{sec['title']}**")
            for formula in sec["latex"]:      # the whole width: formulas with their numbers are wide
                st.latex(formula)
            if sec.get("code"):
                end = sec["code_start"] + sec["code"].rstrip("\n").count("\n")
                st.caption(f"`mlp/reference.py` · `{sec['code_name']}` · lines {sec['code_start']}–{end}")
                st.code(_numbered(sec["code_start"], sec["code"]), language="python", wrap_lines=True)


def _data_view(pg, data, res):
    """What the data looks like: always before its first training; when the results shown are from other
    data, the new data is plotted too."""
    fresh = res is None or not S.same_data(pg.data_of(), pg.prepared_or_none())   # (a poisson run: a view)
    if data["preview"] is not None:
        p = data["preview"]
        with st.expander(f"Data preview · {p['n_rows']:,} rows × {len(p['columns'])} columns", expanded=fresh):
            st.dataframe(_table(p["columns"], p["rows"]), hide_index=True)
    if not data["ok"]:
        return
    for note in data["notes"]:
        st.info(_plain(note))
    pre = pg.prepared_or_none().preprocessor
    if pre is not None and list(data["feature_names"]) != list(pre.features):
        st.caption(f"{len(pre.features)} feature column(s) become {data['n_inputs']} network inputs: "
                   + ", ".join(map(_plain, data["feature_names"]))
                   + " (each category of a text column is its own 0/1 input; extra features are computed "
                     "from x1, x2)")
    if fresh:
        if data["figure"] is not None:
            c1, _ = st.columns(2)
            _plot(c1, data["figure"], key="data_fig")
        if res is not None:
            st.caption(f"The results below are from run {res['id']} ({_plain(res['data'])}); "
                       f"press **Train** to train on {_plain(data['name'])}.")


def _train_tab(pg, data, interrupted):
    ss = st.session_state
    for note in ss.get("link_notes") or []:
        st.warning("From the link: " + _plain(note))
    if data["error"]:
        st.error(_plain(data["error"]))
    elif not data["ok"]:
        st.info("Upload a CSV in the sidebar (or pick a built-in dataset) to start.")
    chk = _architecture(pg, data)
    s = pg.settings
    if s["dropout"] and chk["ok"] and "dropout" in chk["text"]:
        st.caption("The Dropout slider is ignored: the architecture already has dropout layers.")
    ready = chk["ok"] and data["ok"]
    b = st.columns([1, 1, 1, 1, 1, 3], vertical_alignment="center")
    b[0].button("Train", type="primary", disabled=not ready, key="train", on_click=_action, args=("train",),
                help="A new model with fresh weights, trained for the chosen epochs")
    b[1].button("Step", disabled=not ready, key="step", on_click=_action, args=("step",),
                help="Train exactly one epoch of the model shown (a new model when the data or the network "
                     "settings changed), then stop")
    b[2].button("Resume", disabled=not ready, key="resume", on_click=_action, args=("resume",),
                help="Continue training the model shown, to the end of its epochs")
    b[3].button("Reset", disabled=not ready, key="reset", on_click=_action, args=("reset",),
                help="Fresh weights: back to epoch 0")
    ui = {"stop": b[4].empty(), "epoch": b[5].empty(), "progress": st.empty()}
    res = pg.result()
    ui["epoch"].markdown(f"**Epoch {res['epoch'] if res else 0}**")
    notes_slot = st.container()
    lesson_slot = st.empty()       # the open lesson's goal and status (after the training below)
    data_slot = st.empty()         # (emptied while training runs: the live charts come first)
    select_slot = st.empty()
    slots = {"header": st.empty(), "live": st.empty()}
    c1, c2 = st.columns(2)
    slots["loss"], slots["main"] = c1.empty(), c2.empty()
    slots["network"] = st.empty()
    slots["rest"] = st.empty()
    action = ss.pop("action", None)
    if action and ready:
        ss.pop("link_notes", None)   # said once the user acts on the page
        if action != "reset":
            data_slot.empty()
            select_slot.empty()
        _act(pg, action, ui, slots)
    for note in pg.notes if action else []:
        notes_slot.info(_plain(note))
    res = pg.result()
    ui["epoch"].markdown(f"**Epoch {res['epoch'] if res else 0}**")
    with data_slot.container():
        _data_view(pg, data, res)
    runs = pg.runs(trained_only=False)
    if len(runs) > 1:
        names = {r["id"]: r["name"] for r in runs}
        ss["selected_run"] = pg.shown
        select_slot.selectbox("Show run", [r["id"] for r in runs][::-1], format_func=names.get, key="selected_run",
                              on_change=lambda: pg.select(st.session_state["selected_run"]))
    with lesson_slot.container():
        _lesson_status(pg.lesson(), where="train")
    if res is not None:
        _results(pg, res, slots)
    _explain(pg, res, interrupted)


def _compare_tab(pg):
    runs = pg.runs()
    if not runs:
        st.info("Train a model first; every run of this session is listed here.")
        return
    names = {r["id"]: r["name"] for r in runs}
    # a new run resets the choice to the latest runs
    chosen = st.multiselect("Runs", list(names), default=list(names)[-4:], format_func=names.get,
                            key=f"compare_{runs[-1]['id']}")
    cmp = pg.compare(chosen)
    if len(cmp["chosen"]) > 1:       # (one run's curve is the Train tab's loss chart)
        _plot(st, cmp["figure"], key="compare_loss")
    else:
        st.caption("Choose two runs or more to overlay their loss curves; train another to compare.")
    rows = [{"run": r["id"], "data": r["data"], "architecture": r["arch"], "optimizer": r["optimizer"],
             "lr": r["lr"], "batch": r["batch"], "epochs": r["epochs"], "seconds": r["seconds"],
             "final train loss": r["final_loss"], "test score": r["score"] or "–"} for r in runs]
    st.dataframe(rows, hide_index=True, width="stretch")
    if st.button("Clear all runs", key="clear_runs"):
        pg.clear_runs()
        st.rerun()


# ------------------------------------------------------------------ lessons and the optimizer race

def _open_lesson(pg, number):
    pg.open_lesson(number)
    st.session_state.pop("link_notes", None)


def _lesson_status(view, where="lessons"):
    """The open lesson's "Goal:" line and its status (Goal reached / Not yet / what to press)."""
    if view is None:
        return
    if where == "train":
        st.markdown(f"**Lesson {_plain(view['label'])}** · {_plain(view['goal'])} (the text is in the "
                    f"**Lessons** tab)")
    else:
        st.markdown(f"**{_plain(view['goal'])}**")
    status = view["status"]
    if status["met"]:
        st.success("Goal reached", icon="✅")
    elif status["checked"]:
        st.warning(_plain(status["message"]))
    elif where == "lessons":
        st.caption(status["message"] + (" (in the **Race optimizers** tab)." if view["race"] else
                                        " (press **Train** in the **Train & results** tab)."))


def _lessons_tab(pg):
    """The lessons: a list of buttons ("2 · XOR needs a hidden layer", ✓ when done) and the open lesson."""
    view = pg.lesson()
    left, right = st.columns([1, 2.4], gap="large")
    with left, st.container(key="lesson_list"):
        for row in pg.lessons():
            st.button(row["entry"], key=f"lesson_{row['number']}", on_click=_open_lesson, args=(pg, row["number"]),
                      type="primary" if row["open"] else "secondary", width="stretch")
        st.caption("Opening a lesson loads its data and settings into the playground (and the address).")
    with right:
        if view is None:
            st.info("Pick a lesson on the left: each one has a short text, a goal the app checks after every "
                    "training run, hints and a solution. Start with 1.")
            return
        st.subheader(view["label"])
        st.markdown(view["markdown"])
        _lesson_status(view)
        with st.expander("Hints"):
            for hint in view["hints"]:
                st.markdown(f"- {hint}")
        c1, c2, _ = st.columns([1, 1, 2])
        c1.button("Show solution", key="lesson_solution", on_click=pg.show_solution,
                  help="Load settings that reach the goal; then press Train" + (" or Race optimizers" if view["race"]
                                                                                 else ""))
        c2.button("Close lesson", key="lesson_close", on_click=pg.close_lesson)


def _race_tab(pg):
    """Race optimizers: the current network and data, one training per optimizer from the same weights."""
    ss = st.session_state
    st.write("Trains the current network on the current data once per optimizer, all from the same initial "
             "weights on the same batches, at the learning rate setting, and draws their loss curves and their "
             "paths on the loss landscape.")
    choices = pg.race_choices()
    labels = {c["name"]: c["label"] for c in choices}
    view = pg.lesson()
    picked = st.multiselect("Optimizers", list(labels), default=[c["name"] for c in choices if c["default"]],
                            format_func=labels.get, key=f"race_pick_{view['number'] if view and view['race'] else 0}")
    if pg.prepared_or_none() is None or not pg.check_arch()["ok"]:
        st.info("The race needs data and an architecture that fits it: see **Train & results**.")
        return
    st.caption(f"{pg.race_epochs()} epochs per optimizer · learning rate {pg.settings['learning_rate']:g} · "
               f"{_plain(pg.arch_text() or '')}")
    if st.button("Race optimizers", type="primary", key="race", disabled=not picked):
        try:
            with st.spinner("Racing…"):
                pg.race(picked)
                ss["race_n"] = ss.get("race_n", 0) + 1
        except USER_ERRORS as e:
            st.error(_plain(e))
    out = pg.race_view(picked)         # the last race; out of date (stale) once what decides it changed
    if out is None:
        return
    if out["stale"]:
        st.warning(_plain(out["stale"]))
    if view is not None and view["race"]:
        _lesson_status(out["lesson"] or view)
    for note in out["notes"]:
        st.caption(_plain(note))
    _plot(st, out["figures"]["race"], key=f"race_{ss.get('race_n')}")
    if "landscape" in out["figures"]:          # (full width: its note on the projection needs the room)
        _plot(st, out["figures"]["landscape"], key=f"landscape_{ss.get('race_n')}")


def _cached_model(raw):
    ss = st.session_state
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if ss.get("model_opened_digest") != digest:
        ss["model_opened"], ss["model_opened_digest"] = S.load_model(raw), digest
    return ss["model_opened"]


def _chosen_model(pg):
    """The model to predict with, and whether it came from a file: a run of this session or an uploaded model file
    (None: not chosen yet)."""
    runs = pg.runs(trained_only=False)
    source = UPLOAD_MODEL
    if runs:
        source = st.radio("Model", [SESSION_MODEL, UPLOAD_MODEL], horizontal=True, key="model_source")
    if source == SESSION_MODEL:
        names = {r["id"]: r["name"] for r in runs}
        # (keyed by the newest run, so a new run becomes the choice)
        rid = st.selectbox("Run", list(names)[::-1], format_func=names.get, key=f"predict_run_{runs[-1]['id']}")
        return pg.model(rid), False
    up = st.file_uploader("Upload model", key="model_file", max_upload_size=S.MAX_UPLOAD_MB,
                          help="A file from 'Download model'.")
    if up is None:
        return None, True
    try:
        model = _cached_model(up.getvalue())
    except USER_ERRORS as e:
        st.error(_plain(f"Could not open {up.name} as a model: {e}"))
        return None, True
    info = S.model_info(model)
    st.success(f"Loaded {_plain(up.name)}: {info['n_inputs']} input(s) → {info['n_outputs']} output(s) "
               f"({info['output_activation']}), {info['n_params']:,} parameters.")
    return model, True


def _model_tab(pg):
    st.write("Predict new rows with a trained model: a run of this session, or a model file saved by this "
             "app (or by `model.save`). The CSV needs the raw columns the model was trained on.")
    model, from_file = _chosen_model(pg)
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
    if from_file:                    # (a run's summary is on the Train tab)
        st.code(model.summary(), language=None, wrap_lines=True)
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
    st.markdown(_CSS, unsafe_allow_html=True)
    _warm_live()
    pg = _pg()
    interrupted = pg.running and not st.session_state.get("action")
    if interrupted:          # the last script run was training when this one started (Stop, or any widget)
        pg.stop()
    st.title("MLP playground")
    st.caption("A multi-layer perceptron written from scratch in NumPy. Pick data in the sidebar, "
               "type an architecture, press **Train**.")
    data = _data_sidebar(pg, [r for r in pg.controls("streamlit") if r["group"] == "data"])
    _training_sidebar(pg, [r for r in pg.controls("streamlit") if r["group"] in ("network", "training", "view")])
    _sync_address(pg)
    t_train, t_lessons, t_race, t_compare, t_model = st.tabs(
        ["Train & results", "Lessons", "Race optimizers", "Compare runs", "Use a model"])
    with t_train:
        _train_tab(pg, data, interrupted)
    with t_lessons:
        _lessons_tab(pg)
    with t_race:
        _race_tab(pg)
    with t_compare:
        _compare_tab(pg)
    with t_model:
        _model_tab(pg)


main()
