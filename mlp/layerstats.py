"""Per-layer gradient statistics, recorded by the training loop once per epoch (the "Gradient flow" view).

For each dense layer ``l`` (1-based) the History gets, every epoch:

``grad_norm/l``     ||dL/dW_l||, the Frobenius norm of the weight gradient (weights only, not the bias) of
                    the epoch's last step: the mean data loss of its batch at the weights that step started
                    from (dropout as in training; without the L1/L2 terms the optimizer adds). With full-batch
                    training it is ``model.gradients(X, y)`` at the weights of the previous epoch's end.
``update_ratio/l``  ||ΔW_l|| / ||W_l|| of that same step: how far the optimizer moved the weights, relative
                    to their size (about 1e-3 is the usual rule of thumb)
``dead/l``          for a ``relu`` layer: how many of its units are dead: they got no gradient in the epoch's
                    last step (their bias gradient is exactly 0: they output 0 for every row of its batch)
                    and they output 0 for every one of ``DEAD_ROWS`` training rows spread evenly over the
                    data (all of them when there are fewer) at the end of the epoch

Vanishing gradients show as ``grad_norm`` falling by orders of magnitude from the last layer to the first.

Cost: the epoch's last step copies the gradient and the weights into a buffer (and the weights again at the
epoch's end); the statistics of up to ``MAX_EPOCHS_BUFFERED`` epochs are then computed at once, vectorised
over the epochs (the forward pass over the rows only for epochs where a relu unit got no gradient), when the
buffer is full and at the end of every ``TrainingRun.step`` call. So the History's statistics are complete
whenever ``step`` (or ``fit``) returns; a callback that reads ``model.history`` during training may find the
latest epochs' statistics not there yet.
"""
import numpy as np

from . import activations as act

DEAD_ROWS = 64
STATS = ("grad_norm", "update_ratio", "dead")
MAX_EPOCHS_BUFFERED = 64
_BUFFER_FLOATS = 1 << 17      # at most this many numbers per buffer (three buffers: gradients, weights before/after)
_FORWARD_FLOATS = 1 << 20     # the batched forward pass for dead units: epochs x rows x units per chunk


def key(stat, layer):
    """The History key of ``stat`` (one of STATS) for dense layer ``layer`` (1-based): ``'grad_norm/2'``."""
    return f"{stat}/{layer}"


def layer_series(history):
    """``{stat: {layer: [per-epoch values]}}`` from a History (or its ``.history`` dict); layers 1-based."""
    series = getattr(history, "history", history) or {}
    out = {}
    for name, values in series.items():
        stat, _, layer = name.partition("/")
        if stat in STATS and layer.isdigit():
            out.setdefault(stat, {})[int(layer)] = list(values)
    return {stat: dict(sorted(layers.items())) for stat, layers in out.items()}


class LayerStats:
    """Made by a :class:`~mlp.training.TrainingRun` for its model, training rows and History.

    The epoch loop calls :meth:`capture` at each epoch's last step (before the update), the run calls
    :meth:`end_epoch` after each epoch it keeps and :meth:`flush` when it returns to its caller."""

    def __init__(self, model, X, history):
        layers = self._layers = model.layers
        self._model, self._history = model, history
        n_params = model.params.size
        # each layer's W (without b) is one slice of the flat parameters: reduceat over [W1, b1, W2, b2, ...]
        self._starts = np.array([i for ly in layers for i in (ly.offset, ly.offset + ly.W.size)])
        self._relu = [i for i, ly in enumerate(layers) if ly.activation == "relu"]
        if self._relu:    # DEAD_ROWS rows spread evenly over the training rows (which may be sorted by class)
            rows = X[::-(-X.shape[0] // DEAD_ROWS)]
            rows = rows.toarray() if hasattr(rows, "toarray") else rows             # a few rows of sparse X
            self._rows = np.ascontiguousarray(rows.T)                                # (n_in, rows)
            widest = max(ly.n_out for ly in layers[:self._relu[-1] + 1])
            self._per_chunk = max(1, _FORWARD_FLOATS // (self._rows.shape[1] * widest))
        k = int(max(1, min(MAX_EPOCHS_BUFFERED, _BUFFER_FLOATS // max(1, n_params))))
        self._grads = np.empty((k, n_params), dtype=model.dtype)
        self._before = np.empty_like(self._grads)
        self._after = np.empty_like(self._grads)
        self._scale = np.ones(k)
        self._n = 0                  # epochs buffered
        self._captured = False

    def capture(self, grads, params, scale):
        """The epoch's last step: ``grads`` holds ``scale`` times its gradient, ``params`` the weights before it."""
        i = self._n
        self._grads[i] = grads
        self._before[i] = params
        self._scale[i] = scale
        self._captured = True

    def end_epoch(self):
        """The epoch is kept (not undone): buffer its weights, and compute when the buffer is full."""
        if not self._captured:
            return
        self._captured = False
        self._after[self._n] = self._model.params
        self._n += 1
        if self._n == len(self._grads):
            self.flush()

    def flush(self):
        """Compute the buffered epochs' statistics and append them to the History."""
        k, self._n = self._n, 0
        if not k:
            return
        sq = self._sq_norms
        grad = np.sqrt(sq(self._grads[:k])) / self._scale[:k, None]
        before = self._before[:k]
        moved, size = sq(self._after[:k] - before), sq(before)
        ratio = np.sqrt(moved / np.maximum(size, np.finfo(before.dtype).tiny))
        series = self._history.history
        for layer in range(grad.shape[1]):
            series.setdefault(key("grad_norm", layer + 1), []).extend(grad[:, layer].tolist())
            series.setdefault(key("update_ratio", layer + 1), []).extend(ratio[:, layer].tolist())
        for layer, counts in self._dead(k).items():
            series.setdefault(key("dead", layer + 1), []).extend(counts.tolist())

    def _sq_norms(self, flat):
        """Per row of ``flat`` (epochs x parameters): each layer's sum of squared weights, (epochs, layers)."""
        return np.add.reduceat(flat * flat, self._starts, axis=1)[:, ::2]

    def _dead(self, k):
        """``{layer index: dead-unit counts of the k buffered epochs}`` for the relu layers."""
        layers = self._layers
        if not self._relu:
            return {}
        # no gradient in the last step: the bias gradient is exactly 0 (the buffer holds a multiple of it)
        idle = {i: self._grads[:k, layers[i].offset + layers[i].W.size:layers[i].offset + layers[i].Wb.size] == 0
                for i in self._relu}
        out = {i: np.zeros(k) for i in self._relu}
        epochs = np.flatnonzero(np.any([v.any(axis=1) for v in idle.values()], axis=0))
        for s in range(0, len(epochs), self._per_chunk):        # the forward pass only where it can find one
            rows = epochs[s:s + self._per_chunk]
            for i, silent in self._silent(self._after[rows]).items():
                out[i][rows] = np.add.reduce(silent & idle[i][rows], axis=1, dtype=float)
        return out

    def _silent(self, params):
        """``{relu layer index: (epochs, units) True where the unit outputs 0 on every probe row}`` for the
        weights ``params`` (epochs x parameters). Feature-major, as in backprop: (epochs, units, rows) arrays,
        so each reduction runs along whole rows."""
        out = {}
        k, a = params.shape[0], self._rows                  # a: (n_in, rows), the same for every epoch
        for i, layer in enumerate(self._layers[:self._relu[-1] + 1]):
            (n_in, units), off = layer.W.shape, layer.offset
            WT = params[:, off:off + n_in * units].reshape(k, n_in, units).transpose(0, 2, 1)
            z = np.matmul(WT, a)                            # (epochs, units, rows)
            z += params[:, off + n_in * units:off + (n_in + 1) * units].reshape(k, units, 1)
            if act.DERIVATIVES.get(layer.activation) is not None:     # element-wise: any layout will do
                a = act.forward_fn(layer.activation, z)(z)                # (relu: its fast form for a buffer)
            else:                                                        # (softmax) along the units
                a = np.ascontiguousarray(act.ACTIVATIONS[layer.activation](z.transpose(0, 2, 1).reshape(-1, units))
                                         .reshape(k, -1, units).transpose(0, 2, 1))
            if i in self._relu:    # relu outputs are >= 0: silent when a unit's row sums to 0
                out[i] = a.sum(axis=2) == 0
        return out
