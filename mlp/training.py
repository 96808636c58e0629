"""The training loop: one epoch over mini-batches (:func:`train_epoch`), and around it the run that can be
advanced a slice at a time (:class:`TrainingRun`): History, learning-rate schedules, early stopping,
callbacks, divergence and interruption handling."""
import math
import time
import warnings

import numpy as np

from . import losses as L
from .activations import ACTIVATIONS
from .backprop import feature_major
from .layerstats import LayerStats
from .metrics import count_correct

COPY_BYTES = 2 ** 20            # up to this, copy X shuffled each epoch; above, gather each batch


def train_epoch(model, X, y, lr, batch_size, shuffle, track_accuracy, w=None, probe=None):
    """One pass over the data, updating ``model`` batch by batch. Returns (mean loss, correct count), or
    (bad loss, None) if it diverged. ``w``: one weight per row (None: every row counts the same), making each
    batch's loss, and the epoch's, the weighted mean of the samples' losses. ``probe(grads, params, grad_scale)``,
    when given, sees the epoch's last step before its update (the gradient statistics of :mod:`mlp.layerstats`).

    The epoch's loss is the mean of the batch losses weighted by their rows (as Keras reports it), from each
    batch's outputs before its update: the output layer's z of every batch is kept and the epoch scored once
    at the end.
    Small data is copied once per epoch in shuffled order; bigger data is gathered batch by batch into
    a reused buffer, which stays in the CPU cache (and never copies all of X); so is sparse data (a
    scipy.sparse matrix), each batch made dense on its own."""
    n, k, dtype = X.shape[0], model.n_outputs, model.dtype
    order = (_order(shuffle, n) if callable(shuffle) else model.rng.permutation(n)) if shuffle else None
    opt = model.optimizer
    if opt.hyper["l1"] and opt.l1_mask is not model.l1_mask():
        opt.set_l1_mask(model.l1_mask())      # L1 on the weights only
    bp = model.backprop(batch_size)           # (sets model.grads to where the optimizer wants them)
    rng = model.rng if bp.has_dropout else None
    step, params, grads = opt.step, model.params, model.grads
    sparse = is_sparse(X)
    copy = not sparse and X.nbytes <= COPY_BYTES
    if copy:   # the shuffled inputs with a column of ones
        Xa = np.ones((n, X.shape[1] + 1), dtype=dtype)
        if order is None:
            Xa[:, :-1] = X
        else:
            Xa[:, :-1] = X.take(order, axis=0)   # 3x faster than np.take(..., out=) into the strided view
    if order is not None:
        y = y[order]
        w = None if w is None else w[order]
    full = n - n % batch_size
    t = bp.prepare(y)
    zs = np.empty((full // batch_size, k, batch_size), dtype=dtype)
    batches = list(zip(range(0, full, batch_size), feature_major(t[:full], batch_size), zs))
    if full < n:   # the last, smaller batch
        zr = np.empty((k, n - full), dtype=dtype)
        batches.append((full, feature_major(t[full:], n - full)[0], zr))
    weights = batch_weights(w, batch_size, n) if w is not None else [None] * len(batches)
    last = batches[-1][0] if probe is not None else -1
    for (s, tb, z), wb in zip(batches, weights):
        m = z.shape[1]
        if m != batch_size:
            bp = model.backprop(m)
        if copy:
            x = Xa[s:s + m]
        else:
            x = bp.input_buffer()
            rows = order[s:s + m] if order is not None else slice(s, s + m)
            if sparse:
                x[:, :-1] = X[rows].toarray()
            else:
                x[:, :-1] = X.take(rows, axis=0) if order is not None else X[rows]
        bp.step(x, tb, z, rng, wb)
        if s == last:
            probe(grads, params, opt.grad_scale)
        step(params, grads, lr)
    # scored sample-major, through transposed views of feature-major arrays: the reductions over
    # classes then run along whole contiguous rows, not over k values at a time (2-3x faster)
    z = zs.transpose(1, 0, 2).reshape(k, full)
    if full < n:
        z = np.concatenate([z, zr], axis=1)
    z, y = z.T, np.ascontiguousarray(y.T).T
    out = ACTIVATIONS[model.output_activation](np.copy(z))   # np.copy keeps the layout (ndarray.copy would not)
    loss = L.LOSSES[model.loss][0](out, y, z) if w is None else L.weighted(model.loss, out, y, z, w)
    if not math.isfinite(loss):
        return loss, None
    return loss, (count_correct(out, y) if track_accuracy else 0)


def _order(shuffle, n):
    """The epoch's order from a ``shuffle`` function, checked: a permutation of range(n)."""
    order = np.asarray(shuffle(n))
    if order.shape != (n,) or order.dtype.kind not in "iu" or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError(f"shuffle(n) must return a permutation of range({n}), got {order!r:.80}.")
    return order


def is_sparse(X):
    """Whether ``X`` is a scipy.sparse matrix or array (told by its methods: the engine does not import scipy).
    An ndarray is answered first: predict on a few rows takes microseconds, and a failing hasattr costs a
    fraction of one."""
    return type(X) is not np.ndarray and hasattr(X, "tocsr") and hasattr(X, "nnz")


def batch_weights(w, batch_size, n):
    """Each batch's sample weights divided by their mean, as (1, m) rows (a batch weighing nothing: zeros)."""
    out = []
    for s in range(0, n, batch_size):
        wb = w[s:s + batch_size]
        total = wb.sum()
        out.append((wb * (wb.size / total) if total > 0 else np.zeros_like(wb)).reshape(1, -1))
    return out


class History:
    """Per-epoch record of a ``fit`` call: ``history['loss']``, ``history['val_loss']``, metrics, ``lr``, and
    per dense layer ``l`` ``history['grad_norm/l']``, ``['update_ratio/l']``, ``['dead/l']`` (relu layers; see
    :mod:`mlp.layerstats`, and :func:`mlp.layerstats.layer_series` to read them by layer)."""

    def __init__(self):
        self.history = {}
        self.epochs = []
        self.stopped_early = False
        self.stop_reason = None
        self.best_epoch = None

    def append(self, epoch, logs):
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __len__(self):
        return len(self.epochs)

    def get_config(self):
        """JSON-friendly copy (used by the front ends and saved with models); ``to_dict`` is the same."""
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()},
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason, "best_epoch": self.best_epoch}

    to_dict = get_config

    @classmethod
    def from_config(cls, d):
        """A History from :meth:`get_config`'s dict; ``from_dict`` is the same."""
        h = cls()
        h.epochs = [int(e) for e in d.get("epochs", [])]
        h.history = {str(k): [float(x) for x in v] for k, v in d.get("history", {}).items()}
        h.stopped_early = bool(d.get("stopped_early", False))
        h.stop_reason = d.get("stop_reason")
        h.best_epoch = d.get("best_epoch")
        return h

    from_dict = from_config

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v and "/" not in k}   # not layer stats
        extra = f", stop_reason={self.stop_reason!r}" if self.stop_reason else ""
        return f"History(epochs={len(self.epochs)}, last={last}{extra})"


def check_positive(name, value, allow_zero=False):
    """Raise ValueError unless ``value`` is a finite number > 0 (>= 0 with ``allow_zero``), naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}.")


SCHEDULES = {
    # each: (lr0, epoch, epochs, **kw) -> learning rate of that epoch (epoch counts from 0)
    "constant": lambda lr0, e, n: lr0,
    "exponential": lambda lr0, e, n, gamma=1.0: lr0 * gamma ** e,
    "step": lambda lr0, e, n, step_size=None, gamma=0.1: lr0 * gamma ** (e // (step_size or max(1, n // 3))),
    "cosine": lambda lr0, e, n, min_lr=0.0: min_lr + (lr0 - min_lr) * (1 + math.cos(math.pi * e / max(1, n))) / 2,
}


def make_schedule(schedule, learning_rate, lr_decay, epochs):
    """Return ``f(epoch) -> lr``. ``schedule`` is None (exponential with ``lr_decay``), a name in
    SCHEDULES, a dict ``{"name": ..., **params}``, or a callable ``f(epoch) -> lr``."""
    check_positive("learning_rate", learning_rate)
    check_positive("lr_decay", lr_decay)
    learning_rate, lr_decay = float(learning_rate), float(lr_decay)   # NumPy scalars: Python arithmetic
    if callable(schedule):
        return schedule
    params = {}
    if isinstance(schedule, dict):
        params = dict(schedule)
        schedule = params.pop("name", None)
    name = (schedule or "exponential").lower() if isinstance(schedule or "", str) else None
    if name not in SCHEDULES:
        raise ValueError(f"Unknown lr_schedule {schedule!r}. Allowed: {', '.join(SCHEDULES)}, "
                         f"a dict like {{'name': 'step', 'step_size': 10, 'gamma': 0.5}}, or a function epoch -> lr.")
    if name == "exponential":
        params.setdefault("gamma", lr_decay)
    elif lr_decay != 1.0:
        raise ValueError(f"lr_decay={lr_decay} applies to the exponential schedule; with lr_schedule='{name}' leave it at 1.0.")
    fn = SCHEDULES[name]
    try:
        fn(learning_rate, 0, epochs, **params)
    except TypeError:
        raise ValueError(f"lr_schedule '{name}' got unexpected parameters {sorted(params)}.") from None
    return lambda epoch: fn(learning_rate, epoch, epochs, **params)


class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; optionally
    restore the best weights seen."""

    def __init__(self, patience=10, min_delta=0.0, monitor=None, restore_best_weights=True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"early_stopping patience must be a whole number >= 1, got {patience!r}.")
        check_positive("min_delta", min_delta, allow_zero=True)
        self.patience, self.min_delta, self.monitor = patience, float(min_delta), monitor
        self.restore_best_weights = bool(restore_best_weights)

    @classmethod
    def coerce(cls, value):
        if value is None or value is False:
            return None
        if isinstance(value, cls):
            return value
        if value is True:
            return cls()
        if isinstance(value, int):
            return cls(patience=value)
        if isinstance(value, dict):
            try:
                return cls(**value)
            except TypeError as e:
                raise ValueError(f"early_stopping dict: {e}. Keys: patience, min_delta, monitor, restore_best_weights.") from None
        raise TypeError(f"early_stopping must be None, a patience (int), a dict or EarlyStopping, got {value!r}.")

    def __repr__(self):
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r})"


class TrainingRun:
    """A training run created by ``MLP.start_training`` (``MLP.fit`` is ``start_training(...).run()``).

    ``step(epochs=None, seconds=None)`` trains whole epochs, until ``epochs`` more are done or
    ``seconds`` have passed, and returns; a front end calls it repeatedly and stays responsive.
    Early stopping, the schedule and the history continue across steps exactly as in one ``fit``.
    """

    def __init__(self, model, X, y, Xv, yv, epochs, schedule, batch_size, shuffle, stopper, callbacks,
                 verbose, track_accuracy, sample_weight=None):
        self.model, self.X, self.y, self.Xv, self.yv, self.sample_weight = model, X, y, Xv, yv, sample_weight
        self.epochs, self.schedule, self.batch_size, self.shuffle = epochs, schedule, batch_size, shuffle
        self.stopper, self.callbacks, self.verbose, self.track_accuracy = stopper, callbacks, verbose, track_accuracy
        self.monitor = stopper and (stopper.monitor or ("val_loss" if Xv is not None else "loss"))
        self.best, self.best_params, self.wait = math.inf, None, 0
        self.history = History()
        model.history = self.history
        self.layer_stats = LayerStats(model, X, self.history)   # gradient flow (mlp/layerstats.py); None: off
        self.epoch = 0       # epochs completed
        self.done = False

    def run(self):
        """Train to the end; return the History."""
        return self.step()

    def step(self, epochs=None, seconds=None):
        """Train up to ``epochs`` more epochs or for about ``seconds`` (at least one epoch); return the History."""
        deadline = None if seconds is None else time.perf_counter() + float(seconds)
        done_here = 0
        try:
            while not self.done:
                self._epoch()
                done_here += 1
                if epochs is not None and done_here >= epochs:
                    break
                if deadline is not None and time.perf_counter() >= deadline:
                    break
        finally:
            if self.layer_stats is not None:
                self.layer_stats.flush()
        return self.history

    def stop(self, reason="stopped by the user"):
        """End the run now, keeping the weights trained so far."""
        if not self.done:
            self._finish(reason)

    def _finish(self, reason=None):
        self.done = True
        if reason:
            self.history.stopped_early, self.history.stop_reason = True, reason

    def _epoch(self):
        model, ep = self.model, self.epoch
        lr = float(self.schedule(ep))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"The learning-rate schedule gave {lr!r} at epoch {ep}.")
        snapshot = model.params.copy()
        opt = model.optimizer
        opt_snapshot = (opt.t, {k: v.copy() for k, v in opt.state.items()})

        def undo():   # back to the end of the previous epoch: weights and optimizer moments
            model.params[...] = snapshot
            opt.set_state(*opt_snapshot)
        try:
            stats = self.layer_stats
            loss, correct = train_epoch(model, self.X, self.y, lr, self.batch_size, self.shuffle, self.track_accuracy,
                                        self.sample_weight, stats.capture if stats is not None else None)
        except BaseException as e:   # Ctrl-C ends training; any other error (a custom activation...) goes on
            undo()
            if not isinstance(e, KeyboardInterrupt):
                raise
            return self._finish(f"interrupted during epoch {ep + 1}; the weights from the end of epoch {ep} were kept")
        if correct is None or not np.isfinite(model.params).all():
            undo()   # the moments saw the diverging gradients too
            self._finish(f"the loss became {loss!r} during epoch {ep + 1} (learning rate {lr:g}); training stopped "
                         f"and the weights from the end of epoch {ep} were kept. Try a smaller learning rate or "
                         "standardized inputs.")
            warnings.warn(self.history.stop_reason, RuntimeWarning, stacklevel=4)
            return None
        logs = {"loss": loss}
        if self.track_accuracy:
            logs["accuracy"] = float(correct / self.X.shape[0])
        if self.Xv is not None:
            logs.update({"val_" + k: v for k, v in model.loss_and_accuracy(self.Xv, self.yv, self.track_accuracy).items()})
        logs["lr"] = lr
        self.epoch = ep + 1
        self.history.append(self.epoch, logs)
        if stats is not None:
            stats.end_epoch()
        if self.verbose and (self.verbose > 1 or ep == 0 or self.epoch % max(1, self.epochs // 10) == 0
                             or self.epoch == self.epochs):
            print(f"epoch {self.epoch}/{self.epochs} " + " ".join(f"{k}={v:.6g}" for k, v in logs.items()))
        if self.stopper is not None and self._early_stop(logs):
            return None
        for cb in self.callbacks:
            stop = cb.on_epoch_end(self.epoch, logs) if hasattr(cb, "on_epoch_end") else cb(self.epoch, logs)
            if stop:
                return self._finish(f"stopped by a callback after epoch {self.epoch}")
        if self.epoch >= self.epochs:
            self._finish()
        return None

    def _early_stop(self, logs):
        stopper, monitor = self.stopper, self.monitor
        if monitor not in logs:
            raise ValueError(f"early_stopping monitors {monitor!r}, which is not logged; logged: {', '.join(logs)}.")
        if logs[monitor] < self.best - stopper.min_delta:
            self.best, self.wait, self.history.best_epoch = logs[monitor], 0, self.epoch
            if stopper.restore_best_weights:
                self.best_params = self.model.params.copy()
            return False
        self.wait += 1
        if self.wait < stopper.patience:
            return False
        if self.best_params is not None:
            self.model.params[...] = self.best_params
        self._finish(f"early stopping: {monitor} did not improve for {stopper.patience} epochs "
                     f"(best {self.best:.6g} at epoch {self.history.best_epoch})")
        return True

    def __repr__(self):
        return f"TrainingRun(epoch={self.epoch}/{self.epochs}, done={self.done})"
