"""Backpropagation against central finite differences (float64) and torch autograd.

The loss used for the finite differences is computed here from ``model.predict`` with formulas written
from PyTorch's documented definitions (reduction='mean'), so the engine's loss code is checked too.
"""
import math

import numpy as np
import pytest

from mlp import MLP

import torch
import torch.nn.functional as F

ACTS = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu", "softplus", "swish"]
REGRESSION_LOSSES = ["mse", "mae", "huber"]
EPS = 1e-6
TOL = 1e-6


# ---------------------------------------------------------------------------- independent references
def ref_act(name, z):
    z = np.asarray(z, dtype=np.float64)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)) without overflow
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "linear":
        return z.copy()
    if name == "gelu":  # tanh approximation
        return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "swish":
        return z * 0.5 * (1.0 + np.tanh(0.5 * z))
    raise KeyError(name)


def ref_loss(name, a, y):
    """PyTorch reduction='mean' definitions; cce: mean over samples of the per-sample sum."""
    a = np.asarray(a, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = a - y
    if name == "mse":
        return np.mean(d ** 2)
    if name == "mae":
        return np.mean(np.abs(d))
    if name == "huber":  # delta = 1
        ad = np.abs(d)
        return np.mean(np.where(ad < 1.0, 0.5 * d ** 2, ad - 0.5))
    if name == "bce":
        return -np.mean(y * np.log(a) + (1 - y) * np.log1p(-a))
    if name == "cce":
        return -np.sum(y * np.log(a)) / a.shape[0]
    raise KeyError(name)


def onehot(labels, k):
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def numeric_gradients(model, loss_fn):
    """Central differences of loss_fn() w.r.t. every entry of every array of get_weights()."""
    weights = model.get_weights()
    grads = []
    for k, w in enumerate(weights):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            orig = w[idx]
            w[idx] = orig + EPS
            model.set_weights(weights)
            up = loss_fn()
            w[idx] = orig - EPS
            model.set_weights(weights)
            down = loss_fn()
            w[idx] = orig
            g[idx] = (up - down) / (2 * EPS)
        grads.append(g)
    model.set_weights(weights)
    return grads


def rel_error(analytic, numeric):
    a = np.concatenate([g.ravel() for g in analytic])
    n = np.concatenate([g.ravel() for g in numeric])
    return np.max(np.abs(a - n)) / max(np.max(np.abs(n)), np.max(np.abs(a)), 1e-12)


def check_against_fd(model, X, y, loss, y_for_ref=None):
    y_ref = y if y_for_ref is None else y_for_ref
    before = [w.copy() for w in model.get_weights()]
    analytic = model.gradients(X, y)
    # gradients() must not change the parameters
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert [g.shape for g in analytic] == [w.shape for w in before]
    numeric = numeric_gradients(model, lambda: ref_loss(loss, model.predict(X), y_ref))
    assert max(np.max(np.abs(g)) for g in numeric) > 1e-4, "degenerate case: all gradients ~0"
    err = rel_error(analytic, numeric)
    assert err < TOL, f"relative error {err:.3g}"
    return analytic


def data(n=7, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * 1.3


# ---------------------------------------------------------------------------- activation values
@pytest.mark.parametrize("name", ACTS)
def test_activation_values_match_reference(name):
    k = 4
    m = MLP(seed=0).sequential([k, k, name]).set_loss("mse")
    m.set_weights([np.eye(k), np.zeros(k)])
    z = np.random.default_rng(1).normal(size=(9, k)) * 3
    z[0] = [0.5, -0.5, 30.0, -30.0]
    np.testing.assert_allclose(m.predict(z), ref_act(name, z), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ACTS)
def test_activation_extreme_inputs_stay_finite(name):
    k = 3
    m = MLP(seed=0).sequential([k, k, name]).set_loss("mse")
    m.set_weights([np.eye(k), np.zeros(k)])
    z = np.array([[800.0, -800.0, 0.0], [40.0, -40.0, 1e-3], [-745.0, 745.0, -1e-300]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = m.predict(z)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, ref_act(name, z), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", ACTS)
def test_activation_values_match_torch(name):
    fns = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "tanh": torch.tanh,
           "sigmoid": torch.sigmoid, "softmax": lambda t: F.softmax(t, dim=1), "linear": lambda t: t,
           "gelu": lambda t: F.gelu(t, approximate="tanh"), "elu": F.elu, "softplus": F.softplus, "swish": F.silu}
    k = 5
    m = MLP(seed=0).sequential([k, k, name]).set_loss("mse")
    m.set_weights([np.eye(k), np.zeros(k)])
    z = np.random.default_rng(2).normal(size=(11, k)) * 4
    expected = fns[name](torch.tensor(z, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(m.predict(z), expected, rtol=1e-11, atol=1e-14)


# ---------------------------------------------------------------------------- loss values
@pytest.mark.parametrize("out_act, loss", [(a, l) for a in ACTS for l in REGRESSION_LOSSES] +
                         [("sigmoid", "bce"), ("softmax", "cce")])
def test_evaluate_loss_matches_reference(out_act, loss):
    X = data(9, 3, seed=3)
    k = 3
    m = MLP(seed=1).sequential([3, 6, "tanh", k, out_act]).set_loss(loss)
    rng = np.random.default_rng(4)
    if loss == "bce":
        y = rng.integers(0, 2, size=(9, k)).astype(float)
    elif loss == "cce":
        y = onehot(rng.integers(0, k, size=9), k)
    else:
        y = rng.normal(size=(9, k)) * 2
    got = m.evaluate(X, y)["loss"]
    assert got == pytest.approx(ref_loss(loss, m.predict(X), y), rel=1e-10)


# ---------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", ACTS)
def test_fd_every_hidden_activation(name):
    X = data(7, 3, seed=5)
    y = np.random.default_rng(6).normal(size=(7, 2))
    m = MLP(seed=2).sequential([3, 5, name, 4, name, 2, "linear"]).set_loss("mse")
    check_against_fd(m, X, y, "mse")


@pytest.mark.parametrize("out_act", ACTS)
@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_fd_regression_loss_with_every_output_activation(out_act, loss):
    X = data(8, 3, seed=7)
    y = np.random.default_rng(8).normal(size=(8, 3)) * 1.5
    m = MLP(seed=3).sequential([3, 5, "tanh", 3, out_act]).set_loss(loss)
    if loss == "huber":  # both branches of the huber loss are exercised
        d = np.abs(m.predict(X) - y)
        assert (d < 1).any() and (d > 1).any()
    check_against_fd(m, X, y, loss)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("soft", [False, True])
def test_fd_sigmoid_bce(k, soft):
    X = data(8, 3, seed=9)
    rng = np.random.default_rng(10)
    y = rng.uniform(size=(8, k)) if soft else rng.integers(0, 2, size=(8, k)).astype(float)
    m = MLP(seed=4).sequential([3, 5, "relu", k, "sigmoid"]).set_loss("bce")
    check_against_fd(m, X, y, "bce")


@pytest.mark.parametrize("label_form", ["onehot", "int", "int_column", "soft"])
def test_fd_softmax_cce(label_form):
    X = data(9, 3, seed=11)
    k = 4
    rng = np.random.default_rng(12)
    labels = rng.integers(0, k, size=9)
    labels[:k] = np.arange(k)
    target = onehot(labels, k)
    y = {"onehot": target, "int": labels, "int_column": labels.reshape(-1, 1)}.get(label_form)
    if label_form == "soft":
        target = rng.dirichlet(np.ones(k), size=9)
        y = target
    m = MLP(seed=5).sequential([3, 6, "gelu", k, "softmax"]).set_loss("cce")
    g = check_against_fd(m, X, y, "cce", y_for_ref=target)
    if label_form != "onehot":
        return
    # integer labels give exactly the one-hot gradients
    for a, b in zip(g, m.gradients(X, labels)):
        np.testing.assert_array_equal(a, b)


def test_fd_relu_wide_batch():
    # a relu layer of 64 units over 80 samples takes the large-array relu paths (zeros buffer, bool mask)
    X = data(80, 3, seed=15)
    y = np.random.default_rng(16).normal(size=(80, 2))
    m = MLP(seed=7).sequential([3, 64, "relu", 4, "relu", 2, "linear"]).set_loss("mse")
    check_against_fd(m, X, y, "mse")


@pytest.mark.parametrize("shape", [(2, 5), (200, 64)])   # both sides of the small/large switch
def test_relu_buffer_functions_equal_the_table(shape):
    from mlp import activations as act
    rng = np.random.default_rng(17)
    z = rng.normal(size=shape)
    z[0, :3] = [0.0, -0.0, np.nan]
    a = act.ACTIVATIONS["relu"](z.copy())
    buf = np.empty(shape[::-1]).T        # the transposed views backprop passes
    buf[...] = z
    out = act.forward_fn("relu", buf)(buf)
    assert out is buf
    np.testing.assert_array_equal(out, a)
    assert np.isnan(out[0, 2])
    grad = rng.normal(size=shape)
    expected = grad * (np.nan_to_num(a) > 0)
    back = act.backward_fn("relu", buf)
    for _ in range(2):                   # its scratch array is reused
        g = np.empty(shape[::-1]).T
        g[...] = grad
        np.testing.assert_array_equal(back(g, None, np.nan_to_num(out)), expected)


def test_fd_deep_mixed_network():
    X = data(6, 4, seed=13)
    y = np.random.default_rng(14).normal(size=(6, 2))
    m = MLP(seed=6).sequential([4, 5, "elu", 4, "swish", 5, "softplus", 3, "leaky_relu", 2, "tanh"]).set_loss("huber")
    check_against_fd(m, X, y, "huber")


def test_gradients_run_in_inference_mode_through_dropout():
    X = data(8, 3, seed=15)
    y = np.random.default_rng(16).integers(0, 2, size=(8, 1)).astype(float)
    with_dropout = MLP(seed=7).sequential([3, "dropout(0.3)", 6, "relu", "dropout(0.5)", 4, "tanh",
                                           ("dropout", 0.2), 1, "sigmoid"]).set_loss("bce")
    plain = MLP(seed=99).sequential([3, 6, "relu", 4, "tanh", 1, "sigmoid"]).set_loss("bce")
    plain.set_weights(with_dropout.get_weights())
    g1 = check_against_fd(with_dropout, X, y, "bce")
    g2 = with_dropout.gradients(X, y)  # no randomness: repeated calls agree
    for a, b, c in zip(g1, g2, plain.gradients(X, y)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-16)


def test_gradients_do_not_touch_optimizer_state():
    X = data(5, 3, seed=17)
    y = np.random.default_rng(18).normal(size=(5, 1))
    m = MLP(seed=8).sequential([3, 4, "relu", 1]).set_loss("mse").set_optimizer("adam")
    m.fit(X, y, epochs=2, batch_size=None, shuffle=False)
    t = m.optimizer.t
    state = {k: v.copy() for k, v in m.optimizer.state.items()}
    m.gradients(X, y)
    assert m.optimizer.t == t
    for k, v in state.items():
        np.testing.assert_array_equal(v, m.optimizer.state[k])


def test_gradients_float32_close_to_float64():
    X = data(6, 3, seed=19)
    y = np.random.default_rng(20).normal(size=(6, 2))
    m64 = MLP(seed=9).sequential([3, 5, "tanh", 2]).set_loss("mse")
    m32 = MLP(seed=9, dtype="float32").sequential([3, 5, "tanh", 2]).set_loss("mse")
    m32.set_weights(m64.get_weights())
    g32 = m32.gradients(X, y)
    assert all(g.dtype == np.float32 for g in g32)
    for a, b in zip(g32, m64.gradients(X, y)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------- torch autograd
def torch_loss_and_grads(model, acts, loss, X, y):
    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights()]
    a = torch.tensor(np.asarray(X, float), dtype=torch.float64)
    act_fns = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "softmax": lambda t: F.softmax(t, dim=1), "linear": lambda t: t,
               "gelu": lambda t: F.gelu(t, approximate="tanh"), "elu": F.elu, "softplus": F.softplus,
               "swish": F.silu}
    z = None
    for i, name in enumerate(acts):
        z = a @ ws[2 * i] + ws[2 * i + 1]
        a = act_fns[name](z)
    yt = torch.tensor(np.asarray(y, float), dtype=torch.float64)
    if loss == "mse":
        value = F.mse_loss(a, yt)
    elif loss == "mae":
        value = F.l1_loss(a, yt)
    elif loss == "huber":
        value = F.huber_loss(a, yt, delta=1.0)
    elif loss == "bce":
        value = F.binary_cross_entropy(a, yt)
    elif loss == "cce":  # logits of the softmax layer; targets as labels or probabilities
        value = F.cross_entropy(z, yt.long() if yt.ndim == 1 else yt)
    value.backward()
    return value.item(), [w.grad.numpy() for w in ws]


@pytest.mark.parametrize("hidden", ACTS)
def test_torch_autograd_hidden_activations(hidden):
    X = data(10, 4, seed=21)
    y = np.random.default_rng(22).normal(size=(10, 2))
    m = MLP(seed=10).sequential([4, 6, hidden, 5, hidden, 2, "linear"]).set_loss("mse")
    value, expected = torch_loss_and_grads(m, [hidden, hidden, "linear"], "mse", X, y)
    assert m.evaluate(X, y)["loss"] == pytest.approx(value, rel=1e-12)
    for a, b in zip(m.gradients(X, y), expected):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("out_act, loss, label_form",
                         [(a, l, "real") for a in ACTS for l in REGRESSION_LOSSES] +
                         [("sigmoid", "bce", "binary"), ("sigmoid", "bce", "soft"),
                          ("softmax", "cce", "onehot"), ("softmax", "cce", "int")])
def test_torch_autograd_output_pairings(out_act, loss, label_form):
    X = data(12, 3, seed=23)
    k = 3
    rng = np.random.default_rng(24)
    if label_form == "real":
        y = rng.normal(size=(12, k)) * 1.5
    elif label_form == "binary":
        y = rng.integers(0, 2, size=(12, k)).astype(float)
    elif label_form == "soft":
        y = rng.uniform(size=(12, k))
    elif label_form == "onehot":
        y = onehot(rng.integers(0, k, size=12), k)
    else:
        y = rng.integers(0, k, size=12)
    m = MLP(seed=11).sequential([3, 7, "swish", k, out_act]).set_loss(loss)
    value, expected = torch_loss_and_grads(m, ["swish", out_act], loss, X, y)
    assert m.evaluate(X, y)["loss"] == pytest.approx(value, rel=1e-10)
    for a, b in zip(m.gradients(X, y), expected):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-14)


@pytest.fixture
def softsign_activation():
    import mlp
    from mlp import activations
    name = mlp.register_activation("softsign_test", lambda z: z / (1 + np.abs(z)),
                                   lambda z, a: 1.0 / (1 + np.abs(z)) ** 2)
    yield name
    activations.ACTIVATIONS.pop(name, None)
    activations.DERIVATIVES.pop(name, None)
    activations.NEEDS_Z.discard(name)


def test_fd_registered_activation(softsign_activation):
    X = data(7, 3, seed=25)
    y = np.random.default_rng(26).normal(size=(7, 2))
    m = MLP(seed=12).sequential([3, 5, softsign_activation, 4, "relu", 2, softsign_activation]).set_loss("mse")
    W1, b1 = m.get_weights()[:2]
    z = X @ W1 + b1
    hidden = MLP(seed=0).sequential([3, 5, softsign_activation])
    hidden.set_weights([W1, b1])
    np.testing.assert_allclose(hidden.predict(X), z / (1 + np.abs(z)), rtol=1e-13)
    check_against_fd(m, X, y, "mse")
