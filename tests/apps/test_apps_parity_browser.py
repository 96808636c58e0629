"""The two front ends as one product, in Chromium: the browser page walked row by row against the core's settings
table, and the page beside a live Streamlit server (`streamlit run webapp/app.py` on a free 127.0.0.1 port): the
same default address, and the same result and notes for the same odd link values.

The page is the static site built offline and served on 127.0.0.1 (every other host blocked), as in
tests/static/test_static_browser.py.
"""
from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from tests._browser import browser, server, site  # noqa: F401 - fixtures
from tests._browser import browser_skip_reason, close_offline_context, offline_context, open_page
from webapp.core import links as L
from webapp.core import settings as T

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser
WAIT_MS = 30_000
FRONT = "browser"


@pytest.fixture(scope="module")
def static_url(server):
    return server.url


@pytest.fixture(scope="module")
def streamlit_url():
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    from tests._browser import StreamlitServer
    with StreamlitServer() as srv:
        yield srv.url


@pytest.fixture(scope="module")
def page(browser, static_url):
    """One page of the site for the walk through the table (links are opened by changing its fragment)."""
    ctx = offline_context(browser, viewport={"width": 1400, "height": 1000})
    pg = open_page(ctx, static_url, ready=True)
    yield pg
    assert not pg.errors, pg.errors
    close_offline_context(ctx)


# ---------------------------------------------------------------- what a control of the page shows

# For a setting's name: is its control shown, the value it shows (as the core sent it: numbers stay numbers),
# its bounds and its options.
CONTROL_JS = r"""
(name) => {
  const wrap = document.querySelector(`[data-setting="${name}"]`);
  if (!wrap) return null;
  const out = {shown: !wrap.hidden, kind: null, value: null, min: null, max: null, options: null};
  const select = wrap.querySelector("select");
  const boxes = [...wrap.querySelectorAll("input[type=checkbox]")];
  const radios = [...wrap.querySelectorAll("input[type=radio]")];
  const number = wrap.querySelector("input[type=number]");
  const range = wrap.querySelector("input[type=range]");
  const text = wrap.querySelector("input[type=text]");
  if (select) {
    out.kind = "select";
    out.options = [...select.options].map((o) => JSON.parse(o.dataset.value));
    out.value = select.selectedOptions[0] ? JSON.parse(select.selectedOptions[0].dataset.value) : undefined;
  } else if (radios.length) {
    out.kind = "radio";
    out.options = radios.map((r) => r.value);
    out.value = (radios.find((r) => r.checked) || {}).value;
  } else if (number) {
    out.kind = range ? "slider" : "number";
    out.value = number.value === "" ? null : Number(number.value);
    out.min = number.min === "" ? null : Number(number.min);
    out.max = number.max === "" ? null : Number(number.max);
    if (range) out.range = [Number(range.min), Number(range.max)];
  } else if (text) {
    out.kind = "text";
    out.value = text.value;
  } else if (boxes.length === 1 && !wrap.matches("fieldset")) {
    out.kind = "checkbox";
    out.value = boxes[0].checked;
  } else {
    out.kind = "checks";
    out.options = boxes.map((b) => b.value);
    out.value = boxes.filter((b) => b.checked).map((b) => b.value);
  }
  return out;
}
"""


def _control(page, name):
    return page.evaluate(CONTROL_JS, name)


def _open(page, fragment):
    """Open ``fragment`` in the page (a link pasted into the tab); wait until the core's view of it is drawn."""
    before = int(page.evaluate("document.body.dataset.urlSynced || 0"))
    page.evaluate("(f) => { location.hash = f; }", fragment)
    page.wait_for_function(f"Number(document.body.dataset.urlSynced || 0) > {before}", timeout=WAIT_MS)


def _notes(page):
    return [n for n in page.inner_text("#link-notes").split("\n") if n] if page.is_visible("#link-notes") else []


def _rows():
    return [s for s in T.SETTINGS.values() if FRONT in s.fronts]


def _same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


# Values a link may hold that the table allows (and none of its presets), per setting; a link of them is
# consistent (the architecture fits the moons with one extra input, the loss fits a sigmoid output).
KEPT = {"source": "builtin", "dataset": "moons", "n_samples": 30, "noise": 0.37, "data_seed": 11,
        "test_size": 0.35, "transforms": ["sin(x2)"], "arch": "[3, 5, 'tanh', 1, 'sigmoid']", "loss": "mse",
        "optimizer": "nadam", "learning_rate": 5.0, "epochs": 7, "batch_size": 7, "lr_schedule": "exponential",
        "lr_decay": 0.685, "weight_decay": 0.002, "l1": 0.0005, "dropout": 0.15, "validation_split": 0.05,
        "early_stopping": 3, "seed": 5}


def _bad(s):
    """A value of setting ``s`` a link cannot use (link text)."""
    if s.kind in ("int", "float"):
        return str(s.hi + 1 if s.kind == "int" else s.hi * 2 + 1)
    if s.kind == "batch":
        return "0"
    if s.kind == "arch":
        return "[2, oops"
    if s.kind == "bool":
        return "maybe"
    return "nope"


def test_the_table_covers_every_control_of_the_page(page):
    """Every row has its control in the page (built from the table: none is typed in the HTML), with the row's
    label and help; the page has no setting control the table does not have."""
    names = [s.name for s in _rows()]
    on_page = page.eval_on_selector_all("[data-setting]", "els => els.map((e) => e.dataset.setting)")
    assert sorted(set(on_page)) == sorted(names)
    for s in _rows():
        wrap = page.locator(f"[data-setting='{s.name}']")
        assert wrap.count() == 1, s.name
        assert s.label in wrap.inner_text() and wrap.get_attribute("title") == s.help, s.name
    html = (ROOT / "static" / "index.html").read_text()
    for s in _rows():
        assert f'id="{s.name}"' not in html, s.name


def test_every_control_shows_its_default_range_and_options(page):
    """At the default address: each row that applies shows its default (the data's architecture and loss for
    the rows whose default is chosen from the data), within the row's range, with the row's options; the rows
    that do not apply (a CSV's columns, the decay of another schedule, the classes of two-class data) are
    hidden."""
    _open(page, L.encode({}) or "source=builtin")
    defaults = T.defaults()
    arch = page.input_value("#arch")
    for s in _rows():
        c = _control(page, s.name)
        assert c is not None, s.name
        applies = s.applies(defaults) and not (s.control == "file")
        assert c["shown"] == applies, (s.name, c)
        if not applies:
            continue
        want = {"arch": arch, "loss": "bce"}.get(s.name, s.default)
        assert _same(c["value"], want), (s.name, c["value"], want)
        if c["kind"] in ("number", "slider"):
            assert c["min"] == (None if s.lo_open else s.lo) and c["max"] == (None if s.hi_open else s.hi), s.name
            if c["kind"] == "slider":
                assert c["range"] == [s.lo, s.hi], s.name
        if s.control in ("select", "select_slider", "radio", "checks") and s.name != "loss":
            assert c["options"] == (s.allowed() if s.kind in ("choice", "list") else list(s.presets)), s.name
    assert _control(page, "loss")["options"] == ["bce", "mse", "mae", "huber"]   # those a sigmoid output allows


def test_every_allowed_link_value_is_kept_and_shown(page):
    """A link of allowed values that are none of the presets (learning_rate=5, n_samples=30, batch_size=7...):
    every value is kept, no note, and each control shows it (a select gains the value as an option)."""
    assert set(KEPT) == {s.name for s in _rows() if s.link and not s.csv_only and s.applies(KEPT)}
    fragment = L.encode(KEPT)
    assert L.decode(fragment).settings == KEPT and not L.decode(fragment).notes
    _open(page, fragment)
    assert _notes(page) == []
    for name, want in KEPT.items():
        c = _control(page, name)
        assert c["shown"], name
        assert _same(c["value"], want) if not isinstance(want, list) else c["value"] == want, (name, c, want)
        if c["kind"] == "select" and name not in ("dataset", "loss", "optimizer", "lr_schedule"):
            assert want in c["options"], (name, c["options"])
    assert dict(parse_qsl(page.evaluate("location.hash")[1:], keep_blank_values=True)) == \
        dict(parse_qsl(fragment, keep_blank_values=True))
    # the rows that apply only with other values: the classes of the spiral
    _open(page, "dataset=spiral&n_classes=5")
    assert _notes(page) == [] and _control(page, "n_classes")["value"] == 5


@pytest.mark.parametrize("chunk", [0, 1])
def test_every_bad_link_value_is_dropped_with_its_note_and_the_default_shown(page, chunk):
    """One bad value per setting (out of range, unknown choice, a CSV's column with a built-in dataset, a view
    setting a link does not carry): each is dropped with the one note the core writes for it, naming the
    setting, and the control shows the default."""
    rows = [s for s in _rows()][chunk::2]
    bad = {s.name: _bad(s) for s in rows}
    fragment = "&".join(f"{k}={quote(v)}" for k, v in bad.items())
    want = L.decode(fragment).notes
    assert len(want) == len(bad) <= T.MAX_NOTES
    for s in rows:
        assert any(f"'{s.name}=" in n for n in want), s.name
    _open(page, fragment)
    assert _notes(page) == want
    defaults = T.defaults()
    for s in rows:
        c = _control(page, s.name)
        if s.applies(defaults) and s.control != "file" and s.default is not None:
            assert c["shown"] and _same(c["value"], s.default), (s.name, c)


# ---------------------------------------------------------------- the page beside the Streamlit app

def _streamlit(browser, url, query=""):
    """A Streamlit session opened on ``query``: (its address's settings, its notes from the link)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(WAIT_MS)
    pg = ctx.new_page()
    try:
        pg.goto(url + ("?" + query if query else ""))
        pg.get_by_role("button", name="Train", exact=True).wait_for()
        pg.wait_for_function("() => location.search.includes('dataset=')")
        pg.wait_for_function("() => !document.querySelector('[data-stale=true]')")
        address = dict(parse_qsl(urlsplit(pg.url).query, keep_blank_values=True))
        notes = [n.removeprefix("From the link: ").strip()
                 for n in pg.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()]
        return address, [n for n in notes if n.startswith("Ignored")]
    finally:
        ctx.close()


def _page(browser, url, fragment=""):
    """The browser page opened on ``fragment``: (its address's settings, its notes from the link)."""
    ctx = offline_context(browser, viewport={"width": 1400, "height": 1000})
    try:
        pg = open_page(ctx, url + ("#" + fragment if fragment else ""), ready=True)
        address = dict(parse_qsl(pg.evaluate("location.hash")[1:], keep_blank_values=True))
        return address, _notes(pg)
    finally:
        close_offline_context(ctx)


def test_both_apps_open_on_the_same_default_address(browser, static_url, streamlit_url):
    st_address, st_notes = _streamlit(browser, streamlit_url)
    page_address, page_notes = _page(browser, static_url)
    assert page_address == st_address and not st_notes and not page_notes
    assert L.decode(page_address).settings["epochs"] == T.SETTINGS["epochs"].default


ODD = "learning_rate=5&n_samples=30&batch_size=7&test_size=0.9&epochs=0&dataset=unknown&lr_schedule=cosine&dropout=0.95"


def test_the_same_odd_link_gives_the_same_result_and_notes_in_both_apps(browser, static_url, streamlit_url):
    """Kept (learning_rate=5, n_samples=30, batch_size=7, the cosine schedule) or dropped with the same note
    (test_size=0.9, epochs=0, an unknown dataset, dropout=0.95), the same way in both apps: the same settings
    in the address, the same sentences on the page."""
    st_address, st_notes = _streamlit(browser, streamlit_url, ODD)
    page_address, page_notes = _page(browser, static_url, ODD)
    assert page_address == st_address
    assert sorted(page_notes) == sorted(st_notes) and len(page_notes) == 4, (page_notes, st_notes)
    kept = L.decode(page_address).settings
    assert (kept["learning_rate"], kept["n_samples"], kept["batch_size"], kept["lr_schedule"]) == (5.0, 30, 7,
                                                                                                    "cosine")
    for key in ("test_size", "epochs", "dataset", "dropout"):
        assert kept[key] == T.SETTINGS[key].default, key
        assert any(n.startswith(f"Ignored '{key}=") for n in page_notes), key
