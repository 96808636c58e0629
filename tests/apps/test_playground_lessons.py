"""The core's lessons, optimizer race and gradient flow (webapp.core.playground.Playground): what both apps
show, checked against the lesson files, the settings table and the engine."""
import json

import numpy as np
import pytest

import mlp
from webapp.core import lessons as LS
from webapp.core import links as L
from webapp.core import settings as T
from webapp.core.playground import RACE_MAX_EPOCHS, RACE_MAX_STEPS, Playground

LESSONS = LS.load_lessons()
XOR = LESSONS[1]
RACE = next(le for le in LESSONS if le.race)


def _train(pg):
    pg.train()
    while pg.running:
        pg.advance(60)
    return pg.result()


@pytest.fixture
def pg():
    p = Playground()
    p.update({"live": False})
    return p


def test_lessons_listed_with_numbers(pg):
    rows = pg.lessons()
    assert [r["number"] for r in rows] == list(range(1, len(LESSONS) + 1)) and len(rows) >= 8
    assert [r["label"] for r in rows] == [f"{le.number} · {le.title}" for le in LESSONS]
    assert rows[1]["label"] == "2 · XOR needs a hidden layer"
    assert not any(r["done"] or r["open"] for r in rows) and all(r["entry"] == r["label"] for r in rows)
    json.dumps(rows)


def test_open_lesson_applies_the_defaults_then_its_setup(pg):
    pg.update({"dataset": "spiral", "epochs": 7, "weight_decay": 0.1, "optimizer": "sgd"})
    _train(pg)
    view = pg.open_lesson(2)
    assert pg.result() is None                                   # the shown run is cleared
    want = {**T.defaults(), **LS.lesson_settings(XOR)}
    got = pg.settings
    assert {k: got[k] for k in want if k not in ("arch", "live")} == \
        {k: want[k] for k in want if k not in ("arch", "live")}
    assert got["weight_decay"] == 0.0 and got["optimizer"] == "adam"       # the earlier settings are gone
    assert pg.arch_text() == "[2, 1, 'sigmoid']" and got["live"] is False  # (live is no lesson's business)
    assert "dataset=xor" in pg.address() and L.decode(pg.address()).settings["dataset"] == "xor"
    assert view == pg.lesson()
    assert view["number"] == 2 and view["label"] == XOR.label and view["goal"] == "Goal: " + XOR.goal
    assert view["markdown"] == XOR.text and view["html"] == LS.markdown_html(XOR.text)
    assert view["hints"] == list(XOR.hints) and len(view["hints_html"]) == len(XOR.hints)
    assert view["race"] is False and view["status"] == {"met": False, "checked": False, "details": [],
                                                        "message": "Train to check the goal"}
    assert [r["open"] for r in pg.lessons()] == [r["number"] == 2 for r in pg.lessons()]
    json.dumps(view)
    for bad in (0, len(LESSONS) + 1, "x", None, True, 2.5):
        with pytest.raises(ValueError, match="There is no lesson"):
            pg.open_lesson(bad)


def test_the_goal_is_checked_after_a_run_and_the_solution_reaches_it(pg):
    with pytest.raises(ValueError, match="Open a lesson first"):
        pg.show_solution()
    pg.open_lesson(2)
    res = _train(pg)                                             # the setup: one neuron cannot do XOR
    status = res["lesson"]["status"]
    assert status["checked"] and not status["met"]
    from webapp.core import session as S
    acc = S.evaluate(pg.model(), pg.prepared())["test"]["accuracy"]             # the run's own number, in words
    assert status["message"] == f"Not yet: test accuracy is {acc:.3g}; the goal is at least 0.95.", status
    assert pg.lesson()["status"] == status and not pg.lessons()[1]["done"]
    view = pg.show_solution()
    assert not view["status"]["checked"] and pg.result() is None
    assert pg.arch_text() == "[2, 4, 'tanh', 1, 'sigmoid']" and "dataset=xor" in pg.address()
    res = _train(pg)
    assert res["lesson"]["status"]["met"] and res["lesson"]["status"]["message"] == "Goal reached"
    assert res["lesson"]["done"] and pg.lessons()[1]["done"] and pg.lessons()[1]["entry"] == XOR.label + " ✓"
    # the status is the lesson module's own check of that run
    met, details = LS.check_goal(XOR, pg.model(), pg.data_of(), pg.history())
    assert met and res["lesson"]["status"]["details"] == json.loads(json.dumps(details))
    pg.close_lesson()
    assert pg.lesson() is None and _train(pg)["lesson"] is None and pg.lessons()[1]["done"]


def test_progress_round_trip(pg):
    assert json.loads(pg.progress()) == {"done": []}
    rows = pg.set_progress('{"done": [1, 3]}')
    assert [r["number"] for r in rows if r["done"]] == [1, 3]
    assert rows[0]["entry"] == LESSONS[0].label + " ✓"
    other = Playground()
    other.set_progress(pg.progress())
    assert json.loads(other.progress()) == {"done": [1, 3]}
    for junk in ("not json", "[1]", '{"done": ["x", -2]}', "", None):
        other.set_progress(junk)                                 # nothing readable: nothing added, no error
    assert json.loads(other.progress()) == {"done": [1, 3]}


def test_race_figures_titles_and_the_landscape_centre(pg):
    pg.update({"dataset": "moons", "n_samples": 200, "epochs": 12, "learning_rate": 0.01, "batch_size": 32})
    out = pg.race()
    assert out["optimizers"] == list(mlp.RACE_OPTIMIZERS) and out["epochs"] == 12 and out["notes"] == []
    figs = out["figures"]
    assert figs["race"]["layout"]["title"]["text"] == "Optimizer race"
    assert figs["landscape"]["layout"]["title"]["text"] == "Loss landscape"
    assert "projections" in figs["landscape"]["layout"]["annotations"][0]["text"]
    assert [d["name"].split(" (lr")[0] for d in figs["race"]["data"]] == ["SGD", "SGD + momentum", "RMSprop", "Adam"]
    assert [s["optimizer"] for s in out["summary"]] == list(mlp.RACE_OPTIMIZERS)
    assert all(s["epochs"] == 12 for s in out["summary"]) and out["lesson"] is None
    json.dumps(out)
    race, surface = pg.last_race()
    # the landscape's centre value is the engine's evaluate() loss at the centre weights on the training rows
    prepared = pg.prepared()
    model = mlp.MLP.from_config(race.models[surface.center_name].get_config())
    model.params[...] = surface.center
    assert surface.center_loss == model.evaluate(prepared.X_train, prepared.y_train)["loss"]
    # each racer's curve is its own History, the same start for all
    for name, trace in zip(race.optimizers, figs["race"]["data"]):
        assert trace["y"] == pytest.approx(race.histories[name].history["loss"], rel=1e-6)
        np.testing.assert_array_equal(race.paths[name][0], race.paths[race.optimizers[0]][0])


def test_race_choices_and_limits(pg):
    pg.update({"dataset": "xor", "n_samples": 100, "learning_rate": 0.01})
    choices = pg.race_choices()
    assert sorted(c["name"] for c in choices) == sorted(T.OPTIMIZERS)
    assert [c["name"] for c in choices if c["default"]] == [c["name"] for c in choices][:4] == \
        list(mlp.RACE_OPTIMIZERS)
    out = pg.race(["adam", "nadam", "adam"], epochs=3)
    assert out["optimizers"] == ["adam", "nadam"] and out["epochs"] == 3
    for bad, match in ((["lbfgs"], "Unknown optimizer"), ([], "at least one optimizer"), ("adam", "at least one")):
        with pytest.raises(ValueError, match=match):
            pg.race(bad, epochs=2)
    with pytest.raises(ValueError, match="whole number from 1"):
        pg.race(epochs=0)
    pg.update({"epochs": 10_000, "batch_size": 1})
    n_train = pg.prepared().n_train
    assert pg.race_epochs() == min(RACE_MAX_EPOCHS, RACE_MAX_STEPS // n_train)
    pg.update({"batch_size": "full"})
    assert pg.race_epochs() == RACE_MAX_EPOCHS


def test_a_race_lesson_is_checked_after_the_race(pg):
    view = pg.open_lesson(RACE.number)
    assert view["race"] and view["race_optimizers"] == list(RACE.race)
    assert view["status"]["message"] == "Race optimizers to check the goal"
    assert [c["name"] for c in pg.race_choices() if c["default"]] == list(RACE.race)
    out = pg.race()                                              # the setup: too few epochs
    assert out["optimizers"] == list(RACE.race) and not out["lesson"]["status"]["met"]
    assert out["lesson"]["status"]["checked"]
    pg.show_solution()
    out = pg.race()
    assert out["lesson"]["status"]["message"] == "Goal reached" and pg.lessons()[RACE.number - 1]["done"]
    # a race from earlier settings no longer counts: after a change the race reads, a Train checks the goal
    # without it (the lesson stays done: it was reached)
    pg.update({"learning_rate": pg.settings["learning_rate"] / 10})
    assert pg.race_view()["stale"]
    _train(pg)
    status = pg.lesson()["status"]
    assert not status["met"] and "press Race optimizers" in status["message"], status
    assert pg.lessons()[RACE.number - 1]["done"]


def test_gradient_flow_in_the_result(pg):
    pg.update({"dataset": "moons", "n_samples": 200, "epochs": 15})
    res = _train(pg)
    fig = res["figures"]["gradient_flow"]
    assert fig["layout"]["title"]["text"] == "Gradient flow" and res["figure_order"][-1] == "gradient_flow"
    hist = pg.history()
    layers = [k for k in hist if k.startswith("grad_norm/")]
    assert len(layers) == 3
    named = [d for d in fig["data"] if d.get("name", "").startswith("layer 1 ")]
    assert named and named[0]["y"] == pytest.approx(hist["grad_norm/1"], rel=1e-3)
    assert "gradient_flow" not in (pg.reset()["figures"])                   # epoch 0: nothing recorded yet


def test_the_race_shown_is_marked_out_of_date_when_what_decides_it_changes(pg):
    assert pg.race_view() is None
    pg.update({"epochs": 10})
    out = pg.race(["sgd", "adam"])
    assert out["stale"] is None and pg.race_view() == out
    fresh = out["figures"]
    for changes, said in (({"learning_rate": 0.01}, "Learning rate: 0.0001 → 0.01"),
                          ({"dataset": "moons"}, "Dataset: circles → moons"),
                          ({"arch": "[2, 3, 'tanh', 1, 'sigmoid']"},
                           "Architecture: [2, 8, 'relu', 8, 'relu', 1, 'sigmoid'] → [2, 3, 'tanh', 1, 'sigmoid']"),
                          ({"batch_size": 32}, "Batch size: 8 → 32"),
                          ({"seed": 3}, "Model seed: 0 → 3")):
        before = pg.settings
        pg.update(changes)
        view = pg.race_view()
        assert view["stale"] == (f"These race charts are from earlier settings ({said}). Press Race optimizers to "
                                 "race the current ones."), view["stale"]
        for name, title in (("race", "Optimizer race"), ("landscape", "Loss landscape")):
            fig = view["figures"][name]
            assert fig["layout"]["title"]["text"] == f"{title} · earlier settings"
            assert all(t["opacity"] == 0.35 for t in fig["data"])
            assert fresh[name]["layout"]["title"]["text"] == title          # the race's own figures are kept
        assert view["summary"] == out["summary"]
        pg.update({k: before[k] for k in changes})
        assert pg.race_view()["stale"] is None
    # the optimizers picked now count; the settings a race does not read do not
    assert "Optimizers: SGD, Adam → Adam" in pg.race_view(["adam"])["stale"]
    assert pg.race_view(["adam", "sgd"])["stale"] is None                  # the same optimizers, in another order
    pg.update({"optimizer": "rmsprop", "early_stopping": 5, "validation_split": 0.1, "lr_schedule": "cosine"})
    assert pg.race_view(["sgd", "adam"])["stale"] is None
    # epochs count as the epochs the race trains
    pg.update({"epochs": 20})
    assert "Epochs per optimizer: 10 → 20" in pg.race_view()["stale"]
    # a new race is current; opening a lesson clears it (its settings replace them all)
    assert pg.race(["sgd"])["stale"] is None and pg.race_view()["stale"] is None
    pg.open_lesson(2)
    assert pg.race_view() is None
