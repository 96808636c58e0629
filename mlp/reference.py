"""One training step of the network, written as plainly as a textbook.

This module is the readable twin of the fast engine (``backprop.py`` and ``optimizers.py``): the same
mathematics with none of the speed tricks, so a newcomer can read it next to the equations. It is also a
second, independent implementation that the fast path is tested against, and the code that
``MLP.trace`` runs and the apps' "Explain a step" shows.

Conventions (as in most textbooks and in PyTorch):

* a batch is *sample-major*: ``n`` samples of ``u`` units are an array of shape ``(n, u)``, one row per
  sample;
* a dense layer has weights ``W`` of shape ``(n_in, n_out)`` and a bias ``b`` of shape ``(n_out,)``;
* ``a_prev`` is the layer's input (the data for the first layer), ``z`` its pre-activation, ``a = f(z)``
  its output, and ``delta = dL/dz``, the gradient of the loss with respect to ``z``;
* ``L`` is the mean loss over the batch (PyTorch's ``reduction='mean'``), plus ``l1 * sum|W|`` over
  every weight matrix when the L1 penalty is on (biases are not penalised).

The activation functions ``f`` and their derivatives ``f'`` come from the engine's tables
(``mlp/activations.py``), so custom activations work here too. Nothing is done in place: every step makes
new arrays, and the arrays passed in are never changed.

The step, in order:

1. forward, layer by layer:      z = a_prev @ W + b,  a = f(z)                     (layer_forward)
2. the loss of the output:       L = mean loss(a_out, y)                            (loss_value)
3. the output layer's delta:     delta = dL/dz_out                                  (output_delta)
4. backwards through the layers: delta = (delta_next @ W_next.T) * f'(z)            (hidden_delta)
5. each layer's gradients:       dL/dW = a_prev.T @ delta (+ l1 sign(W)),  dL/db = sum of delta's rows
                                                                                    (layer_gradients)
6. each parameter's update by the optimizer, with PyTorch's formulas and state names (UPDATES, update_layers)
"""
import ast
import os
from dataclasses import dataclass, field

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES
from .losses import HUBER_DELTA


# ---------------------------------------------------------------------------- 1. forward
def activate(activation, z):
    """The activation function: a = f(z), applied to every element (softmax: to every row)."""
    return ACTIVATIONS[activation](np.array(z))   # a copy: the engine's functions may overwrite z


def layer_forward(a_prev, W, b, activation):
    """One dense layer: z = a_prev @ W + b, then a = f(z). Shapes (n, n_in) -> (n, n_out)."""
    z = a_prev @ W + b            # z[s, j] = sum_i a_prev[s, i] * W[i, j] + b[j]
    a = activate(activation, z)   # a[s, j] = f(z[s, j])
    return z, a


def forward(x, layers):
    """The whole network: each layer's (a_prev, z, a), first layer first. ``layers``: (W, b, activation)."""
    steps = []
    a = x                                   # the first layer's input is the data
    for W, b, activation in layers:
        z, a_next = layer_forward(a, W, b, activation)
        steps.append((a, z, a_next))
        a = a_next                          # this layer's output is the next layer's input
    return steps


# ---------------------------------------------------------------------------- 2. the loss
def loss_value(loss, z_out, a_out, y):
    """The mean loss of the output ``a_out`` (``z_out``: its pre-activation) against targets ``y``.

    mse, mae, huber, bce and poisson average over all n*k elements; cce averages over the n samples."""
    if loss == "mse":           # mean of (a - y)^2
        return float(np.mean((a_out - y) ** 2))
    if loss == "mae":           # mean of |a - y|
        return float(np.mean(np.abs(a_out - y)))
    if loss == "huber":         # mean of 1/2 d^2 where |d| < delta, else delta (|d| - delta/2); d = a - y
        d = np.abs(a_out - y)
        return float(np.mean(np.where(d < HUBER_DELTA, 0.5 * d ** 2, HUBER_DELTA * (d - 0.5 * HUBER_DELTA))))
    if loss == "bce":
        # -mean(y log a + (1 - y) log(1 - a)) with a = sigmoid(z), written with z so that it stays exact
        # for large |z|: log(1 + e^z) - y z for each element (softplus(z) - y z)
        return float(np.mean(np.logaddexp(0.0, z_out) - y * z_out))
    if loss == "cce":
        # -(1/n) sum_s sum_j y[s, j] log a[s, j], with a = softmax(z): log a = z - log(sum_j e^z)
        log_a = z_out - log_sum_exp(z_out)
        return float(-np.sum(y * log_a) / len(y))
    if loss == "poisson":       # mean of e^a - y a: the (linear) output a is the log of the rate
        return float(np.mean(np.exp(a_out) - y * a_out))
    raise ValueError(f"unknown loss {loss!r}")


def log_sum_exp(z):
    """log(sum_j e^z[s, j]) for each row s, as a column, without overflow (subtract the row's maximum)."""
    m = z.max(axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def l1_penalty(weights, l1):
    """The L1 penalty added to the loss: l1 * sum over every weight matrix of sum |W| (no biases)."""
    return float(l1 * sum(np.sum(np.abs(W)) for W in weights))


# ---------------------------------------------------------------------------- 3. the output delta
def output_delta(loss, activation, z_out, a_out, y):
    """delta = dL/dz of the output layer, shape (n, k).

    For sigmoid + bce and softmax + cce the chain rule simplifies to (a - y) / N; otherwise it is
    dL/da (the loss's derivative) taken back through the activation."""
    n, k = a_out.shape
    if loss == "bce":           # sigmoid + bce: dL/dz = (a - y) / (n k)
        return (a_out - y) / (n * k)
    if loss == "cce":           # softmax + cce: dL/dz = (a - y) / n
        return (a_out - y) / n
    if loss == "poisson":       # linear output (a = z, the log of the rate): dL/dz = (e^z - y) / (n k)
        return (np.exp(z_out) - y) / (n * k)
    if loss == "mse":           # dL/da = 2 (a - y) / (n k)
        dL_da = 2.0 * (a_out - y) / (n * k)
    elif loss == "mae":         # dL/da = sign(a - y) / (n k)
        dL_da = np.sign(a_out - y) / (n * k)
    elif loss == "huber":       # dL/da = clip(a - y, -delta, delta) / (n k)
        dL_da = np.clip(a_out - y, -HUBER_DELTA, HUBER_DELTA) / (n * k)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return back_through_activation(activation, dL_da, z_out, a_out)


def back_through_activation(activation, dL_da, z, a):
    """dL/dz from dL/da: times f'(z) element by element (softmax: its Jacobian, row by row)."""
    if activation == "softmax":
        # da_j/dz_i = a_j (1[i = j] - a_i), so dL/dz_i = a_i (dL/da_i - sum_j dL/da_j a_j)
        return a * (dL_da - np.sum(dL_da * a, axis=1, keepdims=True))
    return dL_da * DERIVATIVES[activation](z, a)      # f'(z), from the engine's table


# ---------------------------------------------------------------------------- 4. hidden deltas
def hidden_delta(delta_next, W_next, z, a, activation):
    """delta of a hidden layer from the next layer's: (delta_next @ W_next.T) * f'(z), shape (n, units)."""
    dL_da = delta_next @ W_next.T     # dL/da[s, i] = sum_j delta_next[s, j] * W_next[i, j]
    return back_through_activation(activation, dL_da, z, a)


# ---------------------------------------------------------------------------- 5. gradients
def layer_gradients(a_prev, delta, W, l1=0.0):
    """dL/dW = a_prev.T @ delta (+ l1 * sign(W), the L1 penalty's gradient); dL/db = delta summed over samples."""
    grad_W = a_prev.T @ delta         # dL/dW[i, j] = sum_s a_prev[s, i] * delta[s, j]
    if l1:
        grad_W = grad_W + l1 * np.sign(W)   # d(l1 |w|)/dw = l1 sign(w)   (0 at w = 0, as torch)
    grad_b = delta.sum(axis=0)        # dL/db[j] = sum_s delta[s, j]
    return grad_W, grad_b


def forward_backward(x, y, layers, loss, l1=0.0):
    """Forward and backward pass of one batch. ``layers``: a list of (W, b, activation).

    Returns ``(loss, penalty, steps)``: the mean data loss, the L1 penalty, and for each layer (first
    first) a dict with its ``a_prev, z, a, delta, grad_W, grad_b``."""
    steps = [dict(a_prev=a_prev, z=z, a=a) for a_prev, z, a in forward(x, layers)]
    last = steps[-1]
    data_loss = loss_value(loss, last["z"], last["a"], y)
    penalty = l1_penalty([W for W, b, activation in layers], l1)
    # backwards: the output layer first, then each hidden layer from the delta of the layer after it
    last["delta"] = output_delta(loss, layers[-1][2], last["z"], last["a"], y)
    for i in range(len(layers) - 2, -1, -1):
        W_next = layers[i + 1][0]
        steps[i]["delta"] = hidden_delta(steps[i + 1]["delta"], W_next, steps[i]["z"], steps[i]["a"], layers[i][2])
    for step, (W, b, activation) in zip(steps, layers):
        step["grad_W"], step["grad_b"] = layer_gradients(step["a_prev"], step["delta"], W, l1)
    return data_loss, penalty, steps


# ---------------------------------------------------------------------------- 6. optimizers
# Each update takes one parameter array p, its gradient g, its state (a dict with PyTorch's names;
# empty before the first step), the step number t (1 for the first step) and the learning rate lr, and
# returns the new parameter and the new state. weight_decay (L2) adds wd * p to the gradient, as
# torch.optim does (AdamW instead shrinks p directly). The formulas are torch.optim's with its defaults.

def sgd_update(p, g, state, t, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """SGD: p = p - lr g. With momentum mu: b = mu b + g (b = g at t = 1), then step along b
    (nesterov: along g + mu b)."""
    g = g + weight_decay * p                          # L2: g = g + wd p
    if not momentum:
        return p - lr * g, {}
    b = momentum * state.get("momentum_buffer", 0.0) + g     # b = mu b + g  (b = g at t = 1: b starts at 0)
    step = g + momentum * b if nesterov else b
    return p - lr * step, {"momentum_buffer": b}


def sgd_momentum_update(p, g, state, t, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
    """SGD with momentum 0.9 by default (see sgd_update)."""
    return sgd_update(p, g, state, t, lr, momentum, nesterov, weight_decay)


def rmsprop_update(p, g, state, t, lr, rho=0.9, eps=1e-8, weight_decay=0.0):
    """RMSprop (torch's alpha is rho): v = rho v + (1 - rho) g^2;  p = p - lr g / (sqrt(v) + eps)."""
    g = g + weight_decay * p
    v = rho * state.get("square_avg", 0.0) + (1 - rho) * g ** 2
    return p - lr * g / (np.sqrt(v) + eps), {"square_avg": v}


def adam_update(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  p = p - lr m_hat / (sqrt(v_hat) + eps)."""
    g = g + weight_decay * p
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g            # first moment (mean of g)
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g ** 2    # second moment (mean of g^2)
    m_hat = m / (1 - beta1 ** t)      # bias corrections: m and v start at 0
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), {"exp_avg": m, "exp_avg_sq": v}


def adamw_update(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """AdamW: decoupled weight decay, p = p - lr wd p, then Adam's step with the plain gradient."""
    p = p - lr * weight_decay * p
    return adam_update(p, g, state, t, lr, beta1, beta2, eps, weight_decay=0.0)


def adagrad_update(p, g, state, t, lr, eps=1e-10, weight_decay=0.0):
    """Adagrad: s = s + g^2 (the sum of every squared gradient so far);  p = p - lr g / (sqrt(s) + eps)."""
    g = g + weight_decay * p
    s = state.get("sum", 0.0) + g ** 2
    return p - lr * g / (np.sqrt(s) + eps), {"sum": s}


def nadam_update(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=0.004, weight_decay=0.0):
    """NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum schedule
    mu_t = b1 (1 - 0.5 * 0.96^(t psi)), psi = momentum_decay; mu_product = mu_1 mu_2 ... mu_t;
    p = p - lr (1 - mu_t) / (1 - mu_product) g / d - lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / d,
    with d = sqrt(v / (1 - b2^t)) + eps."""
    g = g + weight_decay * p
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state.get("mu_product", 1.0) * mu
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g ** 2
    d = np.sqrt(v / (1 - beta2 ** t)) + eps
    p = p - lr * (1 - mu) / (1 - mu_product) * g / d - lr * mu_next / (1 - mu_product * mu_next) * m / d
    return p, {"exp_avg": m, "exp_avg_sq": v, "mu_product": mu_product}


UPDATES = {"sgd": sgd_update, "sgd_momentum": sgd_momentum_update, "rmsprop": rmsprop_update,
           "adam": adam_update, "adamw": adamw_update, "adagrad": adagrad_update, "nadam": nadam_update}


def update_layers(layers, steps, states, optimizer, t, lr, **hyper):
    """The optimizer's update of every W and b from the gradients in ``steps`` (as forward_backward gives them).
    Returns ``(new_layers, new_states)``."""
    update = UPDATES[optimizer]
    new_layers, new_states = [], []
    for (W, b, activation), step, (state_W, state_b) in zip(layers, steps, states):
        W_new, state_W_new = update(W, step["grad_W"], state_W, t, lr, **hyper)
        b_new, state_b_new = update(b, step["grad_b"], state_b, t, lr, **hyper)
        new_layers.append((W_new, b_new, activation))
        new_states.append((state_W_new, state_b_new))
    return new_layers, new_states


def train_step(x, y, layers, loss, optimizer, states, t, lr, l1=0.0, **hyper):
    """One training step on the batch (x, y): forward, backward, and the optimizer's update of every W and b.

    ``layers``: a list of (W, b, activation); ``optimizer``: a name in UPDATES; ``states``: one pair
    (state of W, state of b) per layer (empty dicts before the first step); ``t``: this step's number
    (1 for the first); ``hyper``: the optimizer's hyperparameters (e.g. beta1=0.9, weight_decay=0.0).
    Returns ``(new_layers, new_states, loss, penalty)``, with the loss and penalty before the update."""
    data_loss, penalty, steps = forward_backward(x, y, layers, loss, l1)
    new_layers, new_states = update_layers(layers, steps, states, optimizer, t, lr, **hyper)
    return new_layers, new_states, data_loss, penalty


# ---------------------------------------------------------------------------- what MLP.trace returns
@dataclass
class LayerTrace:
    """One dense layer in a traced step. Arrays are sample-major: ``z``, ``a``, ``delta`` are (n, units)."""
    activation: str
    W: np.ndarray          # (n_in, n_out), before the step
    b: np.ndarray          # (n_out,)
    a_prev: np.ndarray     # (n, n_in): the layer's input
    z: np.ndarray          # a_prev @ W + b
    a: np.ndarray          # f(z)
    delta: np.ndarray      # dL/dz
    grad_W: np.ndarray     # dL/dW (L1 included)
    grad_b: np.ndarray     # dL/db
    update_W: np.ndarray   # W after the step minus W before (the step is not applied to the model)
    update_b: np.ndarray
    state_W: dict          # {"before": {torch name: array}, "after": {...}}
    state_b: dict


@dataclass
class Trace:
    """One training step of a batch, computed by this module without changing the model (see MLP.trace).

    ``loss`` is the mean data loss, ``penalty`` the L1 term (l1 * sum|W|); training minimises their sum.
    ``x`` and ``y`` are the batch as the network sees it (y one-hot for cce); ``t`` the step number the
    update would be; ``hyper`` the optimizer's hyperparameters with ``lr`` (l1 is ``.l1``), so
    ``UPDATES[trace.optimizer](W, grad_W, state_W["before"], trace.t, **trace.hyper)`` is the update."""
    loss: float
    penalty: float
    x: np.ndarray
    y: np.ndarray
    loss_name: str
    optimizer: str
    hyper: dict
    t: int
    l1: float
    layers: list = field(default_factory=list)

    @property
    def output(self):
        """The network's output for the batch, (n, k)."""
        return self.layers[-1].a


def make_trace(x, y, layers, loss, optimizer, hyper, states, t, lr, l1=0.0):
    """A :class:`Trace` of ``train_step`` (same arguments; ``states`` as the optimizer holds them now)."""
    data_loss, penalty, steps = forward_backward(x, y, layers, loss, l1)
    new_layers, new_states = update_layers(layers, steps, states, optimizer, t, lr, **hyper)
    traced = []
    for (W, b, activation), (W_new, b_new, _), step, before, after in zip(layers, new_layers, steps, states, new_states):
        traced.append(LayerTrace(
            activation=activation, W=W, b=b, a_prev=step["a_prev"], z=step["z"], a=step["a"], delta=step["delta"],
            grad_W=step["grad_W"], grad_b=step["grad_b"], update_W=W_new - W, update_b=b_new - b,
            state_W={"before": _arrays(before[0]), "after": _arrays(after[0])},
            state_b={"before": _arrays(before[1]), "after": _arrays(after[1])}))
    return Trace(loss=data_loss, penalty=penalty, x=x, y=y, loss_name=loss, optimizer=optimizer,
                 hyper={**hyper, "lr": lr}, t=t, l1=l1, layers=traced)


def _arrays(state):
    return {name: np.asarray(value) for name, value in state.items()}


# ---------------------------------------------------------------------------- this module's own source
SOURCE_PATH = os.path.join(os.path.dirname(__file__), "reference.py")


def code_for(name):
    """``(first_line_number, source_text)`` of the function or class ``name`` in this file, read from
    the .py text itself (the apps show it beside the formulas). Raises FileNotFoundError when the source
    text is not installed (only compiled files), ValueError for a name this module does not define."""
    lines, defined = _definitions(SOURCE_PATH)
    if name not in defined:
        raise ValueError(f"mlp.reference defines no function or class {name!r}; it has: {', '.join(defined)}.")
    start, end = defined[name]
    return start, "\n".join(lines[start - 1:end]) + "\n"


_PARSED = {}   # path -> (lines, {name: (first line, last line)}): the file is parsed once


def _definitions(path):
    if path not in _PARSED:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as e:
            raise FileNotFoundError(f"The source of mlp.reference is not available ({path}: {e.strerror or e}); "
                                    "ship mlp/reference.py as a .py file to show its code.") from None
        defined = {}
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined[node.name] = (min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno)
        _PARSED[path] = (text.splitlines(), defined)
    return _PARSED[path]
