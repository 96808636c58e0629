"""The engine's layout: layers as records, the import paths users have, no private name across modules,
and get_config / from_config on every object a model file holds."""
import ast
import copy
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import mlp
from mlp import MLP
from mlp.layers import Dense
from mlp.optimizers import OPTIMIZERS, Optimizer

ROOT = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- model.layers
def test_layers_are_records_viewing_the_parameters():
    m = MLP(seed=0).sequential([3, "dropout(0.1)", 4, "tanh", "dropout(0.25)", 2, "softmax"])
    assert [type(layer) for layer in m.layers] == [Dense, Dense]
    first, last = m.layers
    assert (first.n_in, first.n_out, first.activation, first.dropout) == (3, 4, "tanh", 0.25)
    assert (last.n_in, last.n_out, last.activation, last.dropout) == (4, 2, "softmax", 0.0)
    assert m.input_dropout == 0.1
    weights = m.get_weights()
    for layer, W, b in zip(m.layers, weights[::2], weights[1::2]):
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(layer.b, b)
        assert np.shares_memory(layer.W, m.params) and np.shares_memory(layer.b, m.params)
    assert sum(layer.n_params for layer in m.layers) == m.n_params
    # changing a record's W in place changes what the model computes (the math done here, by hand)
    x = np.array([[0.5, -1.0, 2.0]])
    first.W[0, :] += 1.0
    a = np.tanh(x @ first.W + first.b)
    z = a @ last.W + last.b
    np.testing.assert_allclose(m.predict(x), np.exp(z) / np.exp(z).sum(), rtol=1e-12)


def test_a_model_prints_as_its_layers():
    m = MLP(seed=0).sequential([2, "dropout(0.5)", 8, "relu", "dropout(0.2)", 1, "sigmoid"])
    assert repr(m.layers) == "[Dense(2 -> 8, relu, dropout=0.2), Dense(8 -> 1, sigmoid)]"
    assert str(m) == "MLP of [Dropout(0.5) of the inputs, Dense(2 -> 8, relu, dropout=0.2), Dense(8 -> 1, sigmoid)]"
    assert str(MLP()) == "MLP of [] (no layers yet: call sequential)"
    with pytest.raises(ValueError, match="sequential"):
        MLP().layers


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m)),
                                   lambda m: mlp.from_bytes(m.to_bytes())])
def test_a_copy_has_layers_of_its_own(clone):
    m = MLP(seed=1).sequential([2, 3, "relu", 1]).set_loss("mse")
    twin = clone(m)
    assert np.shares_memory(twin.layers[0].W, twin.params) and not np.shares_memory(twin.layers[0].W, m.params)
    twin.layers[0].W[...] = 0.0
    assert not np.all(m.layers[0].W == 0.0) and np.all(twin.get_weights()[0] == 0.0)


def test_predict_logits_are_what_predict_activates():
    m = MLP(seed=2).sequential([3, 5, "relu", 4, "softmax"])
    X = np.random.default_rng(0).normal(size=(20, 3))
    z = m.predict_logits(X)
    np.testing.assert_allclose(m.predict(X), np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("rows", [1, 2, 5, 8, 9, 40])
def test_the_few_rows_branch_computes_what_the_general_path_does(rows):
    """predict on up to 8 rows (and forward on one) goes through reused buffers; more rows through plain
    products: both give the network's outputs."""
    m = MLP(seed=3).sequential([4, 6, "gelu", 5, "relu", 1, "sigmoid"])
    X = np.random.default_rng(rows).normal(size=(rows, 4))
    a = X
    for layer in m.layers:
        z = a @ layer.W + layer.b
        a = {"gelu": lambda v: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3))),
             "relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[layer.activation](z)
    np.testing.assert_allclose(m.predict(X), a, rtol=1e-12)
    np.testing.assert_allclose(m.forward(X[0]), a[0], rtol=1e-12)
    assert m.predict(X).shape == (rows, 1) and m.forward(X[0]).shape == (1,)


# ---------------------------------------------------------------------------- import paths
def test_old_data_module_paths_are_the_data_package_modules():
    """mlp.table, mlp.preprocessing and mlp.datasets (the modules before mlp/data/ was a package) import in
    a fresh interpreter, as the first thing, and are the very modules of mlp.data."""
    code = ("import mlp.table, mlp.preprocessing, mlp.datasets, mlp.data.table; "
            "from mlp.preprocessing import FEATURE_TRANSFORMS, Preprocessor; from mlp.table import read_csv; "
            "from mlp import datasets; "
            "assert mlp.table is mlp.data.table and mlp.preprocessing is mlp.data.preprocessing; "
            "assert datasets is mlp.data.datasets and Preprocessor is mlp.data.Preprocessor; "
            "assert FEATURE_TRANSFORMS is mlp.data.FEATURE_TRANSFORMS and read_csv is mlp.data.read_csv; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def _private_crossings(path):
    """Private names a module takes from another: ``from .x import _y``, and ``obj._y`` where ``_y`` is not
    defined in the module itself (an attribute it sets, a method, a function or a slot)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            defined.add(node.value)    # __slots__ entries
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"{node.lineno}: from {node.module or '.'} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and node.attr not in defined:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_private_name_crosses_a_module_boundary():
    crossings = {str(p.relative_to(ROOT)): c for p in sorted((ROOT / "mlp").rglob("*.py"))
                 if (c := _private_crossings(p))}
    assert crossings == {}


def test_the_private_name_check_finds_a_crossing(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from .table import _clean\nfrom . import __version__\n\n"
                      "def f(model):\n    model._own = 1\n    return model._layers, model._own\n")
    assert _private_crossings(source) == ["1: from table import _clean", "6: model._layers"]


# ---------------------------------------------------------------------------- get_config / from_config
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_configs_round_trip(name):
    opt = mlp.optimizers.make_optimizer(name, weight_decay=0.125, l1=0.5)
    again = Optimizer.from_config(opt.get_config())
    assert type(again) is type(opt) and again.hyper == opt.hyper and again.t == 0
    with pytest.raises(ValueError, match="name"):
        Optimizer.from_config({"lr": 1})


def test_history_and_preprocessor_configs_round_trip_under_both_names():
    m = MLP(seed=0).sequential([2, 3, "tanh", 1, "sigmoid"]).set_loss("bce")
    X, y = mlp.data.make_dataset("moons", n_samples=40, seed=1)
    h = m.fit(X, y.reshape(-1, 1), epochs=3, validation_split=0.25)
    assert h.get_config() == h.to_dict() and h.get_config()["history"]["loss"] == h.history["loss"]
    for restore in (mlp.History.from_config, mlp.History.from_dict):
        again = restore(h.get_config())
        assert again.history == h.history and again.epochs == h.epochs == [1, 2, 3]
    table = mlp.data.Table.from_rows([[1.5, "a", "x"], [2.5, "b", "y"], [0.5, "a", "x"]], ["n", "c", "t"])
    pre = mlp.data.Preprocessor(["n", "c"], "t").fit(table)
    assert pre.get_config() == pre.to_config()
    again = mlp.data.Preprocessor.from_config(pre.get_config())
    np.testing.assert_array_equal(again.transform_X(table), pre.transform_X(table))
