"""This checkout's engine against another git revision's (default: main), side by side in one process: the
speed figures of bench_engine.py that must not move, as per-round ratios (not a test).

    python benchmarks/bench_ab.py                     # this checkout vs main
    python benchmarks/bench_ab.py --rev HEAD~3 --rounds 15

The other revision's ``mlp/`` is extracted with ``git archive`` into a temporary directory and imported under
another package name (the engine imports itself relatively), so both engines run in the same process, in
alternating turns (the order swapped every round: this host is shared and its speed drifts), one BLAS thread,
CPU time. Each row: the medians of both, and the median of the per-round ratios this / other (< 1: faster).
"""
import argparse
import importlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
import mlp  # noqa: E402
from mlp.data import make_dataset  # noqa: E402

SEED_NET = [2, 8, "relu", 8, "relu", 1, "sigmoid"]
MNIST_NET = [784, 256, "relu", 128, "relu", 10, "softmax"]


def other_engine(rev):
    """The ``mlp`` package of git revision ``rev``, imported as ``mlp_ab``."""
    tar = subprocess.run(["git", "-C", ROOT, "archive", rev, "mlp"], check=True, capture_output=True).stdout
    where = tempfile.mkdtemp(prefix="mlp-ab-")
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(where, filter="data")
    os.rename(os.path.join(where, "mlp"), os.path.join(where, "mlp_ab"))
    sys.path.insert(0, where)
    return importlib.import_module("mlp_ab")


def circles():
    X, y = make_dataset("circles", n_samples=1000, noise=0.1, seed=0)
    return X[:800], np.asarray(y[:800], float).reshape(-1, 1)


def cases(engine):
    """``{name: (unit, scale, turn)}``: ``turn()`` runs one timed piece of work with ``engine``; its CPU time
    times ``scale`` is the figure in ``unit``."""
    X, y = circles()

    def seed_run(batch):
        m = engine.MLP(seed=0).sequential(SEED_NET).set_loss("bce").set_optimizer("adam")
        return m.start_training(X, y, epochs=10_000_000, learning_rate=0.01, lr_decay=0.999, batch_size=batch)
    seed, seed_1, per_sample = seed_run(32), seed_run(32), seed_run(1)

    def epoch_by_epoch():                              # as bench_engine.py times the seed benchmark
        for _ in range(50):
            seed_1.step(epochs=1)
    rng = np.random.default_rng(0)
    Xm = rng.standard_normal((128 * 20, 784), dtype=np.float32)
    ym = rng.integers(0, 10, len(Xm))
    mn = engine.MLP(seed=0, dtype="float32").sequential(MNIST_NET).set_loss("cce").set_optimizer("adam")
    mnist = mn.start_training(Xm, ym, epochs=10_000_000, learning_rate=1e-3, batch_size=128)
    small = engine.MLP(seed=0).sequential(SEED_NET)
    rows = rng.standard_normal((3, 2)).tolist()

    def calls(fn, n):
        def turn():
            for _ in range(n):
                fn()
        return turn
    return {
        "seed benchmark epoch (circles 800, seed net, adam, batch 32)": ("ms", 1e3 / 50, lambda: seed.step(epochs=50)),
        "the same, one `step(epochs=1)` call an epoch (as bench_engine.py times it)": ("ms", 1e3 / 50,
                                                                                       epoch_by_epoch),
        "per-sample step (`batch_size=1`)": ("µs", 1e6 / 800, lambda: per_sample.step(epochs=1)),
        "MNIST-shaped Adam step (float32, batch 128)": ("ms", 1e3 / 20, lambda: mnist.step(epochs=1)),
        "`forward([0.3, -0.7])` (a list)": ("µs", 1e6 / 2000, calls(lambda: small.forward([0.3, -0.7]), 2000)),
        "`predict` on 3 rows given as lists": ("µs", 1e6 / 2000, calls(lambda: small.predict(rows), 2000)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="main", help="the git revision to compare with (default: main)")
    ap.add_argument("--rounds", type=int, default=11)
    args = ap.parse_args()
    here = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    other = other_engine(args.rev)
    print(f"# engine A/B: this checkout ({here}{', with changes' if _dirty() else ''}) vs {args.rev} — Python "
          f"{sys.version.split()[0]}, NumPy {np.__version__}, {os.cpu_count()} cores, 1 BLAS thread, "
          f"{args.rounds} rounds\n")
    print(f"| what | this | {args.rev} | this / {args.rev} (median of rounds, range) |\n|---|---|---|---|")
    from threadpoolctl import threadpool_limits
    loads = [os.getloadavg()[0]]
    with threadpool_limits(1):
        ours, theirs = cases(mlp), cases(other)
        for name, (unit, scale, turn) in ours.items():
            other_turn = theirs[name][2]
            turn(), other_turn()                       # warm-up
            a, b = [], []
            for r in range(args.rounds):
                for fn, out in (((turn, a), (other_turn, b)) if r % 2 == 0 else ((other_turn, b), (turn, a))):
                    t = time.process_time()
                    fn()
                    out.append((time.process_time() - t) * scale)
            ratios = [x / y for x, y in zip(a, b)]
            print(f"| {name} | {statistics.median(a):.3g} {unit} | {statistics.median(b):.3g} {unit} | "
                  f"**{statistics.median(ratios):.3f}x** ({min(ratios):.2f}–{max(ratios):.2f}) |", flush=True)
            loads.append(os.getloadavg()[0])
    print(f"\nload average (1 min) during the run: {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores")


def _dirty():
    return bool(subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "mlp"], capture_output=True,
                               text=True).stdout.strip())


if __name__ == "__main__":
    main()
