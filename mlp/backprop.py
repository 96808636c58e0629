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
import numpy as np

from . import activations as act
from . import losses as L


class Backprop:
    """Forward and backward pass for batches of exactly ``n`` samples, writing ``grad_scale`` times the
    gradients into ``grads`` (a flat array laid out like ``model.params``; the scale is the optimizer's,
    folded into the output layer's constant). Built by the network; buffers are reused per call."""

    def __init__(self, model, n, grads, grad_scale=1.0):
        dt = self.dtype = model.dtype
        self.n, self.n_in, self.x = n, model.n_inputs, None
        self.input_dropout = model._input_dropout
        self.has_dropout = model._has_dropout
        self.grad_views = [grads[ly["offset"]:ly["offset"] + ly["Wb"].size].reshape(ly["Wb"].shape)
                           for ly in model._layers]
        *hidden, last = model._layers
        # forward, per hidden layer: (Wb.T, z buffer, its transpose, z copy or None, activation, dropout rate,
        # the layer's output with its row of ones); z and the activation share the buffer
        self.fwd, back = [], []
        for i, layer in enumerate(hidden):
            name = layer["activation"]
            A = np.ones((layer["Wb"].shape[1] + 1, n), dtype=dt)
            z = A[:-1]
            keep = np.empty_like(z) if name in act.NEEDS_Z else None
            self.fwd.append((layer["Wb"].T, z, z.T, keep, act.forward_fn(name, z.T), layer["dropout"], A))
            # backward through the next layer into this one: (this layer's output A, the next layer's
            # dWb and W, a delta buffer and its transpose, this activation's backward, z and a transposed)
            delta = np.empty_like(z)
            back.append((A, self.grad_views[i + 1], model._layers[i + 1]["W"], delta, delta.T,
                         act.backward_fn(name, z.T), None if keep is None else keep.T, z.T))
        self.back = back[::-1]
        self.out_WbT, name = last["Wb"].T, last["activation"]
        self.out_f, self.out_backward = act.ACTIVATIONS[name], act.backward_fn(name)
        k = last["Wb"].shape[1]
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
        return f"Backprop(batch={self.n}, layers={len(self.fwd) + 1}, fused={self.fused is not None})"

    def input_buffer(self):
        """A reused (n, n_in + 1) array whose last column is ones, for gathering a batch into."""
        if self.x is None:
            self.x = np.ones((self.n, self.n_in + 1), dtype=self.dtype)
        return self.x

    def step(self, x, t, z, rng=None, w=None):
        """One batch: ``x`` (n, n_in + 1) inputs, sample-major, with a last column of ones; ``t`` (k, n)
        targets made by ``self.prepare``; ``z`` (k, n) receives the output layer's pre-activations.
        Dropout is applied when ``rng`` is given; ``w`` (1, n), sample weights divided by their mean, makes
        the loss the weighted mean. Leaves dL/dparams in the gradient buffer."""
        drop = rng is not None and self.has_dropout
        masks, pre = [], []     # with dropout: per hidden layer, the mask and the activation before it
        if drop and self.input_dropout:
            x = x * _mask(rng, x.shape, self.input_dropout, self.dtype, ones_column=True)
        a = x = x.T
        for WbT, zb, zT, keep, f, rate, A in self.fwd:
            WbT.dot(a, out=zb)
            if keep is not None:
                keep[...] = zb
            out = f(zT)
            if out is not zT:                      # an activation that returns a new array
                zT[...] = out
            if drop:
                mask = _mask(rng, zb.shape, rate, self.dtype) if rate else None
                pre.append(zb.copy() if rate else zb)
                masks.append(mask)
                if rate:
                    zb *= mask
            a = A
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
        if w is not None:
            delta *= w
        for A, gWb, W, d, dT, backward, keepT, aT in self.back:
            A.dot(deltaT, out=gWb)
            W.dot(delta, out=d)
            if drop:
                mask, a_pre = masks.pop(), pre.pop()
                aT = a_pre.T
                if mask is not None:
                    d *= mask
            deltaT = backward(dT, keepT, aT)
            delta = d if deltaT is dT else deltaT.T    # in place (the usual case) or a new array
        x.dot(deltaT, out=self.grad_views[0])


def _identity(y):
    return y


def _mask(rng, shape, rate, dtype, ones_column=False):
    # inverted dropout: kept units are scaled by 1/(1-p) so inference needs no change
    mask = (rng.random(shape, dtype=dtype) >= rate) * dtype.type(1.0 / (1.0 - rate))
    if ones_column:
        mask[:, -1] = 1.0
    return mask
