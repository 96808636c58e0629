"""The Streamlit app against the one settings table (webapp/core/settings.py), through AppTest: for every row the
app shows, its widget (kind, label, help), its default, its range or options, and what a link does with a value
of it (kept when the row allows it, even between a control's steps or presets; dropped with the table's own note
otherwise). The same table drives the browser page (tests/static/test_static_browser.py)."""
import math
import pytest
from streamlit.testing.v1 import AppTest

from tests.apps.test_app import APP, TIMEOUT, labelled_csv, new_app, run, shown
from webapp.core import links as L
from webapp.core import session as S
from webapp.core import settings as T

ROWS = [s for s in T.SETTINGS.values() if "streamlit" in s.fronts]
WIDGET = {"radio": "radio", "select": "selectbox", "select_slider": "select_slider", "slider": "slider",
          "number": "number_input", "checkbox": "checkbox", "text": "text_input"}
# settings whose default comes from the data (None in the table): what the default data gives
DATA_DEFAULTS = {"arch": "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']", "loss": "bce", "target": "species",
                 "features": ["height", "weight", "colour"], "task": "auto"}


def _prerequisites(s):
    """Link settings that make row ``s`` apply (its ``when``), e.g. an exponential schedule for the decay."""
    need = {}
    for other, values in dict(s.when or {}).items():
        if T.SETTINGS[other].default not in values:
            need[other] = values[-1]
    return need


def _open(query=None, csv=None):
    """A new session opened at ``?query``; with ``csv``, that file uploaded (a CSV row's widgets need one)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = str(v)
    at = run(at)
    if csv is not None:
        at = run(at.file_uploader(key="csv_file").set_value(("data.csv", csv, "text/csv")))
    return at


def _csv_for(s):
    if not s.csv_only:
        return None
    if s.name == "drop_missing":      # its checkbox shows once a used column has missing values
        lines = labelled_csv().split(b"\n")
        lines[1] = b"," + lines[1].split(b",", 1)[1]
        return b"\n".join(lines)
    return labelled_csv()


def _widget(at, s):
    kind = WIDGET.get(s.control)
    if s.control == "file":
        kind = "multiselect" if s.kind == "columns" else "selectbox"
    return getattr(at, kind)(key=s.name)


def _shown_value(s, value):
    """The value a widget of ``s`` reports for the setting's ``value``."""
    if s.name == "task" and value is None:
        return "auto"
    return value


@pytest.mark.parametrize("s", [s for s in ROWS if s.control != "checks"], ids=lambda s: s.name)
def test_each_setting_has_its_widget_default_and_range(s):
    at = _open(_prerequisites(s), _csv_for(s))
    w = _widget(at, s)
    assert w.label == s.label and w.help == s.help, (w.label, w.help)
    default = DATA_DEFAULTS.get(s.name, s.default) if s.default is None else s.default
    assert w.value == _shown_value(s, default), (w.value, default)
    if s.control in ("slider", "number"):
        assert (w.min, w.max) == (s.lo, s.hi) and math.isclose(w.step, s.step)
    elif s.control == "select_slider":
        assert list(w.options) == [f"{v:g}" for v in s.presets]
    elif s.control in ("select", "radio") and s.kind in ("choice", "batch") and s.name != "loss":
        labels = s.labels() if s.kind == "choice" else {}
        want = s.allowed() if s.kind == "choice" else list(s.presets)
        assert list(w.options) == [labels.get(v, "full batch" if v == "full" else str(v)) for v in want]
    elif s.name == "loss":                      # the losses the output allows
        assert list(w.options) == S.loss_choices("sigmoid")
    elif s.name == "target":                    # the file's columns
        assert list(w.options) == ["height", "weight", "colour", "species"]
    elif s.name == "features":                  # the other columns
        assert list(w.options) == ["height", "weight", "colour"]
    elif s.name == "task":                      # detected, or one of the table's tasks
        assert w.options[0] == "auto (binary)" and list(w.options[1:]) == s.allowed()


def test_the_transform_checkboxes_are_the_tables_choices():
    s = T.SETTINGS["transforms"]
    at = _open()
    boxes = {b.key: b for b in at.checkbox if b.key.startswith("tf_")}
    assert {k: b.label for k, b in boxes.items()} == {f"tf_{k}": s.labels()[k] for k in s.allowed()}
    assert not any(b.value for b in boxes.values())            # default: none
    at = _open({"transforms": "x1^2,sin(x2)"})
    assert {b.key for b in at.checkbox if b.key.startswith("tf_") and b.value} == {"tf_x1^2", "tf_sin(x2)"}


def _odd_values(s):
    """(a value the row allows that is not on its control's steps or presets, values it does not allow)."""
    if s.kind == "int":
        return (s.lo + 1 if s.step == 1 else s.lo + s.step // 2 + 1), [s.lo - 1, s.hi + 1, "1.5", "x"]
    if s.kind == "float":
        inner = s.lo + (s.hi - s.lo) * 0.37 + s.step / 3 if not s.presets else 0.0002
        return round(inner, 6), [s.hi * 2 + 1, -1, "nan", "x"]
    if s.kind == "batch":
        return 7, [0, s.hi + 1, "half"]
    if s.kind == "choice":
        return None, ["no-such-" + s.name]
    return None, []


NUMERIC = [s for s in ROWS if s.kind in ("int", "float", "batch") and s.link]


@pytest.mark.parametrize("s", NUMERIC, ids=lambda s: s.name)
def test_a_links_value_is_kept_when_the_table_allows_it_and_dropped_with_its_note_otherwise(s):
    kept, bad = _odd_values(s)
    at = _open({**_prerequisites(s), s.name: kept}, _csv_for(s))
    w = _widget(at, s)
    assert not at.warning, [x.value for x in at.warning]
    assert w.value == kept and (s.control not in ("select", "select_slider") or len(w.options) > len(s.presets))
    got = at.query_params[s.name]
    assert (got[-1] if isinstance(got, list) else got) == T.format_value(s, T.parse(s, kept))   # so does the address
    for value in bad:
        note = L.decode({s.name: str(value)}).notes
        at = _open({**_prerequisites(s), s.name: value}, _csv_for(s))
        assert [shown(x) for x in at.warning] == ["From the link: " + n for n in note], value
        assert _widget(at, s).value == s.default                 # dropped: the default is used


@pytest.mark.parametrize("s", [s for s in ROWS if s.kind == "choice" and s.link and not s.csv_only],
                         ids=lambda s: s.name)
def test_an_unknown_choice_in_a_link_is_dropped_with_its_note(s):
    _, bad = _odd_values(s)
    for value in bad:
        at = _open({**_prerequisites(s), s.name: value})
        assert [shown(x) for x in at.warning] == ["From the link: " + n for n in L.decode({s.name: value}).notes]


def test_every_row_the_app_shows_has_a_test_here():
    shown_rows = {s.name for s in ROWS}
    assert shown_rows == set(T.SETTINGS) - {s.name for s in T.SETTINGS.values() if "streamlit" not in s.fronts}
    assert {"live", "source", "arch", "transforms", "target", "features", "task", "drop_missing"} <= shown_rows


def test_a_typed_value_out_of_range_is_never_called_a_link_value():
    """Streamlit's number boxes keep a typed value within the table's range themselves (0 epochs becomes the
    minimum, 1), so the core has nothing to refuse and no note speaks of a link; the page's boxes let any
    number through and show the core's note below the control (tests/static/test_static_browser.py)."""
    at = run(new_app().number_input(key="epochs").set_value(0))
    assert at.number_input(key="epochs").value == 1 and at.session_state["pg"].settings["epochs"] == 1
    assert not [w for w in at.warning if "link" in shown(w)] and not at.error
