"""Per-layer gradient statistics in the History: against gradients(), the real update and a direct count."""
import copy
import math

import numpy as np
import pytest

import mlp
from mlp import MLP, layerstats


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = ((X[:, 0] * X[:, 1] + 0.3 * X[:, 2]) > 0).astype(float).reshape(-1, 1)
    return X, y


def _norms(arrays):
    return [float(np.linalg.norm(a)) for a in arrays]


def _dead_count(model_params, model, X, grads=None):
    """Units of each relu layer that output 0 on all DEAD_ROWS-spread rows, by a plain forward pass, and
    whose bias gradient in ``grads`` (``gradients()`` of the epoch's last step, if given) is 0."""
    twin = copy.deepcopy(model)
    twin.params = model_params
    rows = X[::math.ceil(len(X) / layerstats.DEAD_ROWS)]
    out, a = {}, rows
    for i, (W, b, spec) in enumerate(zip(twin.get_weights()[::2], twin.get_weights()[1::2],
                                         [s for s in twin.specs if s["type"] == "dense"])):
        z = a @ W + b
        a = mlp.ACTIVATIONS[spec["activation"]](z.copy())
        if spec["activation"] == "relu":
            idle = np.ones(a.shape[1], bool) if grads is None else grads[2 * i + 1] == 0
            out[i + 1] = int(np.sum(np.all(a == 0, axis=0) & idle))
    return out


@pytest.mark.parametrize("optimizer,kw,dtype", [
    ("sgd", {}, "float64"), ("adam", {}, "float64"), ("rmsprop", {"weight_decay": 1e-2}, "float64"),
    ("sgd_momentum", {"l1": 1e-3}, "float64"), ("adam", {}, "float32"), ("nadam", {}, "float64")])
def test_full_batch_stats_are_the_gradient_and_the_update(optimizer, kw, dtype):
    """Full batch: an epoch is one step, from the previous epoch's weights."""
    X, y = _data()
    model = MLP(seed=3, dtype=dtype).sequential([3, 6, "relu", 5, "tanh", 4, "relu", 1, "sigmoid"])
    model.set_loss("bce").set_optimizer(optimizer, **kw)
    twin = copy.deepcopy(model)
    seen = [model.params.copy()]
    h = model.fit(X, y, epochs=6, batch_size=None, learning_rate=0.05,
                  callbacks=[lambda e, logs: seen.append(model.params.copy())])
    stats = layerstats.layer_series(h)
    assert sorted(stats) == ["dead", "grad_norm", "update_ratio"]
    assert list(stats["grad_norm"]) == [1, 2, 3, 4] and list(stats["dead"]) == [1, 3]
    rtol = 1e-4 if dtype == "float32" else 1e-10
    l1 = kw.get("l1", 0.0)
    for e in range(6):
        twin.params = seen[e]
        grads_all = twin.gradients(X, y)
        grads = grads_all[::2]                   # dL/dW of each layer (with l1 * sign(W) when l1 is set)
        data_grads = [g - l1 * np.sign(W) for g, W in zip(grads, twin.get_weights()[::2])]
        np.testing.assert_allclose([stats["grad_norm"][k][e] for k in range(1, 5)], _norms(data_grads), rtol=rtol)
        W0 = [seen[e][ly.offset:ly.offset + ly.W.size] for ly in model.layers]
        W1 = [seen[e + 1][ly.offset:ly.offset + ly.W.size] for ly in model.layers]
        want = [np.linalg.norm(b - a) / np.linalg.norm(a) for a, b in zip(W0, W1)]
        np.testing.assert_allclose([stats["update_ratio"][k][e] for k in range(1, 5)], want, rtol=rtol * 10)
        assert {k: stats["dead"][k][e] for k in (1, 3)} == _dead_count(seen[e + 1], model, X, grads_all)


def test_mini_batch_stats_are_the_last_steps():
    """Mini-batches without shuffling: the last step of each epoch is the batch of row 48 alone."""
    X, y = _data(49)
    model = MLP(seed=1).sequential([3, 8, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam")
    W = model.get_weights()
    W[1][0] = -1e3                               # one dead unit; on one row about half the others are silent
    model.set_weights(W)
    run = model.start_training(X, y, epochs=4, batch_size=16, shuffle=False, learning_rate=0.02)
    idle = 0
    for e in range(4):
        start = copy.deepcopy(model)             # weights, Adam's moments and step count at the epoch's start
        run.step(epochs=1)
        start.fit(X[:48], y[:48], epochs=1, batch_size=16, shuffle=False, learning_rate=0.02)   # up to the last step
        grads = start.gradients(X[48:], y[48:])
        assert run.history["grad_norm/1"][e] == pytest.approx(np.linalg.norm(grads[0]), rel=1e-10)
        assert run.history["grad_norm/2"][e] == pytest.approx(np.linalg.norm(grads[2]), rel=1e-10)
        before, after = start.get_weights(), model.get_weights()
        for k in (0, 2):
            ratio = np.linalg.norm(after[k] - before[k]) / np.linalg.norm(before[k])
            assert run.history[f"update_ratio/{k // 2 + 1}"][e] == pytest.approx(ratio, rel=1e-8)
        assert run.history["dead/1"][e] == _dead_count(model.params, model, X, grads)[1] == 1
        idle += int(np.sum(grads[1] == 0))
    assert idle > 4         # units silent on the last batch but alive on other rows were not counted as dead


def test_dead_units_are_counted_on_rows_spread_over_the_data():
    """Units made dead by a very negative bias are counted; rows sorted by class are sampled across."""
    rng = np.random.default_rng(0)
    X = np.sort(rng.normal(size=(1000, 2)), axis=0)     # sorted: the first rows alone would mislead
    y = (X[:, :1] > 0).astype(float)
    model = MLP(seed=0).sequential([2, 10, "relu", 7, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("sgd")
    W = model.get_weights()
    W[1][:4] = -1e3                                     # four dead units in layer 1
    W[2][:, 5:] = 0.0
    W[3][5:] = -1.0                                     # two in layer 2 (their only input is the bias)
    model.set_weights(W)
    h = model.fit(X, y, epochs=3, learning_rate=1e-3)
    assert h["dead/1"] == [4.0, 4.0, 4.0] and h["dead/2"] == [2.0, 2.0, 2.0]
    assert [h["dead/1"][-1], h["dead/2"][-1]] == list(_dead_count(model.params, model, X).values())


@pytest.mark.parametrize("layer,dtype", [(1, "float64"), (3, "float64"), (2, "float32")])
def test_dead_units_in_one_layer_of_several(layer, dtype):
    """Units killed in one relu layer of three: each epoch's counts, for every layer, against a direct count
    (the counting forward pass stops at the deepest layer with a unit that got no gradient)."""
    X, y = _data(90)
    model = MLP(seed=2, dtype=dtype).sequential([3, 6, "relu", 5, "relu", 4, "relu", 1, "sigmoid"])
    model.set_loss("bce").set_optimizer("adam")
    W = model.get_weights()
    W[2 * layer - 1][:2] = -1e3                         # two dead units in that layer
    model.set_weights(W)
    twin = copy.deepcopy(model)
    seen = [model.params.copy()]
    h = model.fit(X, y, epochs=5, batch_size=None, learning_rate=0.05,
                  callbacks=[lambda e, logs: seen.append(model.params.copy())])
    for e in range(5):
        twin.params = seen[e]
        want = _dead_count(seen[e + 1], model, X, twin.gradients(X, y))
        assert {k: h[f"dead/{k}"][e] for k in (1, 2, 3)} == want
        assert want[layer] >= 2


def test_many_epochs_and_a_large_network_are_buffered_the_same():
    """More epochs than the buffer holds, and a network too large to buffer more than one epoch."""
    X, y = _data(200)
    small = MLP(seed=0).sequential([3, 4, "relu", 1, "sigmoid"]).set_loss("bce")
    h = small.fit(X, y, epochs=layerstats.MAX_EPOCHS_BUFFERED * 2 + 5, batch_size=None, learning_rate=0.01)
    assert all(len(h[k]) == len(h["loss"]) for k in ("grad_norm/1", "update_ratio/2", "dead/1"))
    big = MLP(seed=0).sequential([3, 400, "relu", 400, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("sgd")
    twin = copy.deepcopy(big)
    h = big.fit(X, y, epochs=2, batch_size=None, learning_rate=0.01)
    twin.fit(X, y, epochs=1, batch_size=None, learning_rate=0.01)
    assert h["grad_norm/2"][1] == pytest.approx(np.linalg.norm(twin.gradients(X, y)[2]), rel=1e-10)
    assert h["dead/2"][1] == _dead_count(big.params, big, X, twin.gradients(X, y))[2]


def test_stats_are_complete_after_each_step_and_a_divergence():
    X, y = _data()
    model = MLP(seed=0).sequential([3, 5, "tanh", 1]).set_loss("mse").set_optimizer("sgd")
    run = model.start_training(X, y * 1e3, epochs=50, learning_rate=1.0, batch_size=10)
    with pytest.warns(RuntimeWarning, match="the loss became"), np.errstate(all="ignore"):
        run.step(epochs=3)
        run.run()
    n = len(run.history)
    assert 0 < n < 50 and run.history.stop_reason
    assert len(run.history["grad_norm/1"]) == len(run.history["update_ratio/2"]) == n
    assert all(math.isfinite(v) for v in run.history["grad_norm/1"])
    assert "dead/1" not in run.history.history          # no relu layer


def test_switched_off_and_the_file_round_trip():
    X, y = _data()
    model = MLP(seed=0).sequential([3, 4, "relu", 1, "sigmoid"]).set_loss("bce")
    run = model.start_training(X, y, epochs=3)
    run.layer_stats = None
    assert set(run.run().history) == {"loss", "accuracy", "lr"}
    h = model.fit(X, y, epochs=3)
    back = mlp.from_bytes(model.to_bytes())
    assert back.history.history == h.history and "grad_norm/2" in back.history.history
    assert layerstats.layer_series(back.history)["dead"] == {1: h["dead/1"]}
    assert "grad_norm" not in repr(h)                   # the History prints its training metrics only


def test_old_model_files_without_stats_still_load():
    X, y = _data()
    model = MLP(seed=0).sequential([3, 4, "relu", 1, "sigmoid"]).set_loss("bce")
    h = model.fit(X, y, epochs=2)
    for k in [k for k in h.history if "/" in k]:
        del h.history[k]                                # as a file written before the statistics existed
    back = mlp.from_bytes(model.to_bytes())
    assert back.history.history == h.history and layerstats.layer_series(back.history) == {}


def test_init_schemes():
    model = MLP(seed=0).sequential([200, 300, "relu", 300, "sigmoid", 50])
    for scheme, stds in (("auto", [math.sqrt(2 / 200), math.sqrt(2 / 600), math.sqrt(2 / 350)]),
                         ("he", [math.sqrt(2 / 200), math.sqrt(2 / 300), math.sqrt(2 / 300)]),
                         ("xavier", [math.sqrt(2 / 500), math.sqrt(2 / 600), math.sqrt(2 / 350)]),
                         ("small", [0.01, 0.01, 0.01])):
        W = model.init_weights(scheme).get_weights()
        np.testing.assert_allclose([w.std() for w in W[::2]], stds, rtol=0.03)
        assert W[1].tolist() == [mlp.activations.RELU_BIAS] * 300 and not W[3].any()
    with pytest.raises(ValueError, match="Unknown weight initialisation 'glorot'; choose 'auto' or one of he"):
        model.init_weights("glorot")
