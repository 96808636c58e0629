"""Beyond one machine: mlp.sklearn searches on a real Dask cluster (worker processes), and training on chunks."""
import os
import time
import warnings

import dask.array as da
import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlp.sklearn import MLPClassifier, MLPRegressor, fit_chunks, iter_chunks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def client():
    # two worker processes of one thread each, on 127.0.0.1 only; the workers import mlp from this checkout
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, env={"PYTHONPATH": ROOT}, silence_logs=40)
    client = Client(cluster)
    pids = list(client.run(os.getpid).values())
    try:
        yield client
    finally:
        client.close()
        cluster.close()
    assert cluster.status.name == "closed"
    deadline = time.monotonic() + 20
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, pids)), "worker processes outlived cluster.close()"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"    # a zombie has exited
    except OSError:
        return False


def _search():
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(6,), (12,)], "mlpclassifier__solver": ["adam", "sgd"],
            "mlpclassifier__learning_rate_init": [0.01, 0.03]}
    return GridSearchCV(pipe, grid, cv=3, n_jobs=-1)


def test_grid_search_on_a_cluster_equals_the_local_search(client):
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = _search().fit(X, y)
        with joblib.parallel_config(backend="dask"):
            remote = _search().fit(X, y)
    # the fits really ran in the two worker processes, not in this one
    workers = client.run(os.getpid)
    assert len(workers) == 2 and os.getpid() not in workers.values()
    assert client.run(lambda: "mlp.sklearn" in __import__("sys").modules) == {w: True for w in workers}
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score", "split2_test_score",
                "rank_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key], err_msg=key)
    assert remote.best_params_ == local.best_params_
    assert len(set(local.cv_results_["mean_test_score"].round(8))) > 2     # the grid points really differ
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


def test_dask_array_chunks_train_like_one_pass(client):
    # a dask array's blocks (computed on the cluster) fed to partial_fit one by one give exactly one epoch
    # of fit over batches of the chunk size, with shuffling off
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    dX, dy = da.from_array(X, chunks=(50, 5)), da.from_array(y, chunks=50)      # columns are joined again
    kw = dict(hidden_layer_sizes=(16,), batch_size=50, shuffle=False, random_state=3, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = MLPRegressor(max_iter=1, **kw).fit(X, y)
    chunked = fit_chunks(MLPRegressor(**kw), dX, dy)
    for a, b in zip(one.model_.get_weights(), chunked.model_.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert chunked.t_ == X.shape[0] and len(chunked.loss_curve_) == len(dX.chunks[0]) == 9

    # several epochs over the same chunks equal fit's epochs over them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        three = MLPRegressor(max_iter=3, tol=0.0, **kw).fit(X, y)
    for _ in range(2):
        fit_chunks(chunked, dX, dy)
    np.testing.assert_array_equal(three.predict(X), chunked.predict(X))


def test_dask_classifier_chunks_need_classes():
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    dX, dy = da.from_array(X[order], chunks=(30, 4)), da.from_array(y[order], chunks=30)
    clf = fit_chunks(MLPClassifier(hidden_layer_sizes=(8,), random_state=0), dX, dy, classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2] and clf.n_features_in_ == 4
    with pytest.raises(ValueError, match="needs its targets y"):
        list(iter_chunks(dX))
    with pytest.raises(ValueError, match="has 150 rows but y has 10"):
        list(iter_chunks(dX, y[:10]))


def test_dask_chunks_of_one_source_are_computed_once():
    # X and y cut from one dask computation (a table read block by block, say): each block of the source is
    # computed once, for X's and y's block together, not once for each
    import dask
    calls = []

    def load(block):
        calls.append(block.shape)
        return block * 2.0
    source = da.from_array(np.arange(60.0).reshape(20, 3), chunks=(5, 3)).map_blocks(load)
    X, y = source[:, :2], source[:, 2]
    calls.clear()                                  # map_blocks called load on empty arrays for its meta
    with dask.config.set(scheduler="synchronous"):
        pairs = list(iter_chunks(X, y))
    assert len(pairs) == 4 and len(calls) == 4
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in pairs]), np.arange(60.0).reshape(20, 3)[:, :2] * 2)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in pairs]), np.arange(60.0).reshape(20, 3)[:, 2] * 2)


def test_dask_targets_of_another_length_are_named_as_numpy_ones_are():
    dX = da.from_array(np.zeros((150, 4)), chunks=(30, 4))
    with pytest.raises(ValueError, match="X has 150 rows but y has 10"):
        list(iter_chunks(dX, da.from_array(np.zeros(10), chunks=5)))
    with pytest.raises(ValueError, match="X has 150 rows but y has 3"):
        list(iter_chunks(dX, [0, 1, 0]))                   # a list, as NumPy arrays
    assert sum(len(yb) for _, yb in iter_chunks(dX, [0] * 150)) == 150
