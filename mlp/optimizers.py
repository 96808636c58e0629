"""Optimizers with PyTorch's update rules, stepping ONE flat parameter vector.

All weights and biases of a network are views into a single contiguous array, and so are their
gradients, so each update is a handful of NumPy calls whatever the number of layers.
``OPTIMIZERS[name]`` is the class; hyperparameters are keyword arguments. ``weight_decay`` adds
``wd * p`` to the gradient (L2, as torch) except in AdamW, where it is decoupled. ``l1`` (every
optimizer) adds ``l1 * sign(p)`` to the gradient: the gradient of the penalty ``l1 * sum|p|`` added to
the loss, over the entries ``l1_mask`` marks (the network marks its weights, not its biases; all entries
when no mask is set). ``decay_mask`` likewise limits ``weight_decay`` (PyTorch's: every entry, the default).

Besides the hyperparameters, ``modes`` (keywords too, strings): ``weight_decay_on='weights'`` decays the weights
only, not the biases (the network then sets ``decay_mask``), as scikit-learn's ``alpha``; Adam's
``eps_placement='sqrt_v'`` adds eps to sqrt(v) before the bias correction, as scikit-learn (PyTorch: to the
corrected root). The scikit-learn adapter sets both; ``get_config`` (the model file) holds a mode only when it
is not the default, so files of default optimizers are as before.
"""
import math

import numpy as np

from .architecture import lookup

_FULL_ROWS = 1 << 16   # Adam: broadcast the betas above this many parameters, else store them in full


def _ema(avg, x, beta, tmp, square=False):
    """avg = beta * avg + (1 - beta) * x (or x**2), in place."""
    avg *= beta
    np.multiply(x, x if square else 1.0 - beta, out=tmp)
    if square:
        tmp *= 1.0 - beta
    avg += tmp


def _adaptive_step(p, numer, acc, eps, lr, tmp, acc_scale=1.0):
    """p -= lr * numer / (sqrt(acc) * acc_scale + eps), in place (RMSprop, Adagrad, Adam)."""
    np.sqrt(acc, out=tmp)
    if acc_scale != 1.0:
        tmp *= acc_scale
    tmp += eps
    np.divide(numer, tmp, out=tmp)
    tmp *= lr
    p -= tmp


class Optimizer:
    """Base class: holds hyperparameters and state: per-parameter arrays (flat, laid out like the parameters,
    named in ``state_names``) and scalars (``scalar_state``), by PyTorch's names."""
    name = "optimizer"
    defaults = {"weight_decay": 0.0, "l1": 0.0}
    state_names = ()
    scalar_state = {}   # name -> value before the first step; kept as a float64 array of one value
    l1_mask = None   # 1 where the L1 penalty applies, 0 elsewhere (set by the network: its weights)
    decay_mask = None   # 1 where weight_decay (coupled L2) applies, 0 elsewhere; None: everywhere
    mode_choices = {"weight_decay_on": ("all", "weights")}   # mode -> allowed values, the default (PyTorch's) first

    def __init__(self, **hyper):
        self.modes = {}
        for key, allowed in self.mode_choices.items():
            value = hyper.pop(key, allowed[0])
            if value not in allowed:
                raise ValueError(f"Optimizer '{self.name}': {key} must be one of {', '.join(map(repr, allowed))}, "
                                 f"got {value!r}.")
            self.modes[key] = value
        unknown = sorted(set(hyper) - set(self.defaults))
        if unknown:
            raise ValueError(f"Optimizer '{self.name}' has no hyperparameter {', '.join(map(repr, unknown))}. "
                             f"Allowed: {', '.join(self.defaults)}.")
        self.hyper = dict(self.defaults)
        for key, value in hyper.items():
            if isinstance(value, bool) != isinstance(self.defaults[key], bool):
                raise TypeError(f"Optimizer '{self.name}': {key} must be "
                                f"{'True/False' if isinstance(self.defaults[key], bool) else 'a number'}, got {value!r}.")
            if not isinstance(value, bool):
                if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) or value < 0:
                    raise ValueError(f"Optimizer '{self.name}': {key} must be a finite number >= 0, got {value!r}.")
                value = float(value)
            self.hyper[key] = value
        for key in ("beta1", "beta2", "momentum", "rho"):
            if key in self.hyper and not self.hyper[key] < 1.0:
                raise ValueError(f"Optimizer '{self.name}': {key} must be in [0, 1), got {self.hyper[key]}.")
        self.t = 0
        self.state = {}
        self._tmp = None
        self._ready_for = None   # the parameter array the scratch buffers were made for
        self._l1 = None

    def _ensure_state(self, params):
        # Allocate missing state (state loaded from a model file is kept) and a scratch buffer.
        for s in self.state_names:
            if s not in self.state or self.state[s].shape != params.shape:
                self.state[s] = np.zeros_like(params)
            elif self.state[s].dtype != params.dtype:
                self.state[s] = self.state[s].astype(params.dtype)
        self._tmp = np.empty_like(params)
        self._l2 = bool(self.hyper["weight_decay"]) and self.name != "adamw"   # L2 added to the gradient
        self._l1 = {} if self.hyper["l1"] else None   # L1: grad scale -> l1 * scale * mask, made on first use

    def _ready(self, params):
        # state and scratch buffers for this parameter array (again after reset, set_state or a new model)
        if self._ready_for is not params:
            self._ensure_state(params)
            self._ready_for = params

    def step(self, params, grads, lr):
        """Update ``params`` in place from ``grads`` (``grads`` may be overwritten). ``grads`` is the
        gradient itself, or ``grad_scale`` times it when it is the array ``grad_buffer`` returned."""
        if self._ready_for is not params:
            self._ready(params)
        self.t += 1
        if self._l2:
            decay = self.hyper["weight_decay"] * self._scale_of(grads)
            if self.decay_mask is not None:
                decay = self.decay_mask * decay
            np.multiply(params, decay, out=self._tmp)
            grads += self._tmp
        if self._l1 is not None:   # the L1 penalty's gradient, l1 * sign(p), on the marked entries
            np.sign(params, out=self._tmp)
            self._tmp *= self._l1_factor(params, self._scale_of(grads))
            grads += self._tmp
        self._update(params, grads, lr, self._tmp)

    def _l1_factor(self, params, scale):
        # l1 * scale where the penalty applies (the mask), 0 elsewhere: one array per gradient scale
        factor = self._l1.get(scale)
        if factor is None:
            mask = self.l1_mask
            if mask is not None and mask.shape != params.shape:
                raise ValueError(f"l1_mask has shape {mask.shape}, the parameters {params.shape}.")
            value = self.hyper["l1"] * scale
            factor = np.full(params.shape, value, params.dtype) if mask is None else (mask * value).astype(params.dtype)
            self._l1[scale] = factor
        return factor

    def set_l1_mask(self, mask):
        """Mark the entries the L1 penalty applies to (1) and those it leaves alone (0), a flat array like
        the parameters; None: every entry."""
        self.l1_mask = None if mask is None else np.asarray(mask)
        if self._l1:
            self._l1 = {}

    def grad_buffer(self, params):
        """The flat array the network should write the gradients of ``params`` into, multiplied by
        ``grad_scale``, or None for any. (Adam's is the first row of its (2, n) scratch array, which
        saves a copy per step, and its scale saves a pass: see :class:`Adam`.)"""
        return None

    grad_scale = 1.0   # what the network multiplies the gradients it writes into grad_buffer() by

    def _scale_of(self, grads):
        # the factor ``grads`` carries: grad_scale for the buffer the network writes, 1 for any other array
        return 1.0

    def get_config(self):
        """``{"name": ..., **hyperparameters}``; :meth:`from_config` makes the optimizer again."""
        modes = {k: v for k, v in self.modes.items() if v != self.mode_choices[k][0]}   # only when not default
        return {"name": self.name, **self.hyper, **modes}

    @classmethod
    def from_config(cls, config):
        """A new optimizer (no state yet) from :meth:`get_config`'s dict."""
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise ValueError("The optimizer config must be a dict with a 'name'.")
        return make_optimizer(config["name"], **{k: v for k, v in config.items() if k != "name"})

    def reset(self):
        """Forget the step count and moment estimates."""
        self.t, self.state, self._tmp, self._ready_for = 0, {}, None, None

    def get_state(self):
        """Step count and state arrays (flat, same layout as the parameters), for saving."""
        return self.t, dict(self.state)

    def set_state(self, t, state):
        """Take the step count ``t`` and the arrays of :meth:`get_state` (as a model file holds them)."""
        unknown = set(state) - set(self.state_names) - set(self.scalar_state)
        if unknown or not isinstance(t, int) or t < 0:
            raise ValueError(f"Optimizer state does not fit '{self.name}': {sorted(unknown) or t!r}.")
        self.t, self.state, self._tmp, self._ready_for = t, dict(state), None, None

    def state_layout(self, n_params, dtype):
        """``{name: (dtype, size)}`` of every state array this optimizer keeps for ``n_params`` parameters
        of type ``dtype`` (what a model file may hold for it)."""
        layout = {name: (np.dtype(dtype), n_params) for name in self.state_names}
        layout.update({name: (np.dtype(np.float64), 1) for name in self.scalar_state})
        return layout

    def state_of(self, start, shape, dtype):
        """Copies of the state of the parameters ``params[start:start + size]``, shaped ``shape``, by
        PyTorch's names: the state ``mlp.reference``'s updates take. Before the first step: zeros (and the
        scalars' first values), as the step starts from."""
        size = math.prod(shape)
        state = {}
        for name in self.state_names:
            arr = self.state.get(name)
            state[name] = np.zeros(shape, dtype) if arr is None else arr[start:start + size].reshape(shape).copy()
        for name, first in self.scalar_state.items():
            arr = self.state.get(name)
            state[name] = np.asarray(first if arr is None else float(arr[0]))
        return state

    def __getstate__(self):
        # for copy.deepcopy and pickle: the step count and state arrays; scratch buffers and views into
        # them are made again on the next step
        return {"hyper": dict(self.hyper), "t": self.t, "state": dict(self.state), "modes": dict(self.modes),
                "decay_mask": self.decay_mask}

    def __setstate__(self, saved):
        self.hyper, self.t, self.state = saved["hyper"], saved["t"], saved["state"]
        self.hyper.setdefault("l1", 0.0)
        self.modes = {k: v[0] for k, v in self.mode_choices.items()}
        self.modes.update(saved.get("modes", {}))
        if saved.get("decay_mask") is not None:
            self.decay_mask = saved["decay_mask"]
        self._tmp, self._ready_for, self._l1 = None, None, None

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        args += "".join(f", {k}={v!r}" for k, v in self.get_config().items() if k in self.modes)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """p -= lr * g; with momentum: b = mu*b + g (b = g on the first step), g = b (or g + mu*b, nesterov)."""
    name = "sgd"
    defaults = {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "l1": 0.0}
    state_names = ("momentum_buffer",)

    def __init__(self, **hyper):
        super().__init__(**hyper)
        if self.hyper["nesterov"] and not self.hyper["momentum"]:
            raise ValueError(f"Optimizer '{self.name}': nesterov=True needs a momentum > 0 (as in PyTorch).")

    def state_of(self, start, shape, dtype):
        # plain SGD keeps no state (as torch: no momentum buffer); the buffer it holds here stays zero
        return super().state_of(start, shape, dtype) if self.hyper["momentum"] else {}

    def _update(self, p, g, lr, tmp):
        mu = self.hyper["momentum"]
        if mu:
            buf = self.state["momentum_buffer"]
            buf *= mu
            buf += g
            if self.hyper["nesterov"]:
                np.multiply(buf, mu, out=tmp)
                g += tmp
            else:
                g = buf
        np.multiply(g, lr, out=tmp)
        p -= tmp


class SGDMomentum(SGD):
    name = "sgd_momentum"
    defaults = {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0, "l1": 0.0}


class RMSprop(Optimizer):
    """v = rho*v + (1-rho)*g^2; p -= lr * g / (sqrt(v) + eps)   (torch: alpha = rho)."""
    name = "rmsprop"
    defaults = {"rho": 0.9, "eps": 1e-8, "weight_decay": 0.0, "l1": 0.0}
    state_names = ("square_avg",)

    def _update(self, p, g, lr, tmp):
        v = self.state["square_avg"]
        _ema(v, g, self.hyper["rho"], tmp, square=True)
        _adaptive_step(p, g, v, self.hyper["eps"], lr, tmp)


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    m and v are the two rows of one (2, n) array, and so are the gradient and its square, so both
    moving averages take two NumPy calls. The network writes the gradient already multiplied by
    ``grad_scale`` = sqrt(1-b2) (folded into the loss gradient's constant, so free): its square is then
    (1-b2)*g^2 as it is, and only the first row needs a multiply, by (1-b1)/sqrt(1-b2). The last division
    is rearranged as m*sqrt(bc2) / (sqrt(v) + eps*sqrt(bc2)). Equal to torch's up to rounding."""
    name = "adam"
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "l1": 0.0}
    state_names = ("exp_avg", "exp_avg_sq")
    mode_choices = {**Optimizer.mode_choices, "eps_placement": ("sqrt_v_hat", "sqrt_v")}
    _gg = None   # (2, n) scratch: gradient and its square (kept across set_state, as the network writes into it)

    def _ensure_state(self, params):
        super()._ensure_state(params)
        self._mv = np.stack([self.state["exp_avg"], self.state["exp_avg_sq"]])   # rows: m, v
        self.state["exp_avg"], self.state["exp_avg_sq"] = self._mv[0], self._mv[1]
        if self._gg is None or self._gg.shape != self._mv.shape or self._gg.dtype != params.dtype:
            self._gg = np.empty_like(self._mv)                                    # rows: g, g^2 (scaled)
            self._g, self._g2 = self._gg[0], self._gg[1]
        # the betas as full rows when small: NumPy's fast path needs operands of equal shape
        self._decay = np.empty(self._mv.shape if params.size <= _FULL_ROWS else (2, 1), dtype=params.dtype)
        self._decay[0], self._decay[1] = self.hyper["beta1"], self.hyper["beta2"]
        self._s = self.grad_scale
        self._gain = np.array((1.0 - self.hyper["beta1"]) / self._s, dtype=params.dtype)
        self._c = np.empty((), dtype=params.dtype)   # per-step constants, as a 0-d array of the params' type
        self._m, self._v = self._mv[0], self._mv[1]

    def grad_buffer(self, params):
        self._ready(params)
        return self._g

    @property
    def grad_scale(self):
        return math.sqrt(1.0 - self.hyper["beta2"])

    def _scale_of(self, grads):
        return self._s if grads is self._g else 1.0

    def _update(self, p, g, lr, tmp):
        hyper, t = self.hyper, self.t
        if self.name == "adamw" and hyper["weight_decay"]:
            p *= 1.0 - lr * hyper["weight_decay"]
        if g is not self._g:   # a gradient from elsewhere: scale it as the network does
            np.multiply(g, self._s, out=self._g)
        g, gg, mv, c = self._g, self._gg, self._mv, self._c
        np.multiply(g, g, out=self._g2)     # (1-b2) g^2
        g *= self._gain                     # (1-b1) g
        mv *= self._decay
        mv += gg
        root_bc2 = math.sqrt(1.0 - hyper["beta2"] ** t)
        np.sqrt(self._v, out=tmp)
        c.fill(self.eps_term(root_bc2))
        tmp += c
        np.divide(self._m, tmp, out=tmp)
        c.fill(lr * root_bc2 / (1.0 - hyper["beta1"] ** t))
        tmp *= c
        p -= tmp

    def eps_term(self, root_bc2):
        """What the step adds to sqrt(v) (``root_bc2`` = sqrt(1 - beta2^t)): torch adds eps to sqrt(v / bc2),
        i.e. eps * sqrt(bc2) here; with ``eps_placement='sqrt_v'`` (scikit-learn's) eps itself."""
        return self.hyper["eps"] * (1.0 if self.modes["eps_placement"] == "sqrt_v" else root_bc2)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr*wd before the Adam step."""
    name = "adamw"
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "l1": 0.0}


class Adagrad(Optimizer):
    """s += g^2; p -= lr * g / (sqrt(s) + eps)."""
    name = "adagrad"
    defaults = {"eps": 1e-10, "weight_decay": 0.0, "l1": 0.0}
    state_names = ("sum",)

    def _update(self, p, g, lr, tmp):
        s = self.state["sum"]
        np.multiply(g, g, out=tmp)
        s += tmp
        _adaptive_step(p, g, s, self.hyper["eps"], lr, tmp)


class NAdam(Optimizer):
    """torch.optim.NAdam: Adam with Nesterov momentum and the momentum_decay schedule
    mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay))."""
    name = "nadam"
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum_decay": 0.004, "weight_decay": 0.0, "l1": 0.0}
    state_names = ("exp_avg", "exp_avg_sq")
    scalar_state = {"mu_product": 1.0}   # mu_1 * mu_2 * ... * mu_t

    def _update(self, p, g, lr, tmp):
        b1, b2, t, psi = self.hyper["beta1"], self.hyper["beta2"], self.t, self.hyper["momentum_decay"]
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_product = self.state.setdefault("mu_product", np.ones(1))
        mu_product *= mu
        mu_prod = float(mu_product[0])
        _ema(m, g, b1, tmp)
        _ema(v, g, b2, tmp, square=True)
        denom = np.divide(v, 1.0 - b2 ** t)
        np.sqrt(denom, out=denom)
        denom += self.hyper["eps"]
        np.divide(g, denom, out=tmp)
        tmp *= lr * (1.0 - mu) / (1.0 - mu_prod)
        p -= tmp
        np.divide(m, denom, out=tmp)
        tmp *= lr * mu_next / (1.0 - mu_prod * mu_next)
        p -= tmp


OPTIMIZERS = {cls.name: cls for cls in (SGD, SGDMomentum, RMSprop, Adam, AdamW, Adagrad, NAdam)}
ALIASES = {"momentum": "sgd_momentum", "sgdm": "sgd_momentum", "rms_prop": "rmsprop"}


def make_optimizer(name, **hyper):
    """Create an optimizer by (case-insensitive) name, e.g. ``make_optimizer('RMSprop', rho=0.9)``."""
    return OPTIMIZERS[lookup(name, OPTIMIZERS, ALIASES, "optimizer")](**hyper)
