"""mlp: a multi-layer perceptron from first principles in NumPy.

>>> from mlp import MLP
>>> model = MLP(seed=0)
>>> model.sequential([2, 4, 'relu', 1, 'sigmoid'])
>>> model.set_loss('bce'); model.set_optimizer('adam')
>>> history = model.fit(X, y, epochs=5000, learning_rate=0.01)
"""
__version__ = "0.1.0"

import sys as _sys

from . import data, metrics  # noqa: E402
from .activations import ACTIVATIONS, DERIVATIVES, register_activation  # noqa: E402
from .architecture import default_architecture, format_architecture, parse_architecture  # noqa: E402
from .io import from_bytes, load  # noqa: E402
from .landscape import RACE_OPTIMIZERS, LossSurface, Race, loss_surface, race  # noqa: E402
from .losses import LOSSES, compatible_losses  # noqa: E402
from .network import MAX_PARAMS, MLP  # noqa: E402
from .optimizers import OPTIMIZERS  # noqa: E402
from .training import EarlyStopping, History, TrainingRun  # noqa: E402

# The data modules' old import paths (mlp.table, mlp.preprocessing, mlp.datasets) name the same module objects
# as mlp.data.table, mlp.data.preprocessing and mlp.data.datasets, so setting a module attribute acts on both.
for _name in ("table", "preprocessing", "datasets"):
    _sys.modules[f"{__name__}.{_name}"] = globals()[_name] = getattr(data, _name)
del _name

__all__ = ["MLP", "load", "from_bytes", "History", "EarlyStopping", "TrainingRun", "register_activation", "parse_architecture",
           "default_architecture",
           "format_architecture", "compatible_losses", "ACTIVATIONS", "DERIVATIVES", "LOSSES", "OPTIMIZERS",
           "MAX_PARAMS", "data", "metrics", "race", "loss_surface", "Race", "LossSurface", "RACE_OPTIMIZERS",
           "__version__"]
