"""Where the core offers the poisson loss (count targets only, one rule for both apps) and what a poisson run
shows: counts in the target's units, scikit-learn's metrics, the charts, the link note."""
import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_poisson_deviance, mean_squared_error, r2_score

import mlp
from tests.apps.test_app_poisson import count_csv
from tests.apps.test_session import labelled_csv
from webapp.core import links as L
from webapp.core import session as S
from webapp.core import settings as T
from webapp.core.playground import Playground

NOTE = ("Ignored 'loss=poisson' from the link: the poisson loss is offered only for a regression whose target is "
        "a count (0 or more, e.g. the counts dataset).")


def offered(pg):
    return next(r["choices"] for r in pg.controls("browser") if r["name"] == "loss")


def finish(pg):
    pg.train()
    while pg.running:
        pg.advance(1.0)
    return pg.result()


def test_loss_choices_add_poisson_after_a_linear_output_for_counts_only():
    assert S.loss_choices("linear", counts=True) == ["mse", "mae", "huber", "poisson"]
    assert S.loss_choices("linear", counts=False) == ["mse", "mae", "huber"]
    assert S.loss_choices("linear") == ["mse", "mae", "huber", "poisson"]       # data unknown: decided later
    assert S.loss_choices("tanh", counts=True) == ["mse", "mae", "huber"]       # poisson needs a linear output
    assert S.loss_choices("sigmoid", counts=True) == ["bce", "mse", "mae", "huber"]
    assert "poisson" in T.SETTINGS["loss"].help and "count" in T.SETTINGS["loss"].help


@pytest.mark.parametrize("name", sorted(mlp.data.DATASETS))
def test_builtin_datasets_offer_poisson_exactly_when_their_target_is_a_count(name):
    pg = Playground({"dataset": name})
    assert ("poisson" in offered(pg)) == (name in S.BUILTIN_COUNTS) == (name == "counts")
    assert ("poisson" in pg.check_arch()["losses"]) == (name == "counts")
    # the table's flag (what a link is checked with, before any data) is what the data says, whatever the settings
    for seed, noise in ((0, 0.1), (5, 1.0)):
        prepared = S.prepare_builtin(name, n_samples=300, noise=noise, seed=seed)
        assert S.is_count_target(prepared) == (name in S.BUILTIN_COUNTS)


def test_an_uploaded_csv_gets_poisson_when_its_regression_target_is_never_negative():
    pg = Playground()
    pg.set_csv(count_csv(), "visits.csv")
    assert pg.data()["task"] == "multiclass" and "poisson" not in offered(pg)    # read as classes at first
    pg.update({"task": "regression"})
    assert "poisson" in offered(pg) and pg.data()["describe"].startswith("visits.csv: regression of counts")
    pg.set_csv(count_csv(shift=0.25), "rates.csv")           # rates (not whole numbers) >= 0: poisson too
    assert "poisson" in offered(pg) and pg.data()["describe"].startswith("rates.csv: regression, ")
    pg.set_csv(count_csv(shift=-0.25), "shifted.csv")
    assert "poisson" not in offered(pg)
    pg.set_csv(labelled_csv(), "plants.csv")
    pg.update({"target": "height", "task": None})          # a regression with negative values
    assert pg.data()["task"] == "regression" and "poisson" not in offered(pg)
    assert pg.update({"target": "species", "loss": "poisson"}) == [] and pg.loss() == "bce"


def test_a_chosen_poisson_goes_back_to_the_default_when_the_data_is_no_count():
    pg = Playground({"dataset": "counts", "loss": "poisson"})
    assert pg.loss() == "poisson" and pg.link_settings()["loss"] == "poisson"
    pg.update({"dataset": "sine"})
    assert pg.loss() == "mse" and pg.settings["loss"] is None


def test_a_links_poisson_is_kept_for_counts_and_dropped_with_one_note_elsewhere():
    assert L.decode("dataset=counts&loss=poisson").settings == {"dataset": "counts", "loss": "poisson"}
    for link in ("dataset=sine&loss=poisson", "dataset=plane&loss=poisson", "loss=poisson"):
        out = L.decode(link)
        assert "loss" not in out.settings and out.notes == [NOTE], link
    pg = Playground()
    assert pg.open_link("dataset=sine&loss=poisson")["notes"] == [NOTE] and pg.loss() == "mse"
    # a CSV link waits for its file: the file decides, with the same note
    link = "source=csv&target=visits&task=regression&loss=poisson"
    assert L.decode(link).settings["loss"] == "poisson"
    pg = Playground()
    pg.open_link(link)
    assert pg.set_csv(count_csv(shift=-1), "shifted.csv")["notes"] == [NOTE] and pg.loss() == "mse"
    pg = Playground()
    pg.open_link(link)
    assert pg.set_csv(count_csv(), "visits.csv")["notes"] == [] and pg.loss() == "poisson"


def test_a_links_poisson_model_on_data_that_is_no_count_is_not_opened():
    pg = Playground({"dataset": "counts", "loss": "poisson", "epochs": 5, "learning_rate": 0.01})
    finish(pg)
    share = pg.share("", "query")
    query = share[share.index("?") + 1:] if isinstance(share, str) else share["href"].split("?", 1)[1]
    other = Playground()
    opened = other.open_link(query.replace("dataset=counts", "dataset=sine"))
    assert not opened["opened"] and any("uses the poisson loss" in n for n in opened["notes"])
    again = Playground()
    assert again.open_link(query)["opened"] and again.result()["metrics"]["test"]["poisson_deviance"] > 0


def test_a_poisson_run_trains_on_the_counts_and_reports_them_in_their_units():
    pg = Playground({"dataset": "counts", "loss": "poisson", "learning_rate": 0.01, "epochs": 150})
    res = finish(pg)
    prepared, model = pg.data_of(), pg.model()
    assert prepared.preprocessor.target_mode == "count" and model.preprocessor is prepared.preprocessor
    np.testing.assert_array_equal(prepared.y_train[:, 0], prepared.yraw_train)        # the counts as they are
    assert prepared.X_train is pg.prepared().X_train                                  # the same inputs
    mu = np.exp(model.predict(prepared.X_test)[:, 0])
    y = prepared.yraw_test
    test = res["metrics"]["test"]
    assert np.isclose(test["mae"], mean_absolute_error(y, mu), rtol=1e-12)
    assert np.isclose(test["rmse"], mean_squared_error(y, mu) ** 0.5, rtol=1e-12)
    assert np.isclose(test["r2"], r2_score(y, mu), rtol=1e-12)
    assert np.isclose(test["poisson_deviance"], mean_poisson_deviance(y, mu), rtol=1e-12)
    assert res["loss_title"] == "loss (Poisson, on the counts)"
    pva = res["figures"]["predicted_vs_actual"]
    predicted = np.concatenate([t["y"] for t in pva["data"] if t.get("mode") == "markers"])
    assert predicted.min() > 0 and {"fit", "network", "loss"} <= set(res["figures"])
    text = pg.predictions_csv().splitlines()
    assert text[0] == "split,x,y,predicted_y"
    assert min(float(r.split(",")[-1]) for r in text[1:]) > 0
    ex = pg.explain(row=3)
    assert any("count" in n for n in ex["notes"]) and any("e^{a}" in "".join(s["latex"]) for s in ex["sections"])
    race = pg.race(["adam", "sgd"], epochs=3)
    assert [r["optimizer"] for r in race["summary"]] == ["adam", "sgd"]


def test_on_the_counts_data_poisson_never_predicts_a_negative_count_where_mse_does():
    """The default counts data and training: mse's straight line through the low counts goes below zero."""
    lowest = {}
    for loss in ("poisson", "mse"):
        pg = Playground({"dataset": "counts", "loss": loss})
        finish(pg)
        prepared = pg.data_of()
        lowest[loss] = float(pg.model().preprocessor.inverse_y(pg.model().predict(prepared.X_test)).min())
    assert lowest["poisson"] > 0 > lowest["mse"], lowest


def test_session_functions_take_the_standard_data_for_a_poisson_model():
    """Scripts may hand the session the data as prepared: build_model, training, metrics use the count view."""
    prepared = S.prepare_builtin("counts", n_samples=200)
    assert prepared.preprocessor.target_mode == "standard"
    model = S.build_model({"loss": "poisson", "epochs": 20, "learning_rate": 0.01}, prepared)
    assert model.preprocessor.target_mode == "count"
    S.train(model, prepared, {"epochs": 20, "learning_rate": 0.01})
    assert S.evaluate(model, prepared)["test"]["poisson_deviance"] > 0
    assert S.for_loss(prepared, "poisson") is S.for_loss(S.for_loss(prepared, "poisson"), "poisson")
    assert S.for_loss(S.for_loss(prepared, "poisson"), "mse") is prepared
    sine = S.prepare_builtin("sine", n_samples=200)
    with pytest.raises(ValueError, match="Loss 'poisson' does not fit this data: the poisson loss is offered only"):
        S.build_model({"loss": "poisson"}, sine)
