"""Tables of raw values: cells, the :class:`Table`, reading and writing CSV.

Only the standard library and NumPy are imported, so this runs the same under CPython and Pyodide.
``mlp.data`` gathers the public names of this module, ``mlp.preprocessing`` and ``mlp.datasets``.
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


#: Cell texts read as a missing value (after stripping surrounding whitespace).
#: Any letter case of "nan" also counts as missing.
MISSING_VALUES = frozenset(
    {"", "?", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NAN", "null", "Null", "NULL", "None", "NONE"}
)


_DELIMITERS = (",", ";", "\t", "|")  # order = preference when several fit equally well
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
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


