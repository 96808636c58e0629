"""Property-based tests for mlp.data (hypothesis)."""

import csv
import io
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlp import data
from mlp.data._cells import clean_cell

SETTINGS = settings(
    max_examples=int(os.environ.get("MLP_HYPOTHESIS_EXAMPLES", "60")), deadline=None, database=None
)

# printable text without control characters or surrogates
cell_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
name_text = cell_text.map(str.strip).filter(bool)


def expected_cell(s):
    s = s.strip()
    return None if s in data.MISSING_VALUES or s.lower() in ("nan", "-nan", "+nan") else s


@st.composite
def string_tables(draw):
    names = draw(st.lists(name_text, min_size=1, max_size=5, unique=True).filter(lambda n: "id" not in n))
    n_rows = draw(st.integers(1, 8))
    rows = [[str(i)] + draw(st.lists(cell_text, min_size=len(names), max_size=len(names))) for i in range(n_rows)]
    return ["id"] + names, rows


@SETTINGS
@given(string_tables(), st.sampled_from(["str", "bytes", "bytesio"]))
def test_csv_writer_output_reads_back_equal(table, kind):
    columns, rows = table
    buf = io.StringIO()
    csv.writer(buf).writerows([columns] + rows)
    text = buf.getvalue()
    src = {"str": text, "bytes": text.encode("utf-8"), "bytesio": io.BytesIO(text.encode("utf-8"))}[kind]
    t = data.read_csv(src)
    assert t.columns == columns
    assert t.rows == [tuple(expected_cell(c) for c in r) for r in rows]


finite = st.floats(allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.lists(st.tuples(finite, st.integers(-10**6, 10**6)), min_size=1, max_size=20))
def test_numbers_round_trip_exactly_through_csv(pairs):
    t = data.Table.from_rows(pairs, ["f", "i"])
    back = data.read_csv(data.to_csv(t))
    assert back == t
    assert back.numeric_column("f").tolist() == [p[0] for p in pairs]
    assert back.numeric_column("i").tolist() == [float(p[1]) for p in pairs]


def canonical_labels(values):
    """Independent statement of the label rule: numeric columns use the number's text."""
    nums = [float(v) if _is_number(v) else None for v in values]
    if all(f is not None for f in nums):
        return [str(int(f)) if f == int(f) and abs(f) < 2**53 else repr(f) for f in nums], sorted(set(nums))
    return list(values), None


def _is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


label_text = name_text.filter(lambda s: clean_cell(s) is not None).filter(
    lambda s: not _is_number(s) or np.isfinite(float(s))
)


@SETTINGS
@given(st.lists(label_text | st.integers(-3, 3).map(str), min_size=2, max_size=40))
def test_label_encoding_is_invertible(labels):
    t = data.Table.from_rows([[float(i), lab] for i, lab in enumerate(labels)], ["x", "y"])
    expected, numeric_order = canonical_labels(t.column("y"))
    if len(set(expected)) < 2:
        t = data.Table.from_rows([[0.0, "other"]] + [[float(i), lab] for i, lab in enumerate(labels)], ["x", "y"])
        expected, numeric_order = canonical_labels(t.column("y"))
    task = "binary" if len(set(expected)) == 2 else "multiclass"
    pre = data.Preprocessor(["x"], "y", task=task).fit(t)
    if numeric_order is None:
        assert pre.class_names == sorted(set(expected))
    else:
        assert [float(c) for c in pre.class_names] == numeric_order
    y = pre.transform_y(t)
    if task == "binary":
        assert pre.inverse_y(y) == expected
    else:
        assert pre.inverse_y(np.eye(pre.n_outputs)[y]) == expected
        assert pre.inverse_y(y) == expected
    again = data.Preprocessor.from_config(pre.to_config())
    np.testing.assert_array_equal(again.transform_y(t), y)


@SETTINGS
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=50),
)
def test_standardised_training_columns(xs):
    t = data.Table.from_rows([[x, i % 2] for i, x in enumerate(xs)], ["x", "y"])
    pre = data.Preprocessor(["x"], "y", task="binary").fit(t)
    X = pre.transform_X(t).ravel()
    assert abs(X.mean()) < 1e-6
    assert abs(X.std() - 1) < 1e-6 or np.allclose(X, 0, atol=1e-6)


@SETTINGS
@given(st.integers(2, 200), st.floats(0.01, 0.99), st.integers(0, 1000))
def test_split_is_a_partition(n, frac, seed):
    idx = np.arange(n)
    tr, te = data.train_test_split(idx, test_size=frac, seed=seed)
    assert len(tr) >= 1 and len(te) >= 1
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(n))
    tr2, te2 = data.train_test_split(idx, test_size=frac, seed=seed)
    np.testing.assert_array_equal(te, te2)
