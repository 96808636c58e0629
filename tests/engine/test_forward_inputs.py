"""forward and predict on Python sequences and on a few rows: the quick paths give what a plain NumPy
computation from the model's weights gives, and every bad input still gets its clear error."""
from __future__ import annotations

import copy
import threading

import numpy as np
import pytest

from mlp import MLP


def reference(model, X):
    """The network's output computed here in float64 from get_weights (relu hidden layers)."""
    a = np.asarray(X, dtype=np.float64).reshape(-1, model.n_inputs)
    weights = model.get_weights()
    for i in range(0, len(weights), 2):
        a = a @ weights[i].astype(np.float64) + weights[i + 1].astype(np.float64)
        if i + 2 < len(weights):
            a = np.maximum(a, 0)
    if model.output_activation == "sigmoid":
        return 1 / (1 + np.exp(-a))
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(params=[("float64", 1, "sigmoid"), ("float32", 1, "sigmoid"), ("float64", 3, "softmax")],
                ids=["f64-sigmoid", "f32-sigmoid", "f64-softmax"])
def model(request):
    dtype, k, out = request.param
    return MLP(seed=3, dtype=dtype).sequential([2, 8, "relu", 8, "relu", k, out])


SAMPLES = [[0.3, -0.7], (0.3, -0.7), [0, 1], (1, 0), [np.float64(0.25), -2], [np.float32(0.5), 1.5], [True, False],
           ["0.3", "-0.7"]]


@pytest.mark.parametrize("x", SAMPLES, ids=[repr(s) for s in SAMPLES])
def test_forward_on_a_sequence_equals_the_array_path_and_the_reference(model, x):
    out = model.forward(x)
    assert isinstance(out, np.ndarray) and out.shape == (model.n_outputs,) and out.dtype == model.dtype
    as_array = np.asarray(x).astype(np.float64).astype(model.dtype)
    np.testing.assert_array_equal(out, model.forward(as_array))
    tol = 1e-6 if model.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, reference(model, as_array)[0], rtol=tol, atol=tol)


def test_results_are_not_shared_buffers(model):
    a = model.forward([0.3, -0.7])
    keep = a.copy()
    b = model.forward((-1.0, 2.0))
    p = model.predict([[0.3, -0.7]])
    model.predict([[5.0, 5.0]])
    np.testing.assert_array_equal(a, keep)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(p[0], keep)


@pytest.mark.parametrize("bad, error, message", [
    (["a", 1.0], ValueError, "x must be numeric, but it contains 'a'"),
    ([None, 1.0], ValueError, "x contains nan at index (0,)"),
    ((0.0, float("inf")), ValueError, "x contains inf at index (1,)"),
    ([float("nan"), 0], ValueError, "x contains nan"),
    ([1j, 0], TypeError, "x must be numeric, got dtype complex128"),
    ([[1, 2], [3]], ValueError, "x is ragged"),
    ([np.array([0.3]), 1.0], ValueError, "x is ragged"),
    ([1, 2, 3], ValueError, "x has 3 values but the network's input size is 2"),
    ((), ValueError, "x has 0 values"),
    ([10 ** 400, 0], ValueError, "x contains a number too large"),
    ([{}, 0], ValueError, "x must be numeric, but it contains {}"),
])
def test_bad_sequences_get_clear_errors(model, bad, error, message):
    with pytest.raises(error) as info:
        model.forward(bad)
    assert message in str(info.value)
    assert type(info.value) in (ValueError, TypeError)


def test_odd_element_types_never_leak_internal_errors(model):
    for bad in ([{}, 0], [object(), 1.0], [b"x", 1.0], [[], 0]):
        with pytest.raises((ValueError, TypeError), match="^x "):
            model.forward(bad)


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 8, 9, 40])
def test_predict_on_a_few_rows_matches_the_reference(model, rows):
    X = np.random.default_rng(rows).standard_normal((rows, 2))
    for given in (X, X.tolist(), X.astype(model.dtype), np.asfortranarray(X)):
        out = model.predict(given)
        assert out.shape == (rows, model.n_outputs) and out.dtype == model.dtype
        tol = 1e-6 if model.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, reference(model, X), rtol=tol, atol=tol)


@pytest.mark.parametrize("bad, message", [
    ([[0.0, np.nan]], "X contains nan at index (0, 1)"),
    ([[np.inf, 0.0], [0.0, 0.0]], "X contains inf at index (0, 0)"),
    ([[1e308, 1e308]], None),   # finite: accepted (its sum overflows; the full check passes it)
    ([[1, 2, 3]], "X has 3 feature column(s)"),
    ([[10 ** 400, 0]], "X contains a number too large"),
])
def test_predict_on_a_few_bad_rows(model, bad, message):
    if message is None and model.dtype == np.float32:
        message = "X contains inf at index (0, 0)"   # beyond float32's range
    if message is None:
        with np.errstate(over="ignore", invalid="ignore"):
            assert model.predict(bad).shape == (1, model.n_outputs)
        return
    with pytest.raises(ValueError) as info, np.errstate(over="ignore"):
        model.predict(bad)
    assert message in str(info.value)


def test_threads_calling_forward_on_lists_get_their_own_answers():
    model = MLP(seed=0).sequential([2, 16, "relu", 1, "sigmoid"])
    xs = [[i / 50, -i / 70] for i in range(50)]
    expected = [reference(model, x)[0] for x in xs]
    errors = []

    def work():
        for _ in range(40):
            for x, e in zip(xs, expected):
                got = model.forward(x) if len(errors) % 2 else model.predict([x])[0]
                if not np.allclose(got, e, rtol=1e-12, atol=1e-12):
                    errors.append((x, got, e))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_the_few_rows_buffers_follow_the_weights_and_copies():
    X = np.random.default_rng(0).standard_normal((3, 2))
    y = (X[:, :1] > 0).astype(float)
    model = MLP(seed=0).sequential([2, 8, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam")
    before = model.predict(X)                      # builds the buffers
    twin = copy.deepcopy(model)
    model.fit(X, y, epochs=5, batch_size=3)        # trains in place: the buffers see it
    np.testing.assert_allclose(model.predict(X), reference(model, X), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(twin.predict(X), before)   # the copy kept its own weights
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(twin.predict(X), model.predict(X), rtol=1e-12, atol=1e-12)
    twin.params = np.zeros(twin.n_params)
    np.testing.assert_array_equal(twin.predict(X), np.full((3, 1), 0.5))
    twin.sequential([2, 4, "tanh", 3, "softmax"])  # rebuilt: new buffers for the new layers
    assert twin.predict(X).shape == (3, 3)
