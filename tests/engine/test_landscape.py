"""mlp.race and mlp.loss_surface: same start and batches, paths, the plane, its centre and projections."""
import copy
import json

import numpy as np
import pytest

import mlp
from mlp import MLP


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float).reshape(-1, 1)
    return X, y


def _model(seed=0, arch=(2, 6, "tanh", 1, "sigmoid")):
    return MLP(seed=seed).sequential(list(arch)).set_loss("bce").set_optimizer("adam")


def test_each_racer_is_the_model_trained_alone_from_the_same_start():
    X, y = _data()
    model = _model()
    before = model.params.copy()
    r = mlp.race(model, X, y, epochs=5, learning_rates={"sgd": 0.1, "sgd_momentum": 0.05, "rmsprop": 0.01,
                                                         "adam": 0.01}, batch_size=16)
    assert np.array_equal(model.params, before) and model.optimizer.t == 0      # the model is not changed
    assert r.optimizers == mlp.RACE_OPTIMIZERS == ("sgd", "sgd_momentum", "rmsprop", "adam")
    for name in r.optimizers:
        alone = copy.deepcopy(model).set_optimizer(name)
        seen = [alone.params.copy()]
        h = alone.fit(X, y, epochs=5, learning_rate=r.learning_rates[name], batch_size=16,
                      callbacks=[lambda e, logs: seen.append(alone.params.copy())])
        assert np.array_equal(r.paths[name], np.array(seen))                     # start + every epoch's end
        assert np.array_equal(r.models[name].params, alone.params)
        assert r.histories[name].history == h.history
        assert r.models[name].optimizer.name == name
    assert {n: p.shape for n, p in r.paths.items()} == dict.fromkeys(r.optimizers, (6, model.n_params))


def test_the_racers_see_the_same_batches():
    """Plain SGD's first epoch, written out from the shuffle order of a copy of the model's random state."""
    X, y = _data(40)
    model = _model(seed=3)
    order = copy.deepcopy(model.rng).permutation(40)
    r = mlp.race(model, X, y, optimizers=["sgd", "adam"], epochs=1, learning_rates=0.5, batch_size=16)
    twin = copy.deepcopy(model)
    for s in range(0, 40, 16):
        rows = order[s:s + 16]
        grads = twin.gradients(X[rows], y[rows])       # [gW1, gb1, ...]: each W then its b, as params
        twin.params = twin.params - 0.5 * np.concatenate([g.ravel() for g in grads])
    np.testing.assert_allclose(r.paths["sgd"][1], twin.params, rtol=1e-12, atol=1e-14)


def test_seed_and_config_and_penalties():
    X, y = _data()
    model = _model().set_optimizer("adam", weight_decay=1e-3, l1=1e-4)
    r = mlp.race(model, X, y, optimizers=("adam", "sgd"), epochs=3, seed=7)
    alone = copy.deepcopy(model).set_optimizer("sgd", weight_decay=1e-3, l1=1e-4)
    alone.rng = np.random.default_rng(7)
    alone.fit(X, y, epochs=3, learning_rate=0.01, batch_size=32)
    assert np.array_equal(r.models["sgd"].params, alone.params)
    assert r.models["sgd"].optimizer.hyper["l1"] == 1e-4 and r.models["adam"].optimizer.hyper["weight_decay"] == 1e-3
    from_config = mlp.race(model.get_config(), X, y, optimizers=["sgd"], epochs=2, seed=4)
    built = MLP.from_config({**model.get_config(), "seed": 4})
    assert np.array_equal(from_config.start, built.params)


def test_race_errors_say_what_is_wrong():
    X, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="Each optimizer races once; adam appears more than once"):
        mlp.race(model, X, y, optimizers=["adam", "Adam"])
    with pytest.raises(ValueError, match="Unknown optimizer 'lbfgs'"):
        mlp.race(model, X, y, optimizers=["sgd", "lbfgs"])
    with pytest.raises(ValueError, match="learning_rates has no rate for rmsprop, adam"):
        mlp.race(model, X, y, learning_rates={"sgd": 0.1, "sgd_momentum": 0.1})
    with pytest.raises(ValueError, match="learning_rates lists 2 rates for 4 optimizers"):
        mlp.race(model, X, y, learning_rates=[0.1, 0.2])
    with pytest.raises(ValueError, match="The learning rate for sgd must be a positive number, got -1"):
        mlp.race(model, X, y, learning_rates=-1)
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        mlp.race(model, X, y, epochs=0)
    with pytest.raises(ValueError, match="has no loss"):
        mlp.race(MLP().sequential([2, 1]), X, y)
    with pytest.raises(TypeError, match="race needs an MLP or its get_config"):
        mlp.race("[2, 1]", X, y)
    with pytest.raises(ValueError, match="X has 3 feature column"):
        mlp.race(model, np.zeros((5, 3)), np.zeros(5))


def test_a_diverging_racer_stops_and_its_path_ends_there():
    X, y = _data()
    model = MLP(seed=0).sequential([2, 8, "linear", 1]).set_loss("mse")
    with np.errstate(all="ignore"):
        r = mlp.race(model, X, y * 10, optimizers=["sgd", "adam"], epochs=20, learning_rates=[1.0, 0.01],
                     batch_size=10)
    assert "the loss became" in r.histories["sgd"].stop_reason
    assert len(r.paths["sgd"]) == len(r.histories["sgd"]) + 1 < 21 and len(r.paths["adam"]) == 21
    s = mlp.loss_surface(r, resolution=7)
    assert s.center_name == "adam"


@pytest.fixture(scope="module")
def raced():
    X, y = _data(80)
    model = _model(arch=(2, 5, "relu", 4, "tanh", 1, "sigmoid"))
    return mlp.race(model, X, y, epochs=12, learning_rates=0.05, batch_size=20)


def test_the_centre_is_the_best_end_and_its_value_is_evaluates(raced):
    s = mlp.loss_surface(raced, resolution=9)
    finals = raced.final_losses()
    assert s.center_name == min(finals, key=finals.get)
    assert np.array_equal(s.center, raced.paths[s.center_name][-1])
    i0, j0 = s.center_index
    assert s.alphas[j0] == 0.0 == s.betas[i0]
    probe = copy.deepcopy(raced.models["sgd"])
    probe.params = s.center
    assert s.losses[i0, j0] == s.center_loss == probe.evaluate(raced.X, raced.y)["loss"]
    # every node is the loss at its weights
    for i, j in ((0, 0), (8, 8), (3, 6), (i0, 0)):
        probe.params = s.point(s.alphas[j], s.betas[i])
        assert s.losses[i, j] == pytest.approx(probe.evaluate(raced.X, raced.y)["loss"], rel=1e-12)
    # the grid covers every projected path point
    pts = np.concatenate(list(s.paths.values()))
    assert s.alphas[0] <= pts[:, 0].min() and pts[:, 0].max() <= s.alphas[-1]
    assert s.betas[0] <= pts[:, 1].min() and pts[:, 1].max() <= s.betas[-1]
    assert np.all(np.diff(s.alphas) > 0) and s.losses.shape == (9, 9)
    for name in raced.optimizers:        # the true losses along each path
        for k in (0, -1):
            probe.params = raced.paths[name][k]
            assert s.path_losses[name][k] == pytest.approx(probe.evaluate(raced.X, raced.y)["loss"], rel=1e-12)


def test_the_plane_is_the_paths_principal_plane_and_paths_project_onto_it(raced):
    s = mlp.loss_surface(raced, resolution=5)
    D = s.directions
    np.testing.assert_allclose(D @ D.T, np.eye(2), atol=1e-12)
    points = np.concatenate([raced.paths[n] for n in raced.optimizers]) - s.center
    # independent: the top two eigenvectors of the points' scatter matrix (about the centre)
    vals, vecs = np.linalg.eigh(points.T @ points)
    top = vecs[:, ::-1][:, :2].T
    np.testing.assert_allclose(np.abs(np.sum(top * D, axis=1)), [1.0, 1.0], atol=1e-8)
    np.testing.assert_allclose(s.explained, vals[::-1][:2] / vals.sum(), rtol=1e-8)
    assert s.explained.sum() < 1.0
    assert np.all(s.paths["sgd"][0] >= 0)                   # signed so that the common start is up and right
    for name in raced.optimizers:
        P = raced.paths[name]
        ab = s.paths[name]
        rest = P - np.array([s.point(a, b) for a, b in ab])    # what the picture cannot show ...
        np.testing.assert_allclose(rest @ D.T, 0.0, atol=1e-10)  # ... is orthogonal to the plane
        np.testing.assert_allclose(s.project(P), ab, atol=1e-12)


def test_a_two_parameter_network_is_drawn_exactly():
    """With two parameters the plane is the whole weight space: every path point is reconstructed."""
    X = np.linspace(-1, 1, 30).reshape(-1, 1)
    y = 3 * X - 1
    model = MLP(seed=0).sequential([1, 1]).set_loss("mse")
    r = mlp.race(model, X, y, epochs=15, learning_rates=0.1, batch_size=10)
    s = mlp.loss_surface(r, resolution=11, center="mean")
    assert s.center_name == "mean" and s.explained.sum() == pytest.approx(1.0)
    for name in r.optimizers:
        rebuilt = np.array([s.point(a, b) for a, b in s.paths[name]])
        np.testing.assert_allclose(rebuilt, r.paths[name], atol=1e-12)


def test_surface_options_and_errors(raced):
    X, y = _data(30, seed=9)
    s = mlp.loss_surface(raced, X, y, resolution=5, margin=0.0, center="Adam")
    probe = copy.deepcopy(raced.models["adam"])
    assert s.center_name == "adam" and s.center_loss == probe.evaluate(X, y)["loss"]
    assert s.losses.shape == (5, 5) and s.optimizers == raced.optimizers
    for bad, match in (({"resolution": 4}, "resolution must be a whole number from 5 to 101"),
                       ({"margin": -1}, "margin must be a number from 0 to 10"),
                       ({"center": "nadam"}, "center must be 'best', 'mean' or one of the racers"),
                       ({"X": X}, "Give both X and y")):
        with pytest.raises(ValueError, match=match):
            mlp.loss_surface(raced, **bad)
    with pytest.raises(TypeError, match="loss_surface needs the Race"):
        mlp.loss_surface({"paths": {}})


def test_race_and_surface_in_pyodide():
    """The same race and landscape in Pyodide (NumPy without BLAS) as in CPython."""
    from tests._browser import run_in_pyodide
    code = ("import json, numpy as np, mlp\n"
            "X = np.random.default_rng(0).normal(size=(60, 2)); y = (X[:, :1] * X[:, 1:] > 0) * 1.0\n"
            "m = mlp.MLP(seed=0).sequential([2, 6, 'relu', 1, 'sigmoid']).set_loss('bce')\n"
            "r = mlp.race(m, X, y, epochs=10, learning_rates=0.05)\n"
            "s = mlp.loss_surface(r, resolution=7)\n"
            "json.dumps({'final': r.final_losses(), 'centre': s.center_name, 'losses': s.losses.tolist(),"
            " 'paths': {n: p.tolist() for n, p in s.paths.items()}, 'dead': r.histories['adam']['dead/1']})")
    got = json.loads(run_in_pyodide(code))
    X = np.random.default_rng(0).normal(size=(60, 2))
    y = (X[:, :1] * X[:, 1:] > 0) * 1.0
    r = mlp.race(MLP(seed=0).sequential([2, 6, "relu", 1, "sigmoid"]).set_loss("bce"), X, y, epochs=10,
                 learning_rates=0.05)
    s = mlp.loss_surface(r, resolution=7)
    assert got["centre"] == s.center_name and got["dead"] == r.histories["adam"]["dead/1"]
    np.testing.assert_allclose(list(got["final"].values()), list(r.final_losses().values()), rtol=1e-9)
    np.testing.assert_allclose(got["losses"], s.losses, rtol=1e-9)
    for n in r.optimizers:
        np.testing.assert_allclose(got["paths"][n], s.paths[n], rtol=1e-7, atol=1e-9)
