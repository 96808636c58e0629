"""From a table to arrays: task detection, the :class:`Preprocessor` (encoding and standardisation that
travel with a model) and train/test splits."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._cells import clean_cell, label_text, list_names, object_array, parse_float, sortable_texts
from .table import Table

TASKS = ("binary", "multiclass", "regression")
#: How a regression target is given to the network: "standard" (standardised; ``inverse_y`` undoes it) or
#: "count" (kept as it is, never negative; the network's output is the log of the rate, ``inverse_y`` is exp)
TARGET_MODES = ("standard", "count")

#: Derived inputs for two numeric features, as in TensorFlow Playground: ``key -> (label, fn(x1, x2))``.
#: The one place to add a transform; ``fn`` takes and returns float arrays of raw (unscaled) values.
FEATURE_TRANSFORMS = {
    "x1^2": ("x1²", lambda x1, x2: x1 ** 2),
    "x2^2": ("x2²", lambda x1, x2: x2 ** 2),
    "x1*x2": ("x1·x2", lambda x1, x2: x1 * x2),
    "sin(x1)": ("sin(x1)", lambda x1, x2: np.sin(x1)),
    "sin(x2)": ("sin(x2)", lambda x1, x2: np.sin(x2)),
}
_MAX_MULTICLASS_INT = 20  # integer targets with more distinct values are regression

def _check_transforms(transforms, features):
    """Validated tuple of transform keys for ``features``."""
    if isinstance(transforms, str) or not hasattr(transforms, "__iter__"):
        raise TypeError(f"transforms must be a list of names such as ['x1^2', 'x1*x2'], not {transforms!r}.")
    transforms = tuple(transforms)
    for k in transforms:
        if not isinstance(k, str) or k not in FEATURE_TRANSFORMS:
            raise ValueError(f"unknown feature transform {k!r}; the transforms are {list_names(FEATURE_TRANSFORMS)}.")
    dup = sorted({k for k in transforms if transforms.count(k) > 1})
    if dup:
        raise ValueError(f"transforms list each name once; repeated: {list_names(dup)}.")
    if transforms and len(features) != 2:
        raise ValueError(
            f"feature transforms ({', '.join(transforms)}) need 2-D data: exactly two numeric features (x1, x2); "
            f"this data has {len(features)} feature column{'s' if len(features) != 1 else ''}."
        )
    return transforms


# --------------------------------------------------------------------------- task detection


def _present_values(values):
    """The non-missing values of a column: (floats, None, n) when all are numbers, else (None, the distinct
    texts, n)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = values.astype(np.float64).reshape(-1)
        arr = arr[~np.isnan(arr)]
        return arr, None, len(arr)
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        texts = values[values != None]  # noqa: E711 (elementwise, in C)
        # clean texts (a Table's) are read in C; any other object array (0, False, NaN, " a", "NA" in it)
        # is cleaned cell by cell below
        if set(map(type, texts)) <= {str}:
            distinct = np.unique(sortable_texts(texts)).tolist()
            if all(clean_cell(s) == s for s in distinct):
                try:
                    return texts.astype(np.float64), None, len(texts)
                except (TypeError, ValueError):
                    return None, distinct, len(texts)
    texts = [c for c in (clean_cell(v) for v in values) if c is not None]
    nums = [parse_float(t) for t in texts]
    if any(f is None for f in nums):
        return None, sorted(set(texts)), len(texts)
    return np.asarray(nums, dtype=np.float64), None, len(texts)


def detect_task(values):
    """Guess the learning task for a target column.

    Rules (missing values are ignored):

    - non-numeric values: 2 distinct -> ``"binary"``, more -> ``"multiclass"``
      (more than 50 distinct values that are also more than half the rows looks like an
      identifier or free text and raises ValueError);
    - numeric, all whole numbers, 2 distinct -> ``"binary"``;
    - numeric, all whole numbers, 3..20 distinct and at least 5 rows per distinct value on
      average (k <= n / 5) -> ``"multiclass"``;
    - anything else numeric -> ``"regression"``.

    A single distinct value raises ValueError ("only one class").
    """
    if isinstance(values, (str, bytes)):
        raise TypeError("detect_task expects a column of values (list or array), not a single string.")
    nums, distinct, n = _present_values(values)
    if n == 0:
        raise ValueError("the target column has no values (all are missing); choose another target.")
    if nums is not None:
        if not np.all(np.isfinite(nums)):
            raise ValueError("the target column contains infinite values; remove or fix them.")
        distinct = np.unique(nums)
        k = len(distinct)
        if k == 1:
            raise ValueError(
                f"the target has only one class / value ({label_text(distinct[0])}); "
                "a model needs at least two different target values."
            )
        whole = bool(np.all(distinct == np.floor(distinct)))
        if whole and k == 2:
            return "binary"
        if whole and k <= _MAX_MULTICLASS_INT and 5 * k <= n:
            return "multiclass"
        return "regression"
    k = len(distinct)
    if k == 1:
        raise ValueError(
            f"the target has only one class ({distinct[0]!r}); a classifier needs at least two classes."
        )
    if k > 50 and k > n / 2:
        raise ValueError(
            f"the target has {k} different text values in {n} rows; it looks like an identifier or "
            "free text, not a class label. Choose another target column."
        )
    return "binary" if k == 2 else "multiclass"


# --------------------------------------------------------------------------- Preprocessor


def _lookup(keys, values):
    """(index into ``keys`` of each value, found mask), in C: ``keys`` any order, no repeats."""
    if values.dtype == object:  # texts too long for a unicode array (sortable_texts): compared as objects
        keys = object_array(list(keys))
    else:
        keys = np.asarray(keys)
        if values.dtype.kind == "U" and keys.dtype.kind != "U":
            keys = keys.astype(str)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    pos = np.searchsorted(sk, values)
    pos[pos == len(sk)] = 0
    hit = sk[pos] == values if len(sk) else np.zeros(len(values), dtype=bool)
    return order[pos], np.asarray(hit, dtype=bool)


def _as_table(obj):
    if isinstance(obj, Table):
        return obj
    if hasattr(obj, "columns") and hasattr(obj, "to_numpy"):
        return Table.from_dataframe(obj)
    raise TypeError(f"expected a Table (or pandas DataFrame), got {type(obj).__name__}.")


def _copy_encoder(e):
    e = dict(e)
    if "categories" in e:
        e["categories"] = list(e["categories"])
    return e


_CONFIG_FORMAT = "mlp.data.Preprocessor"
_CONFIG_VERSION = 1
_OUTPUT = {"binary": ("sigmoid", "bce"), "multiclass": ("softmax", "cce"), "regression": ("linear", "mse")}


class Preprocessor:
    """Turns table columns into model inputs/targets and model outputs back into labels.

    - numeric features are standardised with the training mean and standard deviation
      (a constant column gets std 1);
    - other features are one-hot encoded over the sorted training categories; a category
      not seen during ``fit`` encodes as all zeros (``unseen_categories`` lists them);
    - ``transforms`` (keys of :data:`FEATURE_TRANSFORMS`, e.g. ``("x1^2", "x1*x2")``) need exactly two
      numeric features, x1 = ``features[0]`` and x2 = ``features[1]``: each adds one input computed from the
      raw values and standardised with its training mean and std, after the raw features;
    - classification targets map to indices of the sorted ``class_names`` (numeric labels
      are sorted by value and named by their text, e.g. ``"1"``); regression targets are
      standardised with the training mean and standard deviation (``inverse_y`` undoes it), so a
      target in the thousands trains as well as one near 1;
    - ``target_mode="count"`` (for the ``poisson`` loss) keeps a regression target as it is: a count or rate,
      never negative (a negative value is refused, naming the column and the value; fractions are allowed).
      The network's output is then the log of the rate and ``inverse_y`` gives the predicted mean count,
      ``exp(output)``. A task of None means regression in this mode (a count column would often be detected
      as classes).

    Missing feature or target values raise ValueError (drop those rows first). Call
    :meth:`fit` on training rows only; save/restore with :meth:`get_config` /
    :meth:`from_config`.
    """

    #: a text feature with more categories than this is refused (likely an ID column)
    MAX_CATEGORIES = 200

    def __init__(self, features, target, task=None, transforms=(), target_mode="standard"):
        if isinstance(features, str) or not hasattr(features, "__iter__"):
            raise TypeError("features must be a list of column names.")
        features = list(features)
        if not features:
            raise ValueError("features must name at least one input column.")
        for f in features:
            if not isinstance(f, str):
                raise TypeError(f"feature names must be strings; got {f!r}.")
        dup = sorted({f for f in features if features.count(f) > 1})
        if dup:
            raise ValueError(f"features list each column once; repeated: {list_names(dup)}.")
        if not isinstance(target, str):
            raise TypeError(f"target must be a column name (str), got {type(target).__name__}.")
        if target in features:
            raise ValueError(f"the target {target!r} cannot also be a feature; remove it from features.")
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)} or None (detect), got {task!r}.")
        if target_mode not in TARGET_MODES:
            raise ValueError(f"target_mode must be one of {', '.join(TARGET_MODES)}, got {target_mode!r}.")
        if target_mode == "count":
            if task not in (None, "regression"):
                raise ValueError(f"target_mode 'count' (the poisson loss) is for a regression target, not a "
                                 f"{task} one.")
            task = "regression"
        self._target_mode = target_mode
        self._transforms = _check_transforms(transforms, features)
        self._features = features
        self._target = target
        self._requested_task = task  # None -> detect at each fit
        self._task = task
        self._encoders = None  # list of dicts, one per feature, once fitted
        self._classes = None
        self._label_kind = None  # "text" | "number" for classification
        self._target_scale = None  # (mean, std) of a regression target
        self._transform_scales = None  # [(mean, std)] per transform, once fitted

    # -- properties
    @property
    def features(self):
        return list(self._features)

    @property
    def input_columns(self):
        """The raw table columns that transform_X needs."""
        return list(self._features)

    @property
    def target(self):
        return self._target

    @property
    def transforms(self):
        """Keys of the feature transforms (a tuple, in input order)."""
        return tuple(self._transforms)

    @property
    def task(self):
        return self._task

    @property
    def target_mode(self):
        """``"standard"`` or ``"count"`` (see the class docstring)."""
        return self._target_mode

    @property
    def is_fitted(self):
        return self._encoders is not None

    def _need_fit(self):
        if self._encoders is None:
            raise ValueError("this Preprocessor is not fitted yet; call fit(train_table) first.")

    @property
    def feature_names(self):
        """Names of the model inputs after one-hot encoding, e.g. ``["age", "color=red"]``."""
        self._need_fit()
        names = []
        for e in self._encoders:
            if e["kind"] == "numeric":
                names.append(e["column"])
            else:
                names.extend(f"{e['column']}={c}" for c in e["categories"])
        return names + [FEATURE_TRANSFORMS[k][0] for k in self._transforms]

    @property
    def n_inputs(self):
        self._need_fit()
        return sum(1 if e["kind"] == "numeric" else len(e["categories"]) for e in self._encoders) + len(
            self._transforms)

    @property
    def n_outputs(self):
        self._need_fit()
        return len(self._classes) if self._task == "multiclass" else 1

    @property
    def class_names(self):
        """Sorted class names (list of str) for classification, None for regression."""
        return None if self._classes is None else list(self._classes)

    @property
    def output_activation(self):
        self._need_fit()
        return _OUTPUT[self._task][0]

    @property
    def default_loss(self):
        self._need_fit()
        return "poisson" if self._target_mode == "count" else _OUTPUT[self._task][1]

    def __repr__(self):
        state = f"n_inputs={self.n_inputs}, n_outputs={self.n_outputs}" if self.is_fitted else "not fitted"
        return (
            f"Preprocessor(features={self._features!r}, target={self._target!r}, "
            + (f"transforms={self._transforms!r}, " if self._transforms else "")
            + f"task={self._task!r}"
            + (f", target_mode={self._target_mode!r}" if self._target_mode != "standard" else "")
            + f"; {state})"
        )

    # -- fitting
    def _check_present(self, table, cols, what):
        missing = [c for c in cols if c not in table]
        if missing:
            raise ValueError(
                f"the table is missing the {what} column(s) {list_names(missing)}; "
                f"it has {list_names(table.columns)}."
            )

    @staticmethod
    def _no_missing(table, col, role):
        """Raise if ``col`` has missing values (naming the first rows)."""
        miss = table.missing(col)
        if miss.any():
            rows = np.flatnonzero(miss) + 1
            shown = ", ".join(map(str, rows[:5].tolist())) + (", ..." if len(rows) > 5 else "")
            raise ValueError(
                f"{role} column {col!r} has {len(rows)} missing value(s) (row{'s' if len(rows) > 1 else ''} {shown}); "
                "drop those rows first (e.g. table.drop_missing()) or fill them in."
            )

    @staticmethod
    def _finite(x, what):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{what} contains infinite values; remove or fix them.")
        return x

    @staticmethod
    def _scale(x, what):
        """(mean, std) of a finite column; std 1 for a constant column (then it is only centred)."""
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = float(np.mean(x)), float(np.std(x))
        if not (math.isfinite(mean) and math.isfinite(std)):
            raise ValueError(f"{what} holds values too large to standardise (up to {np.max(np.abs(x)):.3g}); "
                             "rescale them first.")
        return mean, (std if std > 1e-12 * max(1.0, abs(mean)) else 1.0)

    def fit(self, table):
        """Learn encodings, scaling and classes from (training) rows; returns self."""
        table = _as_table(table)
        self._check_present(table, self._features + [self._target], "needed")
        if len(table) == 0:
            raise ValueError("cannot fit on a table with no rows.")
        encoders = []
        for col in self._features:
            self._no_missing(table, col, "feature")
            if table.is_numeric(col):
                x = self._finite(table.numbers(col)[0], f"feature column {col!r}")
                mean, std = self._scale(x, f"feature column {col!r}")
                encoders.append({"column": col, "kind": "numeric", "mean": mean, "std": std})
            else:
                cats = np.unique(sortable_texts(table.texts(col))).tolist()
                if len(cats) > self.MAX_CATEGORIES:
                    raise ValueError(
                        f"feature column {col!r} has {len(cats)} different text values; one-hot encoding "
                        f"allows at most {self.MAX_CATEGORIES}. It looks like an identifier or free text: "
                        "leave it out of the features."
                    )
                encoders.append({"column": col, "kind": "categorical", "categories": cats})

        scales = []
        if self._transforms:
            cats = [e["column"] for e in encoders if e["kind"] != "numeric"]
            if cats:
                raise ValueError(
                    f"feature transforms ({', '.join(self._transforms)}) need two numeric features, but "
                    f"{list_names(cats)} {'is' if len(cats) == 1 else 'are'} not numeric."
                )
            scales = [self._scale(raw, f"the feature transform {k!r}")
                      for k, raw in zip(self._transforms, self._derived(*self._x1_x2(table)))]

        self._no_missing(table, self._target, "target")
        task = self._requested_task or detect_task(table.values(self._target))
        classes, kind = None, None
        if task == "regression":
            if not table.is_numeric(self._target):
                bad = table.numbers(self._target)[1][1]
                raise ValueError(
                    f"task 'regression' needs a numeric target, but {self._target!r} holds {bad!r}. "
                    "Use a classification task or another target column."
                )
            yn = self._finite(table.numbers(self._target)[0], f"target {self._target!r}")
            if self._target_mode == "count":
                self._no_negative(table, yn)
                scale = None
            else:
                scale = self._scale(yn, f"target {self._target!r}")
        else:
            classes, kind = self._learn_classes(table)
            if len(classes) < 2:
                raise ValueError(
                    f"the target {self._target!r} has only one class ({classes[0]!r}); "
                    "a classifier needs at least two classes."
                )
            if task == "binary" and len(classes) != 2:
                raise ValueError(
                    f"task 'binary' needs exactly 2 classes but target {self._target!r} has "
                    f"{len(classes)}: {list_names(classes)}. Use task='multiclass'."
                )
        self._task, self._encoders, self._classes, self._label_kind = task, encoders, classes, kind
        self._target_scale = scale if task == "regression" else None
        self._transform_scales = scales
        return self

    def _no_negative(self, table, y):
        """Raise if a count target holds a negative value (naming the first one)."""
        if y.size and y.min() < 0:
            below = np.flatnonzero(y < 0)
            many = f"{len(below)} values below 0, the first " if len(below) > 1 else ""
            raise ValueError(
                f"the poisson loss needs a count target (0 or more), but target column {self._target!r} holds "
                f"{many}{table.texts(self._target)[below[0]]}; choose another loss (mse) or another target."
            )

    def _x1_x2(self, table):
        """The two (numeric) features' values, the transforms' x1 and x2."""
        return table.numbers(self._features[0])[0], table.numbers(self._features[1])[0]

    def _derived(self, x1, x2):
        """Raw (unscaled) values of each transform, as a list of float arrays."""
        out = []
        for k in self._transforms:
            with np.errstate(all="ignore"):
                v = np.asarray(FEATURE_TRANSFORMS[k][1](x1, x2), dtype=np.float64)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"the feature transform {k!r} gives infinite values (the inputs are too large).")
            out.append(v)
        return out

    def _derived_scaled(self, x1, x2):
        """The transform columns, standardised with the training statistics: (n, len(transforms))."""
        cols = [(v - m) / s for v, (m, s) in zip(self._derived(x1, x2), self._transform_scales)]
        return np.column_stack(cols) if cols else np.zeros((len(x1), 0))

    def _learn_classes(self, table):
        if table.is_numeric(self._target):
            nums = self._finite(table.numbers(self._target)[0], f"target {self._target!r}")
            return [label_text(v) for v in np.unique(nums).tolist()], "number"
        return np.unique(sortable_texts(table.texts(self._target))).tolist(), "text"

    # -- transforming
    def transform_X(self, table):
        """Feature matrix (float64, shape (n, n_inputs))."""
        self._need_fit()
        table = _as_table(table)
        self._check_present(table, self._features, "feature")
        n = len(table)
        X = np.zeros((n, self.n_inputs), dtype=np.float64)
        j = 0
        for e in self._encoders:
            col = e["column"]
            self._no_missing(table, col, "feature")
            if e["kind"] == "numeric":
                x, bad = table.numbers(col)
                if bad is not None:
                    table.numeric_column(col)  # raises the clear error (which row holds what)
                self._finite(x, f"feature column {col!r}")
                np.subtract(x, e["mean"], out=X[:, j])
                X[:, j] /= e["std"]
                j += 1
            else:
                k, hit = _lookup(e["categories"], sortable_texts(table.texts(col)))
                X[np.flatnonzero(hit), j + k[hit]] = 1.0  # unseen category -> all zeros
                j += len(e["categories"])
        if self._transforms:
            X[:, j:] = self._derived_scaled(*self._x1_x2(table))
        return X

    def unseen_categories(self, table):
        """``{column: {value: rows}}``: the categorical feature values in ``table`` that ``fit`` never saw
        and how many rows hold each (empty when there are none). ``transform_X`` encodes such a value as
        all zeros, so the model predicts as if the feature were absent; front ends say so."""
        self._need_fit()
        table = _as_table(table)
        self._check_present(table, self._features, "feature")
        out = {}
        for e in self._encoders:
            if e["kind"] == "numeric":
                continue
            u = sortable_texts(table.texts(e["column"])[~table.missing(e["column"])])
            _, hit = _lookup(e["categories"], u)
            if not hit.all():
                vals, counts = np.unique(u[~hit], return_counts=True)
                out[e["column"]] = dict(zip(vals.tolist(), counts.tolist()))
        return out

    def transform_numeric(self, X):
        """Standardise a float array of raw feature values (columns in ``features`` order) without a
        Table: the fast path for grids of points when every feature is numeric."""
        self._need_fit()
        if any(e["kind"] != "numeric" for e in self._encoders):
            raise ValueError("transform_numeric needs all-numeric features; use transform_X with a table.")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self._encoders):
            raise ValueError(f"expected an array of shape (n, {len(self._encoders)}), got {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise ValueError("the feature values contain NaN or infinite values.")
        mean = np.array([e["mean"] for e in self._encoders])
        std = np.array([e["std"] for e in self._encoders])
        out = (X - mean) / std
        if self._transforms:
            out = np.concatenate([out, self._derived_scaled(X[:, 0], X[:, 1])], axis=1)
        return out

    def _class_index(self, table):
        """Class index of every target value (vectorised); a clear error for an unknown class."""
        self._no_missing(table, self._target, "target")
        if self._label_kind == "number":
            nums, bad = table.numbers(self._target)
            if bad is None and not np.all(np.isfinite(nums)):
                bad = (int(np.flatnonzero(~np.isfinite(nums))[0]), None)
            if bad is not None:
                i = bad[0]
                raise ValueError(
                    f"target {self._target!r} row {i + 1} holds {table.texts(self._target)[i]!r}, but the classes "
                    f"are numbers ({list_names(self._classes)})."
                )
            k, hit = _lookup(np.array([float(c) for c in self._classes]), nums)
            key = lambda i: label_text(float(nums[i]))  # noqa: E731
        else:
            u = sortable_texts(table.texts(self._target))
            k, hit = _lookup(self._classes, u)
            key = lambda i: str(u[i])  # noqa: E731
        if not hit.all():
            i = int(np.flatnonzero(~hit)[0])
            raise ValueError(
                f"target {self._target!r} row {i + 1} holds the class {key(i)!r}, which was not seen "
                f"during fit (known classes: {list_names(self._classes)})."
            )
        return k

    def transform_y(self, table):
        """Targets: binary (n,1) float 0/1; multiclass (n,) int64; regression (n,1) float."""
        self._need_fit()
        table = _as_table(table)
        self._check_present(table, [self._target], "target")
        if self._task == "regression":
            self._no_missing(table, self._target, "target")
            y = self._finite(table.numeric_column(self._target), f"target {self._target!r}")
            if self._target_mode == "count":
                self._no_negative(table, y)
                return y.reshape(-1, 1).copy()
            mean, std = self._target_scale
            return ((y - mean) / std).reshape(-1, 1)
        labels = self._class_index(table).astype(np.int64)
        if self._task == "binary":
            return labels.astype(np.float64).reshape(-1, 1)
        return labels

    def inverse_y(self, outputs):
        """Model outputs -> predictions in original terms.

        binary: probabilities (n,1) or (n,) -> class names (p >= 0.5 is ``class_names[1]``);
        multiclass: scores (n,k) -> class name of the argmax, or class indices (n,) -> names;
        regression: (n,1) or (n,) -> float64 array (n,) in the target's units (target_mode "count": the
        outputs are log rates and the predicted mean counts ``exp(outputs)`` are returned).
        Class names are returned as a list of str. :meth:`inverse_target` turns ``transform_y``'s targets back.
        """
        self._need_fit()
        out = np.asarray(outputs)
        if out.dtype == object or out.dtype.kind not in "biuf":
            raise ValueError(f"outputs must be numeric, got dtype {out.dtype}.")
        out = out.astype(np.float64)
        if out.ndim == 0:
            raise ValueError("outputs must be an array with one row per sample.")
        if not np.all(np.isfinite(out)):
            raise ValueError("outputs contain NaN or infinite values (the model may have diverged).")
        if self._task in ("binary", "regression"):
            if not (out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)):
                raise ValueError(f"expected outputs of shape (n, 1) for {self._task}, got {out.shape}.")
            out = out.reshape(-1)
            if self._task == "regression":
                if self._target_mode == "count":
                    with np.errstate(over="ignore"):
                        return np.exp(out)
                mean, std = self._target_scale
                return out * std + mean
            return np.array(self._classes, dtype=object)[(out >= 0.5).astype(np.intp)].tolist()
        k = len(self._classes)
        if out.ndim == 2 and out.shape[1] == k:
            idx = np.argmax(out, axis=1)
        elif out.ndim == 1:
            if not np.all(out == np.round(out)) or (out.size and (out.min() < 0 or out.max() >= k)):
                raise ValueError(f"1-D outputs must be class indices 0..{k - 1}.")
            idx = out.astype(np.int64)
        else:
            raise ValueError(f"expected outputs of shape (n, {k}) (one score per class), got {out.shape}.")
        return np.array(self._classes, dtype=object)[idx].tolist()

    def inverse_target(self, y):
        """``transform_y``'s targets -> targets in original terms (as :meth:`inverse_y`, but a count target is
        returned as it is: it was never transformed)."""
        if self._task == "regression" and self._target_mode == "count":
            self._need_fit()
            return np.asarray(y, dtype=np.float64).reshape(-1)
        return self.inverse_y(y)

    # -- persistence
    def get_config(self):
        """A JSON-serialisable dict describing this preprocessor (floats round-trip exactly); ``to_config``
        is the same method."""
        cfg = {
            "format": _CONFIG_FORMAT,
            "version": _CONFIG_VERSION,
            "features": list(self._features),
            "target": self._target,
            "task": self._task,
            "encoders": None if self._encoders is None else [_copy_encoder(e) for e in self._encoders],
            "class_names": self.class_names,
            "label_kind": self._label_kind,
            "target_scale": None if self._target_scale is None else
            {"mean": self._target_scale[0], "std": self._target_scale[1]},
            "transforms": list(self._transforms),
            "transform_scales": None if self._transform_scales is None else
            [{"mean": m, "std": s} for m, s in self._transform_scales],
        }
        if self._target_mode != "standard":     # only then: a file of the standard mode is written as before
            cfg["target_mode"] = self._target_mode
        return cfg

    to_config = get_config

    @classmethod
    def from_config(cls, cfg):
        """Rebuild a Preprocessor from :meth:`get_config` output, validating every field."""

        def bad(msg):
            return ValueError(f"invalid Preprocessor config: {msg}")

        if not isinstance(cfg, dict):
            raise bad(f"expected a dict, got {type(cfg).__name__}.")
        keys = {"format", "version", "features", "target", "task", "encoders", "class_names", "label_kind",
                "target_scale", "transforms", "transform_scales", "target_mode"}
        # absent in files written before transforms / before the count target mode
        optional = {"transforms": [], "transform_scales": None, "target_mode": "standard"}
        cfg = {**optional, **cfg}
        if set(cfg) != keys:
            extra, lack = sorted(set(cfg) - keys, key=str), sorted(keys - set(cfg))
            raise bad(f"unexpected keys {extra} / missing keys {lack}.")
        if cfg["format"] != _CONFIG_FORMAT:
            raise bad(f"format must be {_CONFIG_FORMAT!r}, got {cfg['format']!r}.")
        if cfg["version"] != _CONFIG_VERSION or isinstance(cfg["version"], bool):
            raise bad(f"unsupported version {cfg['version']!r} (this code reads version {_CONFIG_VERSION}).")
        features, target, task = cfg["features"], cfg["target"], cfg["task"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise bad("features must be a list of strings.")
        if not isinstance(target, str):
            raise bad("target must be a string.")
        transforms = cfg["transforms"]
        if not isinstance(transforms, list):
            raise bad(f"transforms must be a list of names, got {transforms!r}.")
        mode = cfg["target_mode"]
        if not isinstance(mode, str) or mode not in TARGET_MODES:
            raise bad(f"target_mode must be one of {', '.join(TARGET_MODES)}, got {mode!r}.")
        if mode == "count" and task != "regression":
            raise bad(f"target_mode 'count' needs the task 'regression', got {task!r}.")
        try:
            pre = cls(features, target, task, transforms, target_mode=mode)
        except (TypeError, ValueError) as e:
            raise bad(str(e)) from None

        encoders, classes, kind = cfg["encoders"], cfg["class_names"], cfg["label_kind"]
        tscales = cfg["transform_scales"]
        if encoders is None:
            if classes is not None or kind is not None or cfg["target_scale"] is not None or tscales is not None:
                raise bad("an unfitted config must have class_names, label_kind, target_scale and "
                          "transform_scales null.")
            return pre
        if tscales is None and not transforms:
            tscales = []  # a file from before transforms existed
        if not isinstance(tscales, list) or len(tscales) != len(transforms) or not all(
            isinstance(d, dict) and set(d) == {"mean", "std"} and all(
                not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in d.values())
            and d["std"] > 0 for d in tscales
        ):
            raise bad("transform_scales must be a list with one {'mean': finite number, 'std': finite number > 0} "
                      "per transform.")
        tscales = [(float(d["mean"]), float(d["std"])) for d in tscales]
        if task is None:
            raise bad("a fitted config needs a task.")
        if not isinstance(encoders, list) or len(encoders) != len(features):
            raise bad("encoders must be a list with one entry per feature.")
        clean = []
        for f, e in zip(features, encoders):
            if not isinstance(e, dict) or e.get("column") != f:
                raise bad(f"encoder for feature {f!r} is missing or out of order.")
            if e.get("kind") == "numeric":
                if set(e) != {"column", "kind", "mean", "std"}:
                    raise bad(f"numeric encoder for {f!r} needs exactly column, kind, mean, std.")
                nums = []
                for key in ("mean", "std"):
                    v = e[key]
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                        raise bad(f"{key} of {f!r} must be a finite number, got {v!r}.")
                    nums.append(float(v))
                if nums[1] <= 0:
                    raise bad(f"std of {f!r} must be > 0, got {nums[1]!r}.")
                clean.append({"column": f, "kind": "numeric", "mean": nums[0], "std": nums[1]})
            elif e.get("kind") == "categorical":
                if set(e) != {"column", "kind", "categories"}:
                    raise bad(f"categorical encoder for {f!r} needs exactly column, kind, categories.")
                cats = e["categories"]
                if (
                    not isinstance(cats, list)
                    or not cats
                    or not all(isinstance(c, str) for c in cats)
                    or len(set(cats)) != len(cats)
                ):
                    raise bad(f"categories of {f!r} must be a non-empty list of distinct strings.")
                clean.append({"column": f, "kind": "categorical", "categories": list(cats)})
            else:
                raise bad(f"encoder kind for {f!r} must be 'numeric' or 'categorical', got {e.get('kind')!r}.")
        scale = cfg["target_scale"]
        if task == "regression" and mode == "count":
            if classes is not None or kind is not None or scale is not None:
                raise bad("a count target config must have class_names, label_kind and target_scale null.")
        elif task == "regression":
            if classes is not None or kind is not None:
                raise bad("regression configs must have class_names and label_kind null.")
            if not isinstance(scale, dict) or set(scale) != {"mean", "std"} or not all(
                not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in scale.values()
            ) or scale["std"] <= 0:
                raise bad("target_scale must be {'mean': finite number, 'std': finite number > 0} for regression.")
            scale = (float(scale["mean"]), float(scale["std"]))
        elif scale is not None:
            raise bad("target_scale must be null for classification.")
        else:
            if kind not in ("text", "number"):
                raise bad(f"label_kind must be 'text' or 'number', got {kind!r}.")
            if (
                not isinstance(classes, list)
                or not all(isinstance(c, str) for c in classes)
                or len(set(classes)) != len(classes)
                or len(classes) < 2
            ):
                raise bad("class_names must be a list of at least 2 distinct strings.")
            if task == "binary" and len(classes) != 2:
                raise bad(f"a binary task needs exactly 2 class_names, got {len(classes)}.")
            if kind == "number" and not all(
                (f := parse_float(c)) is not None and math.isfinite(f) and label_text(f) == c for c in classes
            ):
                raise bad("label_kind 'number' needs class_names written as numbers, e.g. ['0', '1', '2.5'].")
            classes = list(classes)
        pre._encoders, pre._classes, pre._label_kind = clean, classes, kind
        pre._target_scale = scale if task == "regression" and mode == "standard" else None
        pre._transform_scales = tscales
        if transforms and any(e["kind"] != "numeric" for e in clean):
            raise bad("feature transforms need two numeric features.")
        return pre


# --------------------------------------------------------------------------- splitting


def _length(a):
    if isinstance(a, Table):
        return len(a)
    if isinstance(a, np.ndarray):
        if a.ndim == 0:
            raise ValueError("cannot split a 0-d array.")
        return a.shape[0]
    try:
        return len(a)
    except TypeError:
        raise TypeError(f"cannot split a {type(a).__name__}; pass Tables, arrays or lists.") from None


def _take(a, idx):
    if isinstance(a, Table):
        return a.select_rows(idx)
    if isinstance(a, np.ndarray):
        return a[idx]
    if hasattr(a, "iloc"):  # pandas object
        return a.iloc[idx]
    return [a[int(i)] for i in idx]


def _stratified_test_indices(labels, n_test, rng):
    labels = [str(v) for v in labels]
    groups = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    n = len(labels)
    for lab, members in groups.items():
        if len(members) < 2:
            raise ValueError(
                f"class {lab!r} has only 1 row; stratified splitting needs at least 2 rows per class "
                "(or use stratify=None)."
            )
    keys = sorted(groups)
    ideal = {k: n_test * len(groups[k]) / n for k in keys}
    take = {k: min(int(math.floor(ideal[k])), len(groups[k]) - 1) for k in keys}
    # hand out the remainder by largest fractional part, never leaving a class without training rows
    order = sorted(keys, key=lambda k: (-(ideal[k] - take[k]), k))
    short = n_test - sum(take.values())
    while short > 0:
        progressed = False
        for k in order:
            if short and take[k] < len(groups[k]) - 1:
                take[k] += 1
                short -= 1
                progressed = True
        if not progressed:
            break
    test = []
    for k in keys:
        members = np.asarray(groups[k])
        test.extend(rng.permutation(members)[: take[k]].tolist())
    return np.asarray(test, dtype=np.int64)


def train_test_split(*arrays, test_size=0.2, seed=0, stratify=None):
    """Deterministic random split into train and test parts.

    ``train_test_split(table)`` -> ``(train_table, test_table)``;
    ``train_test_split(X, y)`` -> ``(X_train, X_test, y_train, y_test)`` (any number of
    equally long arrays, lists or Tables). ``test_size`` is a fraction in (0, 1) (rounded
    up, then kept within 1..n-1 rows) or a row count in 1..n-1. ``stratify`` is a sequence
    of labels (or, when splitting a single Table, a column name) whose class proportions
    both parts keep. Rows come out in shuffled order.
    """
    if not arrays:
        raise TypeError("train_test_split needs at least one Table or array to split.")
    lengths = [_length(a) for a in arrays]
    n = lengths[0]
    if any(m != n for m in lengths):
        raise ValueError(f"all inputs must have the same number of rows; got {lengths}.")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split into train and test parts, got {n}.")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise ValueError(f"test_size must be a fraction in (0, 1) or a row count, got {test_size!r}.")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(f"test_size={n_test} rows is not possible with {n} rows; use 1..{n - 1}.")
    else:
        frac = float(test_size)
        if not 0.0 < frac < 1.0:
            raise ValueError(
                f"test_size must be a fraction strictly between 0 and 1 (or a row count), got {test_size!r}."
            )
        n_test = min(max(int(math.ceil(frac * n - 1e-9)), 1), n - 1)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}.")
    rng = np.random.default_rng(seed)

    if stratify is None:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        if isinstance(stratify, str):
            if len(arrays) != 1 or not isinstance(arrays[0], Table):
                raise ValueError("stratify may be a column name only when splitting a single Table.")
            labels = arrays[0].column(stratify)
        else:
            if _length(stratify) != n:
                raise ValueError(f"stratify must have one label per row ({n}), got {_length(stratify)}.")
            labels = np.asarray(stratify, dtype=object).reshape(n, -1).tolist()
            labels = [tuple(r) if len(r) > 1 else r[0] for r in labels]
        if any(v is None for v in labels):
            raise ValueError("stratify labels contain missing values; drop those rows first.")
        test_idx = rng.permutation(_stratified_test_indices(labels, n_test, rng))
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        train_idx = rng.permutation(np.flatnonzero(mask))

    out = []
    for a in arrays:
        out.append(_take(a, train_idx))
        out.append(_take(a, test_idx))
    return tuple(out)


