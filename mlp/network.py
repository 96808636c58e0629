"""The multi-layer perceptron: building, training (its loop is in ``training.py``), inference, weights and files.

Every weight matrix ``W`` (shape ``(n_in, n_out)``) and bias ``b`` is a view into one flat parameter
vector, and every gradient a view into one flat gradient vector, so an optimizer step is a few NumPy
calls on one array. In memory each bias row directly follows its ``W``: together they are the
"augmented" matrix ``Wb`` of shape ``(n_in + 1, n_out)``, so that with a row of ones appended to a
layer's input one matrix product gives z, and one gives the weight and bias gradients
(see ``mlp/backprop.py``, which does the forward and backward passes of training).
"""
import math
import threading

import numpy as np

from . import activations as act
from . import losses as L
from . import metrics as M
from .activations import HE_INIT, RELU_BIAS
from .backprop import Backprop, feature_major, hidden_forward
from .architecture import format_architecture, parse_architecture, to_list
from .layers import build_layers
from .optimizers import Optimizer, make_optimizer
from .training import EarlyStopping, TrainingRun, check_positive, is_sparse, make_schedule

MAX_PARAMS = 50_000_000          # refuse absurd architectures before allocating memory
EVAL_CHUNK = 65536               # rows per chunk in predict/evaluate (bounded memory)
_GRAD_CHUNK = 4096               # rows per chunk in full_batch / gradients (bounded memory)
_FEW = 8                         # predict on up to this many rows goes through reused buffers
_NDARRAY = np.ndarray            # one global lookup instead of two, on predict's path
DTYPES = ("float32", "float64")
# weight initialisations: name -> standard deviation of the normal weights of a layer (n_in, n_out)
INITIALIZERS = {
    "he": lambda n_in, n_out: math.sqrt(2.0 / n_in),
    "xavier": lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)),
    "small": lambda n_in, n_out: 0.01,
}


class MLP:
    """A fully connected network built from the list syntax.

    >>> model = MLP(seed=0)
    >>> model.sequential([2, 4, 'relu', 1, 'sigmoid']).set_loss('bce').set_optimizer('adam')

    ``loss_scale`` (default 1) multiplies the loss that training's steps follow (its gradient), not the loss
    reported: the scikit-learn adapter sets it so that each step is scikit-learn's, whose losses sum over
    the outputs where this engine's (as PyTorch's) average over them. The model file keeps it.
    """
    loss_scale = 1.0

    def __init__(self, seed=None, dtype="float64"):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative whole number, got {seed!r}.")
        if str(np.dtype(dtype) if dtype in (np.float32, np.float64) else dtype) not in DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
        self.seed = None if seed is None else int(seed)
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(self.seed)
        self.specs = None
        self.loss = None
        self.optimizer = None
        self.preprocessor = None
        self.history = None
        self._params = self.grads = None
        self._layers = []
        self.input_dropout = 0.0      # the rate at which training drops the network's inputs
        self._n_in = None

    # ------------------------------------------------------------------ building
    def sequential(self, architecture, max_params=MAX_PARAMS):
        """Build the layers from ``[n_in, units, 'activation', ..., 'dropout(p)', ...]`` (or its text)."""
        specs = parse_architecture(architecture)
        sizes = [specs[0]["size"]] + [s["units"] for s in specs if s["type"] == "dense"]
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        if n_params > max_params:
            raise ValueError(f"The architecture {format_architecture(specs)} has {n_params:,} parameters; "
                             f"the limit is {max_params:,}. Use smaller layers.")
        self.specs = specs
        self._params = np.empty(n_params, dtype=self.dtype)
        self._link()
        self.init_weights()
        if self.optimizer is not None:
            self.optimizer.reset()
        return self

    def _link(self):
        """The layers as views into ``self.params`` (weights ``W`` and bias ``b`` of each, stacked as ``Wb``),
        and the caches made from them; derived from ``specs`` and ``params`` alone."""
        self.grads = np.zeros_like(self.params)
        self._layers, self.input_dropout = build_layers(self.specs, self.params)
        self._backprops = {}
        self._plan = [(layer.W, layer.b, act.ACTIVATIONS[layer.activation]) for layer in self._layers]
        self._small = {}      # buffers of _infer_small per row count, built on first use
        self._small_lock = threading.Lock()   # they serve one thread at a time
        self._one_rows = 2 if self._layers[-1].n_out == 1 else 1   # rows _infer_small computes for one sample
        self._mask = None     # where L1 applies (the weights), built on first use
        self._n_in = self.specs[0]["size"]

    # copy.deepcopy and pickle copy arrays one by one, so a view would come back apart from the parameter
    # vector (training the copy would not change what it predicts): they carry the state without the views,
    # which are linked again
    _DERIVED = ("grads", "_layers", "input_dropout", "_backprops", "_plan", "_small", "_small_lock", "_one_rows",
                "_n_in", "_mask")

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}

    def __setstate__(self, state):
        if "params" in state:   # pickled before params became a property
            state = dict(state, _params=state.pop("params"))
        self.__dict__.update(state)
        self.grads, self._layers, self.input_dropout, self._n_in = None, [], 0.0, None
        if self.specs is not None:
            self._link()

    def init_weights(self, scheme="auto"):
        """Draw fresh weights: normal with the standard deviation of ``INITIALIZERS[scheme](n_in, n_out)``.
        ``"auto"`` (what ``sequential`` does): He (sqrt(2 / n_in)) for ReLU-family layers, Xavier
        (sqrt(2 / (n_in + n_out))) otherwise; ``"he"``, ``"xavier"`` or ``"small"`` (0.01, the classic
        "small random numbers" under which deep networks' gradients vanish) for every layer.
        ReLU-family biases start at RELU_BIAS (0.3) so fewer units die early in training: on the XOR
        example this lifts the success rate over 100 seeds from 85 % (bias 0.01) to 90 %; others at 0."""
        self._require_built()
        if scheme != "auto" and scheme not in INITIALIZERS:
            raise ValueError(f"Unknown weight initialisation {scheme!r}; choose 'auto' or one of "
                             f"{', '.join(INITIALIZERS)}.")
        for layer in self._layers:
            n_in, n_out = layer.W.shape
            relu_like = layer.activation in HE_INIT
            name = ("he" if relu_like else "xavier") if scheme == "auto" else scheme
            layer.W[...] = self.rng.standard_normal((n_in, n_out)) * INITIALIZERS[name](n_in, n_out)
            layer.b[...] = RELU_BIAS if relu_like else 0.0
        return self

    def set_loss(self, name, **kwargs):
        """Choose the loss: mse, mae, huber (delta=1.0), bce (sigmoid output), cce (softmax output), poisson
        (linear output, read as the log of the rate; targets are counts >= 0)."""
        key = L.resolve(name)
        if kwargs and not (key == "huber" and set(kwargs) <= {"delta"}):
            raise ValueError(f"Loss '{key}' takes no options {sorted(kwargs)}" +
                             (" (huber takes delta)." if key != "huber" else "; huber takes only delta."))
        if key == "huber" and "delta" in kwargs and kwargs["delta"] != L.HUBER_DELTA:
            raise ValueError("Only huber delta=1.0 (PyTorch's default) is supported.")
        if self.specs is not None:
            L.check_pairing(key, self.output_activation)
        self.loss = key
        return self

    def set_optimizer(self, name="adam", **hyperparameters):
        """Choose the optimizer by name (sgd, sgd_momentum, rmsprop, adam, adamw, adagrad, nadam) with
        PyTorch's hyperparameters as keywords, e.g. ``set_optimizer('adam', beta1=0.9, weight_decay=1e-4)``.

        Every optimizer also takes ``l1=λ`` (default 0): training then minimises the mean loss plus
        ``λ · Σ|W|`` over the weight matrices (biases excluded), whose gradient is ``λ · sign(W)``.
        :meth:`gradients` and :meth:`trace` include it; the loss in the history, :meth:`evaluate` and
        ``trace(...).loss`` are the data loss alone (``trace(...).penalty`` is the penalty)."""
        self.optimizer = make_optimizer(name, **hyperparameters)
        return self

    def l1_mask(self):
        """A flat array like ``params``: 1 at the weights, 0 at the biases (where L1 applies). Cached."""
        mask = self._mask
        if mask is None:
            mask = np.zeros(self._params.shape, dtype=self.dtype)
            for layer in self._layers:
                mask[layer.offset:layer.offset + layer.W.size] = 1.0
            self._mask = mask
        return mask

    # ------------------------------------------------------------------ properties
    @property
    def layers(self):
        """The dense layers, first to last: :class:`~mlp.layers.Dense` records (``W``, ``b``, ``activation``,
        ``dropout``) whose ``W`` and ``b`` are views into :attr:`params` (changing them changes the model)."""
        self._require_built()
        return list(self._layers)

    @property
    def n_inputs(self):
        self._require_built()
        return self.specs[0]["size"]

    @property
    def n_outputs(self):
        self._require_built()
        return self._layers[-1].n_out

    @property
    def output_activation(self):
        self._require_built()
        return self._layers[-1].activation

    @property
    def params(self):
        """Every weight and bias in one flat array (the layout of ``get_weights``, each ``W`` then its
        ``b``); the layers are views into it. Assigning copies values in, so the layers stay linked."""
        return self._params

    @params.setter
    def params(self, value):
        self._require_built()
        value = _to_array(value, "params", self.dtype)
        if value.shape != self._params.shape:
            raise ValueError(f"params must be a flat array of {self._params.size} numbers (this architecture's "
                             f"parameter count), got shape {value.shape}.")
        _check_finite(value, "params")
        self._params[...] = value

    @property
    def n_params(self):
        return 0 if self._params is None else int(self._params.size)

    @property
    def architecture(self):
        """The architecture in list syntax."""
        self._require_built()
        return to_list(self.specs)

    @property
    def task(self):
        """'binary', 'multiclass', 'multilabel' or 'regression', from the output layer and loss."""
        a = self.output_activation
        if a == "softmax":
            return "multiclass"
        if a == "sigmoid" and self.loss in (None, "bce"):
            return "binary" if self.n_outputs == 1 else "multilabel"
        return "regression"

    def _require_built(self):
        if self.specs is None:
            raise ValueError("The network has no layers yet: call model.sequential([...]) first.")

    # ------------------------------------------------------------------ backpropagation
    def backprop(self, n):
        """The :class:`~mlp.backprop.Backprop` the training loop uses for batches of ``n`` rows: it writes the
        gradients where the optimizer wants them (its ``grad_buffer``, times its ``grad_scale`` and
        :attr:`loss_scale`) and becomes ``self.grads``. Cached (training uses one or two sizes)."""
        opt = self.optimizer
        if opt.modes.get("weight_decay_on") == "weights" and opt.decay_mask is not self.l1_mask():
            opt.decay_mask = self.l1_mask()             # weight_decay on the weights, not the biases
        buf = opt.grad_buffer(self.params)
        if buf is not None and buf is not self.grads:   # write gradients where the optimizer wants them
            self.grads = buf
            self._backprops.clear()
        scale = opt.grad_scale * self.loss_scale
        key = (n, self.loss, scale)
        bp = self._backprops.get(key)
        if bp is None:
            if len(self._backprops) >= 4:
                self._backprops.clear()
            bp = self._backprops[key] = Backprop(self, n, self.grads, scale)
        return bp

    # ------------------------------------------------------------------ input checks
    def _as_x(self, X, name="X"):
        """2-D array of the model dtype with n_inputs columns; clear errors otherwise. A scipy.sparse matrix
        stays sparse (CSR): training densifies it one batch at a time, inference multiplies it as it is."""
        self._require_built()
        if type(X) is not _NDARRAY and is_sparse(X):
            return self._as_sparse_x(X, name)
        X = _to_array(X, name, self.dtype)
        if X.ndim == 1:
            if self.n_inputs == 1:
                X = X.reshape(-1, 1)
            elif X.size == self.n_inputs:
                X = X.reshape(1, -1)
            else:
                raise ValueError(f"{name} is 1-D with {X.size} values but the network expects {self.n_inputs} "
                                 f"features per row; pass a 2-D array of shape (n_samples, {self.n_inputs}).")
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}.")
        if X.shape[0] == 0:
            raise ValueError(f"{name} has no rows.")
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"{name} has {X.shape[1]} feature column(s) but the network's input size is "
                             f"{self.n_inputs}; change the first number of the architecture or the data.")
        if X.size > 16 or not _all_finite_1d(X.reshape(-1)):   # a few values: the quick test first
            _check_finite(X, name)
        return X

    def _as_sparse_x(self, X, name):
        if len(X.shape) != 2 or X.shape[0] == 0 or X.shape[1] != self.n_inputs:
            raise ValueError(f"{name} is a sparse matrix of shape {X.shape}; the network needs rows of "
                             f"{self.n_inputs} feature column(s).")
        if X.dtype.kind not in "iufb":
            raise TypeError(f"{name} must be numeric, got a sparse matrix of dtype {X.dtype}.")
        X = X.tocsr().astype(self.dtype, copy=False)
        _check_finite(X.data, f"{name} (its stored values)")
        return X.toarray() if X.shape[0] <= _FEW else X     # a few rows: predict's buffers take them dense

    def _as_weights(self, sample_weight, n_rows):
        """Sample weights as a 1-D array of the model dtype (None when absent or all equal: the same fit)."""
        if sample_weight is None:
            return None
        w = _to_array(sample_weight, "sample_weight", self.dtype)
        if w.shape != (n_rows,):
            raise ValueError(f"sample_weight must hold one weight per row of X ({n_rows}), got shape {w.shape}.")
        _check_finite(w, "sample_weight")
        if w.min() < 0 or not w.sum() > 0:
            raise ValueError("sample_weight must be >= 0 with a positive sum, got weights from "
                             f"{w.min():g} to {w.max():g} summing to {w.sum():g}.")
        return None if np.all(w == w[0]) else w

    def _as_y(self, y, n_rows, name="y"):
        """Targets as a 2-D array matching the output layer (integer class labels become one-hot for cce
        and for any loss on a softmax output)."""
        self._require_built()
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss('mse' | 'mae' | 'huber' | 'bce' | 'cce') first.")
        k = self.n_outputs
        y = _to_array(y, name, None)
        if y.shape[:1] != (n_rows,):
            raise ValueError(f"X has {n_rows} rows but {name} has {y.shape[0] if y.ndim else 0}; they must match.")
        labelled = self.loss == "cce" or (self.output_activation == "softmax" and k > 1)  # a class per row
        if labelled and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and k > 1)):
            labels = y.ravel()
            if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
                raise ValueError(f"{name}: class labels for a {k}-unit softmax output must be whole numbers 0..{k - 1} "
                                 f"(or one-hot rows of length {k}).")
            labels = labels.astype(np.int64)
            if labels.min() < 0 or labels.max() >= k:
                raise ValueError(f"{name}: class labels must be in 0..{k - 1} for a {k}-unit softmax output, "
                                 f"found {labels.min()}..{labels.max()}.")
            onehot = np.zeros((n_rows, k), dtype=self.dtype)
            onehot[np.arange(n_rows), labels] = 1
            return onehot
        y = y.astype(self.dtype, copy=False)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != k:
            raise ValueError(f"{name} has shape {y.shape} but the output layer has {k} unit(s); expected "
                             f"({n_rows}, {k})" + (" or integer class labels of shape (n,)." if labelled else "."))
        _check_finite(y, name)
        if self.loss in L.CLASSIFICATION and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{name}: targets for '{self.loss}' must be in [0, 1] (labels or probabilities), "
                             f"found values from {y.min():g} to {y.max():g}.")
        if self.loss == "poisson" and y.min() < 0:
            raise ValueError(f"{name}: targets for 'poisson' are counts or rates, >= 0; found {y.min():g}.")
        return y

    # ------------------------------------------------------------------ training
    def fit(self, X, y, epochs=None, learning_rate=0.01, lr_decay=1.0, batch_size=32, shuffle=True,
            validation_split=0.0, validation_data=None, early_stopping=None, callbacks=None, verbose=0,
            lr_schedule=None, metrics=None, epoch=None, sample_weight=None):
        """Train with mini-batches and return a :class:`History`.

        ``epoch`` is an alias of ``epochs`` (the seed's name). ``batch_size=None`` is full batch; ``1`` is
        per-sample. ``lr_decay`` multiplies the learning rate after each epoch (exponential schedule);
        ``lr_schedule`` may be 'step', 'cosine', a dict or a function of the epoch. ``early_stopping``:
        a patience (int), a dict or :class:`EarlyStopping`. ``callbacks``: callables ``cb(epoch, logs)``
        called after every epoch; returning True stops training. Training also stops (keeping the last
        finite weights) if the loss becomes NaN or infinite, or on KeyboardInterrupt. ``sample_weight``
        (one number >= 0 per row) makes each batch's loss the weighted mean sum(w l) / sum(w) of its
        samples' losses (PyTorch: ``reduction='none'``, then that mean); equal weights train as none.
        ``X`` may be a scipy.sparse matrix: each batch is made dense on its own, never the whole matrix.
        ``shuffle`` may also be a function ``order(n)`` giving each epoch's order of the rows (a permutation of
        ``range(n)``), called at the start of every epoch (the scikit-learn adapter shuffles as scikit-learn).
        """
        return self.start_training(X, y, epochs, learning_rate, lr_decay, batch_size, shuffle, validation_split,
                                   validation_data, early_stopping, callbacks, verbose, lr_schedule, metrics,
                                   epoch, sample_weight).run()

    def start_training(self, X, y, epochs=None, learning_rate=0.01, lr_decay=1.0, batch_size=32, shuffle=True,
                       validation_split=0.0, validation_data=None, early_stopping=None, callbacks=None,
                       verbose=0, lr_schedule=None, metrics=None, epoch=None, sample_weight=None):
        """Check everything ``fit`` would, and return a :class:`TrainingRun` that trains on demand:
        ``run.step(seconds=0.1)`` trains whole epochs for about that long (front ends that must stay
        responsive), ``run.run()`` trains to the end. Same arguments as :meth:`fit`."""
        if epochs is None:
            epochs = 100 if epoch is None else epoch
        elif epoch is not None and epoch != epochs:
            raise ValueError("Give either epochs or epoch (its alias), not both.")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
        self._require_built()
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss(...) before fit, e.g. "
                             f"one of {', '.join(L.compatible_losses(self.output_activation))}.")
        L.check_pairing(self.loss, self.output_activation)
        if self.optimizer is None:
            self.set_optimizer("adam")
        X = self._as_x(X)
        y = self._as_y(y, X.shape[0])
        w = self._as_weights(sample_weight, X.shape[0])
        schedule = make_schedule(lr_schedule, learning_rate, lr_decay, int(epochs))
        stopper = EarlyStopping.coerce(early_stopping)
        callbacks = _callbacks(callbacks)
        if not isinstance(shuffle, (bool, np.bool_)) and not callable(shuffle):
            raise TypeError(f"shuffle must be True, False or a function order(n) -> permutation, got {shuffle!r}.")
        if not isinstance(verbose, (bool, int, np.integer)) or verbose < 0:
            raise TypeError(f"verbose must be 0 (silent), 1 (about ten lines) or 2 (every epoch), got {verbose!r}.")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val).")
            Xv = self._as_x(validation_data[0], "validation X")
            yv = self._as_y(validation_data[1], Xv.shape[0], "validation y")
        elif validation_split:
            if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
                    or not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be a fraction in (0, 1), got {validation_split!r}.")
            n_val = int(round(X.shape[0] * validation_split))
            if n_val < 1 or n_val >= X.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves no rows for training or validation "
                                 f"with {X.shape[0]} samples.")
            X, Xv, y, yv = X[:-n_val], X[-n_val:], y[:-n_val], y[-n_val:]  # the last rows, as Keras
            w = None if w is None else w[:-n_val]
        else:
            Xv = yv = None
        bs = X.shape[0] if batch_size is None else batch_size
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ValueError(f"batch_size must be a whole number >= 1 or None (full batch), got {batch_size!r}.")
        track_acc = bool(metrics if metrics is not None else ["accuracy"]) and self.loss in L.CLASSIFICATION
        return TrainingRun(self, X, y, Xv, yv, epochs=int(epochs), schedule=schedule, batch_size=min(int(bs), X.shape[0]),
                           shuffle=shuffle if callable(shuffle) else bool(shuffle), stopper=stopper,
                           callbacks=callbacks, verbose=verbose, track_accuracy=track_acc, sample_weight=w)

    # ------------------------------------------------------------------ inference
    def _infer(self, X, with_z=False):
        """The forward pass of inference (no dropout): outputs ``(n, k)`` for the rows of the checked 2-D
        ``X``, and with ``with_z`` the output layer's z too. Plain ``a.dot(W) + b`` per layer, in chunks of
        ``EVAL_CHUNK`` rows (bounded memory); a few rows take the small branch, :meth:`_infer_small`."""
        n = X.shape[0]
        if n <= _FEW and not with_z and self._small_lock.acquire(False):
            try:
                out = self._infer_small(X, n if n > 1 else self._one_rows)
            finally:
                self._small_lock.release()
            return out if out.shape[0] == n else out[:n]
        if n > EVAL_CHUNK:
            out = np.empty((n, self.n_outputs), dtype=self.dtype)
            z = np.empty_like(out) if with_z else None
            for s in range(0, n, EVAL_CHUNK):
                part = self._infer(X[s:s + EVAL_CHUNK], with_z)
                if with_z:
                    out[s:s + EVAL_CHUNK], z[s:s + EVAL_CHUNK] = part
                else:
                    out[s:s + EVAL_CHUNK] = part
            return (out, z) if with_z else out
        a, z, last = X, None, len(self._plan) - 1
        for i, (W, b, f) in enumerate(self._plan):
            z = a.dot(W)
            z += b
            # only the output layer's z is returned: copy it if its activation would overwrite it
            a = f(z.copy() if with_z and i == last and self._layers[-1].activation in act.IN_PLACE else z)
        return (a, z) if with_z else a

    def _infer_small(self, X, R):
        """The outputs ``(R, k)`` for a few rows ``X`` (R of them, or one sample, 1-D, copied into all R)
        through reused buffers laid out as in ``backprop``: feature-major ``(units + 1, R)`` arrays ending in
        a row of ones, so a hidden layer is one ``dot`` with the augmented weights and the activation in place
        (a third fewer NumPy calls than :meth:`_infer`). One sample of a one-output network is computed twice
        (R = ``_one_rows`` = 2): NumPy's calls cost two to three times more on one-element arrays. Call it
        holding ``_small_lock``: the buffers serve one thread at a time."""
        bufs = self._small.get(R)
        if bufs is None:
            inputs = np.ones((self._n_in + 1, R), dtype=self.dtype)
            plan, last = hidden_forward(self._layers[:-1], R, self.dtype), self._layers[-1]
            bufs = self._small[R] = (inputs, inputs[:-1].T, plan, (plan[-1].out if plan else inputs).T, last.Wb,
                                     act.ACTIVATIONS[last.activation])
        a, rows, plan, last_in, Wo, f = bufs
        rows[...] = X              # (one sample: into every row)
        for h in plan:
            h.WbT.dot(a, out=h.z)
            out = h.activate(h.zT)
            if out is not h.zT:    # an activation that returns a new array
                h.zT[...] = out
            a = h.out
        return f(last_in.dot(Wo))  # the output layer's input, sample-major, times [W; b]: (R, k), a new array

    def forward(self, x):
        """Network output for one sample (1-D in, 1-D out) or a batch (2-D in, 2-D out)."""
        if (type(x) is list or type(x) is tuple) and len(x) == self._n_in:
            try:                       # one C-level conversion, then the array's fast path
                x = np.array(x, dtype=self.dtype)
            except (TypeError, ValueError, OverflowError):
                pass                   # the checked path below says what is wrong
        if type(x) is np.ndarray and x.ndim == 1 and x.size == self._n_in and x.dtype is self.dtype \
                and _all_finite_1d(x) and self._small_lock.acquire(False):
            try:                       # a single, clean sample (another thread in it: below)
                return self._infer_small(x, self._one_rows)[0]
            finally:
                self._small_lock.release()
        self._require_built()
        arr = _to_array(x, "x", self.dtype)
        if arr.ndim == 1:
            if arr.size != self.n_inputs:
                raise ValueError(f"x has {arr.size} values but the network's input size is {self.n_inputs}.")
            _check_finite(arr, "x")
            return self._infer(arr.reshape(1, -1))[0]
        return self._infer(self._as_x(arr, "x"))

    def predict(self, X):
        """Outputs for the rows of ``X`` (probabilities for sigmoid/softmax outputs), shape (n, n_outputs): the
        network's output layer, as ``to_torch`` and ONNX's ``"output"``. For a ``poisson`` model that is the log
        of the rate: ``np.exp(predict(X))`` is the predicted mean count (what :meth:`predict_table` gives)."""
        return self._infer(self._as_x(X))

    def predict_logits(self, X):
        """The output layer's pre-activations z for the rows of ``X``, shape (n, n_outputs): the logits of a
        sigmoid or softmax output (``predict`` applies the activation to them)."""
        return self._infer(self._as_x(X), with_z=True)[1]

    def predict_classes(self, X):
        """Class labels: argmax for softmax, threshold 0.5 for a sigmoid output (1-D int array;
        2-D for several sigmoid units, i.e. multi-label)."""
        a = self.output_activation
        if a not in ("sigmoid", "softmax"):
            raise ValueError(f"predict_classes needs a sigmoid or softmax output layer; this network's output is "
                             f"'{a}' (a regression model): use predict().")
        out = self.predict(X)
        if a == "softmax":
            return out.argmax(axis=1)
        labels = (out >= 0.5).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels

    def predict_table(self, table):
        """Predictions in original units (class names or values) for raw table rows, using the
        preprocessing saved with the model (a poisson model's: the predicted mean counts, ``exp`` of its output).
        ``table`` is a ``mlp.data.Table`` or CSV text/bytes/path."""
        if self.preprocessor is None:
            raise ValueError("This model has no saved preprocessing; use predict() on a numeric array.")
        from . import data
        if not isinstance(table, data.Table):
            table = data.read_csv(table)
        return self.preprocessor.inverse_y(self.predict(self.preprocessor.transform_X(table)))

    def evaluate_table(self, table):
        """:meth:`evaluate` on raw table rows holding the feature and target columns, through the saved
        preprocessing; a regression's ``mae``, ``rmse`` and ``r2`` are in the target's units (the ``loss`` is
        the training loss, on the standardised target; a poisson model's is on the counts and it adds
        ``poisson_deviance``, scikit-learn's mean Poisson deviance). ``table`` as for :meth:`predict_table`."""
        if self.preprocessor is None:
            raise ValueError("This model has no saved preprocessing; use evaluate() on numeric arrays.")
        from . import data
        if not isinstance(table, data.Table):
            table = data.read_csv(table)
        pre = self.preprocessor
        X, y = pre.transform_X(table), pre.transform_y(table)
        result = self.evaluate(X, y)
        if pre.task == "regression":
            result.update(M.regression_report(pre.inverse_target(y), pre.inverse_y(self.predict(X)),
                                              poisson=self.loss == "poisson"))
        return result

    def loss_and_accuracy(self, X, y, with_accuracy=True):
        """``{"loss": ..., "accuracy": ...}`` of arrays already checked and shaped (what the training loop
        logs; ``accuracy`` only ``with_accuracy``), computed in chunks of ``EVAL_CHUNK`` rows."""
        n, total, correct = X.shape[0], 0.0, 0
        value = L.LOSSES[self.loss][0]
        for s in range(0, n, EVAL_CHUNK):
            xb, yb = X[s:s + EVAL_CHUNK], y[s:s + EVAL_CHUNK]
            out, z = self._infer(xb, with_z=True)
            total += value(out, yb, z) * xb.shape[0]
            if with_accuracy:
                correct += M.count_correct(out, yb)
        scores = {"loss": float(total / n)}
        if with_accuracy:
            scores["accuracy"] = float(correct / n)
        return scores

    def evaluate(self, X, y):
        """Loss and metrics: accuracy, precision, recall, f1, confusion_matrix for classification
        (binary for one sigmoid unit, macro for softmax); mae, rmse, r2 for regression (a poisson model's of the
        predicted mean counts ``exp(output)``, and ``poisson_deviance``)."""
        X = self._as_x(X)
        y2 = self._as_y(y, X.shape[0])
        result = self.loss_and_accuracy(X, y2, with_accuracy=False)
        out = self._infer(X)
        task = self.task
        if task == "multiclass":
            result.update(M.classification_report(y2.argmax(axis=1), out.argmax(axis=1), self.n_outputs))
        elif task == "binary":
            result.update(M.classification_report(y2[:, 0] >= 0.5, out[:, 0] >= 0.5, 2))
        elif task == "multilabel":
            result["accuracy"] = M.accuracy((y2 >= 0.5), (out >= 0.5))
        elif self.loss == "poisson":   # the metrics of the rate, exp of the output, and the mean deviance
            with np.errstate(over="ignore"):
                result.update(M.regression_report(y2, np.exp(out), poisson=True))
        else:
            result.update(M.regression_report(y2, out))
        return result

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Copies ``[W1, b1, W2, b2, ...]``, ``W`` of shape (n_in, n_out)."""
        self._require_built()
        return [arr.copy() for layer in self._layers for arr in (layer.W, layer.b)]

    def set_weights(self, weights):
        """Set all weights from a list shaped like :meth:`get_weights`."""
        self._require_built()
        targets = [arr for layer in self._layers for arr in (layer.W, layer.b)]
        weights = list(weights)
        if len(weights) != len(targets):
            raise ValueError(f"set_weights needs {len(targets)} arrays [W1, b1, ...], got {len(weights)}.")
        arrays = []
        for i, (w, t) in enumerate(zip(weights, targets)):
            w = _to_array(w, f"weights[{i}]", self.dtype)
            if w.shape != t.shape:
                raise ValueError(f"weights[{i}] has shape {w.shape}, expected {t.shape}.")
            _check_finite(w, f"weights[{i}]")
            arrays.append(w)
        for w, t in zip(arrays, targets):
            t[...] = w
        return self

    def gradients(self, X, y):
        """d(mean loss)/d(parameter) for the batch ``(X, y)``, laid out like :meth:`get_weights`, plus
        ``l1 · sign(W)`` when the optimizer has an L1 penalty (see :meth:`set_optimizer`).
        Dropout is off (inference mode), and no parameter is changed."""
        grads = self.full_batch(X, y)()[1]
        l1 = self.optimizer.hyper["l1"] if self.optimizer is not None else 0.0
        if l1:   # the L1 penalty l1 * sum|W|: its gradient l1 * sign(W), weights only
            grads += l1 * np.sign(self.params) * self.l1_mask()
        return [arr for layer in self._layers
                for gWb in [grads[layer.offset:layer.offset + layer.n_params].reshape(layer.Wb.shape)]
                for arr in (gWb[:-1], gWb[-1])]

    def full_batch(self, X, y, sample_weight=None):
        """The mean loss over all of ``(X, y)`` and its gradient, as a function for full-batch optimizers such
        as scipy's L-BFGS-B: ``f = model.full_batch(X, y)``, then ``loss, grad = f(params)`` copies ``params``
        (a flat array like :attr:`params`; omitted: the current ones) into the network and returns the loss and a
        new flat gradient laid out like ``params``. ``sample_weight`` weights the mean as in :meth:`fit`. Dropout
        is off, no penalty is added (nor ``loss_scale``); the rows go through in chunks (a sparse ``X`` is made
        dense a chunk at a time), so memory stays bounded however many rows there are."""
        self._require_built()
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss(...) first.")
        L.check_pairing(self.loss, self.output_activation)
        X = self._as_x(X)
        n, k = X.shape[0], self.n_outputs
        y = self._as_y(y, n)
        w = self._as_weights(sample_weight, n)
        total = n if w is None else float(w.sum())
        sparse, value, out_f = is_sparse(X), L.LOSSES[self.loss][0], self._plan[-1][2]
        chunks, backprops = [], {}
        for s in range(0, n, _GRAD_CHUNK):
            m = min(_GRAD_CHUNK, n - s)
            wb = None if w is None else w[s:s + m]
            if wb is not None and not wb.sum() > 0:
                continue                             # weighs nothing
            if m not in backprops:                   # its own gradient buffer, not cached: X may be large
                grads = np.zeros_like(self._params)
                backprops[m] = (Backprop(self, m, grads), grads, np.empty((k, m), dtype=self.dtype))
            bp = backprops[m][0]
            share = m / total if wb is None else float(wb.sum()) / total   # of the whole mean
            chunks.append((s, m, y[s:s + m], feature_major(bp.prepare(y[s:s + m]), m)[0],
                           None if wb is None else (wb * (m / wb.sum())).reshape(1, -1), share))

        def loss_and_gradient(params=None):
            if params is not None:
                self._params[...] = params           # no finite check: a line search may step far
            loss, grad = 0.0, np.zeros_like(self._params)
            for s, m, yb, t, wb, share in chunks:
                bp, grads, z = backprops[m]
                x = bp.input_buffer()
                x[:, :-1] = X[s:s + m].toarray() if sparse else X[s:s + m]
                bp.step(x, t, z, None, wb)
                grad += share * grads
                zT = z.T
                out = out_f(np.copy(zT))
                loss += share * (value(out, yb, zT) if wb is None else L.weighted(self.loss, out, yb, zT, wb[0]))
            return loss, grad
        return loss_and_gradient

    def trace(self, X, y, learning_rate=0.01):
        """One training step of the batch ``(X, y)`` computed by :mod:`mlp.reference`, without changing the
        model (weights, optimizer state and random state stay as they are). ``X`` and ``y`` as for :meth:`fit`.

        Returns a :class:`mlp.trace.Trace`: ``.loss`` (mean data loss), ``.penalty`` (the L1 term),
        and ``.layers``, per dense layer, ``z``, ``a``, ``delta`` = dL/dz (sample-major, (n, units)),
        ``grad_W``, ``grad_b`` and the update the current optimizer would make from its present state
        (``update_W``, ``update_b``, ``state_W`` / ``state_b`` before and after, by PyTorch's names): what
        ``fit`` on these rows as one batch (``batch_size=len(X)``, ``shuffle=False``) then does. Dropout
        layers act as the identity (as in :meth:`gradients`). No optimizer set: Adam's defaults, as ``fit``.
        A scikit-learn adapter's network traces its own steps: ``loss_scale``, the decay on the weights only,
        Adam's ``eps_placement``."""
        from .trace import make_trace
        self._require_built()
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss(...) first.")
        L.check_pairing(self.loss, self.output_activation)
        check_positive("learning_rate", learning_rate)
        X = self._as_x(X)
        X = X.toarray() if is_sparse(X) else X     # one batch
        y = self._as_y(y, X.shape[0])
        opt = self.optimizer if self.optimizer is not None else make_optimizer("adam")
        hyper = dict(opt.hyper)
        l1 = hyper.pop("l1")
        modes = {k: v for k, v in opt.get_config().items() if k in opt.modes}     # those not PyTorch's
        decay_on = modes.pop("weight_decay_on", "all")
        hyper.update(modes)
        layers, states = [], []
        for layer in self._layers:
            W, b = layer.W.copy(), layer.b.copy()
            layers.append((W, b, layer.activation))
            states.append(tuple(opt.state_of(layer.offset + start, arr.shape, self.dtype)
                                for start, arr in ((0, W), (W.size, b))))
        return make_trace(X.copy(), y.copy(), layers, self.loss, opt.name, hyper, states, opt.t + 1,
                          float(learning_rate), l1, float(self.loss_scale), decay_on)

    # ------------------------------------------------------------------ description and files
    def summary(self):
        """A table of layers, output shapes and parameter counts (returned as text)."""
        self._require_built()
        rows = [("input", f"(None, {self.n_inputs})", 0)]
        li = 0
        for s in self.specs[1:]:
            if s["type"] == "dropout":
                rows.append((f"dropout(p={s['rate']:g})", rows[-1][1], 0))
                continue
            W = self._layers[li].W
            li += 1
            rows.append((f"dense_{li} ({s['activation']})", f"(None, {W.shape[1]})", W.size + W.shape[1]))
        width = max(len(r[0]) for r in rows) + 2
        lines = [f"{'layer':<{width}}{'output shape':<16}params", "-" * (width + 24)]
        lines += [f"{name:<{width}}{shape:<16}{p:,}" for name, shape, p in rows]
        lines += ["-" * (width + 24), f"total parameters: {self.n_params:,}   loss: {self.loss}   "
                  f"optimizer: {self.optimizer.name if self.optimizer else None}   dtype: {self.dtype}"]
        return "\n".join(lines)

    def layer_table(self):
        """The summary as a list of dicts (for front ends)."""
        self._require_built()
        out, li = [{"layer": "input", "units": self.n_inputs, "activation": "", "params": 0}], 0
        for s in self.specs[1:]:
            if s["type"] == "dropout":
                out.append({"layer": "dropout", "units": out[-1]["units"], "activation": f"p={s['rate']:g}", "params": 0})
                continue
            W = self._layers[li].W
            li += 1
            out.append({"layer": f"dense_{li}", "units": W.shape[1], "activation": s["activation"],
                        "params": int(W.size + W.shape[1])})
        return out

    def get_config(self):
        """JSON-serialisable description; ``MLP.from_config(model.get_config())`` rebuilds an untrained twin."""
        self._require_built()
        config = {"architecture": to_list(self.specs), "loss": self.loss, "dtype": str(self.dtype), "seed": self.seed,
                  "optimizer": self.optimizer.get_config() if self.optimizer else None}
        if self.loss_scale != 1.0:   # only when set (the scikit-learn adapter's), so other files are as before
            config["loss_scale"] = float(self.loss_scale)
        return config

    @classmethod
    def from_config(cls, config):
        """Build a model (fresh weights) from :meth:`get_config`'s dict."""
        if not isinstance(config, dict) or "architecture" not in config:
            raise ValueError("A model config must be a dict with an 'architecture' entry.")
        model = cls(seed=config.get("seed"), dtype=config.get("dtype", "float64"))
        model.sequential(config["architecture"])
        if config.get("loss") is not None:
            model.set_loss(config["loss"])
        if config.get("optimizer") is not None:
            model.optimizer = Optimizer.from_config(config["optimizer"])
        if "loss_scale" in config:
            scale = config["loss_scale"]
            check_positive("loss_scale", scale)
            model.loss_scale = float(scale)
        return model

    def to_bytes(self):
        """The model file's bytes (see :mod:`mlp.io`)."""
        from .io import model_to_bytes
        return model_to_bytes(self)

    def save(self, path):
        """Write the model file (architecture, loss, optimizer and its state, preprocessing, weights)."""
        from .io import save
        save(self, path)
        return path

    def to_onnx(self):
        """ONNX model bytes: raw feature columns in (preprocessing inside the graph), ``predict``'s outputs
        out. Needs the ``onnx`` package; see :mod:`mlp.export`."""
        from .export import to_onnx
        return to_onnx(self)

    def to_torch(self):
        """A ``torch.nn.Sequential`` (eval mode) with this network's weights; see :mod:`mlp.export`."""
        from .export import to_torch
        return to_torch(self)

    @classmethod
    def from_torch(cls, seq):
        """An MLP with the weights of a ``torch.nn.Sequential`` of Linear + activation modules (no loss set)."""
        from .export import from_torch
        return from_torch(seq, cls)

    def __str__(self):
        """The network as its layers, e.g. ``MLP of [Dense(2 -> 4, relu), Dense(4 -> 1, sigmoid)]``."""
        if self.specs is None:
            return "MLP of [] (no layers yet: call sequential)"
        inputs = [f"Dropout({self.input_dropout:g}) of the inputs"] if self.input_dropout else []
        return f"MLP of [{', '.join(inputs + [repr(layer) for layer in self._layers])}]"

    def __repr__(self):
        if self.specs is None:
            return f"MLP(seed={self.seed}, dtype='{self.dtype}', unbuilt)"
        return (f"MLP({format_architecture(self.specs)}, loss={self.loss!r}, "
                f"optimizer={self.optimizer.name if self.optimizer else None!r}, params={self.n_params}, dtype='{self.dtype}')")


# ---------------------------------------------------------------------- helpers
def _to_array(value, name, dtype):
    """np.asarray with clear errors for ragged or non-numeric input (pandas objects welcome)."""
    if hasattr(value, "to_numpy") and not isinstance(value, np.ndarray):
        value = value.to_numpy()
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} is ragged: its rows have different lengths.") from None
    if arr.dtype == object or arr.dtype.kind in "USb":
        if arr.dtype.kind == "b":
            arr = arr.astype(np.float64)
        else:
            try:
                arr = arr.astype(np.float64)
            except OverflowError:
                raise ValueError(f"{name} contains a number too large for a floating-point value "
                                 "(beyond ±1.8e308).") from None
            except (ValueError, TypeError):
                bad = next((v for v in arr.ravel() if not _is_number(v)), None)
                bad = bad.item() if isinstance(bad, np.generic) else bad   # 'a', not np.str_('a')
                raise ValueError(f"{name} must be numeric, but it contains {bad!r}. Encode text columns first "
                                 "(mlp.data.Preprocessor does this for tables).") from None
    elif arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _callbacks(callbacks):
    """The ``callbacks`` argument of ``fit`` as a list, checked before any training."""
    def ok(cb):
        return callable(cb) or callable(getattr(cb, "on_epoch_end", None))
    if callbacks is None or ok(callbacks):
        return [] if callbacks is None else [callbacks]
    try:
        found = list(callbacks)
    except TypeError:
        found = [callbacks]
    bad = [cb for cb in found if not ok(cb)]
    if bad:
        raise TypeError(f"callbacks must be functions cb(epoch, logs) or objects with on_epoch_end(epoch, logs) "
                        f"(a list of them is fine); got {bad[0]!r}.")
    return found


def _all_finite_1d(x):
    # A quick test for the fast path (a sum of Python floats beats NumPy's call overhead for a few values).
    # It may say False for finite values whose sum overflows; the caller then takes the checked path.
    return math.isfinite(sum(x.tolist())) if x.size <= 16 else math.isfinite(np.add.reduce(x))


def _check_finite(arr, name):
    flat = arr.reshape(-1)
    step = 1 << 22
    for s in range(0, flat.size, step):  # chunked: no full-size boolean temporary
        part = flat[s:s + step]
        if not np.isfinite(part).all():
            pos = s + int(np.flatnonzero(~np.isfinite(part))[0])
            where = np.unravel_index(pos, arr.shape)
            raise ValueError(f"{name} contains {flat[pos]} at index {tuple(int(i) for i in where)}; "
                             "remove or fill missing and infinite values first.")
