"""Loss functions with PyTorch's default ``reduction='mean'``.

``LOSSES[name] = (value, grad)``: ``value(a, y, z)`` is the mean loss of outputs ``a`` (``z`` is the
output layer's pre-activation, used for numerically stable cross-entropies); ``grad(a, y)`` is dL/da.
``FUSED[(activation, loss)]`` gives dL/dz directly from z for the classic pairs (one short expression
instead of the activation, a loss gradient and the activation's Jacobian).

mse / mae / huber / bce average over all elements; cce averages the per-sample sum over samples.
"""
import numpy as np

from .activations import ACTIVATIONS, HALF
from .architecture import lookup

HUBER_DELTA = 1.0


def _mse(a, y, z=None):
    d = (a - y).ravel()
    return float(np.dot(d, d)) / d.size


def _mae(a, y, z=None):
    return float(np.abs(a - y).mean())


def _huber(a, y, z=None, delta=HUBER_DELTA):
    d = np.abs(a - y)
    return float(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)).mean())


def _bce(a, y, z=None):
    if z is not None:  # from logits: mean(softplus(z) - y z), exact and stable
        return (float(np.add.reduce(np.logaddexp(0.0, z), axis=None)) - float(np.vdot(y, z))) / z.size
    # from probabilities, with log clamped at -100 as torch.nn.BCELoss does
    la = np.maximum(np.log(a), -100.0)
    l1a = np.maximum(np.log1p(-a), -100.0)
    return float(-(y * la + (1.0 - y) * l1a).mean())


def _cce(a, y, z=None):
    if z is not None:  # log-softmax of logits
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1, keepdims=True)) + m
        return float((y * (lse - z)).sum() / z.shape[0])
    return float(-(y * np.maximum(np.log(a), -100.0)).sum() / a.shape[0])


LOSSES = {
    "mse": (_mse, lambda a, y: (a - y) * (2.0 / a.size)),
    "mae": (_mae, lambda a, y: np.sign(a - y) * (1.0 / a.size)),
    "huber": (_huber, lambda a, y: np.clip(a - y, -HUBER_DELTA, HUBER_DELTA) * (1.0 / a.size)),
    "bce": (_bce, None),  # only with a sigmoid output: see FUSED
    "cce": (_cce, None),  # only with a softmax output: see FUSED
}


class Fused:
    """dL/dz of an output activation and loss pair, in one expression: ``scale * grad(z, t)``.

    ``prepare(y)`` turns the targets into ``t`` once per epoch; ``grad(z, t, out)`` writes the unscaled
    gradient into ``out``; the network multiplies by ``factor / N`` (N: elements, or samples for cce)."""

    def __init__(self, prepare, grad, factor):
        self.prepare, self.grad, self.factor = prepare, grad, factor

    def __repr__(self):
        return f"Fused(factor={self.factor})"


def _sigmoid_bce(z, t, out):
    # a - y = (1 + tanh(z/2))/2 - y = (tanh(z/2) + t) / 2 with t = 1 - 2y
    np.multiply(z, HALF.get(z.dtype, 0.5), out=out)
    np.tanh(out, out=out)
    out += t


def _softmax_cce(z, t, out):
    out[...] = z
    ACTIVATIONS["softmax"](out)   # in place
    out -= t


def _linear_mse(z, t, out):
    np.subtract(z, t, out=out)


FUSED = {
    ("sigmoid", "bce"): Fused(lambda y: 1.0 - 2.0 * y, _sigmoid_bce, 0.5),
    ("softmax", "cce"): Fused(lambda y: y, _softmax_cce, 1.0),
    ("linear", "mse"): Fused(lambda y: y, _linear_mse, 2.0),
}
MEAN_OVER_SAMPLES = {"cce"}   # cce: mean over samples of the per-sample sum; the others: over all elements

# Losses that require a given output activation (and the reverse).
REQUIRED_OUTPUT = {"bce": "sigmoid", "cce": "softmax"}
ALIASES = {"binary_crossentropy": "bce", "binary_cross_entropy": "bce", "categorical_crossentropy": "cce",
           "cross_entropy": "cce", "crossentropy": "cce", "ce": "cce", "mean_squared_error": "mse",
           "mean_absolute_error": "mae", "l2": "mse", "l1": "mae", "smooth_l1": "huber"}
CLASSIFICATION = {"bce", "cce"}


def compatible_losses(output_activation):
    """Losses that may be used with a network whose output activation is ``output_activation``."""
    own = [loss for loss, act in REQUIRED_OUTPUT.items() if act == output_activation]
    return own + ["mse", "mae", "huber"]


def resolve(name):
    """Canonical loss name, or a ValueError listing the allowed names."""
    return lookup(name, LOSSES, ALIASES, "loss")


def check_pairing(loss, output_activation):
    """Raise if ``loss`` cannot be used with ``output_activation``; say what is allowed."""
    need = REQUIRED_OUTPUT.get(loss)
    if need is not None and output_activation != need:
        raise ValueError(f"Loss '{loss}' needs a '{need}' output layer, but the output activation is "
                         f"'{output_activation}'. With '{output_activation}' use one of: "
                         f"{', '.join(compatible_losses(output_activation))}; or end the architecture with '{need}'.")
