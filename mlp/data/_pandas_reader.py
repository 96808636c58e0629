"""The pandas CSV reader: pandas' C parser, used by ``read_csv`` only where its result is sure to equal the
standard-library reader's (anything else is handed back, and the standard library reads the file)."""

from __future__ import annotations

import csv
import io

import numpy as np

from ._cells import Column, clean_cell, object_array
from ._stdlib_reader import header_record


def read_pandas(pd, text, data, delimiter, max_rows):
    """pandas' C parser: (header, columns, n, reparse) when its result is sure to equal the standard
    library's, else None (the caller then reads the file with the standard library)."""
    try:
        found = header_record(text, delimiter)
    except csv.Error:
        return None
    if found is None:
        return None
    rec, hstart, hend = found
    header = [h.strip() for h in rec]
    try:
        first = header_record(text, delimiter, hend)
    except csv.Error:
        return None
    if first is not None and len(first[0]) > len(header):
        # pandas would silently make the first row's extra leading fields the index (and a first column such
        # as 1, 0 or 0, 1, 2 becomes a RangeIndex, like no index at all): the csv module says what is wrong
        return None
    if data is None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a str with lone surrogates: only Python's csv module can read it
            return None
    if not text[:hend].isascii():  # char offsets -> byte offsets
        hstart, hend = len(text[:hstart].encode("utf-8")), len(text[:hend].encode("utf-8"))
    source = PandasSource(pd, data, delimiter, len(header))
    got = source.read(hend, max_rows)
    if got is None:
        return None
    cols, n = got

    def reparse():  # no header after all: read again from the header line, as data (None: cannot vouch)
        again = PandasSource(pd, data, delimiter, len(header), source.skip)
        return again.read(hstart, None if max_rows is None else max_rows + 1)

    return header, cols, n, reparse


def space_before_quote(data):
    """True if a space comes right before a double quote somewhere in ``data`` (bytes)."""
    if b'"' not in data:  # (a one-byte search runs at memchr speed; searching for b' "' would not)
        return False
    a = np.frombuffer(data, dtype=np.uint8)
    q = np.flatnonzero(a == 34)
    q = q[q > 0]
    return bool(np.any(a[q - 1] == 32))


class PandasSource:
    """One pandas parse of the data (from a byte offset), and the texts of its numeric columns on demand."""

    def __init__(self, pd, data, delimiter, width, skip=None):
        self.pd, self.data, self.delimiter, self.width = pd, data, delimiter, width
        self.start, self.cache, self.lazy = 0, {}, []
        # Python's csv skips spaces before an opening quote (skipinitialspace); pandas' parser is faster
        # without it, and leading spaces are stripped from every cell anyway, so it is on only when needed.
        self.skip = space_before_quote(data) if skip is None else skip

    def _kw(self):
        kw = dict(sep=self.delimiter, header=None, names=list(range(self.width)), na_filter=False,
                  skipinitialspace=self.skip, quotechar='"', doublequote=True, escapechar=None, comment=None,
                  skip_blank_lines=True, engine="c", low_memory=False, encoding="utf-8", thousands=None,
                  decimal=".", encoding_errors="strict")
        if int(self.pd.__version__.split(".")[0]) < 3:
            # pandas 2's default float parser can miss the last bit ("0.9385720671310083"); this one is Python's
            # own. (pandas 3 reads exactly by default, and deprecates the option.)
            kw["float_precision"] = "round_trip"
        return kw

    def _frame(self, **kw):
        args = self._kw()
        if "usecols" in kw:
            del args["names"]  # (pandas refuses usecols with names when a row has more fields)
        buf = io.BytesIO(self.data)  # shares the bytes (no copy); pandas reads from the current position
        buf.seek(self.start)
        return self.pd.read_csv(buf, **args, **kw)

    def read(self, start, max_rows):
        """(columns, n) or None when the result might differ from the standard library's."""
        pd = self.pd
        self.start = start
        limit = None if max_rows is None else max_rows + 2
        try:
            df = self._frame(nrows=limit)
        except Exception:  # ragged rows, broken quotes...: the standard library says what is wrong
            return None
        if not isinstance(df.index, pd.RangeIndex) or df.shape[1] != self.width or len(df) == 0:
            return None  # more fields than the header in the first row (pandas made them an index)
        if limit is not None and len(df) >= limit:
            return None
        blanks, cols = [], []
        for j in range(self.width):
            s = df.iloc[:, j]
            kind = s.dtype.kind
            if kind in "iuf":
                num = s.to_numpy(dtype=np.float64)
                if np.isnan(num).any():
                    return None
                cols.append(Column(None, num, (self._fetcher(j), None)))
                blanks.append(None)
            elif kind == "b":
                cols.append(Column(None, None, (self._fetcher(j), None)))
                blanks.append(None)
            else:
                got = self._clean(s)
                if got is None or (j == self.width - 1 and got[3]):
                    return None  # ("" in the last column may be a short row that pandas padded)
                cols.append(Column(got[0]))
                blanks.append(got[1:3])
        n = len(df)
        if all(b is not None for b in blanks):  # only all-text tables (no lazy columns) have rows of empty cells
            allblank = np.logical_and.reduce([blank[codes] for blank, codes in blanks])
            if allblank.any():
                keep = np.flatnonzero(~allblank)
                cols = [c.take(keep) for c in cols]
                n = len(keep)
        if n == 0 or (max_rows is not None and n > max_rows):
            return None
        return cols, n

    def _clean(self, s):
        """(clean texts, blank per distinct value, codes, has an empty cell) of a text column, computed per
        distinct value; None if pandas saw a missing value (it should not, with na_filter off)."""
        codes, uniques = self.pd.factorize(s, use_na_sentinel=True)
        if (codes < 0).any():
            return None
        uniques = [str(u) for u in uniques]
        clean = object_array([clean_cell(u) for u in uniques])
        blank = np.array([not u.strip() for u in uniques], dtype=bool)
        return clean[codes], blank, codes, "" in uniques

    def _fetcher(self, j):
        """``fetch(idx)`` for the numeric column ``j``: its texts, read again from the data on demand."""
        self.lazy.append(j)

        def fetch(idx):
            full = self.cache.get(j)
            if full is None and idx is not None and len(idx) <= 1000:
                top = int(idx.max()) + 1 if len(idx) else 0
                if top <= 10_000:  # a few leading rows (a preview): parse just those
                    return self._texts([j], top)[0][idx]
            if full is None:  # one pass reads every such column of the file (a download needs them all)
                todo = [k for k in self.lazy if k not in self.cache]
                for k, texts in zip(todo, self._texts(todo, None)):
                    self.cache[k] = texts
                full = self.cache[j]
            return full if idx is None else full[idx]

        return fetch

    def _texts(self, cols, nrows):
        """Clean texts of numeric columns ``cols``: numbers, so never missing; only stripped (in C)."""
        df = self._frame(usecols=cols, dtype=object, nrows=nrows)
        out = []
        for k in cols:
            u = df[k].to_numpy(dtype=object).astype(str)
            out.append(np.char.strip(u).astype(object) if len(u) else np.empty(0, dtype=object))
        return out
