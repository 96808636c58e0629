"""The model file: a zip archive (``.mlp`` or any name) holding

* ``model.json`` — format name and version, library version, architecture, loss, optimizer config and
  step count, dtype, seed, preprocessing (feature and class names, encoders, scalers), training history;
* ``params.npy`` and ``optimizer/<state>.npy`` — flat arrays in NumPy's .npy format.

Arrays are read without pickle (their .npy header is checked against the architecture before any data is
looked at) and every field is validated, so a malformed or hostile file raises ``ValueError`` naming the
problem, whatever zipfile, its decompressors, json or NumPy would have raised, and nothing in it is ever
executed. Sizes (file, zip directory, each entry, declared and actual) are bounded before anything is
decompressed or allocated. The same bytes work in Python, Streamlit and the browser (Pyodide).
"""
import io as _io
import json
import math
import os
import secrets
import struct
import tokenize
import zipfile
import zlib

import numpy as np

try:
    import lzma   # not always there (Pyodide unvendors it); zipfile then refuses LZMA entries itself
    _LZMA_ERRORS = (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    _LZMA_ERRORS = ()

FORMAT = "mlp-model"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1 << 30          # 1 GiB
_MAX_JSON_BYTES = 64 << 20
_NOT_A_MODEL = "This is not an mlp model file"
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)  # what zipfile reads
_MAX_DIRECTORY_BYTES = 1 << 20    # about 10,000 entries; a model file has a handful
_MAX_NPY_HEADER = 65536          # an .npy header is a few hundred bytes
# What zipfile (and the decompressors under it) can raise on a damaged or hostile archive: bad CRC, broken
# deflate/bzip2/lzma stream, truncated entry, corrupt extra field (struct), undecodable name, an unsupported
# compression method, zip version or flag (NotImplementedError), encryption or a missing decompressor
# (RuntimeError), a size that does not fit in memory.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, struct.error,
               OverflowError, MemoryError, *_LZMA_ERRORS)


def model_to_bytes(model):
    """Serialise a built model to bytes."""
    from . import __version__
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
        "config": model.get_config(),
        "optimizer_step": model.optimizer.t if model.optimizer else 0,
        "rng_state": model.rng.bit_generator.state,   # so resumed training shuffles as uninterrupted training
        "preprocessor": model.preprocessor.get_config() if model.preprocessor is not None else None,
        "history": model.history.get_config() if model.history is not None else None,
    }
    arrays = {"params.npy": model.params}
    if model.optimizer is not None:
        for name, arr in model.optimizer.state.items():
            arrays[f"optimizer/{name}.npy"] = arr
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_entry("model.json"), json.dumps(meta, indent=1, allow_nan=False))
        for name, arr in arrays.items():
            out = _io.BytesIO()
            np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(_entry(name), out.getvalue())
    return buf.getvalue()


def _entry(name):
    # a fixed date in the zip entries: the same model gives the same bytes (the current time would differ
    # from one call to the next)
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def save(model, path):
    """Write ``model`` to ``path`` (atomically: a partial file never replaces a good one, and a failed save
    leaves nothing behind)."""
    data = model_to_bytes(model)
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"Cannot save the model to {path!r}: it is a folder; give a file name, "
                         f"e.g. {os.path.join(path, 'model.mlp')!r}.")
    try:
        write_file(path, lambda f: f.write(data))
    except OSError as e:   # no such folder, no permission, disk full...
        raise ValueError(f"Cannot save the model to {path!r}: {e.strerror or e}.") from None


def not_a_regular_file(path):
    """Whether ``path`` exists and is not a regular file (a device or a pipe, e.g. /dev/stdout): renaming a
    temporary file onto it would replace it (as root, even /dev/stdout), so it is written straight into."""
    return os.path.exists(path) and not os.path.isfile(path)


def temporary_name(path):
    """A new file name next to ``path`` (same folder, so a rename onto ``path`` is atomic)."""
    return f"{os.path.abspath(path)}.{secrets.token_hex(4)}.tmp"


def write_file(path, write):
    """Call ``write(file)`` on a new temporary file next to ``path``, then rename it onto ``path``: a partial file
    never replaces a good one, and on any error (``OSError``, raised as it is) the temporary file is removed and
    ``path`` is untouched. A device or pipe (:func:`not_a_regular_file`) is written straight into."""
    path = os.fspath(path)
    if not_a_regular_file(path):
        with open(path, "wb") as f:
            write(f)
        return
    tmp = temporary_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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

# what NumPy's .npy header reader can raise on a crafted header (NumPy 2.0's filter for old headers runs
# Python's tokenizer, which raises TokenError in Python 3.12, e.g. for too many nested parentheses: Pyodide)
_NPY_HEADER_ERRORS = (ValueError, TypeError, KeyError, SyntaxError, RecursionError, MemoryError, OverflowError,
                      EOFError, tokenize.TokenError)


def _why(exc, info=None):
    """What went wrong, in words (and not too many), for a low-level error raised while reading."""
    text = str(exc.args[0] if isinstance(exc, tokenize.TokenError) and exc.args else exc) or type(exc).__name__
    text = text if len(text) <= 200 else text[:200] + "..."
    if isinstance(exc, NotImplementedError) or "encrypted" in text or "Compression requires" in text:
        if info is not None and info.compress_type not in _METHODS:
            name = zipfile.compressor_names.get(info.compress_type)
            text = f"compression method {info.compress_type}{f' ({name})' if name else ''}"
        return f"it uses a zip feature this reader does not support: {text}"
    if isinstance(exc, MemoryError):
        return "it declares more data than can be held in memory"
    return text


def _read_entry(zf, name, limit):
    """The bytes of entry ``name``, refusing more than ``limit`` of them (declared or actual: zip bombs)."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"The model file is corrupt: entry {name} is implausibly large "
                         f"({info.file_size:,} bytes declared).")
    try:
        with zf.open(info) as f:
            raw = f.read(limit + 1)
    except _ZIP_ERRORS as e:
        raise ValueError(f"The model file is corrupt: {name} cannot be read ({_why(e, info)}).") from None
    if len(raw) > limit:
        raise ValueError(f"The model file is corrupt: entry {name} is implausibly large.")
    if len(raw) != info.file_size:
        raise ValueError(f"The model file is corrupt: entry {name} declares {info.file_size:,} bytes and holds "
                         f"{len(raw):,}.")
    return raw


def _read_array(zf, name, expected_dtype, expected_size, what="values"):
    """A flat array of exactly ``expected_size`` values of ``expected_dtype`` from an .npy entry. The header
    is checked before any data is looked at, so a declared shape never allocates anything."""
    expected_dtype = np.dtype(expected_dtype)
    raw = _read_entry(zf, name, expected_size * expected_dtype.itemsize + _MAX_NPY_HEADER)
    buf = _io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _NPY_HEADER_ERRORS as e:
        raise ValueError(f"The model file is corrupt: {name} is not a valid array ({_why(e)}).") from None
    if dtype == expected_dtype and len(shape) == 1 and shape != (expected_size,):
        raise ValueError(f"The model file is corrupt: {name} stores {shape[0]} {what}, the architecture needs "
                         f"{expected_size}.")
    if dtype != expected_dtype or shape != (expected_size,):
        raise ValueError(f"The model file is corrupt: {name} has dtype {dtype} and shape {shape}, "
                         f"expected a flat {expected_dtype} array of {expected_size} values.")
    offset = buf.tell()
    if len(raw) - offset != expected_size * expected_dtype.itemsize:
        raise ValueError(f"The model file is corrupt: {name} holds {len(raw) - offset:,} bytes of data, "
                         f"{expected_size * expected_dtype.itemsize:,} expected.")
    arr = np.frombuffer(raw, dtype=expected_dtype, count=expected_size, offset=offset).copy()
    if not np.isfinite(arr).all():
        raise ValueError(f"The model file is corrupt: {name} holds non-finite values (NaN or infinity).")
    return arr


def _central_directory_size(data):
    """The size the archive's end record (zip64 included) gives its central directory, read before zipfile
    parses it (millions of entries would take minutes); 0 when there is no end record (zipfile says why)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if end < 0 or end + 22 > len(data):
        return 0
    count, size = struct.unpack_from("<HI", data, end + 10)
    locator = end - 20
    if (count == 0xFFFF or size == 0xFFFFFFFF) and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if record + 56 <= len(data) and data[record:record + 4] == b"PK\x06\x06":
            size = struct.unpack_from("<Q", data, record + 40)[0]
    return size


def _no_constant(name):
    raise ValueError(f"{name} is not a number a model file holds")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number for a model file")
    return value


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the key {next(k for k in keys if keys.count(k) > 1)!r} appears twice in one object")
    return dict(pairs)


def _check_history(h):
    """A training history as History.get_config writes it, or ValueError."""
    def ints(v):
        return isinstance(v, list) and all(type(e) is int for e in v)

    def numbers(v):
        return isinstance(v, list) and all(type(e) in (int, float) for e in v)
    unknown = set(h) - {"epochs", "history", "stopped_early", "stop_reason", "best_epoch"}
    series = h.get("history", {})
    if (unknown or not ints(h.get("epochs", [])) or not isinstance(series, dict)
            or not all(isinstance(k, str) and numbers(v) for k, v in series.items())
            or type(h.get("stopped_early", False)) is not bool
            or not isinstance(h.get("stop_reason"), (str, type(None)))
            or not (h.get("best_epoch") is None or type(h.get("best_epoch")) is int)):
        raise ValueError("The model file is corrupt: its training history is malformed.")


# what building a model from the (already parsed) JSON fields can raise when they are wrong
_CONFIG_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
                  MemoryError)


def _check_no_overlap(zf, data):
    """Refuse entries whose stored bytes run into the next entry (or the directory), as the zipfile of
    Python 3.12.2+ and 3.11.8+ does ("overlapped entries": a zip-bomb trick); older ones read on, so the
    engine checks for itself and every Python gives the same answer."""
    infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
    ends = [i.header_offset for i in infos[1:]] + [zf.start_dir]
    for info, end in zip(infos, ends):
        head = data[info.header_offset:info.header_offset + 30]
        if len(head) < 30:
            continue                   # zipfile refuses a missing local header when the entry is read
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        if info.header_offset + 30 + name_len + extra_len + info.compress_size > end:
            raise ValueError(f"The model file is corrupt: entry {info.filename!r} overlaps the next entry "
                             f"(its {info.compress_size:,} stored bytes run past it).")


def from_bytes(data):
    """Rebuild a model from the bytes of a model file. Raises ``ValueError`` on anything malformed."""
    from .network import MLP
    from .training import History
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"from_bytes needs bytes, got {type(data).__name__}.")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"The model file is {len(data):,} bytes; model files are limited to {MAX_FILE_BYTES:,}.")
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError(f"{_NOT_A_MODEL} (it is not a zip archive). Model files are made by "
                         "model.save(), or the apps' \"Download model\" button.")
    directory = _central_directory_size(data)
    if directory > _MAX_DIRECTORY_BYTES:
        raise ValueError(f"The model file is corrupt: its zip directory takes {directory:,} bytes; a model file "
                         "lists a handful of entries.")
    try:
        zf = zipfile.ZipFile(_io.BytesIO(data))
        listed = zf.namelist()
    except _ZIP_ERRORS as e:
        raise ValueError(f"{_NOT_A_MODEL}: the archive is damaged ({_why(e)}).") from None
    with zf:
        for info in zf.infolist():   # sizes that cannot be true (Python 3.12's zipfile refuses some itself)
            if info.compress_size > len(data) or (info.compress_type == zipfile.ZIP_STORED
                                                   and info.compress_size != info.file_size):
                raise ValueError(f"The model file is corrupt: entry {info.filename!r} declares "
                                 f"{info.compress_size:,} stored bytes, which the archive does not hold.")
        _check_no_overlap(zf, data)
        names = set(listed)
        if len(names) != len(listed):
            seen = set()
            twice = next(n for n in listed if n in seen or seen.add(n))
            raise ValueError(f"The model file is corrupt: the archive holds {twice!r} more than once.")
        if "model.json" not in names or "params.npy" not in names:
            raise ValueError(f"{_NOT_A_MODEL}: it lacks model.json or params.npy.")
        raw = _read_entry(zf, "model.json", _MAX_JSON_BYTES)
        try:
            meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float,
                              object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError, MemoryError) as e:   # bad UTF-8 or JSON, NaN, a 5000-digit int
            raise ValueError(f"The model file is corrupt: model.json cannot be read ({_why(e)}).") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{_NOT_A_MODEL}: model.json has no format '{FORMAT}'.")
        version = meta.get("format_version")
        if type(version) is not int or version < 1:
            raise ValueError(f"The model file is corrupt: its format_version is {version!r}, not a version number.")
        if version > FORMAT_VERSION:
            raise ValueError(f"This model file has format version {version!r}; this mlp reads versions "
                             f"1..{FORMAT_VERSION}. Upgrade mlp to open it.")
        config = meta.get("config")
        if not isinstance(config, dict):
            raise ValueError("The model file is corrupt: 'config' is missing.")
        try:
            model = MLP.from_config(config)
        except _CONFIG_ERRORS as e:
            hint = (" A custom activation must be registered (mlp.register_activation) before loading."
                    if "unknown activation" in str(e) else "")
            raise ValueError(f"The model file's configuration is invalid: {_why(e)}{hint}") from None
        params = _read_array(zf, "params.npy", model.dtype, model.n_params, "parameters")
        model.params[...] = params
        if model.optimizer is not None:
            state = {}
            layout = model.optimizer.state_layout(model.n_params, model.dtype)
            for name in sorted(n for n in names if n.startswith("optimizer/") and n.endswith(".npy")):
                key = name[len("optimizer/"):-len(".npy")]
                dtype, size = layout.get(key, (model.dtype, model.n_params))   # (unknown: set_state says so)
                state[key] = _read_array(zf, name, dtype, size)
            step = meta.get("optimizer_step", 0)
            if type(step) is not int or not 0 <= step < 2 ** 62:
                raise ValueError(f"The model file is corrupt: optimizer_step is {step!r}, not a step count.")
            try:
                model.optimizer.set_state(step, state)
            except _CONFIG_ERRORS as e:
                raise ValueError(f"The model file is corrupt: {_why(e)}") from None
        rng_state = meta.get("rng_state")
        if rng_state is not None:
            ok = (isinstance(rng_state, dict) and rng_state.get("bit_generator") == "PCG64"
                  and isinstance(rng_state.get("state"), dict)
                  and all(type(v := rng_state["state"].get(k)) is int and 0 <= v < 2 ** 128 for k in ("state", "inc")))
            try:
                if not ok:
                    raise ValueError("unexpected fields")
                model.rng.bit_generator.state = rng_state
            except _CONFIG_ERRORS:
                raise ValueError("The model file is corrupt: its random-generator state is malformed.") from None
        if meta.get("preprocessor") is not None:
            from .data import Preprocessor
            try:
                pre = Preprocessor.from_config(meta["preprocessor"])
            except _CONFIG_ERRORS as e:
                raise ValueError(f"The model file's preprocessing is invalid: {_why(e)}") from None
            if pre.is_fitted and (pre.n_inputs, pre.n_outputs) != (model.n_inputs, model.n_outputs):
                raise ValueError(f"The model file's preprocessing is invalid: it makes {pre.n_inputs} input(s) and "
                                 f"{pre.n_outputs} output(s), the network has {model.n_inputs} and "
                                 f"{model.n_outputs}.")
            model.preprocessor = pre
        history = meta.get("history")
        if history is not None:
            if not isinstance(history, dict):
                raise ValueError("The model file is corrupt: its training history is malformed.")
            _check_history(history)
            try:
                model.history = History.from_config(history)
            except _CONFIG_ERRORS:
                raise ValueError("The model file is corrupt: its training history is malformed.") from None
    return model
