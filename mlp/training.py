"""Training helpers: History, learning-rate schedules, early stopping."""
import math


class History:
    """Per-epoch record of a ``fit`` call: ``history['loss']``, ``history['val_loss']``, metrics, ``lr``."""

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

    def to_dict(self):
        """JSON-friendly copy (used by the front ends and saved with models)."""
        return {"epochs": list(self.epochs), "history": {k: list(v) for k, v in self.history.items()},
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, d):
        h = cls()
        h.epochs = [int(e) for e in d.get("epochs", [])]
        h.history = {str(k): [float(x) for x in v] for k, v in d.get("history", {}).items()}
        h.stopped_early = bool(d.get("stopped_early", False))
        h.stop_reason = d.get("stop_reason")
        h.best_epoch = d.get("best_epoch")
        return h

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        extra = f", stop_reason={self.stop_reason!r}" if self.stop_reason else ""
        return f"History(epochs={len(self.epochs)}, last={last}{extra})"


def _check_positive(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            value < 0 or (value == 0 and not allow_zero):
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
    _check_positive("learning_rate", learning_rate)
    _check_positive("lr_decay", lr_decay)
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
        _check_positive("min_delta", min_delta, allow_zero=True)
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
