"""Tables of raw values: the :class:`Table`, reading CSV (:func:`read_csv`) and writing it (:func:`to_csv`).

Only the standard library and NumPy are needed, so this runs the same under CPython and Pyodide; read_csv
imports pandas (inside the function) for its C parser when it is installed, with the same results. The two
readers are in files of their own (``_stdlib_reader.py``, ``_pandas_reader.py``): this module finds the text,
its encoding and delimiter, hands it to a reader, and finishes the table the same way whichever read it.
``mlp.data`` gathers the public names of this module, ``mlp.data.preprocessing`` and ``mlp.data.datasets``.
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import re
import sys

import numpy as np

from ._cells import MISSING_VALUES  # noqa: F401 (public here too: mlp.data.table.MISSING_VALUES)
from ._cells import (Column, clean_cell, closest, columns_from_rows, is_number_text, list_names, not_missing,
                     object_array, sortable_texts)
from ._pandas_reader import read_pandas
from ._stdlib_reader import nonblank, read_stdlib, records, too_many_rows

_DELIMITERS = (",", ";", "\t", "|")  # order = preference when several fit equally well
_SNIFF_RECORDS = 50

# Leading bytes of common non-CSV files, with a hint for the user.
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one; save it as CSV first)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office file (save it as CSV first)"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"BZh", "a bzip2 archive (decompress it first)"),
    (b"\x7fELF", "a program"),
    (b"\x93NUMPY", "a NumPy .npy file"),
)


# --------------------------------------------------------------------------- Table


class Table:
    """A small immutable table: column names plus rows of ``str`` (or ``None`` = missing).

    Build one with :func:`read_csv`, :meth:`Table.from_rows` or :meth:`Table.from_dataframe`.
    ``Table(columns, rows)`` accepts any cell values and normalises them like ``from_rows``.
    ``meta`` holds informational details (e.g. the detected CSV delimiter and encoding).
    Columns are kept as NumPy arrays, so per-column work (numbers, missing values, encodings) is vectorised.
    """

    __slots__ = ("_columns", "_cols", "_n", "_index", "meta")
    __hash__ = None

    def __init__(self, columns, rows):
        columns = _check_columns(columns)
        clean = []
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != len(columns):
                raise ValueError(
                    f"row {i + 1} has {len(row)} values but there are {len(columns)} columns "
                    f"({list_names(columns)}); every row needs one value per column."
                )
            clean.append(tuple(clean_cell(v) for v in row))
        self._set(columns, columns_from_rows(clean, len(columns)), len(clean))

    def _set(self, columns, cols, n, meta=None):
        self._columns = list(columns)
        self._cols = list(cols)
        self._n = int(n)
        self._index = {c: i for i, c in enumerate(self._columns)}
        self.meta = dict(meta or {})

    @classmethod
    def _trusted(cls, columns, cols, n, meta=None):
        """Wrap already-clean columns (a list of :class:`Column`) without re-checking."""
        t = cls.__new__(cls)
        t._set(columns, cols, n, meta)
        return t

    @classmethod
    def from_rows(cls, rows, columns=None):
        """Build a table from a sequence of rows.

        Rows may be sequences (then ``columns`` names them; default ``column_1``, ...)
        or dicts (then ``columns`` defaults to the first dict's keys). Cells may be str,
        numbers, bools or None; numbers are stored as their shortest exact text, NaN and
        the texts in :data:`MISSING_VALUES` become None.
        """
        if isinstance(rows, np.ndarray):
            if rows.ndim != 2:
                raise ValueError(f"rows must be 2-D (a list of rows); got an array of shape {rows.shape}.")
            rows = rows.tolist()
        elif isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
            raise TypeError(f"rows must be a list of rows (lists, tuples or dicts), not {type(rows).__name__}.")
        rows = list(rows)
        if rows and isinstance(rows[0], dict):
            if columns is None:
                columns = list(rows[0].keys())
            cols = list(columns)
            out = []
            for i, r in enumerate(rows):
                if not isinstance(r, dict):
                    raise TypeError(f"row {i + 1} is a {type(r).__name__}, but the first row is a dict; do not mix.")
                unknown = [k for k in r if k not in cols]
                if unknown:
                    raise ValueError(f"row {i + 1} has keys not among the columns: {list_names(unknown)}.")
                out.append([r.get(c) for c in cols])
            return cls(cols, out)
        if columns is None:
            width = len(rows[0]) if rows else 0
            columns = [f"column_{j + 1}" for j in range(width)]
        return cls(columns, rows)

    @classmethod
    def from_dataframe(cls, df):
        """Build a table from a pandas DataFrame (pandas is imported only here)."""
        if not (hasattr(df, "columns") and hasattr(df, "to_numpy")):
            raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}.")
        try:
            import pandas as pd

            missing = np.asarray(pd.isna(df).to_numpy(), dtype=bool)
        except ImportError:  # duck-typed frame without pandas: rely on clean_cell
            missing = None
        values = df.to_numpy(dtype=object)
        rows = []
        for i in range(values.shape[0]):
            row = values[i].tolist()
            if missing is not None:
                row = [None if missing[i, j] else v for j, v in enumerate(row)]
            rows.append(row)
        return cls([str(c) for c in df.columns], rows)

    # -- basic access
    @property
    def columns(self):
        """Column names (a copy)."""
        return list(self._columns)

    @property
    def rows(self):
        """All rows as a list of tuples (str or None)."""
        if not self._cols:
            return [() for _ in range(self._n)]
        return list(zip(*[c.get_text().tolist() for c in self._cols]))

    @property
    def shape(self):
        return (self._n, len(self._columns))

    def __len__(self):
        return self._n

    def __contains__(self, name):
        """``name in table``: True if the table has a column of that name."""
        return isinstance(name, str) and name in self._index

    def __eq__(self, other):
        if not isinstance(other, Table):
            return NotImplemented
        return (self._columns == other._columns and self._n == other._n
                and all(a.get_text().tolist() == b.get_text().tolist() for a, b in zip(self._cols, other._cols)))

    def __repr__(self):
        cols = ", ".join(self._columns[:8]) + (", ..." if len(self._columns) > 8 else "")
        return f"Table({self._n} rows x {len(self._columns)} columns: {cols})"

    def _col_index(self, name):
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown column {name!r}; the columns are {list_names(self._columns)}."
                + closest(name, self._columns)
            ) from None

    def _col(self, name):
        return self._cols[self._col_index(name)]

    def column(self, name):
        """Values of one column as a list (str or None)."""
        return self._col(name).get_text().tolist()

    def values(self, name):
        """The column as arrays, without per-cell Python: its numbers (float64, NaN where missing) when it
        is numeric, else its texts (an object array of str, None where missing)."""
        if self.is_numeric(name):
            return self.numbers(name)[0].copy()
        return self.texts(name).copy()

    # -- whole columns as the arrays the table holds (shared, not copied: read them, do not modify them)
    def texts(self, name):
        """The column's clean texts: an object array of str, None where missing. Not a copy."""
        return self._col(name).get_text()

    def missing(self, name):
        """A boolean array, True where the column's value is missing. Not a copy."""
        return self._col(name).missing()

    def numbers(self, name):
        """``(numbers, bad)``: the column's float64 array (NaN where missing; not a copy) and None, or
        ``(None, (row, text))`` with the first value that is not a number."""
        num = self._col(name).numbers()
        if isinstance(num, tuple):
            return None, (num[1], num[2])
        return num, None

    def is_numeric(self, name):
        """True if every non-missing value reads as a number (and there is at least one)."""
        arr, bad = self.numbers(name)
        return bad is None and bool(np.any(~np.isnan(arr)))

    def numeric_column(self, name):
        """Column as a float64 array (NaN where missing); ValueError if a value is not a number."""
        arr, bad = self.numbers(name)
        if bad is not None:
            i, v = bad
            raise ValueError(
                f"column {name!r} is not numeric: row {i + 1} holds {v!r}, which is not a number. "
                "Use it as a categorical column, or fix/remove the non-numeric values."
            )
        return arr.copy()

    def missing_counts(self):
        """{column: number of missing values}."""
        return {c: int(col.missing().sum()) for c, col in zip(self._columns, self._cols)}

    def drop_missing(self, columns=None):
        """New table without the rows that have a missing value in ``columns`` (default: any column)."""
        if columns is None:
            idx = list(range(len(self._columns)))
        else:
            if isinstance(columns, str):
                columns = [columns]
            idx = [self._col_index(c) for c in columns]
        keep = np.ones(self._n, dtype=bool)
        for j in idx:
            keep &= ~self._cols[j].missing()
        return self._take(np.flatnonzero(keep))

    def head(self, n=5):
        """The first ``n`` rows as lists."""
        k = min(max(0, int(n)), self._n)
        rows = np.arange(k)
        cols = [c.text_at(rows).tolist() for c in self._cols]
        return [list(r) for r in zip(*cols)] if cols else [[] for _ in range(k)]

    def _take(self, idx):
        return Table._trusted(self._columns, [c.take(idx) for c in self._cols], len(idx), self.meta)

    def select_rows(self, indices):
        """New table with the rows at ``indices`` (ints, or a boolean mask of length len(self))."""
        idx = np.asarray(indices)
        n = self._n
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"a boolean mask must have length {n}, got shape {idx.shape}.")
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64).reshape(-1)
        elif idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("indices must be a 1-D sequence of integers or a boolean mask.")
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise ValueError(f"row index out of range for a table of {n} rows.")
        idx = np.where(idx < 0, idx + n, idx).astype(np.intp)
        return self._take(idx)

    def to_csv(self):
        """The table as CSV text (missing values written as empty cells)."""
        return to_csv(self._columns, self.rows)


def _check_columns(columns):
    if isinstance(columns, (str, bytes)):
        raise TypeError("columns must be a list of names, not a single string.")
    cols = list(columns)
    for c in cols:
        if not isinstance(c, str):
            raise TypeError(f"column names must be strings; got {c!r} ({type(c).__name__}).")
        if not c.strip():
            raise ValueError("column names must not be empty.")
    _check_unique(cols)
    return cols


def _check_unique(cols):
    seen = {}
    for j, c in enumerate(cols):
        if c in seen:
            raise ValueError(
                f"duplicate column name {c!r} (columns {seen[c] + 1} and {j + 1}); "
                "rename the columns so that each name is unique."
            )
        seen[c] = j


# --------------------------------------------------------------------------- CSV


def _read_source(source, max_bytes):
    """Return (bytes or str, description) from any supported source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "bytes"
    if isinstance(source, str):
        if "\n" in source or "\r" in source:
            return source, "text"
        if source.strip() and os.path.isfile(source):
            return _read_path(source, max_bytes), source
        if "," in source:
            return source, "text"
        if source.strip() and not os.path.exists(source):
            raise ValueError(
                f"{source!r} is neither an existing file nor CSV text (CSV text needs a header line "
                "and at least one data line). Check the path, or pass the file contents."
            )
        return source, "text"
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not os.path.isfile(path):
            raise ValueError(f"file not found: {path!r}. Check the path.")
        return _read_path(path, max_bytes), path
    if hasattr(source, "read"):
        pos = None
        try:
            pos = source.tell()
        except Exception:  # not seekable: fine
            pass
        data = source.read() if max_bytes is None else source.read(max_bytes + 1)
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, (bytes, str)):
            raise TypeError(f"the file object's read() returned {type(data).__name__}, expected bytes or str.")
        if not data and pos:
            raise ValueError(
                "the file object is already read to the end (position "
                f"{pos}); call .seek(0) on it first, or pass its contents as bytes."
            )
        return data, getattr(source, "name", "file")
    raise TypeError(
        f"cannot read CSV from a {type(source).__name__}; pass CSV text (str), bytes, "
        "a file path or an open file."
    )


def _read_path(path, max_bytes):
    if max_bytes is not None:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ValueError(_too_big(max_bytes, size))
    with open(path, "rb") as f:
        return f.read()


def _too_big(max_bytes, size=None):
    got = f"{size:,} bytes" if size is not None else f"more than {max_bytes:,} bytes"
    return (
        f"the file is too large ({got}; the limit is {max_bytes:,} bytes). "
        "Use a smaller file or a sample of its rows."
    )


def _not_csv(what):
    return ValueError(
        f"this does not look like a CSV text file: it appears to be {what}. "
        "Upload a plain-text CSV file (comma, semicolon, tab or | separated)."
    )


def _refuse_magic(data):
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _not_csv(what)


class _AsciiText:
    """The text of a large ASCII file, decoded only where it is looked at: the pandas reader needs only its
    first lines as a str (a 70 MB str costs tens of milliseconds to make). Supports what read_csv uses."""

    __slots__ = ("raw", "start")

    def __init__(self, raw, start=0):
        self.raw, self.start = raw, start

    def __len__(self):
        return len(self.raw) - self.start

    def __getitem__(self, k):
        a, b, _ = k.indices(len(self))
        if k.stop is None:  # a tail stays lazy
            return _AsciiText(self.raw, self.start + a)
        return self.raw[self.start + a:self.start + max(a, b)].decode("ascii")

    def find(self, sub, lo=0, hi=None):
        if not sub.isascii():
            return -1
        hi = len(self) if hi is None else hi
        i = self.raw.find(sub.encode("ascii"), self.start + lo, self.start + hi)
        return i - self.start if i >= 0 else -1

    def startswith(self, prefix, pos=0):
        return prefix.isascii() and self.raw.startswith(prefix.encode("ascii"), self.start + pos)

    def __contains__(self, sub):
        return self.find(sub) >= 0

    def isspace(self):
        return (self.raw if self.start == 0 else self.raw[self.start:]).isspace()

    def __str__(self):
        return self.raw[self.start:].decode("ascii")


def _decode(data):
    """bytes -> (str, encoding name); refuses binary content."""
    _refuse_magic(data)
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encodings = ("utf-32",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)  # e.g. Excel "Unicode text"
    else:
        if b"\x00" in data:
            raise _not_csv("binary data (it contains NUL bytes)")
        encodings = ("utf-8-sig", "cp1252", "latin-1")
    for enc in encodings:
        try:
            return data.decode(enc), "utf-8" if enc == "utf-8-sig" else enc
        except UnicodeDecodeError:
            continue
    raise _not_csv(f"binary data (it is not valid {encodings[0]} text)")


_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # control characters other than \t \n \v \f \r


def _check_text(text):
    """Refuse text that is mostly control characters (binary decoded as latin-1 etc.)."""
    if "\x00" in text:
        raise _not_csv("binary data (it contains NUL characters)")
    sample = text[:65536]
    bad = len(_CONTROL.findall(sample))
    if bad > max(2, len(sample) // 100):
        raise _not_csv("binary data (it contains many control characters)")



def _prefix_records(text, delimiter, want):
    """The records of the first lines of ``text``, read from a prefix that surely holds the first ``want``
    non-blank records whole (so that reading it gives what reading all of ``text`` would)."""
    size = 1 << 16
    while True:
        prefix = text[:size]
        recs, filled = [], 0
        for rec in records(prefix, delimiter):
            recs.append(rec)
            if nonblank(rec):
                filled += 1
                if filled > want:  # one more record started: the first `want` are complete
                    return recs
        if size >= len(text):
            return recs
        size *= 4


def _sniff_delimiter(text):
    """Pick the delimiter whose first records have a consistent column count > 1."""
    best = None
    for rank, d in enumerate(_DELIMITERS):
        counts = []
        try:
            for rec in _prefix_records(text, d, _SNIFF_RECORDS):
                if nonblank(rec):
                    counts.append(len(rec))
                    if len(counts) >= _SNIFF_RECORDS:
                        break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(1 for c in counts if c == counts[0]) / len(counts)
        key = (consistent, -rank)
        if best is None or key > best[0]:
            best = (key, d)
    return best[1] if best else ","


#: ``read_csv(engine="auto")`` uses pandas' C parser when pandas is importable; set this to False to always
#: use the standard-library reader (the results are the same; only the speed differs).
USE_PANDAS = True
_PANDAS_WORTH_IMPORTING = 1 << 20  # bytes
_ENGINES = ("auto", "pandas", "stdlib")


def read_csv(source, *, max_bytes=None, max_rows=None, engine="auto"):
    """Read a CSV into a :class:`Table`.

    ``source`` is CSV text (a str containing a newline or comma), bytes, a path
    (str or PathLike of an existing file) or a file-like object (text or binary, e.g.
    ``io.BytesIO`` or Streamlit's ``UploadedFile``; read from its current position).

    - Encoding: UTF-8 (a BOM is stripped), UTF-16/32 with a BOM; otherwise Windows-1252 /
      Latin-1 as a fallback. Binary files (images, archives, Excel workbooks...) are refused.
    - Delimiter: one of ``,`` ``;`` tab ``|``, chosen as the one that splits the first
      lines into a consistent number (> 1) of columns; a first line ``sep=;`` is honoured.
    - The first non-blank line is the header, unless it holds a number in every column whose values
      are numbers: then the file has no header, that line is data and ``meta['no_header']`` is True.
      Empty names become ``column_N``, except that an
      unnamed column with no values at all (a trailing delimiter) is dropped. Duplicate names
      are an error. Blank lines and lines with only empty cells are skipped.
    - Cells are stripped; values in :data:`MISSING_VALUES` become None.
    - In files not separated by commas, a column whose values all look like ``1,5`` or
      ``-3`` (decimal comma) is converted to ``1.5`` / ``-3``.
    - ``max_bytes`` / ``max_rows`` (data rows) limits raise ValueError when exceeded.
    - ``engine``: ``"auto"`` (pandas' C parser when pandas is importable and :data:`USE_PANDAS` is true, and
      pandas is already imported or the file has 1 MB or more; else the standard library's ``csv``),
      ``"pandas"`` or ``"stdlib"``. Both give the same table and the
      same errors; files the fast path cannot vouch for (ragged rows, broken quotes...) are read by the
      standard library. ``meta['parser']`` says which one read the file.

    All problems raise ``ValueError`` explaining what is wrong and how to fix it.
    """
    for name, lim in (("max_bytes", max_bytes), ("max_rows", max_rows)):
        if lim is not None and (isinstance(lim, bool) or not isinstance(lim, numbers.Integral) or lim < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {lim!r}.")
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, _ENGINES))}, got {engine!r}.")
    raw, origin = _read_source(source, max_bytes)
    pd = None
    # auto: pandas when it is loaded already, or when the file is big enough to repay importing it (~0.3 s)
    if engine == "pandas" or (engine == "auto" and USE_PANDAS and (
            "pandas" in sys.modules or len(raw) >= _PANDAS_WORTH_IMPORTING)):
        try:
            import pandas as pd
        except ImportError:
            if engine == "pandas":
                raise ValueError("engine='pandas' needs pandas (pip install pandas); "
                                 "use engine='auto' or 'stdlib'.") from None
    meta = {"source": origin}
    if isinstance(raw, bytes):
        if max_bytes is not None and len(raw) > max_bytes:
            raise ValueError(_too_big(max_bytes))
        if not raw or raw.isspace():  # (isspace stops at the first other byte; strip() would copy)
            raise ValueError("the CSV file is empty; it needs a header line and at least one data line.")
        if pd is not None and len(raw) > 1 << 20 and raw.isascii():
            _refuse_magic(raw)
            if b"\x00" in raw:
                raise _not_csv("binary data (it contains NUL bytes)")
            text, meta["encoding"] = _AsciiText(raw), "utf-8"  # (what _decode would give, decoded lazily)
        else:
            text, meta["encoding"] = _decode(raw)
    else:
        text = raw
        if max_bytes is not None and len(text) > max_bytes // 4 and len(text.encode("utf-8", "replace")) > max_bytes:
            raise ValueError(_too_big(max_bytes))
        meta["encoding"] = "text"
    # the same characters as UTF-8 bytes, for pandas (the file's own bytes when it is UTF-8)
    utf8 = None
    if isinstance(raw, bytes) and meta["encoding"] == "utf-8":
        utf8 = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    if text.startswith("\ufeff"):
        text = text[1:]
        if utf8 is not None and utf8.startswith(b"\xef\xbb\xbf"):
            utf8 = utf8[3:]  # (a second BOM) keep the bytes in step with the text
    if not text or text.isspace():
        raise ValueError("the CSV file is empty; it needs a header line and at least one data line.")
    _check_text(text)

    # Excel's optional "sep=;" first line
    nl = text.find("\n")
    ends = [i for i in (nl, text.find("\r", 0, nl if nl >= 0 else len(text))) if i >= 0]
    first_end = min(ends) if ends else len(text)
    first = text[:first_end].strip()
    if len(first) == 5 and first.lower().startswith("sep=") and first[4] in _DELIMITERS:
        delimiter = first[4]
        cut = first_end + (2 if text.startswith("\r\n", first_end) else 1)
        if utf8 is not None:
            utf8 = utf8[len(text[:cut].encode("utf-8")):]
        text = text[cut:]
        offset = 1  # keep reported line numbers true to the file
    else:
        delimiter = _sniff_delimiter(text)
        offset = 0
    meta["delimiter"] = delimiter

    if pd is not None:
        got = read_pandas(pd, text, utf8, delimiter, max_rows)
        if got is not None:
            header, cols, n, reparse = got
            table = _finish_read(header, cols, n, dict(meta, parser="pandas"), delimiter, reparse, max_rows)
            if table is not None:
                return table
    header, cols, n = read_stdlib(str(text), delimiter, offset, max_rows)
    meta["parser"] = "stdlib"
    return _finish_read(header, cols, n, meta, delimiter, None, max_rows)



def _finish_read(header, cols, n, meta, delimiter, reparse, max_rows):
    """What both readers share: a headerless file, unnamed and empty columns, names, decimal commas."""
    # no header (as in many ML datasets): the first line has a number in every numeric column (judged on the
    # first rows); then it is data, and the columns are named column_N. Names 0, 1, 2... (pandas' defaults)
    # stay a header.
    first = np.arange(min(n, 200))
    numeric = []
    for j, c in enumerate(cols):
        if isinstance(c.num, np.ndarray):
            v = c.num[first]
            ok = bool(np.all(np.isnan(v) | np.isfinite(v)))
        else:
            ok = all(t is None or is_number_text(t) for t in c.text_at(first).tolist())
        if ok:
            numeric.append(j)
    counting = header in ([str(i) for i in range(len(header))], [str(i + 1) for i in range(len(header))])
    if numeric and not counting and all(is_number_text(header[j]) for j in numeric):
        if reparse is not None:
            got = reparse()
            if got is None:
                return None
            cols, n = got
        else:
            cols = [Column(np.concatenate([object_array([clean_cell(h)]), c.get_text()])) for h, c in zip(header, cols)]
            n += 1
        header = [""] * len(header)
        meta["no_header"] = True
        if max_rows is not None and n > max_rows:  # (the first line is one more data row)
            raise too_many_rows(max_rows)
    # unnamed columns: drop if entirely empty, else name them column_N
    keep = [j for j, h in enumerate(header) if h or not cols[j].missing().all()]
    if len(keep) < len(header):
        header = [header[j] for j in keep]
        cols = [cols[j] for j in keep]
    taken = set(header)
    for j, h in enumerate(header):
        if not h:
            name, k = f"column_{j + 1}", 1
            while name in taken:
                k += 1
                name = f"column_{j + 1}_{k}"
            header[j] = name
            taken.add(name)
    _check_unique(header)
    if delimiter != ",":
        fixed = []
        for j, c in enumerate(cols):
            new = _decimal_comma_column(c)
            if new is not None:
                cols[j] = new
                fixed.append(header[j])
        if fixed:
            meta["decimal_comma_columns"] = fixed
    return Table._trusted(header, cols, n, meta)


_DECIMAL_COMMA = re.compile(r"[+-]?(\d+|\d*,\d+)")


def _decimal_comma_column(col):
    """In ;/tab/| separated files, a column like '1,5' / '-0,25' read as decimal numbers (else None)."""
    if isinstance(col.num, np.ndarray):
        return None  # numbers already (no commas)
    text = col.get_text()
    present = not_missing(text)
    vals = text[present]
    if not len(vals):
        return None
    uniq, inv = np.unique(sortable_texts(vals), return_inverse=True)
    uniq = uniq.tolist()
    if not any("," in v for v in uniq) or not all(_DECIMAL_COMMA.fullmatch(v) for v in uniq):
        return None
    out = text.copy()
    out[present] = object_array([v.replace(",", ".") for v in uniq])[inv.reshape(-1)]
    return Column(out)


def to_csv(columns, rows=None):
    """CSV text (comma separated, ``\\n`` line ends) from column names and rows.

    ``to_csv(table)`` also works. None and NaN are written as empty cells, floats with
    their shortest exact text.
    """
    if isinstance(columns, Table):
        if rows is not None:
            raise TypeError("to_csv(table) takes no rows argument.")
        columns, rows = columns.columns, columns.rows
    if rows is None:
        raise TypeError("to_csv(columns, rows) needs the rows.")
    columns = [str(c) for c in columns]
    if isinstance(rows, np.ndarray):
        rows = rows.tolist() if rows.ndim == 2 else rows
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(columns):
            raise ValueError(f"row {i + 1} has {len(row)} values but there are {len(columns)} columns.")
        w.writerow(["" if (c := clean_cell(v)) is None else c for v in row])
    return buf.getvalue()

