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

Cost: the epoch's last step copies its gradient and the weights into a buffer, and the weights again at the
epoch's end (three row copies an epoch; nothing else runs per epoch). The statistics of up to
``MAX_EPOCHS_BUFFERED`` epochs are computed at once when the buffer is full and at the end of every
``TrainingRun.step`` call: a dozen NumPy calls plus one sum per layer for all those epochs, and, only when a
relu unit got no gradient, one forward pass of the probe rows for all those epochs, no deeper than the deepest
such layer. So the History's statistics are complete whenever ``step`` (or ``fit``) returns; a callback that
reads ``model.history`` during training may find the latest epochs' statistics not there yet.
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
        self._weights = [slice(ly.offset, ly.offset + ly.W.size) for ly in layers]    # each W in the flat params
        self._tiny = np.finfo(model.dtype).tiny
        self._keys = [key(stat, i + 1) for stat in STATS[:2] for i in range(len(layers))]
        self._relu = [i for i, ly in enumerate(layers) if ly.activation == "relu"]
        if self._relu:
            self._dead_keys = [key("dead", i + 1) for i in self._relu]
            # the relu layers' biases in the flat parameters, and where each layer starts among them
            self._biases = np.concatenate([np.arange(layers[i].offset + layers[i].W.size,
                                                     layers[i].offset + layers[i].Wb.size) for i in self._relu])
            self._starts = np.cumsum([0] + [layers[i].n_out for i in self._relu[:-1]])
            # DEAD_ROWS rows spread evenly over the training rows (which may be sorted by class)
            rows = X[::-(-X.shape[0] // DEAD_ROWS)]
            rows = rows.toarray() if hasattr(rows, "toarray") else rows             # a few rows of sparse X
            self._rows = np.ascontiguousarray(rows, dtype=model.dtype)              # (rows, n_in)
            widest = max(ly.n_out for ly in layers[:self._relu[-1] + 1])
            self._per_chunk = max(1, _FORWARD_FLOATS // (self._rows.shape[0] * widest))
        k = int(max(1, min(MAX_EPOCHS_BUFFERED, _BUFFER_FLOATS // max(1, n_params))))
        # per buffered epoch: the step's gradient, the weights before it, the weights at the epoch's end
        self._buf = np.empty((3, k, n_params), dtype=model.dtype)
        self._grads, self._before, self._after = self._buf          # (row assignments: the cheapest copy)
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
        if self._captured:
            self._captured = False
            i = self._n
            self._after[i] = self._model.params
            self._n = i + 1
            if i + 1 == self._buf.shape[1]:
                self.flush()

    def flush(self):
        """Compute the buffered epochs' statistics and append them to the History (a few NumPy calls per
        layer for all the buffered epochs at once)."""
        k, self._n = self._n, 0
        if not k:
            return
        series = self._history.history
        buf = self._buf[:, :k]
        if self._relu:       # (before the weights at the epochs' ends are overwritten)
            dead = self._dead(buf[0], buf[2])
            for name, counts in zip(self._dead_keys, dead.T.tolist() if dead is not None else
                                    [[0.0] * k] * len(self._dead_keys)):
                series.setdefault(name, []).extend(counts)
        np.subtract(buf[2], buf[1], out=buf[2])         # the step's update
        np.square(buf, out=buf)
        sq = np.empty((3, k, len(self._weights)))       # squared norms (float64): gradient, weights, update
        for i, w in enumerate(self._weights):           # (a sum along each row: the same whatever k is)
            np.add.reduce(buf[:, :, w], axis=2, dtype=np.float64, out=sq[:, :, i])
        np.divide(sq[2], np.maximum(sq[1], self._tiny), out=sq[2])
        np.sqrt(sq, out=sq)
        sq[0] /= self._scale[:k, None]                  # grad_norm, -, update_ratio
        for name, values in zip(self._keys, sq[::2].transpose(0, 2, 1).reshape(-1, k).tolist()):
            series.setdefault(name, []).extend(values)

    def _dead(self, grads, after):
        """Dead-unit counts, (epochs, relu layers), for the buffered epochs' gradients and end weights; None:
        none (no relu unit got no gradient)."""
        # no gradient in the last step: the bias gradient is exactly 0 (the buffer holds a multiple of it)
        idle = grads.take(self._biases, axis=1) == 0                # (epochs, relu units)
        if not idle.any():
            return None
        starts = self._starts
        deepest = np.flatnonzero(np.logical_or.reduceat(idle.any(axis=0), starts))[-1]
        n = idle.shape[1] if deepest + 1 == len(starts) else starts[deepest + 1]   # its units and those before
        counts = np.zeros((len(grads), len(starts)))
        epochs = np.flatnonzero(idle.any(axis=1))
        for s in range(0, len(epochs), self._per_chunk):           # the forward pass only where it can find one,
            rows = epochs[s:s + self._per_chunk]                     # and no deeper than it must
            silent = self._silent(after[rows], self._relu[deepest])
            silent &= idle[rows, :n]
            counts[rows, :deepest + 1] = np.add.reduceat(silent, starts[:deepest + 1], axis=1, dtype=float)
        return counts

    def _silent(self, params, last):
        """(epochs, units of the relu layers up to layer ``last``, a relu layer): True where the unit outputs 0
        on every probe row, for the weights ``params`` (epochs x parameters): all epochs in one forward pass."""
        out = []
        k, a = params.shape[0], self._rows                  # a: (rows, n_in), the same for every epoch
        for i, layer in enumerate(self._layers[:last + 1]):
            (n_in, units), off = layer.W.shape, layer.offset
            W = params[:, off:off + n_in * units].reshape(k, n_in, units)
            b = params[:, off + n_in * units:off + (n_in + 1) * units]
            if i == 0:     # one product for all epochs: (rows, epochs, units)
                z = a.dot(W.transpose(1, 0, 2).reshape(n_in, k * units)).reshape(-1, k, units)
            else:          # a: (epochs, rows, n_in) -> (epochs, rows, units)
                z = np.matmul(a, W)
            if i == last:  # relu(z + b) is 0 on every row when max(z) + b <= 0 (rounding is monotonic)
                top = z.max(axis=0 if i == 0 else 1)
                top += b
                out.append(top <= 0)
                return np.concatenate(out, axis=1) if len(out) > 1 else out[0]
            z += b if i == 0 else b.reshape(k, 1, units)
            a = act.ACTIVATIONS[layer.activation](z.reshape(-1, units)).reshape(z.shape)
            if i == 0:
                a = a.transpose(1, 0, 2)                    # (epochs, rows, units)
            if i in self._relu:    # relu outputs are >= 0: silent when none is positive
                out.append(~a.any(axis=1))
