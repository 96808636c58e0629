"""webapp.core.playground.Playground: the one training run both apps drive, against the engine itself (a
session.train / TrainingRun on a model built the same way), and its outputs as JSON."""
import json

import numpy as np
import pytest

from webapp.core import links as L
from webapp.core import playground as P
from webapp.core import session as S
from webapp.core import settings as T

SMALL = {"n_samples": 200, "epochs": 30, "learning_rate": 0.01, "batch_size": 16}


def _direct(settings):
    """The model and data the session makes for ``settings`` (not through the Playground)."""
    args = L.session_args(settings)
    prepared = S.prepare_builtin(**args["prepare"])
    cfg = {**args["cfg"], "arch": args["cfg"]["arch"] or S.default_architecture(prepared)}
    cfg["loss"] = cfg["loss"] or S.DEFAULT_LOSS[prepared.task]
    return S.build_model(cfg, prepared), prepared, cfg


def _train_to_end(pg, seconds=0.01):
    frames = [pg.train()]
    while pg.running:
        frames.append(pg.advance(seconds))
    return frames


def test_train_in_slices_is_one_session_train():
    settings = {**SMALL, "n_samples": 2000, "epochs": 200}     # long enough for several slices on any machine
    pg = P.Playground(settings)
    frames = _train_to_end(pg, seconds=0.001)
    assert len(frames) > 2 and not frames[-1]["running"] and frames[-1]["epoch"] == 200
    model, prepared, cfg = _direct(settings)
    S.train(model, prepared, cfg)
    np.testing.assert_array_equal(pg.model().params, model.params)
    res = pg.result()
    assert res["epoch"] == 200 and res["trained"] and res["metrics"]["test"]["accuracy"] > 0.8
    assert pg.history()["loss"] == [float(v) for v in model.history.history["loss"]]
    assert {"loss", "decision_boundary", "network", "confusion_matrix"} <= set(res["figures"])


def test_step_resume_and_a_stop_in_between_are_one_uninterrupted_training():
    settings = {**SMALL, "epochs": 3000}
    pg = P.Playground(settings)
    for n in (1, 2, 3):
        assert pg.step()["epoch"] == n
    pg.resume()
    pg.advance(0.0)                             # a first slice, then Stop
    paused = pg.stop()
    assert paused["paused"] and 3 < paused["epoch"] < 3000 and "Resume continues it" in paused["reason"]
    pg.resume()
    while pg.running:
        pg.advance(0.01)
    model, prepared, cfg = _direct(settings)
    S.train(model, prepared, cfg)
    np.testing.assert_array_equal(pg.model().params, model.params)
    assert pg.result()["epoch"] == 3000 and len(pg.runs()) == 1


def test_a_changed_training_setting_goes_on_with_the_model_and_one_merged_history():
    pg = P.Playground(SMALL)
    pg.step()
    pg.update({"learning_rate": 0.1, "epochs": 5})
    res = pg.step()
    assert res["epoch"] == 2 and len(pg.runs()) == 1 and not pg.notes
    assert pg.history()["lr"] == [0.01, 0.1] and len(pg.history()["loss"]) == 2


def test_changed_data_or_network_settings_start_a_new_run_with_a_note():
    pg = P.Playground(SMALL)
    pg.step()
    pg.update({"seed": 3})
    res = pg.step()
    assert res["id"] == 2 and res["epoch"] == 1
    assert pg.notes == ["The data or the network settings changed since run 1: run 2 starts from fresh weights (Step)."]
    pg.update({"noise": 0.2})
    pg.resume()
    assert pg.notes and "run 3 starts from fresh weights (Resume)" in pg.notes[0]
    pg.stop()


def test_reset_draws_fresh_weights_once():
    pg = P.Playground(SMALL)
    pg.step()
    fresh = pg.reset()
    assert fresh["epoch"] == 0 and fresh["id"] == 2 and not fresh["trained"]
    model, _, _ = _direct(SMALL)
    np.testing.assert_array_equal(pg.model().params, model.params)
    assert pg.reset()["id"] == 2                    # already fresh and fitting: nothing happens
    assert [r["id"] for r in pg.runs(trained_only=False)] == [1, 2] and [r["id"] for r in pg.runs()] == [1]


def test_step_and_explain_pause_a_running_training():
    pg = P.Playground({**SMALL, "epochs": 10000})
    pg.train()
    pg.advance(0.01)
    res = pg.step()
    assert not pg.running and res["paused"] and "Step was pressed while training was running" in pg.notes[0]
    epoch = res["epoch"]
    pg.resume()
    pg.advance(0.01)
    ex = pg.explain(row=2)
    assert not pg.running and ex["paused"] and "so this step can be explained" in ex["notes"][0]
    assert pg.result()["epoch"] > epoch


def test_frames_carry_the_live_figures_as_pictures_and_everything_is_json():
    pg = P.Playground({**SMALL, "epochs": 400})
    frames = _train_to_end(pg, seconds=0.02)
    first = next(f for f in frames if f["figures"])
    assert set(first["figures"]) == {"loss", "decision_boundary", "network"} and first["main"] == "decision_boundary"
    assert first["figures"]["decision_boundary"]["layout"]["images"][0]["source"].startswith("data:image/png")
    for f in frames:
        json.dumps(f, allow_nan=False)
        assert 0 <= f["progress"] <= 1 and f["text"].startswith(f"Epoch {f['run_epoch']}/")
    for out in (pg.result(), pg.controls("browser"), pg.controls("streamlit"), pg.data(), pg.compare(), pg.runs(),
                pg.check_arch(), pg.explain(0), pg.share("http://x/")):
        json.dumps(out, allow_nan=False)


def _simulate(monkeypatch, slowed, front_end, n=300):
    """Drive a live budget with a clock the test owns: slices of FRAME_SECONDS (1 ms an epoch when the page is
    idle); ``slowed``: how much longer a slice that starts within QUIET_AFTER of a drawn frame takes (the page drawing it);
    ``front_end``: the front end's time after a frame with figures (0.005 s after one without). Returns the budget
    and the times of the frames with figures."""
    clock = [0.0]
    monkeypatch.setattr(P.time, "perf_counter", lambda: clock[0])
    budget, drawn = P._LiveBudget(None), []
    for _ in range(n):
        started = clock[0]
        took = P.FRAME_SECONDS + (slowed if drawn and started - drawn[-1] < P.QUIET_AFTER else 0.0)
        clock[0] += took
        budget.trained(took, round(P.FRAME_SECONDS / 0.001), started)
        names = budget.due(clock[0])
        if names:
            budget.drew(names, 0.01)
            clock[0] += 0.01
            drawn.append(clock[0])
        budget.returned(clock[0])
        clock[0] += front_end if names else 0.005
        budget.front_end(clock[0])
    return budget, drawn, clock[0]


def test_the_live_budget_keeps_the_figures_within_their_share(monkeypatch):
    """Figures every 0.2 s (a slice held back every 1.5 s to time an idle page) while all they cost -- computing,
    the front end, the training they slow down, measured against the idle page's slices -- stays within 1/6."""
    budget, drawn, end = _simulate(monkeypatch, slowed=0.004, front_end=0.003)
    rate = len(drawn) / (end - budget.start)
    assert np.diff(drawn).min() >= 0.15 and rate > 4, rate          # cheap frames: over 4 a second
    assert budget.slowdown == pytest.approx(0.004 * 2 * len(drawn), rel=0.2)   # the page's cost, measured
    assert budget.spent <= P.LIVE_SHARE * (end - budget.start)
    # frames that slow the training down by half a slice: fewer of them, within the same share
    budget, drawn, end = _simulate(monkeypatch, slowed=0.05, front_end=0.005)
    assert 1 < len(drawn) / (end - budget.start) < 3
    assert budget.spent <= P.LIVE_SHARE * (end - budget.start) + max(budget.costs)
    # an expensive front end (0.15 s a frame): fewer frames too
    budget, drawn, end = _simulate(monkeypatch, slowed=0.0, front_end=0.15)
    assert len(drawn) / (end - budget.start) < 1.5
    assert budget.spent <= P.LIVE_SHARE * (end - budget.start) + max(budget.costs)


def test_a_link_opens_its_model_as_a_run_that_step_continues():
    pg = P.Playground(SMALL)
    _train_to_end(pg)
    href = pg.share("http://x/", mode="fragment")["href"]
    other = P.Playground()
    opened = other.open_link(href)
    assert opened["opened"] and opened["has_model"] and not opened["notes"]
    res = other.result()
    assert res["from_link"] and res["epoch"] == 30
    np.testing.assert_array_equal(other.model().params, pg.model().params)
    assert other.step()["epoch"] == 31 and other.result()["id"] == res["id"]


@pytest.mark.parametrize("bad, note", [
    ({"epochs": 0}, "Epochs: 0 cannot be used; it must be a whole number from 1 to 10,000. Epochs stays 300."),
    ({"n_samples": "abc"}, "Samples: abc cannot be used; it must be a whole number from 20 to 5,000. Samples stays "
                           "1,000."),
    ({"optimizer": "lbfgs"}, "Optimizer: lbfgs cannot be used; it must be one of adam, adamw, sgd, sgd_momentum, "
                             "rmsprop, adagrad, nadam. Optimizer stays adam."),
    ({"test_size": 0.9}, "Test split: 0.9 cannot be used; it must be a number from 0 to 0.5. Test split stays 0.2."),
    ({"wat": 1}, "'wat' is not a setting this app knows; it was ignored.")])
def test_update_keeps_the_valid_part_and_says_what_the_control_allows(bad, note):
    """A value typed into a control is about that control (what is wrong, what is allowed, the value kept), not
    about a link; a link's value keeps its own note."""
    pg = P.Playground()
    notes = pg.update({**bad, "seed": 4})
    assert pg.settings["seed"] == 4 and notes == [note]
    assert all(pg.settings[k] == L.defaults()[k] for k in bad if k in pg.settings)
    assert "link" not in note and all(n.startswith("Ignored") and "from the link" in n for n in L.decode(bad).notes)


def _transform_row(pg):
    rows = [r for r in pg.controls() if r["name"] == "transforms"]
    return rows[0]["choices"] if rows else None


@pytest.mark.parametrize("dataset", list(__import__("mlp").data.DATASETS))
def test_the_extra_inputs_offered_are_those_the_datas_inputs_allow(dataset):
    """Every built-in dataset: 2-D data offers all five extra inputs (each trains), 1-D data none (no control),
    and choosing 1-D data clears those checked, with a note; the engine's data generator is the truth."""
    import mlp
    n = mlp.data.make_dataset(dataset, n_samples=30)[0].shape[1]
    pg = P.Playground()
    everything = T.SETTINGS["transforms"].allowed()
    pg.update({"transforms": ["x1^2", "sin(x2)"]})
    notes = pg.update({"dataset": dataset, "n_samples": 40})
    if n == 2:
        assert _transform_row(pg) == everything and not notes
        assert pg.prepared().X_train.shape[1] == 4                                 # x1, x2, x1², sin(x2)
    else:
        assert _transform_row(pg) is None and pg.settings["transforms"] == []
        assert notes == [f"Extra inputs x1², sin(x2) cleared: they need two inputs, x1 and x2, and the "
                         f"'{dataset}' dataset has {n}."]
        assert pg.prepared().X_train.shape[1] == n and pg.link_settings()["transforms"] == []
        # a link asking for them gets the link's note, and the rest of the link is kept
        opened = pg.open_link(f"dataset={dataset}&transforms=sin(x2)&epochs=7")
        assert opened["notes"] == [f"Ignored 'transforms=sin(x2)' from the link: sin(x2) needs two inputs, x1 and "
                                   f"x2, and the '{dataset}' dataset has {n}."]
        assert pg.settings["epochs"] == 7 and pg.settings["transforms"] == []


def test_a_csvs_extra_inputs_follow_its_chosen_numeric_features():
    pg = P.Playground()
    rows = "".join(f"{i},{i % 3},{i * 2},{'ab'[i % 2]},{i % 2}\n" for i in range(40))
    pg.set_csv(("a,b,c,t,y\n" + rows).encode(), "d.csv")
    assert pg.n_inputs() == 0 and _transform_row(pg) is None                    # a, b, c and a text column
    pg.update({"features": ["a", "b", "c"]})
    assert pg.n_inputs() == 3 and _transform_row(pg) is None
    pg.update({"features": ["a", "b"]})
    assert _transform_row(pg) == T.SETTINGS["transforms"].allowed()
    assert pg.update({"transforms": ["x1*x2"]}) == [] and pg.prepared().X_train.shape[1] == 3
    assert pg.update({"features": ["a"]}) == [
        "Extra inputs x1·x2 cleared: it needs two inputs, x1 and x2, and 1 feature column is chosen."]
    assert pg.settings["transforms"] == [] and _transform_row(pg) is None
    assert pg.prepared().X_train.shape[1] == 1


def test_warm_up_makes_every_figure_a_first_train_and_race_make_and_changes_no_playground():
    pg = P.Playground(SMALL)
    _train_to_end(pg)
    pg.race(epochs=2)
    before = (json.dumps(pg.result(), sort_keys=True), pg.runs(), pg.settings, pg.last_race())
    steps = list(P.warm_up())
    assert len(steps) == 3
    figs = {name: fig for step in steps for name, fig in step.items()}
    assert set(figs) == {"live_loss", "live_decision_boundary", "live_network", "loss", "decision_boundary",
                         "network", "confusion_matrix", "gradient_flow", "race", "landscape"}
    for name, fig in figs.items():
        assert fig["data"] and isinstance(fig["layout"], dict), name
    # the live figures are the pictures a frame carries, the results' map is a heatmap
    assert figs["live_decision_boundary"]["layout"]["images"] and figs["live_network"]["layout"]["images"]
    assert any(t["type"] == "heatmap" and len(t["z"]) > 1 for t in figs["decision_boundary"]["data"])
    json.dumps(figs, allow_nan=False)
    assert (json.dumps(pg.result(), sort_keys=True), pg.runs(), pg.settings, pg.last_race()) == before
