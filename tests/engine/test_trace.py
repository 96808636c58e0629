"""MLP.trace against PyTorch autograd, against the fast path (gradients() and what fit then does),
and that it changes nothing in the model."""
import copy
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlp
from mlp import MLP, reference, trace
from mlp.optimizers import OPTIMIZERS

ACTS = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu", "softplus", "swish"]
PAIRS = [(a, loss) for a in ACTS for loss in ("mse", "mae", "huber")] + [("sigmoid", "bce"), ("softmax", "cce")]
TORCH_ACT = {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "tanh": torch.tanh,
             "sigmoid": torch.sigmoid, "softmax": lambda t: F.softmax(t, dim=1), "linear": lambda t: t,
             "gelu": lambda t: F.gelu(t, approximate="tanh"), "elu": F.elu, "softplus": F.softplus, "swish": F.silu}


def targets(loss, n, k, rng):
    if loss == "bce":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "cce":
        return np.eye(k)[rng.integers(0, k, size=n)]
    return rng.normal(size=(n, k)) * 1.5


def torch_pass(model, X, y, loss, l1=0.0):
    """PyTorch autograd of the same network: loss, and per layer z, a, dL/dz, dL/dW, dL/db."""
    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights()]
    a = torch.tensor(np.asarray(X, float))
    yt = torch.tensor(np.asarray(y, float))
    zs, acts_out = [], []
    for i, layer in enumerate(model.layer_table()[1:]):
        z = a @ ws[2 * i] + ws[2 * i + 1]
        z.retain_grad()
        a = TORCH_ACT[layer["activation"]](z)
        zs.append(z)
        acts_out.append(a)
    value = {"mse": lambda: F.mse_loss(a, yt), "mae": lambda: F.l1_loss(a, yt),
             "huber": lambda: F.huber_loss(a, yt, delta=1.0),
             "bce": lambda: F.binary_cross_entropy_with_logits(z, yt),
             "cce": lambda: F.cross_entropy(z, yt)}[loss]()
    penalty = l1 * sum(w.abs().sum() for w in ws[0::2])
    (value + penalty).backward()
    return value.item(), float(penalty.detach()), [
        {"z": z.detach().numpy(), "a": a_.detach().numpy(), "delta": z.grad.numpy(),
         "grad_W": ws[2 * i].grad.numpy(), "grad_b": ws[2 * i + 1].grad.numpy()}
        for i, (z, a_) in enumerate(zip(zs, acts_out))]


def check_trace(model, X, y, loss, l1=0.0):
    tr = model.trace(X, y)
    value, penalty, expected = torch_pass(model, X, y, loss, l1)
    assert tr.loss == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert tr.penalty == pytest.approx(penalty, rel=1e-12, abs=0)
    assert len(tr.layers) == len(expected)
    for got, want in zip(tr.layers, expected):
        for key in ("z", "a", "delta", "grad_W", "grad_b"):
            assert getattr(got, key).shape == want[key].shape, key
            np.testing.assert_allclose(getattr(got, key), want[key], rtol=1e-9, atol=1e-14, err_msg=key)
    # the fast path's gradients
    for got, (gW, gb) in zip(tr.layers, zip(*[iter(model.gradients(X, y))] * 2)):
        np.testing.assert_allclose(got.grad_W, gW, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(got.grad_b, gb, rtol=1e-9, atol=1e-14)
    return tr


@pytest.mark.parametrize("hidden", ACTS)
def test_trace_matches_torch_for_every_hidden_activation(hidden):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(9, 3)), rng.normal(size=(9, 2))
    m = MLP(seed=2).sequential([3, 5, hidden, 4, hidden, 2, "linear"]).set_loss("mse")
    tr = check_trace(m, X, y, "mse")
    assert [ly.activation for ly in tr.layers] == [hidden, hidden, "linear"]
    assert max(np.abs(ly.delta).max() for ly in tr.layers[:2]) > 1e-4   # not a degenerate case


@pytest.mark.parametrize("out_act, loss", PAIRS)
def test_trace_matches_torch_for_every_output_and_loss(out_act, loss):
    rng = np.random.default_rng(3)
    k = 3
    X, y = rng.normal(size=(11, 4)), targets(loss, 11, k, rng)
    m = MLP(seed=4).sequential([4, 6, "tanh", k, out_act]).set_loss(loss).set_optimizer("adam")
    tr = check_trace(m, X, y, loss)
    assert tr.loss_name == loss and tr.penalty == 0.0
    assert tr.layers[-1].z.shape == (11, k) and tr.layers[-1].delta.shape == (11, k)


def test_trace_matches_torch_with_l1_and_integer_labels():
    rng = np.random.default_rng(5)
    X, labels = rng.normal(size=(10, 3)), rng.integers(0, 4, size=10)
    m = MLP(seed=6).sequential([3, 5, "relu", 4, "softmax"]).set_loss("cce").set_optimizer("sgd", l1=0.03)
    tr = check_trace(m, X, np.eye(4)[labels], "cce", l1=0.03)
    tr2 = m.trace(X, labels.tolist())                   # labels, as a list: as fit takes them
    np.testing.assert_array_equal(tr2.y, np.eye(4)[labels])
    np.testing.assert_array_equal(tr2.layers[0].grad_W, tr.layers[0].grad_W)
    assert tr.penalty == pytest.approx(0.03 * sum(np.abs(w).sum() for w in m.get_weights()[0::2]))
    assert tr.l1 == 0.03 and "l1" not in tr.hyper


def test_trace_of_a_registered_activation():
    name = mlp.register_activation("softsign_trace", lambda z: z / (1 + np.abs(z)),
                                   lambda z, a: 1.0 / (1 + np.abs(z)) ** 2)
    try:
        TORCH_ACT[name] = F.softsign
        rng = np.random.default_rng(7)
        X, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
        m = MLP(seed=8).sequential([2, 4, name, 1]).set_loss("huber")
        check_trace(m, X, y, "huber")
    finally:
        TORCH_ACT.pop(name, None)
        from mlp import activations
        activations.ACTIVATIONS.pop(name, None)
        activations.DERIVATIVES.pop(name, None)
        activations.NEEDS_Z.discard(name)


# ---------------------------------------------------------------------------- the update is what fit does
CASES = [("sgd", {}), ("sgd", {"momentum": 0.5, "nesterov": True}), ("sgd_momentum", {"weight_decay": 0.01}),
         ("rmsprop", {}), ("adam", {}), ("adam", {"weight_decay": 0.02, "l1": 0.01}), ("adamw", {"l1": 0.005}),
         ("adagrad", {}), ("nadam", {"l1": 0.01})]


@pytest.mark.parametrize("name, hyper", CASES)
@pytest.mark.parametrize("warm", [0, 3])
def test_trace_update_is_what_fit_then_does(name, hyper, warm):
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(8, 3)), (rng.normal(size=(8, 1)) > 0).astype(float)
    m = MLP(seed=10).sequential([3, 5, "relu", 4, "tanh", 1, "sigmoid"]).set_loss("bce").set_optimizer(name, **hyper)
    if warm:   # the optimizer has state already
        m.fit(rng.normal(size=(12, 3)), (rng.normal(size=(12, 1)) > 0).astype(float), epochs=warm, batch_size=5)
    tr = m.trace(X.tolist(), y, learning_rate=0.02)
    assert tr.t == m.optimizer.t + 1 and tr.optimizer == name and tr.hyper["lr"] == 0.02
    before = m.get_weights()
    hist = m.fit(X, y, epochs=1, learning_rate=0.02, batch_size=len(X), shuffle=False)
    assert hist.history["loss"][0] == pytest.approx(tr.loss, rel=1e-12)   # the data loss, without the penalty
    after = m.get_weights()
    moved = 0.0
    for i, ly in enumerate(tr.layers):
        np.testing.assert_allclose(ly.update_W, after[2 * i] - before[2 * i], rtol=1e-8, atol=1e-15)
        np.testing.assert_allclose(ly.update_b, after[2 * i + 1] - before[2 * i + 1], rtol=1e-8, atol=1e-15)
        moved = max(moved, np.abs(ly.update_W).max())
        # the state after the step, by torch's names, is the optimizer's state now
        for key, arr in ly.state_W["after"].items():
            if key == "mu_product":
                assert float(arr) == pytest.approx(float(m.optimizer.state["mu_product"][0]), rel=1e-14)
                continue
            W = m.layers[i].W
            flat = m.optimizer.state[key][m.layers[i].offset:m.layers[i].offset + W.size].reshape(W.shape)
            np.testing.assert_allclose(arr, flat, rtol=1e-9, atol=1e-16)
        assert set(ly.state_W["before"]) == set(ly.state_W["after"])
        # the update is the reference's function of this optimizer, called with the trace's own numbers
        new_W, _ = reference.UPDATES[tr.optimizer](ly.W, ly.grad_W, ly.state_W["before"], tr.t, **tr.hyper)
        np.testing.assert_allclose(new_W - ly.W, ly.update_W, rtol=1e-12, atol=1e-17)
    assert moved > 1e-4


def test_trace_update_follows_the_formula_of_its_optimizer():
    # the update of one weight written out from Adam's state before (what the explanation shows)
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    m = MLP(seed=12).sequential([2, 3, "tanh", 1]).set_loss("mse").set_optimizer("adam")
    m.fit(X, y, epochs=4, batch_size=2)
    tr = m.trace(X, y, learning_rate=0.05)
    ly, t = tr.layers[0], tr.t
    m0, v0 = ly.state_W["before"]["exp_avg"], ly.state_W["before"]["exp_avg_sq"]
    assert np.abs(m0).max() > 0
    g = ly.grad_W
    m1, v1 = 0.9 * m0 + 0.1 * g, 0.999 * v0 + 0.001 * g * g
    step = -0.05 * (m1 / (1 - 0.9 ** t)) / (np.sqrt(v1 / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(ly.update_W, step, rtol=1e-10)
    np.testing.assert_allclose(ly.state_W["after"]["exp_avg"], m1, rtol=1e-12)
    new, state = reference.UPDATES[tr.optimizer](ly.W, g, ly.state_W["before"], tr.t, **tr.hyper)
    np.testing.assert_allclose(new - ly.W, ly.update_W, rtol=1e-12)


# ---------------------------------------------------------------------------- nothing changes
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trace_changes_nothing_in_the_model(name):
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    m = MLP(seed=14).sequential([3, 4, "relu", "dropout(0.3)", 2]).set_loss("mse").set_optimizer(name, l1=0.01)
    m.fit(X, y, epochs=2, batch_size=3)
    twin = copy.deepcopy(m)
    saved = m.to_bytes()            # weights, optimizer state and step, random state, history
    state_ids = {k: id(v) for k, v in m.optimizer.state.items()}
    params_id = id(m.params)
    tr = m.trace(X, y)
    tr.layers[0].W[...] = 99.0      # the trace's arrays are its own
    tr.layers[0].state_W["before"][next(iter(tr.layers[0].state_W["before"]), "x")] = None
    assert m.to_bytes() == saved
    assert id(m.params) == params_id and {k: id(v) for k, v in m.optimizer.state.items()} == state_ids
    # training on gives what it gives without the trace
    m.fit(X, y, epochs=2, batch_size=3)
    twin.fit(X, y, epochs=2, batch_size=3)
    np.testing.assert_array_equal(m.params, twin.params)


def test_trace_without_an_optimizer_uses_adam_and_sets_none():
    m = MLP(seed=15).sequential([2, 3, "tanh", 1]).set_loss("mse")
    tr = m.trace([[0.0, 1.0], [1.0, 0.5]], [[1.0], [0.0]])
    assert m.optimizer is None
    assert tr.optimizer == "adam" and tr.t == 1 and set(tr.layers[0].state_W["before"]) == {"exp_avg", "exp_avg_sq"}
    assert all(np.all(v == 0) for v in tr.layers[0].state_W["before"].values())


def test_dropout_is_the_identity_in_a_trace():
    rng = np.random.default_rng(16)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    with_dropout = MLP(seed=17).sequential([3, "dropout(0.2)", 5, "relu", "dropout(0.5)", 1]).set_loss("mse")
    plain = MLP(seed=0).sequential([3, 5, "relu", 1]).set_loss("mse")
    plain.set_weights(with_dropout.get_weights())
    a, b = with_dropout.trace(X, y), plain.trace(X, y)
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.z, lb.z)
        np.testing.assert_array_equal(la.update_W, lb.update_W)


def test_trace_float32():
    rng = np.random.default_rng(18)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    m32 = MLP(seed=19, dtype="float32").sequential([3, 4, "gelu", 2]).set_loss("mse").set_optimizer("rmsprop")
    m64 = MLP(seed=19).sequential([3, 4, "gelu", 2]).set_loss("mse").set_optimizer("rmsprop")
    m64.set_weights(m32.get_weights())
    a, b = m32.trace(X, y), m64.trace(X, y)
    assert a.layers[0].grad_W.dtype == np.float32 and a.x.dtype == np.float32
    np.testing.assert_allclose(a.layers[0].grad_W, b.layers[0].grad_W, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.layers[0].grad_W, m32.gradients(X, y)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda m: m.trace([[1.0, 2.0, 3.0]], [[0.0]]), ValueError, "input size is 2"),
    (lambda m: m.trace([[1.0, 2.0]], [[0.0], [1.0]]), ValueError, "must match"),
    (lambda m: m.trace([[1.0, "a"]], [[0.0]]), ValueError, "numeric"),
    (lambda m: m.trace([[1.0, np.nan]], [[0.0]]), ValueError, "nan"),
    (lambda m: m.trace([[1.0, 2.0]], [[0.0]], learning_rate=-1), ValueError, "learning_rate"),
    (lambda m: MLP().sequential([2, 1]).trace([[1.0, 2.0]], [[0.0]]), ValueError, "No loss set"),
    (lambda m: MLP().trace([[1.0, 2.0]], [[0.0]]), ValueError, "no layers"),
])
def test_trace_bad_input_says_what_is_wrong(call, error, words):
    m = MLP(seed=0).sequential([2, 3, "relu", 1, "sigmoid"]).set_loss("bce")
    with pytest.raises(error) as e:
        call(m)
    assert words in str(e.value)


# ---------------------------------------------------------------------------- code_for
CONTRACT_NAMES = ["layer_forward", "loss_value", "output_delta", "hidden_delta", "layer_gradients", "train_step",
                  "forward_backward"] + [f"{n}_update" for n in OPTIMIZERS]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_code_for_returns_the_functions_own_lines(name):
    start, text = trace.code_for(name)
    fn = getattr(reference, name)
    lines, first = inspect.getsourcelines(fn)          # independent: Python's own bookkeeping
    assert start == first and text == "".join(lines)
    assert text.startswith(f"def {name}(")
    assert set(reference.UPDATES) == set(OPTIMIZERS)
    assert reference.UPDATES[name[:-len("_update")]] is fn if name.endswith("_update") else True


def test_code_for_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError) as e:
        trace.code_for("no_such_function")
    assert "no_such_function" in str(e.value) and "adam_update" in str(e.value)
    monkeypatch.setattr(trace, "SOURCE_PATH", str(tmp_path / "reference.py"))
    with pytest.raises(FileNotFoundError) as e:
        trace.code_for("adam_update")
    assert "ship mlp/reference.py" in str(e.value)


def test_reference_imports_only_numpy_and_the_tables():
    import ast
    tree = ast.parse(open(trace.SOURCE_PATH, encoding="utf-8").read())
    imported = {(n.module or "") if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    assert imported <= {"math", "numpy", "activations", "losses"}, imported
