"""The multi-layer perceptron: building, training loop per epoch, inference, weights and files.

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
from .backprop import Backprop
from .architecture import format_architecture, parse_architecture, to_list
from .optimizers import make_optimizer
from .training import EarlyStopping, TrainingRun, _check_positive, make_schedule

MAX_PARAMS = 50_000_000          # refuse absurd architectures before allocating memory
_EVAL_CHUNK = 65536              # rows per chunk in predict/evaluate (bounded memory)
_FEW = 8                         # predict on up to this many rows goes through reused buffers
_COPY_BYTES = 2 ** 20            # up to this, copy X shuffled each epoch; above, gather each batch
RELU_BIAS = 0.3              # see init_weights and benchmarks/xor_seeds.py
HE_INIT = {"relu", "leaky_relu", "elu", "gelu", "swish"}
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
    """

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
        specs = self.specs
        self.grads = np.zeros_like(self.params)
        self._layers = []
        offset, self._input_dropout = 0, 0.0
        for s in specs[1:]:
            if s["type"] == "dropout":
                if self._layers:
                    self._layers[-1]["dropout"] = s["rate"]
                else:
                    self._input_dropout = s["rate"]
                continue
            n_in, n_out = (self._layers[-1]["W"].shape[1] if self._layers else specs[0]["size"]), s["units"]
            size = (n_in + 1) * n_out
            Wb = self.params[offset:offset + size].reshape(n_in + 1, n_out)   # [W; b]
            offset += size
            self._layers.append({"Wb": Wb, "W": Wb[:-1], "b": Wb[-1], "offset": offset - size,
                                 "activation": s["activation"], "dropout": 0.0})
        self._backprops = {}
        self._has_dropout = bool(self._input_dropout or any(layer["dropout"] for layer in self._layers))
        self._plan = [(layer["W"], layer["b"], act.ACTIVATIONS[layer["activation"]]) for layer in self._layers]
        self._one = None      # buffers of the single-sample forward, built on first use
        self._few = {}        # the same for predict on a few rows, per row count
        self._mask = None     # where L1 applies (the weights), built on first use
        self._one_lock = threading.Lock()   # those buffers serve one thread at a time
        self._n_in = specs[0]["size"]

    # copy.deepcopy and pickle copy arrays one by one, so a view would come back apart from the parameter
    # vector (training the copy would not change what it predicts): they carry the state without the views,
    # which are linked again
    _DERIVED = ("grads", "_layers", "_input_dropout", "_backprops", "_has_dropout", "_plan", "_one", "_one_lock",
                "_n_in", "_mask", "_few")

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}

    def __setstate__(self, state):
        if "params" in state:   # pickled before params became a property
            state = dict(state, _params=state.pop("params"))
        self.__dict__.update(state)
        self.grads, self._layers, self._n_in = None, [], None
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
            n_in, n_out = layer["W"].shape
            relu_like = layer["activation"] in HE_INIT
            name = ("he" if relu_like else "xavier") if scheme == "auto" else scheme
            layer["W"][...] = self.rng.standard_normal((n_in, n_out)) * INITIALIZERS[name](n_in, n_out)
            layer["b"][...] = RELU_BIAS if relu_like else 0.0
        return self

    def set_loss(self, name, **kwargs):
        """Choose the loss: mse, mae, huber (delta=1.0), bce (sigmoid output), cce (softmax output)."""
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

    def _l1_mask(self):
        """A flat array like ``params``: 1 at the weights, 0 at the biases (where L1 applies). Cached."""
        mask = self._mask
        if mask is None:
            mask = np.zeros(self._params.shape, dtype=self.dtype)
            for layer in self._layers:
                mask[layer["offset"]:layer["offset"] + layer["W"].size] = 1.0
            self._mask = mask
        return mask

    # ------------------------------------------------------------------ properties
    @property
    def n_inputs(self):
        self._require_built()
        return self.specs[0]["size"]

    @property
    def n_outputs(self):
        self._require_built()
        return self._layers[-1]["W"].shape[1]

    @property
    def output_activation(self):
        self._require_built()
        return self._layers[-1]["activation"]

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
    def _backprop(self, n, grad_scale=1.0):
        """The :class:`~mlp.backprop.Backprop` for batches of ``n`` rows (cached: training uses one or two
        sizes), writing ``grad_scale`` times the gradients into ``self.grads``."""
        key = (n, self.loss, grad_scale)
        bp = self._backprops.get(key)
        if bp is None:
            if len(self._backprops) >= 4:
                self._backprops.clear()
            bp = self._backprops[key] = Backprop(self, n, self.grads, grad_scale)
        return bp

    # ------------------------------------------------------------------ input checks
    def _as_x(self, X, name="X"):
        """2-D array of the model dtype with n_inputs columns; clear errors otherwise."""
        self._require_built()
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
        return y

    # ------------------------------------------------------------------ training
    def fit(self, X, y, epochs=None, learning_rate=0.01, lr_decay=1.0, batch_size=32, shuffle=True,
            validation_split=0.0, validation_data=None, early_stopping=None, callbacks=None, verbose=0,
            lr_schedule=None, metrics=None, epoch=None):
        """Train with mini-batches and return a :class:`History`.

        ``epoch`` is an alias of ``epochs`` (the seed's name). ``batch_size=None`` is full batch; ``1`` is
        per-sample. ``lr_decay`` multiplies the learning rate after each epoch (exponential schedule);
        ``lr_schedule`` may be 'step', 'cosine', a dict or a function of the epoch. ``early_stopping``:
        a patience (int), a dict or :class:`EarlyStopping`. ``callbacks``: callables ``cb(epoch, logs)``
        called after every epoch; returning True stops training. Training also stops (keeping the last
        finite weights) if the loss becomes NaN or infinite, or on KeyboardInterrupt.
        """
        return self.start_training(X, y, epochs, learning_rate, lr_decay, batch_size, shuffle, validation_split,
                                   validation_data, early_stopping, callbacks, verbose, lr_schedule, metrics,
                                   epoch).run()

    def start_training(self, X, y, epochs=None, learning_rate=0.01, lr_decay=1.0, batch_size=32, shuffle=True,
                       validation_split=0.0, validation_data=None, early_stopping=None, callbacks=None,
                       verbose=0, lr_schedule=None, metrics=None, epoch=None):
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
        schedule = make_schedule(lr_schedule, learning_rate, lr_decay, int(epochs))
        stopper = EarlyStopping.coerce(early_stopping)
        callbacks = _callbacks(callbacks)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
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
        else:
            Xv = yv = None
        bs = X.shape[0] if batch_size is None else batch_size
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ValueError(f"batch_size must be a whole number >= 1 or None (full batch), got {batch_size!r}.")
        track_acc = bool(metrics if metrics is not None else ["accuracy"]) and self.loss in L.CLASSIFICATION
        return TrainingRun(self, X, y, Xv, yv, epochs=int(epochs), schedule=schedule, batch_size=min(int(bs), X.shape[0]),
                           shuffle=bool(shuffle), stopper=stopper, callbacks=callbacks, verbose=verbose,
                           track_accuracy=track_acc)

    def _train_epoch(self, X, y, lr, batch_size, shuffle, track_acc, probe=None):
        """One pass over the data. Returns (mean loss, correct count), or (bad loss, None) if it diverged.
        ``probe(grads, params, grad_scale)``, when given, sees the epoch's last step before its update.

        The epoch's loss is the mean of the batch losses (as Keras reports it), from each batch's outputs
        before its update; the output layer's z of every batch is kept and the epoch scored once at the end.
        Small data is copied once per epoch in shuffled order; bigger data is gathered batch by batch into
        a reused buffer, which stays in the CPU cache (and never copies all of X)."""
        n, k = X.shape[0], self.n_outputs
        order = self.rng.permutation(n) if shuffle else None
        rng = self.rng if self._has_dropout else None
        opt = self.optimizer
        if opt.hyper["l1"] and opt.l1_mask is not self._l1_mask():
            opt.set_l1_mask(self._l1_mask())      # L1 on the weights only
        buf = opt.grad_buffer(self.params)
        if buf is not None and buf is not self.grads:   # write gradients where the optimizer wants them
            self.grads = buf
            self._backprops.clear()
        step, params, grads, scale = self.optimizer.step, self.params, self.grads, self.optimizer.grad_scale
        copy = X.nbytes <= _COPY_BYTES
        if copy:   # the shuffled inputs with a column of ones
            Xa = np.ones((n, X.shape[1] + 1), dtype=self.dtype)
            if order is None:
                Xa[:, :-1] = X
            else:
                Xa[:, :-1] = X.take(order, axis=0)   # 3x faster than np.take(..., out=) into the strided view
        if order is not None:
            y = y[order]
        full = n - n % batch_size
        bp = self._backprop(batch_size, scale)
        t = bp.prepare(y)
        zs = np.empty((full // batch_size, k, batch_size), dtype=self.dtype)
        batches = list(zip(range(0, full, batch_size), _feature_major(t[:full], batch_size), zs))
        if full < n:   # the last, smaller batch
            zr = np.empty((k, n - full), dtype=self.dtype)
            batches.append((full, _feature_major(t[full:], n - full)[0], zr))
        last = batches[-1][0] if probe is not None else -1
        for s, tb, z in batches:
            m = z.shape[1]
            if m != batch_size:
                bp = self._backprop(m, scale)
            if copy:
                x = Xa[s:s + m]
            else:
                x = bp.input_buffer()
                x[:, :-1] = X.take(order[s:s + m], axis=0) if order is not None else X[s:s + m]
            bp.step(x, tb, z, rng)
            if s == last:
                probe(grads, params, scale)
            step(params, grads, lr)
        # scored sample-major, through transposed views of feature-major arrays: the reductions over
        # classes then run along whole contiguous rows, not over k values at a time (2-3x faster)
        z = zs.transpose(1, 0, 2).reshape(k, full)
        if full < n:
            z = np.concatenate([z, zr], axis=1)
        z, y = z.T, np.ascontiguousarray(y.T).T
        out = self._plan[-1][2](np.copy(z))   # np.copy keeps the layout (ndarray.copy would not)
        loss = L.LOSSES[self.loss][0](out, y, z)
        if not math.isfinite(loss):
            return loss, None
        return loss, (_count_correct(out, y) if track_acc else 0)

    # ------------------------------------------------------------------ inference
    def _infer(self, a, with_z=False):
        """Inference forward pass (no dropout, no cache); with ``with_z`` also the output layer's z."""
        z, last = None, len(self._plan) - 1
        for i, (W, b, f) in enumerate(self._plan):
            z = a.dot(W)
            z += b
            # only the output layer's z is returned: copy it if its activation would overwrite it
            a = f(z.copy() if with_z and i == last and self._layers[-1]["activation"] in act.IN_PLACE else z)
        return (a, z) if with_z else a

    def _column_plan(self, R):
        """Reused feature-major buffers for R samples through the hidden layers: the input buffer, its
        sample-major view, and per hidden layer (augmented weights transposed, z, z's sample-major view, the
        activation for that buffer, the layer's buffer with its row of ones)."""
        rows = [np.ones((self.n_inputs + 1, R), dtype=self.dtype)]
        plan = []
        for layer in self._layers[:-1]:
            rows.append(np.ones((layer["Wb"].shape[1] + 1, R), dtype=self.dtype))
            z = rows[-1][:-1]
            plan.append((layer["Wb"].T, z, z.T, act.forward_fn(layer["activation"], z.T), rows[-1]))
        return rows[0], rows[0][:-1].T, plan

    def _infer_one(self, x):
        """``forward`` of one sample, through reused buffers laid out as in ``backprop``: feature-major
        ``(units + 1, R)`` arrays ending in a row of ones, so a layer is one ``dot`` with the augmented
        weights into the next buffer, then the activation in place. With a single output unit the sample
        is computed twice (R = 2): NumPy's calls cost two to three times more on one-element arrays."""
        if self._one is None:
            last = self._layers[-1]
            elementwise = act.DERIVATIVES.get(last["activation"]) is not None   # softmax is not
            self._one = (*self._column_plan(2 if self.n_outputs == 1 else 1), last["Wb"].T,
                         act.ACTIVATIONS[last["activation"]], elementwise)
        a, inputs, plan, WoT, f, elementwise = self._one
        inputs[...] = x            # every column
        for WbT, z, zT, f_h, A in plan:
            WbT.dot(a, out=z)
            out = f_h(zT)
            if out is not zT:      # an activation that returns a new array
                zT[...] = out
            a = A
        out = WoT.dot(a)
        return f(out)[:, 0] if elementwise else f(out.T)[0]

    def _infer_few(self, X):
        """``predict`` of a few rows (at most ``_FEW`` of them) through reused feature-major buffers, as
        :meth:`_infer_one` does for one: a layer is one ``dot`` with the augmented weights and the activation
        in place (a third fewer NumPy calls than :meth:`_infer`, which adds each bias separately)."""
        n = X.shape[0]
        bufs = self._few.get(n)
        if bufs is None:
            last = self._layers[-1]
            bufs = self._few[n] = (*self._column_plan(n), last["Wb"], act.ACTIVATIONS[last["activation"]])
        a, inputs, plan, Wo, f = bufs
        inputs[...] = X
        for WbT, z, zT, f_h, A in plan:
            WbT.dot(a, out=z)
            out = f_h(zT)
            if out is not zT:      # an activation that returns a new array
                zT[...] = out
            a = A
        return f(a.T.dot(Wo))      # sample-major (n, k), a new array

    def _predict_2d(self, X):
        n = X.shape[0]
        if n <= _EVAL_CHUNK:
            return self._infer(X)
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        for s in range(0, n, _EVAL_CHUNK):
            out[s:s + _EVAL_CHUNK] = self._infer(X[s:s + _EVAL_CHUNK])
        return out

    def forward(self, x):
        """Network output for one sample (1-D in, 1-D out) or a batch (2-D in, 2-D out)."""
        if (type(x) is list or type(x) is tuple) and len(x) == self._n_in:
            try:                       # one C-level conversion, then the array's fast path
                x = np.array(x, dtype=self.dtype)
            except (TypeError, ValueError, OverflowError):
                pass                   # the checked path below says what is wrong
        if type(x) is np.ndarray and x.ndim == 1 and x.size == self._n_in and x.dtype is self.dtype \
                and _all_finite_1d(x) and self._one_lock.acquire(False):
            try:                       # fast path for a single, clean sample (another thread in it: below)
                return self._infer_one(x)
            finally:
                self._one_lock.release()
        self._require_built()
        arr = _to_array(x, "x", self.dtype)
        if arr.ndim == 1:
            if arr.size != self.n_inputs:
                raise ValueError(f"x has {arr.size} values but the network's input size is {self.n_inputs}.")
            _check_finite(arr, "x")
            return self._infer(arr.reshape(1, -1))[0]
        return self._predict_2d(self._as_x(arr, "x"))

    def predict(self, X):
        """Outputs for the rows of ``X`` (probabilities for sigmoid/softmax outputs), shape (n, n_outputs)."""
        X = self._as_x(X)
        n = X.shape[0]
        if n <= _FEW and self._one_lock.acquire(False):
            try:                       # a few rows: reused buffers (one row: half the time of the batch pass)
                return self._infer_one(X[0]).reshape(1, -1) if n == 1 else self._infer_few(X)
            finally:
                self._one_lock.release()
        return self._predict_2d(X)

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
        preprocessing saved with the model. ``table`` is a ``mlp.data.Table`` or CSV text/bytes/path."""
        if self.preprocessor is None:
            raise ValueError("This model has no saved preprocessing; use predict() on a numeric array.")
        from . import data
        if not isinstance(table, data.Table):
            table = data.read_csv(table)
        return self.preprocessor.inverse_y(self.predict(self.preprocessor.transform_X(table)))

    def _scores(self, X, y, with_accuracy=True):
        """Loss (and accuracy) of prepared arrays, in chunks."""
        n, total, correct = X.shape[0], 0.0, 0
        value = L.LOSSES[self.loss][0]
        for s in range(0, n, _EVAL_CHUNK):
            xb, yb = X[s:s + _EVAL_CHUNK], y[s:s + _EVAL_CHUNK]
            out, z = self._infer(xb, with_z=True)
            total += value(out, yb, z) * xb.shape[0]
            if with_accuracy:
                correct += _count_correct(out, yb)
        scores = {"loss": float(total / n)}
        if with_accuracy:
            scores["accuracy"] = float(correct / n)
        return scores

    def evaluate(self, X, y):
        """Loss and metrics: accuracy, precision, recall, f1, confusion_matrix for classification
        (binary for one sigmoid unit, macro for softmax); mae, rmse, r2 for regression."""
        X = self._as_x(X)
        y2 = self._as_y(y, X.shape[0])
        result = self._scores(X, y2, with_accuracy=False)
        out = self._predict_2d(X)
        task = self.task
        if task == "multiclass":
            result.update(M.classification_report(y2.argmax(axis=1), out.argmax(axis=1), self.n_outputs))
        elif task == "binary":
            result.update(M.classification_report(y2[:, 0] >= 0.5, out[:, 0] >= 0.5, 2))
        elif task == "multilabel":
            result["accuracy"] = M.accuracy((y2 >= 0.5), (out >= 0.5))
        else:
            result.update(M.regression_report(y2, out))
        return result

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Copies ``[W1, b1, W2, b2, ...]``, ``W`` of shape (n_in, n_out)."""
        self._require_built()
        return [arr.copy() for layer in self._layers for arr in (layer["W"], layer["b"])]

    def set_weights(self, weights):
        """Set all weights from a list shaped like :meth:`get_weights`."""
        self._require_built()
        targets = [arr for layer in self._layers for arr in (layer["W"], layer["b"])]
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
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss(...) first.")
        L.check_pairing(self.loss, self.output_activation)
        X = self._as_x(X)
        y = self._as_y(y, X.shape[0])
        grads = np.zeros_like(self.params)
        bp = Backprop(self, X.shape[0], grads)   # not cached: X may be large
        z = np.empty((self.n_outputs, X.shape[0]), dtype=self.dtype)
        Xa = np.ones((X.shape[0], X.shape[1] + 1), dtype=self.dtype)
        Xa[:, :-1] = X
        bp.step(Xa, _feature_major(bp.prepare(y), X.shape[0])[0], z)
        l1 = self.optimizer.hyper["l1"] if self.optimizer is not None else 0.0
        if l1:   # the L1 penalty l1 * sum|W|: its gradient l1 * sign(W), weights only
            grads += l1 * np.sign(self.params) * self._l1_mask()
        return [arr for gWb in bp.grad_views for arr in (gWb[:-1], gWb[-1])]

    def trace(self, X, y, learning_rate=0.01):
        """One training step of the batch ``(X, y)`` computed by :mod:`mlp.reference`, without changing the
        model (weights, optimizer state and random state stay as they are). ``X`` and ``y`` as for :meth:`fit`.

        Returns a :class:`mlp.reference.Trace`: ``.loss`` (mean data loss), ``.penalty`` (the L1 term),
        and ``.layers``, per dense layer, ``z``, ``a``, ``delta`` = dL/dz (sample-major, (n, units)),
        ``grad_W``, ``grad_b`` and the update the current optimizer would make from its present state
        (``update_W``, ``update_b``, ``state_W`` / ``state_b`` before and after, by PyTorch's names): what
        ``fit`` on these rows as one batch (``batch_size=len(X)``, ``shuffle=False``) then does. Dropout
        layers act as the identity (as in :meth:`gradients`). No optimizer set: Adam's defaults, as ``fit``."""
        from . import reference
        self._require_built()
        if self.loss is None:
            raise ValueError("No loss set: call model.set_loss(...) first.")
        L.check_pairing(self.loss, self.output_activation)
        _check_positive("learning_rate", learning_rate)
        X = self._as_x(X)
        y = self._as_y(y, X.shape[0])
        opt = self.optimizer if self.optimizer is not None else make_optimizer("adam")
        hyper = dict(opt.hyper)
        l1 = hyper.pop("l1")
        layers, states = [], []
        for layer in self._layers:
            W, b = layer["W"].copy(), layer["b"].copy()
            layers.append((W, b, layer["activation"]))
            states.append(tuple(self._optimizer_state(opt, layer["offset"] + start, arr.shape)
                                for start, arr in ((0, W), (W.size, b))))
        return reference.make_trace(X.copy(), y.copy(), layers, self.loss, opt.name, hyper, states, opt.t + 1,
                                    float(learning_rate), l1)

    def _optimizer_state(self, opt, start, shape):
        # copies of the optimizer's state for the parameters at params[start:start + size], by torch's names;
        # zeros (mu_product: 1) before the first step, as the fast path starts
        size = math.prod(shape)
        state = {}
        for name in opt.state_names:
            if name == "momentum_buffer" and not opt.hyper["momentum"]:
                continue                     # plain SGD keeps no state (torch: no momentum buffer)
            arr = opt.state.get(name)
            state[name] = np.zeros(shape, self.dtype) if arr is None else arr[start:start + size].reshape(shape).copy()
        if opt.name == "nadam":
            mu_product = opt.state.get("mu_product")
            state["mu_product"] = np.asarray(1.0 if mu_product is None else float(mu_product[0]))
        return state

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
            W = self._layers[li]["W"]
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
            W = self._layers[li]["W"]
            li += 1
            out.append({"layer": f"dense_{li}", "units": W.shape[1], "activation": s["activation"],
                        "params": int(W.size + W.shape[1])})
        return out

    def get_config(self):
        """JSON-serialisable description; ``MLP.from_config(model.get_config())`` rebuilds an untrained twin."""
        self._require_built()
        return {"architecture": to_list(self.specs), "loss": self.loss, "dtype": str(self.dtype), "seed": self.seed,
                "optimizer": self.optimizer.get_config() if self.optimizer else None}

    @classmethod
    def from_config(cls, config):
        """Build a model (fresh weights) from :meth:`get_config`'s dict."""
        if not isinstance(config, dict) or "architecture" not in config:
            raise ValueError("A model config must be a dict with an 'architecture' entry.")
        model = cls(seed=config.get("seed"), dtype=config.get("dtype", "float64"))
        model.sequential(config["architecture"])
        if config.get("loss") is not None:
            model.set_loss(config["loss"])
        opt = config.get("optimizer")
        if opt is not None:
            if not isinstance(opt, dict) or not isinstance(opt.get("name"), str):
                raise ValueError("The optimizer config must be a dict with a 'name'.")
            model.set_optimizer(opt["name"], **{k: v for k, v in opt.items() if k != "name"})
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

    def __repr__(self):
        if self.specs is None:
            return f"MLP(seed={self.seed}, dtype='{self.dtype}', unbuilt)"
        return (f"MLP({format_architecture(self.specs)}, loss={self.loss!r}, "
                f"optimizer={self.optimizer.name if self.optimizer else None!r}, params={self.n_params}, dtype='{self.dtype}')")


# ---------------------------------------------------------------------- helpers
def _feature_major(A, n):
    """Rows of ``A`` (a multiple of ``n``) as contiguous feature-major batches, shape (batches, cols, n)
    (see mlp/backprop.py)."""
    nb, c = A.shape[0] // n, A.shape[1]
    return np.ascontiguousarray(A.reshape(nb, n, c).transpose(0, 2, 1))


def _count_correct(out, y):
    if out.shape[1] == 1:
        return np.count_nonzero((out >= 0.5) == (y >= 0.5))
    return np.count_nonzero(out.argmax(axis=1) == y.argmax(axis=1))


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
