"""What the learning views cost: the per-layer gradient statistics in the training loop, and an optimizer
race with its loss landscape (CPython, and Pyodide under node when a runtime is available).

    python benchmarks/bench_learn.py                 # both sections
    python benchmarks/bench_learn.py --only stats    # the statistics' cost, interleaved on/off
    python benchmarks/bench_learn.py --only race     # race + landscape of the playground's default
    python benchmarks/bench_learn.py --only stats --row 4 --row 7    # some rows of the statistics' table
    python benchmarks/bench_learn.py --only stats --against main      # and main's engine beside this one

Statistics: two identical runs, one with ``run.layer_stats = None`` (what the loop did before), advanced in
alternating chunks of epochs (about 20 ms each: this host is shared and its speed drifts), one BLAS thread; the
median of the per-round ratios of CPU time. The last row is the noise floor: two runs both without statistics. Race: ``mlp.race`` (sgd, sgd_momentum, rmsprop, adam) + ``mlp.loss_surface`` (31 x 31 grid).
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
import mlp  # noqa: E402
from mlp.data import make_dataset  # noqa: E402
from webapp.core import session as S  # noqa: E402

SEED_NET = [2, 8, "relu", 8, "relu", 1, "sigmoid"]


def _circles(n):
    X, y = make_dataset("circles", n_samples=n, noise=0.1, seed=0)
    return X, np.asarray(y, float).reshape(-1, 1)


def _pair(make):
    """Two runs of the same training: statistics on, and off."""
    on, off = make(), make()
    off.layer_stats = None
    return on, off


def _interleaved(pairs, rounds, chunk):
    """Per (on, off) pair: the median ratio of the CPU time (process_time: this process's own, less disturbed
    than wall-clock time by other jobs on a shared host) of ``chunk`` epochs with statistics to as many without,
    all pairs advanced in alternating order; and the median epoch time without."""
    ratios, per_epoch = [[] for _ in pairs], [[] for _ in pairs]
    for i in range(rounds):
        for p in (range(len(pairs)) if i % 2 == 0 else reversed(range(len(pairs)))):
            on, off = pairs[p]
            times = {}
            for which in ((on, off) if i % 2 == 0 else (off, on)):
                t = time.process_time()
                which.step(epochs=chunk)
                times[id(which)] = time.process_time() - t
            ratios[p].append(times[id(on)] / times[id(off)])
            per_epoch[p].append(times[id(off)] / chunk)
    return [(statistics.median(r), statistics.median(e)) for r, e in zip(ratios, per_epoch)]


def _chunk(make, seconds=0.02):
    """Epochs per round: about ``seconds`` of training (at least one epoch)."""
    run = make()
    run.layer_stats = None
    run.step(epochs=2)
    t = time.process_time()
    run.step(epochs=5)
    return max(1, round(seconds / ((time.process_time() - t) / 5)))


def bench_stats(quick, only_rows=None, against=None):
    """The statistics' cost; ``against``: a git revision whose engine is measured too, interleaved (the
    playground row runs this checkout's engine only)."""
    other = None
    if against:
        from bench_ab import other_engine
        other = other_engine(against)
    print("\n## Per-layer gradient statistics: training time with them / without (interleaved, median of rounds)\n")
    extra = f" {against}'s engine: with / without |" if other else ""
    print(f"| training | epoch without (CPU time) | epochs a round | with / without |{extra} load average |\n"
          f"|---|---|---|---|{'---|' if other else ''}---|")
    rounds = 10 if quick else 40
    prepared = S.prepare_builtin("circles", n_samples=400)
    cfg = {**S.DEFAULT_CONFIG, "epochs": S.MAX_EPOCHS}

    def playground(engine=mlp):
        return S.start_training(S.build_model(cfg, prepared), prepared, cfg) if engine is mlp else None

    def fit_run(arch, n, batch, dead=0, data=_circles, loss="bce", lr=0.01, **kw):
        X, y = data(n)

        def make(engine=mlp):
            model = engine.MLP(seed=0, **kw).sequential(arch).set_loss(loss).set_optimizer("adam")
            if dead:      # that many dead units in the first layer (a very negative bias)
                W = model.get_weights()
                W[1][:dead] = -1e3
                model.set_weights(W)
            return model.start_training(X, y, epochs=10_000_000, learning_rate=lr, batch_size=batch)
        return make

    def mnist_shaped(n):
        rng = np.random.default_rng(0)
        X = rng.random((n, 784), dtype=np.float32)
        return X, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]

    deep_sigmoid = [2] + [8, "sigmoid"] * 5 + [1, "sigmoid"]
    full = fit_run(SEED_NET, 320, None)
    cases = [("the playground's default (circles 400: 256 training rows, validation 64, seed net, batch 32, adam)",
              playground, False),
             ("seed benchmark (circles 800, seed net, batch 32, adam)", fit_run(SEED_NET, 800, 32), False),
             ("5 sigmoid hidden layers of 8, 320 rows, batch 32", fit_run(deep_sigmoid, 320, 32), False),
             ("seed net, 320 rows, full batch (one step an epoch: the worst case)", full, False),
             ("the same with 2 dead relu units (the forward pass over 64 rows that counts them runs every epoch)",
              fit_run(SEED_NET, 320, None, dead=2), False),
             ("MNIST-shaped `[784, 256, relu, 128, relu, 10, softmax]`, float32, Adam 0.001, 1,280 random rows, "
              "batch 128 (10 steps an epoch)",
              fit_run([784, 256, "relu", 128, "relu", 10, "softmax"], 1280, 128, data=mnist_shaped, loss="cce",
                      lr=1e-3, dtype="float32"), False),
             ("the same on 12,800 rows (100 steps an epoch, as bench_engine.py)",
              fit_run([784, 256, "relu", 128, "relu", 10, "softmax"], 12800, 128, data=mnist_shaped, loss="cce",
                      lr=1e-3, dtype="float32"), False),
             ("noise floor: the full-batch pair, both without statistics", full, True)]
    from threadpoolctl import threadpool_limits
    for row, (name, make, control) in enumerate(cases, 1):
        if only_rows and row not in only_rows:
            continue
        with threadpool_limits(1):
            chunk = _chunk(make)
            pairs = [_pair(make)] + ([_pair(lambda: make(other))] if other and make(other) is not None else [])
            if control:
                for on, _ in pairs:
                    on.layer_stats = None
            results = _interleaved(pairs, rounds, chunk)
        (ratio, epoch), theirs = results[0], results[1:]
        extra = (f" **{theirs[0][0]:.3f}x** |" if theirs else " – |") if other else ""
        print(f"| {name} | {epoch * 1e6:.0f} µs | {chunk} | **{ratio:.3f}x** |{extra} {os.getloadavg()[0]:.1f} |",
              flush=True)


RACE_CODE = r'''
import json, time
import mlp
from webapp.core import session as S
prepared = S.prepare_builtin("circles", n_samples=400)
cfg = dict(S.DEFAULT_CONFIG)
out = []
for _ in range(REPEATS):
    model = S.build_model(cfg, prepared)
    t0 = time.perf_counter()
    r = mlp.race(model, prepared.X_train, prepared.y_train, epochs=cfg["epochs"], learning_rates=cfg["learning_rate"],
                 batch_size=cfg["batch_size"])
    t1 = time.perf_counter()
    s = mlp.loss_surface(r)
    t2 = time.perf_counter()
    model.fit(prepared.X_train, prepared.y_train, epochs=cfg["epochs"], batch_size=cfg["batch_size"])
    out.append([t1 - t0, t2 - t1, time.perf_counter() - t2])
json.dumps(out)
'''


def bench_race(quick):
    print("\n## Race (4 optimizers) + loss landscape (31 x 31) on the playground's default: circles 400, seed "
          f"net, {S.DEFAULT_CONFIG['epochs']} epochs, batch 32 (medians)\n")
    print("| where | race | landscape | together | one training of the same run |\n|---|---|---|---|---|")
    repeats = 3 if quick else 5
    ns = {}
    exec(RACE_CODE.replace("REPEATS", str(repeats)).rsplit("\n", 2)[0], ns)
    rows = [("CPython", ns["out"])]
    try:
        sys.path.insert(0, ROOT)
        from tests._browser import pyodide_runtime_dir, run_in_pyodide
        if pyodide_runtime_dir() is None:
            raise RuntimeError("no Pyodide runtime (set MLP_PYODIDE_DIR)")
        rows.append(("Pyodide 0.27.7 under node", json.loads(run_in_pyodide(RACE_CODE.replace("REPEATS",
                                                                                              str(repeats))))))
    except Exception as e:  # noqa: BLE001 - a benchmark reports what it could not measure
        print(f"(Pyodide not measured: {e})")
    for where, times in rows:
        race_t, surf_t, fit_t = (statistics.median(col) for col in zip(*times))
        print(f"| {where} | {race_t:.3f} s | {surf_t:.3f} s | **{race_t + surf_t:.3f} s** | {fit_t:.3f} s |",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["stats", "race"])
    ap.add_argument("--against", metavar="REV", help="statistics: also measure git revision REV's engine (e.g. main)")
    ap.add_argument("--row", type=int, action="append", help="statistics: only this row (1-based; repeatable)")
    args = ap.parse_args()
    print(f"# mlp learning views — Python {sys.version.split()[0]}, NumPy {np.__version__}, {os.cpu_count()} cores")
    if args.only in (None, "stats"):
        bench_stats(args.quick, args.row, args.against)
    if args.only in (None, "race"):
        bench_race(args.quick)


if __name__ == "__main__":
    main()
