"""The training loop: step counts, batching, LR schedules, history, callbacks, early stopping, NaN guard,
seeding, float32, and the inference / weight API. Expected values come from closed forms, hand-written
NumPy forward passes and plain SGD steps computed with ``gradients``, never from the engine's own output."""
import copy
import math
import pickle
import sys
import threading
import warnings

import numpy as np
import pytest

from mlp import MLP, register_activation


def mse(a, y):
    return float(np.mean((np.asarray(a) - np.asarray(y)) ** 2))


def bce(a, y):
    a, y = np.asarray(a), np.asarray(y)
    return float(-np.mean(y * np.log(a) + (1 - y) * np.log1p(-a)))


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def regression_data(n=24, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] ** 2 - X[:, 2:3]) + 0.05 * rng.normal(size=(n, 1))
    return X, y


def binary_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = ((X[:, 0] * X[:, 1]) > 0).astype(float).reshape(-1, 1)
    return X, y


def manual_sgd(model, X, y, lrs, batches):
    """Plain SGD p -= lr * g through a twin model; ``batches`` is a list of index arrays per epoch."""
    twin = MLP(seed=1234).sequential(model.architecture).set_loss(model.loss)
    twin.set_weights(model.get_weights())
    for lr in lrs:
        for idx in batches:
            g = twin.gradients(X[idx], y[idx])
            twin.set_weights([w - lr * gw for w, gw in zip(twin.get_weights(), g)])
    return twin.get_weights()


def assert_weights_close(a, b, rtol=1e-12, atol=1e-15):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def assert_weights_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------- steps and batching
@pytest.mark.parametrize("batch_size", ["len", None, 10 ** 6])
def test_full_batch_k_epochs_is_k_sgd_steps(batch_size):
    X, y = regression_data()
    m = MLP(seed=0).sequential([3, 6, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
    start = MLP(seed=0).sequential([3, 6, "tanh", 1]).set_loss("mse")
    k, lr = 7, 0.1
    m.fit(X, y, epochs=k, learning_rate=lr, batch_size=len(X) if batch_size == "len" else batch_size,
          shuffle=False)
    assert m.optimizer.t == k
    expected = manual_sgd(start, X, y, [lr] * k, [np.arange(len(X))])
    assert not np.allclose(expected[0], start.get_weights()[0])
    assert_weights_close(m.get_weights(), expected)


def test_batch_size_one_is_per_sample():
    X, y = regression_data(n=9)
    m = MLP(seed=1).sequential([3, 4, "relu", 1]).set_loss("mse").set_optimizer("sgd")
    start = MLP(seed=1).sequential([3, 4, "relu", 1]).set_loss("mse")
    m.fit(X, y, epochs=2, learning_rate=0.05, batch_size=1, shuffle=False)
    assert m.optimizer.t == 2 * 9
    expected = manual_sgd(start, X, y, [0.05, 0.05], [np.array([i]) for i in range(9)])
    assert_weights_close(m.get_weights(), expected)


def test_minibatches_in_order_with_a_short_last_batch():
    X, y = regression_data(n=23)
    m = MLP(seed=2).sequential([3, 5, "elu", 1]).set_loss("mse").set_optimizer("sgd")
    start = MLP(seed=2).sequential([3, 5, "elu", 1]).set_loss("mse")
    m.fit(X, y, epochs=3, learning_rate=0.05, batch_size=8, shuffle=False)
    assert m.optimizer.t == 3 * 3
    batches = [np.arange(0, 8), np.arange(8, 16), np.arange(16, 23)]
    assert_weights_close(m.get_weights(), manual_sgd(start, X, y, [0.05] * 3, batches))


def test_default_batch_size_is_32():
    X, y = regression_data(n=70)
    m = MLP(seed=3).sequential([3, 2, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
    m.fit(X, y, epochs=2, shuffle=False)
    assert m.optimizer.t == 2 * 3  # 32 + 32 + 6


def test_epoch_alias_matches_epochs():
    X, y = regression_data()
    a = MLP(seed=4).sequential([3, 4, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    b = MLP(seed=4).sequential([3, 4, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    ha = a.fit(X, y, epoch=6, learning_rate=0.01)
    hb = b.fit(X, y, epochs=6, learning_rate=0.01)
    assert len(ha) == len(hb) == 6
    assert_weights_equal(a.get_weights(), b.get_weights())
    with pytest.raises(ValueError):
        a.fit(X, y, epoch=3, epochs=4)


def test_default_optimizer_is_adam_and_lists_work():
    m = MLP(seed=5).sequential([2, 3, "relu", 1, "sigmoid"]).set_loss("bce")
    m.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]], epochs=2)
    assert m.optimizer.name == "adam" and m.optimizer.t == 2


def test_integer_labels_train_like_one_hot():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 4))
    labels = rng.integers(0, 3, size=30)
    onehot = np.eye(3)[labels]
    a = MLP(seed=6).sequential([4, 8, "relu", 3, "softmax"]).set_loss("cce")
    b = MLP(seed=6).sequential([4, 8, "relu", 3, "softmax"]).set_loss("cce")
    ha = a.fit(X, labels, epochs=5, batch_size=8)
    hb = b.fit(X, onehot, epochs=5, batch_size=8)
    assert_weights_equal(a.get_weights(), b.get_weights())
    assert ha["loss"] == hb["loss"] and ha["accuracy"] == hb["accuracy"]


# ---------------------------------------------------------------------------- learning-rate schedules
def _lrs(**fit_kw):
    X, y = regression_data()
    m = MLP(seed=7).sequential([3, 4, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
    h = m.fit(X, y, batch_size=None, shuffle=False, **fit_kw)
    return h["lr"]


def test_lr_decay_is_exponential():
    got = _lrs(epochs=12, learning_rate=0.1, lr_decay=0.9)
    np.testing.assert_allclose(got, [0.1 * 0.9 ** e for e in range(12)], rtol=1e-14)


def test_named_exponential_schedule():
    got = _lrs(epochs=6, learning_rate=0.2, lr_schedule={"name": "exponential", "gamma": 0.5})
    np.testing.assert_allclose(got, [0.2 * 0.5 ** e for e in range(6)], rtol=1e-14)


def test_step_schedule():
    got = _lrs(epochs=10, learning_rate=0.3, lr_schedule={"name": "step", "step_size": 3, "gamma": 0.5})
    np.testing.assert_allclose(got, [0.3 * 0.5 ** (e // 3) for e in range(10)], rtol=1e-14)


@pytest.mark.parametrize("min_lr", [0.0, 0.01])
def test_cosine_schedule(min_lr):
    n, lr0 = 10, 0.2
    sched = "cosine" if min_lr == 0 else {"name": "cosine", "min_lr": min_lr}
    got = _lrs(epochs=n, learning_rate=lr0, lr_schedule=sched)
    # torch.optim.lr_scheduler.CosineAnnealingLR closed form with T_max = epochs
    expected = [min_lr + (lr0 - min_lr) * (1 + math.cos(math.pi * e / n)) / 2 for e in range(n)]
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_callable_schedule():
    got = _lrs(epochs=5, learning_rate=0.1, lr_schedule=lambda e: 0.1 / (1 + e))
    np.testing.assert_allclose(got, [0.1 / (1 + e) for e in range(5)], rtol=1e-15)


def test_scheduled_lr_is_the_one_used_for_the_steps():
    X, y = regression_data()
    n, lr0 = 6, 0.3
    m = MLP(seed=8).sequential([3, 5, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
    start = MLP(seed=8).sequential([3, 5, "tanh", 1]).set_loss("mse")
    m.fit(X, y, epochs=n, learning_rate=lr0, lr_schedule="cosine", batch_size=None, shuffle=False)
    lrs = [(lr0 * (1 + math.cos(math.pi * e / n)) / 2) for e in range(n)]
    assert_weights_close(m.get_weights(), manual_sgd(start, X, y, lrs, [np.arange(len(X))]))


def test_schedule_errors():
    X, y = regression_data()
    m = MLP(seed=9).sequential([3, 1]).set_loss("mse")
    with pytest.raises(ValueError, match="Allowed"):
        m.fit(X, y, epochs=2, lr_schedule="warmup")
    with pytest.raises(ValueError, match="lr_decay"):
        m.fit(X, y, epochs=2, lr_schedule="cosine", lr_decay=0.9)
    with pytest.raises(ValueError):
        m.fit(X, y, epochs=2, lr_schedule={"name": "step", "bogus": 1})


# ---------------------------------------------------------------------------- history
def test_history_records_each_epoch():
    X, y = binary_data()
    Xv, yv = binary_data(n=15, seed=1)
    m = MLP(seed=10).sequential([2, 6, "tanh", 1, "sigmoid"]).set_loss("bce").set_optimizer("sgd")
    snapshots = [m.get_weights()]
    h = m.fit(X, y, epochs=5, learning_rate=0.5, batch_size=None, shuffle=False, validation_data=(Xv, yv),
              callbacks=[lambda epoch, logs: snapshots.append(m.get_weights())])
    assert m.history is h
    assert h.epochs == [1, 2, 3, 4, 5] and len(h) == 5
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(h.history)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert len(h[key]) == 5
    probe = MLP(seed=0).sequential([2, 6, "tanh", 1, "sigmoid"]).set_loss("bce")
    for e in range(5):
        # full batch: the epoch's training loss is that of the weights before its single step
        probe.set_weights(snapshots[e])
        out = probe.predict(X)
        assert h["loss"][e] == pytest.approx(bce(out, y), rel=1e-10)
        assert h["accuracy"][e] == pytest.approx(np.mean((out >= 0.5) == (y >= 0.5)))
        # validation is scored after the epoch
        probe.set_weights(snapshots[e + 1])
        out_v = probe.predict(Xv)
        assert h["val_loss"][e] == pytest.approx(bce(out_v, yv), rel=1e-10)
        assert h["val_accuracy"][e] == pytest.approx(np.mean((out_v >= 0.5) == (yv >= 0.5)))
    assert h["loss"][-1] < h["loss"][0]
    assert not h.stopped_early


def test_regression_history_has_no_accuracy():
    X, y = regression_data()
    h = MLP(seed=11).sequential([3, 4, "relu", 1]).set_loss("mse").fit(X, y, epochs=3)
    assert "accuracy" not in h.history and len(h["loss"]) == 3


def test_validation_split_holds_out_the_last_rows():
    X, y = regression_data(n=40)
    a = MLP(seed=12).sequential([3, 5, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    b = MLP(seed=12).sequential([3, 5, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    ha = a.fit(X, y, epochs=4, validation_split=0.25, shuffle=False, batch_size=None)
    b.fit(X[:30], y[:30], epochs=4, shuffle=False, batch_size=None)
    assert_weights_equal(a.get_weights(), b.get_weights())
    assert len(ha["val_loss"]) == 4
    assert ha["val_loss"][-1] == pytest.approx(mse(a.predict(X[30:]), y[30:]), rel=1e-10)


# ---------------------------------------------------------------------------- callbacks
def test_callback_returning_true_stops():
    X, y = regression_data()
    seen = []

    def cb(epoch, logs):
        seen.append((epoch, dict(logs)))
        return epoch == 3

    m = MLP(seed=13).sequential([3, 4, "relu", 1]).set_loss("mse")
    h = m.fit(X, y, epochs=50, callbacks=[cb, lambda e, logs: None], batch_size=None)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert len(h) == 3 and m.optimizer.t == 3
    assert h.stopped_early and "callback" in h.stop_reason
    assert all("loss" in logs and "lr" in logs for _, logs in seen)


def test_single_callable_and_falsy_returns_continue():
    X, y = regression_data()
    calls = []
    m = MLP(seed=14).sequential([3, 4, "relu", 1]).set_loss("mse")
    h = m.fit(X, y, epochs=4, callbacks=lambda e, logs: calls.append(e) or False)
    assert calls == [1, 2, 3, 4] and len(h) == 4 and not h.stopped_early


def test_callback_object_with_on_epoch_end():
    """Callbacks are ``cb(epoch, logs)`` callables or objects with ``on_epoch_end(epoch, logs)``."""
    X, y = regression_data()
    seen = []

    class Recorder:
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, round(logs["loss"], 12)))
            return epoch == 2

    m = MLP(seed=15).sequential([3, 4, "relu", 1]).set_loss("mse")
    h = m.fit(X, y, epochs=5, callbacks=[Recorder()])
    assert [e for e, _ in seen] == [1, 2]
    assert [round(v, 12) for v in h.history["loss"]] == [v for _, v in seen]
    assert h.stopped_early and "callback" in h.stop_reason


# ---------------------------------------------------------------------------- early stopping
def _early_stopping_setup():
    # a linear model pulled towards w = 2 by the training data while the validation data wants w = 0.5:
    # the validation loss falls, bottoms out, then rises for good
    X = np.linspace(-1, 1, 21).reshape(-1, 1)
    m = MLP(seed=16).sequential([1, 1]).set_loss("mse").set_optimizer("sgd")
    m.set_weights([np.array([[-0.4]]), np.array([0.0])])
    return m, X, 2 * X, X, 0.5 * X


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping(restore):
    m, X, y, Xv, yv = _early_stopping_setup()
    snaps = [m.get_weights()]
    patience = 3
    h = m.fit(X, y, epochs=200, learning_rate=0.1, batch_size=None, shuffle=False, validation_data=(Xv, yv),
              early_stopping={"patience": patience, "restore_best_weights": restore},
              callbacks=lambda e, logs: snaps.append(m.get_weights()))
    val = [mse(Xv @ W + b, yv) for W, b in snaps[1:]]
    best = int(np.argmin(val))  # 0-based epoch index of the best validation loss
    assert 0 < best < len(val) - 1
    assert h.stopped_early and "early stopping" in h.stop_reason
    assert len(h) == best + 1 + patience
    assert h.best_epoch == best + 1
    np.testing.assert_allclose(h["val_loss"][:len(val)], val, rtol=1e-10)
    if restore:
        assert_weights_equal(m.get_weights(), snaps[best + 1])
    else:
        W, b = m.get_weights()
        assert mse(Xv @ W + b, yv) > val[best]


def test_early_stopping_patience_int_monitors_loss_without_validation():
    X, y = regression_data()
    m = MLP(seed=17).sequential([3, 4, "relu", 1]).set_loss("mse").set_optimizer("sgd")
    # a learning rate too large to settle: the training loss grows after the first epoch
    h = m.fit(X, y, epochs=300, learning_rate=0.5, batch_size=None, shuffle=False, early_stopping=5)
    assert h.stopped_early and "loss" in h.stop_reason
    best = int(np.argmin(h["loss"]))
    assert h.best_epoch == best + 1 and len(h) == best + 1 + 5
    with pytest.raises(ValueError, match="not logged"):
        m.fit(X, y, epochs=3, early_stopping={"patience": 1, "monitor": "val_loss"})


# ---------------------------------------------------------------------------- NaN / inf guard
def _diverging():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([[1.0], [2.0], [3.0]]) * 1e6
    return X, y


def test_nan_loss_stops_with_message_and_keeps_last_finite_weights():
    X, y = _diverging()
    m = MLP(seed=18).sequential([3, 8, "relu", 1]).set_loss("mse").set_optimizer("sgd")
    snaps = [m.get_weights()]
    with pytest.warns(RuntimeWarning, match="loss became"):
        with np.errstate(all="ignore"):
            h = m.fit(X, y, epochs=50, learning_rate=1.0, batch_size=16, shuffle=False,
                      callbacks=lambda e, logs: snaps.append(m.get_weights()))
    assert h.stopped_early and len(h) < 50
    assert "loss" in h.stop_reason and "learning rate" in h.stop_reason
    assert ("nan" in h.stop_reason) or ("inf" in h.stop_reason)
    assert all(np.isfinite(v) for v in h["loss"])
    assert_weights_equal(m.get_weights(), snaps[len(h)])
    assert all(np.isfinite(w).all() for w in m.get_weights())


def test_nan_stop_rolls_back_the_optimizer_too():
    """After a NaN stop the kept weights are those of the last good epoch; the optimizer state must
    match them, so that following the message's advice (a smaller learning rate) trains normally."""
    X, y = _diverging()
    m = MLP(seed=19).sequential([3, 8, "relu", 1]).set_loss("mse").set_optimizer("sgd_momentum")
    w0 = m.get_weights()
    with pytest.warns(RuntimeWarning):
        with np.errstate(all="ignore"):
            h = m.fit(X, y, epochs=5, learning_rate=1e3, batch_size=16, shuffle=False)
    assert len(h) == 0 and h.stopped_early
    assert_weights_equal(m.get_weights(), w0)
    assert m.optimizer.t == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        h2 = m.fit(X, y / 1e6, epochs=3, learning_rate=1e-3, batch_size=16, shuffle=False)
    assert len(h2) == 3 and np.isfinite(h2["loss"]).all()


# ---------------------------------------------------------------------------- seeds and shuffling
def test_seed_reproduces_init_and_training():
    X, y = binary_data()
    runs = []
    for _ in range(2):
        m = MLP(seed=42).sequential([2, 8, "relu", "dropout(0.2)", 1, "sigmoid"]).set_loss("bce")
        w0 = m.get_weights()
        m.fit(X, y, epochs=5, batch_size=8, shuffle=True)
        runs.append((w0, m.get_weights(), m.history["loss"]))
    assert_weights_equal(runs[0][0], runs[1][0])
    assert_weights_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
    other = MLP(seed=43).sequential([2, 8, "relu", "dropout(0.2)", 1, "sigmoid"])
    assert not np.array_equal(other.get_weights()[0], runs[0][0][0])


def test_seed_drives_shuffling():
    X, y = regression_data(n=32)
    w0 = MLP(seed=0).sequential([3, 4, "tanh", 1]).get_weights()
    results = {}
    for seed, shuffle in [(1, True), (1, True), (2, True), (1, False)]:
        m = MLP(seed=seed).sequential([3, 4, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
        m.set_weights(w0)
        m.fit(X, y, epochs=3, learning_rate=0.05, batch_size=4, shuffle=shuffle)
        results.setdefault((seed, shuffle), []).append(m.get_weights())
    assert_weights_equal(*results[(1, True)])
    assert not np.allclose(results[(1, True)][0][0], results[(2, True)][0][0])
    assert not np.allclose(results[(1, True)][0][0], results[(1, False)][0][0])


def test_unseeded_models_differ():
    a = MLP().sequential([5, 5, "relu", 1]).get_weights()[0]
    b = MLP().sequential([5, 5, "relu", 1]).get_weights()[0]
    assert not np.array_equal(a, b)


def test_dropout_changes_training_but_not_inference():
    X, y = binary_data()
    a = MLP(seed=20).sequential([2, 16, "relu", "dropout(0.5)", 1, "sigmoid"]).set_loss("bce")
    b = MLP(seed=20).sequential([2, 16, "relu", 1, "sigmoid"]).set_loss("bce")
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(X), b.predict(X))  # inference: dropout off
    np.testing.assert_array_equal(a.predict(X), a.predict(X))
    a.fit(X, y, epochs=3, batch_size=None, shuffle=False)
    b.fit(X, y, epochs=3, batch_size=None, shuffle=False)
    assert not np.allclose(a.get_weights()[0], b.get_weights()[0])


def test_dropout_step_is_sgd_on_the_masked_network():
    """One full-batch SGD step with dropout equals a step along the finite-difference gradient of the loss of
    the network with the same masks applied. The engine draws each hidden layer's mask from the model's
    generator as ``rng.random((units, n)) >= p`` (feature-major), scaled by 1 / (1 - p)."""
    X, y = binary_data(n=12)
    p, lr = 0.4, 0.5
    m = MLP(seed=5).sequential([2, 6, "tanh", f"dropout({p})", 1, "sigmoid"]).set_loss("bce").set_optimizer("sgd")
    W1, b1, W2, b2 = m.get_weights()
    rng = np.random.default_rng()
    rng.bit_generator.state = m.rng.bit_generator.state
    mask = ((rng.random((6, len(X))) >= p) / (1 - p)).T

    def loss(w):
        h = np.tanh(X @ w[0] + w[1]) * mask
        return bce(sigmoid(h @ w[2] + w[3]), y)
    weights, eps = [W1, b1, W2, b2], 1e-6
    expected = []
    for i, w in enumerate(weights):
        g = np.zeros_like(w)
        for j in np.ndindex(w.shape):
            plus = [v.copy() for v in weights]
            minus = [v.copy() for v in weights]
            plus[i][j] += eps
            minus[i][j] -= eps
            g[j] = (loss(plus) - loss(minus)) / (2 * eps)
        expected.append(w - lr * g)
    assert 0 < mask.astype(bool).sum() < mask.size
    m.fit(X, y, epochs=1, learning_rate=lr, batch_size=None, shuffle=False)
    assert_weights_close(m.get_weights(), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("arch, loss", [([3, 5, "relu", "dropout(0.2)", 2, "softmax"], "cce"),
                                        ([3, 5, "tanh", 1, "sigmoid"], "bce"),
                                        ([3, 4, "elu", 1], "mae")])
def test_big_data_batches_train_like_small_data(monkeypatch, arch, loss):
    """Above mlp.training.COPY_BYTES the epoch gathers each batch instead of copying X once; the same
    seed must give the same training (weights and history) either way."""
    import mlp.training
    X, y = regression_data(n=45)
    if loss == "cce":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
        y = np.minimum(y, 1)
    elif loss == "bce":
        y = (y > 0).astype(float)
    runs = []
    for limit in (mlp.training.COPY_BYTES, 0):
        monkeypatch.setattr(mlp.training, "COPY_BYTES", limit)
        m = MLP(seed=9).sequential(arch).set_loss(loss).set_optimizer("adam")
        history = m.fit(X, y, epochs=4, batch_size=8, learning_rate=0.01)
        runs.append((m.get_weights(), history.history["loss"]))
    assert_weights_close(runs[0][0], runs[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-12)


@pytest.mark.parametrize("arch", [[2, 8, "relu", 1, "sigmoid"], [2, 4, "tanh", 1], [3, 5, "relu", 1, "softmax"],
                                  [3, 4, "gelu", 3, "softmax"], [4, 3, "swish", 2, "elu", 2, "sigmoid"]])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_single_sample_forward_matches_a_hand_written_pass(arch, dtype):
    """forward(x) for one 1-D sample has its own fast path (reused buffers); it must follow weight changes."""
    from test_gradients import ref_act
    m = MLP(seed=3, dtype=dtype).sequential(arch)
    acts = [a for a in arch[1:] if isinstance(a, str)]
    acts += ["linear"] * (len(m.get_weights()) // 2 - len(acts))
    x = np.linspace(-1, 1, arch[0]).astype(dtype)
    for _ in range(2):
        a = x.reshape(1, -1).astype(float)
        ws = m.get_weights()
        for W, b, name in zip(ws[::2], ws[1::2], acts):
            a = ref_act(name, a @ W + b)
        out = m.forward(x)
        assert out.shape == (ws[-1].shape[0],) and out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, a[0], rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6 if dtype == "float32" else 0)
        out[...] = 123.0                                  # the caller owns the result
        m.set_weights([w * 1.5 for w in ws])


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "rmsprop", "adam", "adamw", "adagrad", "nadam"])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_model_trains_on_its_own_and_like_the_original(optimizer, how):
    """copy.deepcopy / pickle of a model in mid-training: the copy's layers must be views of its own parameters
    and its optimizer state its own, so training it moves what it predicts, exactly as the original would
    continue, and leaves the original alone."""
    X, y = binary_data()
    m = MLP(seed=5).sequential([2, 6, "relu", "dropout(0.2)", 1, "sigmoid"]).set_loss("bce")
    m.set_optimizer(optimizer, **({"momentum": 0.9} if optimizer == "sgd" else {}))
    m.fit(X, y, epochs=3, batch_size=8, learning_rate=0.05)
    m.forward(X[0])                                       # the single-sample buffers exist too
    c = copy.deepcopy(m) if how == "deepcopy" else pickle.loads(pickle.dumps(m))
    before = m.get_weights()
    hc = c.fit(X, y, epochs=4, batch_size=8, learning_rate=0.05)
    assert_weights_close(m.get_weights(), before, rtol=0, atol=0)          # the original is untouched
    assert not np.allclose(c.get_weights()[0], before[0])                  # the copy learned
    ws = c.get_weights()
    hand = 1 / (1 + np.exp(-(np.maximum(X @ ws[0] + ws[1], 0) @ ws[2] + ws[3])))
    np.testing.assert_allclose(c.predict(X), hand, rtol=1e-12)
    np.testing.assert_allclose(c.forward(X[0]), hand[0], rtol=1e-12)
    hm = m.fit(X, y, epochs=4, batch_size=8, learning_rate=0.05)             # same rng state and moments
    assert_weights_close(c.get_weights(), m.get_weights(), rtol=0, atol=0)
    assert hc["loss"] == hm["loss"]


def test_assigning_params_copies_into_the_model():
    """``model.params = other.params`` copies the values in: the layers stay views of the model's own array,
    so it predicts and trains with the new values (rebinding the attribute used to detach the layers)."""
    X, y = binary_data()
    a = MLP(seed=1).sequential([2, 5, "tanh", 1, "sigmoid"]).set_loss("bce")
    b = MLP(seed=2).sequential([2, 5, "tanh", 1, "sigmoid"]).set_loss("bce")
    own = a.params
    a.params = b.params
    assert a.params is own and not np.shares_memory(a.params, b.params)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.forward(X[0]), b.forward(X[0]))
    a.params = b.params.tolist()                      # any flat sequence of numbers
    before = a.predict(X)
    a.fit(X, y, epochs=2, batch_size=8)
    assert not np.allclose(a.predict(X), before)      # training moves what it predicts
    with pytest.raises(ValueError, match=r"flat array of 21 numbers.*\(3, 7\)"):
        a.params = np.zeros((3, 7))
    with pytest.raises(ValueError, match="params contains nan"):
        a.params = np.full(21, np.nan)
    with pytest.raises(ValueError, match="must be numeric"):
        a.params = ["x"] * 21
    with pytest.raises(ValueError, match="no layers yet"):
        MLP().params = np.zeros(3)


def test_an_unbuilt_model_copies():
    m = MLP(seed=1, dtype="float32")
    c = copy.deepcopy(m)
    assert c.dtype == np.float32 and c.specs is None
    c.sequential([3, 3, "tanh", 1]).set_loss("mse").set_optimizer("sgd").fit(*regression_data(), epochs=2)
    assert m.specs is None


def test_history_holds_plain_floats():
    """Logged values are Python floats (JSON as they are, and a History prints as numbers, not np.float64(...))."""
    X, y = binary_data()
    h = MLP(seed=2).sequential([2, 4, "relu", 1, "sigmoid"]).set_loss("bce").fit(X, y, epochs=2, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "dead/1",
                              "grad_norm/1", "update_ratio/1", "grad_norm/2", "update_ratio/2"}   # + layer stats
    assert all(type(v) is float for values in h.history.values() for v in values)
    assert "np." not in repr(h)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_epoch_cut_short_leaves_the_weights_of_the_last_whole_epoch(error):
    """Ctrl-C (or any error, say from a custom activation) in the middle of an epoch undoes that epoch's
    partial updates: the weights and optimizer moments are those after the last completed epoch. Ctrl-C
    ends training with a reason; another error is raised to the caller."""
    from mlp import activations
    X, y = binary_data()
    calls = {"n": 0, "fail_at": None}

    def forward(z):
        calls["n"] += 1
        if calls["n"] == calls["fail_at"]:
            raise error("stop here")
        return np.tanh(z)
    name = register_activation("flaky_test", forward, lambda z, a: 1 - a * a)
    try:
        reference = MLP(seed=8).sequential([2, 5, name, 1, "sigmoid"]).set_loss("bce")
        reference.fit(X, y, epochs=2, batch_size=8)                      # 5 batches per epoch
        m = MLP(seed=8).sequential([2, 5, name, 1, "sigmoid"]).set_loss("bce")
        calls["fail_at"] = calls["n"] + 2 * 5 + 3                        # the 3rd batch of epoch 3
        if error is KeyboardInterrupt:
            h = m.fit(X, y, epochs=4, batch_size=8)
            assert len(h) == 2 and "interrupted during epoch 3" in h.stop_reason
        else:
            with pytest.raises(RuntimeError, match="stop here"):
                m.fit(X, y, epochs=4, batch_size=8)
        assert_weights_close(m.get_weights(), reference.get_weights(), rtol=0, atol=0)
        assert m.optimizer.t == reference.optimizer.t == 10
        for key, value in reference.optimizer.state.items():
            np.testing.assert_array_equal(m.optimizer.state[key], value)
    finally:
        for table in (activations.ACTIVATIONS, activations.DERIVATIVES):
            table.pop(name, None)
        activations.NEEDS_Z.discard(name)


def test_single_sample_forward_from_several_threads_at_once():
    """The one-sample fast path reuses per-model buffers: threads calling forward on one model at the same
    time (a web server, say) must each get their own sample's output."""
    m = MLP(seed=0).sequential([2, 8, "relu", 8, "relu", 1, "sigmoid"])
    xs = [np.array([i * 0.3 - 1.0, 0.5 - i * 0.2]) for i in range(4)]
    want = [m.predict(x[None])[0] for x in xs]
    wrong = []

    def work(i):
        for _ in range(2000):
            out = m.forward(xs[i])
            if not np.allclose(out, want[i], rtol=1e-12):
                wrong.append((i, out))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)     # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, f"{len(wrong)} of 8000 outputs belonged to another thread's sample, e.g. {wrong[0]}"


# ---------------------------------------------------------------------------- float32
def test_float32_end_to_end():
    X, y = binary_data()
    m = MLP(seed=21, dtype="float32").sequential([2, 8, "relu", "dropout(0.1)", 1, "sigmoid"])
    m.set_loss("bce").set_optimizer("nadam")
    assert m.params.dtype == np.float32
    assert all(w.dtype == np.float32 for w in m.get_weights())
    h = m.fit(X, y, epochs=5, batch_size=8)
    assert all(np.isfinite(v) for v in h["loss"])
    assert m.params.dtype == np.float32
    assert all(w.dtype == np.float32 for w in m.get_weights())
    assert all(v.dtype == np.float32 for k, v in m.optimizer.state.items() if k != "mu_product")
    assert m.predict(X).dtype == np.float32
    assert m.forward([0.5, -0.5]).dtype == np.float32
    assert all(g.dtype == np.float32 for g in m.gradients(X, y))
    m.set_weights([w.astype(np.float64) for w in m.get_weights()])
    assert m.params.dtype == np.float32


def test_float32_training_tracks_float64():
    X, y = regression_data()
    m64 = MLP(seed=22).sequential([3, 6, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    m32 = MLP(seed=22, dtype="float32").sequential([3, 6, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    m32.set_weights(m64.get_weights())
    m64.fit(X, y, epochs=10, batch_size=None, shuffle=False, learning_rate=0.01)
    m32.fit(X, y, epochs=10, batch_size=None, shuffle=False, learning_rate=0.01)
    for a, b in zip(m32.get_weights(), m64.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------- inference API and weights
def manual_forward(weights, acts, X):
    a = np.asarray(X, dtype=float)
    for (W, b), act in zip(zip(weights[::2], weights[1::2]), acts):
        z = a @ W + b
        if act == "relu":
            a = np.maximum(z, 0)
        elif act == "tanh":
            a = np.tanh(z)
        elif act == "sigmoid":
            a = sigmoid(z)
        elif act == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = z
    return a


def test_get_weights_layout_and_forward_shapes():
    m = MLP(seed=23).sequential([4, 6, "relu", "dropout(0.3)", 5, "tanh", 3, "softmax"])
    ws = m.get_weights()
    assert [w.shape for w in ws] == [(4, 6), (6,), (6, 5), (5,), (5, 3), (3,)]
    assert m.n_params == 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3
    X = np.random.default_rng(23).normal(size=(7, 4))
    expected = manual_forward(ws, ["relu", "tanh", "softmax"], X)
    np.testing.assert_allclose(m.predict(X), expected, rtol=1e-12)
    out2 = m.forward(X)
    assert out2.shape == (7, 3)
    np.testing.assert_allclose(out2, expected, rtol=1e-12)
    one = m.forward(list(X[2]))
    assert one.shape == (3,)
    np.testing.assert_allclose(one, expected[2], rtol=1e-12)
    assert m.n_inputs == 4 and m.n_outputs == 3 and m.output_activation == "softmax"


def test_get_weights_returns_copies_and_set_weights_round_trips():
    m = MLP(seed=24).sequential([2, 3, "relu", 1])
    ws = m.get_weights()
    ws[0][...] = 99.0
    assert not np.any(m.get_weights()[0] == 99.0)
    new = [np.full_like(w, i + 0.5) for i, w in enumerate(m.get_weights())]
    m.set_weights(new)
    assert_weights_equal(m.get_weights(), new)
    np.testing.assert_allclose(m.predict([[1.0, 2.0]]), manual_forward(new, ["relu", "linear"], [[1.0, 2.0]]))


@pytest.mark.parametrize("bad", ["count", "shape", "nan"])
def test_set_weights_errors(bad):
    m = MLP(seed=25).sequential([2, 3, "relu", 1])
    ws = m.get_weights()
    if bad == "count":
        ws = ws[:-1]
    elif bad == "shape":
        ws[0] = ws[0].T
    else:
        ws[2][0, 0] = np.nan
    with pytest.raises(ValueError):
        m.set_weights(ws)
    assert np.isfinite(m.params).all()


def test_predict_classes():
    rng = np.random.default_rng(26)
    X = rng.normal(size=(20, 3))
    soft = MLP(seed=26).sequential([3, 5, "tanh", 4, "softmax"])
    np.testing.assert_array_equal(soft.predict_classes(X), np.argmax(soft.predict(X), axis=1))
    binary = MLP(seed=27).sequential([3, 5, "tanh", 1, "sigmoid"])
    labels = binary.predict_classes(X)
    assert labels.shape == (20,)
    np.testing.assert_array_equal(labels, (binary.predict(X)[:, 0] >= 0.5).astype(int))
    multi = MLP(seed=28).sequential([3, 5, "tanh", 2, "sigmoid"])
    np.testing.assert_array_equal(multi.predict_classes(X), (multi.predict(X) >= 0.5).astype(int))
    with pytest.raises(ValueError, match="predict"):
        MLP(seed=29).sequential([3, 2]).predict_classes(X)


def test_summary_lists_layers_and_parameter_count():
    m = MLP(seed=30).sequential([4, 16, "relu", "dropout(0.25)", 8, "tanh", 3, "softmax"]).set_loss("cce")
    s = m.summary()
    total = 4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3
    assert isinstance(s, str)
    assert f"{total:,}" in s
    for token in ("relu", "tanh", "softmax", "dropout", "cce", f"{4 * 16 + 16}", f"{16 * 8 + 8}", f"{8 * 3 + 3}"):
        assert token in s


# ---------------------------------------------------------------------------- initialisation
def test_init_he_for_relu_family_xavier_otherwise():
    m = MLP(seed=31).sequential([400, 100, "relu", 300, "tanh", 60, "leaky_relu", 200, "sigmoid", 30, "linear"])
    ws = m.get_weights()
    expected_var = [2 / 400, 2 / (100 + 300), 2 / 300, 2 / (60 + 200), 2 / (200 + 30)]
    for W, var in zip(ws[::2], expected_var):
        assert abs(W.mean()) < 5 * math.sqrt(var / W.size)
        assert W.std() == pytest.approx(math.sqrt(var), rel=0.05)


def test_learns_a_nonlinear_problem():
    X, y = binary_data(n=200, seed=32)
    m = MLP(seed=32).sequential([2, 16, "relu", 16, "relu", 1, "sigmoid"]).set_loss("bce")
    m.fit(X, y, epochs=150, learning_rate=0.01, batch_size=32)
    assert m.evaluate(X, y)["accuracy"] > 0.95


# ---------------------------------------------------------------------------- resumable runs
def test_training_run_in_slices_equals_one_fit():
    """start_training().step() in slices (as the browser worker does) gives exactly fit()'s weights and
    history, with shuffling, dropout, a schedule, validation and early stopping carried across slices."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((120, 3))
    y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    kw = dict(epochs=40, learning_rate=0.02, lr_schedule="cosine", validation_split=0.25,
              early_stopping={"patience": 5, "min_delta": 1e-3}, batch_size=16)

    def model():
        return MLP(seed=21).sequential([3, 8, "relu", "dropout(0.2)", 1, "sigmoid"]).set_loss("bce")

    a = model()
    h_a = a.fit(X, y, **kw)
    b = model()
    run = b.start_training(X, y, **kw)
    slices = 0
    while not run.done:
        run.step(epochs=3)
        slices += 1
    assert slices > 1
    assert np.array_equal(a.params, b.params)
    assert run.history.history == h_a.history
    assert run.history.stop_reason == h_a.stop_reason


def test_training_run_stop_keeps_weights():
    X = np.linspace(-1, 1, 30).reshape(-1, 1)
    m = MLP(seed=2).sequential([1, 4, "tanh", 1]).set_loss("mse")
    run = m.start_training(X, X ** 2, epochs=100)
    run.step(seconds=0.0)                    # at least one epoch
    assert run.epoch == 1 and not run.done
    before = m.params.copy()
    run.stop()
    assert run.done and run.history.stopped_early and "stopped" in run.history.stop_reason
    run.step()                               # a finished run trains no more
    assert np.array_equal(before, m.params) and len(run.history) == 1


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_integer_labels_on_a_softmax_output_are_one_hot_for_every_loss(loss):
    """A softmax output's 1-D integer targets are classes whatever the loss (the apps offer mse, mae and
    huber for a softmax output): the same as giving the one-hot rows."""
    X = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.arange(30) % 3
    onehot = np.eye(3)[labels]
    a, b = (MLP(seed=1).sequential([2, 5, 'tanh', 3, 'softmax']).set_loss(loss) for _ in range(2))
    ha = a.fit(X, labels, epochs=3, batch_size=8, learning_rate=0.05)
    hb = b.fit(X, onehot, epochs=3, batch_size=8, learning_rate=0.05)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.history == hb.history
    assert a.evaluate(X, labels) == b.evaluate(X, onehot)
    with pytest.raises(ValueError, match="whole numbers 0..2"):
        a.fit(X, labels + 0.5, epochs=1)


@pytest.mark.parametrize("lr", [np.float32(0.05), np.float16(0.05), np.int64(1)])
def test_numpy_numbers_are_numbers_for_the_learning_rate(lr):
    """A learning rate, lr_decay or min_delta taken from a NumPy array (np.float32, np.int64) trains as
    the same Python number does (it was refused as 'not a positive number')."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = (X[:, :1] > 0).astype(float)
    a, b = (MLP(seed=1).sequential([2, 4, 'tanh', 1, 'sigmoid']).set_loss('bce') for _ in range(2))
    ha = a.fit(X, y, epochs=3, learning_rate=lr, lr_decay=np.float32(0.5), early_stopping={"min_delta": np.float32(0)})
    hb = b.fit(X, y, epochs=3, learning_rate=float(lr), lr_decay=0.5, early_stopping={"min_delta": 0.0})
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.history == hb.history and all(type(v) is float for v in ha.history["lr"])
    assert a.trace(X, y, learning_rate=lr).hyper["lr"] == float(lr)
    with pytest.raises(ValueError, match="positive number"):
        a.fit(X, y, epochs=1, learning_rate=np.float32(-0.1))
