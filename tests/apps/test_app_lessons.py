"""The Streamlit app's Lessons and Race optimizers tabs and its Gradient flow chart (AppTest, real engine)."""
import pytest

from tests.apps.test_app import errors, new_app, pg, plotly_titles, run, shown, train
from webapp.core import lessons as LS
from webapp.core import session as S

LESSONS = LS.load_lessons()


@pytest.fixture
def app():
    return new_app()


def _lesson_buttons(at):
    return [b for b in at.button if str(b.key).startswith("lesson_") and str(b.key)[7:].isdigit()]


def test_lessons_listed_with_numbers(app):
    assert [t.label for t in app.tabs][:3] == ["Train & results", "Lessons", "Race optimizers"]
    labels = [b.label for b in _lesson_buttons(app)]
    assert len(labels) >= 8 and labels == [le.label for le in LESSONS]
    assert all(label.startswith(f"{i} · ") for i, label in enumerate(labels, 1))


def test_open_xor_show_solution_train_reaches_the_goal(app):
    at = run(app.button(key="lesson_2").click())
    assert at.query_params["dataset"] == ["xor"] or at.query_params["dataset"] == "xor"
    assert at.text_input(key="arch").value == "[2, 1, 'sigmoid']"
    texts = [shown(m) for m in at.markdown]
    assert any(t.startswith("**Goal: test accuracy ≥ 0.95") for t in texts)
    assert LESSONS[1].text in [m.value for m in at.markdown]                   # the lesson's text, formulas too
    assert [h.label for h in at.expander if h.label == "Hints"]
    train(at)
    acc = S.evaluate(pg(at).model(), pg(at).prepared())["test"]["accuracy"]
    assert f"Not yet: test accuracy is {acc:.3g}; the goal is at least 0.95." in [shown(w) for w in at.warning]
    at = run(at.button(key="lesson_solution").click())
    assert at.text_input(key="arch").value == "[2, 4, 'tanh', 1, 'sigmoid']" and pg(at).result() is None
    train(at)
    assert [s.value for s in at.success].count("Goal reached") == 2          # in Train & results and in Lessons
    assert "2 · XOR needs a hidden layer ✓" in [b.label for b in _lesson_buttons(at)]
    assert not errors(at)


def test_race_draws_both_charts(app):
    at = run(app.select_slider(key="learning_rate").set_value(0.01))
    at = run(at.number_input(key="epochs").set_value(10)) if at.number_input(key="epochs") else at
    assert at.multiselect(key="race_pick_0").value == ["sgd", "sgd_momentum", "rmsprop", "adam"]
    at = run(at.multiselect(key="race_pick_0").set_value(["sgd", "adam"]))
    at = run(at.button(key="race").click())
    titles = plotly_titles(at)
    assert "Optimizer race" in titles and "Loss landscape" in titles
    assert [n.split(" (lr")[0] for n in titles["Optimizer race"]] == ["SGD", "Adam"]
    assert list(pg(at).last_race()[0].optimizers) == ["sgd", "adam"] and not errors(at)
    assert not [w for w in at.warning if "earlier settings" in shown(w)]


def _stale(at):
    return [shown(w) for w in at.warning if "earlier settings" in shown(w)]


def test_race_charts_are_marked_once_the_settings_change(app):
    at = run(app.number_input(key="epochs").set_value(10))
    at = run(at.multiselect(key="race_pick_0").set_value(["sgd", "adam"]))
    at = run(at.button(key="race").click())
    assert "Optimizer race" in plotly_titles(at) and not _stale(at)
    # a setting the race reads: the charts stay, marked as from earlier settings, with what changed
    at = run(at.select_slider(key="learning_rate").set_value(0.01))
    assert _stale(at) == ["These race charts are from earlier settings (Learning rate: 0.0001 → 0.01). Press Race "
                          "optimizers to race the current ones."]
    titles = plotly_titles(at)
    assert "Optimizer race · earlier settings" in titles and "Loss landscape · earlier settings" in titles
    # back to the race's settings: current again; the optimizers picked count too
    at = run(at.select_slider(key="learning_rate").set_value(0.0001))
    assert not _stale(at) and "Optimizer race" in plotly_titles(at)
    at = run(at.multiselect(key="race_pick_0").set_value(["sgd", "adam", "rmsprop"]))
    assert _stale(at) == ["These race charts are from earlier settings (Optimizers: SGD, Adam → SGD, RMSprop, "
                          "Adam). Press Race optimizers to race the current ones."]
    # racing again draws the current race, unmarked
    at = run(at.button(key="race").click())
    assert not _stale(at) and [n.split(" (lr")[0] for n in plotly_titles(at)["Optimizer race"]] == \
        ["SGD", "Adam", "RMSprop"]
    # a setting the race does not read (the optimizer of Train, early stopping) leaves it current
    at = run(at.selectbox(key="optimizer").set_value("sgd"))
    assert not _stale(at) and not errors(at)


def test_gradient_flow_after_train(app):
    assert "Gradient flow" not in plotly_titles(app)
    at = run(app.select_slider(key="learning_rate").set_value(0.01))
    train(at)
    names = list(dict.fromkeys(n for n in plotly_titles(at)["Gradient flow"] if n))   # (top and bottom plots)
    assert [n.split(" (")[0] for n in names] == ["layer 1", "layer 2", "layer 3"]
    assert names[0].startswith("layer 1 (hidden 1, relu)") and names[2] == "layer 3 (output, sigmoid)"
