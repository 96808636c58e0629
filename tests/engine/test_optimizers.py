"""Optimizer updates against independent references of PyTorch's documented algorithms, and torch.optim.

Each reference below is written from the pseudo-code in the PyTorch documentation
(torch.optim.SGD / RMSprop / Adam / AdamW / Adagrad / NAdam, default flags: no amsgrad, no centering,
dampening 0, lr_decay 0, initial accumulator 0, NAdam without decoupled weight decay). The engine is driven
only through its public API: ``fit`` with ``batch_size=len(X)`` and ``shuffle=False`` (one step per epoch)
against ``gradients`` + the reference update applied to a twin model.
"""
import math

import numpy as np
import pytest

from mlp import MLP
from mlp.optimizers import make_optimizer

import torch

ARCH = [3, 5, "tanh", 4, "sigmoid", 2, "linear"]
STEPS = 5
RTOL = 1e-10


# ---------------------------------------------------------------------------- references (torch docs)
def ref_step(name, p, g, lr, t, state, h):
    """One update of parameter vector p with gradient g at step t (1-based); returns the new p."""
    wd = h.get("weight_decay", 0.0)
    if name in ("sgd", "sgd_momentum"):
        mu = h.get("momentum", 0.9 if name == "sgd_momentum" else 0.0)
        if wd:
            g = g + wd * p
        if mu:
            if t == 1:
                b = g.copy()
            else:
                b = mu * state["b"] + g
            state["b"] = b
            g = g + mu * b if h.get("nesterov", False) else b
        return p - lr * g
    if name == "rmsprop":
        alpha, eps = h.get("rho", 0.9), h.get("eps", 1e-8)
        if wd:
            g = g + wd * p
        v = alpha * state.get("v", 0.0) + (1 - alpha) * g * g
        state["v"] = v
        return p - lr * g / (np.sqrt(v) + eps)
    if name in ("adam", "adamw"):
        b1, b2, eps = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8)
        if name == "adamw":
            wd = h.get("weight_decay", 0.01)
            p = p - lr * wd * p
        elif wd:
            g = g + wd * p
        m = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    if name == "adagrad":
        eps = h.get("eps", 1e-10)
        if wd:
            g = g + wd * p
        s = state.get("s", 0.0) + g * g
        state["s"] = s
        return p - lr * g / (np.sqrt(s) + eps)
    if name == "nadam":
        b1, b2, eps, psi = h.get("beta1", 0.9), h.get("beta2", 0.999), h.get("eps", 1e-8), h.get("momentum_decay", 0.004)
        if wd:
            g = g + wd * p
        mus = state.setdefault("mus", [])
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        mus.append(mu_t)
        prod_t = math.prod(mus)
        prod_next = prod_t * mu_next
        m = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        v_hat = v / (1 - b2 ** t)
        denom = np.sqrt(v_hat) + eps
        return p - lr * (1 - mu_t) / (1 - prod_t) * g / denom - lr * mu_next / (1 - prod_next) * m / denom
    raise KeyError(name)


CASES = [
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.05}),
    ("sgd", {"momentum": 0.5}),
    ("sgd_momentum", {}),
    ("sgd_momentum", {"nesterov": True, "weight_decay": 0.02}),
    ("rmsprop", {}),
    ("rmsprop", {"rho": 0.95, "eps": 1e-6, "weight_decay": 0.03}),
    ("adam", {}),
    ("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.1, "beta1": 0.85}),
    ("adagrad", {}),
    ("adagrad", {"weight_decay": 0.05, "eps": 1e-8}),
    ("nadam", {}),
    ("nadam", {"momentum_decay": 0.01, "weight_decay": 0.05, "beta2": 0.99}),
]


def problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(12, 3))
    y = np.stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 0]], axis=1) + 0.1 * rng.normal(size=(12, 2))
    return X, y


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def unflat(vec, like):
    out, i = [], 0
    for a in like:
        out.append(vec[i:i + a.size].reshape(a.shape))
        i += a.size
    return out


def reference_run(name, hyper, weights0, X, y, lrs):
    twin = MLP(seed=123).sequential(ARCH).set_loss("mse")
    p, state = flat(weights0), {}
    for t, lr in enumerate(lrs, start=1):
        twin.set_weights(unflat(p, weights0))
        g = flat(twin.gradients(X, y))
        assert np.abs(g).max() > 1e-3  # nontrivial gradients
        p = ref_step(name, p, g, lr, t, state, hyper)
    return p


@pytest.mark.parametrize("name, hyper", CASES)
def test_fit_steps_match_reference(name, hyper):
    X, y = problem()
    m = MLP(seed=1).sequential(ARCH).set_loss("mse").set_optimizer(name, **hyper)
    w0 = m.get_weights()
    lr, decay = 0.05, 0.9
    m.fit(X, y, epochs=STEPS, learning_rate=lr, lr_decay=decay, batch_size=len(X), shuffle=False)
    assert m.optimizer.t == STEPS
    expected = reference_run(name, hyper, w0, X, y, [lr * decay ** e for e in range(STEPS)])
    assert not np.allclose(expected, flat(w0))
    np.testing.assert_allclose(flat(m.get_weights()), expected, rtol=RTOL, atol=1e-14)


PAIRS = [("linear", "mse"), ("linear", "mae"), ("linear", "huber"), ("tanh", "mse"), ("sigmoid", "bce"),
         ("softmax", "cce")]


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_steps_match_reference_for_every_output_and_loss(name, output, loss):
    # Adam has the network pre-scale the gradients it writes (grad_scale): in the fused output
    # gradients and in the general path alike, and with L2 weight decay, the steps must stay torch's
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 3))
    y = {"bce": (X[:, :2] > 0).astype(float), "cce": (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)}.get(loss, X[:, :2] ** 2)
    arch = [3, 5, "tanh", 3 if loss == "cce" else 2, output]
    hyper = {"weight_decay": 0.05, "beta2": 0.99} if name == "adam" else {}
    m = MLP(seed=4).sequential(arch).set_loss(loss).set_optimizer(name, **hyper)
    w0 = m.get_weights()
    m.fit(X, y, epochs=STEPS, learning_rate=0.05, batch_size=len(X), shuffle=False)
    p, state = flat(w0), {}
    twin = MLP(seed=123).sequential(arch).set_loss(loss)
    for t in range(1, STEPS + 1):
        twin.set_weights(unflat(p, w0))
        p = ref_step(name, p, flat(twin.gradients(X, y)), 0.05, t, state, hyper)
    assert not np.allclose(p, flat(w0))
    np.testing.assert_allclose(flat(m.get_weights()), p, rtol=RTOL, atol=1e-14)
    assert m.optimizer.grad_scale != 1.0


@pytest.mark.parametrize("name, hyper", CASES)
def test_step_on_plain_arrays_matches_reference(name, hyper):
    # an optimizer used on its own: gradients passed in are the gradients themselves, not grad_scale
    # times them (that holds only for the array grad_buffer hands to the network)
    rng = np.random.default_rng(7)
    opt = make_optimizer(name, **hyper)
    p = rng.normal(size=20)
    expected, state = p.copy(), {}
    for t in range(1, STEPS + 1):
        g = rng.normal(size=20)
        expected = ref_step(name, expected, g.copy(), 0.01 * t, t, state, hyper)
        opt.step(p, g.copy(), 0.01 * t)
    np.testing.assert_allclose(p, expected, rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name, hyper", CASES)
def test_state_persists_across_fit_calls(name, hyper):
    X, y = problem(1)
    a = MLP(seed=2).sequential(ARCH).set_loss("mse").set_optimizer(name, **hyper)
    b = MLP(seed=2).sequential(ARCH).set_loss("mse").set_optimizer(name, **hyper)
    a.fit(X, y, epochs=3, learning_rate=0.02, batch_size=None, shuffle=False)
    a.fit(X, y, epochs=2, learning_rate=0.02, batch_size=None, shuffle=False)
    b.fit(X, y, epochs=5, learning_rate=0.02, batch_size=None, shuffle=False)
    assert a.optimizer.t == b.optimizer.t == 5
    np.testing.assert_array_equal(a.params, b.params)
    if name not in ("sgd",) or hyper.get("momentum"):
        # continuing is not the same as restarting the optimizer
        c = MLP(seed=2).sequential(ARCH).set_loss("mse").set_optimizer(name, **hyper)
        c.fit(X, y, epochs=3, learning_rate=0.02, batch_size=None, shuffle=False)
        c.set_optimizer(name, **hyper)
        assert c.optimizer.t == 0
        c.fit(X, y, epochs=2, learning_rate=0.02, batch_size=None, shuffle=False)
        assert not np.array_equal(c.params, b.params)


def test_minibatch_steps_match_reference():
    """Three mini-batches per epoch, no shuffling: the reference sees the same batch order."""
    X, y = problem(2)
    m = MLP(seed=3).sequential(ARCH).set_loss("mse").set_optimizer("adam")
    w0 = m.get_weights()
    m.fit(X, y, epochs=2, learning_rate=0.03, batch_size=5, shuffle=False)  # 12 rows -> 5, 5, 2
    assert m.optimizer.t == 6
    twin = MLP(seed=4).sequential(ARCH).set_loss("mse")
    p, state, t = flat(w0), {}, 0
    for _ in range(2):
        for s in (0, 5, 10):
            t += 1
            twin.set_weights(unflat(p, w0))
            p = ref_step("adam", p, flat(twin.gradients(X[s:s + 5], y[s:s + 5])), 0.03, t, state, {})
    np.testing.assert_allclose(flat(m.get_weights()), p, rtol=RTOL, atol=1e-14)


# ---------------------------------------------------------------------------- defaults and names
@pytest.mark.parametrize("name, expected", [
    ("sgd", {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "l1": 0.0}),
    ("sgd_momentum", {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0, "l1": 0.0}),
    ("rmsprop", {"rho": 0.9, "eps": 1e-8, "weight_decay": 0.0, "l1": 0.0}),
    ("adam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "l1": 0.0}),
    ("adamw", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "l1": 0.0}),
    ("adagrad", {"eps": 1e-10, "weight_decay": 0.0, "l1": 0.0}),
    ("nadam", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004, "weight_decay": 0.0, "l1": 0.0}),
])
def test_default_hyperparameters(name, expected):
    cfg = MLP().set_optimizer(name).optimizer.get_config()
    assert cfg.pop("name") == name
    assert cfg == expected


@pytest.mark.parametrize("spelling, name", [("RMSprop", "rmsprop"), ("Adam", "adam"), ("SGD", "sgd"),
                                            (" AdamW ", "adamw"), ("NAdam", "nadam"), ("Adagrad", "adagrad")])
def test_names_case_insensitive(spelling, name):
    assert MLP().set_optimizer(spelling).optimizer.name == name


def test_unknown_optimizer_suggests():
    with pytest.raises(ValueError) as e:
        MLP().set_optimizer("adma")
    assert "Did you mean 'adam'" in str(e.value) and "rmsprop" in str(e.value)
    with pytest.raises(TypeError):
        MLP().set_optimizer(None)


@pytest.mark.parametrize("name, kw", [("adam", {"momentum": 0.9}), ("sgd", {"beta1": 0.9}),
                                      ("rmsprop", {"alpha_typo": 0.9})])
def test_unknown_hyperparameter(name, kw):
    with pytest.raises(ValueError) as e:
        MLP().set_optimizer(name, **kw)
    assert list(kw)[0] in str(e.value) and "Allowed" in str(e.value)


@pytest.mark.parametrize("name, kw", [("adam", {"beta1": 1.0}), ("adam", {"beta2": -0.1}),
                                      ("sgd_momentum", {"momentum": 1.5}), ("rmsprop", {"rho": float("nan")}),
                                      ("adam", {"eps": "small"}), ("sgd", {"weight_decay": -1}),
                                      ("sgd", {"nesterov": 1.0}), ("adam", {"beta1": True})])
def test_bad_hyperparameter_values(name, kw):
    with pytest.raises((ValueError, TypeError)) as e:
        MLP().set_optimizer(name, **kw)
    assert list(kw)[0] in str(e.value)


# ---------------------------------------------------------------------------- torch.optim
def torch_optimizer(name, hyper, param, lr):
    wd = hyper.get("weight_decay")
    O = torch.optim
    if name in ("sgd", "sgd_momentum"):
        mu = hyper.get("momentum", 0.9 if name == "sgd_momentum" else 0.0)
        return O.SGD([param], lr=lr, momentum=mu, nesterov=hyper.get("nesterov", False),
                     weight_decay=wd or 0.0, foreach=False)
    if name == "rmsprop":
        return O.RMSprop([param], lr=lr, alpha=hyper.get("rho", 0.9), eps=hyper.get("eps", 1e-8),
                         weight_decay=wd or 0.0, foreach=False)
    betas = (hyper.get("beta1", 0.9), hyper.get("beta2", 0.999))
    if name == "adam":
        return O.Adam([param], lr=lr, betas=betas, eps=hyper.get("eps", 1e-8), weight_decay=wd or 0.0,
                      foreach=False)
    if name == "adamw":
        return O.AdamW([param], lr=lr, betas=betas, eps=hyper.get("eps", 1e-8),
                       weight_decay=0.01 if wd is None else wd, foreach=False)
    if name == "adagrad":
        return O.Adagrad([param], lr=lr, eps=hyper.get("eps", 1e-10), weight_decay=wd or 0.0, foreach=False)
    if name == "nadam":
        return O.NAdam([param], lr=lr, betas=betas, eps=hyper.get("eps", 1e-8),
                       momentum_decay=hyper.get("momentum_decay", 0.004), weight_decay=wd or 0.0, foreach=False)
    raise KeyError(name)



@pytest.mark.parametrize("name, hyper", CASES)
def test_fit_steps_match_torch_optim(name, hyper, torch_float64):
    X, y = problem(3)
    m = MLP(seed=5).sequential(ARCH).set_loss("mse").set_optimizer(name, **hyper)
    w0 = m.get_weights()
    lr, decay = 0.05, 0.8
    m.fit(X, y, epochs=STEPS, learning_rate=lr, lr_decay=decay, batch_size=len(X), shuffle=False)

    twin = MLP(seed=6).sequential(ARCH).set_loss("mse")
    param = torch.tensor(flat(w0), dtype=torch.float64, requires_grad=True)
    opt = torch_optimizer(name, hyper, param, lr)
    for e in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lr * decay ** e
        twin.set_weights(unflat(param.detach().numpy().copy(), w0))
        param.grad = torch.tensor(flat(twin.gradients(X, y)), dtype=torch.float64)
        opt.step()
    np.testing.assert_allclose(flat(m.get_weights()), param.detach().numpy(), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name", ["sgd", "adam", "adagrad"])
def test_l1_on_plain_arrays_every_entry_or_the_masked_ones(name):
    # used on its own, an optimizer's l1 adds l1 * sign(p) to the gradient of every entry, or of the
    # entries set_l1_mask marks (the network marks its weights)
    rng = np.random.default_rng(8)
    p0, g = rng.normal(size=10), rng.normal(size=10)
    mask = (np.arange(10) % 3 != 0).astype(float)
    for m in (None, mask):
        opt, plain = make_optimizer(name, l1=0.2), make_optimizer(name)
        opt.set_l1_mask(m)
        p, q = p0.copy(), p0.copy()
        opt.step(p, g.copy(), 0.1)
        plain.step(q, g + 0.2 * np.sign(p0) * (1.0 if m is None else m), 0.1)
        np.testing.assert_allclose(p, q, rtol=1e-13)
    with pytest.raises(ValueError, match="l1_mask has shape"):
        opt = make_optimizer(name, l1=0.2)
        opt.set_l1_mask(np.ones(3))
        opt.step(p0.copy(), g.copy(), 0.1)
