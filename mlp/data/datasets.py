"""Synthetic datasets with a seed and a noise level: circles, moons, xor, spiral, blobs, sine, plane, counts."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._cells import closest

_MAX_SAMPLES = 1_000_000

# --------------------------------------------------------------------------- synthetic datasets

DATASETS = {
    "circles": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {"factor": 0.5},
        "description": "Two concentric circles (inner radius = factor); not linearly separable.",
    },
    "moons": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {},
        "description": "Two interleaving half circles.",
    },
    "xor": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {},
        "description": "Points in [-1, 1]^2; class 1 where x1 * x2 > 0 (the XOR pattern).",
    },
    "spiral": {
        "task": "multiclass",
        "n_features": 2,
        "n_classes": 3,
        "options": {"n_classes": 3, "turns": 1.0},
        "description": "Interleaved spiral arms, one class per arm (n_classes arms).",
    },
    "blobs": {
        "task": "multiclass",
        "n_features": 2,
        "n_classes": 3,
        "options": {"n_classes": 3, "cluster_std": 0.25},
        "description": "Gaussian blobs with centres on the unit circle, one class per blob.",
    },
    "sine": {
        "task": "regression",
        "n_features": 1,
        "n_classes": None,
        "options": {},
        "description": "y = sin(x) + noise for x uniform in [-pi, pi].",
    },
    "plane": {
        "task": "regression",
        "n_features": 2,
        "n_classes": None,
        "options": {"a": 1.5, "b": -0.5, "c": 0.0},
        "description": "y = a*x1 + b*x2 + c + noise for x uniform in [-1, 1]^2.",
    },
    "counts": {
        "task": "regression",
        "counts": True,     # the target is a count (whole numbers >= 0): the poisson loss fits it
        "n_features": 1,
        "n_classes": None,
        "options": {"amplitude": 2.0},
        "description": "Counts y ~ Poisson(exp(amplitude*sin(x) + noise)) for x uniform in [-pi, pi]: "
                       "from about 0.1 to 7 events on average, more spread where there are more.",
    },
}


def _check_real(name, v, low=None, low_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite number, got {v!r}.")
    v = float(v)
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v!r}.")
    return v


def make_dataset(name, n_samples=400, noise=0.1, seed=0, **kw):
    """Generate a synthetic dataset; returns ``(X, y)``.

    ``X`` is float64 of shape (n_samples, n_features). ``y`` is (n, 1) float 0/1 for binary
    sets, (n,) int64 labels for multiclass sets and (n, 1) float for regression sets.
    ``noise`` is the standard deviation of Gaussian noise (added to the points for
    classification sets, to y for regression sets; blobs add it on top of ``cluster_std``).
    Options per dataset are listed in ``DATASETS[name]["options"]`` with their defaults.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}." + closest(name, DATASETS))
    spec = DATASETS[name]
    unknown = sorted(set(kw) - set(spec["options"]))
    if unknown:
        allowed = ", ".join(spec["options"]) or "none"
        raise ValueError(f"dataset {name!r} does not take option(s) {', '.join(unknown)}; its options: {allowed}.")
    opts = dict(spec["options"], **kw)
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise ValueError(f"n_samples must be an integer, got {n_samples!r}.")
    n = int(n_samples)
    noise = _check_real("noise", noise, low=0.0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}.")
    n_min = 2
    if "n_classes" in opts:
        k = opts["n_classes"]
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 2 <= k <= 100:
            raise ValueError(f"n_classes must be an integer between 2 and 100, got {k!r}.")
        opts["n_classes"] = n_min = int(k)
    if not n_min <= n <= _MAX_SAMPLES:
        raise ValueError(f"n_samples must be between {n_min} and {_MAX_SAMPLES:,} for {name!r}, got {n}.")
    rng = np.random.default_rng(seed)
    return _GENERATORS[name](n, noise, rng, **opts)


def _binary(X, y, rng):
    perm = rng.permutation(len(y))
    return X[perm], y[perm].astype(np.float64).reshape(-1, 1)


def _multiclass(X, y, rng):
    perm = rng.permutation(len(y))
    return X[perm], y[perm].astype(np.int64)


def _split_counts(n, k):
    """n items over k groups as evenly as possible (earlier groups get the extras)."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _circles(n, noise, rng, factor):
    factor = _check_real("factor", factor)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}.")
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [np.column_stack([np.cos(t_out), np.sin(t_out)]), factor * np.column_stack([np.cos(t_in), np.sin(t_in)])]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _moons(n, noise, rng):
    n_a, n_b = _split_counts(n, 2)
    t_a = np.linspace(0.0, np.pi, n_a)
    t_b = np.linspace(0.0, np.pi, n_b)
    X = np.vstack(
        [np.column_stack([np.cos(t_a), np.sin(t_a)]), np.column_stack([1.0 - np.cos(t_b), 0.5 - np.sin(t_b)])]
    )
    y = np.concatenate([np.zeros(n_a), np.ones(n_b)])
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _xor(n, noise, rng):
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float64)
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _spiral(n, noise, rng, n_classes, turns):
    turns = _check_real("turns", turns, low=0.0, low_open=True)
    parts, labels = [], []
    for c, m in enumerate(_split_counts(n, n_classes)):
        r = np.linspace(0.1, 1.0, m)
        theta = 2 * np.pi * (c / n_classes + turns * r)
        parts.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        labels.append(np.full(m, c))
    X = np.vstack(parts)
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _multiclass(X, np.concatenate(labels), rng)


def _blobs(n, noise, rng, n_classes, cluster_std):
    cluster_std = _check_real("cluster_std", cluster_std, low=0.0)
    std = math.hypot(cluster_std, noise)
    parts, labels = [], []
    for c, m in enumerate(_split_counts(n, n_classes)):
        angle = 2 * np.pi * c / n_classes
        centre = np.array([np.cos(angle), np.sin(angle)])
        parts.append(centre + rng.normal(0.0, std, (m, 2)))
        labels.append(np.full(m, c))
    return _multiclass(np.vstack(parts), np.concatenate(labels), rng)


def _sine(n, noise, rng):
    x = rng.uniform(-np.pi, np.pi, n)
    y = np.sin(x) + (rng.normal(0.0, noise, n) if noise else 0.0)
    return x.reshape(-1, 1), y.reshape(-1, 1)


def _plane(n, noise, rng, a, b, c):
    a, b, c = (_check_real(k, v) for k, v in (("a", a), ("b", b), ("c", c)))
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = a * X[:, 0] + b * X[:, 1] + c + (rng.normal(0.0, noise, n) if noise else 0.0)
    return X, y.reshape(-1, 1)


def _counts(n, noise, rng, amplitude):
    amplitude = _check_real("amplitude", amplitude, low=0.0)
    if amplitude > 5.0:
        raise ValueError(f"amplitude must be at most 5 (rates up to e^5 = 148 events), got {amplitude!r}.")
    x = rng.uniform(-np.pi, np.pi, n)
    log_rate = amplitude * np.sin(x) + (rng.normal(0.0, noise, n) if noise else 0.0)
    y = rng.poisson(np.exp(log_rate)).astype(np.float64)
    return x.reshape(-1, 1), y.reshape(-1, 1)


_GENERATORS = {
    "circles": _circles,
    "moons": _moons,
    "xor": _xor,
    "spiral": _spiral,
    "blobs": _blobs,
    "sine": _sine,
    "plane": _plane,
    "counts": _counts,
}
