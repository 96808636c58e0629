"""scikit-learn estimators around the engine: :class:`MLPClassifier` and :class:`MLPRegressor`.

They take scikit-learn's own parameters (``hidden_layer_sizes``, ``activation``, ``solver`` ('lbfgs', 'sgd',
'adam'), ``alpha``, ``batch_size``, ``learning_rate``, ``learning_rate_init``, ``max_iter``, ``max_fun``,
``shuffle``, ``random_state``, ``early_stopping``, ``n_iter_no_change``, ``tol``, the regressor's ``loss`` ...),
``sample_weight`` in ``fit`` and ``partial_fit``, sparse and float32 ``X``, and give scikit-learn's fitted
attributes (``coefs_`` and ``intercepts_`` are views of the network's weights: writing into them, or assigning
them, changes the network). scikit-learn's own test file for its MLP passes against them (tests/
test_sklearn_own_tests.py). They add ``architecture=`` (the hidden part of the engine's list syntax, e.g.
``[64, 'relu', 'dropout(0.1)', 32, 'tanh']``), ``l1``, and the engine's other optimizers as ``solver``. The
fitted network is ``model_`` (an :class:`mlp.MLP`), so it can be saved, exported (``model_.to_onnx()``) or
opened in the apps.

How they follow scikit-learn: ``random_state`` is used as scikit-learn uses it (one ``RandomState`` per
``fit``/``partial_fit`` call: the initial weights, Glorot-uniform, then the early-stopping split, then each
epoch's shuffle, all drawn in its order), so the same ``random_state`` gives the same network, batches and
steps; scikit-learn's losses sum over the outputs (and halve the squared error) where the engine's average, so
the network's ``loss_scale`` makes every step scikit-learn's; ``alpha`` is the optimizer's weight decay on the
weights only, ``alpha`` divided by each batch's size (its weight, with ``sample_weight``) as scikit-learn does,
the last, smaller batch included; Adam adds ``epsilon`` where scikit-learn does. So with 'sgd' (constant
learning rate) and 'adam' a whole ``fit`` follows scikit-learn's to rounding (tests/adapters/
test_sklearn_parity.py). ``solver='lbfgs'`` minimises scikit-learn's loss with
``scipy.optimize.minimize(method="L-BFGS-B")`` over the engine's flat parameters and full-batch gradient.
'sgd' with momentum and a learning rate that changes ('invscaling', 'adaptive'): PyTorch's momentum buffer is
rescaled, so that it holds scikit-learn's velocity. What remains different: with ``sample_weight``,
``loss_`` is the epoch's weighted mean loss (scikit-learn's averages the batches' weighted means over rows).
The fitted network ``model_`` saved and loaded trains on as the unsaved one (``loss_scale``, the weights-only
decay and Adam's epsilon placement are in the model file).

This module imports scikit-learn (and scipy for 'lbfgs'); ``import mlp`` does not import this module.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils import shuffle as _shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

try:  # scikit-learn 1.6 brought validate_data and __sklearn_tags__, which these estimators are written for
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError:  # an older scikit-learn
    import sklearn
    raise ImportError(f"mlp.sklearn needs scikit-learn 1.6 or newer; this is scikit-learn {sklearn.__version__} "
                      f"(pip install -U scikit-learn).") from None

from .architecture import parse_architecture, parse_text
from .network import MLP
from .optimizers import OPTIMIZERS

__all__ = ["MLPClassifier", "MLPRegressor", "fit_chunks", "iter_chunks"]

_STOCHASTIC = ("adam", "sgd") + tuple(k for k in OPTIMIZERS if k not in ("adam", "sgd"))
_SOLVERS = ("lbfgs",) + _STOCHASTIC
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_SPARSE = ["csr", "csc"]
_DTYPES = (np.float64, np.float32)
_NOT_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need to "
               "be preprocessed.")
# engine loss -> scikit-learn's name of the output activation
_OUT_NAMES = {"bce": "logistic", "cce": "softmax", "mse": "identity", "poisson": "exp"}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the training loops, partial_fit."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, architecture=None, l1=0.0):
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
        self.max_fun = max_fun
        self.architecture = architecture
        self.l1 = l1

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """Validate the hyperparameters (at fit time, as scikit-learn does); return the solver's name."""
        def number(name, low, high=None, low_open=False, integer=False, inf=False):
            v = getattr(self, name)
            kinds = numbers.Integral if integer else numbers.Real
            if inf and isinstance(v, numbers.Real) and v == np.inf:
                return
            if isinstance(v, bool) or not isinstance(v, kinds) or not np.isfinite(v) \
                    or (v <= low if low_open else v < low) or (high is not None and v >= high):
                span = f"{'>' if low_open else '>='} {low}" + (f" and < {high}" if high is not None else "")
                raise ValueError(f"{name} must be a {'whole ' if integer else ''}number {span}"
                                 f"{' (or np.inf)' if inf else ''}, got {v!r}.")
        number("alpha", 0.0)
        number("l1", 0.0)
        number("learning_rate_init", 0.0, low_open=True)
        number("power_t", 0.0)
        number("max_iter", 1, integer=True)
        number("max_fun", 1, integer=True)
        number("tol", 0.0)
        number("momentum", 0.0, 1.0)
        number("beta_1", 0.0, 1.0)
        number("beta_2", 0.0, 1.0)
        number("epsilon", 0.0, low_open=True)
        number("validation_fraction", 0.0, 1.0, low_open=True)
        number("n_iter_no_change", 1, integer=True, inf=True)
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
        if solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(map(repr, _SOLVERS))} ('lbfgs', 'sgd' and 'adam' "
                             f"as in scikit-learn), got {self.solver!r}.")
        return solver

    def _check_solver(self):
        # partial_fit exists for the stochastic solvers only (as in scikit-learn)
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
        return True

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
            hidden = [item for s in self._hidden_sizes() for item in (s, self.activation)]
            if not isinstance(self.activation, str):
                raise ValueError(f"activation must be a name such as 'relu', 'tanh', 'logistic' or 'identity', "
                                 f"got {self.activation!r}.")
        arch = [int(n_in)] + hidden + [int(n_out), out_activation]
        try:
            parse_architecture(arch)
            return arch
        except (TypeError, ValueError) as e:
            raise ValueError(f"{'architecture' if self.architecture is not None else 'hidden_layer_sizes/activation'}"
                             f": {e}") from None

    def _hidden_sizes(self):
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
        return [int(s) for s in sizes]

    # ------------------------------------------------------------------ the network and its weights
    def _build(self, n_in, n_out, dtype, rng, weights=None):
        """A new network ``model_`` for this data: scikit-learn's initial weights drawn from ``rng`` (or the
        given ``[W1, b1, ...]``). The engine's own generator (dropout of ``architecture``) is seeded from
        ``rng``'s state without drawing from it, so the rest of ``rng`` is scikit-learn's."""
        out_activation, loss = self._output()
        arch = self._architecture(n_in, n_out, out_activation)
        if weights is None:
            specs = parse_architecture(arch)
            sizes = [specs[0]["size"]] + [s["units"] for s in specs if s["type"] == "dense"]
            hidden = [s["activation"] for s in specs if s["type"] == "dense"][:-1]
            factor = 2.0 if hidden and all(a == "sigmoid" for a in hidden) else 6.0   # scikit-learn's rule
            weights = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                bound = np.sqrt(factor / (fan_in + fan_out))
                weights += [rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)]
        seed = int(np.random.SeedSequence(rng.get_state()[1]).generate_state(1)[0])
        model = MLP(seed=seed, dtype=dtype).sequential(arch)
        model.set_weights(weights).set_loss(loss)
        self.model_ = model
        self._link()
        return model

    def _link(self):
        """coefs_ and intercepts_ as views of the network's flat parameters (layout W1, b1, W2, b2, ...), and the
        attributes scikit-learn derives from them."""
        self.coefs_, self.intercepts_ = self._views
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = self.model_.n_outputs
        self.out_activation_ = _OUT_NAMES[self.model_.loss]

    def _sync(self):
        """Take in what was assigned to ``coefs_`` / ``intercepts_`` (new arrays, or new lists of them) since the
        network was last used; they are then its views again."""
        coefs, intercepts = self.coefs_, self.intercepts_
        views = self._views
        if _all_views(coefs, views[0]) and _all_views(intercepts, views[1]):
            return
        weights = [w for pair in zip(coefs, intercepts) for w in pair] if len(coefs) == len(intercepts) else []
        current = self.model_.get_weights()
        try:
            if len(weights) != len(current) or not all(   # values unchanged (e.g. unpickled): nothing to write
                    np.shape(w) == c.shape and np.array_equal(w, c) for w, c in zip(weights, current)):
                self.model_.set_weights(weights)
        except (TypeError, ValueError) as e:
            raise ValueError(f"coefs_ / intercepts_ do not fit the fitted network "
                             f"({[w.shape for w in self.model_.get_weights()]} as W1, b1, ...): {e}") from None
        self._link()

    @property
    def _views(self):
        # the arrays coefs_ and intercepts_ hold when nothing was assigned to them: the layers' W and b
        layers = self.model_.layers
        return [layer.W for layer in layers], [layer.b for layer in layers]

    def _network(self):
        """The fitted network, with whatever was assigned to coefs_ / intercepts_ taken in."""
        check_is_fitted(self, "model_")
        self._sync()
        return self.model_

    def _from_coefs(self, X, n_out, rng):
        """A network from coefs_ / intercepts_ set by hand before a continued fit (as scikit-learn allows)."""
        coefs, intercepts = list(self.coefs_), list(self.intercepts_)
        if not coefs or len(coefs) != len(intercepts):
            raise ValueError("coefs_ and intercepts_ must be lists of one weight matrix and one bias vector per layer.")
        coefs = [np.asarray(W, dtype=X.dtype) for W in coefs]
        if self.architecture is None and [W.shape[1] for W in coefs[:-1]] != self._hidden_sizes():
            raise ValueError(f"coefs_ has layers of {[W.shape[1] for W in coefs[:-1]]} units; hidden_layer_sizes "
                             f"says {self._hidden_sizes()}.")
        if coefs[0].shape[0] != X.shape[1] or coefs[-1].shape[1] != n_out:
            raise ValueError(f"coefs_ takes {coefs[0].shape[0]} features to {coefs[-1].shape[1]} outputs; the data "
                             f"has {X.shape[1]} features and {n_out} outputs.")
        weights = [w for pair in zip(coefs, intercepts) for w in pair]
        self._build(X.shape[1], n_out, X.dtype, rng, weights=weights)

    # ------------------------------------------------------------------ training
    def _fit(self, X, y, sample_weight, incremental):
        solver = self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True (there is no held-out data "
                             "between calls); set early_stopping=False.")
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._prepare(X, y, first, incremental)
        w = None if sample_weight is None else _sample_weight(sample_weight, X)
        rng = self._random_state = check_random_state(self.random_state)   # each call, as scikit-learn
        if first or not hasattr(self, "model_"):
            if first:
                self._build(X.shape[1], Y.shape[1], X.dtype, rng)
            else:
                self._from_coefs(X, Y.shape[1], rng)
            for name, value in (("n_iter_", 0), ("t_", 0), ("loss_curve_", []), ("best_loss_", np.inf),
                                ("_no_improvement_count", 0), ("validation_scores_", None),
                                ("best_validation_score_", None)):
                if first or not hasattr(self, name):
                    setattr(self, name, value)
        else:
            self._sync()
            if self.model_.n_outputs != Y.shape[1]:
                raise ValueError(f"warm_start/partial_fit: y has {Y.shape[1]} output column(s) but the fitted "
                                 f"network has {self.model_.n_outputs}.")
        if solver == "lbfgs":
            self._fit_lbfgs(X, Y, w)
        else:
            self._fit_stochastic(X, Y, w, solver, incremental)
        if not np.isfinite(self.model_.params).all():
            raise ValueError(_NOT_FINITE)
        return self

    def _loss_scales(self, Y, w):
        """(c, r, const): scikit-learn's loss gradient is c times the engine's, its reported loss r times the
        engine's plus const. Its log-losses and Poisson deviance sum over the k outputs where the engine's
        average; its squared error is halved (and averaged over the outputs in the value, not the gradient)."""
        k, loss = Y.shape[1], self.model_.loss
        if loss == "cce":
            return 1.0, 1.0, 0.0
        if loss == "mse":
            return k / 2.0, 0.5, 0.0
        const = 0.0
        if loss == "poisson":   # the half deviance's y log y - y, which the engine's loss (as PyTorch's) leaves out
            ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0) - Y
            const = float(np.average(ylogy, weights=w, axis=0).sum())
        return float(k), float(k), const

    def _fit_lbfgs(self, X, Y, w):
        """scipy's L-BFGS-B on scikit-learn's loss plus alpha's L2 term, through the engine's full-batch gradient."""
        from scipy.optimize import minimize
        model = self.model_
        loss_and_gradient = model.full_batch(X, Y, sample_weight=w)
        c, r, const = self._loss_scales(Y, w)
        per = float(X.shape[0] if w is None else np.sum(w))
        mask, alpha = model.l1_mask().astype(np.float64), float(self.alpha)   # 1 at the weights, 0 at the biases

        def objective(theta):
            loss, grad = loss_and_gradient(theta)
            weights = theta * mask
            return (c * loss + const + 0.5 * alpha * float(np.dot(weights, weights)) / per,
                    c * grad.astype(np.float64) + (alpha / per) * weights)

        def report(intermediate_result):
            print("Iteration %d, loss = %.8f" % (report.n, intermediate_result.fun))
            report.n += 1
        report.n = 1
        res = minimize(objective, model.params.astype(np.float64), method="L-BFGS-B", jac=True,
                       callback=report if self.verbose else None,
                       options={"maxfun": int(self.max_fun), "maxiter": int(self.max_iter), "gtol": float(self.tol)})
        self.n_iter_ = min(int(res.nit), int(self.max_iter))
        if res.status != 0:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={res.status}):\n"
                          f"{res.message}\n" + (f"\nIncrease the number of iterations to improve the convergence "
                                                f"(max_iter={self.max_iter})." if self.n_iter_ == self.max_iter
                                                else "") +
                          "\nYou might also want to scale the data.", ConvergenceWarning, stacklevel=4)
        loss = loss_and_gradient(res.x)[0]
        weights = res.x * mask
        self.loss_ = r * loss + const + 0.5 * alpha * float(np.dot(weights, weights)) / per

    def _set_optimizer(self, solver, decay_per):
        """(Re)configure the optimizer, keeping its state (moments, step count) when only values changed.
        ``alpha / decay_per`` is its weight decay (on the weights only) when the engine trains on its own."""
        hyper = {"weight_decay": float(self.alpha) / decay_per, "weight_decay_on": "weights"}
        if solver == "sgd":
            hyper.update(momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum and self.momentum > 0))
        elif solver in ("adam", "adamw", "nadam"):
            hyper.update(beta1=float(self.beta_1), beta2=float(self.beta_2), eps=float(self.epsilon))
            if solver != "nadam":
                hyper["eps_placement"] = "sqrt_v"     # as scikit-learn: eps added to sqrt(v)
        if self.l1:
            hyper["l1"] = float(self.l1)
        model, old = self.model_, self.model_.optimizer
        new = _ADAPTED[solver](**hyper)
        if old is None or type(old) is not type(new) or old.get_config() != new.get_config():
            model.optimizer = new
            if old is not None and old.name == new.name:
                new.set_state(old.t, old.state)
        return model

    def _batch_size(self, n, incremental=False):
        """Rows per batch; a chunk smaller than batch_size is one batch."""
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n and not incremental:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          UserWarning, stacklevel=4)
        return int(min(self.batch_size, n))

    def _lr_schedule(self, solver, incremental):
        """The learning rate of each epoch: scikit-learn's 'invscaling' and 'adaptive' (solver 'sgd' and
        'sgd_momentum' only, as scikit-learn), else constant. Read from self._lr, which 'adaptive' lowers.
        ('invscaling': a fit starts at learning_rate_init, partial_fit goes on from the samples seen, t_.)"""
        if self.learning_rate == "invscaling" and solver in ("sgd", "sgd_momentum"):
            return lambda epoch: self.learning_rate_init / (
                (self.t_ if epoch or incremental else 0) + 1) ** self.power_t
        return lambda epoch: self._lr

    def _fit_stochastic(self, X, Y, w, solver, incremental):
        early = self.early_stopping and not incremental
        Xv = Yv = wv = None
        if early:
            if self.validation_scores_ is None:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
            # stratified for one output column, as scikit-learn (its labels then read True / False)
            stratify = Y.astype(bool) if is_classifier(self) and Y.shape[1] == 1 else None
            parts = train_test_split(*((X, Y) if w is None else (X, Y, w)), random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, Xv, Y, Yv = parts[:4]
            w, wv = (parts[4], parts[5]) if w is not None else (None, None)
            if Xv.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            if self.best_loss_ is None:
                self.best_loss_ = np.inf
        n = X.shape[0]
        batch_size = self._batch_size(n, incremental)
        mean_w = 1.0 if w is None else float(np.mean(w))
        model = self._set_optimizer(solver, batch_size * mean_w)
        if not incremental:
            model.optimizer.reset()       # a fit starts a new optimizer (warm_start too), as scikit-learn's
        c, r, const = self._loss_scales(Y, w)
        model.loss_scale = c
        opt, alpha = model.optimizer, float(self.alpha)
        sample_idx, weighs = np.arange(n), []      # weighs: each batch's rows over its weight, in order

        def order(n_rows):
            """The engine asks each epoch's order: scikit-learn's shuffle; each step's decay laid out too."""
            nonlocal sample_idx
            if self.shuffle:
                sample_idx = _shuffle(sample_idx, random_state=self._random_state)
            parts = [sample_idx[b] for b in gen_batches(n, batch_size)]
            weighs[:] = [1.0] * len(parts) if w is None else [
                len(p) / total if (total := float(w[p].sum())) > 0 else 0.0 for p in parts]
            # alpha / (the batch's weight) = the optimizer's weight_decay times this ratio
            opt.plan([batch_size * mean_w * f / len(p) for f, p in zip(weighs, parts)],
                     list(self.coefs_) if alpha else None)
            return sample_idx
        if not incremental:
            self._lr = float(self.learning_rate_init)
            self._no_improvement_count = 0
        elif not hasattr(self, "_lr"):
            self._lr = float(self.learning_rate_init)
        epochs = 1 if incremental else int(self.max_iter)
        run = model.start_training(X, Y, epochs=epochs, learning_rate=float(self.learning_rate_init),
                                   batch_size=batch_size, shuffle=order,
                                   lr_schedule=self._lr_schedule(solver, incremental), metrics=[],
                                   sample_weight=w)
        best_params, stopped, diverged = None, False, None
        self.n_iter_ = 0
        for _ in range(epochs):
            before = len(run.history.epochs)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="the loss became", category=RuntimeWarning)
                try:
                    run.step(epochs=1)
                finally:
                    squares = opt.plan(None)     # |W|^2 before each step; the engine on its own: no plan
            if len(run.history.epochs) == before:          # the engine stopped the run: why?
                if str(run.history.stop_reason).startswith("interrupted"):
                    warnings.warn("Training interrupted by user.", stacklevel=4)
                    stopped = True
                else:   # the loss became NaN or infinite: the engine kept the last finite weights
                    diverged = run.history.stop_reason
                break
            # scikit-learn's loss: each batch's loss (its L2 term 0.5 alpha |W|^2 / its weight) times its rows
            loss = r * float(run.history["loss"][-1]) + const + 0.5 * alpha / n * float(np.dot(squares, weighs)) \
                if alpha else r * float(run.history["loss"][-1]) + const
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
            if early:
                score = self._validation_score(Xv, Yv, wv)
                self.validation_scores_.append(score)
                if self.verbose:
                    print("Validation score: %f" % score)
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if not score >= self.best_validation_score_ + self.tol else 0)
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_params = model.params.copy()
            else:
                self._no_improvement_count = (self._no_improvement_count + 1
                                              if loss > self.best_loss_ - self.tol else 0)
                self.best_loss_ = min(self.best_loss_, loss)
            if self._no_improvement_count > self.n_iter_no_change:
                if self.learning_rate == "adaptive" and solver in ("sgd", "sgd_momentum") and self._lr > 1e-6:
                    self._lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print("Setting learning rate to %f" % self._lr)
                else:
                    if self.verbose:
                        print("%s did not improve more than tol=%f for %d consecutive epochs. Stopping."
                              % ("Validation score" if early else "Training loss", self.tol, self.n_iter_no_change))
                    stopped = True
                    run.stop("no improvement")
                    break
        if diverged is not None:
            if not early:
                raise ValueError(f"{_NOT_FINITE} ({diverged})")
            self.validation_scores_.append(float("nan"))   # as scikit-learn scores a network that predicts NaN
            warnings.warn(f"Training stopped: {diverged} The weights of the best validation score are kept.",
                          ConvergenceWarning, stacklevel=4)
        elif not stopped and not incremental:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning, stacklevel=4)
        if early:
            self.best_loss_ = None
            if best_params is not None:
                model.params = best_params

    def _validation_score(self, X, Y, w):
        P = self._values(self.model_.predict(X))
        if not np.isfinite(P).all():
            return float("nan")               # as scikit-learn: a network predicting NaN or inf scores NaN
        return float(self._score_outputs(Y, P, w))

    def _values(self, P):
        return P

    def fit(self, X, y, sample_weight=None):
        """Train on ``(X, y)`` (fresh weights unless ``warm_start``): up to ``max_iter`` epochs, or L-BFGS
        iterations with ``solver='lbfgs'``; ``sample_weight``: one weight per row. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _network_output(self, X):
        model = self._network()
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE, dtype=_DTYPES)
        return model.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


class _Steps:
    """What the adapter's optimizers add to the engine's, for the epochs the adapter runs: each step's weight
    decay as scikit-learn's, ``alpha`` divided by the batch's size (or weight), as the optimizer's
    ``weight_decay`` times a ratio laid out per step by :meth:`plan`; and ``|W|^2`` before each step (the L2
    term of scikit-learn's loss). Without a plan (the engine training ``model_`` on its own, or the model saved
    and loaded: the file records the engine's optimizer) the steps are the engine's."""
    _ratios = _weights = _lr = None

    def plan(self, ratios, weights=None):
        """Lay out the next steps' decay ratios (``weights``: the W arrays whose squares to record); ``None``
        ends the plan. Returns the squares recorded under the plan that ends."""
        squares = getattr(self, "_squares", [])
        self._ratios = None if ratios is None else list(reversed(ratios))
        self._weights, self._squares = weights, []
        return squares

    def step(self, params, grads, lr):
        if not self._ratios:
            return super().step(params, grads, lr)
        last, self._lr = self._lr, lr
        if last is not None and lr != last and self.hyper.get("momentum") and "momentum_buffer" in self.state:
            # scikit-learn's velocity is -lr b (PyTorch's buffer b) at the learning rate it was made with
            self.state["momentum_buffer"] *= last / lr
        ratio = self._ratios.pop()
        if self._weights is not None:
            self._squares.append(sum(float(np.vdot(W, W)) for W in self._weights))
        if ratio == 1.0:
            return super().step(params, grads, lr)
        hyper = self.hyper
        decay = hyper["weight_decay"]
        hyper["weight_decay"] = decay * ratio
        try:
            super().step(params, grads, lr)
        finally:
            hyper["weight_decay"] = decay


# one per engine optimizer, named at module level so that a fitted estimator pickles
_ADAPTED = {}
for _name, _cls in OPTIMIZERS.items():
    _ADAPTED[_name] = globals()[f"_Sklearn{_cls.__name__}"] = type(f"_Sklearn{_cls.__name__}", (_Steps, _cls),
                                                                   {"__module__": __name__})


def _all_views(arrays, views):
    """Whether ``arrays`` is a list holding exactly ``views`` (the same memory, shape and strides)."""
    return type(arrays) is list and len(arrays) == len(views) and all(
        type(a) is np.ndarray and a.shape == v.shape and a.strides == v.strides and a.dtype == v.dtype
        and a.__array_interface__["data"][0] == v.__array_interface__["data"][0] for a, v in zip(arrays, views))


def _sample_weight(sample_weight, X):
    """One weight per row (a number: the same for all), or None when they are all the same positive number
    (the fit without weights)."""
    w = np.asarray(sample_weight, dtype=X.dtype)
    if w.ndim == 0:
        w = np.full(X.shape[0], w, dtype=X.dtype)
    if w.shape != (X.shape[0],):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected {(X.shape[0],)}!")
    if not np.any(w):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return None if w.size and w[0] > 0 and np.all(w == w[0]) else w


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
        X, y = validate_data(self, X, y, reset=first, accept_sparse=_SPARSE, dtype=_DTYPES, multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif type_of_target(y).startswith("multilabel"):
            if self._label_binarizer.y_type_ != "multilabel-indicator" or y.shape[1] != len(self.classes_):
                raise ValueError("y is a multi-label indicator matrix unlike the targets the model was fitted on.")
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                     f"call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(X.dtype)

    def _output(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cce"
        return "sigmoid", "bce"

    def _score_outputs(self, Y, P, w):
        return accuracy_score(self._decode(Y), self._decode(P), sample_weight=w)

    def _decode(self, P):
        return self._label_binarizer.inverse_transform(P[:, 0] if P.shape[1] == 1 else P)

    @available_if(_BaseMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)`` in mini-batches, continuing from the current weights and optimizer state.
        The first call builds the network and needs ``classes`` (every class label that will ever appear)."""
        if not hasattr(self, "classes_"):
            if classes is None and not type_of_target(y).startswith("multilabel"):
                raise ValueError("classes must be passed on the first call to partial_fit (every class label, "
                                 "e.g. classes=np.unique(y_all)).")
            self._label_binarizer = LabelBinarizer().fit(y if classes is None or type_of_target(y).startswith(
                "multilabel") else np.unique(np.asarray(classes)))
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not type_of_target(y).startswith("multilabel") \
                and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"`classes={list(classes)!r}` is not the same as on the first call to partial_fit: "
                             f"{self.classes_.tolist()!r}.")
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Class labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._network_output(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        P = self._network_output(X)
        if P.shape[1] == 1:
            return np.hstack([1.0 - P, P])
        return P

    def decision_function(self, X):
        """The output layer's pre-activations (logits): shape (n_samples,) for a binary problem (positive
        means ``classes_[1]``), else (n_samples, n_classes)."""
        model = self._network()
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE, dtype=_DTYPES)
        Z = model.predict_logits(X)
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor with scikit-learn's interface; one output per target column.
    ``loss='squared_error'`` (a linear output) or ``'poisson'`` (for counts: the network's output is the log of
    the rate, predictions its exponential). Other parameters as :class:`MLPClassifier`.

    >>> from mlp.sklearn import MLPRegressor
    >>> reg = MLPRegressor(architecture=[32, 'tanh', 32, 'tanh'], max_iter=500, random_state=0).fit(X, y)
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, architecture=None, l1=0.0):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, architecture=architecture, l1=l1)
        self.loss = loss

    def _prepare(self, X, y, first, incremental):
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"loss must be 'squared_error' or 'poisson', got {self.loss!r}.")
        X, y = validate_data(self, X, y, reset=first, accept_sparse=_SPARSE, dtype=_DTYPES, multi_output=True,
                             y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.min(y) < 0:
            raise ValueError(f"loss='poisson' needs targets >= 0 (counts or rates); y has {np.min(y):g}.")
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y).astype(X.dtype)

    def _output(self):
        return "linear", ("poisson" if self.loss == "poisson" else "mse")

    def _score_outputs(self, Y, P, w):
        return r2_score(Y, P, sample_weight=w)

    def _values(self, P):
        # the network's outputs as predictions: poisson's are the log of the rate
        return np.exp(P) if self.model_.loss == "poisson" else P

    @available_if(_BaseMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)`` in mini-batches, continuing from the current weights and optimizer state
        (the first call builds the network)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values, shape (n_samples,) (or (n_samples, n_targets) for several target columns)."""
        out = self._values(self._network_output(X))
        return out[:, 0] if out.shape[1] == 1 else out


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
