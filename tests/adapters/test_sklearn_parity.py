"""mlp.sklearn step for step against scikit-learn's own MLP: the same initial weights from the same
random_state, the same SGD, Adam and L-BFGS steps on every kind of target, with alpha, sample weights, float32
and sparse input; and the same scores in a grid search."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp.sklearn import MLPClassifier, MLPRegressor


def _problems():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xm, Ym = make_multilabel_classification(n_samples=60, n_classes=5, random_state=0)
    Xr, Yr = make_regression(n_samples=60, n_features=5, n_targets=4, random_state=0)
    Yr = Yr / Yr.std()
    rng = np.random.default_rng(0)
    Xp = rng.uniform(0, 1, (60, 3))
    yp = rng.poisson(np.exp(Xp @ [1.0, -1.0, 0.5] + 0.5))
    return {  # name: (X, y, estimator classes, extra parameters, partial_fit's first-call keywords)
        "binary": (X, (y == 1).astype(int), (MLPClassifier, SkMLPClassifier), {}, {"classes": [0, 1]}),
        "multiclass": (X, y, (MLPClassifier, SkMLPClassifier), {}, {"classes": [0, 1, 2]}),
        "multilabel": (Xm, Ym, (MLPClassifier, SkMLPClassifier), {}, {"classes": list(range(5))}),
        "regression": (Xr, Yr[:, 0], (MLPRegressor, SkMLPRegressor), {}, {}),
        "4 targets": (Xr, Yr, (MLPRegressor, SkMLPRegressor), {}, {}),
        "poisson": (Xp, yp, (MLPRegressor, SkMLPRegressor), {"loss": "poisson"}, {}),
    }


PROBLEMS = _problems()


def _weights(est):
    return est.coefs_ + est.intercepts_


def _assert_same_weights(ours, theirs, atol):
    for a, b in zip(_weights(ours), _weights(theirs)):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_one_step_from_the_same_weights_is_sklearns(problem, solver):
    # sgd: momentum 0.9, Nesterov; alpha on the weights only; the gradient of scikit-learn's loss (summed over
    # the outputs, the squared error halved), set through the engine's loss_scale
    X, y, (ours_cls, theirs_cls), extra, first = PROBLEMS[problem]
    kw = dict(hidden_layer_sizes=(6, 4), activation="tanh", solver=solver, alpha=0.05, batch_size=len(X),
              learning_rate_init=0.1, random_state=0, **extra)
    ours, theirs = ours_cls(**kw), theirs_cls(**kw)
    ours.partial_fit(X, y, **first)
    theirs.partial_fit(X, y, **first)
    rng = np.random.default_rng(1)      # the same weights for both, not their initial ones
    coefs = [rng.normal(0, 0.5, W.shape) for W in theirs.coefs_]
    intercepts = [rng.normal(0, 0.5, b.shape) for b in theirs.intercepts_]
    ours.coefs_, ours.intercepts_ = [W.copy() for W in coefs], [b.copy() for b in intercepts]
    theirs.coefs_, theirs.intercepts_ = [W.copy() for W in coefs], [b.copy() for b in intercepts]
    ours.model_.optimizer.reset()
    del theirs._optimizer                   # both take a first step from scratch
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    _assert_same_weights(ours, theirs, 1e-10)
    moved = [np.abs(a - b).max() for a, b in zip(_weights(ours), coefs + intercepts)]
    assert min(moved) > 1e-4                # every layer's weights and biases took a real step


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("problem, solver", [(p, s) for p in sorted(PROBLEMS) for s in ("sgd", "adam", "lbfgs")
                                             if (p, s) != ("4 targets", "lbfgs")])   # see the test below
def test_a_whole_fit_is_sklearns(problem, solver, shuffle):
    # the same random_state draws scikit-learn's initial weights and then shuffles the rows as scikit-learn, each
    # epoch; the last batch is smaller (batch_size does not divide the rows) and gets alpha over its own size
    X, y, (ours_cls, theirs_cls), extra, _ = PROBLEMS[problem]
    if solver == "lbfgs" and shuffle:
        return                               # full batch: nothing to shuffle (the other case covers it)
    kw = dict(hidden_layer_sizes=(7, 5), activation="tanh", solver=solver, alpha=0.01, batch_size=len(X) // 3 + 1,
              shuffle=shuffle, max_iter=12, random_state=3, learning_rate_init=0.01, **extra)
    assert len(X) % kw["batch_size"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = ours_cls(**kw).fit(X, y), theirs_cls(**kw).fit(X, y)
    _assert_same_weights(ours, theirs, 1e-8 if solver == "lbfgs" else 1e-10)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert ours.out_activation_ == theirs.out_activation_ and ours.n_layers_ == theirs.n_layers_ == 4
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_the_last_smaller_batch_gets_alpha_over_its_size(solver):
    # 53 rows in batches of 10: the last batch has 3 rows, and scikit-learn divides alpha by 3 there, not 10
    rng = np.random.RandomState(0)
    X = rng.normal(size=(53, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0]
    kw = dict(hidden_layer_sizes=(5,), solver=solver, alpha=1.0, batch_size=10, shuffle=False, random_state=1,
              learning_rate_init=0.05)
    ours, theirs = MLPRegressor(**kw), SkMLPRegressor(**kw)
    for _ in range(3):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    _assert_same_weights(ours, theirs, 1e-12)
    even = MLPRegressor(**kw)                 # the engine's own fit: one decay for every batch
    even.partial_fit(X, y)
    even.model_.fit(X, y.reshape(-1, 1), epochs=2, batch_size=10, shuffle=False, learning_rate=0.05)
    assert np.abs(even.coefs_[0] - theirs.coefs_[0]).max() > 1e-4


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sgd_with_a_changing_learning_rate_is_sklearns(learning_rate, nesterov):
    # scikit-learn's velocity carries the learning rate it was made with; the adapter rescales PyTorch's buffer
    X, y, *_ = PROBLEMS["multiclass"]
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate=learning_rate, learning_rate_init=0.2,
              power_t=0.3, max_iter=60, random_state=0, batch_size=32, nesterovs_momentum=nesterov, tol=1e-3,
              n_iter_no_change=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 60
    _assert_same_weights(ours, theirs, 1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_early_stopping_and_stopping_on_the_training_loss_are_sklearns(early_stopping):
    # the validation split is drawn from random_state after the weights, as scikit-learn: the same epochs run
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(hidden_layer_sizes=(10,), early_stopping=early_stopping, random_state=0, batch_size=64, tol=1e-3,
              n_iter_no_change=3, max_iter=200, learning_rate_init=0.01)
    ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 200
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-10)


def test_lbfgs_with_several_regression_targets():
    # scikit-learn's L-BFGS objective for several targets averages the half squared error over them while its
    # gradient sums over them (the gradient of k times that value); ours minimises the loss whose gradient it is,
    # so the paths part, but both fit, and loss_ is reported as scikit-learn defines it
    X, y, *_ = PROBLEMS["4 targets"]
    kw = dict(hidden_layer_sizes=(7,), solver="lbfgs", max_iter=200, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**kw).fit(X, y), SkMLPRegressor(**kw).fit(X, y)
    assert ours.score(X, y) > 0.99 and theirs.score(X, y) > 0.99
    half_mse = 0.5 * np.mean((ours.predict(X) - y) ** 2) + 0.5 * 1e-4 * sum(np.sum(W ** 2) for W in ours.coefs_) / len(X)
    assert ours.loss_ == pytest.approx(half_mse, rel=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_full_batch_loss_curve_is_sklearns(solver):
    X, y, *_ = PROBLEMS["multiclass"]
    kw = dict(hidden_layer_sizes=(5,), solver=solver, alpha=0.1, batch_size=len(X), max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_is_sklearns(solver):
    X, y, *_ = PROBLEMS["multiclass"]
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(X))
    kw = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.01, batch_size=len(X), max_iter=15, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(X, y, sample_weight=w), SkMLPClassifier(**kw).fit(X, y, sample_weight=w)
        unweighted = MLPClassifier(**kw).fit(X, y)
    _assert_same_weights(ours, theirs, 1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert not np.allclose(unweighted.coefs_[0], ours.coefs_[0])
    if solver != "lbfgs":                    # shuffled batches of different weights: alpha over each one's weight
        kw.update(batch_size=len(X) // 3 + 1, max_iter=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a, b = MLPClassifier(**kw).fit(X, y, sample_weight=w), SkMLPClassifier(**kw).fit(X, y, sample_weight=w)
        _assert_same_weights(a, b, 1e-10)
        a, b = MLPClassifier(**kw), SkMLPClassifier(**kw)      # and partial_fit takes them too
        for _ in range(3):
            a.partial_fit(X, y, sample_weight=w, classes=[0, 1, 2])
            b.partial_fit(X, y, sample_weight=w, classes=[0, 1, 2])
        _assert_same_weights(a, b, 1e-10)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_float32_stays_float32(solver):
    X, y, *_ = PROBLEMS["regression"]
    X32 = X.astype(np.float32)
    kw = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=20, shuffle=False, max_iter=10, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**kw).fit(X32, y), SkMLPRegressor(**kw).fit(X32, y)
    assert ours.model_.dtype == np.float32
    assert {a.dtype for a in _weights(ours)} == {np.dtype(np.float32)}
    assert ours.predict(X32).dtype == np.float32
    _assert_same_weights(ours, theirs, 1e-4)    # scikit-learn's float32 run, up to float32 rounding


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_fits_as_dense(solver):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X) * (np.random.default_rng(0).random(X.shape) < 0.3)
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense, sparse = MLPClassifier(**kw).fit(X, y), MLPClassifier(**kw).fit(sp.csr_array(X), y)
        theirs = SkMLPClassifier(**kw).fit(sp.csr_array(X), y)
    _assert_same_weights(sparse, dense, 0.0)           # batches made dense one at a time: the same numbers
    np.testing.assert_allclose(sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X), rtol=1e-12)
    if solver == "lbfgs":                               # full batch: no shuffling, scikit-learn's fit
        _assert_same_weights(sparse, theirs, 1e-8)


def test_coefs_and_intercepts_are_the_networks_weights():
    X, y, *_ = PROBLEMS["multiclass"]
    kw = dict(hidden_layer_sizes=(5,), max_iter=20, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    for est in (ours, theirs):          # what scikit-learn users do: write into them, or assign them
        est.coefs_[0][:, 0] = 0.0
        est.coefs_[1] = est.coefs_[1] * 2
        est.intercepts_ = [b + 0.5 for b in est.intercepts_]
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)
    np.testing.assert_array_equal(ours.model_.get_weights()[0][:, 0], 0.0)     # the network itself changed
    copy = pickle.loads(pickle.dumps(ours))        # a copy's coefs_ are its own network's weights
    np.testing.assert_array_equal(copy.predict_proba(X), ours.predict_proba(X))
    copy.coefs_[0][...] = 0.0                      # no input reaches the hidden layer: every row alike
    assert np.ptp(copy.predict_proba(X), axis=0).max() == 0 and np.ptp(ours.predict_proba(X), axis=0).max() > 0.5
    np.testing.assert_array_equal(copy.model_.get_weights()[0], 0.0)
    ours.coefs_[0] = np.zeros((3, 5))
    with pytest.raises(ValueError, match="coefs_ / intercepts_ do not fit the fitted network"):
        ours.predict(X)


def test_single_class_is_learned_as_sklearn_does():
    X, _, *_ = PROBLEMS["multiclass"]
    y = np.array(["only"] * len(X))
    kw = dict(hidden_layer_sizes=(4,), max_iter=5, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(X, y), SkMLPClassifier(**kw).fit(X, y)
    assert list(ours.classes_) == ["only"] and set(ours.predict(X)) == {"only"}
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)
    assert ours.score(X, y) == 1.0


def test_a_diverging_fit_raises_and_early_stopping_keeps_the_best_weights():
    X, y = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    X = X * 1e3
    kw = dict(hidden_layer_sizes=(20,), activation="identity", solver="sgd", learning_rate_init=1.0, max_iter=20,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NumPy's overflows on the way
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            MLPRegressor(**kw).fit(X, y)
        with pytest.warns(ConvergenceWarning, match="the loss became"):
            est = MLPRegressor(early_stopping=True, **kw).fit(X, y)
    assert np.isnan(est.validation_scores_[-1]) and np.isfinite(est.predict(X)).all()


def test_grid_search_scores_as_sklearn():
    # the same search on the same 8 splits (before the adapter followed scikit-learn's init and steps: 0.9771 on
    # each candidate, against scikit-learn's 0.9754; before it shuffled as scikit-learn: within 0.01)
    X, y = load_breast_cancer(return_X_y=True)
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2]}
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for cls in (MLPClassifier, SkMLPClassifier):
            pipe = make_pipeline(StandardScaler(), cls(hidden_layer_sizes=(16,), random_state=0))
            scores[cls] = GridSearchCV(pipe, grid, cv=8).fit(X, y).cv_results_["mean_test_score"]
    ours, theirs = scores[MLPClassifier], scores[SkMLPClassifier]
    np.testing.assert_array_equal(ours, theirs)    # the same fits: the same predictions on every split
