"""The Streamlit app's poisson loss for count targets, through AppTest (real engine, no browser)."""
import numpy as np
from sklearn.metrics import mean_absolute_error, mean_poisson_deviance, r2_score

import mlp
from tests.apps.test_app import errors, fast, new_app, open_link, pg, run, shown, train, use_csv


def count_csv(n=300, seed=0, shift=0.0):
    """A CSV of counts: visits ~ Poisson(exp(0.3 + 0.9 x1 - 0.5 x2)) (``shift`` moves the target, e.g. below 0)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(-1.5, 1.5, n), rng.uniform(-1, 1, n)
    y = rng.poisson(np.exp(0.3 + 0.9 * x1 - 0.5 * x2)) + shift
    return ("x1,x2,visits\n" + "".join(f"{a:.4f},{b:.4f},{c:g}\n" for a, b, c in zip(x1, x2, y))).encode()


def predictions(at):
    """The run's predictions CSV as (target, predicted) arrays and the rows' feature table."""
    text = pg(at).predictions_csv()
    table = mlp.data.read_csv(text)
    cols = table.columns
    return table, np.asarray(table.numeric_column(cols[-2])), np.asarray(table.numeric_column(cols[-1]))


def warnings(at):
    """The notes the page shows (a link's start with "From the link: ")."""
    return [shown(w).removeprefix("From the link: ") for w in at.warning]


def check_download_predicts_the_counts(at, tmp_path):
    """The bytes behind "Download model", opened with mlp.load, predict the app's predictions CSV: counts >= 0."""
    path = tmp_path / "model.mlp"
    path.write_bytes(pg(at).model_bytes())
    model = mlp.load(path)
    assert model.loss == "poisson" and model.preprocessor.target_mode == "count"
    table, target, predicted = predictions(at)
    np.testing.assert_allclose(model.predict_table(table), predicted, rtol=1e-12)
    assert predicted.min() > 0
    return model, target, predicted


def test_poisson_is_offered_on_the_counts_dataset_and_trains_to_mean_counts(tmp_path):
    at = new_app()
    run(at.selectbox(key="dataset").set_value("sine"))
    assert "poisson" not in at.selectbox(key="loss").options
    run(at.selectbox(key="dataset").set_value("counts"))
    assert at.selectbox(key="loss").options == ["mse", "mae", "huber", "poisson"]
    assert any("Poisson" in c.value for c in at.sidebar.caption)          # the dataset's one-line description
    run(at.selectbox(key="loss").set_value("poisson"))
    fast(at)
    shown = train(at)
    test = shown["metrics"]["test"]
    assert {"fit", "predicted_vs_actual"} <= set(shown["figures"])
    assert not any("The results below are from run" in c.value for c in at.caption)   # the run's data is shown
    assert [m.label for m in at.metric][:4] == ["R² (test)", "MAE (test)", "RMSE (test)", "Poisson deviance (test)"]
    assert any("| Poisson deviance |" in m.value for m in at.markdown)
    model, _, _ = check_download_predicts_the_counts(at, tmp_path)
    # the test metrics are scikit-learn's on the test rows' counts and the model's predicted mean counts
    prepared = shown["prepared"]
    mu = np.exp(model.predict(prepared.X_test)[:, 0])
    y = prepared.yraw_test
    assert np.isclose(test["mae"], mean_absolute_error(y, mu), rtol=1e-12)
    assert np.isclose(test["r2"], r2_score(y, mu), rtol=1e-12)
    assert np.isclose(test["poisson_deviance"], mean_poisson_deviance(y, mu), rtol=1e-12)
    assert test["r2"] > 0.6
    # the fitted curve is the predicted mean count along x: exp of the network's output, never below 0
    curve = next(t for t in shown["figures"]["fit"]["data"] if t.get("mode") == "lines")
    x = np.asarray(curve["x"], float)
    np.testing.assert_allclose(curve["y"], model.predict_table(mlp.data.Table.from_rows(x[:, None].tolist(), ["x"])),
                               rtol=1e-5)      # (figures carry 6 significant digits)
    assert min(curve["y"]) > 0


def test_poisson_on_an_uploaded_count_csv_once_it_is_a_regression(tmp_path):
    at = new_app()
    use_csv(at, count_csv(), "visits.csv")
    # a count column with few values reads as classes; as a regression its counts get poisson
    assert pg(at).data()["task"] == "multiclass" and "poisson" not in at.selectbox(key="loss").options
    run(at.selectbox(key="task").set_value("regression"))
    assert "poisson" in at.selectbox(key="loss").options and "of counts" in pg(at).data()["describe"]
    run(at.selectbox(key="loss").set_value("poisson"))
    fast(at)
    shown = train(at)
    assert shown["model"].loss == "poisson" and "predicted_vs_actual" in shown["figures"]
    _, target, predicted = check_download_predicts_the_counts(at, tmp_path)
    assert np.isclose(shown["metrics"]["train"]["poisson_deviance"],
                      mean_poisson_deviance(*[a[:shown["n_train"]] for a in (target, predicted)]), rtol=1e-9)


def test_a_target_below_zero_gets_no_poisson_and_a_links_poisson_is_dropped_with_a_note():
    at = new_app()
    use_csv(at, count_csv(shift=-1), "shifted.csv")
    run(at.selectbox(key="task").set_value("regression"))
    assert "poisson" not in at.selectbox(key="loss").options and not errors(at)
    note = ("Ignored 'loss=poisson' from the link: the poisson loss is offered only for a regression whose "
            "target is a count (0 or more, e.g. the counts dataset).")
    other = open_link("dataset=sine&loss=poisson")
    assert note in warnings(other) and other.selectbox(key="loss").value == "mse"
    # a CSV link's poisson waits for its file, which decides
    link = open_link({"source": "csv", "target": "visits", "task": "regression", "loss": "poisson"})
    run(link.file_uploader(key="csv_file").set_value(("shifted.csv", count_csv(shift=-1), "text/csv")))
    assert note in warnings(link)
    assert link.selectbox(key="loss").value == "mse"
    link = open_link({"source": "csv", "target": "visits", "task": "regression", "loss": "poisson"})
    run(link.file_uploader(key="csv_file").set_value(("visits.csv", count_csv(), "text/csv")))
    assert link.selectbox(key="loss").value == "poisson" and not any("poisson" in w for w in warnings(link))

