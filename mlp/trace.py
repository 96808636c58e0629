"""What the apps show of one training step: :class:`Trace` (every number of a step, computed by
:mod:`mlp.reference` without changing the model: what ``MLP.trace`` returns) and :func:`code_for` (the lines
of ``mlp/reference.py`` that compute each, read from the file itself)."""
import ast
import os
from dataclasses import dataclass, field

import numpy as np

from . import reference


# ---------------------------------------------------------------------------- what MLP.trace returns
@dataclass
class LayerTrace:
    """One dense layer in a traced step. Arrays are sample-major: ``z``, ``a``, ``delta`` are (n, units)."""
    activation: str
    W: np.ndarray          # (n_in, n_out), before the step
    b: np.ndarray          # (n_out,)
    a_prev: np.ndarray     # (n, n_in): the layer's input
    z: np.ndarray          # a_prev @ W + b
    a: np.ndarray          # f(z)
    delta: np.ndarray      # dL/dz (L: the loss training follows, loss_scale times the mean loss)
    grad_W: np.ndarray     # dL/dW (L1 included)
    grad_b: np.ndarray     # dL/db
    update_W: np.ndarray   # W after the step minus W before (the step is not applied to the model)
    update_b: np.ndarray
    state_W: dict          # {"before": {torch name: array}, "after": {...}}
    state_b: dict


@dataclass
class Trace:
    """One training step of a batch, computed by mlp.reference without changing the model (see MLP.trace).

    ``loss`` is the mean data loss, ``penalty`` the L1 term (l1 * sum|W|); training minimises their sum.
    ``x`` and ``y`` are the batch as the network sees it (y one-hot for cce); ``t`` the step number the
    update would be; ``hyper`` the optimizer's hyperparameters with ``lr`` (l1 is ``.l1``; Adam's
    ``eps_placement`` when not PyTorch's), so
    ``reference.UPDATES[trace.optimizer](W, grad_W, state_W["before"], trace.t, **trace.hyper)`` is the update
    (of ``b`` too, but with ``weight_decay=0`` when ``weight_decay_on`` is "weights"). ``loss_scale``: the
    network's (the gradients are those of loss_scale times the loss; 1 but for the scikit-learn adapter's)."""
    loss: float
    penalty: float
    x: np.ndarray
    y: np.ndarray
    loss_name: str
    optimizer: str
    hyper: dict
    t: int
    l1: float
    layers: list = field(default_factory=list)
    loss_scale: float = 1.0
    weight_decay_on: str = "all"

    @property
    def output(self):
        """The network's output for the batch, (n, k)."""
        return self.layers[-1].a


def make_trace(x, y, layers, loss, optimizer, hyper, states, t, lr, l1=0.0, loss_scale=1.0, weight_decay_on="all"):
    """A :class:`Trace` of ``reference.train_step`` (same arguments; ``states`` as the optimizer holds them now)."""
    data_loss, penalty, steps = reference.forward_backward(x, y, layers, loss, l1, loss_scale)
    new_layers, new_states = reference.update_layers(layers, steps, states, optimizer, t, lr, weight_decay_on,
                                                     **hyper)
    traced = []
    for (W, b, activation), (W_new, b_new, _), step, before, after in zip(layers, new_layers, steps, states, new_states):
        traced.append(LayerTrace(
            activation=activation, W=W, b=b, a_prev=step["a_prev"], z=step["z"], a=step["a"], delta=step["delta"],
            grad_W=step["grad_W"], grad_b=step["grad_b"], update_W=W_new - W, update_b=b_new - b,
            state_W={"before": _arrays(before[0]), "after": _arrays(after[0])},
            state_b={"before": _arrays(before[1]), "after": _arrays(after[1])}))
    return Trace(loss=data_loss, penalty=penalty, x=x, y=y, loss_name=loss, optimizer=optimizer,
                 hyper={**hyper, "lr": lr}, t=t, l1=l1, layers=traced, loss_scale=loss_scale,
                 weight_decay_on=weight_decay_on)


def _arrays(state):
    return {name: np.asarray(value) for name, value in state.items()}


# ---------------------------------------------------------------------------- the reference's own source
SOURCE_PATH = os.path.join(os.path.dirname(__file__), "reference.py")


def code_for(name):
    """``(first_line_number, source_text)`` of the function or class ``name`` in mlp/reference.py, read from
    the .py text itself (the apps show it beside the formulas). Raises FileNotFoundError when the source
    text is not installed (only compiled files), ValueError for a name this module does not define."""
    lines, defined = _definitions(SOURCE_PATH)
    if name not in defined:
        raise ValueError(f"mlp.reference defines no function or class {name!r}; it has: {', '.join(defined)}.")
    start, end = defined[name]
    return start, "\n".join(lines[start - 1:end]) + "\n"


_PARSED = {}   # path -> (lines, {name: (first line, last line)}): the file is parsed once


def _definitions(path):
    if path not in _PARSED:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as e:
            raise FileNotFoundError(f"The source of mlp.reference is not available ({path}: {e.strerror or e}); "
                                    "ship mlp/reference.py as a .py file to show its code.") from None
        defined = {}
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined[node.name] = (min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno)
        _PARSED[path] = (text.splitlines(), defined)
    return _PARSED[path]
