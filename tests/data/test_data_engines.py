"""read_csv's two readers (pandas' C parser and the standard library's csv) give identical results:
the same table, cell for cell, the same numbers, missing values, meta data and the same errors."""

import csv
import io
import math
import os

import numpy as np
import pandas  # noqa: F401  (loaded, as in the Streamlit app: read_csv(engine="auto") then uses it)
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlp import data
from mlp.data import table

SETTINGS = settings(
    max_examples=int(os.environ.get("MLP_HYPOTHESIS_EXAMPLES", "60")) * 4, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NUMBER_TEXTS = ["0", "1", "-0", "007", "1.50", "-3e-1", "1e5", "+.5", "5.", "1E+03", "12345678901234567890",
                "0.1000000000000000055511151231257827021181583404541015625", "3.141592653589793238462643",
                "1_000", "inf", "-Infinity", "1e400", "١٢", "0x10", "1e", "2.5e-308", "-1.7976931348623157e308"]
MISSING_TEXTS = ["", "NA", "nan", "NaN", "-nan", "?", "null", "None", "N/A", "#N/A"]
TEXT_CELLS = ["red", "blue", "a,b", 'say "hi"', "two\nlines", "x;y", "tab\there", "p|q", "Zoë", "True", "false",
              "  padded  ", "'quoted'", "#hash", "=1+1", "€5"]

number = st.one_of(
    st.sampled_from(NUMBER_TEXTS),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.decimals(allow_nan=False, allow_infinity=False, places=20).map(str),
)
text_cell = st.one_of(st.sampled_from(TEXT_CELLS), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6))
missing = st.sampled_from(MISSING_TEXTS)


@st.composite
def csv_files(draw):
    """(bytes of a CSV file, what it is made of) — mostly well formed, sometimes not."""
    n_cols = draw(st.integers(1, 6))
    kinds = draw(st.lists(st.sampled_from(["int", "float", "number", "text", "category"]), min_size=n_cols,
                          max_size=n_cols))
    names = draw(st.lists(st.one_of(st.sampled_from(["a", "b", "x1", "label", "", "1", "2.5", "a"]),
                                    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5)),
                          min_size=n_cols, max_size=n_cols, unique_by=lambda n: n.strip()))
    if n_cols > 1 and draw(st.sampled_from([False] * 9 + [True])):
        names[-1] = names[0]  # a duplicate name: the same error from both readers
    n_rows = draw(st.integers(1, 25))
    p_missing = draw(st.sampled_from([0.0, 0.0, 0.1]))
    rows = []
    for _ in range(n_rows):
        row = []
        for k in kinds:
            if p_missing and draw(st.floats(0, 1)) < p_missing:
                row.append(draw(missing))
            elif k == "int":
                row.append(str(draw(st.integers(-999, 999))))
            elif k == "float":
                row.append(repr(draw(st.floats(-1e6, 1e6, allow_nan=False))))
            elif k == "number":
                row.append(draw(number))
            elif k == "category":
                row.append(draw(st.sampled_from(["red", "green", "blue", "r e d"])))
            else:
                row.append(draw(text_cell))
        rows.append(row)
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    if delim != "," and draw(st.booleans()):  # decimal commas
        rows = [[c.replace(".", ",") if c[:1].isdigit() else c for c in r] for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
                   quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    w.writerow(names)
    w.writerows(rows)
    text = buf.getvalue()
    lines = text.splitlines(keepends=True)
    # damage and oddities, each sometimes
    mutation = draw(st.sampled_from(["none"] * 6 + ["blank_lines", "spaces", "trailing_delim", "short_row",
                                                     "long_row", "unclosed_quote", "sep_line", "blank_row",
                                                     "space_quote", "no_header", "bom"]))
    if mutation == "blank_lines" and len(lines) > 1:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["\n", "  \n", "\r\n"])))
    elif mutation == "spaces":
        lines = [ln.replace(delim, delim + "  ") for ln in lines]
    elif mutation == "trailing_delim":
        lines = [ln.rstrip("\r\n") + delim + "\n" for ln in lines]
    elif mutation == "short_row" and len(lines) > 1 and n_cols > 1:
        i = draw(st.integers(1, len(lines) - 1))
        lines[i] = lines[i].rsplit(delim, 1)[0] + "\n"
    elif mutation == "long_row" and len(lines) > 1:
        i = draw(st.integers(1, len(lines) - 1))
        lines[i] = lines[i].rstrip("\r\n") + delim + draw(st.sampled_from(["", "extra", " "])) + "\n"
    elif mutation == "unclosed_quote" and len(lines) > 1:
        i = draw(st.integers(1, len(lines) - 1))
        lines[i] = '"' + lines[i]
    elif mutation == "sep_line":
        lines.insert(0, f"sep={delim}\n")
    elif mutation == "blank_row" and len(lines) > 1:
        lines.insert(draw(st.integers(1, len(lines))), delim * (n_cols - 1) + "\n")
    elif mutation == "space_quote":
        lines = [ln.replace(delim + '"', delim + ' "') for ln in lines]
    elif mutation == "no_header" and len(lines) > 1:
        lines = lines[1:]
    text = "".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "utf-16", "str"]))
    if mutation == "bom":
        encoding = "utf-8-sig"
    if encoding == "str":
        return text, mutation
    try:
        return text.encode(encoding), mutation
    except UnicodeEncodeError:
        return text.encode("utf-8"), mutation


def read(src, engine):
    try:
        return data.read_csv(src, engine=engine), None
    except ValueError as e:
        return None, str(e)


def assert_same(a, b):
    """Everything a Table shows is the same."""
    assert a.columns == b.columns
    assert a.rows == b.rows
    assert a.head(3) == b.head(3)
    assert {k: v for k, v in a.meta.items() if k != "parser"} == {k: v for k, v in b.meta.items() if k != "parser"}
    assert a.missing_counts() == b.missing_counts()
    for c in a.columns:
        assert a.column(c) == b.column(c)
        assert a.is_numeric(c) == b.is_numeric(c), c
        va, vb = a.values(c), b.values(c)
        assert va.dtype == vb.dtype
        if va.dtype == object:
            assert va.tolist() == vb.tolist()
        else:  # the same floats, bit for bit up to the sign of zero
            np.testing.assert_array_equal(va, vb)
        try:
            na = a.numeric_column(c)
        except ValueError as e:
            with pytest.raises(ValueError) as info:
                b.numeric_column(c)
            assert str(info.value) == str(e)
        else:
            np.testing.assert_array_equal(na, b.numeric_column(c))
    assert a.to_csv() == b.to_csv()
    assert a == b


@SETTINGS
@given(csv_files())
@example((b"a\n1,50\n0,0\n", "long_row"))  # pandas made the extra first field an index (1, 0: a RangeIndex)
def test_pandas_and_stdlib_readers_agree(made):
    src, mutation = made
    fast, fast_err = read(src, "pandas")
    slow, slow_err = read(src, "stdlib")
    assert fast_err == slow_err
    if fast is None:
        return
    assert slow.meta["parser"] == "stdlib"
    assert_same(fast, slow)
    # the same again on derived tables (row selections keep lazily read texts right)
    idx = np.arange(len(fast))[::-2]
    assert_same(fast.select_rows(idx), slow.select_rows(idx))
    assert_same(fast.drop_missing(), slow.drop_missing())
    # and the Preprocessor makes the same model inputs (or the same error) from either table
    if len(fast.columns) >= 2:
        out = []
        for t in (fast.drop_missing(), slow.drop_missing()):
            try:
                pre = data.Preprocessor(t.columns[:-1], t.columns[-1]).fit(t)
                out.append((pre.transform_X(t).tolist(), np.asarray(pre.transform_y(t)).tolist(),
                            pre.feature_names, pre.to_config(), pre.unseen_categories(t)))
            except ValueError as e:
                out.append(str(e))
        assert out[0] == out[1]


@SETTINGS
@given(st.lists(st.tuples(st.floats(-1e9, 1e9, allow_nan=False), st.integers(-10**12, 10**12),
                          st.sampled_from(["a", "b", "c"])), min_size=1, max_size=40))
def test_well_formed_files_take_the_fast_path_and_agree(rows):
    text = "f,i,c\n" + "".join(f"{f!r},{i},{c}\n" for f, i, c in rows)
    fast, slow = data.read_csv(text.encode()), data.read_csv(text.encode(), engine="stdlib")
    assert fast.meta["parser"] == "pandas"
    assert_same(fast, slow)
    assert fast.numeric_column("f").tolist() == [r[0] for r in rows]


def test_fast_path_handles_the_usual_files():
    """Files that should not need the standard library: missing values, quotes, other delimiters, CRLF,
    a text last column, a headerless file, decimal commas."""
    cases = [
        "a,b,y\n1,,x\n2,3.5,y\n,4,x\n",
        'name,score,group\n"Lee, K",3.5,a\n"O""Neil",-1e3,b\n',
        "a;b;y\r\n1,5;2;yes\r\n-0,25;3;no\r\n",
        "5.1,3.5,0\n4.9,3.0,1\n",
        "x\ty\n1\ta\n2\tb\n",
        "a, b, y\n1, \"q, r\", 2\n3, s, 4\n",
    ]
    for text in cases:
        fast = data.read_csv(text.encode())
        assert fast.meta["parser"] == "pandas", text
        assert_same(fast, data.read_csv(text.encode(), engine="stdlib"))


def test_stdlib_reads_what_pandas_cannot_vouch_for():
    text = "a,b\n1,2\n3\n"  # a short row: pandas would pad it silently
    for engine in ("auto", "pandas", "stdlib"):
        with pytest.raises(ValueError, match="line 3 has 1 field but the header"):
            data.read_csv(text, engine=engine)
    t = data.read_csv("a,b\n1,2,\n3,4\n")  # a trailing delimiter on one row: stdlib trims it
    assert t.meta["parser"] == "stdlib" and t.rows == [("1", "2"), ("3", "4")]


@pytest.mark.parametrize("delim", [",", ";", "\t"])
@pytest.mark.parametrize("width", [1, 2])
@pytest.mark.parametrize("extra", [1, 2])
@pytest.mark.parametrize("first", [[1, 0], [0, 1, 2]])
@pytest.mark.parametrize("newline", ["\n", ""])
def test_rows_wider_than_the_header_get_the_same_error(delim, width, extra, first, newline):
    """Data rows with 1 or 2 more fields than the header: pandas would make the extra leading fields an index
    (a first column 1, 0 or 0, 1, 2 even becomes a RangeIndex, like none at all); both readers refuse."""
    header = delim.join("ab"[:width])
    rows = [delim.join([str(i)] + ["50"] * (width + extra - 1)) for i in first]
    raw = (header + "\n" + "\n".join(rows) + newline).encode()
    (fast, fast_err), (slow, slow_err) = read(raw, "pandas"), read(raw, "stdlib")
    assert fast_err == slow_err == read(raw, "auto")[1]
    if width == 1 and delim != ",":  # a one-name header shows no delimiter: one column of texts such as "1;50"
        assert slow.meta["delimiter"] == "," and slow.rows == [(r,) for r in rows]
        assert_same(fast, slow)
        return
    name = {",": "comma", ";": "semicolon", "\t": "tab"}[delim]
    assert slow_err.startswith(f"line 2 has {width + extra} fields but the header (line 1) has {width} "
                               f"(detected delimiter: {name}) ({len(first) - 1} more row")


def test_module_switch_and_engine_argument(monkeypatch):
    text = "a,b\n1,2\n"
    assert data.read_csv(text).meta["parser"] == "pandas"
    monkeypatch.setattr(table, "USE_PANDAS", False)
    assert data.read_csv(text).meta["parser"] == "stdlib"
    assert data.read_csv(text, engine="pandas").meta["parser"] == "pandas"
    with pytest.raises(ValueError, match="engine must be one of"):
        data.read_csv(text, engine="arrow")


def test_auto_imports_pandas_only_when_it_pays():
    """A small CSV in a fresh interpreter is read without importing pandas (about 0.3 s); 1 MB or more is
    worth the import."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from mlp import data; t = data.read_csv({}); "
            "print(t.meta['parser'], 'pandas' in sys.modules)")
    for text, want in (("'a,b\\n1,2\\n'", "stdlib False"), ("'a,b\\n' + '1.25,x\\n' * 200_000", "pandas True")):
        out = subprocess.run([sys.executable, "-c", code.format(text)], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parents[2], timeout=120)
        assert out.stdout.split("\n")[0] == want, out.stderr[-2000:]


def test_numeric_texts_are_read_back_exactly_when_asked():
    """The pandas reader keeps numeric columns as numbers and reads their texts again only on demand;
    those texts are the file's own ("007", "1.50", "-0")."""
    text = "a,b,c\n007,1.50,x\n-0,2e3,y\n" + "".join(f"{i},{i}.25,z\n" for i in range(3000))
    t = data.read_csv(text)
    assert t.meta["parser"] == "pandas"
    assert t.head(2) == [["007", "1.50", "x"], ["-0", "2e3", "y"]]
    sub = t.select_rows([2999, 1, 0])
    assert sub.column("a") == ["2997", "-0", "007"] and sub.column("b") == ["2997.25", "2e3", "1.50"]
    assert math.copysign(1, t.numeric_column("a")[1]) in (1, -1)
    assert t.rows[:2] == [("007", "1.50", "x"), ("-0", "2e3", "y")]


def test_a_table_read_by_pandas_pickles_and_copies_like_one_read_by_the_standard_library():
    import copy
    import pickle

    text = "a,b,c\n007,1.50,x\n-0,2e3,y\n" + "".join(f"{i},{i}.25,z\n" for i in range(30))
    t, ref = data.read_csv(text, engine="pandas"), data.read_csv(text, engine="stdlib")
    assert t.meta["parser"] == "pandas"
    for got, want in ((pickle.loads(pickle.dumps(t)), ref), (copy.deepcopy(t), ref),
                      (pickle.loads(pickle.dumps(t.select_rows([5, 0]))), ref.select_rows([5, 0]))):
        assert got.rows == want.rows and got.meta == dict(want.meta, parser="pandas")
        assert got.numeric_column("b").tolist() == want.numeric_column("b").tolist()


# ---------------------------------------------------------------- the same files in Pyodide (no pandas there)

def _random_files(n=150, seed=3):
    import random

    rnd = random.Random(seed)
    files = []
    for _ in range(n):
        n_cols, delim = rnd.randint(2, 5), rnd.choice([",", ";", "\t", "|"])
        kinds = [rnd.choice(["int", "float", "number", "category", "text"]) for _ in range(n_cols - 1)]
        kinds.append(rnd.choice(["category", "int", "float"]))
        rows = []
        for _ in range(rnd.randint(3, 30)):
            row = []
            for k in kinds:
                if rnd.random() < 0.05:
                    row.append(rnd.choice(MISSING_TEXTS))
                elif k == "int":
                    row.append(str(rnd.randint(-50, 50)))
                elif k == "float":
                    row.append(repr(rnd.uniform(-1e4, 1e4)))
                elif k == "number":
                    row.append(rnd.choice(NUMBER_TEXTS))
                elif k == "category":
                    row.append(rnd.choice(["red", "green", "blue"]))
                else:
                    row.append(rnd.choice(TEXT_CELLS))
            rows.append(row)
        buf = io.StringIO()
        csv.writer(buf, delimiter=delim, lineterminator=rnd.choice(["\n", "\r\n"])).writerows(
            [[f"c{j}" for j in range(n_cols)]] + rows)
        text = buf.getvalue()
        if rnd.random() < 0.15:  # a ragged row
            lines = text.splitlines(keepends=True)
            lines.insert(2, delim.join(["1"] * (n_cols + rnd.choice([-1, 1]))) + "\n")
            text = "".join(lines)
        files.append(text.encode(rnd.choice(["utf-8", "utf-8", "utf-16"])))
    return files


_SUMMARY = r'''
import json
import numpy as np
from mlp import data

def summary(raw, **kw):
    try:
        t = data.read_csv(raw, **kw)
    except ValueError as e:
        return {"error": str(e)}
    out = {"columns": t.columns, "rows": t.rows, "missing": t.missing_counts(),
           "meta": {k: v for k, v in t.meta.items() if k != "parser"},
           "numeric": {c: [repr(float(v)) for v in t.numeric_column(c)] if t.is_numeric(c) else None
                       for c in t.columns}}
    try:
        t = t.drop_missing()
        pre = data.Preprocessor(t.columns[:-1], t.columns[-1]).fit(t)
        out["X"] = [[repr(float(v)) for v in r] for r in pre.transform_X(t)]
        out["y"] = np.asarray(pre.transform_y(t)).ravel().tolist()
        out["names"] = pre.feature_names
    except ValueError as e:
        out["X"] = str(e)
    return json.loads(json.dumps(out))
'''

_PYODIDE_CODE = r"""
import sys, json, glob
exec(open("/cases/summary.py").read())
import numpy as np
got = [summary(open(p, "rb").read()) for p in sorted(glob.glob("/cases/*.csv"))]
json.dumps({"python": sys.version.split()[0], "numpy": np.__version__, "got": got,
            "pandas": "pandas" in sys.modules})
"""


def test_pyodide_reads_and_preprocesses_like_cpython(tmp_path):
    """Pyodide 0.27.7 (Python 3.12, NumPy 2.0.2, no pandas: the standard-library reader) gives the same
    tables, numbers, errors and model inputs as CPython's pandas path does here."""
    import json

    from tests._browser import run_in_pyodide

    files = _random_files()
    for i, raw in enumerate(files):
        (tmp_path / f"{i:04d}.csv").write_bytes(raw)
    (tmp_path / "summary.py").write_text(_SUMMARY)
    ns = {}
    exec(_SUMMARY, ns)  # noqa: S102 - our own test code
    expected = [ns["summary"](raw, engine="pandas") for raw in files]
    assert sum("rows" in e for e in expected) > 100 and sum("error" in e for e in expected) >= 5
    assert [ns["summary"](raw, engine="stdlib") for raw in files] == expected
    res = json.loads(run_in_pyodide(_PYODIDE_CODE, {tmp_path: "/cases"}))
    assert res["python"].startswith("3.12") and res["numpy"] == "2.0.2" and not res["pandas"]
    differ = [i for i, (e, g) in enumerate(zip(expected, res["got"])) if e != g]
    assert len(res["got"]) == len(files)
    assert not differ, f"{len(differ)} differ, e.g. file {differ[0]}: CPython {expected[differ[0]]}\n" \
                       f"Pyodide {res['got'][differ[0]]}"


@pytest.mark.parametrize("case", ["plain", "sep_line", "sep_line_ragged", "blank_start_crlf", "ragged_late", "no_header",
                                  "unclosed_quote", "quoted_header"])
def test_large_ascii_files_agree(case):
    """Files over 1 MB of ASCII take the lazily decoded path; the same results as the standard library."""
    rows = [f"{i},{i * 0.37!r},{'abc'[i % 3]},{i % 2}" for i in range(60_000)]
    header, delim = "n,x,c,y", ","
    if case.startswith("sep_line"):
        rows = [r.replace(",", ";").replace(".", ",") for r in rows]
        header, delim = "sep=;\nn;x;c;y", ";"
    text = header + "\n" + "\n".join(rows) + "\n"
    if case == "blank_start_crlf":
        text = "\n  \n" + text.replace("\n", "\r\n")
    elif case == "ragged_late":
        text += "1,2\n"
    elif case == "sep_line_ragged":
        text += "1;2\n"
    elif case == "no_header":
        text = "\n".join(rows) + "\n"
    elif case == "unclosed_quote":
        cut = text.rindex("\n", 0, len(text) - 60) + 1  # a quote opening a field near the end, never closed
        text = text[:cut] + '"' + text[cut:]
    elif case == "quoted_header":
        text = '"n","x, the value","c","y"\n' + "\n".join(rows) + "\n"
    raw = text.encode("ascii")
    assert len(raw) > 1 << 20
    fast, fast_err = read(raw, "pandas")
    slow, slow_err = read(raw, "stdlib")
    assert fast_err == slow_err
    if case in ("ragged_late", "unclosed_quote"):
        assert "line 60002 has 2 fields" in fast_err or "spans several lines" in fast_err, fast_err
        return
    if case == "sep_line_ragged":
        assert "line 60003 has 2 fields but the header (line 2) has 4 (detected delimiter: semicolon)" in fast_err
        return
    assert_same(fast, slow)
    assert fast.meta["parser"] == "pandas"
    if case == "sep_line":
        assert fast.meta["delimiter"] == ";" and fast.meta["decimal_comma_columns"] == ["x"]


@pytest.mark.parametrize("src", [
    b"\xef\xbb\xbf\xef\xbb\xbfa,b\n1,2\n3,4\n",          # two BOMs: the bytes must stay in step with the text
    "a,b\n\ud800,2\n3,4\n",                              # a lone surrogate in a str: no UTF-8 for pandas
    "\ufeffa,b\n1,2\n",
    "a,b\r\n\r\n1,2\r\n",
    b"sep=|\r\na|b\r\n1,5|x\r\n",
    "a;b\n\"1;5\";2\n",
])
def test_odd_sources_agree(src):
    fast, fast_err = read(src, "pandas")
    slow, slow_err = read(src, "stdlib")
    assert fast_err == slow_err and fast is not None
    assert_same(fast, slow)
