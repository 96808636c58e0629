"""Engine speed, side by side with PyTorch and scikit-learn (ratios and medians; not a test).

    python benchmarks/bench_engine.py            # everything (about 2 minutes with PyTorch installed)
    python benchmarks/bench_engine.py --quick    # fewer repeats

PyTorch (`pip install torch==2.13.0`) and scikit-learn are optional: missing ones are reported as such.
Prints a Markdown table; the README quotes its output. The header names NumPy's BLAS kernel: OPENBLAS_CORETYPE,
where set, forces an older one (compare with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`).
`--only mnist` / `--only forward` run one section; `--threads 1` skips the 2-thread run.
"""
import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mlp import MLP  # noqa: E402
from mlp.data import make_dataset  # noqa: E402

SEED_PER_SAMPLE_US = 146.0      # the seed project's per-sample loop, measured once on this machine
rows = []


def report(name, ours, other, ratio, note=""):
    rows.append((name, ours, other, ratio, note))
    print(f"| {name} | {ours} | {other} | {ratio} | {note} |", flush=True)


def limit_threads(n):
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(n)
    except ImportError:  # pragma: no cover
        return None


def blas_kernel():
    """NumPy's BLAS and the kernel it runs (OPENBLAS_CORETYPE, when set, forces an older one)."""
    try:
        from threadpoolctl import threadpool_info
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        kind = ", ".join(f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''}".strip()
                         for i in blas) or "unknown"
    except ImportError:  # pragma: no cover
        kind = "unknown (no threadpoolctl)"
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return kind + (f" (forced by OPENBLAS_CORETYPE={forced})" if forced else "")


def circles():
    try:
        from sklearn.datasets import make_circles
        X, y = make_circles(1000, noise=0.1, factor=0.5, random_state=0)
    except ImportError:
        X, y = make_dataset("circles", n_samples=1000, noise=0.1, seed=0)
    y = np.asarray(y, float).reshape(-1, 1)
    return X[:800], y[:800], X[800:], y[800:]


def ours_circles(epochs, batch_size, seed=0):
    """One training run, epoch by epoch: a generator yielding after each epoch, then the test accuracy."""
    Xtr, ytr, Xte, yte = circles()
    m = MLP(seed=seed).sequential([2, 8, "relu", 8, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam")
    run = m.start_training(Xtr, ytr, epochs=epochs, learning_rate=0.01, lr_decay=0.999, batch_size=batch_size)
    for _ in range(epochs):
        run.step(epochs=1)
        yield None
    yield m.evaluate(Xte, yte)["accuracy"]


def torch_circles(epochs, batch_size=32, seed=0, dataloader=False):
    """PyTorch, 1 thread, the same run: a lean loop indexing tensors (default), or the idiomatic DataLoader loop."""
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    Xtr, ytr, Xte, yte = (torch.tensor(a, dtype=torch.float32) for a in circles())
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 1), torch.nn.Sigmoid())
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.999)
    crit = torch.nn.BCELoss()
    n = len(Xtr)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, ytr), batch_size=batch_size,
                                         shuffle=True)

    def batches():
        if dataloader:
            yield from loader
            return
        perm = torch.randperm(n)
        for s in range(0, n, batch_size):
            idx = perm[s:s + batch_size]
            yield Xtr[idx], ytr[idx]
    for _ in range(epochs):
        for xb, yb in batches():
            opt.zero_grad()
            loss = crit(net(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
        yield None
    with torch.no_grad():
        yield float(((net(Xte) >= 0.5).float() == yte).float().mean())


def interleaved(runs, epochs, chunk=50):
    """Advance the epoch generators in turns of ``chunk`` epochs, so that all see the same machine load
    (this host is shared and its speed drifts). Returns each run's epoch times and final value."""
    times = [[] for _ in runs]
    for start in range(0, epochs, chunk):
        for run, ts in zip(runs, times):
            for _ in range(min(chunk, epochs - start)):
                t = time.perf_counter()
                next(run)
                ts.append(time.perf_counter() - t)
    return times, [next(run) for run in runs]


def sklearn_circles(epochs):
    import warnings
    from sklearn.neural_network import MLPClassifier
    Xtr, ytr, Xte, yte = circles()
    clf = MLPClassifier(hidden_layer_sizes=(8, 8), activation="relu", solver="adam", learning_rate_init=0.01,
                        batch_size=32, max_iter=epochs, alpha=0.0, tol=0.0, n_iter_no_change=epochs + 1,
                        random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xtr, ytr.ravel())
    return time.perf_counter() - t, float((clf.predict(Xte) == yte.ravel()).mean())


def bench_circles(quick):
    print("\n## 1. The seed's benchmark: circles 800/200, [2, 8, relu, 8, relu, 1, sigmoid], adam, lr 0.01, "
          "lr_decay 0.999, 1000 epochs, batch 32, 1 thread\n")
    print("| what | mlp | other | ratio | note |\n|---|---|---|---|---|")
    epochs = 300 if quick else 1000
    with limit_threads(1):
        seeds = range(3 if quick else 5)
        results = [interleaved([ours_circles(1000, 32, seed)], 1000) for seed in seeds]
        totals = [sum(r[0][0]) for r in results]
        accs = [r[1][0] for r in results]
        report("mlp: 1000 epochs (median of runs)", f"{statistics.median(totals):.2f} s", "", "",
               f"test accuracy {min(accs):.1%}..{max(accs):.1%} over seeds 0..{len(accs) - 1}")
        try:
            runs = [ours_circles(epochs, 32), torch_circles(epochs), torch_circles(epochs, dataloader=True)]
            (ours, lean, loader), (_, lean_acc, loader_acc) = interleaved(runs, epochs)
            ours_epoch = statistics.median(ours)
            for name, theirs, acc in (("lean loop (tensor indexing)", lean, lean_acc), ("DataLoader loop", loader, loader_acc)):
                t_epoch = statistics.median(theirs)
                report(f"vs PyTorch, {name} (median epoch, interleaved)", f"{ours_epoch * 1e3:.3f} ms",
                       f"{t_epoch * 1e3:.2f} ms", f"**{t_epoch / ours_epoch:.1f}x** faster",
                       f"PyTorch test accuracy {acc:.1%} after {epochs} epochs")
        except ImportError:
            report("vs PyTorch", "", "not installed", "", "pip install torch==2.13.0")
        try:
            before = sum(interleaved([ours_circles(1000, 32)], 1000)[0][0])
            s_total, s_acc = sklearn_circles(1000)
            after = sum(interleaved([ours_circles(1000, 32)], 1000)[0][0])
            total = (before + after) / 2
            report("vs scikit-learn MLPClassifier (1000 epochs; mlp timed just before and after)", f"{total:.2f} s",
                   f"{s_total:.2f} s", f"**{s_total / total:.1f}x** faster", f"sklearn test accuracy {s_acc:.1%}")
        except ImportError:
            report("vs scikit-learn", "", "not installed", "", "")


def bench_per_sample(quick):
    print("\n## 2. Per-sample updates (batch_size=1) on the same task\n")
    print("| what | mlp | other | ratio | note |\n|---|---|---|---|---|")
    with limit_threads(1):
        epochs = 10 if quick else 30
        runs = [statistics.median(interleaved([ours_circles(epochs, 1, seed)], epochs)[0][0]) / 800 for seed in range(3)]
        us = statistics.median(runs) * 1e6
        report("per sample-step", f"{us:.1f} µs", f"{SEED_PER_SAMPLE_US:.0f} µs (the seed's, measured once)",
               f"**{SEED_PER_SAMPLE_US / us:.1f}x** faster", "")


def mnist_shape_epochs(X, y, epochs, optimizer="adam"):
    """Our training on the MNIST-shaped net, epoch by epoch (a generator; see ``interleaved``)."""
    m = MLP(seed=0, dtype="float32").sequential([784, 256, "relu", 128, "relu", 10, "softmax"])
    m.set_loss("cce").set_optimizer(optimizer)
    run = m.start_training(X, y, epochs=epochs, learning_rate=1e-3, batch_size=128)
    for _ in range(epochs):
        run.step(epochs=1)
        yield None
    yield None


def products_turns(turns, steps, n=128):
    """The eight matrix products of one training step of the MNIST-shaped net alone, in backprop's
    layout (a generator for ``interleaved``): the step's floor. Weights scaled by 1/sqrt(fan-in) and a fixed
    output delta keep every value of order one (unscaled, the chained products overflowed to inf/NaN and
    timed the slow paths of non-finite arithmetic)."""
    r = np.random.default_rng(0)
    f32 = np.float32
    sizes = [784, 256, 128, 10]
    Wb = [r.standard_normal((a + 1, b), dtype=f32) / f32(np.sqrt(a + 1)) for a, b in zip(sizes, sizes[1:])]
    A = [np.ones((u + 1, n), dtype=f32) for u in sizes[:-1]]    # layer inputs with their row of ones
    x = r.standard_normal((n, 785), dtype=f32).T                 # the input, sample-major, used transposed
    A[0] = x
    z = [np.empty((b, n), dtype=f32) for b in sizes[1:]]
    d = [r.standard_normal((b, n), dtype=f32) / f32(n) for b in sizes[1:]]   # d[2]: the output delta
    g = [np.empty_like(w) for w in Wb]

    def step():
        for i in range(3):
            Wb[i].T.dot(A[i], out=z[i] if i == 2 else A[i + 1][:-1])
        for i in (2, 1, 0):
            A[i].dot(d[i].T, out=g[i])
            if i:
                Wb[i][:-1].dot(d[i], out=d[i - 1])
    step()
    assert all(np.isfinite(a).all() for a in A + z + d + g), "products_turns: non-finite values"
    for _ in range(turns):
        for _ in range(steps):
            step()
        yield None
    yield None


def gather_turns(turns, steps, X, n=128):
    """The batch gather alone: ``steps`` shuffled batches of ``n`` rows of X into the reused input buffer,
    as the training loop does for data above 1 MiB."""
    buf = np.ones((n, X.shape[1] + 1), dtype=X.dtype)
    rng = np.random.default_rng(0)
    for _ in range(turns):
        order = rng.permutation(len(X))
        for s in range(0, steps * n, n):
            buf[:, :-1] = X.take(order[s:s + n], axis=0)
        yield None
    yield None


def adam_turns(turns, steps, update=True):
    """Adam's update of the MNIST-shaped net's 235k float32 parameters alone, ``steps`` times a turn.
    Each step first copies a fixed gradient into the optimizer's buffer, as the backward pass writes it
    there (the update scales the buffer in place); ``update=False`` times that copy alone, to subtract."""
    m = MLP(seed=0, dtype="float32").sequential([784, 256, "relu", 128, "relu", 10, "softmax"])
    m.set_loss("cce").set_optimizer("adam")
    opt = m.optimizer
    grads = opt.grad_buffer(m.params)
    g0 = np.random.default_rng(0).standard_normal(grads.size, dtype=np.float32) * np.float32(1e-3 * opt.grad_scale)
    for _ in range(turns):
        for _ in range(steps):
            np.copyto(grads, g0)
            if update:
                opt.step(m.params, grads, 1e-6)
        yield None
    yield None


def torch_mnist_shape_epochs(X, y, epochs):
    import torch
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, 128):
            idx = perm[s:s + 128]
            opt.zero_grad()
            crit(net(Xt[idx]), yt[idx]).backward()
            opt.step()
        yield None
    yield None


def bench_mnist_shape(quick, threads):
    print(f"\n## 3. [784, 256, relu, 128, relu, 10, softmax], float32, batch 128, {threads} thread(s)\n")
    print("| what | mlp | other | ratio | note |\n|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    n = 128 * (40 if quick else 100)
    X = rng.standard_normal((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    epochs = 4 if quick else 20   # the first epoch of each is warm-up
    with limit_threads(threads):
        steps = n // 128
        runs = [mnist_shape_epochs(X, y, epochs), mnist_shape_epochs(X, y, epochs, "sgd"),
                products_turns(epochs, steps), adam_turns(epochs, steps), adam_turns(epochs, steps, update=False),
                gather_turns(epochs, steps, X)]
        try:
            import torch
            torch.set_num_threads(threads)
            runs.append(torch_mnist_shape_epochs(X, y, epochs))
        except ImportError:
            pass
        times, _ = interleaved(runs, epochs, chunk=1)
    per_step = [statistics.median(ts[1:]) / steps * 1e6 for ts in times]   # µs; the first turn is warm-up
    ours = 128 / per_step[0] * 1e6
    if len(runs) > 6:
        ratios = [b / a for a, b in zip(times[0][1:], times[6][1:])]
        report("training throughput, Adam (interleaved epochs)", f"{ours:,.0f} samples/s",
               f"{128 / per_step[6] * 1e6:,.0f} samples/s (PyTorch)", f"**{statistics.median(ratios):.2f}x**",
               f"median of {len(ratios)} per-epoch ratios (range {min(ratios):.2f}-{max(ratios):.2f})")
    else:
        report("training throughput, Adam", f"{ours:,.0f} samples/s", "PyTorch not installed", "", "")
    step = per_step[0]

    def part(i):
        return f"{per_step[i]:.0f} µs per step", f"{per_step[i] / step:.0%} of the Adam step ({step:.0f} µs)"
    report("the same step with plain SGD", *part(1), "", "no Adam passes over the 235k parameters")
    report("the step's eight matrix products alone", *part(2), "", "the floor: no gather, activation, loss, update")
    adam_us = per_step[3] - per_step[4]   # minus the gradient copy
    report("Adam's update alone", f"{adam_us:.0f} µs per step", f"{adam_us / step:.0%} of the Adam step", "",
           "11 element-wise passes over 235k float32 parameters")
    report("the batch gather alone", *part(5), "", f"128 shuffled rows of a {X.nbytes / 2 ** 20:.0f} MiB array")


class SeedStyleMLP:
    """The seed's inference as its README lays it out (its code is not in this repository): the sample
    converted with ``np.array``, then per layer ``z = W·a + b`` on a column vector and the activation
    method (``_relu``, ``_sigmoid`` with clipping), caching z and a for backprop; 1-D out. Same weights
    as ``model``, and the same outputs (checked)."""

    def __init__(self, model):
        w = model.get_weights()
        self.W = [w[i].T.copy() for i in range(0, len(w), 2)]
        self.b = [w[i + 1].reshape(-1, 1).copy() for i in range(0, len(w), 2)]
        self.activation = [layer.activation for layer in model.layers]

    def _relu(self, z):
        return np.maximum(0, z)

    def _sigmoid(self, z):
        return 1 / (1 + np.exp(-np.clip(z, -500, 500)))

    def forward(self, x):
        a = np.array(x, dtype=float).reshape(-1, 1)
        self.cache = {"A0": a}
        for i, (W, b) in enumerate(zip(self.W, self.b), 1):
            z = np.dot(W, a) + b
            a = getattr(self, "_" + self.activation[i - 1])(z)
            self.cache[f"Z{i}"], self.cache[f"A{i}"] = z, a
        return a.flatten()


def per_call(fn, reps):
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps * 1e6


def bench_forward():
    print("\n## 4. Single-sample forward and predict on a few rows, seed net [2, 8, relu, 8, relu, 1, sigmoid]\n")
    print("| what | mlp | other | ratio | note |\n|---|---|---|---|---|")
    m = MLP(seed=0).sequential([2, 8, "relu", 8, "relu", 1, "sigmoid"])
    seed = SeedStyleMLP(m)
    x, xl, xt = np.array([0.3, -0.7]), [0.3, -0.7], (0.3, -0.7)
    rows = np.random.default_rng(0).standard_normal((3, 2)).tolist()
    assert np.allclose(seed.forward(xl), m.forward(xl), rtol=1e-12, atol=0)
    pairs = {   # name: (ours, reference, reference's label)
        "`forward(list)`": (lambda: m.forward(xl), lambda: seed.forward(xl), "the seed's design"),
        "`forward(tuple)`": (lambda: m.forward(xt), lambda: seed.forward(xt), "the seed's design"),
        "`forward(ndarray)`": (lambda: m.forward(x), lambda: seed.forward(x), "the seed's design"),
        "`predict([row])`": (lambda: m.predict([xl]), lambda: seed.forward(xl), "the seed's forward"),
        "`predict(3 rows as lists)`": (lambda: m.predict(rows), lambda: [seed.forward(r) for r in rows],
                                      "the seed's forward per row"),
    }
    try:
        import torch
        torch.set_num_threads(1)
        net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                                  torch.nn.Linear(8, 1), torch.nn.Sigmoid())
        xtorch = torch.tensor([0.3, -0.7])

        def theirs():
            with torch.inference_mode():
                return net(xtorch)
        pairs["`forward(ndarray)` vs PyTorch"] = (lambda: m.forward(x), theirs, "PyTorch `inference_mode`")
    except ImportError:
        pass
    rounds = [{k: (per_call(a, 2000), per_call(b, 2000)) for k, (a, b, _) in pairs.items()} for _ in range(15)]
    for k, (_, _, label) in pairs.items():   # interleaved rounds: each pair sees the same load
        ours = statistics.median(r[k][0] for r in rounds)
        ref = statistics.median(r[k][1] for r in rounds)
        ratio = statistics.median(r[k][0] / r[k][1] for r in rounds)
        goal = "; goal ≤ 0.85x" if k in ("`forward(list)`", "`forward(tuple)`") else ""
        report(k, f"{ours:.1f} µs", f"{ref:.1f} µs ({label})", f"**{ratio:.2f}x** the time",
               f"median of 15 interleaved rounds{goal}")


def memory_child():
    n, d = 1_000_000, 100
    X = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    m = MLP(seed=0, dtype="float32").sequential([d, 64, "relu", 1, "sigmoid"]).set_loss("bce").set_optimizer("adam")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    m.fit(X, y, epochs=1, batch_size=256)
    peak = tracemalloc.get_traced_memory()[1] - base
    data = X.nbytes + y.nbytes
    print(f"{data} {peak}")


def bench_memory():
    print("\n## 5. Memory: training on 1M x 100 float32 rows ([100, 64, relu, 1, sigmoid], 1 epoch)\n")
    print("| what | mlp | other | ratio | note |\n|---|---|---|---|---|")
    out = subprocess.run([sys.executable, __file__, "--memory-child"], capture_output=True, text=True, check=True)
    data, peak = map(int, out.stdout.split()[-2:])
    report("extra memory allocated during fit (tracemalloc peak)", f"{peak / 2 ** 20:.0f} MiB",
           f"data {data / 2 ** 20:.0f} MiB", f"peak total **{(data + peak) / data:.2f}x** the data", "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", choices=["circles", "per_sample", "mnist", "forward", "memory"])
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child()
    print(f"# mlp benchmarks — Python {sys.version.split()[0]}, NumPy {np.__version__}, {os.cpu_count()} cores, "
          f"BLAS: {blas_kernel()}")
    steps = {"circles": lambda: bench_circles(args.quick), "per_sample": lambda: bench_per_sample(args.quick),
             "mnist": lambda: [bench_mnist_shape(args.quick, t) for t in sorted({1, args.threads})],
             "forward": bench_forward,
             "memory": bench_memory}
    for name, fn in steps.items():
        if args.only in (None, name):
            fn()


if __name__ == "__main__":
    main()
