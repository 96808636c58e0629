"""Tests for mlp.data: CSV reading, Table, task detection, Preprocessor, splits, datasets."""

import csv
import io
import json
import math
import zipfile

import numpy as np
import pytest

from mlp import data


def err(fn, *args, **kw):
    """Run fn expecting ValueError; return its message (lower-cased)."""
    with pytest.raises(ValueError) as info:
        fn(*args, **kw)
    return str(info.value).lower()


# --------------------------------------------------------------------------- read_csv: formats

CSV_ROWS = [["a", "b", "c"], ["1", "x y", "2.5"], ["3", "z", "-4"]]


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_detection(delim):
    text = "\n".join(delim.join(r) for r in CSV_ROWS) + "\n"
    t = data.read_csv(text)
    assert t.columns == ["a", "b", "c"]
    assert t.rows == [("1", "x y", "2.5"), ("3", "z", "-4")]
    assert t.meta["delimiter"] == delim


def test_semicolon_file_with_decimal_commas_and_comma_in_text():
    text = "price;name;qty\n1,5;Smith, J;3\n-0,25;Doe, A;4\n"
    t = data.read_csv(text)
    assert t.columns == ["price", "name", "qty"]
    assert t.column("name") == ["Smith, J", "Doe, A"]
    assert t.numeric_column("price").tolist() == [1.5, -0.25]
    assert t.meta["decimal_comma_columns"] == ["price"]


def test_comma_file_never_rewrites_quoted_commas():
    t = data.read_csv('a,b\n"1,5",2\n"2,5",3\n')
    assert t.column("a") == ["1,5", "2,5"]
    assert not t.is_numeric("a")


def test_quoted_fields_with_delimiters_quotes_and_newlines():
    buf = io.StringIO()
    w = csv.writer(buf)
    rows = [["name", "note"], ["a", 'says "hi", then\nleaves'], ["b", "x;y|z"]]
    w.writerows(rows)
    t = data.read_csv(buf.getvalue())
    assert t.columns == rows[0]
    assert [list(r) for r in t.rows] == rows[1:]


def test_crlf_and_cr_line_endings_and_blank_lines():
    for text in ["a,b\r\n1,2\r\n\r\n3,4\r\n", "a,b\r1,2\r3,4\r", "\n\na,b\n1,2\n\n,\n3,4\n\n"]:
        t = data.read_csv(text)
        assert t.columns == ["a", "b"] and t.rows == [("1", "2"), ("3", "4")], text


def test_utf8_bom_is_stripped_from_bytes_and_text():
    raw = "\ufeffname,val\nÅsa,1\n".encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    for src in (raw, raw.decode("utf-8")):
        t = data.read_csv(src)
        assert t.columns == ["name", "val"]
        assert t.column("name") == ["Åsa"]


def test_windows_1252_fallback():
    raw = "city,price\nZürich,5€\nCafé,2\n".encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    t = data.read_csv(raw)
    assert t.column("city") == ["Zürich", "Café"]
    assert t.column("price") == ["5€", "2"]
    assert t.meta["encoding"] == "cp1252"


def test_utf16_with_bom():
    raw = "a\tb\n1\tü\n".encode("utf-16")
    t = data.read_csv(raw)
    assert t.columns == ["a", "b"] and t.rows == [("1", "ü")]


def test_sources_path_pathlike_filelike(tmp_path):
    text = "x,y\n1,2\n"
    p = tmp_path / "d.csv"
    p.write_text(text, encoding="utf-8")
    expected = data.read_csv(text)
    assert data.read_csv(str(p)) == expected
    assert data.read_csv(p) == expected
    assert data.read_csv(io.BytesIO(text.encode())) == expected
    assert data.read_csv(io.StringIO(text)) == expected
    with open(p, "rb") as f:
        assert data.read_csv(f) == expected
    with open(p, encoding="utf-8") as f:
        assert data.read_csv(f) == expected
    # a path with a comma in its name is still a path
    p2 = tmp_path / "a, b.csv"
    p2.write_text(text, encoding="utf-8")
    assert data.read_csv(str(p2)) == expected


def test_exhausted_file_object_gets_a_hint():
    f = io.BytesIO(b"x,y\n1,2\n")
    data.read_csv(f)
    msg = err(data.read_csv, f)
    assert "seek(0)" in msg


def test_missing_tokens_become_none():
    text = "a,b,c\n1,NA,x\n,nan,?\nnull,None,NaN\n2, 3 ,N/A\n"
    t = data.read_csv(text)
    assert t.rows == [("1", None, "x"), (None, None, None), (None, None, None), ("2", "3", None)]
    assert t.missing_counts() == {"a": 2, "b": 3, "c": 3}


def test_empty_header_names_and_trailing_delimiters():
    t = data.read_csv(",a,b\n0,1,2\n1,3,4\n")  # pandas index column
    assert t.columns == ["column_1", "a", "b"]
    t = data.read_csv("a,b,\n1,2,\n3,4,\n")  # trailing delimiter everywhere
    assert t.columns == ["a", "b"] and t.rows == [("1", "2"), ("3", "4")]
    t = data.read_csv("a,b\n1,2,\n3,4\n")  # stray trailing delimiter on one line
    assert t.rows == [("1", "2"), ("3", "4")]


def test_a_first_line_of_numbers_is_data_not_a_header():
    t = data.read_csv("5.1,3.5,setosa\n4.9,3.0,versicolor\n")   # iris without its header
    assert t.columns == ["column_1", "column_2", "column_3"] and t.meta["no_header"] is True
    assert t.column("column_3") == ["setosa", "versicolor"]
    t = data.read_csv("5.1,3.5,0\n4.9,-3e-1,1\n")
    assert t.columns == ["column_1", "column_2", "column_3"] and t.meta["no_header"] is True
    assert t.rows == [("5.1", "3.5", "0"), ("4.9", "-3e-1", "1")]
    t = data.read_csv("year,2019\n1,2\n")   # a name that is not a number over numbers: a header
    assert t.columns == ["year", "2019"] and "no_header" not in t.meta
    t = data.read_csv("0,1,2\n0.5,3,1\n")   # pandas' default column names
    assert t.columns == ["0", "1", "2"] and len(t) == 1
    t = data.read_csv("name,colour\nann,red\n")   # no numbers at all: a header
    assert t.columns == ["name", "colour"]


def test_excel_sep_line():
    t = data.read_csv("sep=|\na|b\n1|2\n")
    assert t.columns == ["a", "b"] and t.rows == [("1", "2")]


def test_single_column_file():
    t = data.read_csv("y\n1\n2\n")
    assert t.columns == ["y"] and t.column("y") == ["1", "2"]


def test_agrees_with_pandas_on_a_messy_file():
    import pandas as pd
    text = (
        'id;name;score;group\n'
        '1;"Lee; K";3.5;a\n'
        '2;Ng;;b\n'
        '3;"O""Neil";-1e3;a\n'
        '4;Zoë;7;\n'
    )
    t = data.read_csv(text.encode("utf-8"))
    df = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)
    assert t.columns == list(df.columns)
    for col in df.columns:
        theirs = [None if v == "" else v for v in df[col]]
        assert t.column(col) == theirs
    np.testing.assert_array_equal(
        t.numeric_column("score"), pd.to_numeric(df["score"].replace("", np.nan)).to_numpy()
    )


# --------------------------------------------------------------------------- read_csv: errors


@pytest.mark.parametrize("src", ["", "   \n\n", b"", b"\n \n"])
def test_empty_input(src):
    assert "empty" in err(data.read_csv, src)


def test_header_only():
    msg = err(data.read_csv, "a,b,c\n")
    assert "no data rows" in msg and "'a'" in msg


@pytest.mark.parametrize(
    "raw, hint",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "png"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "pdf"),
        (b"GIF89a\x01\x00", "gif"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "gzip"),
        (b"abc,def\n\x00\x01\x02\x03,1\n", "nul"),
        (bytes(range(1, 32)) * 20 + b"\xff\xfe", "control"),
    ],
)
def test_binary_is_refused(raw, hint):
    msg = err(data.read_csv, raw)
    assert "does not look like a csv text file" in msg and hint in msg


def test_xlsx_is_refused_with_hint():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    msg = err(data.read_csv, buf.getvalue())
    assert "does not look like a csv text file" in msg and "save it as csv" in msg


def test_random_bytes_are_refused():
    raw = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    assert "does not look like a csv" in err(data.read_csv, raw)


def test_ragged_rows_report_line_and_counts():
    msg = err(data.read_csv, "a,b,c\n1,2,3\n4,5\n6,7,8\n9\n")
    assert "line 3 has 2 fields" in msg and "has 3" in msg and "1 more row has" in msg and "quote" in msg
    msg = err(data.read_csv, 'a,b\n"x,1\n2,3\n')
    assert "lines 2-3 has 1 field " in msg and "unclosed" in msg
    msg = err(data.read_csv, "sep=,\na,b\n\n1,2,3\n")
    assert "line 4 has 3 fields" in msg and "header (line 2)" in msg


def test_ragged_row_too_many_fields():
    msg = err(data.read_csv, "a;b\n1;2\n3;4;5\n")
    assert "line 3 has 3 fields" in msg and "semicolon" in msg


def test_duplicate_column_names():
    msg = err(data.read_csv, "x,y,x\n1,2,3\n")
    assert "duplicate column name 'x'" in msg and "columns 1 and 3" in msg and "rename" in msg


def test_limits(tmp_path):
    text = "a,b\n" + "".join(f"{i},{i}\n" for i in range(100))
    assert "limit" in err(data.read_csv, text, max_bytes=50)
    assert "limit" in err(data.read_csv, text.encode(), max_bytes=50)
    assert "limit" in err(data.read_csv, io.BytesIO(text.encode()), max_bytes=50)
    p = tmp_path / "big.csv"
    p.write_text(text)
    msg = err(data.read_csv, p, max_bytes=50)
    assert "too large" in msg and f"{len(text):,}" in msg
    msg = err(data.read_csv, text, max_rows=10)
    assert "more than 10 data rows" in msg
    assert len(data.read_csv(text, max_rows=100, max_bytes=len(text))) == 100
    assert "max_rows" in err(data.read_csv, text, max_rows=0)


@pytest.mark.parametrize("engine", ["stdlib", "pandas"])
def test_max_rows_counts_the_first_line_of_a_headerless_file(engine):
    text = "7,8\n3,4\n5,6\n"  # no header: three data rows
    assert "more than 2 data rows" in err(data.read_csv, text, max_rows=2, engine=engine)
    t = data.read_csv(text, max_rows=3, engine=engine)
    assert len(t) == 3 and t.meta["no_header"] and t.meta["parser"] == engine


def test_missing_path_and_bad_type(tmp_path):
    msg = err(data.read_csv, str(tmp_path / "nope.csv"))
    assert "neither an existing file" in msg
    assert "not found" in err(data.read_csv, tmp_path / "nope.csv")
    with pytest.raises(TypeError):
        data.read_csv(42)


# --------------------------------------------------------------------------- Table


def test_from_rows_normalises_values_and_floats_round_trip():
    vals = [0.1, 1 / 3, -2.5e-300, 1e16, np.float64(0.7), np.float32(0.1)]
    vals += [7, np.int64(-3), True, None, math.nan, "  s "]
    t = data.Table.from_rows([vals])
    row = t.rows[0]
    assert row[-5:] == ("-3", "True", None, None, "s")
    assert row[5] == "0.1"
    for orig, text in zip(vals[:5], row[:5]):
        assert float(text) == orig
    assert t.columns == [f"column_{i + 1}" for i in range(len(vals))]


def test_from_rows_dicts_and_arrays():
    t = data.Table.from_rows([{"a": 1, "b": "x"}, {"b": "y"}])
    assert t.columns == ["a", "b"] and t.rows == [("1", "x"), (None, "y")]
    t = data.Table.from_rows(np.array([[1.5, 2.0], [3.0, np.nan]]), ["p", "q"])
    assert t.numeric_column("p").tolist() == [1.5, 3.0]
    assert t.missing_counts() == {"p": 0, "q": 1}


def test_table_construction_errors():
    assert "row 2 has 1 values" in err(data.Table.from_rows, [[1, 2], [3]], ["a", "b"])
    assert "duplicate column name 'a'" in err(data.Table.from_rows, [[1, 2]], ["a", "a"])
    assert "empty" in err(data.Table.from_rows, [[1]], [" "])
    with pytest.raises(TypeError):
        data.Table.from_rows("a,b")


def test_from_dataframe_matches_pandas():
    import pandas as pd
    df = pd.DataFrame({"n": [1.5, np.nan, 3.0], "s": ["a", None, "c"], "i": [1, 2, 3], "b": [True, False, True]})
    t = data.Table.from_dataframe(df)
    assert t.columns == ["n", "s", "i", "b"]
    assert t.missing_counts() == {"n": 1, "s": 1, "i": 0, "b": 0}
    np.testing.assert_array_equal(t.numeric_column("n"), df["n"].to_numpy())
    assert t.numeric_column("i").tolist() == [1.0, 2.0, 3.0]
    assert t.column("b") == ["True", "False", "True"]
    with pytest.raises(TypeError):
        data.Table.from_dataframe([[1]])


def test_table_access_methods():
    t = data.read_csv("a,b,c\n1,x,\n2,y,5\n3,,6\n4,x,7\n")
    assert len(t) == 4 and t.shape == (4, 3)
    assert repr(t) == "Table(4 rows x 3 columns: a, b, c)"
    assert t.column("b") == ["x", "y", None, "x"]
    assert t.is_numeric("a") and t.is_numeric("c") and not t.is_numeric("b")
    np.testing.assert_array_equal(t.numeric_column("c"), [np.nan, 5, 6, 7])
    assert len(t.drop_missing()) == 2
    assert t.drop_missing(["c"]).column("a") == ["2", "3", "4"]
    assert t.drop_missing("b").column("a") == ["1", "2", "4"]
    assert t.head(2) == [["1", "x", None], ["2", "y", "5"]]
    assert t.select_rows([3, 0]).column("a") == ["4", "1"]
    assert t.select_rows(np.array([True, False, False, True])).column("a") == ["1", "4"]
    assert len(t.select_rows([])) == 0
    assert "out of range" in err(t.select_rows, [4])
    t2 = data.read_csv(t.to_csv())
    assert t2 == t


def test_unknown_column_suggests_closest():
    t = data.read_csv("temperature,b\n1,2\n")
    msg = err(t.column, "temprature")
    assert "unknown column 'temprature'" in msg and "did you mean 'temperature'" in msg


def test_numeric_column_error_names_column_and_value():
    t = data.read_csv("size,color\n1,red\n2,blue\n")
    msg = err(t.numeric_column, "color")
    assert "'color'" in msg and "'red'" in msg and "row 1" in msg
    t = data.read_csv("v\n1\n2\nthree\n")
    assert "'three'" in err(t.numeric_column, "v") and not t.is_numeric("v")


def test_all_missing_column_is_not_numeric():
    t = data.Table.from_rows([[None, 1], [None, 2]], ["a", "b"])
    assert not t.is_numeric("a")


# --------------------------------------------------------------------------- to_csv


def test_to_csv_round_trip_and_errors():
    text = data.to_csv(["id", "pred", "p"], [[1, "cat", 0.1], [2, None, np.float64(1 / 3)], (3, "a,b", np.nan)])
    assert text.splitlines()[0] == "id,pred,p"
    t = data.read_csv(text)
    assert t.column("pred") == ["cat", None, "a,b"]
    assert t.numeric_column("p")[1] == 1 / 3
    assert "row 1 has 1 values" in err(data.to_csv, ["a", "b"], [[1]])
    assert data.to_csv(["x"], np.array([[1.5], [2.0]])) == "x\n1.5\n2.0\n"


# --------------------------------------------------------------------------- detect_task


@pytest.mark.parametrize(
    "values, task",
    [
        (["yes", "no", "yes", None], "binary"),
        (["a", "b", "c"], "multiclass"),
        (["1", "0", "1", "0"], "binary"),
        ([1, 2, 1, 2], "binary"),
        (np.array([0.0, 1.0, np.nan, 1.0]), "binary"),
        ([0, 1, 2] * 10, "multiclass"),
        (["1.0", "2.0", "3.0"] * 5, "multiclass"),
        ([0, 1, 2], "regression"),  # too few rows per value to call it classes
        (list(range(25)) * 10, "regression"),  # too many distinct integers
        ([0.5, 1.5, 2.25], "regression"),
        ([0.5, 1.5] * 10, "regression"),  # two non-integer values
        (np.linspace(0, 1, 50), "regression"),
        (["1", "2", "x"], "multiclass"),
        (["True", "False"], "binary"),
    ],
)
def test_detect_task(values, task):
    assert data.detect_task(values) == task


@pytest.mark.parametrize(
    "values, task",
    [  # object arrays that are not a Table's clean texts (e.g. a DataFrame column's to_numpy())
        (np.array([0, 1, 0, 1, None, 0, 1], dtype=object), "binary"),
        (np.array(["a", "b", np.nan, "a", "b"], dtype=object), "binary"),
        (np.array([True, False, None, True], dtype=object), "binary"),
        (np.array([" a", "b", "NA", "a ", "b"], dtype=object), "binary"),
    ],
)
def test_detect_task_object_arrays(values, task):
    assert data.detect_task(values) == task == data.detect_task(values.tolist())


def test_detect_task_errors():
    assert "only one class" in err(data.detect_task, ["a", "a", None])
    assert "only one" in err(data.detect_task, [3, 3, 3])
    assert "all are missing" in err(data.detect_task, [None, "NA", ""])
    assert "identifier" in err(data.detect_task, [f"id{i}" for i in range(100)])
    assert "infinite" in err(data.detect_task, ["1", "inf", "2"])


def test_one_long_text_among_short_ones_costs_no_memory_blowup():
    """NumPy's fixed-width unicode arrays give every cell the longest text's width: 5,000 rows with one
    5,000-character cell would take 100 MB for each look at the column (gigabytes for larger files)."""
    import tracemalloc

    n = 5000
    rows = [[i % 7, "x" * n if i == 3 else "abc"[i % 3], "y" * n if i == 4 else f"{i % 4}", "ab"[i % 2]]
            for i in range(n)]
    text = "num;notes;code;y\n" + "".join(f"{a};{b};{c};{d}\n" for a, b, c, d in rows)
    tracemalloc.start()
    try:
        t = data.read_csv(text, engine="stdlib")  # ; separated: the decimal-comma check reads every text column
        assert not t.is_numeric("code") and not t.is_numeric("notes")
        assert data.detect_task(t.values("notes")) == "multiclass"
        pre = data.Preprocessor(["num", "notes"], "y").fit(t.select_rows(range(4, n)))
        assert pre.transform_X(t).shape == (n, 1 + 3)
        assert pre.unseen_categories(t) == {"notes": {"x" * n: 1}}
        assert pre.transform_y(t).shape == (n, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, peak
    t2 = data.read_csv(text.replace("x" * n, "x" * n + ",5"), engine="stdlib")
    assert t2.meta.get("decimal_comma_columns") is None


# --------------------------------------------------------------------------- Preprocessor

MIXED = """age,color,height,label
30,red,1.80,cat
25,blue,1.65,dog
41,red,1.72,cat
35,green,1.90,bird
28,blue,1.60,dog
50,green,1.75,cat
"""


def test_standardisation_uses_training_statistics_only():
    t = data.read_csv(MIXED)
    train, test = t.select_rows([0, 1, 2, 3]), t.select_rows([4, 5])
    pre = data.Preprocessor(["age", "height"], "label").fit(train)
    Xtr = pre.transform_X(train)
    np.testing.assert_allclose(Xtr.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Xtr.std(axis=0), 1, atol=1e-12)
    raw_tr = np.array([[30, 1.80], [25, 1.65], [41, 1.72], [35, 1.90]])
    raw_te = np.array([[28, 1.60], [50, 1.75]])
    expected = (raw_te - raw_tr.mean(axis=0)) / raw_tr.std(axis=0)
    np.testing.assert_allclose(pre.transform_X(test), expected, rtol=1e-12)
    assert pre.transform_X(test).dtype == np.float64


def test_matches_sklearn_scaler_and_one_hot():
    import sklearn.preprocessing as sk
    t = data.read_csv(MIXED)
    train, test = t.select_rows([0, 1, 2, 4]), t.select_rows([3, 5])  # green unseen in training
    pre = data.Preprocessor(["age", "color", "height"], "label").fit(train)
    num = lambda tb: np.column_stack([tb.numeric_column("age"), tb.numeric_column("height")])  # noqa: E731
    col = lambda tb: np.array(tb.column("color"), dtype=object).reshape(-1, 1)  # noqa: E731
    scaler = sk.StandardScaler().fit(num(train))
    onehot = sk.OneHotEncoder(handle_unknown="ignore").fit(col(train))
    for tb in (train, test):
        X = pre.transform_X(tb)
        np.testing.assert_allclose(X[:, [0, 3]], scaler.transform(num(tb)), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(X[:, 1:3], onehot.transform(col(tb)).toarray())
    assert pre.feature_names == ["age", "color=blue", "color=red", "height"]
    assert pre.n_inputs == 4
    assert pre.transform_X(test)[:, 1:3].tolist() == [[0, 0], [0, 0]]  # unseen -> zeros
    # and they are reported, with their counts: what the front ends tell the user
    seen_colors = set(train.column("color"))
    expected = {}
    for v in test.column("color"):
        if v not in seen_colors:
            expected[v] = expected.get(v, 0) + 1
    assert expected and pre.unseen_categories(test) == {"color": expected}
    assert pre.unseen_categories(train) == {}


def test_unseen_categories_counts_per_column():
    t = data.Table.from_rows([["a", "x", 1.0, "p"], ["b", "y", 2.0, "q"], ["a", "y", 3.0, "p"]],
                             ["c1", "c2", "n", "label"])
    pre = data.Preprocessor(["c1", "c2", "n"], "label").fit(t)
    new = data.Table.from_rows([["c", "x", 9.0], ["c", "z", 7.0], ["d", "y", 5.0], ["a", "x", 1.0]], ["c1", "c2", "n"])
    assert pre.unseen_categories(new) == {"c1": {"c": 2, "d": 1}, "c2": {"z": 1}}
    with pytest.raises(ValueError, match="missing the feature column"):
        pre.unseen_categories(data.Table.from_rows([["a"]], ["c1"]))


def test_constant_feature_gets_unit_std():
    t = data.Table.from_rows([[0.1, "a"], [0.1, "b"], [0.1, "a"]], ["x", "y"])
    pre = data.Preprocessor(["x"], "y").fit(t)
    assert pre.to_config()["encoders"][0]["std"] == 1.0
    np.testing.assert_allclose(pre.transform_X(t), 0, atol=1e-15)


def test_string_labels_round_trip_and_tasks():
    t = data.read_csv(MIXED)
    pre = data.Preprocessor(["age", "color"], "label").fit(t)
    assert pre.task == "multiclass" or data.detect_task(t.column("label")) == "multiclass"
    # 3 text classes in 6 rows -> multiclass
    assert pre.class_names == ["bird", "cat", "dog"]
    y = pre.transform_y(t)
    assert y.dtype == np.int64 and y.shape == (6,)
    assert pre.inverse_y(np.eye(3)[y]) == t.column("label")
    assert pre.inverse_y(y) == t.column("label")
    assert (pre.n_outputs, pre.output_activation, pre.default_loss) == (3, "softmax", "cce")


def test_binary_targets():
    t = data.Table.from_rows([[1, "yes"], [2, "no"], [3, "yes"]], ["x", "ok"])
    pre = data.Preprocessor(["x"], "ok").fit(t)
    assert pre.task == "binary" and pre.class_names == ["no", "yes"]
    y = pre.transform_y(t)
    assert y.shape == (3, 1) and y.dtype == np.float64 and y.ravel().tolist() == [1, 0, 1]
    assert pre.inverse_y([[0.49], [0.5], [0.9]]) == ["no", "yes", "yes"]
    assert pre.inverse_y(np.array([0.1, 0.7])) == ["no", "yes"]
    assert (pre.n_outputs, pre.output_activation, pre.default_loss) == (1, "sigmoid", "bce")


def test_numeric_labels_sorted_by_value_and_canonical():
    t = data.Table.from_rows([[i, lab] for i, lab in enumerate(["10", "2", "2.0", "1", "10.0", "1"] * 3)], ["x", "y"])
    pre = data.Preprocessor(["x"], "y").fit(t)
    assert pre.task == "multiclass" and pre.class_names == ["1", "2", "10"]
    y = pre.transform_y(t)
    assert y[:6].tolist() == [2, 1, 1, 0, 2, 0]
    assert pre.inverse_y(y[:3]) == ["10", "2", "2"]


def test_regression_target_standardised_and_restored():
    raw = [100.5, 210.25, 290.0, 405.125, 1.5, 2.5]
    t = data.Table.from_rows([[i + 1, v] for i, v in enumerate(raw)], ["x", "y"])
    pre = data.Preprocessor(["x"], "y").fit(t)
    assert pre.task == "regression" and pre.class_names is None
    y = pre.transform_y(t)
    assert y.shape == (6, 1)
    np.testing.assert_allclose(y.ravel(), (np.array(raw) - np.mean(raw)) / np.std(raw))
    np.testing.assert_allclose(pre.inverse_y(y), raw, rtol=1e-14)
    # the scale travels in the config
    again = data.Preprocessor.from_config(pre.to_config())
    np.testing.assert_array_equal(again.transform_y(t), y)
    np.testing.assert_array_equal(again.inverse_y(y), pre.inverse_y(y))
    assert (pre.n_outputs, pre.output_activation, pre.default_loss) == (1, "linear", "mse")


def test_forced_task_and_refit_redetects():
    t = data.Table.from_rows([[1, 0], [2, 1], [3, 2]] * 2, ["x", "y"])
    assert data.Preprocessor(["x"], "y", task="multiclass").fit(t).n_outputs == 3
    assert data.Preprocessor(["x"], "y", task="regression").fit(t).n_outputs == 1
    pre = data.Preprocessor(["x"], "y")
    assert pre.fit(t).task == "regression"  # 3 values in 6 rows: too few rows per value
    assert pre.fit(t.select_rows([0, 1, 3, 4])).task == "binary"


def test_config_round_trip_gives_identical_transforms():
    t = data.read_csv(MIXED)
    pre = data.Preprocessor(["age", "color", "height"], "label").fit(t.select_rows([0, 1, 2, 3, 4]))
    cfg = json.loads(json.dumps(pre.to_config()))
    assert cfg == pre.to_config()
    pre2 = data.Preprocessor.from_config(cfg)
    np.testing.assert_array_equal(pre2.transform_X(t), pre.transform_X(t))
    np.testing.assert_array_equal(pre2.transform_y(t), pre.transform_y(t))
    assert pre2.feature_names == pre.feature_names and pre2.class_names == pre.class_names
    assert repr(pre2) == repr(pre)
    # unfitted configs round-trip too
    raw = data.Preprocessor(["a"], "b")
    again = data.Preprocessor.from_config(json.loads(json.dumps(raw.to_config())))
    assert not again.is_fitted and again.features == ["a"]


def _fitted_cfg():
    t = data.read_csv(MIXED)
    return data.Preprocessor(["age", "color"], "label").fit(t).to_config()


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda c: c.pop("task"), "missing keys"),
        (lambda c: c.update(extra=1), "unexpected keys"),
        (lambda c: c.update(format="pickle"), "format"),
        (lambda c: c.update(version=2), "version"),
        (lambda c: c.update(task="clustering"), "task"),
        (lambda c: c.update(features="age"), "features"),
        (lambda c: c.update(target=3), "target"),
        (lambda c: c["encoders"].pop(), "one entry per feature"),
        (lambda c: c["encoders"].reverse(), "out of order"),
        (lambda c: c["encoders"][0].update(std=0.0), "std"),
        (lambda c: c["encoders"][0].update(mean=float("nan")), "finite"),
        (lambda c: c["encoders"][0].update(mean=True), "finite"),
        (lambda c: c["encoders"][0].update(kind="lambda"), "kind"),
        (lambda c: c["encoders"][1].update(categories=["a", "a"]), "distinct"),
        (lambda c: c["encoders"][1].update(categories=[1, 2]), "strings"),
        (lambda c: c.update(class_names=["x"]), "class_names"),
        (lambda c: c.update(task="binary"), "exactly 2"),
        (lambda c: c.update(label_kind="bytes"), "label_kind"),
        (lambda c: c.update(task="regression"), "regression"),
    ],
)
def test_from_config_rejects_malformed(mutate, fragment):
    cfg = _fitted_cfg()
    mutate(cfg)
    msg = err(data.Preprocessor.from_config, cfg)
    assert "invalid preprocessor config" in msg and fragment.lower() in msg
    assert "invalid preprocessor config" in err(data.Preprocessor.from_config, [1, 2])


def test_transform_errors_name_columns():
    t = data.read_csv(MIXED)
    pre = data.Preprocessor(["age", "color"], "label").fit(t)
    other = data.read_csv("age,shade\n1,red\n")
    msg = err(pre.transform_X, other)
    assert "'color'" in msg and "missing" in msg and "'shade'" in msg
    holes = data.read_csv("age,color,label\n1,red,cat\n,blue,dog\n")
    msg = err(pre.transform_X, holes)
    assert "'age'" in msg and "1 missing" in msg and "row 2" in msg and "drop" in msg
    assert len(pre.transform_X(holes.drop_missing())) == 1
    txt = data.read_csv("age,color,label\nold,red,cat\n")
    assert "'age'" in err(pre.transform_X, txt) and "'old'" in err(pre.transform_X, txt)
    new_class = data.read_csv("age,color,label\n1,red,fish\n")
    msg = err(pre.transform_y, new_class)
    assert "'fish'" in msg and "not seen during fit" in msg
    assert "'label'" in err(pre.transform_y, data.read_csv("age,color\n1,red\n"))


def test_preprocessor_usage_errors():
    t = data.read_csv(MIXED)
    assert "not fitted" in err(data.Preprocessor(["age"], "label").transform_X, t)
    assert "cannot also be a feature" in err(data.Preprocessor, ["age", "label"], "label")
    assert "at least one" in err(data.Preprocessor, [], "label")
    assert "repeated" in err(data.Preprocessor, ["age", "age"], "label")
    assert "task must be one of" in err(data.Preprocessor, ["age"], "label", task="clf")
    with pytest.raises(TypeError):
        data.Preprocessor("age", "label")
    msg = err(data.Preprocessor(["age"], "label", task="binary").fit, t)
    assert "exactly 2 classes" in msg and "multiclass" in msg
    msg = err(data.Preprocessor(["age"], "label", task="regression").fit, t)
    assert "numeric target" in msg and "'cat'" in msg
    one = data.Table.from_rows([[1, "a"], [2, "a"]], ["x", "y"])
    assert "only one class" in err(data.Preprocessor(["x"], "y", task="binary").fit, one)
    ids = data.Table.from_rows([[f"id{i}", i % 2] for i in range(300)], ["id", "y"])
    assert "identifier" in err(data.Preprocessor(["id"], "y").fit, ids)
    holes = data.read_csv("a,y\n1,x\n2,\n3,z\n")
    assert "target column 'y' has 1 missing" in err(data.Preprocessor(["a"], "y").fit, holes)


def test_inverse_y_shape_errors():
    t = data.read_csv(MIXED)
    multi = data.Preprocessor(["age"], "label").fit(t)
    assert "shape (n, 3)" in err(multi.inverse_y, np.zeros((2, 2)))
    assert "class indices" in err(multi.inverse_y, [0, 3])
    assert "nan" in err(multi.inverse_y, [[np.nan, 0, 0]])
    binary = data.Preprocessor(["age"], "color", task="multiclass").fit(t)
    assert binary.n_outputs == 3
    reg = data.Preprocessor(["age"], "height").fit(t)
    assert "(n, 1)" in err(reg.inverse_y, np.zeros((2, 2)))


def test_preprocessor_accepts_dataframes():
    import pandas as pd
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]})
    pre = data.Preprocessor(["x"], "y").fit(df)
    np.testing.assert_allclose(pre.transform_X(df).ravel(), (df["x"] - 2.5) / df["x"].std(ddof=0))


# --------------------------------------------------------------------------- train_test_split


def test_split_arrays_deterministic_partition():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    a = data.train_test_split(X, y, test_size=0.25, seed=3)
    b = data.train_test_split(X, y, test_size=0.25, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    Xtr, Xte, ytr, yte = a
    assert len(Xte) == 3 and len(Xtr) == 7  # ceil(2.5)
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)  # rows stay aligned
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(10))
    c = data.train_test_split(X, y, test_size=0.25, seed=4)
    assert not np.array_equal(c[3], yte)


def test_split_table_and_lists():
    t = data.Table.from_rows([[i] for i in range(10)], ["i"])
    tr, te = data.train_test_split(t, test_size=4, seed=0)
    assert isinstance(tr, data.Table) and (len(tr), len(te)) == (6, 4)
    assert sorted(tr.column("i") + te.column("i"), key=int) == [str(i) for i in range(10)]
    ltr, lte = data.train_test_split(list("abcdefghij"), test_size=0.5, seed=1)
    assert len(ltr) == 5 and set(ltr) | set(lte) == set("abcdefghij")


def test_split_keeps_one_row_each_side():
    tr, te = data.train_test_split(np.arange(2), test_size=0.99)
    assert len(tr) == 1 and len(te) == 1
    tr, te = data.train_test_split(np.arange(3), test_size=0.01)
    assert len(tr) == 2 and len(te) == 1


def test_stratified_split_keeps_proportions():
    y = np.array([0] * 80 + [1] * 20)
    X = np.arange(100)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
    assert (yte == 1).sum() == 4 and (yte == 0).sum() == 16
    np.testing.assert_array_equal(y[Xtr], ytr)
    t = data.Table.from_rows([[i, "a" if i < 30 else "b"] for i in range(40)], ["i", "c"])
    tr, te = data.train_test_split(t, test_size=10, seed=1, stratify="c")
    assert te.column("c").count("b") in (2, 3) and len(te) == 10
    yb = np.array([[0.0]] * 6 + [[1.0]] * 4)
    _, _, _, ytest = data.train_test_split(np.zeros((10, 2)), yb, test_size=0.5, stratify=yb)
    assert ytest.sum() == 2


def test_split_errors():
    X = np.arange(10)
    for bad in (0, 0.0, 1.0, 1.5, -0.1, 10, True, "0.2"):
        assert "test_size" in err(data.train_test_split, X, test_size=bad)
    assert "same number of rows" in err(data.train_test_split, X, np.arange(9))
    assert "at least 2 rows" in err(data.train_test_split, np.arange(1))
    y = np.array([0] * 9 + [1])
    assert "only 1 row" in err(data.train_test_split, X, stratify=y)
    assert "one label per row" in err(data.train_test_split, X, stratify=y[:5])
    with pytest.raises(TypeError):
        data.train_test_split()


# --------------------------------------------------------------------------- make_dataset


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_dataset_shapes_and_determinism(name):
    spec = data.DATASETS[name]
    assert set(spec) >= {"task", "n_features", "description"}
    X, y = data.make_dataset(name, n_samples=101, seed=5)
    assert X.shape == (101, spec["n_features"]) and X.dtype == np.float64
    if spec["task"] == "multiclass":
        assert y.shape == (101,) and y.dtype == np.int64
        assert set(y.tolist()) == set(range(spec["n_classes"]))
    else:
        assert y.shape == (101, 1) and y.dtype == np.float64
    if spec["task"] == "binary":
        assert set(y.ravel().tolist()) == {0.0, 1.0}
    X2, y2 = data.make_dataset(name, n_samples=101, seed=5)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = data.make_dataset(name, n_samples=101, seed=6)
    assert not np.array_equal(X, X3)
    # (counts are whole numbers, often few: detect_task may call them classes, so the table's task is given)
    assert data.detect_task(y.ravel()) == spec["task"] or spec["task"] == "multiclass" or spec.get("counts")


def _sorted_rows(a):
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize(
    "maker, name, kw", [("make_circles", "circles", {"factor": 0.5}), ("make_moons", "moons", {})]
)
def test_noise_free_points_match_sklearn(maker, name, kw):
    import sklearn.datasets as ds
    X, y = data.make_dataset(name, n_samples=200, noise=0.0, seed=0)
    Xs, ys = getattr(ds, maker)(n_samples=200, shuffle=False, noise=None, **kw)
    for label in (0, 1):
        np.testing.assert_allclose(
            _sorted_rows(X[y.ravel() == label]), _sorted_rows(Xs[ys == label]), atol=1e-12
        )


def test_circles_radius_statistics_match_sklearn():
    import sklearn.datasets as ds
    X, y = data.make_dataset("circles", n_samples=4000, noise=0.05, seed=1, factor=0.3)
    Xs, ys = ds.make_circles(n_samples=4000, noise=0.05, factor=0.3, random_state=1)
    r, rs = np.hypot(*X.T), np.hypot(*Xs.T)
    for label in (0, 1):
        mine, theirs = r[y.ravel() == label], rs[ys == label]
        assert abs(mine.mean() - theirs.mean()) < 0.01
        assert abs(mine.std() - theirs.std()) < 0.01
    assert abs(r[y.ravel() == 0].mean() - 1.0) < 0.01 and abs(r[y.ravel() == 1].mean() - 0.3) < 0.01


def test_xor_sine_plane_ground_truth():
    X, y = data.make_dataset("xor", 500, noise=0.0)
    np.testing.assert_array_equal(y.ravel(), (X[:, 0] * X[:, 1] > 0).astype(float))
    assert np.abs(X).max() <= 1.0
    X, y = data.make_dataset("sine", 500, noise=0.0)
    np.testing.assert_allclose(y.ravel(), np.sin(X.ravel()))
    assert X.min() >= -np.pi and X.max() <= np.pi
    X, y = data.make_dataset("sine", 5000, noise=0.2, seed=2)
    assert abs(np.std(y.ravel() - np.sin(X.ravel())) - 0.2) < 0.01
    X, y = data.make_dataset("plane", 300, noise=0.0, a=2.0, b=-3.0, c=0.5)
    np.testing.assert_allclose(y.ravel(), 2 * X[:, 0] - 3 * X[:, 1] + 0.5)
    X, y = data.make_dataset("plane", 3000, noise=0.1, seed=3)
    coef, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y.ravel(), rcond=None)
    np.testing.assert_allclose(coef, [1.5, -0.5, 0.0], atol=0.02)


def test_spiral_and_blobs_structure():
    X, y = data.make_dataset("spiral", 300, noise=0.0, n_classes=4)
    assert np.bincount(y).tolist() == [75] * 4
    r = np.hypot(*X.T)
    assert r.min() >= 0.1 - 1e-12 and r.max() <= 1.0 + 1e-12
    X, y = data.make_dataset("blobs", 3000, noise=0.0, n_classes=3, seed=1)
    for c in range(3):
        centre = [math.cos(2 * math.pi * c / 3), math.sin(2 * math.pi * c / 3)]
        np.testing.assert_allclose(X[y == c].mean(axis=0), centre, atol=0.03)
        np.testing.assert_allclose(X[y == c].std(axis=0), 0.25, atol=0.02)


def test_make_dataset_errors():
    msg = err(data.make_dataset, "circle")
    assert "unknown dataset 'circle'" in msg and "did you mean 'circles'" in msg and "spiral" in msg
    for bad in (1, 0, -5, 2.5, True, 2_000_000):
        assert "n_samples" in err(data.make_dataset, "moons", n_samples=bad)
    assert "n_samples" in err(data.make_dataset, "spiral", n_samples=3, n_classes=4)
    for bad in (-0.1, float("nan"), "0.1"):
        assert "noise" in err(data.make_dataset, "xor", noise=bad)
    msg = err(data.make_dataset, "circles", n_classes=3)
    assert "does not take" in msg and "factor" in msg
    assert "n_classes" in err(data.make_dataset, "blobs", n_classes=1)
    assert "factor" in err(data.make_dataset, "circles", factor=1.5)
    assert "seed" in err(data.make_dataset, "moons", seed=1.5)


def test_table_column_arrays_and_membership():
    """texts/missing/numbers give a column as the table holds it (no copy); ``in`` asks for a column."""
    t = data.read_csv("a,b,c\n1,x,2\n,y,z\n3.5,NA,4\n")
    assert "a" in t and "d" not in t and 3 not in t
    assert t.texts("b").tolist() == ["x", "y", None] and t.texts("b") is t.texts("b")
    assert t.missing("a").tolist() == [False, True, False] and t.missing("b").tolist() == [False, False, True]
    nums, bad = t.numbers("a")
    assert bad is None and nums[0] == 1.0 and np.isnan(nums[1]) and nums[2] == 3.5
    assert t.numbers("c") == (None, (1, "z"))       # the first value that is not a number: row 1 (0-based)
    with pytest.raises(ValueError, match="unknown column 'd'"):
        t.texts("d")
