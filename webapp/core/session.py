"""The app's workflow as plain functions: prepare data, validate an architecture,
build/train/evaluate a model, chart it, predict a CSV.

Both front ends call this module (the Streamlit app and the Pyodide browser build),
so it imports only the stdlib, numpy and ``mlp``. It holds no mutable module state:
everything a user owns is returned to the caller, who keeps it per session.
Engine errors (``ValueError``/``TypeError``) pass through with their message intact.
"""

from __future__ import annotations

import copy
import csv
import io
import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

import mlp
from mlp import data as mdata
from mlp.architecture import format_architecture, parse_architecture

from . import charts

from .settings import (DEFAULT_CONFIG, MAX_COLUMNS, MAX_EPOCHS, MAX_ROWS, MAX_SAMPLES, MIN_SAMPLES,  # noqa: F401
                       OPTIMIZERS, TASKS)   # (the session's names for them: session.OPTIMIZERS, ...)

# Limits (clear messages instead of out-of-memory or a frozen page); the settings table (settings.py) holds the
# ones a control or a link sets.
MAX_UPLOAD_MB = 25
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_PARAMS = 2_000_000
MAX_CLASSES = 100
GRID_SIZE = 100
PREVIEW_ROWS = 20

# Read-only tables (tuples and mapping proxies): nothing at module level can be mutated by a session.
BUILTIN_TASKS = MappingProxyType({name: info["task"] for name, info in mdata.DATASETS.items()})
#: the built-in datasets whose target is a count (the dataset table's "counts"): the poisson loss is offered there
BUILTIN_COUNTS = frozenset(name for name, info in mdata.DATASETS.items() if info.get("counts"))
OUTPUT_ACTIVATION = MappingProxyType({"binary": "sigmoid", "multiclass": "softmax", "regression": "linear"})
DEFAULT_LOSS = MappingProxyType({"binary": "bce", "multiclass": "cce", "regression": "mse"})


def datasets():
    """Names of the engine's built-in datasets."""
    return list(getattr(mdata, "DATASETS", BUILTIN_TASKS))


@dataclass(repr=False)
class Prepared:
    """Model-ready arrays plus what the UI needs to explain and plot them."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    task: str
    n_inputs: int
    n_outputs: int
    feature_names: list
    class_names: list
    preprocessor: object
    name: str
    target: str = "y"
    raw_train: np.ndarray | None = None    # raw numeric features (for plots in original units)
    raw_test: np.ndarray | None = None
    yraw_train: np.ndarray | None = None   # targets in original units / class indices (1-D)
    yraw_test: np.ndarray | None = None
    notes: list = field(default_factory=list)
    tables: tuple | None = None              # raw (train, test) Tables, for predictions in raw columns
    transforms: tuple = ()                   # keys of mlp.data.FEATURE_TRANSFORMS used as extra inputs
    views: dict = field(default_factory=dict)   # target mode -> this data as that mode trains on it (for_loss)

    @property
    def n_train(self):
        return len(self.X_train)

    @property
    def n_test(self):
        return len(self.X_test)

    def __repr__(self):
        return (f"Prepared({self.name!r}, task={self.task!r}, train={self.n_train}, test={self.n_test}, "
                f"inputs={self.n_inputs}, outputs={self.n_outputs})")

    def describe(self):
        """One line saying what the data is and what the network must look like."""
        kind = {"binary": "binary classification", "multiclass": f"{self.n_outputs}-class classification",
                "regression": "regression of counts" if _whole_counts(self) else "regression"}[self.task]
        return (f"{self.name}: {kind}, {self.n_train} training and {self.n_test} test rows; "
                f"the network needs {self.n_inputs} input(s) and {self.n_outputs} output(s) "
                f"with '{OUTPUT_ACTIVATION[self.task]}' at the end.")


# ---------------------------------------------------------------- data

def _check_bytes(data):
    if isinstance(data, (bytes, bytearray)) and len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB. "
                         f"Upload a sample of the rows.")
    if isinstance(data, str) and len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"The text is larger than {MAX_UPLOAD_MB} MB; upload a sample of the rows.")


def read_table(data):
    """Read CSV bytes/text (or pass a Table through), enforcing size, row and column limits."""
    if isinstance(data, mdata.Table):
        table = data
    else:
        _check_bytes(data)
        if isinstance(data, (bytes, bytearray)) and not bytes(data).strip():
            raise ValueError("The file is empty: upload a CSV with a header row and data rows.")
        if isinstance(data, str) and "\n" not in data and "," not in data:
            data = data + "\n"  # always text here, never a path on the server's disk
        table = mdata.read_csv(bytes(data) if isinstance(data, bytearray) else data,
                               max_bytes=MAX_UPLOAD_BYTES, max_rows=MAX_ROWS)
    if len(table) > MAX_ROWS:
        raise ValueError(f"The CSV has {len(table):,} rows; the limit is {MAX_ROWS:,}. Upload a sample.")
    if len(table.columns) > MAX_COLUMNS:
        raise ValueError(f"The CSV has {len(table.columns)} columns; the limit is {MAX_COLUMNS}.")
    if len(table) == 0:
        raise ValueError("The CSV has a header but no data rows.")
    if len(table.columns) < 2:
        raise ValueError(f"The CSV has only one column ({table.columns[0]!r}); it needs at least one feature "
                         f"column and a target column. If it is separated by something other than "
                         f"comma, semicolon, tab or |, re-save it as a comma-separated CSV.")
    return table


def csv_preview(data):
    """Preview of a CSV (bytes, text or Table) as plain JSON-safe data: columns, first rows,
    row count, missing counts per column, default target/features and the detected task."""
    table = read_table(data)
    cols = list(table.columns)
    target = cols[-1]
    try:
        task = mdata.detect_task(table.values(target))    # arrays: no per-cell Python
    except (ValueError, TypeError):
        task = None
    missing = {c: int(n) for c, n in table.missing_counts().items() if n}
    return {"columns": cols, "rows": [list(r) for r in table.head(PREVIEW_ROWS)], "n_rows": len(table),
            "missing": missing, "default_target": target, "default_features": cols[:-1],
            "default_task": task}


def _raw_features(table, features):
    """Raw numeric feature matrix (for plots in original units), or None if a feature is not numeric."""
    cols = []
    for f in features:
        if not table.is_numeric(f) and len(table):
            return None
        arr = table.numeric_column(f) if len(table) else np.zeros(0)
        if not np.isfinite(arr).all():
            return None
        cols.append(arr)
    return np.column_stack(cols) if cols else None


def _class_index(pre, y):
    """Targets as class indices (1-D) for classification."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return y.astype(int)


def _check_transforms(transforms, n_columns, what):
    """Transform keys as a tuple; a clear error when the raw data is not 2-D."""
    transforms = tuple(transforms or ())
    if transforms and n_columns != 2:
        raise ValueError(f"Feature transforms ({', '.join(map(str, transforms))}) need 2-D data (two numeric "
                         f"features, x1 and x2); {what} has {n_columns} feature column"
                         f"{'s' if n_columns != 1 else ''}. Clear the transforms or choose two features.")
    return transforms


def _finish(table_train, table_test, features, target, task, name, notes, transforms=()):
    pre = mdata.Preprocessor(features=list(features), target=target, task=task, transforms=transforms)
    pre.fit(table_train)
    X_train, y_train = pre.transform_X(table_train), pre.transform_y(table_train)
    if len(table_test):
        X_test, y_test = pre.transform_X(table_test), pre.transform_y(table_test)
        unseen = pre.unseen_categories(table_test)
        if unseen:
            notes = notes + [unseen_note(unseen, "test rows")]
    else:
        X_test = np.zeros((0, X_train.shape[1]))
        y_test = y_train[:0]
    task = pre.task
    if task == "regression":
        # the target's own numbers (standardising and back is not exact: a count of 0 would come back as -4e-16)
        yr_train = np.asarray(table_train.numeric_column(target), dtype=float).reshape(-1)
        yr_test = np.asarray(table_test.numeric_column(target), dtype=float).reshape(-1) if len(y_test) else np.zeros(0)
        class_names = []
    else:
        yr_train, yr_test = _class_index(pre, y_train), _class_index(pre, y_test)
        class_names = [str(c) for c in pre.class_names]
    out = Prepared(
        X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test, task=task,
        n_inputs=int(pre.n_inputs), n_outputs=int(pre.n_outputs),
        feature_names=list(pre.feature_names), class_names=class_names, preprocessor=pre,
        name=name, target=target,
        raw_train=_raw_features(table_train, features), raw_test=_raw_features(table_test, features),
        yraw_train=yr_train, yraw_test=yr_test, notes=notes, tables=(table_train, table_test),
        transforms=tuple(pre.transforms))
    out.views[pre.target_mode] = out
    return out


def same_data(a, b):
    """True when ``a`` and ``b`` are the same data: one Prepared, or views of it (:func:`for_loss`)."""
    return a is not None and b is not None and a.views is b.views


def _whole_counts(prepared):
    """A count target of whole numbers (what ``describe`` calls counts; poisson takes any value >= 0)."""
    return is_count_target(prepared) and bool(np.all(prepared.yraw_train == np.floor(prepared.yraw_train)))


def is_count_target(prepared):
    """True when ``prepared`` is a regression whose training target is a count or rate (never negative): the
    data the poisson loss is offered for."""
    return (prepared is not None and prepared.task == "regression" and prepared.yraw_train is not None
            and len(prepared.yraw_train) > 0 and float(np.min(prepared.yraw_train)) >= 0.0)


def for_loss(prepared, loss):
    """``prepared`` as a model with ``loss`` trains on it: for ``poisson`` the count target mode (the target as it
    is, the network's output the log of the rate, ``inverse_y`` = exp), else the standardised target. The
    features are the same; each mode is made once per data (``prepared.views``)."""
    pre = prepared.preprocessor
    mode = "count" if loss == "poisson" else "standard"
    if pre is None or prepared.task != "regression" or pre.target_mode == mode:
        return prepared
    if mode not in prepared.views:
        if mode == "count" and not is_count_target(prepared):
            raise ValueError(f"The poisson loss needs a count target (0 or more); {prepared.target!r} has "
                             f"{float(np.min(prepared.yraw_train)):g}. Choose mse, mae or huber.")
        train, test = prepared.tables
        new = mdata.Preprocessor(pre.features, pre.target, pre.task, pre.transforms, target_mode=mode).fit(train)
        view = copy.copy(prepared)       # the same X arrays (the features are encoded the same way)
        view.preprocessor = new
        view.y_train = new.transform_y(train)
        view.y_test = new.transform_y(test) if len(test) else view.y_train[:0]
        prepared.views[mode] = view      # (the views share one dict)
    return prepared.views[mode]


def unseen_note(unseen, rows):
    """One sentence for the user about ``Preprocessor.unseen_categories`` output, found in ``rows``."""
    parts = []
    for col, counts in unseen.items():
        shown = [f"{v!r} ({n} row{'s' if n > 1 else ''})" for v, n in list(counts.items())[:5]]
        parts.append(f"{col!r}: " + ", ".join(shown) + (f" and {len(counts) - 5} more" if len(counts) > 5 else ""))
    return (f"Some {rows} hold categories the training rows did not have — {'; '.join(parts)}. They are "
            "encoded as all zeros (no category), so those predictions ignore that column.")


def _split(table, test_size, seed):
    if not 0.0 <= float(test_size) < 1.0:
        raise ValueError(f"The test split must be in [0, 1), got {test_size}.")
    if float(test_size) == 0.0:
        return table, table.select_rows([])
    return mdata.train_test_split(table, test_size=float(test_size), seed=int(seed))


def prepare_builtin(name, n_samples=400, noise=0.1, seed=0, test_size=0.2, n_classes=3, transforms=()):
    """Generate one of the engine's datasets, split it and fit its preprocessing.

    ``transforms``: keys of ``mlp.data.FEATURE_TRANSFORMS`` (e.g. ``("x1^2", "x2^2")``) added as
    inputs; they need a 2-D dataset. The model file carries them, so it still predicts from raw x1, x2."""
    if name not in datasets():
        raise ValueError(f"Unknown dataset {name!r}; choose one of: {', '.join(datasets())}.")
    n_samples = int(n_samples)
    if not MIN_SAMPLES <= n_samples <= MAX_SAMPLES:
        raise ValueError(f"The number of samples must be between {MIN_SAMPLES} and {MAX_SAMPLES:,}, got {n_samples}.")
    kw = {"n_classes": int(n_classes)} if name in ("blobs", "spiral") else {}
    X, y = mdata.make_dataset(name, n_samples=n_samples, noise=float(noise), seed=int(seed), **kw)
    X = np.asarray(X, dtype=float)
    X = X.reshape(len(X), -1)
    y = np.asarray(y).reshape(len(X), -1)[:, 0]
    task = BUILTIN_TASKS.get(name) or mdata.detect_task(list(y))
    transforms = _check_transforms(transforms, X.shape[1], f"the {name!r} dataset")
    features = ["x"] if X.shape[1] == 1 else [f"x{i + 1}" for i in range(X.shape[1])]
    ycol = [float(v) for v in y] if task == "regression" else [int(v) for v in y]
    rows = [[float(v) for v in X[i]] + [ycol[i]] for i in range(len(X))]
    table = mdata.Table.from_rows(rows, features + ["y"])
    train, test = _split(table, test_size, seed)
    return _finish(train, test, features, "y", task, name, [], transforms)


def prepare_csv(data, target=None, features=None, task=None, test_size=0.2, seed=0, drop_missing=False,
                transforms=()):
    """Read a CSV (bytes, text or Table), choose columns, handle missing values, split, preprocess.

    ``transforms`` as in :func:`prepare_builtin` (they need exactly two numeric feature columns)."""
    table = read_table(data)
    cols = list(table.columns)
    target = cols[-1] if target is None else target
    if target not in cols:
        raise ValueError(f"Target column {target!r} is not in the CSV; its columns are: {', '.join(cols)}.")
    features = [c for c in cols if c != target] if features is None else list(features)
    unknown = [f for f in features if f not in cols]
    if unknown:
        raise ValueError(f"Feature column(s) {', '.join(map(repr, unknown))} are not in the CSV.")
    features = [f for f in features if f != target]
    if not features:
        raise ValueError("Choose at least one feature column (other than the target).")
    transforms = _check_transforms(transforms, len(features), "this selection")
    if task is not None and task not in TASKS:
        raise ValueError(f"Task must be one of {', '.join(TASKS)} (or None to detect), got {task!r}.")
    notes = []
    if table.meta.get("no_header"):
        notes.append("The first line holds only numbers, so it was read as data (no header row); "
                     "the columns are named column_1, column_2, ...")
    used = features + [target]
    counts = table.missing_counts()
    empty = [c for c in used if counts.get(c) == len(table)]
    if empty:
        raise ValueError(f"Column(s) {', '.join(map(repr, empty))} have no values at all (every cell is empty "
                         f"or NaN); deselect them or choose another target.")
    missing = {c: n for c, n in counts.items() if n and c in used}
    if missing:
        desc = ", ".join(f"{c!r} ({n})" for c, n in missing.items())
        if not drop_missing:
            raise ValueError(f"Missing values in {desc}. Choose 'drop rows with missing values' "
                             f"or deselect those columns.")
        before = len(table)
        table = table.drop_missing(used)
        notes.append(f"Dropped {before - len(table)} of {before} rows with missing values in {desc}.")
        if len(table) == 0:
            raise ValueError(f"Every row has a missing value in {desc}; nothing is left to train on. "
                             f"Deselect those columns.")
    if len(table) < 5:
        raise ValueError(f"Only {len(table)} usable rows; at least 5 are needed to train and test.")
    values = table.values(target)
    detected = mdata.detect_task(values)  # also refuses a single class
    task = task or detected
    if task == "multiclass":  # (the engine checks class counts for binary and one-class targets)
        n_classes = len(np.unique(values if values.dtype != object else values.astype(str)))
        if n_classes > MAX_CLASSES:
            raise ValueError(f"The target {target!r} has {n_classes} distinct values; at most {MAX_CLASSES} "
                             f"classes are allowed. Choose 'regression' if it is a number.")
    train, test = _split(table, test_size, seed)
    return _finish(train, test, features, target, task, "CSV", notes, transforms)


# ---------------------------------------------------------------- architecture

def _sizes(specs):
    return [s["size"] if s["type"] == "input" else s["units"] for s in specs if s["type"] != "dropout"]


def count_params(specs):
    """Number of weights and biases of parsed layer specs (computed without building)."""
    sizes = _sizes(specs)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def default_architecture(prepared):
    """A sensible starting network for the data, as list-syntax text (``mlp.default_architecture``; the
    spiral gets 32 units a layer)."""
    width = 32 if prepared.name == "spiral" else None
    items = mlp.default_architecture(prepared.n_inputs, prepared.n_outputs, prepared.task, width=width)
    return format_architecture(parse_architecture(items))


def _output_ok(task, activation):
    if task == "regression":
        return activation not in ("sigmoid", "softmax")
    return activation == OUTPUT_ACTIVATION[task]


def check_architecture(text, prepared=None):
    """Validate architecture text against the engine and the data.

    Returns ``{"ok", "error", "fixed", "output_activation", "n_params"}``; ``fixed`` is
    corrected text (input/output sizes, output activation) when a fix exists.
    """
    out = {"ok": False, "error": None, "fixed": None, "output_activation": None, "n_params": None}
    try:
        specs = parse_architecture(text)
    except (ValueError, TypeError) as e:
        out["error"] = str(e)
        return out
    dense = [s for s in specs if s["type"] == "dense"]
    out["output_activation"] = dense[-1]["activation"]
    out["n_params"] = n = count_params(specs)
    problems = []
    if prepared is not None:
        fixed = [dict(s) for s in specs]
        if specs[0]["size"] != prepared.n_inputs:
            problems.append(f"the data has {prepared.n_inputs} input feature(s) (after encoding) "
                            f"but the network starts with {specs[0]['size']}")
            fixed[0]["size"] = prepared.n_inputs
        last = [s for s in fixed if s["type"] == "dense"][-1]
        if last["units"] != prepared.n_outputs:
            problems.append(f"the {prepared.task} target needs {prepared.n_outputs} output(s) "
                            f"but the network ends with {last['units']}")
            last["units"] = prepared.n_outputs
        if not _output_ok(prepared.task, last["activation"]):
            want = OUTPUT_ACTIVATION[prepared.task]
            problems.append(f"a {prepared.task} output needs '{want}' at the end, not '{last['activation']}'")
            last["activation"] = want
        if problems:
            out["fixed"] = format_architecture(fixed)
            n = count_params(fixed)
    if n > MAX_PARAMS:
        problems.append(f"the network has {n:,} parameters; the limit here is {MAX_PARAMS:,} — "
                        f"use fewer or smaller layers")
        out["fixed"] = None
    if problems:
        msg = "; ".join(problems)
        out["error"] = msg[0].upper() + msg[1:] + "."
        return out
    out["ok"] = True
    return out


#: why the poisson loss is not offered (the note a link's loss=poisson gets on other data)
POISSON_ONLY_FOR_COUNTS = ("the poisson loss is offered only for a regression whose target is a count "
                           "(0 or more, e.g. the counts dataset)")


def loss_choices(output_activation, counts=None):
    """The losses offered after this output activation (bce ⇔ sigmoid, cce ⇔ softmax; mse, mae, huber after
    any other), and ``poisson`` after a linear output when the target is a count: ``counts`` True (the data's
    :func:`is_count_target`, or a built-in dataset in ``BUILTIN_COUNTS``), False drops it, None (the data is not
    there yet, e.g. a link waiting for its CSV) keeps it, to be decided when the data comes."""
    out = list(mlp.compatible_losses(output_activation))
    if counts is not False and output_activation == mlp.losses.REQUIRED_OUTPUT["poisson"]:
        out.append("poisson")
    return out


# ---------------------------------------------------------------- model

def _cfg(cfg):
    full = dict(DEFAULT_CONFIG)
    full.update(cfg or {})
    return full


def _with_dropout(text, rate):
    """Insert dropout(rate) after each hidden layer when the text has none."""
    specs = parse_architecture(text)
    if not rate or any(s["type"] == "dropout" for s in specs):
        return text
    dense_idx = [i for i, s in enumerate(specs) if s["type"] == "dense"]
    out = []
    for i, s in enumerate(specs):
        out.append(s)
        if i in dense_idx[:-1]:
            out.append({"type": "dropout", "rate": float(rate)})
    return format_architecture(out)


# The cfg keys that make a model, and those that only say how it trains. On the same data, a cfg with the
# same model_key continues the model shown (Step, Resume); another one means a new model.
MODEL_KEYS = ("arch", "loss", "optimizer", "weight_decay", "l1", "dropout", "seed")
TRAINING_KEYS = ("learning_rate", "epochs", "batch_size", "lr_schedule", "lr_decay", "validation_split",
                 "early_stopping")


def model_key(cfg):
    """What identifies the model ``cfg`` builds (defaults filled in): equal keys, same model settings."""
    cfg = _cfg(cfg)
    return tuple(repr(cfg.get(k)) for k in MODEL_KEYS)


def training_key(cfg):
    """What identifies how ``cfg`` trains (defaults filled in): a TrainingRun goes on only while it is equal."""
    cfg = _cfg(cfg)
    return tuple(repr(cfg.get(k)) for k in TRAINING_KEYS)


def build_model(cfg, prepared):
    """A fresh MLP for ``cfg`` (arch, loss, optimizer, seed, dropout...) that fits ``prepared``.

    The architecture and parameter count are checked before anything is allocated.
    """
    cfg = _cfg(cfg)
    arch = cfg.get("arch") or default_architecture(prepared)
    chk = check_architecture(arch, prepared)
    if not chk["ok"]:
        raise ValueError(chk["error"])
    arch = _with_dropout(arch, cfg.get("dropout") or 0.0)
    loss = cfg.get("loss") or DEFAULT_LOSS[prepared.task]
    allowed = loss_choices(chk["output_activation"], is_count_target(prepared))
    if loss == "poisson" and loss not in allowed and "poisson" in loss_choices(chk["output_activation"]):
        raise ValueError(f"Loss 'poisson' does not fit this data: {POISSON_ONLY_FOR_COUNTS}.")
    if loss not in allowed:
        raise ValueError(f"Loss {loss!r} does not fit the '{chk['output_activation']}' output; "
                         f"choose one of: {', '.join(allowed)}.")
    model = mlp.MLP(seed=int(cfg["seed"]))
    model.sequential(arch)
    model.set_loss(loss)
    opt_kw = {}
    if cfg.get("weight_decay"):
        opt_kw["weight_decay"] = float(cfg["weight_decay"])
    if cfg.get("l1"):
        opt_kw["l1"] = float(cfg["l1"])
    model.set_optimizer(cfg["optimizer"], **opt_kw)
    model.preprocessor = for_loss(prepared, loss).preprocessor
    return model


def start_training(model, prepared, cfg, on_epoch=None):
    """The engine's resumable :class:`mlp.TrainingRun` for ``model`` on the training rows.

    ``run.run()`` trains to the end; ``run.step(seconds=...)`` trains a slice and returns (the browser
    worker uses it to stay responsive). ``on_epoch(epoch, logs) -> True`` stops early. Validation loss
    comes from ``validation_split`` of the training rows, so the test rows stay unseen.
    """
    cfg = _cfg(cfg)
    prepared = for_loss(prepared, model.loss)
    epochs = int(cfg["epochs"])
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ValueError(f"Epochs must be between 1 and {MAX_EPOCHS}, got {epochs}.")
    val = float(cfg.get("validation_split") or 0.0)
    if val and prepared.n_train * val < 2:
        val = 0.0
    schedule = cfg.get("lr_schedule") or None
    decay = float(cfg["lr_decay"]) if schedule in (None, "exponential") else 1.0  # decay drives only that one
    patience = int(cfg.get("early_stopping") or 0)  # 0 = off; monitors val_loss, or loss without validation
    return model.start_training(
        prepared.X_train, prepared.y_train, epochs=epochs, learning_rate=float(cfg["learning_rate"]),
        lr_decay=decay, batch_size=None if cfg["batch_size"] is None else int(cfg["batch_size"]), shuffle=True,
        validation_split=val, callbacks=[on_epoch] if on_epoch is not None else None, lr_schedule=schedule,
        early_stopping=patience or None)


def next_learning_rate(training, cfg):
    """The learning rate the next epoch of ``training`` (a TrainingRun, or None) would use: its schedule's
    while it has epochs left, else ``cfg``'s learning rate (what a new training would start with)."""
    if training is not None and not training.done:
        return float(training.schedule(training.epoch))
    return float(_cfg(cfg)["learning_rate"])


def train(model, prepared, cfg, on_epoch=None):
    """Train ``model`` to the end (see :func:`start_training`); returns the engine's History."""
    return start_training(model, prepared, cfg, on_epoch).run()


def _metrics(task, y_true, out, n_classes, poisson=False):
    """Metrics in original units: y_true raw values / class indices, out = model outputs (a regression's in the
    target's units; ``poisson``: predicted mean counts, and the mean Poisson deviance is added)."""
    from mlp import metrics as M

    if len(y_true) == 0:
        return {}
    if task == "regression":
        with np.errstate(over="ignore", invalid="ignore"):
            return {k: float(v) for k, v in M.regression_report(y_true, out, poisson=poisson).items()}
    pred = (out[:, 0] >= 0.5).astype(int) if task == "binary" else np.argmax(out, axis=1)
    avg = "binary" if task == "binary" else "macro"
    res = {"accuracy": float(M.accuracy(y_true, pred))}
    p, r, f = M.precision_recall_f1(y_true, pred, average=avg)
    res.update(precision=float(p), recall=float(r), f1=float(f))
    res["confusion_matrix"] = np.asarray(M.confusion_matrix(y_true, pred, n_classes=n_classes)).tolist()
    return res


def _outputs(model, prepared, X):
    out = np.asarray(model.predict(X), dtype=float)
    if prepared.task == "regression":
        return np.asarray(prepared.preprocessor.inverse_y(out), dtype=float).reshape(-1)
    return out


def evaluate(model, prepared):
    """Loss and metrics on train and test rows: ``{"train": {...}, "test": {...}}`` (a poisson model's
    regression metrics are of its predicted mean counts, with ``poisson_deviance``)."""
    prepared = for_loss(prepared, model.loss)
    res = {}
    for split, X, y, yraw in (("train", prepared.X_train, prepared.y_train, prepared.yraw_train),
                              ("test", prepared.X_test, prepared.y_test, prepared.yraw_test)):
        if len(X) == 0:
            res[split] = {}
            continue
        m = _metrics(prepared.task, yraw, _outputs(model, prepared, X), len(prepared.class_names),
                     poisson=model.loss == "poisson")
        m["loss"] = float(model.evaluate(X, y)["loss"])
        res[split] = m
    return res


# ---------------------------------------------------------------- charts

def _inputs(pre, cols):
    """Network inputs for raw feature rows ``cols`` (n, d) via the preprocessing ``pre``."""
    try:
        return pre.transform_numeric(cols)       # numeric features: straight from the array
    except ValueError:
        return pre.transform_X(mdata.Table.from_rows(cols.tolist(), list(pre.features)))


def _grid_predict(model, prepared, cols):
    """Model outputs for raw feature rows ``cols`` (n, d) via the preprocessing."""
    return np.asarray(model.predict(_inputs(prepared.preprocessor, cols)), dtype=float)


def _span(a, b):
    v = np.concatenate([a, b]) if b is not None and len(b) else a
    lo, hi = float(np.min(v)), float(np.max(v))
    pad = 0.1 * (hi - lo) or 1.0
    return lo - pad, hi + pad


def _grid(raw, raw_t):
    """A GRID_SIZE x GRID_SIZE grid over two raw features (train and test points, padded)."""
    (x0, x1) = _span(raw[:, 0], raw_t[:, 0] if raw_t is not None else None)
    (y0, y1) = _span(raw[:, 1], raw_t[:, 1] if raw_t is not None else None)
    xs, ys = np.linspace(x0, x1, GRID_SIZE), np.linspace(y0, y1, GRID_SIZE)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, gx, gy


def data_figure(prepared):
    """Scatter of the raw data before training (2-D data, or 1-D regression), else None."""
    if prepared.raw_train is None or prepared.raw_train.shape[1] > 2:
        return None
    if prepared.task != "regression" and prepared.raw_train.shape[1] != 2:
        return None
    return charts.data_figure(prepared.raw_train, prepared.yraw_train, prepared.task,
                              prepared.class_names, prepared.feature_names, title=prepared.name,
                              target_name=prepared.target)


# The engine trains regression models on the standardised target, so their loss is in those units.
REGRESSION_LOSS_TITLE = "loss (standardised target)"


def loss_title(prepared):
    """The loss axis title for ``prepared`` (regression losses are on the standardised target, a poisson
    model's on the counts: ``for_loss(prepared, "poisson")``)."""
    if prepared.task == "regression" and prepared.preprocessor.target_mode == "count":
        return "loss (Poisson, on the counts)"
    return REGRESSION_LOSS_TITLE if prepared.task == "regression" else "loss"


LIVE_FIGURES = ("loss", "network", "decision_boundary", "surface", "fit")   # what a live frame can carry


def figures(model, prepared, histories=None, only=None, picture=False):
    """Plotly figure dicts for a trained model: ``{name: figure}``.

    Keys: ``loss`` (when histories are given); ``decision_boundary`` (2-D classification),
    ``surface`` (2-D regression), ``fit`` (1-D regression), ``predicted_vs_actual`` (regression),
    ``confusion_matrix`` (classification), ``network`` (the network view, see :func:`network_figure`).
    Plots use the raw feature units. ``only``: compute just these names (e.g. a live frame's). ``picture``: the
    decision boundary and surface maps as PNG pictures (live frames: cheap to redraw, see charts).
    """
    want = (lambda name: True) if only is None else set(only).__contains__
    prepared = for_loss(prepared, model.loss)
    figs = {}
    if histories is not None and want("loss"):
        figs["loss"] = charts.loss_figure(histories, ytitle=loss_title(prepared))
    if prepared.n_train and want("network"):
        figs["network"] = network_figure(model, prepared)
    raw, raw_t = prepared.raw_train, prepared.raw_test
    feats = list(prepared.preprocessor.features) if prepared.preprocessor is not None else []
    plane = raw is not None and raw.shape[1] == 2 and len(feats) == 2     # raw 2-D, whatever the transforms
    if prepared.task != "regression":
        if plane and want("decision_boundary"):
            xs, ys, gx, gy = _grid(raw, raw_t)
            out = _grid_predict(model, prepared, np.column_stack([gx.ravel(), gy.ravel()]))
            z = out[:, 0] if prepared.task == "binary" else np.argmax(out, axis=1)
            figs["decision_boundary"] = charts.decision_boundary_figure(
                xs, ys, z.reshape(gx.shape), raw, prepared.yraw_train, prepared.class_names,
                raw_t, prepared.yraw_test, feats, picture=picture)
        if want("confusion_matrix"):
            split = "test" if prepared.n_test else "train"
            X = prepared.X_test if prepared.n_test else prepared.X_train
            y = prepared.yraw_test if prepared.n_test else prepared.yraw_train
            out = _outputs(model, prepared, X)
            pred = (out[:, 0] >= 0.5).astype(int) if prepared.task == "binary" else np.argmax(out, axis=1)
            k = len(prepared.class_names)
            cm = np.zeros((k, k), dtype=int)
            np.add.at(cm, (y.astype(int), pred.astype(int)), 1)
            figs["confusion_matrix"] = charts.confusion_matrix_figure(
                cm, prepared.class_names, title=f"Confusion matrix ({split})")
    else:
        if plane and want("surface"):
            xs, ys, gx, gy = _grid(raw, raw_t)
            out = _grid_predict(model, prepared, np.column_stack([gx.ravel(), gy.ravel()]))
            z = np.asarray(prepared.preprocessor.inverse_y(out), dtype=float).reshape(gx.shape)
            figs["surface"] = charts.surface_figure(xs, ys, z, raw, prepared.yraw_train, raw_t, prepared.yraw_test,
                                                    feats, prepared.target, picture=picture)
        if raw is not None and raw.shape[1] == 1 and prepared.n_inputs == 1 and want("fit"):
            x0, x1 = _span(raw[:, 0], raw_t[:, 0] if raw_t is not None else None)
            xs = np.linspace(x0, x1, 300)
            yg = np.asarray(prepared.preprocessor.inverse_y(_grid_predict(model, prepared, xs[:, None])),
                            dtype=float).reshape(-1)
            figs["fit"] = charts.fitted_curve_figure(
                xs, yg, raw[:, 0], prepared.yraw_train, raw_t[:, 0] if raw_t is not None else None,
                prepared.yraw_test, feats[0], prepared.target)
        if want("predicted_vs_actual"):
            figs["predicted_vs_actual"] = charts.predicted_vs_actual_figure(
                prepared.yraw_train, _outputs(model, prepared, prepared.X_train),
                prepared.yraw_test, _outputs(model, prepared, prepared.X_test) if prepared.n_test else None,
                target_name=prepared.target)
    return figs


# ---------------------------------------------------------------- network view and explanations

NETWORK_GRID = 24   # points per side of the input plane each node's picture is drawn from


def _check_model(model, what, prepared=None):
    if model is None or getattr(model, "specs", None) is None:
        raise ValueError(f"There is no model yet: press Train (or Step) first, then {what}.")
    if prepared is not None and model.n_inputs != prepared.X_train.shape[1]:
        raise ValueError(f"The model takes {model.n_inputs} input(s) but the data gives {prepared.X_train.shape[1]}: "
                         f"train a model on this data first, then {what}.")


def _check_row(prepared, row):
    n = prepared.n_train
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
        try:
            row = int(str(row).strip())
        except ValueError:
            raise ValueError(f"The row must be a whole number from 0 to {n - 1}, got {row!r}.") from None
    if not 0 <= row < n:
        raise ValueError(f"Row {row} is out of range: the training data has {n} rows, numbered 0 to {n - 1}.")
    return int(row)


def _dense_layers(model):
    """``[{"W", "b", "activation"}, ...]`` of a built model (views, not copies)."""
    weights = model.get_weights()
    acts = [s["activation"] for s in model.specs if s["type"] == "dense"]
    return [{"W": weights[2 * k], "b": weights[2 * k + 1], "activation": a} for k, a in enumerate(acts)]


def _activations(layers, X):
    """Every column's outputs for the rows ``X`` (network inputs): ``[X, a1, a2, ...]``."""
    from mlp.activations import ACTIVATIONS
    out = [X]
    a = X
    with np.errstate(over="ignore", invalid="ignore"):   # a diverged model's inf/NaN are drawn, not warned about
        for layer in layers:
            z = a.dot(layer["W"])
            z += layer["b"]
            a = ACTIVATIONS[layer["activation"]](z)
            out.append(a)
    return out


def _unit_names(model, prepared):
    names = list(prepared.feature_names)
    if len(names) != model.n_inputs:
        names = [f"x{i + 1}" for i in range(model.n_inputs)]
    if prepared.task == "binary" and model.n_outputs == 1 and len(prepared.class_names) == 2:
        outs = [f"P({prepared.class_names[1]})"]
    elif prepared.task == "multiclass" and len(prepared.class_names) == model.n_outputs:
        outs = [str(c) for c in prepared.class_names]
    elif model.n_outputs == 1:
        outs = [str(prepared.target)]
    else:
        outs = [f"output {j + 1}" for j in range(model.n_outputs)]
    return names, outs


def _plane_inputs(model, prepared):
    """Network inputs on a NETWORK_GRID x NETWORK_GRID grid over the raw 2-D input plane (top row first),
    or None when the raw data is not 2-D numbers."""
    raw, pre = prepared.raw_train, prepared.preprocessor
    if raw is None or raw.ndim != 2 or raw.shape[1] != 2 or pre is None:
        return None
    raw_t = prepared.raw_test
    x0, x1 = _span(raw[:, 0], raw_t[:, 0] if raw_t is not None else None)
    y0, y1 = _span(raw[:, 1], raw_t[:, 1] if raw_t is not None else None)
    gx, gy = np.meshgrid(np.linspace(x0, x1, NETWORK_GRID), np.linspace(y1, y0, NETWORK_GRID))
    X = np.asarray(_inputs(pre, np.column_stack([gx.ravel(), gy.ravel()])), dtype=model.dtype)
    return X if X.ndim == 2 and X.shape[1] == model.n_inputs else None


def network_figure(model, prepared, row=0):
    """The "Network" figure dict: every layer as a column of nodes, weights as coloured edges.

    When the raw data is 2-D every node (inputs and transformed inputs included) is a small picture of
    its output over the input plane; otherwise nodes are coloured by their output for training row ``row``.
    """
    _check_model(model, "the network can be drawn", prepared)
    row = _check_row(prepared, row)
    layers = _dense_layers(model)
    x = np.asarray(prepared.X_train[row:row + 1], dtype=model.dtype)
    values = [a[0] for a in _activations(layers, x)]
    units = [_varying_inputs(prepared.X_train, charts.MAX_UNITS)] + [None] * len(layers)
    plane = _plane_inputs(model, prepared)
    grids = None
    if plane is not None:
        # only the units a column shows are pictured: the first MAX_UNITS (or the chosen inputs)
        k = charts.MAX_UNITS
        grids = [(a[:, units[c]] if units[c] is not None else a[:, :k]).T.reshape(-1, NETWORK_GRID, NETWORK_GRID)
                 for c, a in enumerate(_activations(layers, plane))]
    inputs, outputs = _unit_names(model, prepared)
    return charts.network_figure(layers, inputs, outputs, values=values, grids=grids, row=row, units=units)


def _varying_inputs(X, k, rows=256):
    """For more than ``k`` inputs, the ``k`` that vary most over the first ``rows`` training rows (in column
    order): the inputs worth drawing (an image's border pixels never change). None for ``k`` or fewer."""
    if X.shape[1] <= k:
        return None
    spread = np.asarray(X[:rows], dtype=float).std(axis=0)
    return np.sort(np.argsort(-spread, kind="stable")[:k])


def explain(model, prepared, row=0, weight=None, learning_rate=0.01):
    """"Explain a step": training row ``row`` through ``model``, every formula with its numbers (LaTeX).

    Returns ``{"row", "n_rows", "weight": {"layer", "i", "j", "label"}, "sections": [{"id", "title",
    "latex": [...], "code_name", "code_start", "code"}, ...], "values": {...}, "notes": [str]}``; the numbers come from
    ``model.trace`` (nothing in the model changes) and each section carries the lines of mlp/reference.py
    that compute it. ``weight``: ``(layer, i, j)`` with layer 1-based and ``i, j`` 0-based indices into that
    layer's ``W`` (n_in, n_out); None picks the first layer's weight with the largest gradient for the row.
    """
    from . import explain as ex
    _check_model(model, "a step can be explained", prepared)
    prepared = for_loss(prepared, model.loss)
    row = _check_row(prepared, row)
    notes = []
    if prepared.task == "regression" and prepared.preprocessor.target_mode == "count":
        notes.append(f"The target y is the count {prepared.target!r} as it is, and the network's output is the log "
                     "of its rate (the predicted mean count is exp of it).")
    elif prepared.task == "regression":
        notes.append(f"The target y is {prepared.target!r} standardised with the training rows' mean and standard "
                     "deviation: the network is trained on those units.")
    return ex.explain_step(model, prepared.X_train, prepared.y_train, row, prepared.n_train, weight=weight,
                           learning_rate=float(learning_rate), notes=notes)


# ---------------------------------------------------------------- sharing

def load_model(data):
    """Open a model file's bytes; a non-model file gives a ValueError saying so."""
    if not data:
        raise ValueError("The model file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"The file is larger than {MAX_UPLOAD_MB} MB; that is not a model saved by this app.")
    try:
        return mlp.from_bytes(bytes(data))
    except (ValueError, TypeError):
        raise
    except Exception as e:  # zipfile/json/numpy errors from a file that is not a model
        raise ValueError(f"This is not a model file saved by this app ({type(e).__name__}: {e}). "
                         f"Upload a file from 'Download model'.") from None


def model_info(model):
    """What a loaded model expects: inputs, outputs, feature columns, target, classes."""
    pre = getattr(model, "preprocessor", None)
    return {"n_inputs": model.n_inputs, "n_outputs": model.n_outputs, "n_params": model.n_params,
            "output_activation": model.output_activation, "loss": getattr(model, "loss_name", None) or model.loss,
            "features": list(pre.features) if pre is not None else None,
            "target": getattr(pre, "target", None), "task": getattr(pre, "task", None),
            "class_names": [str(c) for c in (getattr(pre, "class_names", None) or [])]}


def _csv_text(header, rows):
    """CSV text for a download that will likely be opened in a spreadsheet: text cells that a spreadsheet
    would run as a formula (``=``, ``+``, ``-``, ``@``, tab or CR first, e.g. a class name from a shared
    model file) get a leading ``'``, as OWASP advises; numbers are written as they are."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_inert(c) for c in header])
    w.writerows([_inert(c) for c in row] for row in rows)
    return buf.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell):
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        try:
            float(cell)        # "-1.5" or "+3" is a number, not a formula
        except ValueError:
            return "'" + cell
    return cell


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return "" if v is None else v


def _prediction_columns(model, X, pre):
    """(header, per-row values) of predictions (+ class probabilities) for model inputs X."""
    out = np.asarray(model.predict(X), dtype=float)
    if pre is None:
        return [f"output_{j}" for j in range(out.shape[1])], out.tolist()
    labels = list(pre.inverse_y(out))
    if getattr(pre, "task", None) == "regression" or not getattr(pre, "class_names", None):
        return [f"predicted_{pre.target}"], [[float(np.ravel([v])[0])] for v in labels]
    names = [str(c) for c in pre.class_names]
    probs = np.column_stack([1 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out
    header = [f"predicted_{pre.target}"] + [f"p({c})" for c in names]
    return header, [[labels[i]] + [round(float(p), 6) for p in probs[i]] for i in range(len(out))]


def predict_csv(model, data, notes=None):
    """Predictions for a CSV of raw columns (bytes/text/Table) as CSV text: its columns + predictions.
    Sentences the user should read (categories the model never saw) are appended to ``notes``."""
    table = read_table(data) if not isinstance(data, mdata.Table) else data
    pre = getattr(model, "preprocessor", None)
    if pre is None:
        X = _raw_features(table, table.columns)
        if X is None or X.shape[1] != model.n_inputs:
            raise ValueError(f"This model has no saved preprocessing; it needs exactly {model.n_inputs} "
                             f"numeric columns, the CSV has {len(table.columns)}.")
    else:
        need = list(pre.features)
        lacking = [c for c in need if c not in table.columns]
        if lacking:
            raise ValueError(f"The CSV lacks column(s) the model needs: {', '.join(lacking)}. "
                             f"The model needs: {', '.join(need)}; the CSV has: {', '.join(table.columns)}.")
        X = pre.transform_X(table)
        unseen = pre.unseen_categories(table) if notes is not None else None
        if unseen:
            notes.append(unseen_note(unseen, "rows"))
    header, cols = _prediction_columns(model, X, pre)
    rows = [[_fmt(v) for v in r] + c for r, c in zip(table.head(len(table)), cols)]
    return _csv_text(list(table.columns) + _unique(header, table.columns), rows)


def _unique(names, taken):
    """Rename ``names`` that clash with ``taken`` columns (suffix _2, _3...)."""
    taken, out = set(taken), []
    for n in names:
        new, k = n, 2
        while new in taken:
            new, k = f"{n}_{k}", k + 1
        taken.add(new)
        out.append(new)
    return out


def predictions_csv(model, prepared):
    """Train and test predictions of a run as CSV text: split, raw feature columns, target, predictions (a
    poisson model's: the predicted mean counts)."""
    prepared = for_loss(prepared, model.loss)
    pre = prepared.preprocessor
    feats = list(pre.features)
    parts, header = [], []
    for split, X, table in (("train", prepared.X_train, prepared.tables[0]),
                            ("test", prepared.X_test, prepared.tables[1])):
        if len(X) == 0:
            continue
        header, cols = _prediction_columns(model, X, pre)
        for r, c in zip(zip(*[table.column(f) for f in feats + [prepared.target]]), cols):
            parts.append([split] + [_fmt(v) for v in r] + c)
    base = ["split"] + feats + [prepared.target]
    return _csv_text(base + _unique(header, base), parts)
