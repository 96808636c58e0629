"""The README's scikit-learn comparison: the same GridSearchCV on breast cancer with mlp.sklearn and with
scikit-learn's own MLPClassifier (StandardScaler + MLPClassifier(hidden_layer_sizes=(16,), random_state=0),
alpha in 1e-4 and 1e-2, 8 splits), their scores per candidate and their CPU time (one BLAS thread).

    python benchmarks/bench_sklearn.py            # 3 rounds, alternating; the median time ratio
"""
import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mlp.sklearn import MLPClassifier  # noqa: E402

GRID = {"mlpclassifier__alpha": [1e-4, 1e-2]}


def search(cls, X, y):
    pipe = make_pipeline(StandardScaler(), cls(hidden_layer_sizes=(16,), random_state=0))
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = GridSearchCV(pipe, GRID, cv=8).fit(X, y)
    return result.cv_results_["mean_test_score"], time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    X, y = load_breast_cancer(return_X_y=True)
    ratios, times = [], {"mlp.sklearn": [], "scikit-learn": []}
    for _ in range(rounds):
        ours, t_ours = search(MLPClassifier, X, y)
        theirs, t_theirs = search(SkMLPClassifier, X, y)
        times["mlp.sklearn"].append(t_ours)
        times["scikit-learn"].append(t_theirs)
        ratios.append(t_theirs / t_ours)
    print("mean test score per candidate (alpha 1e-4, 1e-2):")
    print(f"  mlp.sklearn   {np.round(ours, 4).tolist()}")
    print(f"  scikit-learn  {np.round(theirs, 4).tolist()}")
    print(f"  the same on every candidate: {bool(np.array_equal(ours, theirs))}")
    for name, ts in times.items():
        print(f"{name:<13} CPU time of the search: median {statistics.median(ts):.2f} s over {rounds} round(s)")
    print(f"scikit-learn / mlp.sklearn time: median {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
