"""Guided lessons: one readable text file per lesson in this folder, a goal the app checks after each run.

A lesson file (``NN-slug.md``) is Markdown with a few header lines under its title::

    # 2 · XOR needs a hidden layer
    Setup: dataset=xor&arch=[2, 1, 'sigmoid']&epochs=300      (link settings: the names of links.SETTINGS)
    Goal: test accuracy ≥ 0.95 with at most 4 hidden units    (what the learner reads)
    Check: test_accuracy >= 0.95 and hidden_units <= 4        (what the app evaluates: see METRICS)
    Solution: dataset=xor&arch=[2, 4, 'tanh', 1, 'sigmoid']&epochs=300
    Race: sgd, adam                                           (optional: the goal needs an optimizer race)

    The text: paragraphs, KaTeX formulas between $...$ or $$...$$.

    ## Hints
    - one hint per item

Only the standard library is used to read lessons (this module works in Pyodide); ``check_goal`` reads a
finished run (model, prepared data, History, and the Race when the lesson has one). A check is a conjunction
of comparisons, ``term op term [and ...]``, a term being a number, a metric name, a quoted name, or a number
times a metric (``3 * race_adam_loss``); ops ``< <= > >= == !=``. It is parsed, never ``eval``-ed.

API
---
``load_lessons(folder=None) -> list[Lesson]``    every lesson, by number (validated: numbers 1..N, fields, checks)
``parse_lesson(text, name="lesson") -> Lesson``  one file's text
``Lesson``: number, title, label ("2 · XOR ..."), slug, setup, solution (query strings), goal, goal_line
    ("Goal: ..."), check (text), race (tuple of optimizer names, () when none), text (Markdown), hints
``lesson_settings(lesson, which="setup") -> dict``  the link settings (``links.decode``) of setup or solution
``run_metrics(model, prepared, history, race=None) -> {name: value}``  the METRICS of a finished run
``check_goal(lesson, model, prepared, history, race=None) -> (met, details)``  details: one dict per comparison
    ``{"text", "met", "values": {metric: value}, "words"}``, plus ``{"text", "met": False, "missing": [...],
    "words"}`` when a metric is not available (e.g. a race lesson checked without a race); ``words``: the
    comparison said with the run's numbers ("test accuracy is 0.91; the goal is at least 0.95")
``goal_message(met, details) -> str``  "Goal reached" or "Not yet: " and the unmet comparisons' words
``race_for(prepared, cfg, optimizers=None) -> mlp.Race``  the race the app runs (fresh weights from ``cfg``)
``Progress``: lessons done in a visit; ``to_json()`` / ``Progress.from_json(text)`` for localStorage
``formulas(text) -> [(latex, display)]``  the KaTeX formulas of a lesson text ($$...$$ display, $...$ inline)
``markdown_html(text) -> str``  a lesson text or hint as HTML (paragraphs, lists, **bold**, *italic*, `code`); formulas are
    kept as $...$ / $$...$$ text for KaTeX's auto-render; everything else is escaped
"""
from __future__ import annotations

import html
import json
import math
import os
import re
from dataclasses import dataclass, field

FOLDER = os.path.dirname(os.path.abspath(__file__))
FILE_PATTERN = re.compile(r"^(\d{2})-[a-z0-9-]+\.md$")
HEADER_KEYS = ("Setup", "Goal", "Check", "Solution", "Race")
REQUIRED = ("Setup", "Goal", "Check", "Solution")
OPTIMIZER_NAMES = ("sgd", "sgd_momentum", "rmsprop", "adam", "adamw", "adagrad", "nadam")


@dataclass(frozen=True)
class Lesson:
    number: int
    title: str
    slug: str
    setup: str
    solution: str
    goal: str
    check: str
    text: str
    hints: tuple = ()
    race: tuple = ()

    @property
    def label(self):
        """The entry's text: number, middle dot, title."""
        return f"{self.number} · {self.title}"

    @property
    def goal_line(self):
        return f"Goal: {self.goal}"


# ---------------------------------------------------------------- reading lesson files

_TITLE = re.compile(r"^#\s+(\d+)\s*·\s*(.+?)\s*$")


def parse_lesson(text, name="lesson"):
    """A :class:`Lesson` from a lesson file's text; ValueError naming the file and what is wrong."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    m = _TITLE.match(lines[0]) if lines else None
    if not m:
        raise ValueError(f"{name}: the first line must be the title, '# <number> · <title>'.")
    number, title = int(m.group(1)), m.group(2)
    header, i = {}, 1
    while i < len(lines) and lines[i].strip():
        key, sep, value = lines[i].partition(":")
        if not sep or key.strip() not in HEADER_KEYS:
            raise ValueError(f"{name}: line {i + 1} should be one of {', '.join(k + ':' for k in HEADER_KEYS)} "
                             f"(then a blank line before the text), got {lines[i]!r}.")
        if key.strip() in header:
            raise ValueError(f"{name}: '{key.strip()}:' appears twice.")
        header[key.strip()] = value.strip()
        i += 1
    missing = [k for k in REQUIRED if not header.get(k)]
    if missing:
        raise ValueError(f"{name}: missing {', '.join(k + ':' for k in missing)} under the title.")
    body = "\n".join(lines[i:]).strip()
    text_part, _, hints_part = body.partition("## Hints")
    hints = tuple(h[1:].strip() for h in _items(hints_part))
    if not text_part.strip():
        raise ValueError(f"{name}: the lesson has no text.")
    race = tuple(r.strip() for r in header.get("Race", "").split(",") if r.strip())
    unknown = [r for r in race if r not in OPTIMIZER_NAMES]
    if unknown:
        raise ValueError(f"{name}: Race: unknown optimizer(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(OPTIMIZER_NAMES)}.")
    parse_check(header["Check"], name)       # fails early on a bad check
    slug = os.path.splitext(os.path.basename(name))[0]
    return Lesson(number=number, title=title, slug=slug, setup=header["Setup"], solution=header["Solution"],
                  goal=header["Goal"], check=header["Check"], text=text_part.strip(), hints=hints, race=race)


def _items(text):
    """The '- ' items of a Markdown list (continuation lines joined)."""
    items = []
    for line in text.split("\n"):
        if line.startswith("- "):
            items.append(line)
        elif line.strip() and items:
            items[-1] += " " + line.strip()
    return items


def load_lessons(folder=None):
    """Every lesson in ``folder`` (default: this package's folder), sorted by number."""
    folder = folder or FOLDER
    names = sorted(n for n in os.listdir(folder) if n.endswith(".md"))
    lessons = []
    for n in names:
        if not FILE_PATTERN.match(n):
            raise ValueError(f"{n}: lesson files are named NN-words.md (two digits, lower-case words).")
        with open(os.path.join(folder, n), encoding="utf-8") as f:
            lesson = parse_lesson(f.read(), n)
        if lesson.number != int(n[:2]):
            raise ValueError(f"{n}: its title says lesson {lesson.number}, its file name {int(n[:2])}.")
        lessons.append(lesson)
    numbers = [le.number for le in lessons]
    if numbers != list(range(1, len(lessons) + 1)):
        raise ValueError(f"Lessons must be numbered 1, 2, 3, ... without gaps; found {numbers}.")
    return lessons


def _links():
    try:                                    # webapp/core/links.py once the core package holds it
        from .. import links
    except ImportError:
        from ... import links               # webapp/links.py
    return links


def lesson_settings(lesson, which="setup"):
    """The settings dict of the lesson's ``setup`` or ``solution`` (through ``links.decode``; a value the
    links table refuses is an error here: the lesson files are ours)."""
    if which not in ("setup", "solution"):
        raise ValueError(f"which must be 'setup' or 'solution', got {which!r}.")
    decoded = _links().decode(getattr(lesson, which))
    if decoded.notes:
        raise ValueError(f"Lesson {lesson.number} {which}: " + " ".join(decoded.notes))
    return decoded.settings


# ---------------------------------------------------------------- checks: a tiny safe expression language

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[a-z_][a-z0-9_]*)"
                    r"|(?P<str>'[^']*')|(?P<op><=|>=|==|!=|<|>)|(?P<star>\*))")
_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


@dataclass(frozen=True)
class _Term:
    factor: float = 1.0
    name: str | None = None      # a metric
    value: object = None         # a number or a quoted name

    def names(self):
        return [self.name] if self.name else []

    def of(self, metrics):
        if self.name is None:
            return self.value
        v = metrics.get(self.name)
        if v is None:
            return None
        return v if self.factor == 1.0 or isinstance(v, str) else self.factor * v


@dataclass(frozen=True)
class _Comparison:
    left: _Term
    op: str
    right: _Term
    text: str = field(default="", compare=False)


def parse_check(text, where="check"):
    """The comparisons of a check (see the module docstring); ValueError saying what is wrong."""
    parts = re.split(r"\s+and\s+", text.strip())
    out = []
    for part in parts:
        tokens, pos = [], 0
        while pos < len(part):
            m = _TOKEN.match(part, pos)
            if not m or m.end() == pos:
                raise ValueError(f"{where}: cannot read {part[pos:]!r} in {text!r}.")
            kind = m.lastgroup
            tokens.append((kind, m.group(kind)))
            pos = m.end()
        ops = [i for i, (k, _) in enumerate(tokens) if k == "op"]
        if len(ops) != 1:
            raise ValueError(f"{where}: {part!r} must compare two terms with one of {' '.join(_OPS)}.")
        k = ops[0]
        out.append(_Comparison(_term(tokens[:k], part, where), tokens[k][1], _term(tokens[k + 1:], part, where),
                               text=part))
    for c in out:
        for name in c.left.names() + c.right.names():
            if name not in METRICS and not _race_metric(name):
                raise ValueError(f"{where}: unknown metric {name!r} in {text!r}; known: {', '.join(METRICS)}, "
                                 f"race_<optimizer>_loss.")
    return out


def _term(tokens, part, where):
    kinds = [k for k, _ in tokens]
    if kinds == ["num"]:
        return _Term(value=float(tokens[0][1]))
    if kinds == ["str"]:
        return _Term(value=tokens[0][1][1:-1])
    if kinds == ["name"]:
        return _Term(name=tokens[0][1])
    if kinds == ["num", "star", "name"]:
        return _Term(factor=float(tokens[0][1]), name=tokens[2][1])
    if kinds == ["name", "star", "num"]:
        return _Term(factor=float(tokens[2][1]), name=tokens[0][1])
    raise ValueError(f"{where}: each side of {part!r} must be a number, a metric, a 'name' or number * metric.")


def evaluate_check(text, metrics):
    """``(met, details)`` of the check ``text`` against ``metrics`` (a dict of name -> number or text)."""
    details, met = [], True
    for c in parse_check(text):
        names = c.left.names() + c.right.names()
        missing = [n for n in names if metrics.get(n) is None]
        if missing:
            details.append({"text": c.text, "met": False, "missing": missing})
            met = False
            continue
        a, b = c.left.of(metrics), c.right.of(metrics)
        if isinstance(a, str) != isinstance(b, str):
            ok = False
        else:
            ok = bool(_OPS[c.op](a, b)) if not (isinstance(a, float) and math.isnan(a)) else False
        details.append({"text": c.text, "met": ok, "values": {n: metrics[n] for n in names}})
        met = met and ok
    for c, d in zip(parse_check(text), details):
        d["words"] = _say(c, metrics)
    return met, details


# ---------------------------------------------------------------- a comparison in words, with the run's numbers

# metric -> how its value reads: ("value", noun) "<noun> is 0.91"; ("count", singular, plural) "<n> <noun>";
# ("flag", when 1, when 0) a state of the run; ("name", noun) "<noun> is adam"
_WORDS = {
    "test_accuracy": ("value", "test accuracy"), "train_accuracy": ("value", "training accuracy"),
    "test_loss": ("value", "the test loss"), "train_loss": ("value", "the training loss"),
    "test_r2": ("value", "the test R²"), "loss_gap": ("value", "the test loss minus the training loss"),
    "final_loss": ("value", "the last epoch's training loss"), "val_loss": ("value", "the validation loss"),
    "grad_ratio": ("value", "the first layer's gradient over the last layer's (median)"),
    "epochs": ("count", "the run trained {n} epoch", "the run trained {n} epochs"),
    "hidden_layers": ("count", "the network has {n} hidden layer", "the network has {n} hidden layers"),
    "hidden_units": ("count", "the network has {n} hidden unit", "the network has {n} hidden units"),
    "params": ("count", "the network has {n} weight or bias", "the network has {n} weights and biases"),
    "extra_inputs": ("count", "{n} feature transform is used", "{n} feature transforms are used"),
    "dead_units": ("count", "{n} ReLU unit is dead", "{n} ReLU units are dead"),
    "stopped_early": ("flag", "early stopping ended the run", "early stopping did not end the run"),
    "diverged": ("flag", "the loss diverged (it became NaN or infinite)", "the loss stayed finite"),
    "optimizer": ("name", "the optimizer"),
}
_BOUND = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than", "==": "exactly",
          "!=": "anything but"}
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}
_HOLDS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
          "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _num(v, near=None):
    """``v`` to 3 significant digits, more when that would read as ``near`` (0.9499 is not "0.95")."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    for digits in range(3, 10):
        text = f"{v:.{digits}g}"
        if near is None or float(text) != near or v == near:
            return text
    return repr(v)


def _racer(name):
    from .. import charts_learn          # the optimizers' display names
    opt = _race_metric(name)
    return f"{charts_learn.OPTIMIZER_LABELS.get(opt, opt)}'s final race loss"


def _noun(name):
    if _race_metric(name):
        return _racer(name)
    kind = _WORDS.get(name, ("value", name.replace("_", " ")))
    return kind[1] if kind[0] in ("value", "name") else f"the number of {METRICS[name][0]}"


def _say(c, metrics):
    """Comparison ``c`` in words, with the run's numbers: "test accuracy is 0.91; the goal is at least 0.95",
    "the network has 8 hidden units; at most 4 are allowed"; what to do when a number is missing."""
    names = c.left.names() + c.right.names()
    missing = [n for n in names if metrics.get(n) is None]
    if missing:
        race = any(_race_metric(n) for n in missing)
        what = " and ".join(_noun(n) for n in missing)
        return f"{what} {'is' if len(missing) == 1 else 'are'} not known yet ({'press Race optimizers' if race else 'train first'})"
    if len(names) == 2:
        return _say_two(c, metrics)
    # one metric against a constant: the metric first
    (term, op, bound) = (c.left, c.op, c.right.value) if c.left.name else (c.right, _FLIP[c.op], c.left.value)
    name, value = term.name, term.of(metrics)
    if term.factor != 1.0:                              # 2 * x >= 1: x against 1 / 2
        bound = bound / term.factor if isinstance(bound, float) else bound
        op = op if term.factor > 0 else _FLIP[op]
        value = metrics[name]
    kind = _WORDS.get(name, ("value", _noun(name)))
    if kind[0] == "name":
        want = f"the goal needs {bound}" if op == "==" else f"the goal needs {_BOUND[op]} {bound}"
        return f"{kind[1]} is {value}; {want}"
    if kind[0] == "flag":
        now = kind[1] if value else kind[2]
        want_on = _HOLDS[op](1.0, bound)
        want = kind[1] if want_on else kind[2]
        return f"{now}; the goal needs a run where {_present(want)}"
    if isinstance(value, float) and math.isnan(value):
        return f"{_noun(name)} is not a number (NaN); the goal is {_BOUND[op]} {_num(bound)}"
    if kind[0] == "count":
        n = int(value) if float(value).is_integer() else value
        have = (kind[1] if n == 1 else kind[2]).format(n=_num(float(n)))
        return f"{have}; {_allowed(op, bound)}"
    return f"{kind[1]} is {_num(value, bound)}; the goal is {_BOUND[op]} {_num(bound)}"


def _present(phrase):
    """A run's state said as what the goal wants ("the loss stayed finite" -> "the loss stays finite")."""
    return (phrase.replace("stayed", "stays").replace("did not end", "does not end").replace("ended", "ends")
            .replace("diverged", "diverges"))


def _allowed(op, bound):
    """What a count's bound allows: "at most 4 are allowed", "at least 2 are needed", "none is allowed"."""
    b = _num(float(bound))
    if op in ("<=", "<"):
        return "none is allowed" if (op == "<=" and bound == 0) or (op == "<" and bound == 1) else \
            f"{_BOUND[op]} {b} {'is' if bound == 1 and op == '<=' else 'are'} allowed"
    if op in (">=", ">"):
        return f"{_BOUND[op]} {b} {'is' if bound == 1 and op == '>=' else 'are'} needed"
    if op == "==":
        return "the goal allows none" if bound == 0 else f"the goal needs exactly {b}"
    return f"the goal needs any number but {b}"


def _say_two(c, metrics):
    """Two metrics compared (``10 * race_adam_loss <= race_sgd_loss``): both values, and the goal's factor."""
    a, b = c.left, c.right
    va, vb = metrics[a.name], metrics[b.name]
    have = f"{_noun(a.name)} is {_num(va)} and {_noun(b.name)} is {_num(vb)}"
    r = b.factor / a.factor                 # the goal: first op r * second
    if c.op in ("<=", "<") and 0 < r < 1:
        ratio = f", {_num(vb / va)} times lower" if va > 0 else ""
        return f"{have}{ratio}; the goal is at least {_num(1 / r)} times lower"
    if c.op in (">=", ">") and r > 1:
        ratio = f", {_num(va / vb)} times higher" if vb > 0 else ""
        return f"{have}{ratio}; the goal is at least {_num(r)} times higher"
    if r == 1.0:
        return f"{have}; the goal is that the first is {_BOUND[c.op]} the second"
    return f"{have}; the goal is {c.text}"


def goal_message(met, details):
    """The learner's line for a checked goal: "Goal reached", or "Not yet: " and each unmet comparison in
    words with the run's numbers, one sentence each."""
    if met:
        return "Goal reached"
    parts = [d.get("words") or d["text"] for d in details if not d["met"]]
    return "Not yet: " + ". ".join(p[:1].upper() + p[1:] if i else p for i, p in enumerate(parts)) + "."


# ---------------------------------------------------------------- metrics of a finished run

def _last(history, key):
    values = (getattr(history, "history", history) or {}).get(key) or []
    return float(values[-1]) if values else None


def _dense_units(model):
    return [s["units"] for s in model.specs if s["type"] == "dense"]


def _grad_ratio(history):
    """Median over the epochs of |dL/dW_1| / |dL/dW_L| (first layer over output layer)."""
    series = getattr(history, "history", history) or {}
    layers = sorted(int(k.split("/")[1]) for k in series if k.startswith("grad_norm/"))
    if len(layers) < 2:
        return None
    first, last = series[f"grad_norm/{layers[0]}"], series[f"grad_norm/{layers[-1]}"]
    ratios = sorted(a / b for a, b in zip(first, last) if b > 0)
    return ratios[len(ratios) // 2] if ratios else None


def _dead_units(history):
    series = getattr(history, "history", history) or {}
    values = [v[-1] for k, v in series.items() if k.startswith("dead/") and v]
    return float(sum(values)) if values else 0.0


def _stop(history, words):
    reason = getattr(history, "stop_reason", None) or ""
    return 1.0 if words in reason else 0.0


def _evaluation(run):
    if "evaluation" not in run:
        run["evaluation"] = _session().evaluate(run["model"], run["prepared"])
    return run["evaluation"]


def _session():
    from .. import session
    return session


def _split_metric(split, name):
    return lambda run: _evaluation(run).get(split, {}).get(name)


def _gap(run):
    ev = _evaluation(run)
    tr, te = ev.get("train", {}).get("loss"), ev.get("test", {}).get("loss")
    return None if tr is None or te is None else te - tr


def _optimizer(run):
    opt = getattr(run["model"], "optimizer", None)
    return opt.name if opt is not None else None


# name -> (what it is, function of the run dict {model, prepared, history, race})
METRICS = {
    "test_accuracy": ("accuracy on the test rows", _split_metric("test", "accuracy")),
    "train_accuracy": ("accuracy on the training rows", _split_metric("train", "accuracy")),
    "test_loss": ("loss on the test rows", _split_metric("test", "loss")),
    "train_loss": ("loss on the training rows (at the final weights)", _split_metric("train", "loss")),
    "test_r2": ("R² on the test rows (regression)", _split_metric("test", "r2")),
    "loss_gap": ("test loss minus training loss (overfitting)", _gap),
    "final_loss": ("the last epoch's training loss (the loss curve's end)", lambda r: _last(r["history"], "loss")),
    "val_loss": ("the last epoch's validation loss", lambda r: _last(r["history"], "val_loss")),
    "epochs": ("epochs trained", lambda r: float(len(getattr(r["history"], "epochs", []) or []))),
    "stopped_early": ("1 when early stopping ended the run", lambda r: _stop(r["history"], "early stopping")),
    "diverged": ("1 when the loss became NaN or infinite", lambda r: _stop(r["history"], "the loss became")),
    "hidden_layers": ("number of hidden layers", lambda r: float(len(_dense_units(r["model"])) - 1)),
    "hidden_units": ("units in all hidden layers", lambda r: float(sum(_dense_units(r["model"])[:-1]))),
    "params": ("weights and biases", lambda r: float(r["model"].n_params)),
    "extra_inputs": ("feature transforms used as inputs", lambda r: float(len(r["prepared"].transforms))),
    "grad_ratio": ("median over epochs of the first layer's gradient norm over the last layer's",
                   lambda r: _grad_ratio(r["history"])),
    "dead_units": ("dead relu units at the end", lambda r: _dead_units(r["history"])),
    "optimizer": ("the optimizer's name", _optimizer),
}


def _race_metric(name):
    """'race_adam_loss' -> 'adam' (the racer whose final training loss it is), else None."""
    m = re.fullmatch(r"race_([a-z_]+)_loss", name)
    return m.group(1) if m and m.group(1) in OPTIMIZER_NAMES else None


def run_metrics(model, prepared, history, race=None):
    """Every metric of a finished run (None where it does not apply), and ``race_<name>_loss`` per racer."""
    run = {"model": model, "prepared": prepared, "history": history, "race": race}
    out = {}
    for name, (_, fn) in METRICS.items():
        try:
            v = fn(run)
        except (KeyError, AttributeError, TypeError, ValueError):
            v = None
        out[name] = v if v is None or isinstance(v, str) else float(v)
    if race is not None:
        for name, loss in race.final_losses().items():
            out[f"race_{name}_loss"] = float(loss)
    return out


def check_goal(lesson, model, prepared, history, race=None):
    """``(met, details)``: whether the finished run (and race, for a race lesson) reaches ``lesson``'s goal.
    ``details`` as :func:`evaluate_check` gives them. ``model``/``history`` may be None (nothing trained
    yet): the metrics that need them are then missing, and a check that uses them is not met."""
    return evaluate_check(lesson.check, run_metrics(model, prepared, history, race))


def race_for(prepared, cfg, optimizers=None):
    """The optimizer race the app runs for ``cfg`` on ``prepared``: a fresh model from ``cfg`` (its seed's
    initial weights), each optimizer at ``cfg``'s learning rate, epochs and batch size."""
    import mlp
    session = _session()
    full = {**session.DEFAULT_CONFIG, **(cfg or {})}
    model = session.build_model(full, prepared)
    return mlp.race(model, prepared.X_train, prepared.y_train, optimizers=optimizers or mlp.RACE_OPTIMIZERS,
                    epochs=int(full["epochs"]), learning_rates=float(full["learning_rate"]),
                    batch_size=full["batch_size"])


# ---------------------------------------------------------------- progress

class Progress:
    """Which lessons a learner has done (goal reached at least once), by number. JSON for localStorage."""

    def __init__(self, done=()):
        self.done = set()
        for n in done:
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                self.done.add(n)

    def mark(self, number):
        self.done.add(int(number))
        return self

    def is_done(self, number):
        return int(number) in self.done

    def label(self, lesson):
        """The lesson's entry text with a ✓ when done."""
        return f"{lesson.label} ✓" if self.is_done(lesson.number) else lesson.label

    def to_json(self):
        return json.dumps({"done": sorted(self.done)})

    @classmethod
    def from_json(cls, text):
        """Progress from ``to_json``'s text; anything unreadable is no progress (never an error)."""
        try:
            data = json.loads(text) if text else {}
            return cls(data.get("done", ()) if isinstance(data, dict) else ())
        except (ValueError, TypeError, AttributeError):
            return cls()


# ---------------------------------------------------------------- text: formulas and a small Markdown subset

_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)


def formulas(text):
    """``[(latex, display)]`` of ``text``: ``$$...$$`` (display) and ``$...$`` (inline), in order."""
    return [(m.group(1).strip(), True) if m.group(1) is not None else (m.group(2).strip(), False)
            for m in _MATH.finditer(text)]


def _inline(text):
    """One paragraph's text as HTML: formulas kept verbatim (escaped), **bold** and `code` marked up."""
    out, pos = [], 0
    for m in _MATH.finditer(text):
        out.append(_marks(text[pos:m.start()]))
        out.append(html.escape(m.group(0), quote=False))
        pos = m.end()
    out.append(_marks(text[pos:]))
    return "".join(out)


def _marks(text):
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])", r"<em>\1</em>", text)


def markdown_html(text):
    """``text`` (a lesson's text or a hint) as HTML: blank-line separated paragraphs, ``- `` lists, display
    formulas on their own; see the module docstring."""
    blocks, out = re.split(r"\n\s*\n", text.strip()), []
    for block in blocks:
        lines = block.split("\n")
        if lines[0].startswith("- "):
            out.append("<ul>" + "".join(f"<li>{_inline(item[2:].strip())}</li>" for item in _items(block)) + "</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)
