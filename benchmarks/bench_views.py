"""Cost of the network view and of "Explain a step" (webapp/core/session.py), and what the live view costs training.

    python benchmarks/bench_views.py            # about a minute

Prints, for the default circles network [2, 8, relu, 8, relu, 1, sigmoid] and an MNIST-shaped one
[784, 256, relu, 128, relu, 10, softmax]: the time of one session.network_figure (and with json.dumps, as the
browser worker sends it), of session.explain, and the training time with the network view redrawn after every
0.25 s slice of training (as the live views do): the time spent drawing against the time spent training in the
same run (two separate runs, with and without, differ more than that from the noise of a shared machine).
"""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.core import session as S  # noqa: E402

FRAME_EVERY = 0.25   # seconds of training between two redraws


def per_call(fn, seconds=1.0):
    """Median time of one call, in ms, over calls for about ``seconds``."""
    fn()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


# the settings these figures were first measured with (the app's first Train is now a slower show)
THEN = {"batch_size": 32, "learning_rate": 0.01}


def circles():
    p = S.prepare_builtin("circles", n_samples=400)
    cfg = {"arch": S.default_architecture(p), "epochs": 1500, **THEN}
    return p, cfg


def digits(n=1000):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 784)), rng.integers(0, 10, n)
    p = S.Prepared(X_train=X, X_test=X[:0], y_train=y, y_test=y[:0], task="multiclass", n_inputs=784, n_outputs=10,
                   feature_names=[f"px{i}" for i in range(784)], class_names=[str(k) for k in range(10)],
                   preprocessor=None, name="digits")
    cfg = {"arch": "[784, 256, 'relu', 128, 'relu', 10, 'softmax']", "epochs": 4, "validation_split": 0.0, **THEN}
    return p, cfg


def live_training(p, cfg):
    """Train with the network view redrawn after every FRAME_EVERY-second slice: (training s, drawing s, frames)."""
    model = S.build_model(cfg, p)
    run = S.start_training(model, p, cfg)
    train = draw = 0.0
    frames = 0
    while not run.done:
        t0 = time.perf_counter()
        run.step(seconds=FRAME_EVERY)
        t1 = time.perf_counter()
        json.dumps(S.network_figure(model, p))
        train, draw, frames = train + t1 - t0, draw + time.perf_counter() - t1, frames + 1
    return train, draw, frames


def main():
    for name, (p, cfg) in (("circles", circles()), ("MNIST-shaped", digits())):
        model = S.build_model(cfg, p)
        S.train(model, p, {**cfg, "epochs": 1})
        fig = S.network_figure(model, p)
        print(f"{name}: {model.architecture}")
        print(f"  network_figure            {per_call(lambda: S.network_figure(model, p)):7.2f} ms"
              f"   ({len(json.dumps(fig)) / 1024:.0f} KB of JSON, {len(fig['layout'].get('images', []))} pictures)")
        print(f"  network_figure + json     {per_call(lambda: json.dumps(S.network_figure(model, p))):7.2f} ms")
        print(f"  explain                   {per_call(lambda: S.explain(model, p)):7.2f} ms")
        train, draw, frames = live_training(p, cfg)
        print(f"  live training: {frames} redraws in {train:.2f} s of training, {draw * 1e3:.1f} ms drawing: "
              f"{(train + draw) / train:.3f}x the training time (goal <= 1.2x)")


if __name__ == "__main__":
    main()
