"""Links that carry an experiment: the settings, and a small trained model, in a URL.

Both front ends use this module: the static site keeps the link in the URL fragment (``#k=v&...``, which
never reaches a server), Streamlit in ``st.query_params`` (``?k=v&...``). Nothing here raises on what a
link holds: every unknown key, malformed or out-of-range value is dropped with a plain sentence in
``Decoded.notes``, and the architecture is read by the engine's own parser (never ``eval``).

API
---
``SETTINGS``                     the table: one :class:`Setting` per key (kind, range/choices, default), in link order
``SHARE_MAX_PARAMS = 1000``      a link carries a trained model of at most this many parameters
``encode(settings, model=None) -> str``  ``k=v&...`` for every given setting (table order; a value of None is
                                 left out), plus ``model=...`` when the model has <= SHARE_MAX_PARAMS parameters.
                                 ``decode(encode(s)).settings == s`` for every valid ``s``. An invalid value
                                 raises ValueError (use :func:`check` first to drop such values with notes).
``decode(source) -> Decoded``    ``source``: a query string or fragment (leading ``#``/``?`` allowed), a whole
                                 address, or a mapping such as ``st.query_params.to_dict()`` (values: link text or
                                 native values; a list for a one-value setting is a repeated key: the last wins).
                                 ``.settings`` (valid ones only), ``.model`` (an ``mlp.MLP`` or None), ``.notes``
                                 (list of str), ``.needs_file`` (a CSV source: ask for the file, see ``CSV_ASK``).
``check(settings) -> (settings, notes)`` the valid part of a settings dict (values native or link text).
``share(settings, model=None, base="", mode="fragment"|"query") -> {"href", "carries_model", "note"}``
``defaults() -> dict``           every setting's default value.
``settings_from_model(model) -> dict``  arch, loss, optimizer, weight_decay, l1 (and transforms) of a model.
``session_args(settings) -> {"source", "prepare", "cfg"}``  what to call: ``session.prepare_builtin(**prepare)``
                                 (source "builtin") or ``session.prepare_csv(data, **prepare)`` (source "csv"),
                                 then ``session.build_model(cfg, prepared)`` / ``session.train(model, prepared, cfg)``.
``settings_from_session(prepare, cfg, source="builtin") -> dict``  the inverse: settings from those arguments.
``model_mismatch(model, prepared) -> str | None``  why a linked model cannot be shown on the prepared data.

The model payload is URL-safe base64 (no padding) of zlib-compressed ``model.to_bytes()`` of a copy of the
model whose optimizer state is reset (its configuration is kept) — the moments would triple the link — and
whose training history is kept only while the payload stays under ``HISTORY_BUDGET`` characters (first without
the per-layer gradient statistics, then not at all). Weights,
architecture, loss, optimizer settings and preprocessing (feature transforms included) travel bit-exact.
Opening one is bounded at every step (text length, decompressed size, parameter count read from the
archive's model.json before anything is built) and ends in ``mlp.from_bytes`` with all its validation.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import numbers
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, quote

import mlp

from . import session as S

SHARE_MAX_PARAMS = 1000
MAX_LINK_CHARS = 100_000        # a longer fragment/query is refused whole, unparsed
MAX_MODEL_CHARS = 60_000        # encoded model payload (keeps a Streamlit query under Tornado's 64 KB header limit)
HISTORY_BUDGET = 24_000         # the training history travels only while the payload stays this short
MAX_MODEL_BYTES = 1 << 20       # decompressed model file
MAX_JSON_BYTES = 256 << 10      # its model.json
MAX_NOTES = 20
MAX_TEXT = 200                  # a column name or other text value
MAX_ARCH_CHARS = 2_000
MAX_SEED = 2**32 - 1
MAX_NOISE = 2.0
MAX_LEARNING_RATE = 10.0
MAX_SPLIT = 0.9                 # test and validation fractions (the session takes < 1; 0.9 still leaves rows to train)
MODEL_KEY = "model"
_SAFE = ","                     # left unescaped in values (lists); everything else outside A-Za-z0-9_.-~ is %-escaped
_INT = re.compile(r"[-+]?\d{1,12}")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")
_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")

CSV_NOTE = "A CSV file cannot travel in a link: whoever opens it is asked for the file."
CSV_ASK = ("This link was made with a CSV file, which cannot travel in a link: upload the same file to restore "
           "the experiment (its settings are already set).")


class _Invalid(Exception):
    """A value a link cannot use; the message completes 'NAME must be ...'."""


# ---------------------------------------------------------------- the table


def _transform_keys():
    table = getattr(mlp.data, "FEATURE_TRANSFORMS", None)
    return list(table) if table else ["x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]


def _schedules():
    from mlp.training import SCHEDULES
    return list(SCHEDULES)


def _num(v):
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


@dataclass(frozen=True)
class Setting:
    """One link setting. ``kind``: int, float, choice, batch, arch, text, list, columns."""

    name: str
    kind: str
    default: object
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: object = None          # a tuple, or a function returning the allowed names
    csv_only: bool = False

    def allowed(self):
        c = self.choices() if callable(self.choices) else self.choices
        return list(c or ())

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
            return f"'full' or a whole number from 1 to {_num(self.hi)}"
        if self.kind == "arch":
            return "an architecture in the list syntax, e.g. " + mlp.architecture.EXAMPLE
        if self.kind == "text":
            return f"a name of 1 to {MAX_TEXT} characters"
        if self.kind == "list":
            return "a comma-separated list of " + ", ".join(self.allowed())
        return f"a comma-separated list of 1 to {S.MAX_COLUMNS:,} distinct column names"


_D = S.DEFAULT_CONFIG
SETTINGS = MappingProxyType({s.name: s for s in (
    Setting("source", "choice", "builtin", choices=("builtin", "csv")),
    Setting("dataset", "choice", "circles", choices=S.datasets),
    Setting("n_samples", "int", 400, 10, S.MAX_SAMPLES),
    Setting("noise", "float", 0.1, 0.0, MAX_NOISE),
    Setting("data_seed", "int", 0, 0, MAX_SEED),
    Setting("test_size", "float", 0.2, 0.0, MAX_SPLIT),
    Setting("n_classes", "int", 3, 2, S.MAX_CLASSES),
    Setting("transforms", "list", [], choices=_transform_keys),
    Setting("arch", "arch", None),
    Setting("loss", "choice", None, choices=lambda: list(mlp.LOSSES)),
    Setting("optimizer", "choice", _D["optimizer"], choices=S.OPTIMIZERS),
    Setting("learning_rate", "float", _D["learning_rate"], 0.0, MAX_LEARNING_RATE, lo_open=True),
    Setting("epochs", "int", _D["epochs"], 1, S.MAX_EPOCHS),
    Setting("batch_size", "batch", _D["batch_size"], 1, S.MAX_ROWS),
    Setting("lr_schedule", "choice", "constant", choices=_schedules),
    Setting("lr_decay", "float", _D["lr_decay"], 0.0, 1.0, lo_open=True),
    Setting("weight_decay", "float", _D["weight_decay"], 0.0, 1.0),
    Setting("l1", "float", 0.0, 0.0, 1.0),
    Setting("dropout", "float", _D["dropout"], 0.0, 1.0, hi_open=True),
    Setting("validation_split", "float", _D["validation_split"], 0.0, MAX_SPLIT),
    Setting("early_stopping", "int", _D["early_stopping"], 0, S.MAX_EPOCHS),
    Setting("seed", "int", _D["seed"], 0, MAX_SEED),
    Setting("target", "text", None, csv_only=True),
    Setting("features", "columns", None, csv_only=True),
    Setting("task", "choice", None, choices=S.TASKS, csv_only=True),
)})


def defaults():
    """Every setting's default (None = chosen from the data: the architecture, the loss, CSV columns)."""
    return {k: (list(s.default) if isinstance(s.default, list) else s.default) for k, s in SETTINGS.items()}


# ---------------------------------------------------------------- values: parse (text or native) and format


def _split_list(text):
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


def _join_list(items):
    return ",".join(str(x).replace("\\", "\\\\").replace(",", "\\,") for x in items)


def _in_range(s, v):
    ok_lo = v > s.lo if s.lo_open else v >= s.lo
    ok_hi = v < s.hi if s.hi_open else v <= s.hi
    if not (ok_lo and ok_hi):
        raise _Invalid(s.rule())
    return v


def _as_int(s, v):
    if isinstance(v, str):
        if not _INT.fullmatch(v.strip()):
            raise _Invalid(s.rule())
        v = int(v.strip())
    elif isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v != int(v):
        raise _Invalid(s.rule())          # (numpy numbers and whole floats such as 150.0 are fine)
    return _in_range(s, int(v))


def _as_float(s, v):
    if isinstance(v, str):
        if not _FLOAT.fullmatch(v.strip()):
            raise _Invalid(s.rule())
        v = float(v.strip())
    elif isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise _Invalid(s.rule())
    v = float(v)
    if not math.isfinite(v):
        raise _Invalid(s.rule())
    return _in_range(s, v)


def _as_name(v, allowed):
    if not isinstance(v, str):
        return None
    key = v.strip()
    if key in allowed:
        return key
    low = {a.lower(): a for a in allowed}
    return low.get(key.lower())


def _is_text(v):
    """A name a link can carry: 1 to MAX_TEXT characters, valid Unicode (no lone surrogates)."""
    if not isinstance(v, str) or not 1 <= len(v) <= MAX_TEXT:
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse(s, v):
    """The canonical value of setting ``s`` from ``v`` (link text or a native value), else _Invalid."""
    k = s.kind
    if k == "int":
        return _as_int(s, v)
    if k == "float":
        return _as_float(s, v)
    if k == "choice":
        name = _as_name(v, s.allowed())
        if name is None:
            raise _Invalid(s.rule())
        return name
    if k == "batch":
        if isinstance(v, str) and v.strip().lower() in ("full", "full batch", "none"):
            return "full"
        return _as_int(s, v)
    if k == "arch":
        if not isinstance(v, str) or not v.strip() or len(v) > MAX_ARCH_CHARS:
            raise _Invalid(s.rule() + f" (at most {MAX_ARCH_CHARS:,} characters)")
        chk = S.check_architecture(v.strip())
        if not chk["ok"]:
            raise _Invalid(s.rule() + "; " + chk["error"].rstrip("."))
        return v.strip()
    if k == "text":
        if not _is_text(v):
            raise _Invalid(s.rule())
        return v
    items = _split_list(v) if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise _Invalid(s.rule())
    if k == "list":
        if items in ([""], []):
            return []
        out = [_as_name(x, s.allowed()) for x in items]
        if None in out or len(set(out)) != len(out):
            raise _Invalid(s.rule() + " (each at most once)")
        return out
    # columns
    if not 1 <= len(items) <= S.MAX_COLUMNS or len(set(items)) != len(items) or not all(map(_is_text, items)):
        raise _Invalid(s.rule())
    return list(items)


def _format(s, v):
    """Link text of a canonical value."""
    if s.kind == "float":
        return repr(float(v))
    if s.kind in ("list", "columns"):
        return _join_list(v)
    return str(v)


# ---------------------------------------------------------------- notes


def _clean(text, limit=60):
    """``text`` safe to show: control characters removed, shortened."""
    text = "".join(c for c in str(text) if c.isprintable())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _shown(key, value):
    """``key=value`` as the user would read it in the address bar."""
    text = value if isinstance(value, str) else _join_list(value) if isinstance(value, (list, tuple)) else repr(value)
    return _clean(f"{key}={text}")


def _ignored(key, value, why):
    return f"Ignored '{_shown(key, value)}' from the link: {why}."


def _check(items):
    """(settings, notes) from (key, value) pairs in any order; the last of a repeated key wins."""
    raw = {}
    for k, v in items:
        raw[k] = v
    out, notes = {}, []
    for key, value in raw.items():
        s = SETTINGS.get(key) if isinstance(key, str) else None
        if s is None:
            notes.append(_ignored(key, value, f"'{_clean(key, 40)}' is not a setting this app knows"))
            continue
        if value is None:
            continue
        try:
            out[key] = _parse(s, value)
        except _Invalid as e:
            notes.append(_ignored(key, value, f"{key} must be {e}"))
    _cross_check(out, raw, notes)
    order = list(SETTINGS)
    return {k: out[k] for k in sorted(out, key=order.index)}, notes


def _task_of(settings):
    if settings.get("source", "builtin") == "builtin":
        return S.BUILTIN_TASKS.get(settings.get("dataset", SETTINGS["dataset"].default))
    return settings.get("task")


def _cross_check(out, raw, notes):
    """Drop values that contradict others (each with a note)."""
    if out.get("source", "builtin") != "csv":
        for key in [k for k in out if SETTINGS[k].csv_only]:
            notes.append(_ignored(key, raw[key], f"{key} applies only to a CSV source"))
            del out[key]
    if out.get("transforms") and out.get("source", "builtin") == "builtin":
        info = getattr(S.mdata, "DATASETS", {}).get(out.get("dataset", SETTINGS["dataset"].default)) or {}
        if info.get("n_features", 2) != 2:
            notes.append(_ignored("transforms", raw["transforms"],
                                  "feature transforms need a dataset with exactly two features"))
            del out["transforms"]
    if "loss" in out:
        if "arch" in out:
            act = S.check_architecture(out["arch"])["output_activation"]
        else:
            task = _task_of(out)
            act = S.OUTPUT_ACTIVATION.get(task) if task else None
        if act is not None:
            allowed = S.loss_choices(act)
            if out["loss"] not in allowed:
                notes.append(_ignored("loss", raw["loss"], f"after a '{act}' output the loss must be one of "
                                                           f"{', '.join(allowed)}"))
                del out["loss"]


def _limit(notes):
    if len(notes) > MAX_NOTES:
        return notes[:MAX_NOTES - 1] + [f"… and {len(notes) - MAX_NOTES + 1} more values from the link were ignored."]
    return notes


def check(settings):
    """The valid part of ``settings`` (a dict of native values or link text) and a note per dropped value."""
    if not isinstance(settings, dict):
        return {}, [f"Settings must be a dict, got {type(settings).__name__}."]
    out, notes = _check(list(settings.items()))
    return out, _limit(notes)


# ---------------------------------------------------------------- the model payload


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _slim_bytes(model, keep_history):
    """``model.to_bytes()`` of a copy with a fresh optimizer state (same configuration); ``keep_history``:
    True (all of it), "curves" (without the per-layer gradient statistics) or False (none)."""
    twin = mlp.from_bytes(model.to_bytes())
    if twin.optimizer is not None:
        conf = twin.optimizer.get_config()
        twin.set_optimizer(conf.pop("name"), **conf)
    if not keep_history:
        twin.history = None
    elif keep_history == "curves" and twin.history is not None:
        twin.history.history = {k: v for k, v in twin.history.history.items() if "/" not in k}
    return twin.to_bytes()


def model_payload(model):
    """The link text of ``model`` (see the module docstring), or None when it cannot travel in a link."""
    if model is None or not getattr(model, "n_params", 0) or model.n_params > SHARE_MAX_PARAMS:
        return None
    text = _b64(zlib.compress(_slim_bytes(model, True), 9))
    for keep in ("curves", False):        # too long: first without the gradient statistics, then no history
        if len(text) <= HISTORY_BUDGET or getattr(model, "history", None) is None:
            break
        text = _b64(zlib.compress(_slim_bytes(model, keep), 9))
    return text if len(text) <= MAX_MODEL_CHARS else None


_BAD_MODEL = ("The trained model in the link could not be opened ({}); the settings were restored — "
              "train to see results.")


def _open_model(text):
    """(model, None) or (None, note) for a payload; never raises."""
    if not isinstance(text, str):
        return None, _BAD_MODEL.format("it is not text")
    if len(text) > MAX_MODEL_CHARS:
        return None, _BAD_MODEL.format(f"it is {len(text):,} characters long; a link's model has at most "
                                       f"{MAX_MODEL_CHARS:,}")
    text = text.strip()
    if not text or not _B64.fullmatch(text) or len(text.rstrip("=")) % 4 == 1:
        return None, _BAD_MODEL.format("it is not URL-safe base64 text; the link may have been cut short")
    try:
        raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
        z = zlib.decompressobj()
        data = z.decompress(raw, MAX_MODEL_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error):
        return None, _BAD_MODEL.format("it is damaged; the link may have been cut short or edited")
    if len(data) > MAX_MODEL_BYTES or z.unconsumed_tail:
        return None, _BAD_MODEL.format(f"it unpacks to more than {MAX_MODEL_BYTES:,} bytes")
    if not z.eof:
        return None, _BAD_MODEL.format("it is incomplete; the link may have been cut short")
    why = _precheck(data)
    if why:
        return None, _BAD_MODEL.format(why)
    try:
        model = mlp.from_bytes(data)
    except (ValueError, TypeError) as e:
        return None, _BAD_MODEL.format(str(e).rstrip("."))
    except Exception as e:  # noqa: BLE001 - a link must never crash the app
        return None, _BAD_MODEL.format(f"{type(e).__name__}: {e}")
    if model.n_params > SHARE_MAX_PARAMS:
        return None, _BAD_MODEL.format(f"it has {model.n_params:,} parameters; links carry at most "
                                       f"{SHARE_MAX_PARAMS:,}")
    return model, None


def _precheck(data):
    """Why ``data`` is not a small model file, read from its model.json before anything is built; or None."""
    if not data.startswith(b"PK\x03\x04"):
        return "it is not a model file"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("model.json")
            if info.file_size > MAX_JSON_BYTES:
                return "its description is implausibly large"
            with zf.open(info) as f:
                meta = json.loads(f.read(MAX_JSON_BYTES + 1).decode("utf-8"))
    except KeyError:
        return "it is not a model file (no model.json)"
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RecursionError, NotImplementedError):
        return "it is not a readable model file"
    config = meta.get("config") if isinstance(meta, dict) else None
    arch = config.get("architecture") if isinstance(config, dict) else None
    try:
        n = S.count_params(mlp.parse_architecture(arch))
    except Exception:  # noqa: BLE001 - whatever a hostile model.json holds, it is only refused
        return "its architecture is invalid"
    if n > SHARE_MAX_PARAMS:
        return f"it has {n:,} parameters; links carry at most {SHARE_MAX_PARAMS:,}"
    return None


# ---------------------------------------------------------------- encode / decode / share


def encode(settings, model=None):
    """``k=v&...`` (URL-encoded) for every setting given (table order; None values left out), plus
    ``model=...`` when ``model`` has at most SHARE_MAX_PARAMS parameters. Raises ValueError on a value
    a link could not restore (unknown key, out of range), naming it."""
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a dict, got {type(settings).__name__}.")
    given = {k: v for k, v in settings.items() if v is not None}
    clean, notes = _check(list(given.items()))
    if notes:
        raise ValueError("Cannot put these settings in a link: " + " ".join(notes))
    parts = [f"{k}={quote(_format(SETTINGS[k], v), safe=_SAFE)}" for k, v in clean.items()]
    payload = model_payload(model)
    if payload is not None:
        parts.append(f"{MODEL_KEY}={payload}")
    return "&".join(parts)


@dataclass
class Decoded:
    """What a link holds: valid ``settings``, the trained ``model`` (or None), and ``notes`` for the user."""

    settings: dict = field(default_factory=dict)
    model: object = None
    notes: list = field(default_factory=list)

    @property
    def needs_file(self):
        """True when the link was made with a CSV file: the front end asks for it (see ``CSV_ASK``)."""
        return self.settings.get("source") == "csv"


def _pairs(source):
    """(key, value) pairs of a query string / fragment / mapping, or a note saying why there are none."""
    if isinstance(source, (bytes, bytearray)):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError:
            return [], "The link is not text; nothing was restored from it."
    if isinstance(source, str):
        if len(source) > MAX_LINK_CHARS:
            return [], (f"The link is {len(source):,} characters long, more than the {MAX_LINK_CHARS:,} this app "
                        f"reads; nothing was restored from it.")
        text = source.strip()
        if "#" in text:                       # a whole address: keep its fragment
            text = text.split("#", 1)[1]
        elif "?" in text:
            text = text.split("?", 1)[1]
        elif "://" in text:                   # an address without settings
            text = ""
        try:
            return parse_qsl(text, keep_blank_values=True, max_num_fields=len(SETTINGS) + 50), None
        except ValueError:
            return [], "The link holds too many values; nothing was restored from it."
    if hasattr(source, "items"):
        try:
            items = list(source.items())
        except Exception:  # noqa: BLE001 - an odd mapping is still user input
            return [], "The link's values cannot be read; nothing was restored from it."
        if len(items) > len(SETTINGS) + 50 or sum(len(str(v)) for _, v in items) > MAX_LINK_CHARS:
            return [], "The link holds too much; nothing was restored from it."
        out = []
        for k, v in items:
            kind = SETTINGS[k].kind if isinstance(k, str) and k in SETTINGS else None
            if isinstance(v, (list, tuple)) and v and kind not in ("list", "columns"):
                v = v[-1]                       # a repeated key: the last one wins, as in st.query_params
            out.append((k, v))
        return out, None
    if source is None:
        return [], None
    return [], f"A link must be text, got {type(source).__name__}; nothing was restored from it."


def decode(source):
    """Read a link (query string, fragment or mapping) into :class:`Decoded`; never raises on its content."""
    pairs, why = _pairs(source)
    if why:
        return Decoded(notes=[why])
    model_text = None
    rest = []
    for k, v in pairs:
        if k == MODEL_KEY:
            model_text = v
        else:
            rest.append((k, v))
    settings, notes = _check(rest)
    model = None
    if model_text is not None:
        model, why = _open_model(model_text)
        if why:
            notes.append(why)
    return Decoded(settings=settings, model=model, notes=_limit(notes))


def share(settings, model=None, base="", mode="fragment"):
    """The Share link: ``{"href", "carries_model", "note"}``. ``mode="fragment"`` (static site: ``base#...``,
    never sent to a server) or ``"query"`` (Streamlit: ``base?...``). ``note`` says what the link cannot carry."""
    if mode not in ("fragment", "query"):
        raise ValueError(f"mode must be 'fragment' or 'query', got {mode!r}.")
    base = str(base or "").split("#", 1)[0]
    if mode == "query":
        base = base.split("?", 1)[0]
    body = encode(settings, model)
    carries = f"&{MODEL_KEY}=" in f"&{body}"
    notes = []
    if model is not None and not carries:
        n = getattr(model, "n_params", 0)
        if n > SHARE_MAX_PARAMS:
            notes.append(f"This model has {n:,} parameters; links carry a trained model of at most "
                         f"{SHARE_MAX_PARAMS:,}, so this link carries the settings only.")
        else:
            notes.append("This model is too large to fit in a link, so this link carries the settings only.")
    if settings.get("source") == "csv":
        notes.append(CSV_NOTE)
    return {"href": f"{base}{'#' if mode == 'fragment' else '?'}{body}", "carries_model": carries,
            "note": " ".join(notes) or None}


# ---------------------------------------------------------------- applying a link


def settings_from_model(model):
    """The settings a model fixes: arch (list-syntax text), loss, optimizer, weight_decay, l1, and transforms
    when its preprocessing has them."""
    out = {"arch": mlp.format_architecture(model.specs)}
    if model.loss:
        out["loss"] = model.loss
    if model.optimizer is not None:
        conf = model.optimizer.get_config()
        out["optimizer"] = conf.get("name")
        out["weight_decay"] = float(conf.get("weight_decay", 0.0))
        if "l1" in conf:
            out["l1"] = float(conf["l1"])
    pre = getattr(model, "preprocessor", None)
    if pre is not None and getattr(pre, "transforms", None) is not None:
        out["transforms"] = list(pre.transforms)
    return out


def session_args(settings):
    """What the front ends pass to webapp.session for ``settings`` (defaults fill the gaps):
    ``{"source": "builtin"|"csv", "prepare": kwargs of prepare_builtin (or prepare_csv, after the data),
    "cfg": the cfg dict of build_model/train}``. Invalid values are dropped (see :func:`check`)."""
    s = defaults()
    s.update(check(settings)[0])
    transforms = list(s["transforms"])
    if s["source"] == "csv":
        prepare = {"target": s["target"], "features": s["features"], "task": s["task"],
                   "test_size": s["test_size"], "seed": s["data_seed"]}
    else:
        prepare = {"name": s["dataset"], "n_samples": s["n_samples"], "noise": s["noise"], "seed": s["data_seed"],
                   "test_size": s["test_size"], "n_classes": s["n_classes"]}
    if transforms:                      # only when used, so this works before prepare_* accept transforms
        prepare["transforms"] = tuple(transforms)
    cfg = {k: s[k] for k in ("arch", "loss", "optimizer", "learning_rate", "epochs", "lr_schedule", "lr_decay",
                             "weight_decay", "dropout", "validation_split", "early_stopping", "seed")}
    cfg["batch_size"] = None if s["batch_size"] == "full" else s["batch_size"]
    cfg["l1"] = s["l1"]
    return {"source": s["source"], "prepare": prepare, "cfg": cfg}


_PREPARE_NAMES = {"name": "dataset", "n_samples": "n_samples", "noise": "noise", "seed": "data_seed",
                  "test_size": "test_size", "n_classes": "n_classes", "transforms": "transforms",
                  "target": "target", "features": "features", "task": "task"}
_BUILTIN_ONLY = ("dataset", "n_samples", "noise", "n_classes")
_CFG_NAMES = ("arch", "loss", "optimizer", "learning_rate", "epochs", "lr_schedule", "lr_decay", "weight_decay",
              "l1", "dropout", "validation_split", "early_stopping", "seed")


def settings_from_session(prepare, cfg, source="builtin"):
    """Settings (for :func:`encode`/:func:`share`) from the arguments a front end gives webapp.session:
    ``prepare`` = prepare_builtin's (or prepare_csv's, without the data) keyword arguments, ``cfg`` =
    build_model's cfg. Entries that are None, unknown, or do not apply to ``source`` are left out."""
    p, c = dict(prepare or {}), dict(cfg or {})
    out = {"source": source}
    for k, name in _PREPARE_NAMES.items():
        applies = not SETTINGS[name].csv_only if source != "csv" else name not in _BUILTIN_ONLY
        if applies and p.get(k) is not None:
            out[name] = list(p[k]) if name in ("transforms", "features") else p[k]
    out.update({k: c[k] for k in _CFG_NAMES if c.get(k) is not None})
    if "batch_size" in c:
        out["batch_size"] = "full" if c["batch_size"] is None else c["batch_size"]
    return {k: out[k] for k in SETTINGS if k in out}


def model_mismatch(model, prepared):
    """None when ``model`` fits the data ``prepared`` (same inputs, outputs and feature columns), else a
    sentence saying why its results cannot be shown on that data."""
    if (model.n_inputs, model.n_outputs) != (prepared.n_inputs, prepared.n_outputs):
        return (f"The model in the link takes {model.n_inputs} input(s) and gives {model.n_outputs} output(s), "
                f"but this data has {prepared.n_inputs} and {prepared.n_outputs}; train to see results.")
    pre = getattr(model, "preprocessor", None)
    if pre is not None and list(pre.features) != list(prepared.preprocessor.features):
        return (f"The model in the link was trained on columns {', '.join(map(str, pre.features))}, "
                f"not {', '.join(map(str, prepared.preprocessor.features))}; train to see results.")
    return None
