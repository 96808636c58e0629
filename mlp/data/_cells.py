"""Cells and columns: the clean text of a cell, numbers read from texts, and the :class:`Column` a
:class:`~mlp.data.table.Table` keeps per column. Helpers of the data package (public names in a private
module: ``mlp.data`` exports what users need)."""

from __future__ import annotations

import difflib
import math
import numbers

import numpy as np

#: Cell texts read as a missing value (after stripping surrounding whitespace).
#: Any letter case of "nan" also counts as missing.
MISSING_VALUES = frozenset(
    {"", "?", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NAN", "null", "Null", "NULL", "None", "NONE"}
)


# --------------------------------------------------------------------------- helpers


def closest(name, choices):
    """' Did you mean ...?' suffix for an unknown name, or ''."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


def list_names(names, limit=20):
    names = [repr(n) for n in names]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
    return ", ".join(names)


NAN_TEXTS = frozenset({"nan", "-nan", "+nan"})


def clean_text(v, _missing=MISSING_VALUES, _nans=NAN_TEXTS):
    """clean_cell for a str (the csv module's cells), in few steps: it runs once per cell."""
    s = v.strip()
    if s in _missing or (len(s) < 5 and s.lower() in _nans):
        return None
    return s


def is_number_text(s):
    """True for text that reads as a finite number, e.g. '3', '-0.5', '1e-3'."""
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def clean_cell(v):
    """Normalise one cell to a stripped str, or None when missing."""
    if v is None:
        return None
    if isinstance(v, str):
        return clean_text(v)
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isnan(f):
            return None
        # str() gives the shortest text that round-trips (also for np.float32).
        return str(v) if isinstance(v, (float, np.floating)) else repr(f)
    if isinstance(v, bytes):
        return clean_text(v.decode("utf-8", errors="replace"))
    return clean_text(str(v))


def parse_float(s):
    """float(s) for a cell text, or None when it is not a number."""
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def label_text(v):
    """Canonical text of a numeric class label: 1.0 -> '1', 0.5 -> '0.5'."""
    if v == math.floor(v) and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


# --------------------------------------------------------------------------- columns


def object_array(seq):
    """A 1-D object array holding the items of ``seq`` (str or None) as they are."""
    a = np.empty(len(seq), dtype=object)
    a[:] = seq
    return a


def not_missing(text):
    """True where an object column of clean texts has a value: clean texts are never "", so truthiness
    (a C call per cell) tells a str from None."""
    return text.astype(bool)


def sortable_texts(texts):
    """Clean texts (a 1-D object array of str, none missing) as an array NumPy sorts, searches and compares
    in C, in the order of Python's str: a unicode array, unless its fixed width (the longest text's) would
    make it far larger than the texts (one long text among short ones: gigabytes for a large file); then
    the object array itself (the same results, compared by Python)."""
    if not len(texts):
        return np.zeros(0, dtype="U1")
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if int(lens.max()) * len(lens) > 4 * int(lens.sum()) + (1 << 16):
        return texts
    return texts.astype(str)


def to_numbers(text):
    """float64 array (NaN = missing) of an object column of clean texts, or ("bad", row, text) for the first
    value that is not a number. NumPy's object->float cast calls Python's float() on each cell (in C)."""
    try:  # None -> NaN; no clean text reads as NaN ("nan" is missing), so NaN <=> missing
        return text.astype(np.float64)
    except (TypeError, ValueError):
        pass
    present = not_missing(text)
    vals = text[present]
    uniq, inv = np.unique(sortable_texts(vals), return_inverse=True)
    ok = np.array([parse_float(u) is not None for u in uniq.tolist()], dtype=bool)
    row = int(np.flatnonzero(present)[np.flatnonzero(~ok[inv.reshape(-1)])[0]])
    return ("bad", row, text[row])


class Column:
    """One column: clean texts (object array of str/None) and, once computed, its numbers.

    ``text`` may be None while ``lazy = (fetch, idx)`` can produce it (``fetch(idx)`` -> the texts at
    those rows of the source; idx None = all): the pandas reader keeps numeric columns as numbers only and
    reads their exact texts again only if someone asks for them. ``num`` is None (not computed yet), a
    float64 array (the column is numeric; NaN = missing) or ("bad", row, text).
    """

    __slots__ = ("text", "num", "lazy", "miss")

    def __init__(self, text=None, num=None, lazy=None):
        self.text, self.num, self.lazy, self.miss = text, num, lazy, None

    def get_text(self):
        if self.text is None:
            fetch, idx = self.lazy
            self.text = fetch(idx)
            self.lazy = None
        return self.text

    def text_at(self, rows):
        """Texts of some rows (without materialising a lazy column when only a few rows are needed)."""
        if self.text is not None:
            return self.text[rows]
        fetch, idx = self.lazy
        return fetch(rows if idx is None else idx[rows])

    def numbers(self):
        if self.num is None:
            self.num = to_numbers(self.get_text())
        return self.num

    def missing(self):
        if self.miss is None:
            num = self.num
            self.miss = np.isnan(num) if isinstance(num, np.ndarray) else ~not_missing(self.get_text())
        return self.miss

    def __reduce__(self):  # pickle / copy: a lazy column's texts are read first (``fetch`` is a closure)
        return Column, (self.get_text(), self.num)

    def take(self, rows):
        num = self.num[rows] if isinstance(self.num, np.ndarray) else None
        if self.text is not None:
            return Column(self.text[rows], num)
        fetch, idx = self.lazy
        return Column(None, num, (fetch, rows if idx is None else idx[rows]))


def columns_from_rows(rows, width):
    """Clean row tuples -> one :class:`Column` per column."""
    if not rows or not width:
        return [Column(np.empty(0, dtype=object)) for _ in range(width)]
    grid = np.empty((len(rows), width), dtype=object)
    grid[:] = rows  # one C pass; each column is a view of the grid
    return [Column(grid[:, j]) for j in range(width)]

