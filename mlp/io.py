"""The model file: a zip archive (``.mlp`` or any name) holding

* ``model.json`` — format name and version, library version, architecture, loss, optimizer config and
  step count, dtype, seed, preprocessing (feature and class names, encoders, scalers), training history;
* ``params.npy`` and ``optimizer/<state>.npy`` — flat arrays in NumPy's .npy format.

Arrays are read with ``allow_pickle=False`` and every field is validated, so a malformed or hostile file
raises ``ValueError`` and nothing in it is ever executed. The same bytes work in Python, Streamlit and
the browser (Pyodide).
"""
import io as _io
import json
import os
import secrets
import zipfile
import zlib

import numpy as np

FORMAT = "mlp-model"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1 << 30          # 1 GiB
_MAX_JSON_BYTES = 64 << 20
_NOT_A_MODEL = "This is not an mlp model file"
# what reading a damaged zip entry can raise (bad CRC, broken deflate stream, truncated entry)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def model_to_bytes(model):
    """Serialise a built model to bytes."""
    from . import __version__
    model._require_built()
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
        "config": model.get_config(),
        "optimizer_step": model.optimizer.t if model.optimizer else 0,
        "rng_state": model.rng.bit_generator.state,   # so resumed training shuffles as uninterrupted training
        "preprocessor": model.preprocessor.to_config() if model.preprocessor is not None else None,
        "history": model.history.to_dict() if model.history is not None else None,
    }
    arrays = {"params.npy": model.params}
    if model.optimizer is not None:
        for name, arr in model.optimizer.state.items():
            arrays[f"optimizer/{name}.npy"] = arr
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(meta, indent=1, allow_nan=False))
        for name, arr in arrays.items():
            out = _io.BytesIO()
            np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(name, out.getvalue())
    return buf.getvalue()


def save(model, path):
    """Write ``model`` to ``path`` (atomically: a partial file never replaces a good one, and a failed save
    leaves nothing behind)."""
    data = model_to_bytes(model)
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"Cannot save the model to {path!r}: it is a folder; give a file name, "
                         f"e.g. {os.path.join(path, 'model.mlp')!r}.")
    tmp = None
    try:
        name = f"{path}.{secrets.token_hex(4)}.tmp"     # next to the target, so the rename is atomic
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        tmp = name
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:   # no such folder, no permission, disk full...
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise ValueError(f"Cannot save the model to {path!r}: {e.strerror or e}.") from None


def load(path):
    """Read a model file written by :meth:`MLP.save` (or the web apps' "Download model")."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{os.fspath(path)!r} is {size:,} bytes; model files are limited to {MAX_FILE_BYTES:,}.")
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:  # missing, a directory, no permission...
        raise ValueError(f"Cannot open model file {os.fspath(path)!r}: {e.strerror or e}.") from None
    return from_bytes(blob)


def _read_array(zf, name, expected_dtype, expected_size):
    info = zf.getinfo(name)
    # an .npy of n values is its header (a few hundred bytes) plus n * itemsize: refuse anything
    # much larger before decompressing it (zip bombs)
    if info.file_size > expected_size * np.dtype(expected_dtype).itemsize + 65536:
        raise ValueError(f"The model file is corrupt: entry {name} is implausibly large.")
    try:
        with zf.open(info) as f:
            raw = f.read()
        arr = np.lib.format.read_array(_io.BytesIO(raw), allow_pickle=False)
    except (ValueError, *_ZIP_ERRORS) as e:
        raise ValueError(f"The model file is corrupt: {name} is not a valid array ({e}).") from None
    if arr.dtype != expected_dtype or arr.ndim != 1:
        raise ValueError(f"The model file is corrupt: {name} has dtype {arr.dtype} and shape {arr.shape}, "
                         f"expected a flat {expected_dtype} array.")
    if not np.isfinite(arr).all():
        raise ValueError(f"The model file is corrupt: {name} holds non-finite values (NaN or infinity).")
    return arr


def from_bytes(data):
    """Rebuild a model from the bytes of a model file. Raises ``ValueError`` on anything malformed."""
    from .network import MLP
    from .training import History
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"from_bytes needs bytes, got {type(data).__name__}.")
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError(f"{_NOT_A_MODEL} (it is not a zip archive). Model files are made by "
                         "model.save(), or the apps' \"Download model\" button.")
    try:
        zf = zipfile.ZipFile(_io.BytesIO(data))
        names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"{_NOT_A_MODEL}: the archive is damaged ({e}).") from None
    with zf:
        if "model.json" not in names or "params.npy" not in names:
            raise ValueError(f"{_NOT_A_MODEL}: it lacks model.json or params.npy.")
        if zf.getinfo("model.json").file_size > _MAX_JSON_BYTES:
            raise ValueError(f"{_NOT_A_MODEL}: model.json is implausibly large.")
        try:
            meta = json.loads(zf.read("model.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, *_ZIP_ERRORS) as e:
            raise ValueError(f"The model file is corrupt: model.json cannot be read ({e}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{_NOT_A_MODEL}: model.json has no format '{FORMAT}'.")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise ValueError(f"This model file has format version {version!r}; this mlp reads versions "
                             f"1..{FORMAT_VERSION}. Upgrade mlp to open it.")
        config = meta.get("config")
        if not isinstance(config, dict):
            raise ValueError("The model file is corrupt: 'config' is missing.")
        try:
            model = MLP.from_config(config)
        except (TypeError, ValueError) as e:
            hint = (" A custom activation must be registered (mlp.register_activation) before loading."
                    if "unknown activation" in str(e) else "")
            raise ValueError(f"The model file's configuration is invalid: {e}{hint}") from None
        params = _read_array(zf, "params.npy", model.dtype, model.n_params)
        if params.size != model.n_params:
            raise ValueError(f"The model file is corrupt: {params.size} parameters stored, the architecture "
                             f"needs {model.n_params}.")
        model.params[...] = params
        if model.optimizer is not None:
            state = {}
            for name in sorted(n for n in names if n.startswith("optimizer/") and n.endswith(".npy")):
                key = name[len("optimizer/"):-len(".npy")]
                size = 1 if key == "mu_product" else model.n_params
                arr = _read_array(zf, name, np.dtype(np.float64) if key == "mu_product" else model.dtype, size)
                if arr.size != size:
                    raise ValueError(f"The model file is corrupt: optimizer state {key} has the wrong size.")
                state[key] = arr
            step = meta.get("optimizer_step", 0)
            try:
                model.optimizer.set_state(step, state)
            except ValueError as e:
                raise ValueError(f"The model file is corrupt: {e}") from None
        rng_state = meta.get("rng_state")
        if rng_state is not None:
            ok = (isinstance(rng_state, dict) and rng_state.get("bit_generator") == "PCG64"
                  and isinstance(rng_state.get("state"), dict)
                  and all(isinstance(rng_state["state"].get(k), int) for k in ("state", "inc")))
            try:
                if not ok:
                    raise ValueError("unexpected fields")
                model.rng.bit_generator.state = rng_state
            except (TypeError, ValueError, KeyError, OverflowError):
                raise ValueError("The model file is corrupt: its random-generator state is malformed.") from None
        if meta.get("preprocessor") is not None:
            from .data import Preprocessor
            try:
                pre = Preprocessor.from_config(meta["preprocessor"])
            except (TypeError, ValueError, KeyError) as e:
                raise ValueError(f"The model file's preprocessing is invalid: {e}") from None
            if pre.is_fitted and (pre.n_inputs, pre.n_outputs) != (model.n_inputs, model.n_outputs):
                raise ValueError(f"The model file's preprocessing is invalid: it makes {pre.n_inputs} input(s) and "
                                 f"{pre.n_outputs} output(s), the network has {model.n_inputs} and "
                                 f"{model.n_outputs}.")
            model.preprocessor = pre
        if isinstance(meta.get("history"), dict):
            try:
                model.history = History.from_dict(meta["history"])
            except (TypeError, ValueError, AttributeError):
                raise ValueError("The model file is corrupt: its training history is malformed.") from None
    return model
