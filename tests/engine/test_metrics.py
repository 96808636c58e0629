"""mlp.metrics and MLP.evaluate against scikit-learn on random data."""
import numpy as np
import pytest
import sklearn.metrics as sk

from mlp import MLP, metrics

SEEDS = range(8)


def sk_rmse(t, p):
    """scikit-learn's root_mean_squared_error (uniform_average), also for scikit-learn < 1.4."""
    return float(np.mean(np.sqrt(sk.mean_squared_error(t, p, multioutput="raw_values"))))


def labels(seed, n=200, k=2, skew=False):
    rng = np.random.default_rng(seed)
    p = None
    if skew:
        p = rng.dirichlet(np.ones(k))
    t = rng.choice(k, size=n, p=p)
    noisy = rng.random(n) < 0.4
    pred = np.where(noisy, rng.choice(k, size=n), t)
    return t, pred


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_accuracy_and_confusion_matrix(seed, k):
    t, p = labels(seed, k=k)
    assert metrics.accuracy(t, p) == pytest.approx(sk.accuracy_score(t, p), abs=1e-15)
    np.testing.assert_array_equal(metrics.confusion_matrix(t, p), sk.confusion_matrix(t, p))
    np.testing.assert_array_equal(metrics.confusion_matrix(t, p, n_classes=k + 2),
                                  sk.confusion_matrix(t, p, labels=list(range(k + 2))))


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_precision_recall_f1(seed):
    t, p = labels(seed, k=2, skew=True)
    got = metrics.precision_recall_f1(t, p, average="binary")
    exp = sk.precision_recall_fscore_support(t, p, average="binary", zero_division=0)[:3]
    np.testing.assert_allclose(got, exp, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [3, 4, 6])
def test_macro_precision_recall_f1(seed, k):
    t, p = labels(seed, k=k, skew=True)
    got = metrics.precision_recall_f1(t, p, average="macro")
    exp = sk.precision_recall_fscore_support(t, p, average="macro", zero_division=0)[:3]
    np.testing.assert_allclose(got, exp, rtol=1e-12)
    got_k = metrics.precision_recall_f1(t, p, average="macro", n_classes=k)
    exp_k = sk.precision_recall_fscore_support(t, p, average="macro", labels=list(range(k)), zero_division=0)[:3]
    np.testing.assert_allclose(got_k, exp_k, rtol=1e-12)


def test_zero_division_cases():
    # class 1 never predicted / never present: scikit-learn's zero_division=0
    t = np.array([0, 0, 1, 1])
    p = np.array([0, 0, 0, 0])
    np.testing.assert_allclose(metrics.precision_recall_f1(t, p, "binary"),
                               sk.precision_recall_fscore_support(t, p, average="binary", zero_division=0)[:3])
    t2 = np.array([0, 0, 0])
    np.testing.assert_allclose(metrics.precision_recall_f1(t2, np.array([0, 0, 0]), "binary"), (0, 0, 0))
    # a label absent from both truth and prediction does not count in the macro average
    t3 = np.array([0, 2, 2, 0, 2])
    p3 = np.array([0, 2, 0, 0, 2])
    np.testing.assert_allclose(metrics.precision_recall_f1(t3, p3, "macro"),
                               sk.precision_recall_fscore_support(t3, p3, average="macro", zero_division=0)[:3])


def test_bad_average():
    with pytest.raises(ValueError, match="average"):
        metrics.precision_recall_f1([0, 1], [1, 0], average="micro")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(50,), (50, 1), (50, 3)])
def test_regression_metrics(seed, shape):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=shape) * 3
    p = t + rng.normal(size=shape)
    assert metrics.mae(t, p) == pytest.approx(sk.mean_absolute_error(t, p), rel=1e-12)
    assert metrics.rmse(t, p) == pytest.approx(sk_rmse(t, p), rel=1e-12)
    assert metrics.r2(t, p) == pytest.approx(sk.r2_score(t, p), rel=1e-12)


def test_r2_edge_cases():
    const = np.full(10, 2.0)
    assert metrics.r2(const, const) == sk.r2_score(const, const)
    assert metrics.r2(const, const + 1) == sk.r2_score(const, const + 1)
    t = np.arange(10.0)
    assert metrics.r2(t, t[::-1]) == pytest.approx(sk.r2_score(t, t[::-1]))


# ---------------------------------------------------------------------------- evaluate()
def test_evaluate_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(float).reshape(-1, 1)
    m = MLP(seed=0).sequential([3, 6, "tanh", 1, "sigmoid"]).set_loss("bce")
    m.fit(X, y, epochs=3)
    res = m.evaluate(X, y)
    pred = (m.predict(X)[:, 0] >= 0.5).astype(int)
    t = y[:, 0].astype(int)
    assert res["accuracy"] == pytest.approx(sk.accuracy_score(t, pred))
    assert res["precision"] == pytest.approx(sk.precision_score(t, pred, zero_division=0))
    assert res["recall"] == pytest.approx(sk.recall_score(t, pred, zero_division=0))
    assert res["f1"] == pytest.approx(sk.f1_score(t, pred, zero_division=0))
    assert res["confusion_matrix"] == sk.confusion_matrix(t, pred, labels=[0, 1]).tolist()
    assert res["loss"] == pytest.approx(sk.log_loss(t, m.predict(X)[:, 0]), rel=1e-9)


@pytest.mark.parametrize("as_labels", [True, False])
def test_evaluate_multiclass_matches_sklearn(as_labels):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 4))
    t = np.argmax(X[:, :3] + 0.7 * rng.normal(size=(150, 3)), axis=1)
    m = MLP(seed=1).sequential([4, 8, "relu", 3, "softmax"]).set_loss("cce")
    y = t if as_labels else np.eye(3)[t]
    m.fit(X, y, epochs=2)
    res = m.evaluate(X, y)
    pred = m.predict_classes(X)
    assert res["accuracy"] == pytest.approx(sk.accuracy_score(t, pred))
    p, r, f, _ = sk.precision_recall_fscore_support(t, pred, average="macro", labels=[0, 1, 2], zero_division=0)
    assert (res["precision"], res["recall"], res["f1"]) == pytest.approx((p, r, f))
    assert res["confusion_matrix"] == sk.confusion_matrix(t, pred, labels=[0, 1, 2]).tolist()
    assert res["loss"] == pytest.approx(sk.log_loss(t, m.predict(X), labels=[0, 1, 2]), rel=1e-9)


@pytest.mark.parametrize("k", [1, 2])
def test_evaluate_regression_matches_sklearn(k):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3))
    y = X[:, :k] * 2 + rng.normal(size=(80, k)) * 0.3
    m = MLP(seed=2).sequential([3, 8, "tanh", k]).set_loss("mse")
    m.fit(X, y, epochs=5)
    res = m.evaluate(X, y)
    out = m.predict(X)
    assert res["loss"] == pytest.approx(sk.mean_squared_error(y, out), rel=1e-10)
    assert res["mae"] == pytest.approx(sk.mean_absolute_error(y, out), rel=1e-10)
    assert res["rmse"] == pytest.approx(sk_rmse(y, out), rel=1e-10)
    assert res["r2"] == pytest.approx(sk.r2_score(y, out), rel=1e-10)
