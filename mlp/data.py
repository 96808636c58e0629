"""Tabular data for the MLP: CSV reading, tables, preprocessing, splits, toy datasets.

Only the standard library and NumPy are imported here, so the module runs the same
under CPython and Pyodide. pandas is used only if the caller hands us a DataFrame.

Main entry points::

    t = read_csv(source)                       # text, bytes, path or file-like
    pre = Preprocessor(features, target).fit(train_table)
    X, y = pre.transform_X(t), pre.transform_y(t)
    labels = pre.inverse_y(model_outputs)
    train, test = train_test_split(t, test_size=0.2, seed=0)
    X, y = make_dataset("moons", n_samples=400, noise=0.1, seed=0)
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import numbers
import os
import re

import numpy as np

__all__ = [
    "MISSING_VALUES",
    "TASKS",
    "DATASETS",
    "Table",
    "Preprocessor",
    "read_csv",
    "to_csv",
    "detect_task",
    "train_test_split",
    "make_dataset",
]

#: Cell texts read as a missing value (after stripping surrounding whitespace).
#: Any letter case of "nan" also counts as missing.
MISSING_VALUES = frozenset(
    {"", "?", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NAN", "null", "Null", "NULL", "None", "NONE"}
)

TASKS = ("binary", "multiclass", "regression")

_DELIMITERS = (",", ";", "\t", "|")  # order = preference when several fit equally well
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_RECORDS = 50
_MAX_MULTICLASS_INT = 20  # integer targets with more distinct values are regression
_MAX_SAMPLES = 1_000_000

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


# --------------------------------------------------------------------------- helpers


def _closest(name, choices):
    """' Did you mean ...?' suffix for an unknown name, or ''."""
    match = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


def _list_names(names, limit=20):
    names = [repr(n) for n in names]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
    return ", ".join(names)


def _is_missing_text(s):
    return s in MISSING_VALUES or s.lower() in ("nan", "-nan", "+nan")


def _is_number_text(s):
    """True for text that reads as a finite number, e.g. '3', '-0.5', '1e-3'."""
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def _clean_cell(v):
    """Normalise one cell to a stripped str, or None when missing."""
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        return None if _is_missing_text(s) else s
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
        v = v.decode("utf-8", errors="replace")
        return _clean_cell(v)
    s = str(v).strip()
    return None if _is_missing_text(s) else s


def _parse_float(s):
    """float(s) for a cell text, or None when it is not a number."""
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _label_text(v):
    """Canonical text of a numeric class label: 1.0 -> '1', 0.5 -> '0.5'."""
    if v == math.floor(v) and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


# --------------------------------------------------------------------------- Table


class Table:
    """A small immutable table: column names plus rows of ``str`` (or ``None`` = missing).

    Build one with :func:`read_csv`, :meth:`Table.from_rows` or :meth:`Table.from_dataframe`.
    ``Table(columns, rows)`` accepts any cell values and normalises them like ``from_rows``.
    ``meta`` holds informational details (e.g. the detected CSV delimiter and encoding).
    """

    __slots__ = ("_columns", "_rows", "_index", "_num_cache", "meta")
    __hash__ = None

    def __init__(self, columns, rows):
        columns = _check_columns(columns)
        clean = []
        for i, row in enumerate(rows):
            row = list(row)
            if len(row) != len(columns):
                raise ValueError(
                    f"row {i + 1} has {len(row)} values but there are {len(columns)} columns "
                    f"({_list_names(columns)}); every row needs one value per column."
                )
            clean.append(tuple(_clean_cell(v) for v in row))
        self._set(columns, clean)

    def _set(self, columns, rows, meta=None):
        self._columns = list(columns)
        self._rows = rows
        self._index = {c: i for i, c in enumerate(self._columns)}
        self._num_cache = {}
        self.meta = dict(meta or {})

    @classmethod
    def _trusted(cls, columns, rows, meta=None):
        """Wrap already-clean columns/rows (list of tuples) without re-checking."""
        t = cls.__new__(cls)
        t._set(columns, rows, meta)
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
                    raise ValueError(f"row {i + 1} has keys not among the columns: {_list_names(unknown)}.")
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
        except ImportError:  # duck-typed frame without pandas: rely on _clean_cell
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
        return list(self._rows)

    @property
    def shape(self):
        return (len(self._rows), len(self._columns))

    def __len__(self):
        return len(self._rows)

    def __eq__(self, other):
        if not isinstance(other, Table):
            return NotImplemented
        return self._columns == other._columns and self._rows == other._rows

    def __repr__(self):
        cols = ", ".join(self._columns[:8]) + (", ..." if len(self._columns) > 8 else "")
        return f"Table({len(self._rows)} rows x {len(self._columns)} columns: {cols})"

    def _col_index(self, name):
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown column {name!r}; the columns are {_list_names(self._columns)}."
                + _closest(name, self._columns)
            ) from None

    def column(self, name):
        """Values of one column as a list (str or None)."""
        j = self._col_index(name)
        return [r[j] for r in self._rows]

    def _numeric(self, name):
        """(float array with NaN for missing, first bad (row, value) or None); cached."""
        if name not in self._num_cache:
            j = self._col_index(name)
            out = np.empty(len(self._rows), dtype=np.float64)
            bad = None
            for i, r in enumerate(self._rows):
                v = r[j]
                if v is None:
                    out[i] = np.nan
                    continue
                f = _parse_float(v)
                if f is None:
                    bad = (i, v)
                    break
                out[i] = f
            self._num_cache[name] = (out, bad)
        return self._num_cache[name]

    def is_numeric(self, name):
        """True if every non-missing value reads as a number (and there is at least one)."""
        arr, bad = self._numeric(name)
        return bad is None and bool(np.any(~np.isnan(arr)))

    def numeric_column(self, name):
        """Column as a float64 array (NaN where missing); ValueError if a value is not a number."""
        arr, bad = self._numeric(name)
        if bad is not None:
            i, v = bad
            raise ValueError(
                f"column {name!r} is not numeric: row {i + 1} holds {v!r}, which is not a number. "
                "Use it as a categorical column, or fix/remove the non-numeric values."
            )
        return arr.copy()

    def missing_counts(self):
        """{column: number of missing values}."""
        counts = [0] * len(self._columns)
        for r in self._rows:
            for j, v in enumerate(r):
                if v is None:
                    counts[j] += 1
        return dict(zip(self._columns, counts))

    def drop_missing(self, columns=None):
        """New table without the rows that have a missing value in ``columns`` (default: any column)."""
        if columns is None:
            idx = list(range(len(self._columns)))
        else:
            if isinstance(columns, str):
                columns = [columns]
            idx = [self._col_index(c) for c in columns]
        rows = [r for r in self._rows if all(r[j] is not None for j in idx)]
        return Table._trusted(self._columns, rows, self.meta)

    def head(self, n=5):
        """The first ``n`` rows as lists."""
        return [list(r) for r in self._rows[: max(0, int(n))]]

    def select_rows(self, indices):
        """New table with the rows at ``indices`` (ints, or a boolean mask of length len(self))."""
        idx = np.asarray(indices)
        n = len(self._rows)
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
        return Table._trusted(self._columns, [self._rows[int(i)] for i in idx], self.meta)

    def to_csv(self):
        """The table as CSV text (missing values written as empty cells)."""
        return to_csv(self._columns, self._rows)


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


def _decode(data):
    """bytes -> (str, encoding name); refuses binary content."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _not_csv(what)
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


def _check_text(text):
    """Refuse text that is mostly control characters (binary decoded as latin-1 etc.)."""
    if "\x00" in text:
        raise _not_csv("binary data (it contains NUL characters)")
    sample = text[:65536]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or 0x7F <= ord(ch) < 0xA0)
    if bad > max(2, len(sample) // 100):
        raise _not_csv("binary data (it contains many control characters)")


def _reader(text, delimiter):
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)


def _nonblank(rec):
    return any(f.strip() for f in rec)


def _sniff_delimiter(text):
    """Pick the delimiter whose first records have a consistent column count > 1."""
    best = None
    for rank, d in enumerate(_DELIMITERS):
        counts = []
        try:
            for rec in _reader(text, d):
                if _nonblank(rec):
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


def read_csv(source, *, max_bytes=None, max_rows=None):
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

    All problems raise ``ValueError`` explaining what is wrong and how to fix it.
    """
    for name, lim in (("max_bytes", max_bytes), ("max_rows", max_rows)):
        if lim is not None and (isinstance(lim, bool) or not isinstance(lim, numbers.Integral) or lim < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {lim!r}.")
    raw, origin = _read_source(source, max_bytes)
    meta = {"source": origin}
    if isinstance(raw, bytes):
        if max_bytes is not None and len(raw) > max_bytes:
            raise ValueError(_too_big(max_bytes))
        if not raw.strip():
            raise ValueError("the CSV file is empty; it needs a header line and at least one data line.")
        text, meta["encoding"] = _decode(raw)
    else:
        text = raw
        if max_bytes is not None and len(text) > max_bytes // 4 and len(text.encode("utf-8", "replace")) > max_bytes:
            raise ValueError(_too_big(max_bytes))
        meta["encoding"] = "text"
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ValueError("the CSV file is empty; it needs a header line and at least one data line.")
    _check_text(text)

    # Excel's optional "sep=;" first line
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    first_end = min(ends) if ends else len(text)
    first = text[:first_end].strip()
    if len(first) == 5 and first.lower().startswith("sep=") and first[4] in _DELIMITERS:
        delimiter = first[4]
        text = text[first_end:]
        text = text[2:] if text.startswith("\r\n") else text[1:]
        offset = 1  # keep reported line numbers true to the file
    else:
        delimiter = _sniff_delimiter(text)
        offset = 0
    meta["delimiter"] = delimiter

    reader = _reader(text, delimiter)
    header = None
    header_line = 0
    rows = []
    bad = []  # (first line, last line, n_fields, spans lines) of ragged rows
    end = 0
    try:
        for rec in reader:
            start, end = end + 1, reader.line_num
            if not _nonblank(rec):
                continue
            if header is None:
                header = [h.strip() for h in rec]
                header_line = start + offset
                continue
            n = len(header)
            if len(rec) > n and not any(f.strip() for f in rec[n:]):
                rec = rec[:n]  # trailing delimiters
            if len(rec) != n:
                multiline = any("\n" in f or "\r" in f for f in rec)
                bad.append((start + offset, end + offset, len(rec), multiline))
                continue
            if not bad:
                rows.append(tuple(_clean_cell(v) for v in rec))
                if max_rows is not None and len(rows) > max_rows:
                    raise ValueError(
                        f"the CSV has more than {max_rows:,} data rows (the limit); "
                        "use a smaller file or a sample of its rows."
                    )
    except csv.Error as e:
        raise ValueError(
            f"could not parse the CSV near line {reader.line_num + offset}: {e}. "
            'Check the quoting (an unclosed " quote swallows the following lines).'
        ) from None

    if header is None:
        raise ValueError("the CSV file is empty; it needs a header line and at least one data line.")
    if bad:
        first_line, last_line, got, multiline = bad[0]
        where = f"line {first_line}" if first_line == last_line else f"the row on lines {first_line}-{last_line}"
        more = ""
        if len(bad) > 1:
            more = f" ({len(bad) - 1} more row{'s have' if len(bad) > 2 else ' has'} the wrong count too)"
        hint = ' It spans several lines: look for an unclosed " quote.' if multiline else ""
        raise ValueError(
            f"{where} has {got} field{'s' if got != 1 else ''} but the header (line {header_line}) has "
            f"{len(header)} (detected delimiter: {_DELIM_NAMES[delimiter]}){more}.{hint} Quote values "
            "that contain the delimiter, and give every row one value per column."
        )
    if not rows:
        raise ValueError(
            f"the CSV has a header ({_list_names(header)}) but no data rows; add at least one data line."
        )

    # no header (as in many ML datasets): the first line has a number in every numeric column (judged on the
    # first rows); then it is data, and the columns are named column_N. Names 0, 1, 2... (pandas' defaults)
    # stay a header.
    numeric = [j for j in range(len(header)) if all(r[j] is None or _is_number_text(r[j]) for r in rows[:200])]
    counting = header in ([str(i) for i in range(len(header))], [str(i + 1) for i in range(len(header))])
    if numeric and not counting and all(_is_number_text(header[j]) for j in numeric):
        rows.insert(0, tuple(_clean_cell(h) for h in header))
        header = [""] * len(header)
        meta["no_header"] = True
    # unnamed columns: drop if entirely empty, else name them column_N
    keep = [j for j, h in enumerate(header) if h or any(r[j] is not None for r in rows)]
    if len(keep) < len(header):
        header = [header[j] for j in keep]
        rows = [tuple(r[j] for j in keep) for r in rows]
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
        rows, fixed = _fix_decimal_commas(header, rows)
        if fixed:
            meta["decimal_comma_columns"] = fixed
    return Table._trusted(header, rows, meta)


_DECIMAL_COMMA = re.compile(r"[+-]?(\d+|\d*,\d+)")


def _fix_decimal_commas(header, rows):
    """In ;/tab/| separated files, read columns like '1,5' / '-0,25' as decimal numbers."""
    fixed = []
    for j, name in enumerate(header):
        vals = [r[j] for r in rows if r[j] is not None]
        if vals and any("," in v for v in vals) and all(_DECIMAL_COMMA.fullmatch(v) for v in vals):
            fixed.append(j)
    if not fixed:
        return rows, []
    out = []
    for r in rows:
        r = list(r)
        for j in fixed:
            if r[j] is not None:
                r[j] = r[j].replace(",", ".")
        out.append(tuple(r))
    return out, [header[j] for j in fixed]


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
        w.writerow(["" if (c := _clean_cell(v)) is None else c for v in row])
    return buf.getvalue()


# --------------------------------------------------------------------------- task detection


def _present_values(values):
    """Non-missing values of a column as (texts, floats-or-None)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        arr = values.astype(np.float64).reshape(-1)
        arr = arr[~np.isnan(arr)]
        return None, arr
    texts = [c for c in (_clean_cell(v) for v in values) if c is not None]
    nums = [_parse_float(t) for t in texts]
    if any(f is None for f in nums):
        return texts, None
    return texts, np.asarray(nums, dtype=np.float64)


def detect_task(values):
    """Guess the learning task for a target column.

    Rules (missing values are ignored):

    - non-numeric values: 2 distinct -> ``"binary"``, more -> ``"multiclass"``
      (more than 50 distinct values that are also more than half the rows looks like an
      identifier or free text and raises ValueError);
    - numeric, all whole numbers, 2 distinct -> ``"binary"``;
    - numeric, all whole numbers, 3..20 distinct and at least 5 rows per distinct value on
      average (k <= n / 5) -> ``"multiclass"``;
    - anything else numeric -> ``"regression"``.

    A single distinct value raises ValueError ("only one class").
    """
    if isinstance(values, (str, bytes)):
        raise TypeError("detect_task expects a column of values (list or array), not a single string.")
    texts, nums = _present_values(values)
    n = len(nums) if nums is not None else len(texts)
    if n == 0:
        raise ValueError("the target column has no values (all are missing); choose another target.")
    if nums is not None:
        if not np.all(np.isfinite(nums)):
            raise ValueError("the target column contains infinite values; remove or fix them.")
        distinct = np.unique(nums)
        k = len(distinct)
        if k == 1:
            raise ValueError(
                f"the target has only one class / value ({_label_text(distinct[0])}); "
                "a model needs at least two different target values."
            )
        whole = bool(np.all(distinct == np.floor(distinct)))
        if whole and k == 2:
            return "binary"
        if whole and k <= _MAX_MULTICLASS_INT and 5 * k <= n:
            return "multiclass"
        return "regression"
    k = len(set(texts))
    if k == 1:
        raise ValueError(
            f"the target has only one class ({texts[0]!r}); a classifier needs at least two classes."
        )
    if k > 50 and k > n / 2:
        raise ValueError(
            f"the target has {k} different text values in {n} rows; it looks like an identifier or "
            "free text, not a class label. Choose another target column."
        )
    return "binary" if k == 2 else "multiclass"


# --------------------------------------------------------------------------- Preprocessor


def _as_table(obj):
    if isinstance(obj, Table):
        return obj
    if hasattr(obj, "columns") and hasattr(obj, "to_numpy"):
        return Table.from_dataframe(obj)
    raise TypeError(f"expected a Table (or pandas DataFrame), got {type(obj).__name__}.")


def _copy_encoder(e):
    e = dict(e)
    if "categories" in e:
        e["categories"] = list(e["categories"])
    return e


_CONFIG_FORMAT = "mlp.data.Preprocessor"
_CONFIG_VERSION = 1
_OUTPUT = {"binary": ("sigmoid", "bce"), "multiclass": ("softmax", "cce"), "regression": ("linear", "mse")}


class Preprocessor:
    """Turns table columns into model inputs/targets and model outputs back into labels.

    - numeric features are standardised with the training mean and standard deviation
      (a constant column gets std 1);
    - other features are one-hot encoded over the sorted training categories; a category
      not seen during ``fit`` encodes as all zeros;
    - classification targets map to indices of the sorted ``class_names`` (numeric labels
      are sorted by value and named by their text, e.g. ``"1"``); regression targets are
      standardised with the training mean and standard deviation (``inverse_y`` undoes it), so a
      target in the thousands trains as well as one near 1.

    Missing feature or target values raise ValueError (drop those rows first). Call
    :meth:`fit` on training rows only; save/restore with :meth:`to_config` /
    :meth:`from_config`.
    """

    #: a text feature with more categories than this is refused (likely an ID column)
    MAX_CATEGORIES = 200

    def __init__(self, features, target, task=None):
        if isinstance(features, str) or not hasattr(features, "__iter__"):
            raise TypeError("features must be a list of column names.")
        features = list(features)
        if not features:
            raise ValueError("features must name at least one input column.")
        for f in features:
            if not isinstance(f, str):
                raise TypeError(f"feature names must be strings; got {f!r}.")
        dup = sorted({f for f in features if features.count(f) > 1})
        if dup:
            raise ValueError(f"features list each column once; repeated: {_list_names(dup)}.")
        if not isinstance(target, str):
            raise TypeError(f"target must be a column name (str), got {type(target).__name__}.")
        if target in features:
            raise ValueError(f"the target {target!r} cannot also be a feature; remove it from features.")
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)} or None (detect), got {task!r}.")
        self._features = features
        self._target = target
        self._requested_task = task  # None -> detect at each fit
        self._task = task
        self._encoders = None  # list of dicts, one per feature, once fitted
        self._classes = None
        self._label_kind = None  # "text" | "number" for classification
        self._target_scale = None  # (mean, std) of a regression target

    # -- properties
    @property
    def features(self):
        return list(self._features)

    @property
    def input_columns(self):
        """The raw table columns that transform_X needs."""
        return list(self._features)

    @property
    def target(self):
        return self._target

    @property
    def task(self):
        return self._task

    @property
    def is_fitted(self):
        return self._encoders is not None

    def _need_fit(self):
        if self._encoders is None:
            raise ValueError("this Preprocessor is not fitted yet; call fit(train_table) first.")

    @property
    def feature_names(self):
        """Names of the model inputs after one-hot encoding, e.g. ``["age", "color=red"]``."""
        self._need_fit()
        names = []
        for e in self._encoders:
            if e["kind"] == "numeric":
                names.append(e["column"])
            else:
                names.extend(f"{e['column']}={c}" for c in e["categories"])
        return names

    @property
    def n_inputs(self):
        self._need_fit()
        return sum(1 if e["kind"] == "numeric" else len(e["categories"]) for e in self._encoders)

    @property
    def n_outputs(self):
        self._need_fit()
        return len(self._classes) if self._task == "multiclass" else 1

    @property
    def class_names(self):
        """Sorted class names (list of str) for classification, None for regression."""
        return None if self._classes is None else list(self._classes)

    @property
    def output_activation(self):
        self._need_fit()
        return _OUTPUT[self._task][0]

    @property
    def default_loss(self):
        self._need_fit()
        return _OUTPUT[self._task][1]

    def __repr__(self):
        state = f"n_inputs={self.n_inputs}, n_outputs={self.n_outputs}" if self.is_fitted else "not fitted"
        return (
            f"Preprocessor(features={self._features!r}, target={self._target!r}, "
            f"task={self._task!r}; {state})"
        )

    # -- fitting
    def _check_present(self, table, cols, what):
        missing = [c for c in cols if c not in table._index]
        if missing:
            raise ValueError(
                f"the table is missing the {what} column(s) {_list_names(missing)}; "
                f"it has {_list_names(table.columns)}."
            )

    @staticmethod
    def _no_missing(table, col, role):
        vals = table.column(col)
        rows = [i + 1 for i, v in enumerate(vals) if v is None]
        if rows:
            shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
            raise ValueError(
                f"{role} column {col!r} has {len(rows)} missing value(s) (row{'s' if len(rows) > 1 else ''} {shown}); "
                "drop those rows first (e.g. table.drop_missing()) or fill them in."
            )
        return vals

    def fit(self, table):
        """Learn encodings, scaling and classes from (training) rows; returns self."""
        table = _as_table(table)
        self._check_present(table, self._features + [self._target], "needed")
        if len(table) == 0:
            raise ValueError("cannot fit on a table with no rows.")
        encoders = []
        for col in self._features:
            vals = self._no_missing(table, col, "feature")
            if table.is_numeric(col):
                x = table.numeric_column(col)
                if not np.all(np.isfinite(x)):
                    raise ValueError(f"feature column {col!r} contains infinite values; remove or fix them.")
                mean = float(np.mean(x))
                std = float(np.std(x))
                if not std > 1e-12 * max(1.0, abs(mean)):
                    std = 1.0  # constant column: only centre it
                encoders.append({"column": col, "kind": "numeric", "mean": mean, "std": std})
            else:
                cats = sorted(set(vals))
                if len(cats) > self.MAX_CATEGORIES:
                    raise ValueError(
                        f"feature column {col!r} has {len(cats)} different text values; one-hot encoding "
                        f"allows at most {self.MAX_CATEGORIES}. It looks like an identifier or free text: "
                        "leave it out of the features."
                    )
                encoders.append({"column": col, "kind": "categorical", "categories": cats})

        yvals = self._no_missing(table, self._target, "target")
        task = self._requested_task or detect_task(yvals)
        classes, kind = None, None
        if task == "regression":
            if not table.is_numeric(self._target):
                bad = next(v for v in yvals if _parse_float(v) is None)
                raise ValueError(
                    f"task 'regression' needs a numeric target, but {self._target!r} holds {bad!r}. "
                    "Use a classification task or another target column."
                )
            yn = table.numeric_column(self._target)
            if not np.all(np.isfinite(yn)):
                raise ValueError(f"target {self._target!r} contains infinite values; remove or fix them.")
            mean, std = float(yn.mean()), float(yn.std())
            scale = (mean, std if std > 1e-12 * max(1.0, abs(mean)) else 1.0)
        else:
            classes, kind = self._learn_classes(table, yvals)
            if len(classes) < 2:
                raise ValueError(
                    f"the target {self._target!r} has only one class ({classes[0]!r}); "
                    "a classifier needs at least two classes."
                )
            if task == "binary" and len(classes) != 2:
                raise ValueError(
                    f"task 'binary' needs exactly 2 classes but target {self._target!r} has "
                    f"{len(classes)}: {_list_names(classes)}. Use task='multiclass'."
                )
        self._task, self._encoders, self._classes, self._label_kind = task, encoders, classes, kind
        self._target_scale = scale if task == "regression" else None
        return self

    def _learn_classes(self, table, yvals):
        if table.is_numeric(self._target):
            nums = table.numeric_column(self._target)
            if not np.all(np.isfinite(nums)):
                raise ValueError(f"target {self._target!r} contains infinite values; remove or fix them.")
            return [_label_text(v) for v in np.unique(nums)], "number"
        return sorted(set(yvals)), "text"

    # -- transforming
    def transform_X(self, table):
        """Feature matrix (float64, shape (n, n_inputs))."""
        self._need_fit()
        table = _as_table(table)
        self._check_present(table, self._features, "feature")
        n = len(table)
        X = np.zeros((n, self.n_inputs), dtype=np.float64)
        j = 0
        for e in self._encoders:
            col = e["column"]
            vals = self._no_missing(table, col, "feature")
            if e["kind"] == "numeric":
                x = table.numeric_column(col)
                if not np.all(np.isfinite(x)):
                    raise ValueError(f"feature column {col!r} contains infinite values; remove or fix them.")
                X[:, j] = (x - e["mean"]) / e["std"]
                j += 1
            else:
                pos = {c: k for k, c in enumerate(e["categories"])}
                for i, v in enumerate(vals):
                    k = pos.get(v)
                    if k is not None:  # unseen category -> all zeros
                        X[i, j + k] = 1.0
                j += len(pos)
        return X

    def transform_numeric(self, X):
        """Standardise a float array of raw feature values (columns in ``features`` order) without a
        Table: the fast path for grids of points when every feature is numeric."""
        self._need_fit()
        if any(e["kind"] != "numeric" for e in self._encoders):
            raise ValueError("transform_numeric needs all-numeric features; use transform_X with a table.")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self._encoders):
            raise ValueError(f"expected an array of shape (n, {len(self._encoders)}), got {X.shape}.")
        mean = np.array([e["mean"] for e in self._encoders])
        std = np.array([e["std"] for e in self._encoders])
        return (X - mean) / std

    def _label_keys(self, table):
        vals = self._no_missing(table, self._target, "target")
        if self._label_kind == "number":
            out = []
            for i, v in enumerate(vals):
                f = _parse_float(v)
                if f is None or not math.isfinite(f):
                    raise ValueError(
                        f"target {self._target!r} row {i + 1} holds {v!r}, but the classes are "
                        f"numbers ({_list_names(self._classes)})."
                    )
                out.append(_label_text(f))
            return out
        return vals

    def transform_y(self, table):
        """Targets: binary (n,1) float 0/1; multiclass (n,) int64; regression (n,1) float."""
        self._need_fit()
        table = _as_table(table)
        self._check_present(table, [self._target], "target")
        if self._task == "regression":
            self._no_missing(table, self._target, "target")
            y = table.numeric_column(self._target)
            if not np.all(np.isfinite(y)):
                raise ValueError(f"target {self._target!r} contains infinite values; remove or fix them.")
            mean, std = self._target_scale
            return ((y - mean) / std).reshape(-1, 1)
        pos = {c: k for k, c in enumerate(self._classes)}
        labels = np.empty(len(table), dtype=np.int64)
        for i, key in enumerate(self._label_keys(table)):
            k = pos.get(key)
            if k is None:
                raise ValueError(
                    f"target {self._target!r} row {i + 1} holds the class {key!r}, which was not seen "
                    f"during fit (known classes: {_list_names(self._classes)})."
                )
            labels[i] = k
        if self._task == "binary":
            return labels.astype(np.float64).reshape(-1, 1)
        return labels

    def inverse_y(self, outputs):
        """Model outputs -> predictions in original terms.

        binary: probabilities (n,1) or (n,) -> class names (p >= 0.5 is ``class_names[1]``);
        multiclass: scores (n,k) -> class name of the argmax, or class indices (n,) -> names;
        regression: (n,1) or (n,) -> float64 array (n,).
        Class names are returned as a list of str.
        """
        self._need_fit()
        out = np.asarray(outputs)
        if out.dtype == object or out.dtype.kind not in "biuf":
            raise ValueError(f"outputs must be numeric, got dtype {out.dtype}.")
        out = out.astype(np.float64)
        if out.ndim == 0:
            raise ValueError("outputs must be an array with one row per sample.")
        if not np.all(np.isfinite(out)):
            raise ValueError("outputs contain NaN or infinite values (the model may have diverged).")
        if self._task in ("binary", "regression"):
            if not (out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1)):
                raise ValueError(f"expected outputs of shape (n, 1) for {self._task}, got {out.shape}.")
            out = out.reshape(-1)
            if self._task == "regression":
                mean, std = self._target_scale
                return out * std + mean
            return [self._classes[1] if p >= 0.5 else self._classes[0] for p in out]
        k = len(self._classes)
        if out.ndim == 2 and out.shape[1] == k:
            idx = np.argmax(out, axis=1)
        elif out.ndim == 1:
            if not np.all(out == np.round(out)) or (out.size and (out.min() < 0 or out.max() >= k)):
                raise ValueError(f"1-D outputs must be class indices 0..{k - 1}.")
            idx = out.astype(np.int64)
        else:
            raise ValueError(f"expected outputs of shape (n, {k}) (one score per class), got {out.shape}.")
        return [self._classes[i] for i in idx]

    # -- persistence
    def to_config(self):
        """A JSON-serialisable dict describing this preprocessor (floats round-trip exactly)."""
        return {
            "format": _CONFIG_FORMAT,
            "version": _CONFIG_VERSION,
            "features": list(self._features),
            "target": self._target,
            "task": self._task,
            "encoders": None if self._encoders is None else [_copy_encoder(e) for e in self._encoders],
            "class_names": self.class_names,
            "label_kind": self._label_kind,
            "target_scale": None if self._target_scale is None else
            {"mean": self._target_scale[0], "std": self._target_scale[1]},
        }

    @classmethod
    def from_config(cls, cfg):
        """Rebuild a Preprocessor from :meth:`to_config` output, validating every field."""

        def bad(msg):
            return ValueError(f"invalid Preprocessor config: {msg}")

        if not isinstance(cfg, dict):
            raise bad(f"expected a dict, got {type(cfg).__name__}.")
        keys = {"format", "version", "features", "target", "task", "encoders", "class_names", "label_kind",
                "target_scale"}
        if set(cfg) != keys:
            extra, lack = sorted(set(cfg) - keys, key=str), sorted(keys - set(cfg))
            raise bad(f"unexpected keys {extra} / missing keys {lack}.")
        if cfg["format"] != _CONFIG_FORMAT:
            raise bad(f"format must be {_CONFIG_FORMAT!r}, got {cfg['format']!r}.")
        if cfg["version"] != _CONFIG_VERSION or isinstance(cfg["version"], bool):
            raise bad(f"unsupported version {cfg['version']!r} (this code reads version {_CONFIG_VERSION}).")
        features, target, task = cfg["features"], cfg["target"], cfg["task"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise bad("features must be a list of strings.")
        if not isinstance(target, str):
            raise bad("target must be a string.")
        try:
            pre = cls(features, target, task)
        except (TypeError, ValueError) as e:
            raise bad(str(e)) from None

        encoders, classes, kind = cfg["encoders"], cfg["class_names"], cfg["label_kind"]
        if encoders is None:
            if classes is not None or kind is not None or cfg["target_scale"] is not None:
                raise bad("an unfitted config must have class_names, label_kind and target_scale null.")
            return pre
        if task is None:
            raise bad("a fitted config needs a task.")
        if not isinstance(encoders, list) or len(encoders) != len(features):
            raise bad("encoders must be a list with one entry per feature.")
        clean = []
        for f, e in zip(features, encoders):
            if not isinstance(e, dict) or e.get("column") != f:
                raise bad(f"encoder for feature {f!r} is missing or out of order.")
            if e.get("kind") == "numeric":
                if set(e) != {"column", "kind", "mean", "std"}:
                    raise bad(f"numeric encoder for {f!r} needs exactly column, kind, mean, std.")
                nums = []
                for key in ("mean", "std"):
                    v = e[key]
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                        raise bad(f"{key} of {f!r} must be a finite number, got {v!r}.")
                    nums.append(float(v))
                if nums[1] <= 0:
                    raise bad(f"std of {f!r} must be > 0, got {nums[1]!r}.")
                clean.append({"column": f, "kind": "numeric", "mean": nums[0], "std": nums[1]})
            elif e.get("kind") == "categorical":
                if set(e) != {"column", "kind", "categories"}:
                    raise bad(f"categorical encoder for {f!r} needs exactly column, kind, categories.")
                cats = e["categories"]
                if (
                    not isinstance(cats, list)
                    or not cats
                    or not all(isinstance(c, str) for c in cats)
                    or len(set(cats)) != len(cats)
                ):
                    raise bad(f"categories of {f!r} must be a non-empty list of distinct strings.")
                clean.append({"column": f, "kind": "categorical", "categories": list(cats)})
            else:
                raise bad(f"encoder kind for {f!r} must be 'numeric' or 'categorical', got {e.get('kind')!r}.")
        scale = cfg["target_scale"]
        if task == "regression":
            if classes is not None or kind is not None:
                raise bad("regression configs must have class_names and label_kind null.")
            if not isinstance(scale, dict) or set(scale) != {"mean", "std"} or not all(
                not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in scale.values()
            ) or scale["std"] <= 0:
                raise bad("target_scale must be {'mean': finite number, 'std': finite number > 0} for regression.")
            scale = (float(scale["mean"]), float(scale["std"]))
        elif scale is not None:
            raise bad("target_scale must be null for classification.")
        else:
            if kind not in ("text", "number"):
                raise bad(f"label_kind must be 'text' or 'number', got {kind!r}.")
            if (
                not isinstance(classes, list)
                or not all(isinstance(c, str) for c in classes)
                or len(set(classes)) != len(classes)
                or len(classes) < 2
            ):
                raise bad("class_names must be a list of at least 2 distinct strings.")
            if task == "binary" and len(classes) != 2:
                raise bad(f"a binary task needs exactly 2 class_names, got {len(classes)}.")
            if kind == "number" and not all(
                (f := _parse_float(c)) is not None and math.isfinite(f) and _label_text(f) == c for c in classes
            ):
                raise bad("label_kind 'number' needs class_names written as numbers, e.g. ['0', '1', '2.5'].")
            classes = list(classes)
        pre._encoders, pre._classes, pre._label_kind = clean, classes, kind
        pre._target_scale = scale if task == "regression" else None
        return pre


# --------------------------------------------------------------------------- splitting


def _length(a):
    if isinstance(a, Table):
        return len(a)
    if isinstance(a, np.ndarray):
        if a.ndim == 0:
            raise ValueError("cannot split a 0-d array.")
        return a.shape[0]
    try:
        return len(a)
    except TypeError:
        raise TypeError(f"cannot split a {type(a).__name__}; pass Tables, arrays or lists.") from None


def _take(a, idx):
    if isinstance(a, Table):
        return a.select_rows(idx)
    if isinstance(a, np.ndarray):
        return a[idx]
    if hasattr(a, "iloc"):  # pandas object
        return a.iloc[idx]
    return [a[int(i)] for i in idx]


def _stratified_test_indices(labels, n_test, rng):
    labels = [str(v) for v in labels]
    groups = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    n = len(labels)
    for lab, members in groups.items():
        if len(members) < 2:
            raise ValueError(
                f"class {lab!r} has only 1 row; stratified splitting needs at least 2 rows per class "
                "(or use stratify=None)."
            )
    keys = sorted(groups)
    ideal = {k: n_test * len(groups[k]) / n for k in keys}
    take = {k: min(int(math.floor(ideal[k])), len(groups[k]) - 1) for k in keys}
    # hand out the remainder by largest fractional part, never leaving a class without training rows
    order = sorted(keys, key=lambda k: (-(ideal[k] - take[k]), k))
    short = n_test - sum(take.values())
    while short > 0:
        progressed = False
        for k in order:
            if short and take[k] < len(groups[k]) - 1:
                take[k] += 1
                short -= 1
                progressed = True
        if not progressed:
            break
    test = []
    for k in keys:
        members = np.asarray(groups[k])
        test.extend(rng.permutation(members)[: take[k]].tolist())
    return np.asarray(test, dtype=np.int64)


def train_test_split(*arrays, test_size=0.2, seed=0, stratify=None):
    """Deterministic random split into train and test parts.

    ``train_test_split(table)`` -> ``(train_table, test_table)``;
    ``train_test_split(X, y)`` -> ``(X_train, X_test, y_train, y_test)`` (any number of
    equally long arrays, lists or Tables). ``test_size`` is a fraction in (0, 1) (rounded
    up, then kept within 1..n-1 rows) or a row count in 1..n-1. ``stratify`` is a sequence
    of labels (or, when splitting a single Table, a column name) whose class proportions
    both parts keep. Rows come out in shuffled order.
    """
    if not arrays:
        raise TypeError("train_test_split needs at least one Table or array to split.")
    lengths = [_length(a) for a in arrays]
    n = lengths[0]
    if any(m != n for m in lengths):
        raise ValueError(f"all inputs must have the same number of rows; got {lengths}.")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split into train and test parts, got {n}.")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise ValueError(f"test_size must be a fraction in (0, 1) or a row count, got {test_size!r}.")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(f"test_size={n_test} rows is not possible with {n} rows; use 1..{n - 1}.")
    else:
        frac = float(test_size)
        if not 0.0 < frac < 1.0:
            raise ValueError(
                f"test_size must be a fraction strictly between 0 and 1 (or a row count), got {test_size!r}."
            )
        n_test = min(max(int(math.ceil(frac * n - 1e-9)), 1), n - 1)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}.")
    rng = np.random.default_rng(seed)

    if stratify is None:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        if isinstance(stratify, str):
            if len(arrays) != 1 or not isinstance(arrays[0], Table):
                raise ValueError("stratify may be a column name only when splitting a single Table.")
            labels = arrays[0].column(stratify)
        else:
            if _length(stratify) != n:
                raise ValueError(f"stratify must have one label per row ({n}), got {_length(stratify)}.")
            labels = np.asarray(stratify, dtype=object).reshape(n, -1).tolist()
            labels = [tuple(r) if len(r) > 1 else r[0] for r in labels]
        if any(v is None for v in labels):
            raise ValueError("stratify labels contain missing values; drop those rows first.")
        test_idx = rng.permutation(_stratified_test_indices(labels, n_test, rng))
        mask = np.ones(n, dtype=bool)
        mask[test_idx] = False
        train_idx = rng.permutation(np.flatnonzero(mask))

    out = []
    for a in arrays:
        out.append(_take(a, train_idx))
        out.append(_take(a, test_idx))
    return tuple(out)


# --------------------------------------------------------------------------- synthetic datasets

DATASETS = {
    "circles": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {"factor": 0.5},
        "description": "Two concentric circles (inner radius = factor); not linearly separable.",
    },
    "moons": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {},
        "description": "Two interleaving half circles.",
    },
    "xor": {
        "task": "binary",
        "n_features": 2,
        "n_classes": 2,
        "options": {},
        "description": "Points in [-1, 1]^2; class 1 where x1 * x2 > 0 (the XOR pattern).",
    },
    "spiral": {
        "task": "multiclass",
        "n_features": 2,
        "n_classes": 3,
        "options": {"n_classes": 3, "turns": 1.0},
        "description": "Interleaved spiral arms, one class per arm (n_classes arms).",
    },
    "blobs": {
        "task": "multiclass",
        "n_features": 2,
        "n_classes": 3,
        "options": {"n_classes": 3, "cluster_std": 0.25},
        "description": "Gaussian blobs with centres on the unit circle, one class per blob.",
    },
    "sine": {
        "task": "regression",
        "n_features": 1,
        "n_classes": None,
        "options": {},
        "description": "y = sin(x) + noise for x uniform in [-pi, pi].",
    },
    "plane": {
        "task": "regression",
        "n_features": 2,
        "n_classes": None,
        "options": {"a": 1.5, "b": -0.5, "c": 0.0},
        "description": "y = a*x1 + b*x2 + c + noise for x uniform in [-1, 1]^2.",
    },
}


def _check_real(name, v, low=None, low_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite number, got {v!r}.")
    v = float(v)
    if low is not None and (v <= low if low_open else v < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v!r}.")
    return v


def make_dataset(name, n_samples=400, noise=0.1, seed=0, **kw):
    """Generate a synthetic dataset; returns ``(X, y)``.

    ``X`` is float64 of shape (n_samples, n_features). ``y`` is (n, 1) float 0/1 for binary
    sets, (n,) int64 labels for multiclass sets and (n, 1) float for regression sets.
    ``noise`` is the standard deviation of Gaussian noise (added to the points for
    classification sets, to y for regression sets; blobs add it on top of ``cluster_std``).
    Options per dataset are listed in ``DATASETS[name]["options"]`` with their defaults.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}." + _closest(name, DATASETS))
    spec = DATASETS[name]
    unknown = sorted(set(kw) - set(spec["options"]))
    if unknown:
        allowed = ", ".join(spec["options"]) or "none"
        raise ValueError(f"dataset {name!r} does not take option(s) {', '.join(unknown)}; its options: {allowed}.")
    opts = dict(spec["options"], **kw)
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise ValueError(f"n_samples must be an integer, got {n_samples!r}.")
    n = int(n_samples)
    noise = _check_real("noise", noise, low=0.0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}.")
    n_min = 2
    if "n_classes" in opts:
        k = opts["n_classes"]
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 2 <= k <= 100:
            raise ValueError(f"n_classes must be an integer between 2 and 100, got {k!r}.")
        opts["n_classes"] = n_min = int(k)
    if not n_min <= n <= _MAX_SAMPLES:
        raise ValueError(f"n_samples must be between {n_min} and {_MAX_SAMPLES:,} for {name!r}, got {n}.")
    rng = np.random.default_rng(seed)
    return _GENERATORS[name](n, noise, rng, **opts)


def _binary(X, y, rng):
    perm = rng.permutation(len(y))
    return X[perm], y[perm].astype(np.float64).reshape(-1, 1)


def _multiclass(X, y, rng):
    perm = rng.permutation(len(y))
    return X[perm], y[perm].astype(np.int64)


def _split_counts(n, k):
    """n items over k groups as evenly as possible (earlier groups get the extras)."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _circles(n, noise, rng, factor):
    factor = _check_real("factor", factor)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}.")
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack(
        [np.column_stack([np.cos(t_out), np.sin(t_out)]), factor * np.column_stack([np.cos(t_in), np.sin(t_in)])]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _moons(n, noise, rng):
    n_a, n_b = _split_counts(n, 2)
    t_a = np.linspace(0.0, np.pi, n_a)
    t_b = np.linspace(0.0, np.pi, n_b)
    X = np.vstack(
        [np.column_stack([np.cos(t_a), np.sin(t_a)]), np.column_stack([1.0 - np.cos(t_b), 0.5 - np.sin(t_b)])]
    )
    y = np.concatenate([np.zeros(n_a), np.ones(n_b)])
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _xor(n, noise, rng):
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.float64)
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _binary(X, y, rng)


def _spiral(n, noise, rng, n_classes, turns):
    turns = _check_real("turns", turns, low=0.0, low_open=True)
    parts, labels = [], []
    for c, m in enumerate(_split_counts(n, n_classes)):
        r = np.linspace(0.1, 1.0, m)
        theta = 2 * np.pi * (c / n_classes + turns * r)
        parts.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        labels.append(np.full(m, c))
    X = np.vstack(parts)
    X += rng.normal(0.0, noise, X.shape) if noise else 0.0
    return _multiclass(X, np.concatenate(labels), rng)


def _blobs(n, noise, rng, n_classes, cluster_std):
    cluster_std = _check_real("cluster_std", cluster_std, low=0.0)
    std = math.hypot(cluster_std, noise)
    parts, labels = [], []
    for c, m in enumerate(_split_counts(n, n_classes)):
        angle = 2 * np.pi * c / n_classes
        centre = np.array([np.cos(angle), np.sin(angle)])
        parts.append(centre + rng.normal(0.0, std, (m, 2)))
        labels.append(np.full(m, c))
    return _multiclass(np.vstack(parts), np.concatenate(labels), rng)


def _sine(n, noise, rng):
    x = rng.uniform(-np.pi, np.pi, n)
    y = np.sin(x) + (rng.normal(0.0, noise, n) if noise else 0.0)
    return x.reshape(-1, 1), y.reshape(-1, 1)


def _plane(n, noise, rng, a, b, c):
    a, b, c = (_check_real(k, v) for k, v in (("a", a), ("b", b), ("c", c)))
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = a * X[:, 0] + b * X[:, 1] + c + (rng.normal(0.0, noise, n) if noise else 0.0)
    return X, y.reshape(-1, 1)


_GENERATORS = {
    "circles": _circles,
    "moons": _moons,
    "xor": _xor,
    "spiral": _spiral,
    "blobs": _blobs,
    "sine": _sine,
    "plane": _plane,
}
