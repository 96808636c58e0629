"""mlp.sklearn against scikit-learn itself: its estimator checks, its own MLP's update rules, pipelines and searches."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp
from mlp.sklearn import MLPClassifier, MLPRegressor, fit_chunks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# check_estimator in a fresh interpreter: its array-API check needs SCIPY_ARRAY_API=1 before SciPy is imported,
# which must not leak into the other tests of this process
_CHECKS = """
import json, sys, warnings
warnings.simplefilter("ignore")
from sklearn.utils.estimator_checks import check_estimator
import mlp.sklearn
est = getattr(mlp.sklearn, sys.argv[1])()
out = [{"check": r["check_name"], "status": r["status"], "error": repr(r["exception"])[:400]}
       for r in check_estimator(est, on_fail=None, on_skip=None)]
print(json.dumps(out))
"""


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_check_estimator_every_check_passes(name):
    env = dict(os.environ, SCIPY_ARRAY_API="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _CHECKS, name], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) >= 50                        # the whole suite ran, not a handful
    names = {r["check"] for r in results}
    assert {"check_estimators_pickle", "check_fit_idempotent", "check_n_features_in_after_fitting",
            "check_array_api_input", "check_estimators_partial_fit_n_features"} <= names
    if name == "MLPClassifier":
        assert {"check_classifiers_train", "check_classifiers_multilabel_output_format_predict_proba",
                "check_classifiers_multilabel_output_format_decision_function"} <= names
    else:
        assert {"check_regressors_train", "check_regressor_multioutput"} <= names
    bad = [r for r in results if r["status"] != "passed"]
    assert not bad, "\n".join(f"{r['check']}: {r['status']}: {r['error']}" for r in bad)


def test_import_mlp_does_not_import_sklearn_or_other_peers():
    code = ("import sys, mlp, mlp.export; m = mlp.MLP(seed=0).sequential([2, 3, 1]).set_loss('mse');"
            "m.fit([[0, 1], [1, 0]], [[1], [0]], epochs=2); m.predict([[0, 0]]); m.to_bytes();"
            "print(sorted(p for p in ('sklearn', 'scipy', 'onnx', 'onnxruntime', 'torch', 'dask', 'pandas')"
            " if p in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def _same_start(ours, theirs, X, y, **fit_kw):
    """Build both networks with one partial_fit, then give scikit-learn's the weights of ours (fresh optimizers)."""
    ours.partial_fit(X, y, **fit_kw)
    theirs.partial_fit(X, y, **fit_kw)
    weights = ours.model_.get_weights()
    ours.model_.optimizer.reset()
    theirs.coefs_ = [w.copy() for w in weights[0::2]]
    theirs.intercepts_ = [b.copy() for b in weights[1::2]]
    del theirs._optimizer


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_classifier_follows_sklearns_own_updates(solver):
    # solver='sgd' means what it means in scikit-learn (momentum 0.9, Nesterov), 'adam' too (epsilon where
    # scikit-learn adds it): from the same weights, 20 epochs of mini-batches give scikit-learn's weights
    atol = 1e-12
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(7,), activation="tanh", solver=solver, alpha=0.0, batch_size=16, shuffle=False,
              learning_rate_init=0.05, random_state=0)
    ours, theirs = MLPClassifier(**kw), SkMLPClassifier(**kw)
    _same_start(ours, theirs, X, y, classes=[0, 1, 2])
    for _ in range(20):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=atol)
    assert ours.model_.optimizer.name == solver
    if solver == "sgd":
        assert ours.model_.optimizer.hyper["momentum"] == 0.9 and ours.model_.optimizer.hyper["nesterov"] is True


def test_regressor_follows_sklearns_own_updates():
    # the engine's mean squared error has twice the gradient of scikit-learn's half squared error: the adapter's
    # loss_scale (1/2) makes the steps scikit-learn's at the same learning rate
    X, y = load_diabetes(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:200], (y[:200] - y.mean()) / y.std()
    kw = dict(hidden_layer_sizes=(6,), activation="relu", solver="sgd", alpha=0.0, batch_size=20, shuffle=False,
              random_state=1, learning_rate_init=0.01)
    ours, theirs = MLPRegressor(**kw), SkMLPRegressor(**kw)
    _same_start(ours, theirs, X, y)
    for _ in range(10):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-12)


def _common_notebook_code(MLPClassifier):
    """What a scikit-learn user writes; run with scikit-learn's class and with ours."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    y = y.map({0: "malignant", 1: "benign"})
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32, 16), alpha=1e-3, max_iter=300,
                                                         early_stopping=True, random_state=0))
    pipe.fit(X_tr, y_tr)
    clf = pipe[-1]
    return {"score": pipe.score(X_te, y_te), "classes": list(clf.classes_), "proba": pipe.predict_proba(X_te[:5]),
            "pred": list(pipe.predict(X_te[:5])), "n_iter": clf.n_iter_, "curve": len(clf.loss_curve_),
            "coef_shapes": [w.shape for w in clf.coefs_], "n_features": clf.n_features_in_,
            "val_scores": len(clf.validation_scores_), "best_val": clf.best_validation_score_,
            "out": clf.out_activation_}


def test_swapping_the_import_just_works():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = _common_notebook_code(SkMLPClassifier)
        ours = _common_notebook_code(MLPClassifier)
    assert ours["classes"] == theirs["classes"] == ["benign", "malignant"]
    assert ours["coef_shapes"] == theirs["coef_shapes"] == [(30, 32), (32, 16), (16, 1)]
    assert ours["n_features"] == 30 and ours["out"] == theirs["out"] == "logistic"
    assert ours["proba"].shape == (5, 2) and np.allclose(ours["proba"].sum(axis=1), 1)
    assert set(ours["pred"]) <= {"benign", "malignant"}
    assert ours["curve"] == ours["n_iter"] == ours["val_scores"] and 1 <= ours["n_iter"] < 300
    # the same random_state draws the same weights, validation split and batches: scikit-learn's very fit
    assert ours["n_iter"] == theirs["n_iter"] and ours["score"] == theirs["score"]
    np.testing.assert_allclose(ours["proba"], theirs["proba"], rtol=0, atol=1e-9)
    assert ours["best_val"] == pytest.approx(theirs["best_val"], abs=1e-12)


def test_swapping_the_import_for_a_regressor():
    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = {cls.__module__: cross_val_score(make_pipeline(StandardScaler(), cls(hidden_layer_sizes=(32,),
                                                                                       learning_rate_init=0.01,
                                                                                       max_iter=300, random_state=0)),
                                                  X, y, cv=3)
                  for cls in (SkMLPRegressor, MLPRegressor)}
    ours, theirs = scores["mlp.sklearn"].mean(), scores["sklearn.neural_network._multilayer_perceptron"].mean()
    assert ours > 0.35 and ours > theirs - 0.05      # R² on diabetes (a noisy target: about 0.4-0.5)


def test_feature_names_and_model():
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert list(clf.feature_names_in_) == list(X.columns)
    assert isinstance(clf.model_, mlp.MLP) and clf.model_.architecture == [4, 8, "relu", 3, "softmax"]
    assert len(clf.loss_curve_) == clf.n_iter_ == 50
    assert clf.model_.optimizer.t == 50           # batch_size='auto': min(200, 150 rows), one step per epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert MLPClassifier(batch_size=32, max_iter=3).fit(X, y).model_.optimizer.t == 3 * 5   # ceil(150 / 32)
    same = mlp.from_bytes(clf.model_.to_bytes())
    np.testing.assert_array_equal(same.predict(X.to_numpy()), clf.predict_proba(X))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X.to_numpy())
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(X.rename(columns=str.upper))


def test_architecture_and_l1():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(max_iter=100, random_state=0, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(architecture="[16, 'tanh', 'dropout(0.1)', 8, 'gelu']", **kw).fit(X, y)
        plain = MLPClassifier(architecture=[16, "tanh", 8, "gelu"], **kw).fit(X, y)
        sparse = MLPClassifier(architecture=[16, "tanh", 8, "gelu"], l1=0.01, **kw).fit(X, y)
    assert clf.model_.architecture == [4, 16, "tanh", "dropout(0.1)", 8, "gelu", 3, "softmax"]
    assert sparse.model_.optimizer.hyper["l1"] == 0.01 and plain.model_.optimizer.hyper.get("l1", 0.0) == 0.0
    l1_norm = lambda est: sum(np.abs(w).sum() for w in est.coefs_)   # noqa: E731
    assert l1_norm(sparse) < 0.8 * l1_norm(plain)
    assert sparse.score(X, y) > 0.9
    # alpha: scikit-learn's per-step L2 gradient alpha * W / batch_size, as the optimizer's weight decay
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        decayed = MLPClassifier(hidden_layer_sizes=(8,), alpha=0.2, batch_size=50, max_iter=2).fit(X, y)
    assert decayed.model_.optimizer.hyper["weight_decay"] == pytest.approx(0.2 / 50)


@pytest.mark.parametrize("params,match", [
    ({"solver": "newton"}, "solver must be one of"),
    ({"max_fun": 0}, "max_fun must be"),
    ({"n_iter_no_change": 2.5}, "n_iter_no_change must be a whole number >= 1 \\(or np.inf\\)"),
    ({"alpha": -1}, "alpha must be"),
    ({"batch_size": 0}, "batch_size must be 'auto'"),
    ({"hidden_layer_sizes": (10, -2)}, "hidden_layer_sizes must hold whole numbers"),
    ({"activation": "nope"}, "unknown activation 'nope'"),
    ({"architecture": "[8, 'relu', 'dropout(2)']"}, "architecture:"),
    ({"architecture": [2, 8, "relu", 2, "softmax"]}, "architecture is the hidden part only"),
    ({"learning_rate": "fast"}, "learning_rate must be one of"),
    ({"max_iter": 0}, "max_iter must be"),
])
def test_bad_parameters_are_refused_at_fit_with_clear_errors(params, match):
    est = MLPClassifier(**params)          # construction never validates (scikit-learn's rule)
    assert est.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=match):
        est.fit([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1])


def test_our_optimizers_and_schedules():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver in ("rmsprop", "adamw", "adagrad", "nadam", "sgd_momentum"):
            est = MLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=100, random_state=0,
                                learning_rate_init=0.05).fit(X, y)
            assert est.model_.optimizer.name == solver and est.score(X, y) > 0.8, solver
        # 'invscaling' and 'adaptive' as scikit-learn (with solver='sgd'): the learning rate each epoch
        est = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", learning_rate="invscaling", power_t=0.5,
                            learning_rate_init=0.1, batch_size=150, max_iter=3, random_state=0).fit(X, y)
        assert est.model_.history["lr"] == pytest.approx([0.1, 0.1 / 151 ** 0.5, 0.1 / 301 ** 0.5])
        est = MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", learning_rate="adaptive", tol=10.0,
                            n_iter_no_change=2, learning_rate_init=0.1, max_iter=8, random_state=0).fit(X, y)
        assert est.model_.history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.02, 0.02, 0.02, 0.004][:est.n_iter_])


def test_stops_when_the_loss_stops_improving():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(10,), tol=0.5, n_iter_no_change=3, max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)     # converged: no warning
        est = MLPClassifier(**kw).fit(X, y)
        theirs = SkMLPClassifier(**kw).fit(X, y)
    # the first epoch sets the best loss; it stops when more than 3 epochs after it were not 0.5 better
    assert est.n_iter_ == theirs.n_iter_ == 5 and len(est.loss_curve_) == 5
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0).fit(X, y)


def test_grid_search_and_cross_validation_are_reproducible():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=40, random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(8,), (16,)], "mlpclassifier__learning_rate_init": [0.01, 0.05]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        searches = [GridSearchCV(pipe, grid, cv=3, n_jobs=n).fit(X, y) for n in (2, 2, 1)]
        cvs = [cross_val_score(pipe, X, y, cv=3, n_jobs=2) for _ in range(2)]
    ref = searches[0].cv_results_["mean_test_score"]
    for s in searches[1:]:
        np.testing.assert_array_equal(s.cv_results_["mean_test_score"], ref)
        assert s.best_params_ == searches[0].best_params_
    assert ref.max() > 0.9 and len(set(ref.round(6))) > 1     # the grid points really differ
    np.testing.assert_array_equal(cvs[0], cvs[1])
    assert clone(pipe).get_params()["mlpclassifier__random_state"] == 0


def test_warm_start_continues_where_fit_stopped_as_sklearns():
    # the weights carry on; the optimizer (Adam's moments) and the shuffles start again, as in scikit-learn
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0, max_iter=5)
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for cls in (MLPClassifier, SkMLPClassifier):
            warm = cls(warm_start=True, **kw).fit(X, y)
            first = warm.predict_proba(X)
            warm.fit(X, y)
            cold = cls(**kw).fit(X, y).fit(X, y)      # without warm_start: a fresh start
            runs.append((first, warm.predict_proba(X), warm.loss_curve_, cold.predict_proba(X)))
    (first, warm, curve, cold), (sk_first, sk_warm, sk_curve, sk_cold) = runs
    assert not np.allclose(warm, first) and len(curve) == 10
    np.testing.assert_allclose(warm, sk_warm, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve, sk_curve, rtol=1e-12)
    np.testing.assert_array_equal(cold, first)
    np.testing.assert_allclose(first, sk_first, rtol=0, atol=1e-12)


def test_random_state_none_and_instances():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(max_iter=5, random_state=np.random.RandomState(3)).fit(X, y)
        b = MLPClassifier(max_iter=5, random_state=np.random.RandomState(3)).fit(X, y)
        c = MLPClassifier(max_iter=5).fit(X, y)
        d = MLPClassifier(max_iter=5).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(c.predict_proba(X), d.predict_proba(X))


def test_partial_fit_classes_and_errors():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])    # a chunk without class 2 is fine
    assert list(est.classes_) == [0, 1, 2] and est.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="not the same as on the first call"):
        est.partial_fit(X, y, classes=[0, 1])
    stopping = MLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping"):
        stopping.partial_fit(X, y)
    assert not hasattr(stopping, "model_")      # refused before anything was built


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop"])
def test_chunks_from_a_generator_equal_one_pass_bit_for_bit(solver):
    # partial_fit per block of batch_size rows (shuffle off) is exactly fit's one epoch over the same batches;
    # the optimizer's state (Adam moments, step count) carries from chunk to chunk
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(12, 6), solver=solver, batch_size=40, shuffle=False, random_state=5,
              learning_rate_init=0.003)
    one = MLPRegressor(max_iter=1, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one.fit(X, y)
    blocks = ((X[s:s + 40], y[s:s + 40]) for s in range(0, len(X), 40))       # 442 rows: the last block has 2
    chunked = fit_chunks(MLPRegressor(**kw), blocks)
    for a, b in zip(one.model_.get_weights(), chunked.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert chunked.t_ == len(X) and len(chunked.loss_curve_) == 12
    # other chunkings differ (the batches differ), so the test above is not vacuous
    other = fit_chunks(MLPRegressor(**kw), ((X[s:s + 50], y[s:s + 50]) for s in range(0, len(X), 50)))
    assert not np.array_equal(other.coefs_[0], one.coefs_[0])


def test_fit_chunks_errors():
    with pytest.raises(TypeError, match="fit_chunks trains an mlp.sklearn"):
        fit_chunks(SkMLPClassifier(), iter([]))
    with pytest.raises(ValueError, match="not an \\(X_block, y_block\\) pair"):
        fit_chunks(MLPRegressor(), iter([np.zeros((3, 2))]))
    with pytest.raises(TypeError, match="iterable of \\(X_block, y_block\\) pairs"):
        fit_chunks(MLPRegressor(), 5)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_saved_model_trains_on_as_the_unsaved_one(solver, tmp_path):
    # what makes the adapter's steps scikit-learn's is in the file: loss_scale (4 targets: 2), alpha on the
    # weights only, Adam's epsilon added to sqrt(v); one more epoch of the engine's fit on each, the same steps
    X, Y = make_regression(n_samples=50, n_features=3, n_targets=4, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(6,), solver=solver, alpha=5.0, epsilon=1e-3, batch_size=16, max_iter=3,
                       random_state=0, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y / Y.std())
    path = est.model_.save(tmp_path / "model.mlp")
    loaded = mlp.load(path)
    config = loaded.get_config()
    assert config["loss_scale"] == 2.0 and config["optimizer"]["weight_decay_on"] == "weights"
    assert config["optimizer"].get("eps_placement") == ("sqrt_v" if solver == "adam" else None)
    assert mlp.from_bytes(loaded.to_bytes()).get_config() == config
    twins = [est.model_, loaded, mlp.from_bytes(est.model_.to_bytes())]
    for model in twins:
        model.fit(X, Y / Y.std(), epochs=2, batch_size=16, shuffle=False, learning_rate=0.01)
    for model in twins[1:]:
        np.testing.assert_array_equal(model.params, twins[0].params)
    plain = mlp.load(path)                    # without them (an earlier file): other steps
    plain.loss_scale, plain.optimizer = 1.0, mlp.optimizers.make_optimizer(solver, **{
        k: v for k, v in config["optimizer"].items() if k not in ("name", "weight_decay_on", "eps_placement")})
    plain.optimizer.set_state(*mlp.load(path).optimizer.get_state())
    plain.fit(X, Y / Y.std(), epochs=2, batch_size=16, shuffle=False, learning_rate=0.01)
    assert np.abs(plain.params - twins[0].params).max() > 1e-6


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_trace_of_the_fitted_network_is_its_next_step(solver):
    # "Explain a step" of an adapter's network: its loss_scale (4 targets: 2), alpha on the weights only and Adam's
    # epsilon placement, as the real step (the engine's fit on that batch) and scikit-learn's partial_fit take it
    X, Y = make_regression(n_samples=40, n_features=3, n_targets=4, random_state=1)
    Y = Y / Y.std()
    kw = dict(hidden_layer_sizes=(5,), solver=solver, alpha=3.0, epsilon=1e-2, batch_size=10, random_state=0,
              learning_rate_init=0.05)
    est, theirs = MLPRegressor(**kw), SkMLPRegressor(**kw)
    for _ in range(2):
        est.partial_fit(X, Y)
        theirs.partial_fit(X, Y)
    model = est.model_
    tr = model.trace(X[:10], Y[:10], learning_rate=0.05)
    assert tr.loss_scale == 2.0 and tr.weight_decay_on == "weights"
    before = model.get_weights()
    model.fit(X[:10], Y[:10], epochs=1, batch_size=10, shuffle=False, learning_rate=0.05)
    theirs.partial_fit(X[:10], Y[:10])
    after = model.get_weights()
    sk_after = [a for pair in zip(theirs.coefs_, theirs.intercepts_) for a in pair]
    for i, ly in enumerate(tr.layers):
        for j, update in enumerate((ly.update_W, ly.update_b)):
            np.testing.assert_allclose(update, after[2 * i + j] - before[2 * i + j], rtol=1e-9, atol=1e-14)
            np.testing.assert_allclose(before[2 * i + j] + update, sk_after[2 * i + j], rtol=0, atol=1e-10)
    assert np.abs(tr.layers[0].update_b).max() > 1e-4


def test_explain_a_step_of_the_fitted_network_shows_its_real_step():
    # the apps' "Explain a step" of an mlp.sklearn network (Adam with scikit-learn's epsilon placement, a large
    # epsilon so that its placement shows): the weight it shows after the step is the real step's
    from webapp.core import explain as ex
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = MLPClassifier(hidden_layer_sizes=(5,), epsilon=1e-2, alpha=1.0, batch_size=1, max_iter=2,
                        random_state=0, learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    model, Y = est.model_, est._label_binarizer.transform(y).astype(float)
    e = ex.explain_step(model, X, Y, 3, len(X), weight=(1, 2, 1), learning_rate=0.05)
    v = e["values"]
    assert v["weight_before"] + v["opt_step"] == pytest.approx(v["weight_after"], rel=1e-12)
    model.fit(X[3:4], Y[3:4], epochs=1, batch_size=1, shuffle=False, learning_rate=0.05)
    assert model.layers[0].W[2, 1] == pytest.approx(v["weight_after"], rel=1e-12, abs=1e-15)
