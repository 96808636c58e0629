"""Activation functions as tables of tiny functions (one place to extend).

``ACTIVATIONS[name](z)`` maps pre-activations to activations. Built-ins may overwrite ``z`` in place
(the network passes a copy when the name is in ``NEEDS_Z``). ``DERIVATIVES[name](z, a)`` gives the
element-wise derivative da/dz. ``BACKWARD[name](grad, z, a)`` turns dL/da into dL/dz in place; it is
derived from ``DERIVATIVES`` unless a faster or non-element-wise rule is given (softmax).
``FORWARD_FOR_BUFFER`` / ``BACKWARD_FOR_BUFFER`` make faster versions for a buffer reused every step (relu).
"""
import math

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# 0-d constants of each float type: a NumPy operand of the array's own type costs less than a Python float
_ZERO = {np.dtype(t): np.zeros((), dtype=t) for t in (np.float32, np.float64)}
HALF = {np.dtype(t): np.full((), 0.5, dtype=t) for t in (np.float32, np.float64)}


def _sigmoid(z):
    # 1 / (1 + exp(-z)) written as (1 + tanh(z/2)) / 2: no overflow, four calls, in place
    half = HALF.get(z.dtype, 0.5)
    z *= half
    np.tanh(z, out=z)
    z *= half
    z += half
    return z


def _softmax(z):
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _gelu(z):  # tanh approximation, as torch.nn.GELU(approximate="tanh")
    return 0.5 * z * (1.0 + np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)))


def _gelu_derivative(z, a):
    inner = SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)
    t = np.tanh(inner)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z * z)


def _swish(z):  # x * sigmoid(x), as torch.nn.SiLU
    return z * _sigmoid(z.copy())


def _swish_derivative(z, a):
    s = _sigmoid(z.copy())
    return s * (1.0 + z * (1.0 - s))


def _softplus(z):  # log(1 + exp(z)), stable
    return np.logaddexp(0.0, z)


ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, _ZERO.get(z.dtype, 0.0), out=z),
    "leaky_relu": lambda z: np.maximum(z, LEAKY_SLOPE * z, out=z),
    "tanh": lambda z: np.tanh(z, out=z),
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "gelu": _gelu,
    "elu": lambda z: np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0))),
    "softplus": _softplus,
    "swish": _swish,
}

DERIVATIVES = {
    "linear": lambda z, a: np.ones_like(a),
    "relu": lambda z, a: (a > 0).astype(a.dtype),
    "leaky_relu": lambda z, a: np.where(a > 0, 1.0, LEAKY_SLOPE).astype(a.dtype),
    "tanh": lambda z, a: 1.0 - a * a,
    "sigmoid": lambda z, a: a * (1.0 - a),
    "softmax": None,  # not element-wise: see BACKWARD
    "gelu": _gelu_derivative,
    "elu": lambda z, a: np.where(a > 0, 1.0, a + ELU_ALPHA).astype(a.dtype),
    "softplus": lambda z, a: -np.expm1(-a),  # sigmoid(z) = 1 - exp(-softplus(z))
    "swish": _swish_derivative,
}

# Activations whose layers start He-normal (std sqrt(2 / fan_in)) with biases RELU_BIAS; the rest start
# Xavier-normal (std sqrt(2 / (fan_in + fan_out))) with biases 0. RELU_BIAS = 0.3: fewer units die early in
# training (on the XOR example of the README, 90 of 100 seeds learn instead of 85: benchmarks/xor_seeds.py).
HE_INIT = {"relu", "leaky_relu", "elu", "gelu", "swish"}
RELU_BIAS = 0.3

# Activations whose derivative needs the pre-activation z (the rest use only a).
NEEDS_Z = {"gelu", "swish"}
# Activations computed in place: they overwrite z (the others return a new array, or z itself for linear).
IN_PLACE = {"relu", "leaky_relu", "tanh", "sigmoid", "softmax"}


def _softmax_backward(grad, z, a):
    # Jacobian-vector product of softmax: a * (g - sum(g * a))
    grad -= (grad * a).sum(axis=1, keepdims=True)
    grad *= a
    return grad


def _relu_backward(grad, z, a):
    grad *= np.sign(a)   # a = relu(z) >= 0, so sign(a) is the 0/1 derivative (two fast calls)
    return grad


BACKWARD = {
    "linear": lambda grad, z, a: grad,
    "relu": _relu_backward,
    "softmax": _softmax_backward,
}


def _relu_for(z):
    # NumPy's fast loop for maximum wants two full arrays: with a scalar 0 it is ~4x slower on a large batch
    zeros = np.zeros_like(z)
    return lambda z: np.maximum(z, zeros, out=z)


def _relu_backward_for(a):
    if a.size < 4096:     # small: sign is the cheaper call
        mask = np.empty_like(a)
        mark = lambda a: np.sign(a, out=mask)
    else:                 # large: a > 0 against a zeros array takes NumPy's fast loop; sign has none
        zeros, mask = np.zeros_like(a), np.empty_like(a, dtype=bool)
        mark = lambda a: np.greater(a, zeros, out=mask)

    def relu_backward(grad, z, a):
        mark(a)
        grad *= mask
        return grad
    return relu_backward


# Versions made for one reused buffer (its shape and layout), where that is faster: name -> factory(buffer)
FORWARD_FOR_BUFFER = {"relu": _relu_for}
BACKWARD_FOR_BUFFER = {"relu": _relu_backward_for}


def forward_fn(name, z):
    """``f(z)`` for activation ``name``, for repeated calls on the same buffer ``z``."""
    make = FORWARD_FOR_BUFFER.get(name)
    return ACTIVATIONS[name] if make is None else make(z)


def backward_fn(name, a=None):
    """``f(grad, z, a) -> dL/dz`` for activation ``name`` (may modify ``grad`` in place). ``a``: the
    buffer it will be called with, when known (see BACKWARD_FOR_BUFFER)."""
    make = BACKWARD_FOR_BUFFER.get(name)
    if make is not None and a is not None:
        return make(a)
    fast = BACKWARD.get(name)
    if fast is not None:
        return fast
    derivative = DERIVATIVES[name]

    def f(grad, z, a):
        grad *= derivative(z, a)
        return grad
    return f


def register_activation(name, forward, derivative):
    """Add a custom activation usable by name in architectures.

    ``forward(z)`` returns the activation of a 2-D array ``z`` (it must not rely on keeping ``z``), same shape;
    ``derivative(z, a)`` returns the element-wise derivative da/dz (an array, or a constant). Both are tried
    on a small test array here, so a function that cannot work is refused now with the reason. The
    activation is not saved inside model files: register it again before loading a model that uses it.
    """
    if not isinstance(name, str) or not name.strip().isidentifier():
        raise ValueError(f"Activation name must be an identifier-like string, got {name!r}.")
    if not callable(forward) or not callable(derivative):
        raise TypeError("register_activation needs two callables: forward(z) and derivative(z, a).")
    key = name.strip().lower()
    if key in _BUILTIN:
        raise ValueError(f"'{key}' is a built-in activation and cannot be replaced.")

    def checked_forward(z):
        return _numbers(key, "forward(z)", forward(z.copy()), z.shape, z.dtype, exact=True)

    def checked_derivative(z, a):
        return _numbers(key, "derivative(z, a)", derivative(z, a), z.shape, z.dtype, exact=False)

    probe = np.linspace(-3.0, 3.0, 12).reshape(3, 4)   # fail here, with the reason, rather than mid-training
    for what, call in (("forward(z)", lambda: checked_forward(probe)),
                       ("derivative(z, a)", lambda: checked_derivative(probe, checked_forward(probe)))):
        try:
            call()
        except _BadOutput as e:
            raise ValueError(f"register_activation: {e}") from None
        except Exception as e:
            raise ValueError(f"register_activation('{key}'): {what} fails on a test array z of shape (3, 4): "
                             f"{type(e).__name__}: {e}") from None
    ACTIVATIONS[key] = checked_forward
    DERIVATIVES[key] = checked_derivative
    NEEDS_Z.add(key)
    return key


class _BadOutput(ValueError):
    pass


def _numbers(key, what, value, shape, dtype, exact):
    # a custom activation's output as an array of the network's float type: z's shape (the forward), or a
    # shape that broadcasts to it (a derivative may be a constant)
    out = np.asarray(value)
    try:
        fits = out.shape == shape if exact else np.broadcast_shapes(out.shape, shape) == shape
    except ValueError:
        fits = False
    if out.dtype.kind not in "biuf" or not fits:
        raise _BadOutput(f"the {what} of activation '{key}' must return real numbers of z's shape {shape}"
                         f"{'' if exact else ' (or a shape that broadcasts to it)'}; it returned "
                         f"{out.dtype} values of shape {out.shape}.")
    return out.astype(dtype, copy=False)


_BUILTIN = frozenset(ACTIVATIONS)
