"""Tabular data for the MLP: CSV reading, tables, preprocessing, splits, toy datasets.

The public names of the package's modules, gathered in one place (``from mlp import data``):

- ``mlp.data.table``: cells, :class:`Table`, :func:`read_csv`, :func:`to_csv`;
- ``mlp.data.preprocessing``: :func:`detect_task`, :class:`Preprocessor`, :func:`train_test_split`,
  :data:`FEATURE_TRANSFORMS`;
- ``mlp.data.datasets``: :data:`DATASETS`, :func:`make_dataset`.

Only the standard library and NumPy are needed, so they run the same under CPython and Pyodide. pandas, when
it is importable, is imported inside ``read_csv`` for its C parser (the results are those of the standard
library's reader, which Pyodide uses) and by ``Table.from_dataframe``.

Main entry points::

    t = read_csv(source)                       # text, bytes, path or file-like
    pre = Preprocessor(features, target).fit(train_table)
    X, y = pre.transform_X(t), pre.transform_y(t)
    labels = pre.inverse_y(model_outputs)
    train, test = train_test_split(t, test_size=0.2, seed=0)
    X, y = make_dataset("moons", n_samples=400, noise=0.1, seed=0)
"""
from .datasets import DATASETS, make_dataset
from .preprocessing import FEATURE_TRANSFORMS, TASKS, Preprocessor, detect_task, train_test_split
from .table import MISSING_VALUES, Table, read_csv, to_csv

__all__ = [
    "MISSING_VALUES",
    "TASKS",
    "FEATURE_TRANSFORMS",
    "DATASETS",
    "Table",
    "Preprocessor",
    "read_csv",
    "to_csv",
    "detect_task",
    "train_test_split",
    "make_dataset",
]
