"""Bad input gives ValueError / TypeError with a message that says what is wrong (and what is allowed)."""
import time

import numpy as np
import pytest

import mlp
from mlp import MLP


def built(arch=(3, 4, "relu", 1), loss="mse"):
    m = MLP(seed=0).sequential(list(arch))
    if loss:
        m.set_loss(loss)
    return m


def raises(exc, fn, *words):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in {msg!r}"
    return msg


X3 = np.random.default_rng(0).normal(size=(5, 3))
Y1 = np.random.default_rng(1).normal(size=(5, 1))


# ---------------------------------------------------------------------------- constructor
@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed):
    raises(ValueError, lambda: MLP(seed=seed), "seed")


@pytest.mark.parametrize("dtype", ["float16", "int32", "double precision", None])
def test_bad_dtype(dtype):
    raises(ValueError, lambda: MLP(dtype=dtype), "dtype", "float32", "float64")


def test_numpy_dtype_objects_accepted():
    assert MLP(dtype=np.float32).sequential([2, 1]).params.dtype == np.float32
    assert MLP(seed=np.int64(3)).seed == 3


# ---------------------------------------------------------------------------- architectures via sequential
@pytest.mark.parametrize("arch, words", [
    ([], ["empty"]),
    ("", ["empty"]),
    ([4], ["layer after the input"]),
    (["relu", 4, 1], ["input size", "relu"]),
    ([2, 4, "relu", "sigmoid", 1], ["two activations"]),
    ([2, 0, 1], ["positive whole number", "0"]),
    ([2, -4, 1], ["positive whole number", "-4"]),
    ([2, 4.5, 1], ["positive whole number", "4.5"]),
    ([2, True, 1], ["positive whole number", "True"]),
    ([2, 4, "rleu", 1], ["unknown activation", "did you mean 'relu'", "allowed"]),
    ("[2, 4, 'rleu', 1]", ["did you mean 'relu'"]),
    ([2, 4, "relu", "dropout(1.2)", 1], ["dropout", "[0, 1)"]),
])
def test_bad_architectures(arch, words):
    raises(ValueError, lambda: MLP().sequential(arch), *words)


@pytest.mark.parametrize("arch", [None, 7, {"layers": [2, 1]}, [2, None, 1], [2, [3], 1]])
def test_architecture_type_errors(arch):
    with pytest.raises((TypeError, ValueError)) as info:
        MLP().sequential(arch)
    assert str(info.value)


@pytest.mark.parametrize("arch", [[2, 10 ** 9, 1], "[2, 10**9, 1]", [10 ** 5, 10 ** 5, 1], [2, 10 ** 18, 10 ** 18]])
def test_too_many_parameters_refused_quickly(arch):
    t = time.perf_counter()
    raises(ValueError, lambda: MLP().sequential(arch), "parameters", "limit")
    assert time.perf_counter() - t < 1.0  # refused before allocating anything


def test_failed_sequential_keeps_previous_network():
    m = built()
    w = m.get_weights()
    with pytest.raises(ValueError):
        m.sequential([2, 10 ** 9, 1])
    assert m.architecture == [3, 4, "relu", 1, "linear"]
    np.testing.assert_array_equal(m.get_weights()[0], w[0])


# ---------------------------------------------------------------------------- losses and optimizers
@pytest.mark.parametrize("name, hint", [("mes", "mse"), ("bec", "bce"), ("hubber", "huber"), ("cross", None)])
def test_unknown_loss(name, hint):
    msg = raises(ValueError, lambda: built(loss=None).set_loss(name), "unknown loss", "allowed", "mse", "cce")
    if hint:
        assert f"did you mean '{hint}'" in msg.lower()


def test_loss_type_error():
    raises(TypeError, lambda: built(loss=None).set_loss(3), "loss")


@pytest.mark.parametrize("arch, loss, need", [
    ((3, 4, "relu", 2, "softmax"), "bce", "sigmoid"),
    ((3, 4, "relu", 1, "linear"), "bce", "sigmoid"),
    ((3, 4, "relu", 1, "sigmoid"), "cce", "softmax"),
    ((3, 4, "relu", 2, "tanh"), "cce", "softmax"),
])
def test_incompatible_pairings(arch, loss, need):
    m = MLP().sequential(list(arch))
    msg = raises(ValueError, lambda: m.set_loss(loss), loss, need)
    assert "mse" in msg  # says what can be used instead


def test_pairing_checked_at_fit_when_loss_set_first():
    m = MLP(seed=0).set_loss("bce").sequential([3, 2, "relu", 1, "linear"])
    raises(ValueError, lambda: m.fit(X3, Y1, epochs=1), "bce", "sigmoid")


@pytest.mark.parametrize("out_act", ["sigmoid", "softmax", "linear", "tanh", "relu"])
def test_regression_losses_allowed_with_any_output(out_act):
    for loss in ("mse", "mae", "huber"):
        MLP().sequential([3, 2, out_act]).set_loss(loss)
    assert set(mlp.compatible_losses(out_act)) >= {"mse", "mae", "huber"}
    assert ("bce" in mlp.compatible_losses(out_act)) == (out_act == "sigmoid")
    assert ("cce" in mlp.compatible_losses(out_act)) == (out_act == "softmax")


def test_loss_options():
    raises(ValueError, lambda: built(loss=None).set_loss("mse", delta=2.0), "mse")
    built(loss=None).set_loss("huber", delta=1.0)


def test_unknown_optimizer():
    raises(ValueError, lambda: built().set_optimizer("sgdd"), "unknown optimizer", "did you mean 'sgd'", "adam")


# ---------------------------------------------------------------------------- order of calls
def test_use_before_building():
    m = MLP()
    for fn in (lambda: m.predict(X3), lambda: m.forward([1, 2, 3]), lambda: m.fit(X3, Y1),
               lambda: m.get_weights(), lambda: m.summary(), lambda: m.to_bytes()):
        raises(ValueError, fn, "sequential")


def test_fit_without_loss():
    m = MLP().sequential([3, 1])
    raises(ValueError, lambda: m.fit(X3, Y1), "loss")
    raises(ValueError, lambda: m.gradients(X3, Y1), "loss")


# ---------------------------------------------------------------------------- data
@pytest.mark.parametrize("call", ["fit", "evaluate", "gradients"])
def test_row_mismatch(call):
    m = built()
    raises(ValueError, lambda: getattr(m, call)(X3, Y1[:4]), "5", "4", "rows")


@pytest.mark.parametrize("call", ["fit", "predict", "evaluate", "forward"])
def test_feature_mismatch(call):
    m = built()
    X = np.ones((5, 4))
    args = (X,) if call in ("predict", "forward") else (X, Y1)
    raises(ValueError, lambda: getattr(m, call)(*args), "4", "3")


def test_forward_single_sample_wrong_length():
    raises(ValueError, lambda: built().forward([1.0, 2.0]), "2", "3")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite(bad, where):
    X, y = X3.copy(), Y1.copy()
    (X if where == "X" else y)[2, 0] = bad
    msg = raises(ValueError, lambda: built().fit(X, y, epochs=1), where, "(2, 0)")
    assert "nan" in msg.lower() or "inf" in msg.lower()


def test_non_finite_predict_and_forward():
    X = X3.copy()
    X[0, 1] = np.nan
    raises(ValueError, lambda: built().predict(X), "nan")
    raises(ValueError, lambda: built().forward([1.0, np.inf, 0.0]), "inf")


@pytest.mark.parametrize("X, word", [
    ([["a", "b", "c"]] * 5, "numeric"),
    ([[1, 2, "three"]] * 5, "numeric"),
    ([[1, 2, {}]] * 5, "numeric"),
    ([[1, 2, None]] * 5, "missing"),  # None is a missing value
])
def test_non_numeric_X(X, word):
    msg = raises(ValueError, lambda: built().fit(X, Y1, epochs=1), word)
    assert "X" in msg


def test_the_bad_value_is_shown_as_written():
    msg = raises(ValueError, lambda: built().forward(["1", "x", "2"]), "numeric")
    assert "contains 'x'" in msg and "np." not in msg


def test_non_numeric_y():
    raises(ValueError, lambda: built().fit(X3, [["x"]] * 5, epochs=1), "y", "numeric")


def test_complex_input_is_type_error():
    raises(TypeError, lambda: built().predict(X3.astype(complex)), "numeric")


def test_numeric_strings_are_accepted():
    m = built()
    np.testing.assert_array_equal(m.predict([["1", "2", "3.5"]]), m.predict([[1, 2, 3.5]]))


@pytest.mark.parametrize("X", [
    [[1, 2, 3], [4, 5], [6, 7, 8]],
    [[1, 2, 3], [4, 5, 6, 7]],
    [[1, 2, 3], 4],
])
def test_ragged_lists(X):
    raises(ValueError, lambda: built().predict(X), "ragged")


def test_ragged_y():
    raises(ValueError, lambda: built().fit(X3[:3], [[1.0], [2.0, 3.0], [4.0]], epochs=1), "ragged")


@pytest.mark.parametrize("X", [np.zeros((0, 3)), np.zeros((2, 3, 1)), 5.0])
def test_bad_shapes(X):
    with pytest.raises(ValueError):
        built().predict(X)


def test_y_wrong_width():
    raises(ValueError, lambda: built().fit(X3, np.ones((5, 2)), epochs=1), "(5, 2)", "1 unit")


@pytest.mark.parametrize("y, words", [
    (np.array([0, 1, 3, 1, 0]), ["0..2", "3"]),
    (np.array([0, 1, -1, 1, 0]), ["0..2"]),
    (np.array([0, 1, 1.5, 1, 0]), ["whole numbers"]),
    (np.array([0, 1, np.nan, 1, 0]), ["whole numbers"]),
    (np.ones((5, 4)) / 4, ["(5, 4)", "3 unit"]),
])
def test_bad_class_labels(y, words):
    m = built((3, 4, "relu", 3, "softmax"), "cce")
    raises(ValueError, lambda: m.fit(X3, y, epochs=1), *words)


def test_bce_targets_outside_unit_interval():
    m = built((3, 4, "relu", 1, "sigmoid"), "bce")
    raises(ValueError, lambda: m.fit(X3, np.array([[0], [1], [2], [1], [0]]), epochs=1), "[0, 1]", "2")


# ---------------------------------------------------------------------------- fit arguments
@pytest.mark.parametrize("kw, words", [
    ({"epochs": 0}, ["epochs"]),
    ({"epochs": -2}, ["epochs"]),
    ({"epochs": 2.5}, ["epochs"]),
    ({"epochs": True}, ["epochs"]),
    ({"epochs": "10"}, ["epochs"]),
    ({"batch_size": 0}, ["batch_size"]),
    ({"batch_size": -1}, ["batch_size"]),
    ({"batch_size": 2.5}, ["batch_size"]),
    ({"batch_size": True}, ["batch_size"]),
    ({"learning_rate": -0.1}, ["learning_rate"]),
    ({"learning_rate": 0}, ["learning_rate"]),
    ({"learning_rate": float("nan")}, ["learning_rate"]),
    ({"learning_rate": "0.1"}, ["learning_rate"]),
    ({"lr_decay": -0.5}, ["lr_decay"]),
    ({"validation_split": 1.5}, ["validation_split"]),
    ({"validation_split": 0.01}, ["validation_split"]),
    ({"validation_data": (X3,)}, ["validation_data"]),
    ({"validation_data": (X3, Y1[:2])}, ["rows"]),
    ({"lr_schedule": "sometimes"}, ["lr_schedule", "allowed"]),
    ({"early_stopping": {"patience": 0}}, ["patience"]),
    ({"early_stopping": {"wait": 3}}, ["early_stopping"]),
    ({"early_stopping": "yes"}, ["early_stopping"]),
    ({"callbacks": 3}, ["callbacks", "3"]),
    ({"callbacks": [print, "log"]}, ["callbacks", "'log'"]),
    ({"shuffle": "no"}, ["shuffle", "True, False or a function order(n)"]),
    ({"verbose": "x"}, ["verbose", "'x'"]),
    ({"verbose": -1}, ["verbose", "every epoch"]),
])
def test_bad_fit_arguments(kw, words):
    m = built()
    w = m.get_weights()
    with pytest.raises((ValueError, TypeError)) as info:
        m.fit(X3, Y1, **{"epochs": 2, **kw})
    msg = str(info.value).lower()
    for word in words:
        assert word.lower() in msg, msg
    np.testing.assert_array_equal(m.get_weights()[0], w[0])  # nothing trained


def test_bad_schedule_output():
    raises(ValueError, lambda: built().fit(X3, Y1, epochs=2, lr_schedule=lambda e: float("nan")), "schedule")


def test_bad_set_weights_type():
    with pytest.raises((ValueError, TypeError)):
        built().set_weights([np.ones((3, 4)), np.ones(4), "w", np.ones(1)])
