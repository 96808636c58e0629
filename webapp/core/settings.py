"""The one settings table of the playground: every setting both apps show and every link carries.

Each :class:`Setting` row says its name (the key in a settings dict and in a link), its kind, default, range or
choices, how a control steps through it (``step``, ``presets``, ``scale``), its label and help text, its group
(``data``, ``network``, ``training``, ``view``), when it applies (``when``) and which front ends show it. The
Streamlit app builds its widgets from these rows, the browser page its controls (:func:`table` is the JSON form
the worker sends), :mod:`webapp.core.links` encodes and decodes the address from them, and
:class:`webapp.core.playground.Playground` trains with them. A new setting is one row here.

One rule for every value from outside (a link, a control, a caller), in :func:`check`:

- a value the row allows (in range, a known choice) is **kept** exactly, and every control can show it (a value
  between a control's presets is added to its list);
- anything else (not a number, out of range, an unknown choice, contradicting another setting) is **dropped**,
  the default is used, and one note says so: ``Ignored 'epochs=0' from the link: epochs must be a whole number
  from 1 to 10,000.``

This module imports only the standard library and ``mlp`` (no UI library), so it runs in Pyodide as well.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from types import MappingProxyType

import mlp

# ---------------------------------------------------------------- limits shared with webapp.core.session

MAX_SAMPLES = 5_000             # generated rows of a built-in dataset
MIN_SAMPLES = 20
MAX_EPOCHS = 10_000
MAX_ROWS = 200_000              # rows of an uploaded CSV (and so the largest batch)
MAX_COLUMNS = 1_000
MAX_CLASSES = 8                 # classes of the generated blobs / spiral (a CSV may have up to session.MAX_CLASSES)
MAX_SEED = 2**32 - 1
MAX_TEXT = 200                  # a column name or other text value
MAX_ARCH_CHARS = 2_000
MAX_SPLIT = 0.5                 # test and validation fractions
MAX_NOTES = 20

OPTIMIZERS = ("adam", "adamw", "sgd", "sgd_momentum", "rmsprop", "adagrad", "nadam")
TASKS = ("binary", "multiclass", "regression")
SOURCES = ("builtin", "csv")
GROUPS = ("data", "network", "training", "view")
FRONTS = ("streamlit", "browser")

_INT = re.compile(r"[-+]?\d{1,12}")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")


def datasets():
    """Names of the engine's built-in datasets."""
    return list(mlp.data.DATASETS)


def _transform_keys():
    return list(mlp.data.FEATURE_TRANSFORMS)


def _transform_labels():
    return {k: entry[0] for k, entry in mlp.data.FEATURE_TRANSFORMS.items()}


def _schedules():
    from mlp.training import SCHEDULES
    return ["constant"] + [s for s in SCHEDULES if s != "constant"]


def _losses():
    return list(mlp.LOSSES)


def _num(v):
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


class Invalid(Exception):
    """A value a setting cannot take; the message completes the sentence 'NAME must be ...'."""


@dataclass(frozen=True)
class Setting:
    """One row of the table.

    ``kind``: ``int`` | ``float`` (a number in ``[lo, hi]``, ``lo_open``/``hi_open`` excluding a bound),
    ``choice`` (one of ``choices``), ``batch`` (``"full"`` or a whole number from ``lo`` to ``hi``), ``arch``
    (list-syntax text the engine parses), ``text``, ``list`` (several of ``choices``), ``columns`` (CSV column
    names), ``bool``. ``choices``: a tuple or a function returning the names (the engine's registries).
    ``default`` None means "chosen from the data" (the architecture, the loss, the CSV columns).

    For the controls: ``control`` names the kind of control (``radio``, ``select``, ``slider``, ``number``,
    ``select_slider`` - a slider over ``presets`` plus the value shown -, ``checks``, ``text``, ``checkbox``,
    ``file`` - chosen from an uploaded file's columns -); ``step``; ``presets`` (the values a select offers;
    any other allowed value is added to them when it is the value shown); ``scale`` (``log`` for a rate);
    ``fmt`` (printf format of a number); ``option_labels`` (what each choice is called on screen).
    ``when``: ``{other setting: [values]}``: the setting applies (and is shown) only while each other setting has
    one of those values. ``fronts``: the front ends that show a control for it. ``link``: the address carries it.
    """

    name: str
    kind: str
    default: object
    label: str
    help: str
    group: str
    control: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    step: float | None = None
    presets: tuple = ()
    scale: str = "linear"
    fmt: str | None = None
    choices: object = None
    option_labels: object = None
    when: object = None
    fronts: tuple = FRONTS
    link: bool = True

    @property
    def csv_only(self):
        return dict(self.when or {}).get("source") == ("csv",)

    @property
    def builtin_only(self):
        return dict(self.when or {}).get("source") == ("builtin",)

    def allowed(self):
        """The allowed names of a choice or list setting (resolved now: registries can grow)."""
        c = self.choices() if callable(self.choices) else self.choices
        return list(c or ())

    def labels(self):
        """``{choice: text on screen}`` for a choice or list setting."""
        lab = self.option_labels() if callable(self.option_labels) else (self.option_labels or {})
        return {c: lab.get(c, str(c)) for c in self.allowed()}

    def rule(self):
        """What a valid value is, as the end of a sentence."""
        if self.kind in ("int", "float"):
            what = "a whole number" if self.kind == "int" else "a number"
            if not (self.lo_open or self.hi_open):
                return f"{what} from {_num(self.lo)} to {_num(self.hi)}"
            low = f"greater than {_num(self.lo)}" if self.lo_open else f"at least {_num(self.lo)}"
            high = f"below {_num(self.hi)}" if self.hi_open else f"at most {_num(self.hi)}"
            return f"{what} {low} and {high}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.allowed())
        if self.kind == "batch":
            return f"'full' or a whole number from {_num(self.lo)} to {_num(self.hi)}"
        if self.kind == "arch":
            return "an architecture in the list syntax, e.g. " + mlp.architecture.EXAMPLE
        if self.kind == "text":
            return f"a name of 1 to {MAX_TEXT} characters"
        if self.kind == "list":
            return "a comma-separated list of " + ", ".join(self.allowed())
        if self.kind == "bool":
            return "true or false"
        return f"a comma-separated list of 1 to {MAX_COLUMNS:,} distinct column names"

    def applies(self, settings):
        """True when this setting is in use with ``settings`` (its ``when`` holds; defaults fill the gaps)."""
        for other, values in dict(self.when or {}).items():
            v = settings.get(other) if other in settings else SETTINGS[other].default
            if v not in values:
                return False
        return True

    def options(self, value=None):
        """The values a select or select_slider control offers: the presets (or the choices), plus ``value``
        when it is allowed but not among them (so every allowed value can be shown), sorted for numbers."""
        if self.kind in ("choice", "list"):
            return self.allowed()
        opts = list(self.presets)
        if value is not None and value not in opts:
            try:
                parse(self, value)
            except Invalid:
                return opts
            opts.append(value)
            nums = sorted(o for o in opts if not isinstance(o, str))
            opts = nums + [o for o in opts if isinstance(o, str)]
        return opts

    def as_dict(self):
        """The row as JSON-safe data (choices and labels resolved): what the browser page builds controls from."""
        out = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label,
               "help": self.help, "group": self.group, "control": self.control, "lo": self.lo, "hi": self.hi,
               "lo_open": self.lo_open, "hi_open": self.hi_open, "step": self.step, "presets": list(self.presets),
               "scale": self.scale, "fmt": self.fmt, "when": {k: list(v) for k, v in dict(self.when or {}).items()},
               "fronts": list(self.fronts), "link": self.link, "rule": self.rule()}
        if self.kind in ("choice", "list"):
            out["choices"] = self.allowed()
            out["option_labels"] = self.labels()
        return out


_LR_PRESETS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
_PENALTIES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
_BUILTIN = {"source": ("builtin",)}
_CSV = {"source": ("csv",)}

# The table, in link order. Defaults: the first Train is circles with 1,000 rows and a small ReLU network (the
# data's default architecture), Adam at 0.003 for 300 epochs of batches of 16: the boundary bends from a line to
# a ring over about a second of training (see README, "The Streamlit app", for the measurements).
SETTINGS = MappingProxyType({s.name: s for s in (
    Setting("source", "choice", "builtin", "Data source", "A built-in dataset, or a CSV file you upload.",
            "data", "radio", choices=SOURCES, option_labels={"builtin": "Built-in dataset", "csv": "Upload CSV"}),
    Setting("dataset", "choice", "circles", "Dataset", "One of the engine's generated datasets.", "data", "select",
            choices=datasets, when=_BUILTIN),
    Setting("n_samples", "int", 1000, "Samples", "How many points are generated (training, validation and test "
            "rows together).", "data", "slider", lo=MIN_SAMPLES, hi=MAX_SAMPLES, step=10, when=_BUILTIN),
    Setting("noise", "float", 0.1, "Noise", "Standard deviation of the Gaussian noise added to the points "
            "(classification) or to the target (regression; counts: to the log of the rate).", "data", "slider",
            lo=0.0, hi=1.0, step=0.01, fmt="%.2f", when=_BUILTIN),
    Setting("data_seed", "int", 0, "Data seed", "Seeds the generated points and the train/test split.", "data",
            "number", lo=0, hi=MAX_SEED, step=1),
    Setting("test_size", "float", 0.2, "Test split", "Share of the rows held out for testing; the model never "
            "trains on them.", "data", "slider", lo=0.0, hi=MAX_SPLIT, step=0.05, fmt="%.2f"),
    Setting("n_classes", "int", 3, "Classes", "Number of classes of the blobs and spiral datasets.", "data",
            "slider", lo=2, hi=MAX_CLASSES, step=1, when={**_BUILTIN, "dataset": ("blobs", "spiral")}),
    Setting("transforms", "list", [], "Extra inputs", "Extra inputs computed from x1 and x2 (2-D data only), as in "
            "TensorFlow Playground; the model file carries them.", "data", "checks", choices=_transform_keys,
            option_labels=_transform_labels),
    Setting("arch", "arch", None, "Architecture", "List syntax: input size, then layer sizes each followed by an "
            "activation; 'dropout(0.2)' may follow a hidden layer. E.g. " + mlp.architecture.EXAMPLE
            + ". Empty: the data's default.", "network", "text"),
    Setting("loss", "choice", None, "Loss", "Only losses compatible with the output layer are offered "
            "(bce needs sigmoid, cce needs softmax). poisson is offered for a regression whose target is a count "
            "(0 or more, e.g. the counts dataset; a CSV's count column may need the task 'regression'): the "
            "network then predicts the log of the rate and the predictions are mean counts.", "network", "select",
            choices=_losses),
    Setting("optimizer", "choice", "adam", "Optimizer", "The update rule (PyTorch's formulas and defaults).",
            "training", "select", choices=OPTIMIZERS),
    Setting("learning_rate", "float", 0.0001, "Learning rate", "The step size of each update.", "training",
            "select_slider", lo=0.0, hi=10.0, lo_open=True, presets=_LR_PRESETS, scale="log"),
    Setting("epochs", "int", 300, "Epochs", "Passes over the training rows in one Train.", "training", "number",
            lo=1, hi=MAX_EPOCHS, step=1),
    Setting("batch_size", "batch", 8, "Batch size", "Rows per update; 'full' is the whole training set at once.",
            "training", "select", lo=1, hi=MAX_ROWS, presets=(1, 8, 16, 32, 64, 128, 256, "full")),
    Setting("lr_schedule", "choice", "constant", "LR schedule", "constant: the same learning rate throughout; "
            "exponential: lr x decay each epoch; step: x0.1 every third of the epochs; cosine: anneal to 0.",
            "training", "select", choices=_schedules),
    Setting("lr_decay", "float", 0.999, "LR decay (per epoch)", "The learning rate is multiplied by this after "
            "every epoch.", "training", "number", lo=0.5, hi=1.0, step=0.001, fmt="%.3f",
            when={"lr_schedule": ("exponential",)}),
    Setting("weight_decay", "float", 0.0, "L2", "Weight decay (L2 regularization).", "training", "select_slider",
            lo=0.0, hi=1.0, presets=_PENALTIES),
    Setting("l1", "float", 0.0, "L1", "Adds L1 x sum|W| over the weight matrices (biases excluded) to the loss.",
            "training", "select_slider", lo=0.0, hi=1.0, presets=_PENALTIES),
    Setting("dropout", "float", 0.0, "Dropout", "Adds dropout(p) after each hidden layer; ignored when the "
            "architecture already has dropout layers.", "network", "slider", lo=0.0, hi=0.9, step=0.05,
            fmt="%.2f"),
    Setting("validation_split", "float", 0.2, "Validation split", "Part of the training rows held out for the "
            "validation curve and early stopping.", "training", "slider", lo=0.0, hi=MAX_SPLIT, step=0.05,
            fmt="%.2f"),
    Setting("early_stopping", "int", 0, "Early stop patience", "Stop after this many epochs without improvement "
            "of the validation loss (the training loss without a validation split); 0 = off.", "training",
            "number", lo=0, hi=MAX_EPOCHS, step=1),
    Setting("seed", "int", 0, "Model seed", "Seeds the initial weights, dropout and the shuffling.", "network",
            "number", lo=0, hi=MAX_SEED, step=1),
    Setting("target", "text", None, "Target column", "The column to predict.", "data", "file", when=_CSV),
    Setting("features", "columns", None, "Feature columns", "The columns the network reads.", "data", "file",
            when=_CSV),
    Setting("task", "choice", None, "Task", "Detected from the target column; override it if needed.", "data",
            "file", choices=TASKS, when=_CSV),
    Setting("drop_missing", "bool", False, "Drop rows with missing values", "Rows with a missing value in a "
            "column used are left out (otherwise such a file is refused, naming the columns).", "data",
            "checkbox", when=_CSV),
    Setting("live", "bool", True, "Live charts while training", "Redraw the loss curve, the decision boundary "
            "and the network view several times a second while training runs (off: only the progress moves).",
            "view", "checkbox", link=False),
)})

LINK_SETTINGS = tuple(k for k, s in SETTINGS.items() if s.link)


def defaults(link_only=False):
    """Every setting's default (None = chosen from the data: the architecture, the loss, the CSV columns)."""
    return {k: (list(s.default) if isinstance(s.default, list) else s.default) for k, s in SETTINGS.items()
            if s.link or not link_only}


def table():
    """The table as JSON-safe rows (``Setting.as_dict``), in order."""
    return [s.as_dict() for s in SETTINGS.values()]


# ---------------------------------------------------------------- values: parse (text or native) and format


def split_list(text):
    """Split on commas not escaped by a backslash; ``\\,`` and ``\\\\`` are a literal comma and backslash."""
    items, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in ",\\":
            cur.append(text[i + 1])
            i += 2
            continue
        if c == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    items.append("".join(cur))
    return items


def join_list(items):
    """The inverse of :func:`split_list`."""
    return ",".join(str(x).replace("\\", "\\\\").replace(",", "\\,") for x in items)


def _in_range(s, v):
    ok_lo = v > s.lo if s.lo_open else v >= s.lo
    ok_hi = v < s.hi if s.hi_open else v <= s.hi
    if not (ok_lo and ok_hi):
        raise Invalid(s.rule())
    return v


def _as_int(s, v):
    if isinstance(v, str):
        if not _INT.fullmatch(v.strip()):
            raise Invalid(s.rule())
        v = int(v.strip())
    elif isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v != int(v):
        raise Invalid(s.rule())          # (numpy numbers and whole floats such as 150.0 are fine)
    return _in_range(s, int(v))


def _as_float(s, v):
    if isinstance(v, str):
        if not _FLOAT.fullmatch(v.strip()):
            raise Invalid(s.rule())
        v = float(v.strip())
    elif isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise Invalid(s.rule())
    v = float(v)
    if not math.isfinite(v):
        raise Invalid(s.rule())
    return _in_range(s, v)


def _as_name(v, allowed):
    if not isinstance(v, str):
        return None
    key = v.strip()
    if key in allowed:
        return key
    low = {a.lower(): a for a in allowed}
    return low.get(key.lower())


def is_text(v):
    """A name a setting can hold: 1 to MAX_TEXT characters, valid Unicode (no lone surrogates)."""
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_TEXT:
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse(s, v):
    """The canonical value of setting ``s`` from ``v`` (link text or a native value); raises :class:`Invalid`."""
    k = s.kind
    if k == "int":
        return _as_int(s, v)
    if k == "float":
        return _as_float(s, v)
    if k == "choice":
        name = _as_name(v, s.allowed())
        if name is None:
            raise Invalid(s.rule())
        return name
    if k == "batch":
        if v is None or (isinstance(v, str) and v.strip().lower() in ("full", "full batch", "none")):
            return "full"
        return _as_int(s, v)
    if k == "bool":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "1", "on", "yes", "false", "0", "off", "no"):
            return v.strip().lower() in ("true", "1", "on", "yes")
        raise Invalid(s.rule())
    if k == "arch":
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_ARCH_CHARS:
            raise Invalid(s.rule() + f" (at most {MAX_ARCH_CHARS:,} characters)")
        from . import session
        chk = session.check_architecture(v.strip())
        if not chk["ok"]:
            raise Invalid(s.rule() + "; " + chk["error"].rstrip("."))
        return v.strip()
    if k == "text":
        if not is_text(v):
            raise Invalid(s.rule())
        return v
    items = split_list(v) if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise Invalid(s.rule())
    if k == "list":
        if list(items) in ([""], []):
            return []
        out = [_as_name(x, s.allowed()) for x in items]
        if None in out or len(set(out)) != len(out):
            raise Invalid(s.rule() + " (each at most once)")
        return out
    # columns
    if not 1 <= len(items) <= MAX_COLUMNS or len(set(items)) != len(items) or not all(map(is_text, items)):
        raise Invalid(s.rule())
    return list(items)


def format_value(s, v):
    """Link text of a canonical value."""
    if s.kind == "float":
        return repr(float(v))
    if s.kind in ("list", "columns"):
        return join_list(v)
    if s.kind == "bool":
        return "true" if v else "false"
    return str(v)


# ---------------------------------------------------------------- notes


def clean(text, limit=60):
    """``text`` safe to show: control characters removed, shortened."""
    text = "".join(c for c in str(text) if c.isprintable())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _shown(key, value):
    """``key=value`` as the user would read it in the address bar."""
    text = value if isinstance(value, str) else join_list(value) if isinstance(value, (list, tuple)) else repr(value)
    return clean(f"{key}={text}")


def ignored(key, value, why):
    """The one note for a dropped value."""
    return f"Ignored '{_shown(key, value)}' from the link: {why}."


def refused(s, value, rule, kept):
    """The one note for a value typed into setting ``s``'s control that it cannot take: what is wrong, what is
    allowed (``rule``), and the value the control keeps. (A link's value gets :func:`ignored`'s note.)"""
    def shown(v):
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v)) or "none"
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return clean(v, 40) if v is not None else "its default"
        return _num(v)
    return f"{s.label}: {shown(value)} cannot be used; it must be {rule}. {s.label} stays {shown(kept)}."


def unknown(key):
    """The note for a setting name this app does not have."""
    return f"'{clean(key, 40)}' is not a setting this app knows; it was ignored."


def limit_notes(notes):
    if len(notes) > MAX_NOTES:
        return notes[:MAX_NOTES - 1] + [f"… and {len(notes) - MAX_NOTES + 1} more values from the link were ignored."]
    return notes


# The engine computes every extra input from exactly two numeric features, x1 and x2 (mlp.data.preprocessing).
TRANSFORM_INPUTS = 2


def transforms_for(n_inputs):
    """The transforms (choices of the ``transforms`` row) data with ``n_inputs`` numeric inputs can use: those
    whose variables (x1, x2) the data has, when it has the two inputs the engine computes them from; none for
    1-D data or more than two inputs (``n_inputs`` None: not known yet, none)."""
    if n_inputs != TRANSFORM_INPUTS:
        return []
    return [k for k in SETTINGS["transforms"].allowed()
            if all(int(i) <= n_inputs for i in re.findall(r"x(\d+)", k))]


def transforms_refused(transforms, what):
    """Why ``transforms`` cannot be used with the data (``what``: "the 'sine' dataset has 1")."""
    names = SETTINGS["transforms"].labels()
    return (f"{', '.join(names.get(t, t) for t in transforms)} need{'s' if len(transforms) == 1 else ''} two "
            f"inputs, x1 and x2, and {what}")


def dataset_inputs(name):
    """How many inputs a built-in dataset has (None: unknown name)."""
    return (mlp.data.DATASETS.get(name) or {}).get("n_features")


def task_of(settings):
    """The task the settings imply (a built-in dataset's, or a CSV's chosen task), or None."""
    from . import session
    if settings.get("source", "builtin") == "builtin":
        return session.BUILTIN_TASKS.get(settings.get("dataset", SETTINGS["dataset"].default))
    return settings.get("task")


def _cross_check(out, raw, notes):
    """Drop values that contradict others (each with a note)."""
    if out.get("source", "builtin") != "csv":
        for key in [k for k in out if SETTINGS[k].csv_only]:
            if out[key] != SETTINGS[key].default:      # (a default value is just left out)
                notes.append(ignored(key, raw[key], f"{key} applies only to a CSV source"))
            del out[key]
    if out.get("transforms"):                  # the extra inputs the data's inputs allow (a CSV's: its features)
        if out.get("source", "builtin") == "builtin":
            name = out.get("dataset", SETTINGS["dataset"].default)
            n = dataset_inputs(name)
            what = f"the {name!r} dataset has {n}"
        else:
            n = len(out["features"]) if out.get("features") else None
            what = f"the link names {n} feature column{'s' if n != 1 else ''}"
        bad = [t for t in out["transforms"] if n is not None and t not in transforms_for(n)]
        if bad:
            notes.append(ignored("transforms", raw["transforms"], transforms_refused(bad, what)))
            del out["transforms"]
    if out.get("loss") is not None:
        from . import session
        if out.get("arch") is not None:
            act = session.check_architecture(out["arch"])["output_activation"]
        else:
            task = task_of(out)
            act = session.OUTPUT_ACTIVATION.get(task) if task else None
        if act is not None:
            counts = (out.get("dataset", SETTINGS["dataset"].default) in session.BUILTIN_COUNTS
                      if out.get("source", "builtin") == "builtin" else None)   # a CSV's: when the file comes
            allowed = session.loss_choices(act, counts)
            if out["loss"] == "poisson" and "poisson" not in allowed and counts is False:
                notes.append(ignored("loss", raw["loss"], session.POISSON_ONLY_FOR_COUNTS))
                del out["loss"]
            elif out["loss"] not in allowed:
                notes.append(ignored("loss", raw["loss"], f"after a '{act}' output the loss must be one of "
                                                          f"{', '.join(allowed)}"))
                del out["loss"]


def check_items(items, link_only=True):
    """(settings, notes) from (key, value) pairs in any order; the last of a repeated key wins. Unknown keys and
    invalid values are dropped with a note each; a value of None is left out (the default applies)."""
    raw = {}
    for k, v in items:
        raw[k] = v
    out, notes = {}, []
    for key, value in raw.items():
        s = SETTINGS.get(key) if isinstance(key, str) else None
        if s is None or (link_only and not s.link):
            notes.append(ignored(key, value, f"'{clean(key, 40)}' is not a setting this app knows"))
            continue
        if value is None:
            continue
        try:
            out[key] = parse(s, value)
        except Invalid as e:
            notes.append(ignored(key, value, f"{key} must be {e}"))
    _cross_check(out, raw, notes)
    order = list(SETTINGS)
    return {k: out[k] for k in sorted(out, key=order.index)}, notes


def check(settings, link_only=True):
    """The valid part of ``settings`` (a dict of native values or link text) and a note per dropped value.
    ``link_only``: only the settings a link carries are known (False: view settings such as ``live`` too)."""
    if not isinstance(settings, dict):
        return {}, [f"Settings must be a dict, got {type(settings).__name__}."]
    out, notes = check_items(list(settings.items()), link_only)
    return out, limit_notes(notes)


# ---------------------------------------------------------------- settings -> the session's arguments

CFG_KEYS = ("arch", "loss", "optimizer", "learning_rate", "epochs", "batch_size", "lr_schedule", "lr_decay",
            "weight_decay", "l1", "dropout", "validation_split", "early_stopping", "seed")

def session_args(settings, checked=False):
    """What to pass to webapp.core.session for ``settings`` (defaults fill the gaps, invalid values are dropped):
    ``{"source": "builtin"|"csv", "prepare": kwargs of prepare_builtin (or prepare_csv, after the data),
    "cfg": the cfg dict of build_model/train}``. ``checked``: the values are canonical already (a Playground's):
    they are used as they are, without the cross-checks (so the session can say what does not fit)."""
    s = defaults()
    s.update({k: v for k, v in settings.items() if v is not None} if checked else check(settings, link_only=False)[0])
    transforms = list(s["transforms"])
    if s["source"] == "csv":
        prepare = {"target": s["target"], "features": s["features"], "task": s["task"],
                   "test_size": s["test_size"], "seed": s["data_seed"], "drop_missing": bool(s["drop_missing"])}
    else:
        prepare = {"name": s["dataset"], "n_samples": s["n_samples"], "noise": s["noise"], "seed": s["data_seed"],
                   "test_size": s["test_size"], "n_classes": s["n_classes"]}
    if transforms:
        prepare["transforms"] = tuple(transforms)
    cfg = {k: s[k] for k in CFG_KEYS}
    cfg["batch_size"] = None if s["batch_size"] == "full" else s["batch_size"]
    if s["lr_schedule"] != "exponential":
        cfg["lr_decay"] = 1.0           # the decay applies only to that schedule (its row's `when`)
    return {"source": s["source"], "prepare": prepare, "cfg": cfg}


# What webapp.core.session.build_model / start_training take when a cfg leaves a key out: the defaults' cfg
# (lr_schedule None is the engine's own default: the exponential schedule with lr_decay, here 1.0 = constant).
DEFAULT_CONFIG = MappingProxyType({**session_args({})["cfg"], "lr_schedule": None})
