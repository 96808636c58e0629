"""The whole network written as plainly as a textbook: initialisation, one training step, and the
mini-batch loop that repeats it.

This module is the readable twin of the fast engine (``backprop.py``, ``optimizers.py`` and the epoch loop
in ``training.py``): the same mathematics with none of the speed tricks, so a newcomer can read it next to
the equations. It is also a second, independent implementation that the fast path is tested against (step
by step and over whole training runs), and the code that ``MLP.trace`` runs and the apps' "Explain a step"
shows.

Conventions (as in most textbooks and in PyTorch):

* a batch is *sample-major*: ``n`` samples of ``u`` units are an array of shape ``(n, u)``, one row per
  sample;
* a dense layer has weights ``W`` of shape ``(n_in, n_out)`` and a bias ``b`` of shape ``(n_out,)``; the
  network is a list of layers ``(W, b, activation)``, first layer first;
* ``a_prev`` is the layer's input (the data for the first layer), ``z`` its pre-activation, ``a = f(z)``
  its output, and ``delta = dL/dz``, the gradient of the loss with respect to ``z``;
* ``L`` is the mean loss over the batch (PyTorch's ``reduction='mean'``), plus ``l1 * sum|W|`` over
  every weight matrix when the L1 penalty is on (biases are not penalised).

The activation functions ``f`` and their derivatives ``f'`` come from the engine's tables
(``mlp/activations.py``), so custom activations work here too. Nothing is done in place: every step makes
new arrays, and the arrays passed in are never changed. Dropout is left out (a trace treats it as the
identity).

0. initialisation:               W random (He or Xavier), b constant                (init_layers)
One training step, in order:
1. forward, layer by layer:      z = a_prev @ W + b,  a = f(z)                     (layer_forward)
2. the loss of the output:       L = mean loss(a_out, y)                            (loss_value)
3. the output layer's delta:     delta = dL/dz_out                                  (output_delta)
4. backwards through the layers: delta = (delta_next @ W_next.T) * f'(z)            (hidden_delta)
5. each layer's gradients:       dL/dW = a_prev.T @ delta (+ l1 sign(W)),  dL/db = sum of delta's rows
                                                                                    (layer_gradients)
6. each parameter's update by the optimizer, with PyTorch's formulas and state names (UPDATES, update_layers)
7. training: epochs of shuffled mini-batches, one step each                        (fit)
"""
import math

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES, HE_INIT, RELU_BIAS
from .losses import HUBER_DELTA


# ---------------------------------------------------------------------------- 0. initialisation
def init_layers(sizes, activations, rng):
    """The layers ``(W, b, activation)`` of a network of ``sizes`` = [n_inputs, units, ..., n_outputs]
    (one activation per layer), with random weights drawn from ``rng`` (a ``np.random.Generator``).

    ReLU-family layers start He-normal, W ~ N(0, 2 / n_in), and with biases RELU_BIAS; the others
    Xavier-normal, W ~ N(0, 2 / (n_in + n_out)), and with biases 0."""
    layers = []
    for n_in, n_out, activation in zip(sizes[:-1], sizes[1:], activations):
        if activation in HE_INIT:
            std, bias = math.sqrt(2.0 / n_in), RELU_BIAS
        else:
            std, bias = math.sqrt(2.0 / (n_in + n_out)), 0.0
        W = rng.standard_normal((n_in, n_out)) * std
        b = np.full(n_out, bias)
        layers.append((W, b, activation))
    return layers


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


def forward_backward(x, y, layers, loss, l1=0.0, loss_scale=1.0):
    """Forward and backward pass of one batch. ``layers``: a list of (W, b, activation).

    Returns ``(loss, penalty, steps)``: the mean data loss, the L1 penalty, and for each layer (first
    first) a dict with its ``a_prev, z, a, delta, grad_W, grad_b``. The gradients are those of
    ``loss_scale * L`` (1 but for the scikit-learn adapter's networks: scikit-learn's loss sums over the outputs)."""
    steps = [dict(a_prev=a_prev, z=z, a=a) for a_prev, z, a in forward(x, layers)]
    last = steps[-1]
    data_loss = loss_value(loss, last["z"], last["a"], y)
    penalty = l1_penalty([W for W, b, activation in layers], l1)
    # backwards: the output layer first, then each hidden layer from the delta of the layer after it
    last["delta"] = loss_scale * output_delta(loss, layers[-1][2], last["z"], last["a"], y)
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
# (scikit-learn's, for the adapter's networks: L2 on the weights only, see update_layers; Adam's eps_placement.)

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


def adam_update(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, eps_placement="sqrt_v_hat"):
    """Adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);  p = p - lr m_hat / (sqrt(v_hat) + eps).
    eps_placement="sqrt_v" (scikit-learn's): eps is added to sqrt(v) before the bias correction,
    p = p - lr m_hat / (sqrt(v_hat) + eps / sqrt(1 - b2^t))."""
    g = g + weight_decay * p
    m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g            # first moment (mean of g)
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g ** 2    # second moment (mean of g^2)
    m_hat = m / (1 - beta1 ** t)      # bias corrections: m and v start at 0
    v_hat = v / (1 - beta2 ** t)
    if eps_placement == "sqrt_v":
        eps = eps / math.sqrt(1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), {"exp_avg": m, "exp_avg_sq": v}


def adamw_update(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, eps_placement="sqrt_v_hat"):
    """AdamW: decoupled weight decay, p = p - lr wd p, then Adam's step with the plain gradient."""
    p = p - lr * weight_decay * p
    return adam_update(p, g, state, t, lr, beta1, beta2, eps, 0.0, eps_placement)


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


def update_layers(layers, steps, states, optimizer, t, lr, weight_decay_on="all", **hyper):
    """The optimizer's update of every W and b from the gradients in ``steps`` (as forward_backward gives them).
    ``weight_decay_on="weights"`` (scikit-learn's alpha): the biases get no weight decay.
    Returns ``(new_layers, new_states)``."""
    update = UPDATES[optimizer]
    hyper_b = dict(hyper, weight_decay=0.0) if weight_decay_on == "weights" else hyper
    new_layers, new_states = [], []
    for (W, b, activation), step, (state_W, state_b) in zip(layers, steps, states):
        W_new, state_W_new = update(W, step["grad_W"], state_W, t, lr, **hyper)
        b_new, state_b_new = update(b, step["grad_b"], state_b, t, lr, **hyper_b)
        new_layers.append((W_new, b_new, activation))
        new_states.append((state_W_new, state_b_new))
    return new_layers, new_states


def train_step(x, y, layers, loss, optimizer, states, t, lr, l1=0.0, loss_scale=1.0, **hyper):
    """One training step on the batch (x, y): forward, backward, and the optimizer's update of every W and b.

    ``layers``: a list of (W, b, activation); ``optimizer``: a name in UPDATES; ``states``: one pair
    (state of W, state of b) per layer (empty dicts before the first step); ``t``: this step's number
    (1 for the first); ``hyper``: the optimizer's hyperparameters (e.g. beta1=0.9, weight_decay=0.0).
    Returns ``(new_layers, new_states, loss, penalty)``, with the loss and penalty before the update."""
    data_loss, penalty, steps = forward_backward(x, y, layers, loss, l1, loss_scale)
    new_layers, new_states = update_layers(layers, steps, states, optimizer, t, lr, **hyper)
    return new_layers, new_states, data_loss, penalty


# ---------------------------------------------------------------------------- 7. training
def fit(x, y, layers, loss, optimizer, epochs, learning_rate, batch_size, rng, shuffle=True, lr_schedule=None,
        l1=0.0, **hyper):
    """Train ``layers`` on the data (x, y) with mini-batches and return ``(layers, states, losses)``.

    Each epoch visits the rows in a new random order (``rng.permutation``, when ``shuffle``) and cuts it into
    batches of ``batch_size`` rows (the last one smaller when n is not a multiple); each batch is one
    ``train_step``. The learning rate of epoch ``e`` (from 0) is ``lr_schedule(e)``, or ``learning_rate``.
    ``losses`` holds each epoch's loss: the mean over its rows of the loss each batch had before its update."""
    n = len(x)
    states = [({}, {}) for _ in layers]     # every optimizer starts with empty state
    t = 0                                   # the step count (bias corrections, NAdam's schedule)
    losses = []
    for epoch in range(epochs):
        lr = learning_rate if lr_schedule is None else lr_schedule(epoch)
        order = rng.permutation(n) if shuffle else np.arange(n)
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            t += 1
            layers, states, batch_loss, _ = train_step(x[rows], y[rows], layers, loss, optimizer, states, t, lr,
                                                       l1, **hyper)
            total += batch_loss * len(rows)     # the batch's mean loss, weighted by its rows
        losses.append(total / n)
    return layers, states, losses
