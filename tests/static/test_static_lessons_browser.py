"""The page's Lessons, Race optimizers and Gradient flow in real Chromium (the static site built offline with the
local Pyodide, served on 127.0.0.1, every other host blocked), and the same lessons in the Streamlit app.

Independent truths: the lesson files themselves (titles, order, goals), the model downloaded from the page
evaluated natively on the lesson's data, and a live Streamlit server's Lessons tab.
"""
from __future__ import annotations

import re

import pytest

from tests._browser import (click_and_wait, close_offline_context, download_model, offline_context, open_page,
                            train_in_page, wait_ready)
from tests._browser import browser, server, site  # noqa: F401 - fixtures
from webapp.core import lessons as LS

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
ENTRY = re.compile(r"^(\d+) · (.+?)(?: ✓)?$")


@pytest.fixture(scope="module")
def ctx(browser):
    context = offline_context(browser, accept_downloads=True, viewport={"width": 1400, "height": 1000})
    yield context
    close_offline_context(context)


@pytest.fixture(scope="module")
def page(ctx, server):
    pg = open_page(ctx, server.url)
    yield pg
    assert not pg.errors, pg.errors


def _count(page, name):
    return int(page.evaluate(f"Number(document.body.dataset.{name} || 0)"))


def _lessons_ready(page):
    wait_ready(page)
    page.wait_for_function("Number(document.body.dataset.lessons || 0) > 0", timeout=WAIT_MS)


def _entries(page):
    return [t.strip() for t in page.locator("#lesson-list button").all_inner_texts()]


def _entry(page, number):
    return page.locator(f"#lesson-list button[data-number='{number}']")


def _lesson(slug):
    return next(le for le in LS.load_lessons() if le.slug == slug)


def _open(page, number):
    click_and_wait(page, f"#lesson-list button[data-number='{number}']", "lessonShown")


def _train_checked(page):
    """Train, and wait until the lesson's goal has been checked (after the run's result is drawn)."""
    before = _count(page, "lessonChecked")
    train_in_page(page)
    page.wait_for_function(f"Number(document.body.dataset.lessonChecked || 0) > {before}", timeout=WAIT_MS)
    return page.inner_text("#lesson-status")


def test_lessons_are_listed_numbered_in_the_files_order(page):
    _lessons_ready(page)
    lessons = LS.load_lessons()
    entries = _entries(page)
    assert len(entries) >= 8 and len(entries) == len(lessons), entries
    parsed = [ENTRY.match(e) for e in entries]
    assert all(parsed), entries
    assert [int(m.group(1)) for m in parsed] == list(range(1, len(lessons) + 1))
    assert [m.group(2) for m in parsed] == [le.title for le in lessons]
    assert page.get_by_role("heading", name="Lessons", exact=True).is_visible()
    assert page.is_hidden("#lesson")


def test_the_xor_lesson_loads_its_setup_and_its_solution_reaches_the_goal(page, ctx, server, tmp_path):
    import mlp
    from webapp.core import session
    from webapp.core.playground import Playground
    xor = _lesson("02-xor")
    _lessons_ready(page)
    _open(page, xor.number)
    # its setup is in the controls and the address; its text, goal and formulas are shown
    assert "dataset=xor" in page.url, page.url
    assert page.input_value("#dataset") == "xor"
    assert page.inner_text("#lesson-title") == xor.label
    assert page.inner_text("#lesson-goal") == xor.goal_line and xor.goal_line.startswith("Goal:")
    assert page.locator("#lesson-text .katex").count() == len(LS.formulas(xor.text))
    assert "$" not in page.inner_text("#lesson-text")
    assert page.inner_text("#lesson-status") == "Train to check the goal"
    # the setup alone does not reach the goal, and says why
    status = _train_checked(page)
    assert status.startswith("Not yet: test accuracy is ") and "the goal is at least 0.95" in status, status
    assert "test_accuracy" not in status and ">=" not in status, status
    assert "✓" not in page.inner_text(f"#lesson-list button[data-number='{xor.number}']")
    # Show solution loads the solution's settings; Train reaches the goal: "Goal reached" and a ✓
    click_and_wait(page, "#show-solution", "lessonShown")
    solution = LS.lesson_settings(xor, "solution")
    assert page.input_value("#arch") == solution["arch"]
    assert page.inner_text("#epoch-counter") == "Epoch 0"
    assert _train_checked(page) == "Goal reached"
    assert _entries(page)[xor.number - 1] == f"{xor.label} ✓"
    # independent truth: the page's model, evaluated natively on the solution's data, meets the goal
    model = download_model(page, tmp_path)
    pg = Playground()
    pg.open_link(xor.solution)
    met, details = LS.check_goal(xor, model, pg.prepared(), model.history)
    assert met, details
    assert session.evaluate(model, pg.prepared())["test"]["accuracy"] >= 0.95
    assert isinstance(model, mlp.MLP)
    # the progress stays in this browser: a reload (a new visit) still shows the ✓, on that lesson only
    page.reload()
    _lessons_ready(page)
    entries = _entries(page)
    assert entries[xor.number - 1] == f"{xor.label} ✓"
    assert sum("✓" in e for e in entries) == 1, entries
    # a new tab of the same browser too (localStorage), and the lesson is not open there
    other = ctx.new_page()
    other.goto(server.url)
    _lessons_ready(other)
    assert _entries(other)[xor.number - 1] == f"{xor.label} ✓" and other.is_hidden("#lesson")
    other.close()


def _chart_titles(page, selector):
    return page.eval_on_selector_all(f"{selector} .gtitle", "els => els.map(e => e.textContent)")


def test_race_optimizers_draws_the_race_and_the_landscape(ctx, server):
    import mlp
    from webapp.core import charts_learn
    from webapp.core.playground import Playground
    page = ctx.new_page()
    page.goto(server.url)
    _lessons_ready(page)
    checked = page.eval_on_selector_all("#race-optimizers input:checked", "els => els.map(e => e.value)")
    assert sorted(checked) == sorted(mlp.RACE_OPTIMIZERS)
    click_and_wait(page, "#race", "raced")
    assert _chart_titles(page, "#race-chart")[0].startswith("Optimizer race")
    assert _chart_titles(page, "#landscape-chart")[0].startswith("Loss landscape")
    assert "projection" in page.inner_text("#landscape-chart").lower()
    assert page.locator("#race-chart .scatterlayer .trace").count() >= 4
    assert page.locator("#landscape-chart .contourlayer, #landscape-chart .contour").count() > 0
    seconds = page.evaluate("window.mlpTimings.lastRace.seconds")
    print(f"\nrace in the browser (default settings, 4 optimizers): {seconds:.2f} s")
    # independent truth: the same race run natively by the core on the same settings (the default address)
    want = Playground().race()
    status = page.inner_text("#race-status")
    assert status.startswith(f"{want['epochs']} epochs each"), status
    for row in want["summary"]:
        label = charts_learn.OPTIMIZER_LABELS[row["optimizer"]]
        shown = re.search(rf"{re.escape(label)}: loss ([-\d.e+]+)", status)
        assert shown, (row, status)
        assert float(shown.group(1)) == pytest.approx(row["final_loss"], rel=2e-3), (row, status)
    # the picker: two optimizers race, two curves
    page.uncheck("#race-optimizers input[value=sgd_momentum]")
    page.uncheck("#race-optimizers input[value=rmsprop]")
    click_and_wait(page, "#race", "raced")
    legend = " | ".join(page.eval_on_selector_all("#race-chart .legendtext", "els => els.map(e => e.textContent)"))
    assert "SGD" in legend and "Adam" in legend and "RMSprop" not in legend and "momentum" not in legend
    # a setting the race reads changes: the charts stay, marked by the core as from earlier settings
    assert page.is_hidden("#race-stale")
    _race_checked(page, lambda: page.select_option("#dataset", "moons"))
    assert page.inner_text("#race-stale") == ("These race charts are from earlier settings (Dataset: circles → "
                                              "moons). Press Race optimizers to race the current ones.")
    assert _chart_titles(page, "#race-chart")[0] == "Optimizer race · earlier settings"
    assert _chart_titles(page, "#landscape-chart")[0].startswith("Loss landscape · earlier settings")
    _race_checked(page, lambda: page.select_option("#dataset", "circles"))     # the race's settings again
    assert page.is_hidden("#race-stale") and _chart_titles(page, "#race-chart")[0] == "Optimizer race"
    _race_checked(page, lambda: page.check("#race-optimizers input[value=rmsprop]"))   # the optimizers count too
    assert "Optimizers: SGD, Adam → SGD, RMSprop, Adam" in page.inner_text("#race-stale")
    click_and_wait(page, "#race", "raced")
    assert page.is_hidden("#race-stale") and _chart_titles(page, "#race-chart")[0] == "Optimizer race"
    page.close()


def _race_checked(page, action):
    """Do ``action`` and wait until the page has asked the core whether the race shown is still current."""
    before = _count(page, "raceChecked")
    action()
    page.wait_for_function(f"Number(document.body.dataset.raceChecked || 0) > {before}", timeout=WAIT_MS)


def test_the_race_lesson_is_checked_by_a_race(ctx, server):
    race_lesson = next(le for le in LS.load_lessons() if le.race)
    page = ctx.new_page()
    page.goto(server.url)
    _lessons_ready(page)
    _open(page, race_lesson.number)
    assert page.is_visible("#lesson-race-note")
    checked = page.eval_on_selector_all("#race-optimizers input:checked", "els => els.map(e => e.value)")
    assert sorted(checked) == sorted(race_lesson.race)
    assert page.inner_text("#lesson-status") == "Race optimizers to check the goal"
    click_and_wait(page, "#show-solution", "lessonShown")
    before = _count(page, "lessonChecked")
    click_and_wait(page, "#race", "raced")
    page.wait_for_function(f"Number(document.body.dataset.lessonChecked || 0) > {before}", timeout=WAIT_MS)
    assert page.inner_text("#lesson-status") == "Goal reached"
    assert "✓" in page.inner_text(f"#lesson-list button[data-number='{race_lesson.number}']")
    page.close()


def test_gradient_flow_appears_after_train(ctx, server):
    page = ctx.new_page()
    page.goto(server.url)
    _lessons_ready(page)
    assert not any(t.startswith("Gradient flow") for t in _chart_titles(page, "#extra-charts"))
    train_in_page(page)
    titles = _chart_titles(page, "#extra-charts")
    assert any(t.startswith("Gradient flow") for t in titles), titles
    chart = page.locator("#extra-charts .chart[data-name=gradient_flow]")
    assert chart.locator(".scatterlayer .trace").count() >= 3     # one curve per dense layer (3 by default)
    page.close()


def test_the_streamlit_app_lists_the_same_lessons_in_the_same_order(ctx, server, browser):
    from tests._browser import StreamlitServer   # (i16web moves it there)
    page = ctx.new_page()
    page.goto(server.url)
    _lessons_ready(page)
    ours = [ENTRY.match(e).group(0) for e in _entries(page)]
    page.close()
    with StreamlitServer() as srv:
        st_ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        st = st_ctx.new_page()
        st.goto(srv.url)
        st.get_by_role("tab", name="Lessons").click()
        first = st.get_by_role("button", name=re.compile(r"^1 · "))
        first.wait_for(timeout=WAIT_MS)
        texts = [t.strip() for t in st.get_by_role("button").all_inner_texts()]
        st_ctx.close()
    theirs = [t for t in texts if re.match(r"^\d+ · ", t)]
    strip = lambda e: ENTRY.match(e).group(2)   # noqa: E731
    assert [ENTRY.match(e).group(1) for e in theirs] == [ENTRY.match(e).group(1) for e in ours], (theirs, ours)
    assert [strip(e) for e in theirs] == [strip(e) for e in ours], (theirs, ours)
