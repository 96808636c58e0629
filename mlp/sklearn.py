"""scikit-learn estimators around the engine: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's own parameter names (``hidden_layer_sizes``, ``activation``, ``solver``, ``alpha``,
``batch_size``, ``learning_rate_init``, ``max_iter``, ``shuffle``, ``random_state``, ``early_stopping``,
``validation_fraction``, ``n_iter_no_change``, ``tol`` ...), so replacing
``from sklearn.neural_network import MLPClassifier`` by ``from mlp.sklearn import MLPClassifier`` is enough
for common code; they add ``architecture=`` (the hidden part of the engine's list syntax, e.g.
``[64, 'relu', 'dropout(0.1)', 32, 'tanh']``) and ``l1``. The fitted network is ``model_`` (an
:class:`mlp.MLP`), so it can be saved, exported (``model_.to_onnx()``) or opened in the apps.

This module imports scikit-learn; ``import mlp`` does not import this module.

Differences from scikit-learn's MLP: ``solver='lbfgs'`` and ``sample_weight`` are not supported; ``alpha`` becomes
the optimizer's L2 ``weight_decay = alpha / batch_size`` (the per-step gradient scikit-learn adds), which, as in
PyTorch, applies to biases too; ``loss_curve_`` holds the engine's epoch loss (mean over the batches, before
each batch's update; log-loss for classifiers, mean squared error for regressors).
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target

try:  # scikit-learn 1.6 brought validate_data and __sklearn_tags__, which these estimators are written for
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:  # an older scikit-learn
    import sklearn
    raise ImportError(f"mlp.sklearn needs scikit-learn 1.6 or newer; this is scikit-learn {sklearn.__version__} "
                      f"(pip install -U scikit-learn).") from None

from .architecture import parse_architecture, parse_text
from .network import MLP
from .optimizers import OPTIMIZERS, make_optimizer

__all__ = ["MLPClassifier", "MLPRegressor", "fit_chunks", "iter_chunks"]

_SOLVERS = ("adam", "sgd") + tuple(k for k in OPTIMIZERS if k not in ("adam", "sgd"))
_LEARNING_RATES = ("constant", "invscaling", "adaptive")


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the training loop, partial_fit."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, architecture=None, l1=0.0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.architecture = architecture
        self.l1 = l1

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """Validate the hyperparameters (at fit time, as scikit-learn does); return the solver's name."""
        def number(name, low, high=None, low_open=False, integer=False):
            v = getattr(self, name)
            kinds = numbers.Integral if integer else numbers.Real
            if isinstance(v, bool) or not isinstance(v, kinds) or not np.isfinite(v) \
                    or (v <= low if low_open else v < low) or (high is not None and v >= high):
                span = f"{'>' if low_open else '>='} {low}" + (f" and < {high}" if high is not None else "")
                raise ValueError(f"{name} must be a {'whole ' if integer else ''}number {span}, got {v!r}.")
        number("alpha", 0.0)
        number("l1", 0.0)
        number("learning_rate_init", 0.0, low_open=True)
        number("power_t", 0.0)
        number("max_iter", 1, integer=True)
        number("tol", 0.0)
        number("momentum", 0.0, 1.0)
        number("beta_1", 0.0, 1.0)
        number("beta_2", 0.0, 1.0)
        number("epsilon", 0.0, low_open=True)
        number("validation_fraction", 0.0, 1.0, low_open=True)
        number("n_iter_no_change", 1, integer=True)
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and not isinstance(self.batch_size, bool) and self.batch_size >= 1)):
            raise ValueError(f"batch_size must be 'auto' (min(200, n_samples)) or a whole number >= 1, "
                             f"got {self.batch_size!r}.")
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(f"learning_rate must be one of {', '.join(map(repr, _LEARNING_RATES))}, "
                             f"got {self.learning_rate!r}.")
        for name in ("shuffle", "early_stopping", "warm_start", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        solver = self.solver.lower() if isinstance(self.solver, str) else self.solver
        if solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not supported by mlp.sklearn: the engine trains with mini-batch "
                             f"gradient optimizers. Use one of {', '.join(map(repr, _SOLVERS))} ('adam' and 'sgd' "
                             "as in scikit-learn).")
        if solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))}, got {self.solver!r}.")
        return solver

    def _architecture(self, n_in, n_out, out_activation):
        """The engine's architecture list: input size, the hidden part, the output layer."""
        if self.architecture is not None:
            hidden = self.architecture
            if isinstance(hidden, str):
                hidden = parse_text(hidden)
            if not isinstance(hidden, (list, tuple)):
                raise TypeError(f"architecture must be the hidden part of the list syntax, e.g. "
                                f"[64, 'relu', 'dropout(0.1)', 32, 'tanh'] (or that list as text), got {hidden!r}.")
            hidden = list(hidden)
            if any(isinstance(h, str) and h.strip().lower() == "softmax" for h in hidden):
                raise ValueError(f"architecture={self.architecture!r}: a softmax hidden layer? architecture is the "
                                 "hidden part only, e.g. [64, 'relu', 32, 'tanh']; the input size and the output "
                                 "layer come from the data.")
        else:
            sizes = self.hidden_layer_sizes
            if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
                sizes = [sizes]
            try:
                sizes = list(sizes)
            except TypeError:
                raise ValueError(f"hidden_layer_sizes must be a tuple of layer sizes such as (100,) or (64, 32), "
                                 f"got {self.hidden_layer_sizes!r}.") from None
            for s in sizes:
                if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                    raise ValueError(f"hidden_layer_sizes must hold whole numbers >= 1, got {self.hidden_layer_sizes!r}.")
            if not isinstance(self.activation, str):
                raise ValueError(f"activation must be a name such as 'relu', 'tanh', 'logistic' or 'identity', "
                                 f"got {self.activation!r}.")
            hidden = [item for s in sizes for item in (int(s), self.activation)]
        arch = [int(n_in)] + hidden + [int(n_out), out_activation]
        try:
            parse_architecture(arch)
            return arch
        except (TypeError, ValueError) as e:
            raise ValueError(f"{'architecture' if self.architecture is not None else 'hidden_layer_sizes/activation'}"
                             f": {e}") from None

    # ------------------------------------------------------------------ engine model
    def _seeds(self):
        """(network seed, validation-split seed) from random_state (an int is used as the seed itself)."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and rs >= 0:
            return int(rs), int(rs)
        rng = check_random_state(rs)
        return int(rng.randint(np.iinfo(np.int32).max)), int(rng.randint(np.iinfo(np.int32).max))

    def _new_model(self, solver, n_in, n_out, out_activation, loss, seed):
        model = MLP(seed=seed).sequential(self._architecture(n_in, n_out, out_activation))
        model.set_loss(loss)
        self._solver_ = solver
        self.model_ = model
        return model

    def _set_optimizer(self, batch_size):
        """(Re)configure the optimizer's hyperparameters, keeping its state (moments, step count)."""
        solver = self._solver_
        hyper = {"weight_decay": float(self.alpha) / batch_size}
        if solver == "sgd":
            hyper.update(momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        elif solver in ("adam", "adamw", "nadam"):
            hyper.update(beta1=float(self.beta_1), beta2=float(self.beta_2), eps=float(self.epsilon))
        if self.l1:
            hyper["l1"] = float(self.l1)
        model, old = self.model_, self.model_.optimizer
        new = make_optimizer(solver, **hyper)
        if old is not None and old.get_config() == new.get_config():
            return model          # partial_fit / warm_start: the same optimizer goes on
        model.optimizer = new
        if old is not None and old.name == new.name:
            new.set_state(old.t, old.state)
        return model

    def _batch_size(self, n, incremental=False):
        """(rows per batch, the batch size alpha is divided by); a chunk smaller than batch_size is one batch."""
        if self.batch_size == "auto":
            return min(200, n), min(200, n)
        if self.batch_size > n and not incremental:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          UserWarning, stacklevel=3)
        return int(min(self.batch_size, n)), int(self.batch_size)

    def _lr_schedule(self):
        """The learning rate of each epoch: scikit-learn's 'invscaling' and 'adaptive' (solver 'sgd' and
        'sgd_momentum' only, as scikit-learn), else constant. Read from self._lr, which 'adaptive' lowers."""
        if self.learning_rate == "invscaling" and self._solver_ in ("sgd", "sgd_momentum"):
            return lambda epoch: self.learning_rate_init / (self.t_ + 1) ** self.power_t
        return lambda epoch: self._lr

    # ------------------------------------------------------------------ training
    def _fit(self, X, y, incremental):
        solver = self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True (there is no held-out data "
                             "between chunks); set early_stopping=False.")
        first = not (incremental or self.warm_start) or not hasattr(self, "model_")
        X, Y = self._prepare(X, y, first, incremental)
        n_out = Y.shape[1]
        if first:
            seed, self._split_seed = self._seeds()
            out_activation, loss = self._output()
            self._new_model(solver, X.shape[1], n_out, out_activation, loss, seed)
            self.n_iter_, self.t_, self.loss_curve_ = 0, 0, []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self._lr = float(self.learning_rate_init)
            if self.early_stopping and not incremental:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
            else:
                self.validation_scores_ = self.best_validation_score_ = None
        elif self.model_.n_outputs != n_out:
            raise ValueError(f"warm_start/partial_fit: y has {n_out} output column(s) but the fitted network has "
                             f"{self.model_.n_outputs}.")
        else:
            self._solver_ = solver
            if not incremental:
                self._lr = float(self.learning_rate_init)
                self._no_improvement_count = 0
                if self.early_stopping and self.validation_scores_ is None:   # warm start, early stopping now on
                    self.validation_scores_, self.best_validation_score_ = [], -np.inf
            if self.best_loss_ is None:
                self.best_loss_ = np.inf
        early = self.early_stopping and not incremental
        if early:
            stratify = Y if (is_classifier(self) and self._label_binarizer.y_type_ != "multilabel-indicator") else None
            X, Xv, Y, Yv = train_test_split(X, Y, random_state=self._split_seed, test_size=self.validation_fraction,
                                            stratify=stratify)
            if Xv.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
        batch_size, nominal = self._batch_size(X.shape[0], incremental)
        model = self._set_optimizer(nominal)
        epochs = 1 if incremental else int(self.max_iter)
        run = model.start_training(X, Y, epochs=epochs, learning_rate=float(self.learning_rate_init),
                                   batch_size=batch_size, shuffle=bool(self.shuffle), lr_schedule=self._lr_schedule(),
                                   metrics=[])
        best_params, converged = None, False
        self.n_iter_ = 0
        for _ in range(epochs):
            before = len(run.history.epochs)
            run.step(epochs=1)
            if len(run.history.epochs) == before:
                converged = True   # diverged or interrupted: the engine kept the last finite weights and said why
                break
            loss = float(run.history["loss"][-1])
            self.n_iter_ += 1
            self.t_ += X.shape[0]
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
            if early:
                score = self._validation_score(Xv, Yv)
                self.validation_scores_.append(score)
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if score < self.best_validation_score_ + self.tol else 0)
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_params = model.params.copy()
            else:
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if loss > self.best_loss_ - self.tol else 0)
                self.best_loss_ = min(self.best_loss_, loss)
            if self._no_improvement_count > self.n_iter_no_change:
                if self.learning_rate == "adaptive" and self._solver_ in ("sgd", "sgd_momentum") and self._lr > 1e-6:
                    self._lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print("Setting learning rate to %f" % self._lr)
                else:
                    if self.verbose:
                        print("%s did not improve more than tol=%f for %d consecutive epochs. Stopping."
                              % ("Validation score" if early else "Training loss", self.tol, self.n_iter_no_change))
                    converged = True
                    run.stop("no improvement")
                    break
        if not converged and not incremental:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning, stacklevel=3)
        if early:
            self.best_loss_ = None
            if best_params is not None:
                model.params = best_params
        return self

    def fit(self, X, y):
        """Train on ``(X, y)`` for up to ``max_iter`` epochs (fresh weights unless ``warm_start``); returns self."""
        return self._fit(X, y, incremental=False)

    # ------------------------------------------------------------------ fitted attributes
    @property
    def coefs_(self):
        """Weight matrices, one per layer, shape (n_in, n_out) (copies; as scikit-learn's)."""
        check_is_fitted(self, "model_")
        return self.model_.get_weights()[0::2]

    @property
    def intercepts_(self):
        """Bias vectors, one per layer (copies)."""
        check_is_fitted(self, "model_")
        return self.model_.get_weights()[1::2]

    @property
    def n_layers_(self):
        check_is_fitted(self, "model_")
        return len(self.model_.layers) + 1

    @property
    def n_outputs_(self):
        check_is_fitted(self, "model_")
        return self.model_.n_outputs

    @property
    def out_activation_(self):
        check_is_fitted(self, "model_")
        return {"sigmoid": "logistic", "linear": "identity"}.get(self.model_.output_activation,
                                                                  self.model_.output_activation)

    def _network_output(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype=np.float64, order="C")
        return self.model_.predict(X)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier with scikit-learn's interface (binary, multi-class, multi-label).

    Binary problems get one sigmoid output and binary cross-entropy, multi-class a softmax and categorical
    cross-entropy, multi-label indicator targets one sigmoid unit per label. ``architecture`` (hidden part of
    the list syntax) overrides ``hidden_layer_sizes`` and ``activation``; ``l1`` adds ``l1 * sum|W|``.

    >>> from mlp.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]); clf.score(X, y); clf.model_.save('model.mlp')
    """

    def _prepare(self, X, y, first, incremental):
        X, y = validate_data(self, X, y, reset=first, accept_sparse=False, dtype=np.float64, order="C",
                             multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            lb = LabelBinarizer()
            if incremental and not type_of_target(y).startswith("multilabel"):
                lb.fit(self._partial_classes)
            else:
                lb.fit(y)
            if len(lb.classes_) < 2:
                raise ValueError(f"y has only one class ({lb.classes_[0]!r}); a classifier needs at least two "
                                 "classes to learn from.")
            self._label_binarizer = lb
            self.classes_ = lb.classes_
        else:
            known = self.classes_
            if type_of_target(y).startswith("multilabel"):
                if self._label_binarizer.y_type_ != "multilabel-indicator" or y.shape[1] != len(known):
                    raise ValueError("y is a multi-label indicator matrix unlike the targets the model was fitted on.")
            else:
                unknown = np.setdiff1d(np.unique(y), known)
                if unknown.size:
                    raise ValueError(f"`y` has classes not in `self.classes_`: {unknown.tolist()} "
                                     f"(fitted on {known.tolist()}).")
        Y = self._label_binarizer.transform(y).astype(np.float64)
        return X, Y

    def _output(self):
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return "softmax", "cce"
        return "sigmoid", "bce"

    def _validation_score(self, X, Y):
        return accuracy_score(self._label_binarizer.inverse_transform(Y), self._decode(self.model_.predict(X)))

    def _decode(self, P):
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return self.classes_[P.argmax(axis=1)]
        if lb.y_type_ == "multilabel-indicator":
            return (P >= 0.5).astype(int)
        return self.classes_[(P[:, 0] >= 0.5).astype(int)]

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)`` in mini-batches, continuing from the current weights and optimizer state.
        The first call builds the network and needs ``classes`` (every class label that will ever appear)."""
        if not hasattr(self, "model_") and classes is None and not type_of_target(y).startswith("multilabel"):
            raise ValueError("classes must be passed on the first call to partial_fit (every class label, "
                             "e.g. classes=np.unique(y_all)).")
        if classes is not None and hasattr(self, "classes_") and hasattr(self, "model_") \
                and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={list(classes)!r}` is not the same as on the first call to partial_fit: "
                             f"{self.classes_.tolist()!r}.")
        self._partial_classes = None if classes is None else np.unique(np.asarray(classes))
        if self._partial_classes is not None and len(self._partial_classes) < 2 and not hasattr(self, "model_"):
            raise ValueError(f"classes has only one class ({self._partial_classes!r}); a classifier needs at least two.")
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Class labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._network_output(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        P = self._network_output(X)
        if self._label_binarizer.y_type_ == "binary":
            return np.hstack([1.0 - P, P])
        return P

    def decision_function(self, X):
        """The output layer's pre-activations (logits): shape (n_samples,) for a binary problem (positive
        means ``classes_[1]``), else (n_samples, n_classes)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype=np.float64, order="C")
        Z = self.model_.predict_logits(X)
        return Z[:, 0] if self._label_binarizer.y_type_ == "binary" else Z

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor (linear output, mean squared error) with scikit-learn's interface;
    one output per target column. Parameters as :class:`MLPClassifier`.

    >>> from mlp.sklearn import MLPRegressor
    >>> reg = MLPRegressor(architecture=[32, 'tanh', 32, 'tanh'], max_iter=500, random_state=0).fit(X, y)
    """

    def _prepare(self, X, y, first, incremental):
        X, y = validate_data(self, X, y, reset=first, accept_sparse=False, dtype=np.float64, order="C",
                             multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            self._y_1d = y.ndim == 1
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float64)

    def _output(self):
        return "linear", "mse"

    def _validation_score(self, X, Y):
        return r2_score(Y, self.model_.predict(X))

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)`` in mini-batches, continuing from the current weights and optimizer state
        (the first call builds the network)."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted values, shape (n_samples,) (or (n_samples, n_targets) for several target columns)."""
        out = self._network_output(X)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# ---------------------------------------------------------------------- data in chunks
def iter_chunks(X, y=None):
    """Yield ``(X_block, y_block)`` NumPy pairs from data that arrives in pieces.

    ``X`` is a dask array (blocks along the rows, computed one at a time; ``y`` a dask or NumPy array with the
    same row chunks, or None when ``X`` yields pairs), or any iterable/generator of ``(X_block, y_block)`` pairs.
    """
    if hasattr(X, "to_delayed") and hasattr(X, "chunks"):      # a dask array
        if y is None:
            raise ValueError("iter_chunks(X, y): a dask array X needs its targets y (dask or NumPy array).")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D.")
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        ends = np.cumsum((0,) + X.chunks[0])
        dask_y = hasattr(y, "to_delayed") and hasattr(y, "chunks")
        y = y if dask_y else np.asarray(y)
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0] if y.ndim else 0}.")
        if dask_y:
            y = y.rechunk({0: X.chunks[0]} if y.ndim == 1 else {0: X.chunks[0], 1: -1})
        import dask
        for i in range(len(X.chunks[0])):
            if dask_y:   # together: what X's and y's blocks share (their source) is computed once
                xb, yb = dask.compute(X.blocks[i], y.blocks[i])
            else:
                xb, yb = X.blocks[i].compute(), y[ends[i]:ends[i + 1]]
            yield np.asarray(xb), np.asarray(yb)
        return
    if y is not None:
        raise ValueError("iter_chunks: pass y only with a dask array X; an iterable X yields (X_block, y_block) pairs.")
    try:
        it = iter(X)
    except TypeError:
        raise TypeError(f"chunks must be a dask array or an iterable of (X_block, y_block) pairs, got "
                        f"{type(X).__name__}.") from None
    for i, pair in enumerate(it):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"chunk {i} is not an (X_block, y_block) pair (got {type(pair).__name__}).")
        yield pair[0], pair[1]


def fit_chunks(estimator, X, y=None, classes=None):
    """Train ``estimator`` (MLPClassifier or MLPRegressor) with one ``partial_fit`` per chunk and return it.

    ``X``/``y`` as :func:`iter_chunks`: a dask array and its targets, or a generator of NumPy blocks
    ``(X_block, y_block)``. ``classes`` (classifiers) lists every label, as the first ``partial_fit`` needs.
    With ``shuffle=False`` and chunks of ``batch_size`` rows this is exactly one epoch over the same batches.
    """
    if not isinstance(estimator, _BaseMLP):
        raise TypeError(f"fit_chunks trains an mlp.sklearn MLPClassifier or MLPRegressor, got {type(estimator).__name__}.")
    for xb, yb in iter_chunks(X, y):
        if is_classifier(estimator):
            estimator.partial_fit(xb, yb, classes=classes)
        else:
            estimator.partial_fit(xb, yb)
    return estimator
