"""ONNX export checked by onnxruntime, PyTorch export/import checked by PyTorch."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from torch import nn

from mlp import MLP, register_activation
from mlp import activations as act
from mlp.data import Preprocessor, Table, read_csv
from mlp.export import EXPORTABLE, onnx_inputs

RNG = np.random.default_rng(0)
X3 = RNG.normal(size=(64, 3)) * 3
X3[:4] *= 15          # large pre-activations too (softplus, sigmoid, softmax must not overflow)


def _run(model_bytes, feed):
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(["output"], feed)[0]


def _net(activation, dtype="float64", seed=1):
    out = activation if activation != "softmax" else "softmax"
    hidden = activation if activation != "softmax" else "tanh"
    return MLP(seed=seed, dtype=dtype).sequential([3, 7, hidden, "dropout(0.2)", 5, hidden, 4, out])


@pytest.mark.parametrize("activation", EXPORTABLE)
def test_onnx_matches_predict_for_every_activation(activation):
    model = _net(activation)
    data = model.to_onnx()
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["X"] and [o.name for o in proto.graph.output] == ["output"]
    got = _run(data, {"X": X3.astype(np.float32)})
    assert got.dtype == np.float32 and got.shape == (64, 4)
    want = model.predict(X3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert np.isfinite(got).all() and np.abs(want).max() > 0.5     # not all near zero


def test_onnx_of_a_trained_float32_model():
    X = RNG.normal(size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float).reshape(-1, 1)
    model = MLP(seed=0, dtype="float32").sequential([2, 16, "relu", 16, "swish", 1, "sigmoid"])
    model.set_loss("bce").set_optimizer("adam").fit(X, y, epochs=50, learning_rate=0.01)
    got = _run(model.to_onnx(), {"X": X.astype(np.float32)})
    np.testing.assert_allclose(got, model.predict(X), rtol=0, atol=1e-5)
    assert ((got >= 0.5) == (model.predict(X) >= 0.5)).all()


def _table(n=240, seed=3):
    rng = np.random.default_rng(seed)
    height, weight = rng.normal(170, 12, n), rng.normal(70, 9, n)
    color = rng.choice(["red", "blue", "green"], n)
    kind = np.where(height + 5 * (color == "red") > 172, "tall", "short")
    rows = [[f"{h:.2f}", c, f"{w:.2f}", k] for h, c, w, k in zip(height, color, weight, kind)]
    return Table.from_rows(rows, ["height", "color", "weight", "kind"])


def _trained(pre, table, arch_hidden=(8, "tanh")):
    model = MLP(seed=0).sequential([pre.n_inputs, *arch_hidden, pre.n_outputs, pre.output_activation])
    model.set_loss(pre.default_loss).set_optimizer("adam")
    model.fit(pre.transform_X(table), pre.transform_y(table), epochs=40, learning_rate=0.02)
    model.preprocessor = pre
    return model


def test_onnx_standardises_and_one_hot_encodes_raw_columns_inside_the_graph():
    table = _table()
    pre = Preprocessor(["height", "color", "weight"], "kind").fit(table)
    model = _trained(pre, table)
    data = model.to_onnx()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
        ("X", "tensor(float)", ["N", 2]), ("color", "tensor(string)", ["N", 1])]
    # raw values, a category the model never saw (all zeros, as the engine encodes it)
    test = read_csv("height,color,weight\n150,red,60\n185.5,blue,80\n171,purple,72\n168,green,99\n")
    feed = onnx_inputs(model, test)
    np.testing.assert_array_equal(feed["X"], np.array([[150, 60], [185.5, 80], [171, 72], [168, 99]], np.float32))
    got, names = session.run(None, feed)
    np.testing.assert_allclose(got, model.predict(pre.transform_X(test)), rtol=0, atol=1e-5)
    assert list(names) == model.predict_table(test)         # class names straight from the graph
    # the whole training table too, and as a pandas DataFrame
    np.testing.assert_allclose(_run(data, onnx_inputs(model, table)), model.predict(pre.transform_X(table)),
                               rtol=0, atol=1e-5)
    frame = pd.DataFrame({"height": [150.0, 190.0], "color": ["red", "green"], "weight": [60.0, 70.0]})
    np.testing.assert_allclose(_run(data, onnx_inputs(model, frame)), model.predict(pre.transform_X(frame)),
                               rtol=0, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
    assert json.loads(meta["mlp.class_names"]) == ["short", "tall"]
    assert json.loads(meta["mlp.features"]) == ["height", "color", "weight"]


def test_onnx_a_text_column_named_X():
    rows = [[f"{h}", c, "yes" if h > 1 else "no"] for h, c in zip(RNG.normal(size=60) * 2, ["a", "b", "c"] * 20)]
    table = Table.from_rows(rows, ["h", "X", "y"])
    pre = Preprocessor(["h", "X"], "y").fit(table)
    model = _trained(pre, table, (4, "relu"))
    session = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["X_numeric", "X"]
    feed = onnx_inputs(model, table)
    assert sorted(feed) == ["X", "X_numeric"]
    np.testing.assert_allclose(session.run(["output"], feed)[0], model.predict(pre.transform_X(table)), atol=1e-5)


def test_onnx_only_text_columns():
    rng = np.random.default_rng(1)
    rows = [[c, d, "yes" if c == "a" or d == "x" else "no"] for c, d in zip(rng.choice(list("abc"), 80),
                                                                          rng.choice(list("xy"), 80))]
    table = Table.from_rows(rows, ["c", "d", "y"])
    pre = Preprocessor(["c", "d"], "y").fit(table)
    model = _trained(pre, table, (4, "relu"))
    session = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["c", "d"]           # no numeric input at all
    out, names = session.run(None, onnx_inputs(model, table))
    np.testing.assert_allclose(out, model.predict(pre.transform_X(table)), rtol=0, atol=1e-5)
    assert list(names) == model.predict_table(table)


def test_onnx_multiclass_and_regression_with_preprocessing():
    table = _table(seed=5)
    pre = Preprocessor(["color", "weight"], "height", task="regression").fit(table)
    model = _trained(pre, table, (6, "elu", 6, "gelu"))
    session = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    out, values = session.run(None, onnx_inputs(model, table))
    np.testing.assert_allclose(out, model.predict(pre.transform_X(table)), rtol=0, atol=1e-5)
    np.testing.assert_allclose(values, model.predict_table(table), rtol=1e-6)     # in the target's units (cm)
    assert 150 < values.mean() < 190
    pre3 = Preprocessor(["height", "weight"], "color").fit(table)
    model3 = _trained(pre3, table, (6, "leaky_relu"))
    session = ort.InferenceSession(model3.to_onnx(), providers=["CPUExecutionProvider"])
    got, names = session.run(None, onnx_inputs(model3, table))
    np.testing.assert_allclose(got, model3.predict(pre3.transform_X(table)), rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    assert list(names) == model3.predict_table(table) and len(set(names)) > 1


def test_onnx_computes_the_feature_transforms():
    X = RNG.normal(size=(150, 2)) * 2
    table = Table.from_rows([[a, b, int(a * a + b * b > 4)] for a, b in X], ["x1", "x2", "y"])
    transforms = ["x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    pre = Preprocessor(["x1", "x2"], "y", transforms=transforms).fit(table)
    assert pre.n_inputs == 7
    model = _trained(pre, table, (8, "relu"))
    data = model.to_onnx()
    want = model.predict(pre.transform_X(table))
    np.testing.assert_allclose(_run(data, {"X": X.astype(np.float32)}), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_run(data, onnx_inputs(model, X)), want, rtol=0, atol=1e-5)
    # a subset of transforms, in another order
    pre2 = Preprocessor(["x1", "x2"], "y", transforms=["sin(x2)", "x1*x2"]).fit(table)
    model2 = _trained(pre2, table, (4, "sigmoid"))
    np.testing.assert_allclose(_run(model2.to_onnx(), {"X": X.astype(np.float32)}),
                               model2.predict(pre2.transform_X(table)), rtol=0, atol=1e-5)


@pytest.fixture
def cube():
    name = register_activation("export_test_cube", lambda z: z ** 3, lambda z, a: 3 * z ** 2)
    yield name
    for table in (act.ACTIVATIONS, act.DERIVATIVES):     # leave the registry as the other tests expect it
        table.pop(name, None)
    act.NEEDS_Z.discard(name)


def test_onnx_refuses_custom_activations_and_bad_inputs(cube):
    model = MLP(seed=0).sequential([2, 3, cube, 1])
    with pytest.raises(ValueError, match="'export_test_cube'.*custom activation.*relu, leaky_relu"):
        model.to_onnx()
    with pytest.raises(ValueError, match="custom activation"):
        model.to_torch()
    with pytest.raises(ValueError, match="no layers yet"):
        MLP().to_onnx()
    table = _table()
    pre = Preprocessor(["height", "color"], "kind").fit(table)
    m = _trained(pre, table)
    with pytest.raises(ValueError, match="categorical columns: pass a table"):
        onnx_inputs(m, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="missing the feature column"):
        onnx_inputs(m, read_csv("height\n150\n"))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        onnx_inputs(_net("relu"), np.zeros((2, 2)))


# ---------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", EXPORTABLE)
def test_to_torch_gives_predict_and_from_torch_gives_the_same_weights(activation, dtype):
    model = _net(activation, dtype)
    seq = model.to_torch()
    assert isinstance(seq, nn.Sequential) and not seq.training
    assert any(isinstance(m, nn.Dropout) and m.p == 0.2 for m in seq)
    X = X3.astype(dtype)
    with torch.no_grad():
        out = seq(torch.from_numpy(X)).numpy()
    assert out.dtype == np.dtype(dtype)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(out, model.predict(X), rtol=tol, atol=tol)
    back = MLP.from_torch(seq)
    assert back.architecture == model.architecture and back.dtype == model.dtype
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)      # bit for bit


def test_from_torch_reads_a_network_torch_initialised():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Dropout(0.1), nn.Linear(5, 9), nn.GELU(approximate="tanh"), nn.Identity(),
                        nn.Sequential(nn.Linear(9, 6), nn.LeakyReLU(0.01), nn.Dropout(0.3)),
                        nn.Linear(6, 3), nn.Softmax(dim=-1)).double().eval()
    model = MLP.from_torch(seq)
    assert model.architecture == [5, "dropout(0.1)", 9, "gelu", 6, "leaky_relu", "dropout(0.3)", 3, "softmax"]
    X = RNG.normal(size=(20, 5))
    with torch.no_grad():
        want = seq(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(model.predict(X), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.get_weights()[0], seq[1].weight.detach().numpy().T)
    # trainable once a loss is chosen, and a Linear without bias reads as zero biases
    model.set_loss("cce").fit(X, RNG.integers(0, 3, 20), epochs=2)
    nobias = MLP.from_torch(nn.Sequential(nn.Linear(2, 3, bias=False), nn.Tanh(), nn.Linear(3, 1)))
    assert nobias.dtype == np.float32 and not nobias.get_weights()[1].any()


@pytest.mark.parametrize("seq,match", [
    (nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)), r"module 1 \(Conv1d\).*it reads Linear, ReLU"),
    (nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2)), r"LeakyReLU\) with negative_slope=0.2"),
    (nn.Sequential(nn.Linear(3, 4), nn.GELU()), r"approximate='none'.*tanh form"),
    (nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), r"over dim=0"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), r"module 2 \(Tanh\): an activation must directly follow"),
    (nn.Sequential(nn.ReLU(), nn.Linear(3, 4)), r"module 0 \(ReLU\).*it comes first"),
    (nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1)), r"takes 5 inputs but the layer before it gives 4"),
    (nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)), r"ends with Dropout"),
    (nn.Sequential(nn.ReLU()), r"module 0 \(ReLU\)"),
    (nn.Sequential(), r"no Linear layer"),
    (nn.Sequential(nn.Linear(3, 4).half()), r"float16"),
    (nn.Linear(3, 4), r"reads a torch.nn.Sequential, got Linear"),
])
def test_from_torch_refuses_what_it_cannot_read(seq, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MLP.from_torch(seq)


def test_onnx_refuses_a_preprocessor_whose_outputs_do_not_fit_the_network():
    # a binary preprocessor (one output) on a 2-unit softmax network: predict_table refuses it, and so
    # does to_onnx, instead of writing a graph that onnxruntime cannot load (its Squeeze fails)
    table = read_csv("a,b,y\n1,2,x\n3,4,z\n5,1,x\n2,2,z\n")
    pre = Preprocessor(["a", "b"], "y").fit(table)
    model = MLP(seed=0).sequential([2, 3, "relu", 2, "softmax"]).set_loss("cce")
    model.preprocessor = pre
    with pytest.raises(ValueError, match="1 output.*network has 2"):
        model.to_onnx()


def test_onnx_inputs_refuse_missing_feature_values_and_count_them():
    table = _table()
    m = _trained(Preprocessor(["height", "color"], "kind").fit(table), table)
    gappy = read_csv("height,color,weight,kind\n150,red,60,short\n,blue,70,tall\n160,,,tall\n,red,1,short\n")
    with pytest.raises(ValueError, match="'height' has 2 missing value"):
        onnx_inputs(m, gappy)
    onnx_inputs(m, gappy.drop_missing(["height", "color"]))      # the weight column is not a feature
