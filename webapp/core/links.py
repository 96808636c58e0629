"""Links that carry an experiment: the settings, and a small trained model, in a URL.

Both front ends use this module: the static site keeps the link in the URL fragment (``#k=v&...``, which
never reaches a server), Streamlit in ``st.query_params`` (``?k=v&...``). Nothing here raises on what a
link holds: every unknown key, malformed or out-of-range value is dropped with a plain sentence in
``Decoded.notes``, and the architecture is read by the engine's own parser (never ``eval``).

API
---
``SETTINGS``                     the link rows of the settings table (settings.py), in link order
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
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, quote

import mlp

from . import session as S
from . import settings as T

SHARE_MAX_PARAMS = 1000
MAX_LINK_CHARS = 100_000        # a longer fragment/query is refused whole, unparsed
MAX_MODEL_CHARS = 60_000        # encoded model payload (keeps a Streamlit query under Tornado's 64 KB header limit)
HISTORY_BUDGET = 24_000         # the training history travels only while the payload stays this short
MAX_MODEL_BYTES = 1 << 20       # decompressed model file
MAX_JSON_BYTES = 256 << 10      # its model.json
MODEL_KEY = "model"
_SAFE = ","                     # left unescaped in values (lists); everything else outside A-Za-z0-9_.-~ is %-escaped
_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")

CSV_NOTE = "A CSV file cannot travel in a link: whoever opens it is asked for the file."
CSV_ASK = ("This link was made with a CSV file, which cannot travel in a link: upload the same file to restore "
           "the experiment (its settings are already set).")

# The table and the one rule for a value from outside live in settings.py; a link carries the rows with link=True.
SETTINGS = MappingProxyType({k: v for k, v in T.SETTINGS.items() if v.link})
Setting = T.Setting
MAX_NOTES = T.MAX_NOTES
MAX_TEXT = T.MAX_TEXT
MAX_ARCH_CHARS = T.MAX_ARCH_CHARS
MAX_SEED = T.MAX_SEED


def defaults():
    """Every link setting's default (None = chosen from the data: the architecture, the loss, CSV columns)."""
    return T.defaults(link_only=True)


def check(settings):
    """The valid part of ``settings`` (a dict of native values or link text) and a note per dropped value."""
    return T.check(settings, link_only=True)


session_args = T.session_args


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
    clean, notes = T.check_items(list(given.items()))
    if notes:
        raise ValueError("Cannot put these settings in a link: " + " ".join(notes))
    parts = [f"{k}={quote(T.format_value(SETTINGS[k], v), safe=_SAFE)}" for k, v in clean.items()]
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
    settings, notes = T.check_items(rest)
    model = None
    if model_text is not None:
        model, why = _open_model(model_text)
        if why:
            notes.append(why)
    return Decoded(settings=settings, model=model, notes=T.limit_notes(notes))


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


_PREPARE_NAMES = {"name": "dataset", "n_samples": "n_samples", "noise": "noise", "seed": "data_seed",
                  "test_size": "test_size", "n_classes": "n_classes", "transforms": "transforms",
                  "target": "target", "features": "features", "task": "task", "drop_missing": "drop_missing"}
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
    if "lr_decay" in out and out.get("lr_schedule") not in (None, "exponential"):
        out["lr_decay"] = SETTINGS["lr_decay"].default    # the decay applies only to that schedule
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
    from . import session
    if model.loss == "poisson" and not session.is_count_target(prepared):
        return (f"The model in the link uses the poisson loss, but {session.POISSON_ONLY_FOR_COUNTS}; "
                "train to see results.")
    return None
