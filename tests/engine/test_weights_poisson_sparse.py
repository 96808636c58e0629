"""The engine's poisson loss, sample weights, sparse inputs and full-batch gradient, against PyTorch.

poisson is PyTorch's ``PoissonNLLLoss(log_input=True)`` (the linear output is the log of the rate); a weighted
loss is PyTorch's ``reduction='none'`` loss, each sample's mean over its outputs (its sum for cross-entropy),
then the weighted mean sum(w l) / sum(w).
"""
import numpy as np
import pytest

from mlp.layerstats import DEAD_ROWS
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from mlp import MLP

LOSSES = [("linear", "mse"), ("tanh", "mae"), ("linear", "huber"), ("sigmoid", "bce"), ("softmax", "cce"),
          ("linear", "poisson")]


def targets(loss, rng, n, k):
    if loss == "bce":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "cce":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss == "poisson":
        return rng.poisson(2.0, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def torch_sample_losses(loss, out, y):
    """Each sample's loss from PyTorch's reduction='none' losses of the output layer's pre-activations."""
    if loss == "cce":
        return F.cross_entropy(out, y.argmax(dim=1), reduction="none")
    per_element = {
        "mse": lambda: F.mse_loss(out, y, reduction="none"),
        "mae": lambda: F.l1_loss(torch.tanh(out), y, reduction="none"),
        "huber": lambda: F.huber_loss(out, y, reduction="none", delta=1.0),
        "bce": lambda: F.binary_cross_entropy_with_logits(out, y, reduction="none"),
        "poisson": lambda: F.poisson_nll_loss(out, y, log_input=True, full=False, reduction="none"),
    }[loss]()
    return per_element.mean(dim=1)


def torch_net(model):
    """The model's layers as torch tensors requiring gradients (float64), and a function computing z_out."""
    params = [torch.tensor(p, requires_grad=True) for p in model.get_weights()]
    acts = [layer for layer in model.architecture[1:] if isinstance(layer, str)]

    def forward(x):
        a = torch.tensor(x)
        for i, act in enumerate(acts[:-1]):
            a = {"tanh": torch.tanh, "relu": torch.relu}[act](a @ params[2 * i] + params[2 * i + 1])
        return a @ params[-2] + params[-1]
    return params, forward


@pytest.mark.parametrize("out_act, loss", LOSSES)
@pytest.mark.parametrize("weighted", [False, True])
def test_full_batch_loss_and_gradient_equal_torch(out_act, loss, weighted):
    rng = np.random.default_rng(1)
    n, k = 37, 3
    model = MLP(seed=2).sequential([4, 6, "tanh", 5, "relu", k, out_act]).set_loss(loss)
    X, y = rng.normal(size=(n, 4)), targets(loss, rng, n, k)
    w = rng.uniform(0.0, 3.0, size=n) if weighted else None
    value, grad = model.full_batch(X, y, sample_weight=w)()
    params, forward = torch_net(model)
    per_sample = torch_sample_losses(loss, forward(X), torch.tensor(y))
    expected = per_sample.mean() if w is None else (per_sample * torch.tensor(w)).sum() / w.sum()
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    flat = np.concatenate([p.grad.numpy().ravel() for p in params])
    np.testing.assert_allclose(grad, flat, rtol=1e-10, atol=1e-14)
    # gradients() is the same, as a list; fit's epoch loss the same value
    if w is None:
        for g, p in zip(model.gradients(X, y), params):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_full_batch_in_chunks_and_sparse_equals_one_piece():
    # 9,000 rows go through in chunks of 4,096: the same loss and gradient as a hand-made weighted sum
    rng = np.random.default_rng(3)
    n = 9000
    X = rng.normal(size=(n, 5)) * (rng.random((n, 5)) < 0.3)
    y = rng.poisson(1.5, size=(n, 2)).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    model = MLP(seed=4).sequential([5, 8, "tanh", 2]).set_loss("poisson")
    value, grad = model.full_batch(X, y, sample_weight=w)()
    parts = [(model.full_batch(X[s:s + 1000], y[s:s + 1000], sample_weight=w[s:s + 1000])(), w[s:s + 1000].sum())
             for s in range(0, n, 1000)]
    assert value == pytest.approx(sum(v * ws for (v, _), ws in parts) / w.sum(), rel=1e-12)
    np.testing.assert_allclose(grad, sum(g * ws for (_, g), ws in parts) / w.sum(), rtol=1e-9, atol=1e-15)
    sparse_value, sparse_grad = model.full_batch(sp.csr_matrix(X), y, sample_weight=w)()
    assert sparse_value == value
    np.testing.assert_array_equal(sparse_grad, grad)


def test_full_batch_sets_the_parameters_it_is_given():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    model = MLP(seed=0).sequential([3, 4, "tanh", 1]).set_loss("mse")
    f = model.full_batch(X, y)
    theta = rng.normal(size=model.n_params)
    value, grad = f(theta)
    np.testing.assert_array_equal(model.params, theta)
    assert value == pytest.approx(np.mean((model.predict(X) - y) ** 2), rel=1e-12)
    eps = 1e-6   # and its gradient is the loss's: central differences
    fd = [(f(theta + eps * e)[0] - f(theta - eps * e)[0]) / (2 * eps) for e in np.eye(model.n_params)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("out_act, loss", LOSSES)
def test_weighted_fit_steps_equal_torch(out_act, loss):
    """Two epochs of mini-batches (SGD with momentum, no shuffling): each batch's step follows the gradient of
    the batch's weighted mean loss, as torch with reduction='none' and then that mean."""
    rng = np.random.default_rng(6)
    n, k, batch = 23, 2, 8
    model = MLP(seed=7).sequential([3, 5, "tanh", k, out_act]).set_loss(loss)
    model.set_optimizer("sgd", momentum=0.9)
    X, y = rng.normal(size=(n, 3)), targets(loss, rng, n, k)
    w = rng.uniform(0.0, 2.0, size=n)
    params, forward = torch_net(model)
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    expected_losses = []
    for _ in range(2):
        epoch = []
        for s in range(0, n, batch):
            opt.zero_grad()
            per_sample = torch_sample_losses(loss, forward(X[s:s + batch]), torch.tensor(y[s:s + batch]))
            wb = torch.tensor(w[s:s + batch])
            batch_loss = (per_sample * wb).sum() / wb.sum()
            batch_loss.backward()
            opt.step()
            epoch.append(per_sample.detach())
        expected_losses.append(float((torch.cat(epoch) * torch.tensor(w)).sum() / w.sum()))
    history = model.fit(X, y, epochs=2, learning_rate=0.1, batch_size=batch, shuffle=False, sample_weight=w)
    for ours, theirs in zip(model.get_weights(), params):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-13)
    # the history's loss: the weighted mean of the samples' losses before their batch's step
    np.testing.assert_allclose(history["loss"], expected_losses, rtol=1e-10)


def test_sample_weight_equal_weights_are_no_weights_and_zero_weights_drop_rows():
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=(30, 1)).astype(float)

    def fit(X, y, w=None, batch_size=30):
        model = MLP(seed=1).sequential([3, 4, "tanh", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam")
        model.fit(X, y, epochs=5, learning_rate=0.05, batch_size=batch_size, sample_weight=w)
        return model.params
    np.testing.assert_array_equal(fit(X, y, np.full(30, 2.5), batch_size=7), fit(X, y, batch_size=7))
    w = rng.uniform(0.5, 2.0, size=30)
    w[::3] = 0.0      # one full batch: rows of weight 0 count for nothing (the shuffle draws the same numbers)
    np.testing.assert_allclose(fit(X, y, w), fit(X[w > 0], y[w > 0], w[w > 0], batch_size=20), rtol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (np.ones(5), "one weight per row of X \\(6\\)"),
    (-np.ones(6), "must be >= 0 with a positive sum"),
    (np.zeros(6), "must be >= 0 with a positive sum"),
    ([1, 1, np.nan, 1, 1, 1], "sample_weight contains nan"),
    (["a"] * 6, "sample_weight must be numeric"),
])
def test_bad_sample_weights_are_refused(bad, match):
    model = MLP(seed=0).sequential([2, 3, 1]).set_loss("mse")
    with pytest.raises(ValueError, match=match):
        model.fit(np.ones((6, 2)), np.ones(6), epochs=1, sample_weight=bad)


def test_poisson_needs_a_linear_output_and_counts():
    model = MLP(seed=0).sequential([2, 3, 1, "sigmoid"])
    with pytest.raises(ValueError, match="'poisson' needs a 'linear' output layer"):
        model.set_loss("poisson")
    model = MLP(seed=0).sequential([2, 3, 1]).set_loss("poisson")
    with pytest.raises(ValueError, match="targets for 'poisson' are counts or rates, >= 0"):
        model.fit(np.ones((4, 2)), [1.0, -1.0, 2.0, 0.0], epochs=1)
    assert "poisson" not in __import__("mlp").compatible_losses("linear")     # the apps do not offer it (yet)


def test_poisson_learns_a_rate_and_evaluates_it():
    rng = np.random.default_rng(9)
    X = rng.uniform(-1, 1, size=(2000, 2))
    rate = np.exp(0.8 * X[:, :1] - 0.5 * X[:, 1:] + 1.0)
    y = rng.poisson(rate).astype(float)
    model = MLP(seed=0).sequential([2, 1]).set_loss("poisson").set_optimizer("adam")
    model.fit(X, y, epochs=300, learning_rate=0.05, batch_size=200)
    W, b = model.get_weights()
    np.testing.assert_allclose(W[:, 0], [0.8, -0.5], atol=0.1)       # the log-link's coefficients
    assert b[0] == pytest.approx(1.0, abs=0.1)
    report = model.evaluate(X, y)
    assert report["r2"] == pytest.approx(1 - np.sum((y - np.exp(model.predict(X))) ** 2) /
                                         np.sum((y - y.mean()) ** 2), rel=1e-9)   # metrics of the rate exp(output)


@pytest.mark.parametrize("n", [40, 3000])       # copied per epoch / gathered per batch
def test_sparse_fit_equals_dense_fit_one_batch_dense_at_a_time(n, monkeypatch):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(n, 60)) * (rng.random((n, 60)) < 0.05)
    y = rng.integers(0, 3, size=n)
    densified = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        densified.append(self.shape[0])
        return original(self, *args, **kwargs)
    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)

    def fit(X):
        model = MLP(seed=3).sequential([60, 8, "relu", 3, "softmax"]).set_loss("cce").set_optimizer("adam")
        model.fit(X, y, epochs=2, learning_rate=0.01, batch_size=32, validation_split=0.1)
        return model
    dense, sparse = fit(X), fit(sp.csc_matrix(X))
    np.testing.assert_array_equal(sparse.params, dense.params)
    # never more than a batch made dense at once, or the <= DEAD_ROWS rows the gradient statistics sample
    assert densified and max(densified) <= max(32, DEAD_ROWS) and sum(d > 32 for d in densified) <= 1
    # inference multiplies the sparse matrix as it is (no dense copy at all): equal up to rounding
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), rtol=1e-12)
    assert sparse.evaluate(sp.csr_matrix(X), y)["loss"] == pytest.approx(dense.evaluate(X, y)["loss"], rel=1e-12)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X[:3])), dense.predict(X[:3]), rtol=1e-12)


def test_sparse_input_errors():
    model = MLP(seed=0).sequential([4, 2]).set_loss("mse")
    with pytest.raises(ValueError, match="sparse matrix of shape \\(3, 5\\); the network needs rows of 4"):
        model.predict(sp.csr_matrix(np.ones((3, 5))))
    bad = sp.csr_matrix(np.array([[1.0, np.inf, 0, 0]]))
    with pytest.raises(ValueError, match="contains inf"):
        model.predict(bad)


def test_loss_scale_scales_the_steps_not_the_reported_loss():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))

    def fit(scale, lr):
        model = MLP(seed=5).sequential([3, 4, "tanh", 2]).set_loss("mse").set_optimizer("sgd", momentum=0.9)
        model.loss_scale = scale
        return model, model.fit(X, y, epochs=3, learning_rate=lr, batch_size=8, shuffle=False)
    (a, ha), (b, hb) = fit(2.5, 0.04), fit(1.0, 0.1)   # SGD: a gradient 2.5x as large is a step 2.5x as large
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
