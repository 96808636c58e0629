"""Backpropagation: the forward and backward pass of one batch, with buffers made for one batch size.

Inside this module a batch is *feature-major*: ``n`` samples of ``u`` units are a C-contiguous
``(u, n)`` array, one row per unit (only the network's input, given sample-major, is used through its
transpose, which BLAS reads without a copy). Each layer's input carries an extra row of ones, so with the
augmented weights ``Wb = [W; b]`` (shape ``(n_in + 1, n_out)``, a view into the flat parameters):

    z        = Wb.T @ [a; 1]        forward, bias included
    dWb      = [a; 1] @ delta.T     weight and bias gradients in one product
    delta_in = W @ delta            then times the activation's derivative

Every product writes into a preallocated contiguous buffer with ``a.dot(b, out=...)``, and every
element-wise call sees contiguous arrays of equal shape: NumPy's fastest paths. A small network
spends its time on per-call overhead, not arithmetic: this layout about halves its training step.

The activation and loss tables are called with transposed views, shape ``(n, u)``: the usual
sample-major layout, so those functions need not know about this one.
"""
from dataclasses import dataclass

import numpy as np

from . import activations as act
from . import losses as L


@dataclass(slots=True, eq=False)
class HiddenForward:
    """One hidden layer's forward pass over feature-major batches of ``n`` columns: its weights and the
    buffers it writes (reused every call). ``z`` and the activation share one buffer."""
    WbT: np.ndarray        # the layer's [W; b] transposed, (n_out, n_in + 1): a view of the parameters
    z: np.ndarray          # (n_out, n): the product, then the activation in place
    zT: np.ndarray         # z.T, the (n, n_out) view the activation functions see
    activate: object       # the activation for this buffer (activations.forward_fn)
    out: np.ndarray        # (n_out + 1, n): z with a row of ones below it, the next layer's input
    z_copy: np.ndarray = None   # z before the activation, kept when the derivative needs it (NEEDS_Z)
    dropout: float = 0.0        # the rate at which training drops the layer's outputs


@dataclass(slots=True, eq=False)
class HiddenBackward:
    """The backward pass from the next layer's delta into one hidden layer's delta."""
    inputs: np.ndarray     # the next layer's input (this layer's HiddenForward.out)
    grad_Wb: np.ndarray    # the next layer's [dW; db], a view of the gradient buffer: inputs @ delta_next.T
    W_next: np.ndarray     # the next layer's W: W_next @ delta_next is dL/da of this layer
    delta: np.ndarray      # (n_out, n): this layer's delta = dL/dz
    deltaT: np.ndarray     # delta.T
    backward: object       # the activation's backward (activations.backward_fn): dL/da -> dL/dz
    z_copyT: np.ndarray    # HiddenForward.z_copy transposed, or None
    aT: np.ndarray         # the layer's output (n, n_out) as the forward pass left it


def hidden_forward(layers, n, dtype, keep_z=False):
    """:class:`HiddenForward` records of ``layers`` (the hidden ones) for batches of ``n`` columns; with
    ``keep_z``, room to keep z for the derivatives that need it (training)."""
    out = []
    for layer in layers:
        buf = np.ones((layer.n_out + 1, n), dtype=dtype)
        z = buf[:-1]
        z_copy = np.empty_like(z) if keep_z and layer.activation in act.NEEDS_Z else None
        out.append(HiddenForward(layer.Wb.T, z, z.T, act.forward_fn(layer.activation, z.T), buf, z_copy,
                                 layer.dropout))
    return out


class Backprop:
    """Forward and backward pass for batches of exactly ``n`` samples, writing ``grad_scale`` times the
    gradients into ``grads`` (a flat array laid out like ``model.params``; the scale is the optimizer's,
    folded into the output layer's constant). Built by the network; buffers are reused per call."""

    def __init__(self, model, n, grads, grad_scale=1.0):
        dt = self.dtype = model.dtype
        layers = model.layers
        self.n, self.n_in, self.x = n, model.n_inputs, None
        self.input_dropout = model.input_dropout
        self.has_dropout = bool(model.input_dropout or any(layer.dropout for layer in layers))
        self.grad_views = [grads[ly.offset:ly.offset + ly.Wb.size].reshape(ly.Wb.shape) for ly in layers]
        *hidden, last = layers
        self.hidden = hidden_forward(hidden, n, dt, keep_z=True)
        back = []
        for i, h in enumerate(self.hidden):
            delta = np.empty_like(h.z)
            back.append(HiddenBackward(h.out, self.grad_views[i + 1], layers[i + 1].W, delta, delta.T,
                                       act.backward_fn(hidden[i].activation, h.zT),
                                       None if h.z_copy is None else h.z_copy.T, h.zT))
        self.back = back[::-1]
        self.out_WbT, name = last.Wb.T, last.activation
        self.out_f, self.out_backward = act.ACTIVATIONS[name], act.backward_fn(name)
        k = last.n_out
        self.delta = np.empty((k, n), dtype=dt)
        self.deltaT = self.delta.T
        fused = L.FUSED.get((name, model.loss))
        self.fused = fused.grad if fused else None
        # dL/dz = scale * fused.grad(z, t): the mean is over samples for cce, over all elements otherwise
        per = n if model.loss in L.MEAN_OVER_SAMPLES else n * k
        self.scale = np.array((fused.factor if fused else 1.0) / per * grad_scale, dtype=dt)
        self.grad_scale = None if grad_scale == 1.0 else np.array(grad_scale, dtype=dt)
        self.prepare = fused.prepare if fused else _identity
        self.loss_grad = L.LOSSES[model.loss][1]

    def __repr__(self):
        return f"Backprop(batch={self.n}, layers={len(self.hidden) + 1}, fused={self.fused is not None})"

    def input_buffer(self):
        """A reused (n, n_in + 1) array whose last column is ones, for gathering a batch into."""
        if self.x is None:
            self.x = np.ones((self.n, self.n_in + 1), dtype=self.dtype)
        return self.x

    def step(self, x, t, z, rng=None):
        """One batch: ``x`` (n, n_in + 1) inputs, sample-major, with a last column of ones; ``t`` (k, n)
        targets made by ``self.prepare``; ``z`` (k, n) receives the output layer's pre-activations.
        Dropout is applied when ``rng`` is given. Leaves dL/dparams in the gradient buffer."""
        drop = rng is not None and self.has_dropout
        masks, pre = [], []     # with dropout: per hidden layer, the mask and the activation before it
        if drop and self.input_dropout:
            x = x * _mask(rng, x.shape, self.input_dropout, self.dtype, ones_column=True)
        a = x = x.T
        for h in self.hidden:
            h.WbT.dot(a, out=h.z)
            if h.z_copy is not None:
                h.z_copy[...] = h.z
            out = h.activate(h.zT)
            if out is not h.zT:                    # an activation that returns a new array
                h.zT[...] = out
            if drop:
                rate = h.dropout
                pre.append(h.z.copy() if rate else h.z)
                mask = _mask(rng, h.z.shape, rate, self.dtype) if rate else None
                masks.append(mask)
                if rate:
                    h.z *= mask
            a = h.out
        self.out_WbT.dot(a, out=z)
        if self.fused is not None:
            delta, deltaT = self.delta, self.deltaT
            self.fused(z.T, t.T, deltaT)
            delta *= self.scale
        else:  # the loss gradient dL/da, then the output activation's Jacobian
            zT = z.T
            aT = self.out_f(zT.copy())
            deltaT = self.out_backward(self.loss_grad(aT, t.T), zT, aT)
            if self.grad_scale is not None:
                deltaT *= self.grad_scale      # in place: the loss gradient's own array, never z or t
            delta = deltaT.T
        for hb in self.back:
            hb.inputs.dot(deltaT, out=hb.grad_Wb)
            d = hb.delta
            hb.W_next.dot(delta, out=d)
            aT = hb.aT
            if drop:
                mask, a_pre = masks.pop(), pre.pop()
                aT = a_pre.T
                if mask is not None:
                    d *= mask
            deltaT = hb.backward(hb.deltaT, hb.z_copyT, aT)
            delta = d if deltaT is hb.deltaT else deltaT.T    # in place (the usual case) or a new array
        x.dot(deltaT, out=self.grad_views[0])


def feature_major(A, n):
    """Rows of ``A`` (a multiple of ``n``) as contiguous feature-major batches, shape (batches, cols, n)."""
    nb, c = A.shape[0] // n, A.shape[1]
    return np.ascontiguousarray(A.reshape(nb, n, c).transpose(0, 2, 1))


def _identity(y):
    return y


def _mask(rng, shape, rate, dtype, ones_column=False):
    # inverted dropout: kept units are scaled by 1/(1-p) so inference needs no change
    mask = (rng.random(shape, dtype=dtype) >= rate) * dtype.type(1.0 / (1.0 - rate))
    if ones_column:
        mask[:, -1] = 1.0
    return mask
