"""The network's layers as records: what ``model.layers`` holds.

A :class:`Dense` layer computes ``a = activation(a_prev @ W + b)`` for its input ``a_prev`` (the data, or
the previous layer's output), and during training drops each of its outputs with probability ``dropout``.
``W`` and ``b`` are views into the model's one flat parameter vector (``model.params``): in memory ``b``
is the row right after ``W``, and together they are ``Wb = [W; b]`` (see ``mlp/backprop.py``).

>>> model = MLP(seed=0).sequential([2, 8, 'relu', 'dropout(0.2)', 1, 'sigmoid'])
>>> model.layers
[Dense(2 -> 8, relu, dropout=0.2), Dense(8 -> 1, sigmoid)]
>>> model.layers[0].W.shape, model.layers[0].b.shape
((2, 8), (8,))
"""
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True, eq=False, repr=False)
class Dense:
    """One fully connected layer (a record: the model keeps the numbers, the engine does the work)."""
    W: np.ndarray          # weights, (n_in, n_out): a view into model.params
    b: np.ndarray          # biases, (n_out,): the next row of the same view
    activation: str        # a name in mlp.activations.ACTIVATIONS
    dropout: float = 0.0   # the rate at which training drops this layer's outputs (0: no dropout)
    Wb: np.ndarray = None  # [W; b], (n_in + 1, n_out): the two as one matrix, for one product per layer
    offset: int = 0        # where Wb starts in model.params

    @property
    def n_in(self):
        return self.W.shape[0]

    @property
    def n_out(self):
        return self.W.shape[1]

    @property
    def n_params(self):
        return self.Wb.size

    def __repr__(self):
        drop = f", dropout={self.dropout:g}" if self.dropout else ""
        return f"Dense({self.n_in} -> {self.n_out}, {self.activation}{drop})"


def build_layers(specs, params):
    """The :class:`Dense` layers of parsed architecture ``specs`` as views into the flat ``params``, and the
    dropout rate on the network's inputs (a ``dropout(p)`` right after the input size)."""
    layers, input_dropout, offset = [], 0.0, 0
    n_in = specs[0]["size"]
    for s in specs[1:]:
        if s["type"] == "dropout":
            if layers:
                layers[-1].dropout = s["rate"]
            else:
                input_dropout = s["rate"]
            continue
        n_out = s["units"]
        size = (n_in + 1) * n_out
        Wb = params[offset:offset + size].reshape(n_in + 1, n_out)
        layers.append(Dense(W=Wb[:-1], b=Wb[-1], activation=s["activation"], Wb=Wb, offset=offset))
        offset += size
        n_in = n_out
    return layers, input_dropout
