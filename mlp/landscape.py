"""An optimizer race and the loss landscape its paths cross.

``race`` trains copies of one network, from the same initial weights, on the same data and the same
batches (the same shuffle order), once per optimizer, and keeps each copy's loss history and the flat
weight vectors it visited (the start, then the end of every epoch).

``loss_surface`` evaluates the loss over a 2-D slice of weight space through those paths, as Li et al.
("Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, section 7) do for one trajectory: the plane
is spanned by the first two principal directions of the visited weights (all racers' paths together,
taken relative to the centre), and centred on the best end point, the racer whose final weights have the
lowest loss. Each path is drawn as its orthogonal projection onto that plane; ``explained`` says how much
of the paths' movement the plane holds (the rest is invisible in the picture).
"""
import copy
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .activations import ACTIVATIONS
from .architecture import lookup
from .optimizers import ALIASES, OPTIMIZERS

RACE_OPTIMIZERS = ("sgd", "sgd_momentum", "rmsprop", "adam")
MAX_GRID = 101
_GRID_FLOATS = 1 << 20     # loss_surface: networks x rows x units per stacked forward pass
MAX_PCA_POINTS = 2000      # more path points than parameters and than this: the directions from this many


@dataclass(repr=False)
class Race:
    """What :func:`race` returns. Every dict is keyed by optimizer name, in ``optimizers`` order.

    ``paths[name]``: array (epochs trained + 1, n_params), the start then the weights after each epoch
    (shorter when a racer diverged: its History's ``stop_reason`` says so). ``models[name]``: the trained copy.
    ``X``, ``y``: the training rows as the model takes them (``y`` one-hot for a softmax output).
    """

    optimizers: tuple
    learning_rates: dict
    histories: dict
    paths: dict
    models: dict
    start: np.ndarray
    X: np.ndarray
    y: np.ndarray
    epochs: int
    batch_size: int | None

    def final_losses(self):
        """``{name: loss of its final weights on the training rows}`` (``model.evaluate``'s loss)."""
        return {name: float(self.models[name].loss_and_accuracy(self.X, self.y, False)["loss"])
                for name in self.optimizers}

    def summary(self):
        """One dict per racer: optimizer, learning_rate, epochs (trained), final_loss, stop_reason."""
        finals = self.final_losses()
        return [{"optimizer": n, "learning_rate": self.learning_rates[n], "epochs": len(self.histories[n]),
                 "final_loss": finals[n], "stop_reason": self.histories[n].stop_reason} for n in self.optimizers]

    def __repr__(self):
        finals = ", ".join(f"{n}={v:.4g}" for n, v in self.final_losses().items())
        return f"Race(epochs={self.epochs}, final loss: {finals})"


@dataclass(repr=False)
class LossSurface:
    """What :func:`loss_surface` returns.

    ``losses[i, j]`` is the loss at ``center + alphas[j] * directions[0] + betas[i] * directions[1]``
    (rows follow ``betas``, as a contour plot's ``z``); the centre is a grid node (``alphas[j0] == 0 ==
    betas[i0]``, ``center_index = (i0, j0)``). ``paths[name]``: (points, 2) coordinates (alpha, beta) of
    that racer's visited weights projected onto the plane; ``path_losses[name]``: their true losses (off
    the plane). ``explained``: the fraction of the paths' squared distance from the centre that each
    direction holds (their sum is the part the picture shows).
    """

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray
    center: np.ndarray
    center_name: str
    center_loss: float
    center_index: tuple
    directions: np.ndarray
    explained: np.ndarray
    paths: dict
    path_losses: dict
    optimizers: tuple = field(default=())

    def point(self, alpha, beta):
        """The flat weights at plane coordinates (alpha, beta)."""
        return self.center + alpha * self.directions[0] + beta * self.directions[1]

    def project(self, weights):
        """Plane coordinates (..., 2) of flat weight vectors (..., n_params): their orthogonal projection."""
        return (np.asarray(weights, dtype=float) - self.center) @ self.directions.T

    def __repr__(self):
        return (f"LossSurface({len(self.betas)}x{len(self.alphas)} grid, centre {self.center_name!r} "
                f"loss {self.center_loss:.4g}, plane holds {self.explained.sum():.0%} of the paths)")


def _racer_names(optimizers):
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    try:
        names = [lookup(o, OPTIMIZERS, ALIASES, "optimizer") for o in optimizers]
    except TypeError:
        raise TypeError(f"optimizers must be a list of names such as {list(RACE_OPTIMIZERS)}, "
                        f"got {optimizers!r}.") from None
    if not names:
        raise ValueError(f"A race needs at least one optimizer; choose from {', '.join(OPTIMIZERS)}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Each optimizer races once; {', '.join(dupes)} appears more than once.")
    return tuple(names)


def _rates(learning_rates, names):
    if isinstance(learning_rates, dict):
        given = {lookup(k, OPTIMIZERS, ALIASES, "optimizer"): v for k, v in learning_rates.items()}
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError(f"learning_rates has no rate for {', '.join(missing)}.")
        rates = {n: given[n] for n in names}
    elif isinstance(learning_rates, (list, tuple)):
        if len(learning_rates) != len(names):
            raise ValueError(f"learning_rates lists {len(learning_rates)} rates for {len(names)} optimizers.")
        rates = dict(zip(names, learning_rates))
    else:
        rates = dict.fromkeys(names, learning_rates)
    for n, lr in rates.items():
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
                or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"The learning rate for {n} must be a positive number, got {lr!r}.")
    return {n: float(lr) for n, lr in rates.items()}


def race(model, X, y, optimizers=RACE_OPTIMIZERS, epochs=50, learning_rates=0.01, batch_size=32, shuffle=True,
         seed=None):
    """Train one copy of ``model`` per optimizer, all from the same weights on the same batches.

    ``model``: a built :class:`~mlp.MLP` with a loss (its weights are the start; it is not changed) or a
    config dict (``MLP.get_config()``; built with ``seed``). ``optimizers``: names (default sgd,
    sgd_momentum, rmsprop, adam), each with its PyTorch defaults plus the model's ``weight_decay`` and
    ``l1`` when its optimizer has them. ``learning_rates``: one rate for all, a dict by name, or a list in
    ``optimizers`` order. ``seed``: an int gives every copy ``np.random.default_rng(seed)`` for its shuffles
    (and dropout); None: the copies share the model's random state, so they still see the same batches.
    Returns a :class:`Race`.
    """
    from .network import MLP
    names = _racer_names(optimizers)
    rates = _rates(learning_rates, names)
    if isinstance(model, dict):
        base = MLP.from_config({**model, "seed": seed if seed is not None else model.get("seed")})
    elif isinstance(model, MLP):
        base = copy.deepcopy(model)
    else:
        raise TypeError(f"race needs an MLP or its get_config() dict, got {type(model).__name__}.")
    base.layers                               # (a clear error when it has none)
    if base.loss is None:
        raise ValueError("The model has no loss: call model.set_loss(...) before racing.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    X2, y2 = _checked(base, X, y)
    if seed is not None:
        base.rng = np.random.default_rng(seed)
    penalties = {}
    if base.optimizer is not None:
        penalties = {k: base.optimizer.hyper[k] for k in ("weight_decay", "l1") if base.optimizer.hyper.get(k)}
    base.history = None
    start = base.params.copy()
    histories, paths, models = {}, {}, {}
    for name in names:
        m = copy.deepcopy(base)               # same weights and the same random state: the same batches
        m.set_optimizer(name, **penalties)
        path = [start.copy()]
        with warnings.catch_warnings():       # a diverging racer stops; its History says why
            warnings.simplefilter("ignore", RuntimeWarning)
            histories[name] = m.fit(X2, y2, epochs=int(epochs), learning_rate=rates[name], batch_size=batch_size,
                                    shuffle=shuffle, callbacks=[lambda e, logs, m=m, p=path: p.append(m.params.copy())])
        paths[name] = np.array(path)
        models[name] = m
    return Race(optimizers=names, learning_rates=rates, histories=histories, paths=paths, models=models,
                start=start, X=X2, y=y2, epochs=int(epochs), batch_size=batch_size)


def _checked(model, X, y):
    """``X`` and ``y`` as ``model`` trains on them (checked, 2-D, one-hot labels for a softmax output): the
    arrays of a training run that is made, not stepped."""
    run = model.start_training(X, y, epochs=1, batch_size=None, shuffle=False)
    run.layer_stats = None
    return run.X, run.y


def _grid(lo, hi, n):
    """``n`` evenly spaced values covering [lo, hi] (lo <= 0 <= hi) with 0 exactly on a node; its index."""
    step = (hi - lo) / (n - 2)
    first = math.floor(lo / step)
    values = (first + np.arange(n)) * step
    zero = -first
    values[zero] = 0.0
    return values, zero


def _span(values, margin):
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    pad = margin * (hi - lo)
    if pad == 0.0:
        pad = 1.0
    return lo - pad, hi + pad


def loss_surface(race_result, X=None, y=None, resolution=31, margin=0.25, center="best"):
    """The loss over the 2-D plane of weight space through a race's paths (see the module docstring).

    ``race_result``: a :class:`Race`. ``X``, ``y``: the rows to evaluate the loss on (default: the race's
    training rows). ``resolution``: grid points per side (5 to 101). ``margin``: how far the grid reaches
    beyond the paths, as a fraction of their extent. ``center``: ``"best"`` (the end point with the lowest
    loss on these rows), ``"mean"`` (the mean of the end points) or an optimizer's name (its end point).
    The loss is the data loss ``model.evaluate`` reports (without an L1 penalty). Returns a :class:`LossSurface`.
    """
    if not isinstance(race_result, Race):
        raise TypeError(f"loss_surface needs the Race that mlp.race returns, got {type(race_result).__name__}.")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 5 <= resolution <= MAX_GRID:
        raise ValueError(f"resolution must be a whole number from 5 to {MAX_GRID}, got {resolution!r}.")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 10:
        raise ValueError(f"margin must be a number from 0 to 10, got {margin!r}.")
    names = race_result.optimizers
    probe = copy.deepcopy(race_result.models[names[0]])
    if X is None and y is None:
        X2, y2 = race_result.X, race_result.y
    elif X is None or y is None:
        raise ValueError("Give both X and y (the rows to evaluate the loss on), or neither (the race's rows).")
    else:
        X2, y2 = _checked(probe, X, y)

    def loss_at(flat):
        probe.params[...] = flat
        with np.errstate(all="ignore"):
            return probe.loss_and_accuracy(X2, y2, False)["loss"]

    ends = {n: race_result.paths[n][-1] for n in names}
    if center == "best":
        end_losses = {n: loss_at(ends[n]) for n in names}
        center_name = min(names, key=lambda n: (not math.isfinite(end_losses[n]), end_losses[n]))
        c = ends[center_name].astype(float)
    elif center == "mean":
        center_name, c = "mean", np.mean([ends[n] for n in names], axis=0)
    elif isinstance(center, str) and lookup(center, OPTIMIZERS, ALIASES, "optimizer") in names:
        center_name = lookup(center, OPTIMIZERS, ALIASES, "optimizer")
        c = ends[center_name].astype(float)
    else:
        raise ValueError(f"center must be 'best', 'mean' or one of the racers ({', '.join(names)}), got {center!r}.")
    points = np.concatenate([race_result.paths[n] for n in names]).astype(float) - c
    directions, explained = _directions(points)
    coords = points @ directions.T
    alphas, j0 = _grid(*_span(coords[:, 0], margin), resolution)
    betas, i0 = _grid(*_span(coords[:, 1], margin), resolution)
    ga, gb = (g.ravel()[:, None] for g in np.meshgrid(alphas, betas))     # node (i, j) = (betas[i], alphas[j])
    with np.errstate(all="ignore"):
        losses = _losses(probe, X2, y2, ga.size, lambda s, e: c + ga[s:e] * directions[0] + gb[s:e] * directions[1])
    losses = losses.reshape(resolution, resolution)
    losses[i0, j0] = center_loss = loss_at(c)        # the centre exactly as model.evaluate computes it
    paths, path_losses, start = {}, {}, 0
    for n in names:
        k = len(race_result.paths[n])
        paths[n] = coords[start:start + k]
        with np.errstate(all="ignore"):
            path_losses[n] = _losses(probe, X2, y2, k, lambda s, e, p=race_result.paths[n]: p[s:e])
        start += k
    return LossSurface(alphas=alphas, betas=betas, losses=losses, center=c, center_name=center_name,
                       center_loss=float(center_loss), center_index=(i0, j0), directions=directions,
                       explained=explained, paths=paths, path_losses=path_losses, optimizers=names)


def _losses(model, X, y, count, weights):
    """The loss of ``model``'s network with each of ``count`` flat weight vectors (``weights(start, stop)``
    gives rows start..stop as a (stop - start, parameters) array): the networks run side by side, a chunk at a
    time, as stacked (networks, rows, units) products through the model's own activations, each network's
    loss by the model's own loss function. (Equal to ``evaluate``'s loss up to rounding: the products are
    summed in another order.)"""
    from .losses import LOSSES
    value = LOSSES[model.loss][0]
    layers, dt = model.layers, model.dtype
    n, widest = X.shape[0], max(ly.n_out for ly in layers)
    chunk = max(1, _GRID_FLOATS // (n * widest))
    out = np.empty(count)
    for s in range(0, count, chunk):
        flat = np.asarray(weights(s, min(count, s + chunk)), dtype=dt)         # (networks, parameters)
        h = X
        for i, ly in enumerate(layers):
            (n_in, units), off = ly.W.shape, ly.offset
            W = flat[:, off:off + n_in * units].reshape(-1, n_in, units)
            z = np.matmul(h, W)                                                # (nodes, rows, units)
            z += flat[:, off + n_in * units:off + (n_in + 1) * units].reshape(-1, 1, units)
            keep = z.copy() if i == len(layers) - 1 else None                  # the output layer's z, for the loss
            h = ACTIVATIONS[ly.activation](z.reshape(-1, units)).reshape(z.shape)   # on (n, units) rows
        for g in range(h.shape[0]):
            out[s + g] = value(h[g], y, keep[g])
    return out


def _directions(points):
    """Two orthonormal directions (2, n_params): the principal directions of ``points`` (rows, taken from
    the centre, not their mean, as Li et al. do), signed so that the first point (the common start) has
    non-negative coordinates; and the share of the points' squared norm along each.

    From the eigenvectors of the smaller Gram matrix (points.T @ points, or points @ points.T when there are
    more parameters than points; then at most MAX_PCA_POINTS points spread evenly along the paths): a small
    symmetric eigenproblem instead of an SVD of the whole (points, parameters) matrix, which LAPACK
    parallelises badly on a busy machine (0.4 s against 5 ms measured here)."""
    n_points, n = points.shape
    if n <= n_points:
        vals, vecs = np.linalg.eigh(points.T @ points)
        vals, dirs = vals[::-1], vecs[:, ::-1].T
    else:
        rows = points if n_points <= MAX_PCA_POINTS else \
            points[np.unique(np.linspace(0, n_points - 1, MAX_PCA_POINTS).round().astype(int))]
        vals, vecs = np.linalg.eigh(rows @ rows.T)
        vals, vecs = vals[::-1], vecs[:, ::-1]
        dirs = (rows.T @ vecs[:, :2]).T
    keep = [d / np.linalg.norm(d) for d, v in zip(dirs[:2], vals[:2])
            if v > 1e-20 * max(1.0, vals[0]) and np.linalg.norm(d) > 0]
    rng = np.random.default_rng(0)
    while len(keep) < 2:                  # the paths span less than a plane: complete it with any orthogonal one
        v = rng.standard_normal(n)
        for d in keep:
            v -= (v @ d) * d
        if np.linalg.norm(v) > 1e-8:
            keep.append(v / np.linalg.norm(v))
    dirs = np.array(keep)
    first = points[0] @ dirs.T
    dirs[first < 0] *= -1.0
    total = float(np.sum(points * points))
    along = points @ dirs.T
    explained = np.sum(along * along, axis=0) / total if total else np.zeros(2)
    return dirs, explained
