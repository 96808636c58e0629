"""The standard-library CSV reader (Python's ``csv`` module): the reader every file can go through, the
one Pyodide uses, and the one that raises every error a malformed file gets."""

from __future__ import annotations

import csv
import io

from ._cells import clean_text, columns_from_rows, list_names

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def records(text, delimiter):
    """The csv module's reader of ``text`` (every cell a str; spaces before an opening quote skipped)."""
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)


def nonblank(rec):
    """True for a record with a non-blank cell."""
    return any(map(str.strip, rec))


def too_many_rows(max_rows):
    return ValueError(f"the CSV has more than {max_rows:,} data rows (the limit); "
                      "use a smaller file or a sample of its rows.")


def read_stdlib(text, delimiter, offset, max_rows):
    """The standard-library reader: (header, columns, number of rows); every error is raised here."""
    reader = records(text, delimiter)
    header = None
    header_line = 0
    rows = []
    bad = []  # (first line, last line, n_fields, spans lines) of ragged rows
    end = 0
    try:
        for rec in reader:
            start, end = end + 1, reader.line_num
            if not nonblank(rec):
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
                rows.append(tuple(map(clean_text, rec)))
                if max_rows is not None and len(rows) > max_rows:
                    raise too_many_rows(max_rows)
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
            f"{len(header)} (detected delimiter: {DELIMITER_NAMES[delimiter]}){more}.{hint} Quote values "
            "that contain the delimiter, and give every row one value per column."
        )
    if not rows:
        raise ValueError(
            f"the CSV has a header ({list_names(header)}) but no data rows; add at least one data line."
        )
    return header, columns_from_rows(rows, len(header)), len(rows)


def header_record(text, delimiter, offset=0):
    """(header fields, char offset where the header record starts, where it ends), or None: the first
    non-blank record from char ``offset`` on (its offsets counted from ``offset``)."""
    # the first non-blank record and the physical lines it spans, read from a prefix long enough to hold it
    size = 1 << 16
    while True:
        prefix = text[offset:offset + size]
        reader = records(prefix, delimiter)
        end = 0
        for rec in reader:
            first, end = end + 1, reader.line_num
            if nonblank(rec):
                lines = io.StringIO(prefix, newline="")
                pos = start = 0
                for k in range(end):
                    line = lines.readline()
                    if k == first - 1:
                        start = pos
                    pos += len(line)
                if pos < len(prefix) or size >= len(text) - offset:
                    return rec, start, pos
                break
        else:
            if size >= len(text) - offset:
                return None
        size *= 4
