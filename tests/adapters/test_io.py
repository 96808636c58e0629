"""Model files: bit-exact round trips (weights, optimizer state, predictions, continued training,
preprocessing) and refusal of malformed or hostile files with a ValueError that executes nothing."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import mlp
from mlp import MLP, data

OPTIMIZERS = ["sgd", "sgd_momentum", "rmsprop", "adam", "adamw", "adagrad", "nadam"]


def regression_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.stack([X[:, 0] * X[:, 1], np.cos(X[:, 2])], axis=1)
    return X, y


def trained(opt="adam", dtype="float64", arch=(3, 8, "tanh", "dropout(0.125)", 6, "relu", 2), epochs=3):
    X, y = regression_data()
    m = MLP(seed=0, dtype=dtype).sequential(list(arch)).set_loss("mse").set_optimizer(opt)
    m.fit(X, y, epochs=epochs, batch_size=16)
    return m


def assert_same_model(a, b):
    assert b.architecture == a.architecture
    assert b.loss == a.loss and b.dtype == a.dtype
    assert b.params.dtype == a.params.dtype
    np.testing.assert_array_equal(b.params, a.params)
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert b.optimizer.get_config() == a.optimizer.get_config()
    assert b.optimizer.t == a.optimizer.t
    assert set(b.optimizer.state) == set(a.optimizer.state)
    for k, v in a.optimizer.state.items():
        assert b.optimizer.state[k].dtype == v.dtype
        np.testing.assert_array_equal(b.optimizer.state[k], v)
    X, _ = regression_data(seed=5)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_bytes_round_trip_is_bit_exact(opt):
    m = trained(opt)
    assert_same_model(m, mlp.from_bytes(m.to_bytes()))


def test_save_load_paths(tmp_path):
    m = trained("nadam")
    p = tmp_path / "model.mlp"
    assert m.save(str(p)) == str(p)
    assert_same_model(m, mlp.load(str(p)))
    m.save(p)  # pathlib paths work too, and saving again replaces the file
    assert_same_model(m, mlp.load(p))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model.mlp"]


def test_save_where_it_cannot_says_why_and_leaves_nothing(tmp_path):
    m = trained("adam")
    with pytest.raises(ValueError, match="it is a folder.*model.mlp"):
        m.save(tmp_path)
    with pytest.raises(ValueError, match="Cannot save the model to .*No such file or directory"):
        m.save(tmp_path / "missing" / "m.mlp")
    assert list(tmp_path.iterdir()) == []                      # no temporary file left behind
    (tmp_path / "m.mlp.tmp").write_bytes(b"the user's own file")
    m.save(tmp_path / "m.mlp")                                 # the temporary name does not clobber it
    assert (tmp_path / "m.mlp.tmp").read_bytes() == b"the user's own file"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.mlp", "m.mlp.tmp"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.mlp").stat().st_mode & 0o777 == 0o666 & ~umask   # an ordinary file, as open() makes


def test_float32_survives_save_and_load(tmp_path):
    m = trained("adam", dtype="float32")
    assert m.params.dtype == np.float32
    m.save(tmp_path / "m.mlp")
    back = mlp.load(tmp_path / "m.mlp")
    assert back.dtype == np.float32
    assert all(w.dtype == np.float32 for w in back.get_weights())
    assert_same_model(m, back)
    assert back.predict(regression_data()[0]).dtype == np.float32


def test_untrained_and_optimizerless_models_round_trip():
    m = MLP(seed=3).sequential([2, 3, "relu", 1, "sigmoid"])
    back = mlp.from_bytes(m.to_bytes())
    assert back.loss is None and back.optimizer is None
    np.testing.assert_array_equal(back.params, m.params)


def test_dropout_rate_round_trips_exactly():
    m = MLP(seed=4).sequential([2, 4, "relu", ("dropout", 0.123456789), 1]).set_loss("mse")
    back = mlp.from_bytes(m.to_bytes())
    assert back.specs == m.specs


def test_history_travels():
    m = trained("adam", epochs=4)
    back = mlp.from_bytes(m.to_bytes())
    assert back.history.history == m.history.history
    assert back.history.epochs == [1, 2, 3, 4]


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_continued_training_equals_uninterrupted(opt, tmp_path):
    X, y = regression_data()
    arch = [3, 8, "tanh", 6, "relu", 2]
    straight = MLP(seed=7).sequential(arch).set_loss("mse").set_optimizer(opt)
    first = MLP(seed=7).sequential(arch).set_loss("mse").set_optimizer(opt)
    kw = dict(learning_rate=0.01, batch_size=16, shuffle=False)
    straight.fit(X, y, epochs=20, **kw)
    first.fit(X, y, epochs=10, **kw)
    first.save(tmp_path / "half.mlp")
    resumed = mlp.load(tmp_path / "half.mlp")
    resumed.fit(X, y, epochs=10, **kw)
    assert resumed.optimizer.t == straight.optimizer.t == 20 * 3
    np.testing.assert_array_equal(resumed.params, straight.params)
    for k, v in straight.optimizer.state.items():
        np.testing.assert_array_equal(resumed.optimizer.state[k], v)


def test_preprocessor_travels_with_the_model():
    rows = [[float(i % 7), ["red", "green", "blue"][i % 3], "yes" if (i * 5) % 11 > 4 else "no"]
            for i in range(60)]
    table = data.Table.from_rows(rows, ["x", "color", "label"])
    pre = data.Preprocessor(features=["x", "color"], target="label")
    pre.fit(table)
    X, y = pre.transform_X(table), pre.transform_y(table)
    m = MLP(seed=8).sequential([pre.n_inputs, 6, "relu", pre.n_outputs, "sigmoid"]).set_loss("bce")
    m.fit(X, y, epochs=5)
    m.preprocessor = pre
    back = mlp.from_bytes(m.to_bytes())
    assert isinstance(back.preprocessor, data.Preprocessor)
    assert back.preprocessor.to_config() == pre.to_config()
    np.testing.assert_array_equal(back.preprocessor.transform_X(table), X)
    assert list(back.predict_table(table)) == list(m.predict_table(table))
    assert set(back.predict_table(table)) <= {"yes", "no"}


def test_file_is_a_zip_of_json_and_plain_npy():
    m = trained("adam")
    zf = zipfile.ZipFile(io.BytesIO(m.to_bytes()))
    names = set(zf.namelist())
    assert "model.json" in names and "params.npy" in names
    meta = json.loads(zf.read("model.json"))
    assert meta["format_version"] == 1
    for name in names - {"model.json"}:
        assert name.endswith(".npy")
        arr = np.load(io.BytesIO(zf.read(name)), allow_pickle=False)  # no pickle anywhere
        assert arr.dtype.kind == "f"


# ---------------------------------------------------------------------------- malformed files
def base_bytes():
    return trained("adam", epochs=1).to_bytes()


def rebuild(blob, replace=None, drop=(), compression=zipfile.ZIP_DEFLATED):
    src = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for name in src.namelist():
            if name in drop:
                continue
            content = (replace or {}).get(name, src.read(name))
            zf.writestr(name, content)
        for name, content in (replace or {}).items():
            if name not in src.namelist():
                zf.writestr(name, content)
    return out.getvalue()


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def edit_meta(blob, fn):
    meta = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("model.json"))
    fn(meta)
    return rebuild(blob, {"model.json": json.dumps(meta)})


def params_of(blob):
    return np.load(io.BytesIO(zipfile.ZipFile(io.BytesIO(blob)).read("params.npy")))


def _set(path, value):
    def fn(meta):
        d = meta
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return fn


def _with_nan(b):
    p = params_of(b)
    p[3] = np.nan
    return rebuild(b, {"params.npy": npy(p)})


def _with_inf(b):
    p = params_of(b)
    p[0] = -np.inf
    return rebuild(b, {"params.npy": npy(p)})


def _flip_deflated_byte(b):
    # damage the compressed bytes of params.npy, well inside the entry
    zf = zipfile.ZipFile(io.BytesIO(b))
    info = zf.getinfo("params.npy")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(b)
    raw[start + info.compress_size // 2] ^= 0x5A
    return bytes(raw)


def _preprocessor_mismatch(b):
    table = data.Table.from_rows([[1.0, 2.0, "a"], [2.0, 1.0, "b"], [3.0, 5.0, "a"]], ["u", "v", "t"])
    pre = data.Preprocessor(features=["u"], target="v", task="regression")
    pre.fit(table)
    return edit_meta(b, _set(["preprocessor"], pre.to_config()))  # 1 input, the network takes 3


MALFORMED = {
    "empty": lambda b: b"",
    "random bytes": lambda b: np.random.default_rng(0).bytes(2000),
    "png": lambda b: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
    "text": lambda b: b"model.json params.npy",
    "zip signature then junk": lambda b: b"PK\x03\x04" + np.random.default_rng(1).bytes(500),
    "zip without model.json": lambda b: rebuild(b, drop={"model.json"}),
    "zip without params.npy": lambda b: rebuild(b, drop={"params.npy"}),
    "unrelated zip": lambda b: rebuild(rebuild(b, drop={"model.json", "params.npy"}),
                                       {"readme.txt": b"hello"}),
    "truncated to half": lambda b: b[: len(b) // 2],
    "truncated end": lambda b: b[:-20],
    "truncated start": lambda b: b[:64],
    "corrupt deflate data": _flip_deflated_byte,
    "bad json": lambda b: rebuild(b, {"model.json": b"{not json"}),
    "json not an object": lambda b: rebuild(b, {"model.json": b"[1, 2, 3]"}),
    "json not utf-8": lambda b: rebuild(b, {"model.json": b"\xff\xfe{\x00}"}),
    "deeply nested json": lambda b: rebuild(b, {"model.json": b"[" * 100000 + b"]" * 100000}),
    "wrong format name": lambda b: edit_meta(b, _set(["format"], "keras")),
    "format_version 99": lambda b: edit_meta(b, _set(["format_version"], 99)),
    "format_version 0": lambda b: edit_meta(b, _set(["format_version"], 0)),
    "format_version text": lambda b: edit_meta(b, _set(["format_version"], "1")),
    "no config": lambda b: edit_meta(b, lambda m: m.pop("config")),
    "unknown activation": lambda b: edit_meta(b, _set(["config", "architecture"], [3, 8, "rleu", 2])),
    "architecture as code": lambda b: edit_meta(b, _set(["config", "architecture"], "__import__('os')")),
    "huge architecture": lambda b: edit_meta(b, _set(["config", "architecture"], [3, 10 ** 9, 2])),
    "unknown loss": lambda b: edit_meta(b, _set(["config", "loss"], "hinge")),
    "loss/output mismatch": lambda b: edit_meta(b, _set(["config", "loss"], "cce")),
    "bad dtype": lambda b: edit_meta(b, _set(["config", "dtype"], "object")),
    "unknown optimizer": lambda b: edit_meta(b, _set(["config", "optimizer", "name"], "lbfgs")),
    "bad hyperparameter": lambda b: edit_meta(b, _set(["config", "optimizer", "beta1"], "0.9")),
    "negative step": lambda b: edit_meta(b, _set(["optimizer_step"], -1)),
    "fractional step": lambda b: edit_meta(b, _set(["optimizer_step"], 2.5)),
    # NumPy 1.24 takes a negative int into the uint64 state with only a DeprecationWarning (2.x refuses it)
    "negative rng state": lambda b: edit_meta(b, _set(["rng_state", "state", "state"], -1)),
    "negative rng increment": lambda b: edit_meta(b, _set(["rng_state", "state", "inc"], -(2 ** 64))),
    "bad history": lambda b: edit_meta(b, _set(["history"], {"epochs": [1], "history": {"loss": ["x"]}})),
    "bad preprocessor": lambda b: edit_meta(b, _set(["preprocessor"], {"format": "x"})),
    "preprocessor does not fit the network": _preprocessor_mismatch,
    "too few params": lambda b: rebuild(b, {"params.npy": npy(params_of(b)[:-1])}),
    "too many params": lambda b: rebuild(b, {"params.npy": npy(np.concatenate([params_of(b), [1.0]]))}),
    "2-D params": lambda b: rebuild(b, {"params.npy": npy(params_of(b).reshape(1, -1))}),
    "float32 params in a float64 model": lambda b: rebuild(b, {"params.npy": npy(params_of(b).astype(np.float32))}),
    "int params": lambda b: rebuild(b, {"params.npy": npy(np.zeros(params_of(b).size, dtype=np.int64))}),
    "params not npy": lambda b: rebuild(b, {"params.npy": b"\x93NUMPY garbage"}),
    "NaN weights": _with_nan,
    "inf weights": _with_inf,
    "optimizer state wrong size": lambda b: rebuild(b, {"optimizer/exp_avg.npy": npy(np.zeros(3))}),
    "unknown optimizer state": lambda b: rebuild(b, {"optimizer/evil.npy": npy(np.zeros(params_of(b).size))}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_raise_value_error(case, tmp_path):
    blob = MALFORMED[case](base_bytes())
    with pytest.raises(ValueError) as info:
        mlp.from_bytes(blob)
    msg = str(info.value)
    assert len(msg) > 20
    assert any(w in msg.lower() for w in ("model", "corrupt", "version", "invalid", "architecture", "file")), msg
    # the same through a file on disk
    p = tmp_path / "bad.mlp"
    p.write_bytes(blob)
    with pytest.raises(ValueError):
        mlp.load(p)


def test_a_header_python_cannot_tokenize_is_a_corrupt_file(monkeypatch):
    """Python 3.12's tokenizer (which NumPy 2.0's .npy header filter runs: Pyodide) raises TokenError for a
    header with too many nested parentheses; test_io_fuzz's nested header shows it there, this anywhere."""
    import tokenize

    blob = base_bytes()

    def header(fp, *a, **kw):
        raise tokenize.TokenError("too many nested parentheses", (1, 210))
    monkeypatch.setattr(np.lib.format, "read_array_header_1_0", header)
    with pytest.raises(ValueError, match=r"params.npy is not a valid array \(too many nested parentheses\)"):
        mlp.from_bytes(blob)


def test_specific_messages():
    b = base_bytes()
    with pytest.raises(ValueError, match="not a zip"):
        mlp.from_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="version 99"):
        mlp.from_bytes(MALFORMED["format_version 99"](b))
    with pytest.raises(ValueError, match="parameters"):
        mlp.from_bytes(MALFORMED["too few params"](b))
    with pytest.raises(ValueError, match="non-finite"):
        mlp.from_bytes(MALFORMED["NaN weights"](b))
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        mlp.from_bytes(MALFORMED["unknown activation"](b))


def test_missing_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="Cannot open"):
        mlp.load(tmp_path / "nope.mlp")
    with pytest.raises(ValueError):
        mlp.load(tmp_path)  # a directory


def test_from_bytes_type_error():
    with pytest.raises(TypeError):
        mlp.from_bytes("PK\x03\x04 text, not bytes")
    m = trained("sgd")
    assert_same_model(m, mlp.from_bytes(bytearray(m.to_bytes())))


class _Canary:
    """Unpickling this object creates a file: proof that code in the file ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("entry", ["params.npy", "optimizer/exp_avg.npy", "optimizer/exp_avg_sq.npy"])
def test_pickled_arrays_are_refused_and_never_run(entry, tmp_path):
    canary = tmp_path / "executed"
    b = base_bytes()
    n = params_of(b).size
    evil = np.empty(n, dtype=object)
    evil[:] = 0.0
    evil[0] = _Canary(str(canary))
    blob = rebuild(b, {entry: npy(evil, allow_pickle=True)})
    # sanity: the payload does work when pickle is allowed
    probe = tmp_path / "probe"
    np.load(io.BytesIO(npy(np.array([_Canary(str(probe))], dtype=object), allow_pickle=True)), allow_pickle=True)
    assert probe.exists()
    with pytest.raises(ValueError) as info:
        mlp.from_bytes(blob)
    assert "corrupt" in str(info.value) or "not a valid array" in str(info.value)
    assert not canary.exists()


def test_stored_entries_work_too():
    # an uncompressed (stored) zip written by another tool is read the same way
    m = trained("rmsprop")
    assert_same_model(m, mlp.from_bytes(rebuild(m.to_bytes(), compression=zipfile.ZIP_STORED)))


def test_optimizer_state_must_be_finite():
    b = base_bytes()
    st = np.load(io.BytesIO(zipfile.ZipFile(io.BytesIO(b)).read("optimizer/exp_avg_sq.npy")))
    st[1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        mlp.from_bytes(rebuild(b, {"optimizer/exp_avg_sq.npy": npy(st)}))


def test_nadam_mu_product_must_be_one_number():
    m = trained("nadam", epochs=1)
    b = m.to_bytes()
    assert "optimizer/mu_product.npy" in zipfile.ZipFile(io.BytesIO(b)).namelist()
    for bad in (np.zeros(0), np.ones(3), np.array([np.nan])):
        with pytest.raises(ValueError):
            mlp.from_bytes(rebuild(b, {"optimizer/mu_product.npy": npy(bad)}))



def test_resume_with_shuffle_and_dropout_is_exact():
    """The random generator's state travels in the file: resuming with shuffling and dropout
    continues exactly like uninterrupted training."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 3))
    y = (X[:, :1] > 0).astype(float)

    def model():
        return MLP(seed=9).sequential([3, 6, "relu", "dropout(0.3)", 1, "sigmoid"]).set_loss("bce")

    straight = model()
    straight.fit(X, y, epochs=6, batch_size=8)
    straight.fit(X, y, epochs=6, batch_size=8)
    first = model()
    first.fit(X, y, epochs=6, batch_size=8)
    resumed = mlp.from_bytes(first.to_bytes())
    resumed.fit(X, y, epochs=6, batch_size=8)
    assert np.array_equal(straight.params, resumed.params)


def test_an_entry_overlapping_the_next_is_refused_on_every_python():
    """A central directory that stretches params.npy's stored size into the next entry: Python 3.11.7's
    zipfile would read on, 3.12's refuses; the engine refuses it itself, whatever the Python."""
    m = MLP(seed=0).sequential([2, 3, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    m.fit(np.zeros((4, 2)), np.zeros(4), epochs=1)
    blob = bytearray(m.to_bytes())
    at = blob.index(b"PK\x01\x02", blob.index(b"PK\x01\x02") + 4)       # params.npy's directory record
    assert blob[at + 46:at + 56] == b"params.npy"
    size = int.from_bytes(blob[at + 20:at + 24], "little")
    blob[at + 20:at + 24] = (size + 40).to_bytes(4, "little")
    with pytest.raises(ValueError, match="entry 'params.npy' overlaps the next entry"):
        mlp.from_bytes(bytes(blob))
