"""The optimizers' modes (weight decay on the weights only; Adam's epsilon added to sqrt(v) as scikit-learn), a
``shuffle`` function giving each epoch's order, and ``loss_scale``: against PyTorch and scikit-learn's own
optimizer, and kept by the model file."""
import numpy as np
import pytest
import torch
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

import mlp
from mlp.optimizers import make_optimizer


def _model(optimizer="adam", **hyper):
    model = mlp.MLP(seed=0).sequential([3, 5, "tanh", 2, "softmax"]).set_loss("cce")
    return model.set_optimizer(optimizer, **hyper)


def _data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(20, 3)), rng.integers(0, 2, 20)


def test_weight_decay_on_the_weights_only_is_torchs_with_a_group_without_decay():
    X, y = _data()
    model = _model("sgd", momentum=0.9, weight_decay=0.3, weight_decay_on="weights")
    seq = model.to_torch().train()
    linear = [m for m in seq if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD([{"params": [m.weight for m in linear], "weight_decay": 0.3},
                           {"params": [m.bias for m in linear], "weight_decay": 0.0}], lr=0.1, momentum=0.9)
    xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(seq[:-1](xt), yt).backward()   # the logits: without the softmax
        opt.step()
    model.fit(X, y, epochs=3, batch_size=20, shuffle=False, learning_rate=0.1)
    for layer, m in zip(model.layers, linear):
        np.testing.assert_allclose(layer.W, m.weight.detach().numpy().T, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.b, m.bias.detach().numpy(), rtol=0, atol=1e-12)


def test_adam_eps_placement_sqrt_v_is_sklearns_adam():
    rng = np.random.default_rng(0)
    p = rng.normal(size=50)
    theirs = [p.copy()]
    sk = AdamOptimizer(theirs, learning_rate_init=0.01, epsilon=1e-2)
    ours = make_optimizer("adam", eps=1e-2, eps_placement="sqrt_v")
    torchlike = make_optimizer("adam", eps=1e-2)
    mine, other = p.copy(), p.copy()
    for _ in range(5):
        g = rng.normal(size=50) * 1e-2
        sk.update_params(theirs, [g.copy()])
        ours.step(mine, g.copy(), 0.01)
        torchlike.step(other, g.copy(), 0.01)
    np.testing.assert_allclose(mine, theirs[0], rtol=0, atol=1e-14)
    assert np.abs(other - theirs[0]).max() > 1e-4        # PyTorch's placement: another step


def test_modes_are_checked_and_kept_in_the_config_only_when_not_default():
    with pytest.raises(ValueError, match="weight_decay_on must be one of 'all', 'weights'"):
        make_optimizer("sgd", weight_decay_on="biases")
    with pytest.raises(ValueError, match="no hyperparameter 'eps_placement'"):
        make_optimizer("sgd", eps_placement="sqrt_v")
    assert make_optimizer("adam").get_config() == {"name": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                                   "weight_decay": 0.0, "l1": 0.0}
    opt = make_optimizer("adam", eps_placement="sqrt_v", weight_decay_on="weights")
    again = mlp.optimizers.Optimizer.from_config(opt.get_config())
    assert again.modes == opt.modes == {"weight_decay_on": "weights", "eps_placement": "sqrt_v"}
    assert "eps_placement='sqrt_v'" in repr(opt)


def test_loss_scale_and_modes_survive_the_model_file_and_training_goes_on_the_same():
    X, y = _data()
    model = _model("adam", weight_decay=0.5, weight_decay_on="weights", eps_placement="sqrt_v")
    model.loss_scale = 3.0
    model.fit(X, y, epochs=2, batch_size=8, learning_rate=0.01)
    loaded = mlp.from_bytes(model.to_bytes())
    assert loaded.loss_scale == 3.0 and loaded.optimizer.modes == model.optimizer.modes
    for m in (model, loaded):
        m.fit(X, y, epochs=2, batch_size=8, learning_rate=0.01)
    np.testing.assert_array_equal(loaded.params, model.params)
    with pytest.raises(ValueError, match="loss_scale must be a positive number"):
        mlp.MLP.from_config({**model.get_config(), "loss_scale": -1})


def test_a_shuffle_function_gives_each_epochs_order():
    X, y = _data()
    orders = [np.random.default_rng(k).permutation(20) for k in range(3)]
    calls = iter(orders)
    a, b = _model(), _model()
    a.fit(X, y, epochs=3, batch_size=6, shuffle=lambda n: next(calls), learning_rate=0.01)
    for order in orders:                     # the same epochs on rows put in that order
        b.fit(X[order], y[order], epochs=1, batch_size=6, shuffle=False, learning_rate=0.01)
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"shuffle\(n\) must return a permutation of range\(20\)"):
        _model().fit(X, y, epochs=1, shuffle=lambda n: np.zeros(n, int))
    with pytest.raises(TypeError, match="shuffle must be True, False or a function"):
        _model().fit(X, y, epochs=1, shuffle="yes")
