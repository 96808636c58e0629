"""mlp.reference, the textbook implementation: its optimizer updates against torch.optim, and the fast
path (backprop.py + optimizers.py, through fit) against reference.train_step on random architectures."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from mlp import MLP, reference
from mlp.optimizers import OPTIMIZERS

ACTS = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu", "softplus", "swish"]
PAIRS = [(a, loss) for a in ACTS for loss in ("mse", "mae", "huber")] + [("sigmoid", "bce"), ("softmax", "cce"),
                                                                        ("linear", "poisson")]
HYPER = {   # non-default hyperparameters for each optimizer (so that each one reaches the formula)
    "sgd": {"momentum": 0.5, "nesterov": True}, "sgd_momentum": {"momentum": 0.8}, "rmsprop": {"rho": 0.95, "eps": 1e-6},
    "adam": {"beta1": 0.8, "beta2": 0.99}, "adamw": {"weight_decay": 0.05}, "adagrad": {"eps": 1e-8},
    "nadam": {"momentum_decay": 0.01, "beta2": 0.99}}


def torch_optimizer(name, h, param, lr):
    O, wd = torch.optim, h.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    betas = (h.get("beta1", 0.9), h.get("beta2", 0.999))
    if name in ("sgd", "sgd_momentum"):
        return O.SGD([param], lr=lr, momentum=h.get("momentum", 0.9 if name == "sgd_momentum" else 0.0),
                     nesterov=h.get("nesterov", False), weight_decay=wd, foreach=False)
    if name == "rmsprop":
        return O.RMSprop([param], lr=lr, alpha=h.get("rho", 0.9), eps=h.get("eps", 1e-8), weight_decay=wd, foreach=False)
    if name == "adagrad":
        return O.Adagrad([param], lr=lr, eps=h.get("eps", 1e-10), weight_decay=wd, foreach=False)
    cls = {"adam": O.Adam, "adamw": O.AdamW, "nadam": O.NAdam}[name]
    extra = {"momentum_decay": h.get("momentum_decay", 0.004)} if name == "nadam" else {}
    return cls([param], lr=lr, betas=betas, eps=h.get("eps", 1e-8), weight_decay=wd, foreach=False, **extra)


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)   # torch's scalar state (NAdam's mu_product) in float64 too
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("wd", [None, 0.03])
def test_reference_updates_equal_torch_optim(name, wd, torch_float64):
    rng = np.random.default_rng(0)
    h = dict(HYPER[name], **({} if wd is None else {"weight_decay": wd}))
    p, state = rng.normal(size=(4, 3)), {}
    param = torch.tensor(p.copy(), requires_grad=True)
    opt = torch_optimizer(name, h, param, 0.05)
    for t in range(1, 6):
        g = rng.normal(size=p.shape)
        p, state = reference.UPDATES[name](p, g, state, t, 0.05, **h)
        param.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(p, param.detach().numpy(), rtol=1e-11, atol=1e-14)
        torch_state = opt.state[param]
        for key, value in state.items():       # same state, by the same names
            np.testing.assert_allclose(value, torch_state[key].numpy(), rtol=1e-11, atol=1e-15, err_msg=key)


def test_reference_does_not_change_its_arguments():
    rng = np.random.default_rng(1)
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4), "relu"), (rng.normal(size=(4, 2)), rng.normal(size=2), "softmax")]
    x, y = rng.normal(size=(5, 3)), np.eye(2)[rng.integers(0, 2, size=5)]
    copies = [(W.copy(), b.copy()) for W, b, _ in layers]
    state = [({"exp_avg": np.ones((3, 4)), "exp_avg_sq": np.ones((3, 4))}, {"exp_avg": np.ones(4), "exp_avg_sq": np.ones(4)}),
             ({}, {})]
    new, states, loss, pen = reference.train_step(x, y, layers, "cce", "adam", state, 3, 0.1, l1=0.1)
    for (W, b, _), (W0, b0) in zip(layers, copies):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    assert np.all(state[0][0]["exp_avg"] == 1) and state[1] == ({}, {})
    assert not np.allclose(new[0][0], layers[0][0]) and pen > 0 and loss > 0


# ---------------------------------------------------------------------------- fast path == reference
def model_layers(model):
    return [(ly.W.copy(), ly.b.copy(), ly.activation) for ly in model.layers]


@st.composite
def problems(draw):
    n_hidden = draw(st.integers(0, 3))
    sizes = [draw(st.integers(1, 5)) for _ in range(n_hidden + 1)]
    acts = [draw(st.sampled_from(ACTS)) for _ in range(n_hidden)]
    out_act, loss = draw(st.sampled_from(PAIRS))
    k = draw(st.integers(2 if loss == "cce" else 1, 4))
    arch = [sizes[0]]
    for units, a in zip(sizes[1:], acts):
        arch += [units, a]
    arch += [k, out_act]
    name = draw(st.sampled_from(sorted(OPTIMIZERS)))
    hyper = dict(HYPER[name]) if draw(st.booleans()) else {}
    if draw(st.booleans()):
        hyper["l1"] = draw(st.sampled_from([1e-3, 0.02, 0.1]))
    if draw(st.booleans()):
        hyper["weight_decay"] = draw(st.sampled_from([1e-3, 0.05]))
    n = draw(st.integers(1, 9))
    steps = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 16))
    return arch, loss, name, hyper, n, steps, seed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fit_steps_equal_reference_train_steps(problem):
    """fit on one batch (batch_size=n, no shuffle) for a few steps == the same number of train_step calls."""
    arch, loss, name, hyper, n, steps, seed = problem
    rng = np.random.default_rng(seed)
    model = MLP(seed=seed).sequential(arch).set_loss(loss).set_optimizer(name, **hyper)
    k = model.n_outputs
    x = rng.normal(size=(n, arch[0]))
    y = {"bce": lambda: rng.integers(0, 2, size=(n, k)).astype(float),
         "cce": lambda: np.eye(k)[rng.integers(0, k, size=n)],
         "poisson": lambda: rng.poisson(1.5, size=(n, k)).astype(float)}.get(loss, lambda: rng.normal(size=(n, k)))()
    layers = model_layers(model)
    states = [({}, {}) for _ in layers]
    h = dict(model.optimizer.hyper)
    l1 = h.pop("l1")
    losses = []
    for t in range(1, steps + 1):
        layers, states, value, _ = reference.train_step(x, y, layers, loss, name, states, t, 0.05, l1, **h)
        losses.append(value)
    hist = model.fit(x, y, epochs=steps, learning_rate=0.05, batch_size=n, shuffle=False)
    # Tolerances: a gradient that is exactly 0 (mae's and relu's discrete derivatives can cancel) comes
    # out as +-1e-17 in one implementation and 0 in the other, and the adaptive optimizers divide it by
    # sqrt(v) + eps: then that entry's step differs by up to lr * 1e-15 / eps (about 1e-6 for Adagrad).
    # A wrong formula, a missing L1 or L2 term, or a wrong state moves the weights by 1e-5 or more.
    np.testing.assert_allclose(hist.history["loss"], losses, rtol=1e-6, atol=1e-9)
    for (W, b, _), (W_fast, b_fast, _) in zip(layers, model_layers(model)):
        np.testing.assert_allclose(W_fast, W, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(b_fast, b, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------- whole runs: fit == reference.fit
RUNS = {   # optimizer: (hidden activations, output activation, loss, schedule)
    "sgd": (("tanh", "gelu"), "sigmoid", "bce", "cosine"),
    "sgd_momentum": (("softplus", "tanh"), "softmax", "cce", "exponential"),
    "rmsprop": (("swish", "sigmoid"), "linear", "mse", "cosine"),
    "adam": (("tanh", "elu"), "softmax", "cce", "exponential"),
    "adamw": (("gelu", "tanh"), "sigmoid", "bce", "cosine"),
    "adagrad": (("tanh", "softplus"), "linear", "huber", "exponential"),
    "nadam": (("sigmoid", "gelu"), "softmax", "cce", "cosine"),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_whole_training_runs_equal_reference_fit(name):
    """fit over several epochs of shuffled mini-batches (a smaller last batch, L1 and L2, a learning-rate
    schedule) ends at the weights, optimizer state and per-epoch losses of reference.fit from the same
    seed: the epoch loop, the batching, the shuffling and the initialisation as well as the step."""
    hidden, out, loss, schedule = RUNS[name]
    seed, n, epochs, lr, decay = 3, 37, 6, 0.05, 0.9
    k = {"softmax": 3, "sigmoid": 2}.get(out, 2)
    rng = np.random.default_rng(100)
    x = rng.normal(size=(n, 4))
    y = {"bce": lambda: rng.integers(0, 2, size=(n, k)).astype(float),
         "cce": lambda: np.eye(k)[rng.integers(0, k, size=n)]}.get(loss, lambda: rng.normal(size=(n, k)))()
    hyper = dict(HYPER[name], l1=2e-3, **({} if name == "adamw" else {"weight_decay": 1e-3}))
    arch = [4, 6, hidden[0], 5, hidden[1], k, out]
    model = MLP(seed=seed).sequential(arch).set_loss(loss).set_optimizer(name, **hyper)

    ref_rng = np.random.default_rng(seed)     # the model's generator: its weights, then each epoch's order
    layers = reference.init_layers([4, 6, 5, k], [hidden[0], hidden[1], out], ref_rng)
    for (W, b, _), (W0, b0, _) in zip(layers, model_layers(model)):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)

    if schedule == "cosine":     # written here from the formula, not taken from the engine
        fit_kw, lr_of = {"lr_schedule": "cosine"}, lambda e: lr * (1 + np.cos(np.pi * e / epochs)) / 2
    else:
        fit_kw, lr_of = {"lr_decay": decay}, lambda e: lr * decay ** e
    hist = model.fit(x, y, epochs=epochs, learning_rate=lr, batch_size=8, **fit_kw)
    h = dict(model.optimizer.hyper)
    l1 = h.pop("l1")
    layers, states, losses = reference.fit(x, y, layers, loss, name, epochs, lr, batch_size=8, rng=ref_rng,
                                           lr_schedule=lr_of, l1=l1, **h)

    assert model.optimizer.t == epochs * 5      # 4 batches of 8 and one of 5 per epoch
    np.testing.assert_allclose(hist.history["loss"], losses, rtol=1e-10)
    for (W, b, _), (W_fast, b_fast, _), layer, (state_W, state_b) in zip(layers, model_layers(model),
                                                                       model.layers, states):
        np.testing.assert_allclose(W_fast, W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b_fast, b, rtol=1e-9, atol=1e-12)
        fast_W = model.optimizer.state_of(layer.offset, W.shape, model.dtype)
        fast_b = model.optimizer.state_of(layer.offset + W.size, b.shape, model.dtype)
        assert set(fast_W) == set(state_W) and set(fast_b) == set(state_b)
        for key in state_W:
            np.testing.assert_allclose(fast_W[key], state_W[key], rtol=1e-9, atol=1e-13, err_msg=key)
            np.testing.assert_allclose(fast_b[key], state_b[key], rtol=1e-9, atol=1e-13, err_msg=key)
