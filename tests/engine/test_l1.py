"""L1 regularization, set_optimizer(name, l1=λ): against PyTorch with the penalty written out
(loss + λ Σ|W|, biases excluded), in gradients(), in model files, and in the session layer."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlp
from mlp import MLP
from mlp.optimizers import OPTIMIZERS
from webapp.core import session as S

STEPS = 4
CASES = [(name, {}) for name in sorted(OPTIMIZERS)] + [
    ("sgd_momentum", {"nesterov": True, "weight_decay": 0.02}), ("adam", {"weight_decay": 0.05}),
    ("adamw", {"weight_decay": 0.1}), ("rmsprop", {"weight_decay": 0.01})]


def torch_optimizer(name, h, params, lr):
    O, wd = torch.optim, h.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    if name in ("sgd", "sgd_momentum"):
        return O.SGD(params, lr=lr, momentum=0.9 if name == "sgd_momentum" else 0.0,
                     nesterov=h.get("nesterov", False), weight_decay=wd, foreach=False)
    if name == "rmsprop":
        return O.RMSprop(params, lr=lr, alpha=0.9, eps=1e-8, weight_decay=wd, foreach=False)
    if name == "adagrad":
        return O.Adagrad(params, lr=lr, eps=1e-10, weight_decay=wd, foreach=False)
    return {"adam": O.Adam, "adamw": O.AdamW, "nadam": O.NAdam}[name](params, lr=lr, weight_decay=wd, foreach=False)



def torch_training(weights, acts, loss, X, y, name, hyper, lam, lr, steps):
    """torch.optim on loss + lam * sum|W| (weights only), full batch, ``steps`` steps."""
    ws = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = torch_optimizer(name, hyper, ws, lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    losses = []
    for _ in range(steps):
        a = Xt
        for i, act in enumerate(acts):
            z = a @ ws[2 * i] + ws[2 * i + 1]
            a = {"tanh": torch.tanh, "relu": F.relu, "linear": lambda t: t}.get(act, lambda t: t)(z)
        data = F.mse_loss(a, yt) if loss == "mse" else F.binary_cross_entropy_with_logits(z, yt)
        penalty = lam * sum(w.abs().sum() for w in ws[0::2])       # the penalty, written out: weights only
        opt.zero_grad()
        (data + penalty).backward()
        opt.step()
        losses.append(data.item())
    return [w.detach().numpy() for w in ws], losses


@pytest.mark.parametrize("name, hyper", CASES)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_l1_training_equals_torch_with_the_penalty_written_out(name, hyper, loss, torch_float64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3))
    y = (X[:, :2] > 0).astype(float) if loss == "bce" else np.stack([X[:, 0] * X[:, 1], np.sin(X[:, 2])], 1)
    out = "sigmoid" if loss == "bce" else "linear"
    lam, lr = 0.05, 0.03
    m = MLP(seed=1).sequential([3, 6, "tanh", 4, "relu", 2, out]).set_loss(loss).set_optimizer(name, l1=lam, **hyper)
    w0 = m.get_weights()
    hist = m.fit(X, y, epochs=STEPS, learning_rate=lr, batch_size=len(X), shuffle=False)
    expected, losses = torch_training(w0, ["tanh", "relu", out], loss, X, y, name, hyper, lam, lr, STEPS)
    np.testing.assert_allclose(hist.history["loss"], losses, rtol=1e-10)     # the data loss, without the penalty
    for got, want in zip(m.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)
    # and L1 made a difference: the same training without it ends elsewhere
    plain, _ = torch_training(w0, ["tanh", "relu", out], loss, X, y, name, hyper, 0.0, lr, STEPS)
    assert max(np.abs(a - b).max() for a, b in zip(plain[0::2], expected[0::2])) > 1e-4


def test_l1_with_minibatches_and_shuffling_equals_the_reference():
    # batches of 4, 4, 2 in shuffled order: each step's gradient carries the penalty once
    from mlp import reference
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    m = MLP(seed=3).sequential([2, 5, "relu", 1]).set_loss("mse").set_optimizer("adam", l1=0.02)
    layers = [(ly.W.copy(), ly.b.copy(), ly.activation) for ly in m.layers]
    order = copy.deepcopy(m.rng).permutation(10)         # the order fit will draw
    m.fit(X, y, epochs=1, batch_size=4, learning_rate=0.01)
    states, t = [({}, {}) for _ in layers], 0
    for s in (0, 4, 8):
        t += 1
        rows = order[s:s + 4]
        layers, states, _, _ = reference.train_step(X[rows], y[rows], layers, "mse", "adam", states, t, 0.01, 0.02,
                                                    beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    for (W, b, _), ly in zip(layers, m.layers):
        np.testing.assert_allclose(ly.W, W, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(ly.b, b, rtol=1e-10, atol=1e-14)


def test_gradients_include_the_l1_term(torch_float64):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    m = MLP(seed=5).sequential([3, 4, "tanh", 2]).set_loss("mse").set_optimizer("sgd", l1=0.1)
    ws = [torch.tensor(w, requires_grad=True) for w in m.get_weights()]
    z = torch.tanh(torch.tensor(X) @ ws[0] + ws[1]) @ ws[2] + ws[3]
    (F.mse_loss(z, torch.tensor(y)) + 0.1 * (ws[0].abs().sum() + ws[2].abs().sum())).backward()
    for got, w in zip(m.gradients(X, y), ws):
        np.testing.assert_allclose(got, w.grad.numpy(), rtol=1e-12, atol=1e-15)
    no_l1 = m.set_optimizer("sgd").gradients(X, y)
    np.testing.assert_allclose(ws[1].grad.numpy(), no_l1[1], rtol=1e-12)          # biases: no penalty
    assert not np.allclose(ws[0].grad.numpy(), no_l1[0])


def test_l1_is_saved_and_restored_and_training_continues_the_same():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 1))
    a = MLP(seed=7).sequential([2, 6, "relu", 1]).set_loss("mse").set_optimizer("nadam", l1=0.003, weight_decay=1e-3)
    a.fit(X, y, epochs=3, batch_size=8)
    b = mlp.from_bytes(a.to_bytes())
    assert b.optimizer.hyper["l1"] == 0.003 and b.get_config()["optimizer"]["l1"] == 0.003
    c = copy.deepcopy(a)
    for model in (a, b, c):
        model.fit(X, y, epochs=3, batch_size=8)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.params, c.params)
    assert MLP.from_config(a.get_config()).optimizer.hyper["l1"] == 0.003


def test_a_new_architecture_gets_its_own_weight_mask():
    # [1, 4, 1] and [2, 3, 1] have 13 parameters each, with their biases in different places
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(8, 2)), rng.normal(size=(8, 1))
    m = MLP(seed=9).sequential([1, 4, "tanh", 1]).set_loss("mse").set_optimizer("sgd", l1=0.5)
    m.fit(X[:, :1], y, epochs=2, batch_size=8)
    m.sequential([2, 3, "tanh", 1])
    fresh = MLP(seed=0).sequential([2, 3, "tanh", 1]).set_loss("mse").set_optimizer("sgd", l1=0.5)
    fresh.params = m.params
    m.fit(X, y, epochs=2, batch_size=8, shuffle=False)
    fresh.fit(X, y, epochs=2, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(m.params, fresh.params)


def test_l1_float32_close_to_float64():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 1))
    m32 = MLP(seed=11, dtype="float32").sequential([3, 5, "relu", 1]).set_loss("mse").set_optimizer("adam", l1=0.01)
    m64 = MLP(seed=11).sequential([3, 5, "relu", 1]).set_loss("mse").set_optimizer("adam", l1=0.01)
    m64.set_weights(m32.get_weights())
    for m in (m32, m64):
        m.fit(X, y, epochs=5, batch_size=4, shuffle=False)
    assert m32.params.dtype == np.float32
    np.testing.assert_allclose(m32.params, m64.params, rtol=1e-4, atol=1e-5)


def test_strong_l1_makes_weights_small():
    # the point of L1: a strong penalty drives most weights to (near) zero
    X, y = mlp.data.make_dataset("circles", n_samples=200, noise=0.1, seed=0)
    y = np.asarray(y, float).reshape(-1, 1)
    norms = {}
    for lam in (0.0, 0.01):
        m = MLP(seed=0).sequential([2, 16, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam", l1=lam)
        m.fit(X, y, epochs=60, learning_rate=0.01, batch_size=32)
        norms[lam] = sum(np.abs(w).sum() for w in m.get_weights()[0::2])
    assert norms[0.01] < 0.7 * norms[0.0]


@pytest.mark.parametrize("value, error", [(-0.1, ValueError), (float("nan"), ValueError), ("0.1", ValueError),
                                          (True, TypeError)])
def test_bad_l1_values_are_refused(value, error):
    with pytest.raises(error) as e:
        MLP().set_optimizer("adam", l1=value)
    assert "l1" in str(e.value)


# ---------------------------------------------------------------------------- session layer
def test_session_default_and_build_model_pass_l1():
    assert S.DEFAULT_CONFIG["l1"] == 0.0
    p = S.prepare_builtin("circles", n_samples=80, seed=0)
    assert S.build_model({}, p).optimizer.hyper["l1"] == 0.0
    model = S.build_model({"l1": 0.001, "optimizer": "sgd_momentum", "weight_decay": 1e-4}, p)
    assert model.optimizer.hyper["l1"] == 0.001 and model.optimizer.hyper["weight_decay"] == 1e-4
    history = S.train(model, p, {"l1": 0.001, "optimizer": "sgd_momentum", "epochs": 2})
    assert len(history.history["loss"]) == 2
    with pytest.raises(ValueError) as e:
        S.build_model({"l1": -1.0}, p)
    assert "l1" in str(e.value)
