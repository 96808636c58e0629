"""The Streamlit app through streamlit.testing.v1.AppTest (real engine, no browser)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from streamlit.testing.v1 import AppTest  # noqa: E402  (AppTest.file_uploader/download_button: streamlit>=1.59)

import mlp  # noqa: E402
from tests.apps.test_session import labelled_csv  # noqa: E402

APP = str(Path(__file__).resolve().parents[2] / "webapp" / "app.py")
TIMEOUT = 60


def new_app():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run(target):
    """Rerun after an interaction (``target`` is the AppTest or a widget) and check for exceptions."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures_on_page(at):
    """The Plotly figures on the page: those of st.plotly_chart and those the live-charts component draws (the
    results' loss curve, prediction chart and Network view)."""
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    for el in at.get("bidi_component"):
        if el.proto.component_name == "mlp_live_charts":
            figs += [f for f in json.loads(el.proto.json).values() if f and f.get("data")]
    return figs


def plotly_titles(at):
    """{title: trace names} of the Plotly charts on the page."""
    return {f["layout"]["title"]["text"]: [t.get("name") for t in f["data"]] for f in figures_on_page(at)}


def shown(element):
    """The text a message element shows: the app writes user text with Markdown's backslash escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", element.value).replace("\u200b", "")   # (invisible)


def errors(at):
    return [shown(e) for e in at.error]


def state_keys(at):
    """Session-state keys (AppTest's session_state is iterable only in newer Streamlit versions)."""
    ss = at.session_state
    filtered = getattr(ss, "filtered_state", None)
    return list(filtered if isinstance(filtered, dict) else ss.keys())


def key_starting(at, prefix):
    return next(k for k in state_keys(at) if str(k).startswith(prefix))


def pg(at):
    """The session's Playground (webapp.core.playground): what the app shows comes from it."""
    return at.session_state["pg"]


def shown_run(at):
    """The run the page shows, as the Playground has it (plus its model, data and history)."""
    p = pg(at)
    res = p.result()
    if res is None:
        return None
    return {**res, "model": p.model(), "prepared": p.data_of(), "history": p.history(), "epochs": res["epoch"]}


def runs(at):
    return pg(at).runs(trained_only=False)


def train(at):
    run(at.button(key="train").click())
    assert not errors(at), errors(at)
    return shown_run(at)


def use_csv(at, raw, name="data.csv"):
    run(at.radio(key="source").set_value("csv"))
    run(at.file_uploader(key="csv_file").set_value((name, raw, "text/csv")))
    return at


def fast(at):
    """A learning rate that learns these small tables in a few dozen epochs (the default is a slower show)."""
    return run(at.select_slider(key="learning_rate").set_value(0.01))


@pytest.fixture
def app():
    return new_app()


def test_default_is_ready_and_trains_in_one_click(app, tmp_path):
    assert app.text_input(key="arch").value == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    assert not app.button(key="train").disabled and not errors(app)
    assert app.selectbox(key="loss").options == ["bce", "mse", "mae", "huber"]
    run_ = train(app)
    assert run_["metrics"]["test"]["accuracy"] >= 0.95
    assert [m.label for m in app.metric][:1] == ["accuracy (test)"]
    assert {"Download model", "Download predictions (CSV)"} <= {b.label for b in app.download_button}
    assert set(run_["figures"]) == {"loss", "decision_boundary", "confusion_matrix", "network", "gradient_flow"}
    shown = plotly_titles(app)
    assert shown["Decision boundary"][1:] == ["0 (train)", "1 (train)", "0 (test)", "1 (test)"]
    assert shown["Loss"] == ["train", "validation"] and "Confusion matrix (test)" in shown
    # the bytes behind "Download model" load with mlp.load and predict exactly like the app's model
    path = tmp_path / "model.mlp"
    path.write_bytes(pg(app).model_bytes())
    loaded = mlp.load(path)
    X = run_["prepared"].X_test
    np.testing.assert_array_equal(loaded.predict(X), run_["model"].predict(X))
    assert any("dense_3 (sigmoid)" in c.value for c in app.code)  # network summary


def test_architecture_validated_as_you_type_with_one_click_fix(app):
    run(app.text_input(key="arch").input("[3, 8, 'relu', 2, 'softmax']"))
    assert "2 input" in errors(app)[0] and app.button(key="train").disabled
    run(app.button(key="fix_arch").click())
    assert app.text_input(key="arch").value == "[2, 8, 'relu', 1, 'sigmoid']" and not errors(app)
    run(app.text_input(key="arch").input("[2, 8, 'rleu', 1, 'sigmoid']"))
    assert "Did you mean 'relu'" in errors(app)[0]
    run(app.text_input(key="arch").input("[2, 10**9, 1]"))
    assert "parameters" in errors(app)[0] and app.button(key="train").disabled
    run(app.button(key="default_arch").click())
    assert not errors(app)
    train(app)


def test_dataset_switch_follows_data_and_offers_compatible_losses(app):
    run(app.selectbox(key="dataset").set_value("spiral"))
    assert app.text_input(key="arch").value == "[2, 32, 'relu', 32, 'relu', 3, 'softmax']"
    assert app.selectbox(key="loss").options == ["cce", "mse", "mae", "huber"]
    fast(app)
    run_ = train(app)
    assert run_["prepared"].n_outputs == 3 and run_["metrics"]["test"]["accuracy"] > 0.7
    run(app.selectbox(key="dataset").set_value("sine"))
    assert app.text_input(key="arch").value.endswith("1, 'linear']")
    assert app.selectbox(key="loss").options == ["mse", "mae", "huber"]
    run(app.number_input(key="epochs").set_value(300))
    run_ = train(app)
    assert run_["metrics"]["test"]["r2"] > 0.9 and "fit" in run_["figures"]
    assert [m.label for m in app.metric][0] == "R² (test)"


def test_edited_architecture_is_kept_and_checked_when_data_changes(app):
    run(app.text_input(key="arch").input("[2, 4, 'tanh', 1, 'sigmoid']"))
    run(app.selectbox(key="dataset").set_value("blobs"))
    assert app.text_input(key="arch").value == "[2, 4, 'tanh', 1, 'sigmoid']"
    assert "3 output" in errors(app)[0]
    run(app.button(key="fix_arch").click())
    assert app.text_input(key="arch").value == "[2, 4, 'tanh', 3, 'softmax']"


def test_hyperparameters_reach_the_engine(app):
    run(app.selectbox(key="optimizer").set_value("sgd_momentum"))
    run(app.select_slider(key="learning_rate").set_value(0.1))
    run(app.number_input(key="epochs").set_value(40))
    run(app.selectbox(key="batch_size").set_value("full"))
    run(app.selectbox(key="lr_schedule").set_value("step"))
    run(app.slider(key="dropout").set_value(0.1))
    run(app.select_slider(key="weight_decay").set_value(1e-4))
    run(app.number_input(key="seed").set_value(7))
    run_ = train(app)
    model = run_["model"]
    assert model.optimizer.name == "sgd_momentum" and model.optimizer.hyper["weight_decay"] == 1e-4
    assert [s["type"] for s in model.specs].count("dropout") == 2 and model.seed == 7
    lrs = run_["history"]["lr"]
    assert len(lrs) == 40 and lrs[0] == pytest.approx(0.1) and lrs[13] == pytest.approx(0.01)  # step: every 40 // 3


def test_compare_runs_overlays_loss_curves(app):
    train(app)
    run(app.select_slider(key="learning_rate").set_value(0.003))
    train(app)
    assert [r["id"] for r in runs(app)] == [1, 2]
    assert app.multiselect(key="compare_2").value == [1, 2]
    assert plotly_titles(app)["Loss curves"] == ["run 1 train", "run 1 validation", "run 2 train",
                                                 "run 2 validation"]
    assert app.selectbox(key="selected_run").value == 2
    run(app.selectbox(key="selected_run").set_value(1))
    assert "run 1" in app.subheader[0].value
    run(app.button(key="clear_runs").click())
    assert runs(app) == []


def test_csv_with_string_labels_trains(app):
    use_csv(app, labelled_csv())
    assert app.selectbox(key="target").value == "species"
    feats = app.multiselect(key="features")
    assert feats.value == ["height", "weight", "colour"]
    assert app.text_input(key="arch").value == "[5, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    run(app.number_input(key="epochs").set_value(200))
    fast(app)
    run_ = train(app)
    assert run_["prepared"].class_names == ["setosa", "virginica"]
    assert run_["metrics"]["test"]["accuracy"] > 0.85
    assert "Confusion matrix (test)" == run_["figures"]["confusion_matrix"]["layout"]["title"]["text"]
    assert "species" in pg(app).predictions_csv().splitlines()[0]


def test_csv_semicolon_task_override_and_target_choice(app):
    use_csv(app, labelled_csv(sep=";"))
    run(app.selectbox(key="target").set_value("height"))
    assert not errors(app)
    assert app.text_input(key="arch").value.endswith("1, 'linear']")
    run_ = train(app)
    assert run_["prepared"].task == "regression" and "r2" in run_["metrics"]["test"]


def test_csv_missing_values_reported_with_drop_choice(app):
    lines = labelled_csv().split(b"\n")
    for i, cell in ((1, b""), (2, b"NA"), (3, b"NaN")):  # 3 missing heights
        lines[i] = cell + lines[i][lines[i].index(b","):]
    raw = b"\n".join(lines)
    use_csv(app, raw)
    assert any("Missing values" in w.value for w in app.warning)
    assert "drop rows" in errors(app)[0]
    drop = app.checkbox(key="drop_missing")
    run(drop.check())
    assert not errors(app) and any("Dropped 3 of 240" in i.value for i in app.info)
    train(app)


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"),
    (bytes(range(256)) * 4, "CSV"),
    (b"a,b,c\n1,2,3\n4,5\n", "line 3"),
    (b"a,b\n1,x\n2,x\n3,x\n4,x\n5,x\n6,x\n", "one class"),
    (b"a,b\nNaN,NaN\nNA,\n?,null\n", "no values"),
    ("x,y\n1,é\n2,ü\n3,é\n4,ü\n5,é\n".encode("latin-1"), None),  # non-UTF-8: read, not refused
])
def test_bad_csvs_show_errors_and_app_keeps_working(app, raw, words):
    use_csv(app, raw, "bad.csv")
    if words is None:
        assert not errors(app)
        train(app)
        return
    assert len(errors(app)) == 1 and words.lower() in errors(app)[0].lower(), errors(app)
    assert not runs(app)
    run(app.file_uploader(key="csv_file").set_value(("good.csv", labelled_csv(), "text/csv")))
    assert not errors(app)
    train(app)


def test_upload_model_and_predict_csv(app):
    use_csv(app, labelled_csv())
    fast(app)
    train(app)
    model_bytes = pg(app).model_bytes()
    assert app.radio(key="model_source").value == "A run from this session"   # the run just trained
    run(app.radio(key="model_source").set_value("Upload a model file"))
    up = app.file_uploader(key="model_file")
    run(up.set_value(("model.mlp", model_bytes, "application/zip")))
    assert any("Loaded model.mlp" in s.value for s in app.success)
    assert any("height, weight, colour" in c.value for c in app.caption)
    raw = labelled_csv(n=30, seed=5).replace(b"species", b"truth")
    run(app.file_uploader(key="predict_file").set_value(("new.csv", raw, "text/csv")))
    assert not errors(app)
    assert "Download predictions" in [b.label for b in app.download_button]
    assert any("30 rows predicted" in c.value for c in app.caption)
    # incompatible columns
    run(app.file_uploader(key="predict_file").set_value(("other.csv", b"a,b\n1,2\n", "text/csv")))
    assert "lacks column" in errors(app)[0] and "height" in errors(app)[0]
    # a non-model file
    run(app.file_uploader(key="model_file").set_value(("notes.csv", labelled_csv(), "text/csv")))
    assert "not an mlp model file" in errors(app)[0]
    run(app.file_uploader(key="model_file").set_value(("model.mlp", model_bytes, "application/zip")))
    assert not errors(app)


def test_browser_sessions_are_isolated():
    a, b = new_app(), new_app()
    train(a)
    run(b)
    assert len(runs(a)) == 1 and runs(b) == []
    assert not b.download_button


def test_settings_survive_switching_to_csv_before_upload(app):
    run(app.text_input(key="arch").input("[2, 4, 'tanh', 1, 'sigmoid']"))
    run(app.number_input(key="epochs").set_value(77))
    run(app.radio(key="source").set_value("csv"))
    assert app.button(key="train").disabled and not errors(app)
    assert app.text_input(key="arch").value == "[2, 4, 'tanh', 1, 'sigmoid']"
    run(app.file_uploader(key="csv_file").set_value(("d.csv", labelled_csv(), "text/csv")))
    assert "5 input" in errors(app)[0]
    run(app.button(key="fix_arch").click())
    assert app.text_input(key="arch").value == "[5, 4, 'tanh', 1, 'sigmoid']"
    assert train(app)["epochs"] == 77


def house_prices_csv(n=300, seed=0):
    """A regression CSV with targets around 200,000 and a categorical feature."""
    rng = np.random.default_rng(seed)
    lines = ["area_sqft,bedrooms,neighbourhood,price"]
    for _ in range(n):
        area, beds = rng.uniform(600, 3500), int(rng.integers(1, 6))
        hood = rng.choice(["north", "south", "centre"])
        price = 50000 + 70 * area + 8000 * beds + {"north": 20000, "south": -15000, "centre": 45000}[hood]
        lines.append(f"{area:.0f},{beds},{hood},{price + rng.normal(0, 10000):.0f}")
    return ("\n".join(lines) + "\n").encode()


def test_architecture_follows_data_with_the_same_shape_until_edited(app):
    # spiral and blobs both need [2, ..., 3, 'softmax'] but have different default hidden layers
    for name in ("spiral", "blobs", "sine", "circles"):
        run(app.selectbox(key="dataset").set_value(name))
        assert app.text_input(key="arch").value == pg(app).data()["default_arch"]
        assert not errors(app) and not app.button(key="train").disabled, name
    assert app.text_input(key="arch").value == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"


def test_regression_with_large_targets_reads_in_original_units(app):
    use_csv(app, house_prices_csv(), "houses.csv")
    assert any("3 feature column(s) become 5 network inputs" in c.value for c in app.caption)
    run(app.number_input(key="epochs").set_value(200))
    fast(app)
    run_ = train(app)
    test = run_["metrics"]["test"]
    assert test["r2"] > 0.9 and 1000 < test["mae"] < 30000  # MAE in dollars, not standardised units
    labels = [m.label for m in app.metric]
    assert labels == ["R² (test)", "MAE (test)", "RMSE (test)", "loss (test)"]
    mae = app.metric[1].value
    assert "," in mae and "." not in mae, mae                      # e.g. "8,123", not "8123.0959"
    assert "standardised" in app.metric[3].proto.help
    figs = run_["figures"]
    assert figs["loss"]["layout"]["yaxis"]["title"]["text"] == "loss (standardised target)"
    actual = figs["predicted_vs_actual"]["data"][0]["x"]
    assert 100_000 < np.median(actual) < 400_000                   # plots in original units
    table = next(m.value for m in app.markdown if "| metric |" in m.value)
    assert "| R² |" in table and "| MAE |" in table and "loss (standardised target)" in table


def test_lr_schedule_defaults_to_constant_and_decay_shows_only_when_used(app):
    assert app.selectbox(key="lr_schedule").value == "constant"
    assert not [n for n in app.number_input if n.key == "lr_decay"]
    run(app.selectbox(key="lr_schedule").set_value("exponential"))
    run(app.number_input(key="lr_decay").set_value(0.9))
    run(app.number_input(key="epochs").set_value(5))
    lrs = train(app)["history"]["lr"]
    assert lrs[1] == pytest.approx(lrs[0] * 0.9)
    run(app.selectbox(key="lr_schedule").set_value("constant"))
    assert len(set(train(app)["history"]["lr"])) == 1


def test_sidebar_explains_datasets_and_ignored_dropout(app):
    assert any("concentric circles" in c.value for c in app.sidebar.caption)
    run(app.selectbox(key="dataset").set_value("plane"))
    assert any("Task: regression" in c.value and "a\\*x1" in c.value for c in app.sidebar.caption)  # not italics
    # 2-D regression data is shown before training, coloured by the target
    assert plotly_titles(app)["plane"] == ["y"]
    run(app.text_input(key="arch").input("[2, 16, 'tanh', 'dropout(0.1)', 1]"))
    run(app.slider(key="dropout").set_value(0.2))
    assert any("Dropout slider is ignored" in c.value for c in app.caption)


def test_compare_table_and_prediction_tables_are_readable(app):
    train(app)
    use_csv(app, house_prices_csv(n=60), "houses.csv")
    preview = app.dataframe[0].value
    assert preview["price"].dtype.kind == "f" and preview["neighbourhood"].dtype.kind not in "biuf"
    run(app.number_input(key="epochs").set_value(20))
    train(app)
    model_bytes = pg(app).model_bytes()
    table = next(d.value for d in app.dataframe if "test score" in d.value.columns)
    assert list(table["test score"].str.split().str[0]) == ["accuracy", "R²"]
    assert not table.isna().any().any()
    # predict straight from the latest run of the session (no download/upload round trip)
    assert app.selectbox(key="predict_run_2").value == 2
    assert any(b.label == "CSV template" for b in app.download_button)
    new = b"area_sqft,bedrooms,neighbourhood\n1500,3,north\n2500,4,centre\n"
    run(app.file_uploader(key="predict_file").set_value(("new.csv", new, "text/csv")))
    pred = app.dataframe[-1].value
    assert pred["predicted_price"].dtype.kind == "f" and pred["predicted_price"].between(50_000, 500_000).all()
    assert any("2 rows predicted" in c.value for c in app.caption) and not app.warning
    odd = b"area_sqft,bedrooms,neighbourhood\n1500,3,harbour\n"
    run(app.file_uploader(key="predict_file").set_value(("odd.csv", odd, "text/csv")))
    assert any("'neighbourhood': 'harbour' (1 row)" in shown(w) for w in app.warning)
    run(app.file_uploader(key="predict_file").set_value(("new.csv", new, "text/csv")))
    run(app.radio(key="model_source").set_value("Upload a model file"))
    run(app.file_uploader(key="model_file").set_value(("houses.mlp", model_bytes, "application/zip")))
    run(app.file_uploader(key="predict_file").set_value(("new.csv", new, "text/csv")))
    assert not errors(app) and app.dataframe[-1].value["predicted_price"].equals(pred["predicted_price"])


def test_new_data_is_plotted_above_results_of_earlier_data(app):
    train(app)
    assert "circles" not in plotly_titles(app)             # trained: the results replace the data plot
    assert not [b for b in app.selectbox if b.key == "selected_run"]  # one run: nothing to choose
    run(app.selectbox(key="dataset").set_value("moons"))
    assert "moons" in plotly_titles(app) and "Decision boundary" in plotly_titles(app)
    assert any("results below are from run 1 (circles)" in c.value for c in app.caption)
    train(app)
    assert "moons" not in plotly_titles(app) and app.selectbox(key="selected_run").value == 2
    run(app.selectbox(key="selected_run").set_value(1))    # an older run on other data: show the data too
    assert "moons" in plotly_titles(app)


def test_app_limits_blas_to_one_thread_before_numpy_loads():
    """Multi-threaded OpenBLAS stalls small products on a busy CPU (live charts, other sessions)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MLP_BLAS_THREADS")}
    code = ("import runpy, threadpoolctl; runpy.run_path(%r); "
            "print(sorted({i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas'}))" % APP)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] in ("[1]", "[]"), out.stdout


def test_data_settings_survive_a_visit_to_the_other_source(app):
    run(app.selectbox(key="dataset").set_value("moons"))
    run(app.slider(key="n_samples").set_value(800))
    run(app.slider(key="noise").set_value(0.25))
    use_csv(app, labelled_csv())
    run(app.slider(key="test_size").set_value(0.3))
    run(app.radio(key="source").set_value("builtin"))
    assert (app.selectbox(key="dataset").value, app.slider(key="n_samples").value,
            app.slider(key="noise").value) == ("moons", 800, 0.25)
    use_csv(app, labelled_csv())   # a file uploader cannot keep its file: upload it again
    assert app.slider(key="test_size").value == 0.3
    run(app.radio(key="source").set_value("builtin"))
    run(app.selectbox(key="dataset").set_value("spiral"))
    run(app.slider(key="n_classes").set_value(5))
    run(app.selectbox(key="dataset").set_value("circles"))   # no class-count slider here
    run(app.selectbox(key="dataset").set_value("spiral"))
    assert app.slider(key="n_classes").value == 5



# ------------------------------------------------------------------ inside the network

from urllib.parse import parse_qsl, urlsplit  # noqa: E402

from webapp.core import links as L  # noqa: E402
from webapp.core import session as S  # noqa: E402


def default_model_and_data(**changes):
    """The default model and data, built straight from the session (not through the app or the Playground)."""
    args = L.session_args(changes)
    prepared = S.prepare_builtin(**args["prepare"])
    cfg = {**args["cfg"], "arch": S.default_architecture(prepared), "loss": "bce"}
    return cfg, prepared


def epoch_label(at):
    return [m.value for m in at.markdown if m.value.startswith("**Epoch ")]


def test_step_resume_reset_follow_the_engine(app):
    assert epoch_label(app) == ["**Epoch 0**"]
    run(app.number_input(key="epochs").set_value(150))
    for _ in range(3):
        run(app.button(key="step").click())
    assert epoch_label(app) == ["**Epoch 3**"] and not errors(app)
    run_ = shown_run(app)
    assert len(runs(app)) == 1 and run_["epochs"] == 3 == len(run_["history"]["loss"])
    # independent truth: the engine's own resumable run, three single epochs on a model built the same way
    cfg, prepared = default_model_and_data(epochs=150)
    ref = S.build_model(cfg, prepared)
    tr = S.start_training(ref, prepared, cfg)
    for _ in range(3):
        tr.step(epochs=1)
    np.testing.assert_array_equal(run_["model"].params, ref.params)
    assert run_["history"]["loss"] == tr.history.history["loss"]
    # Resume continues the same model to the end of its epochs: the same as one uninterrupted training
    run(app.button(key="resume").click())
    assert epoch_label(app) == ["**Epoch 150**"] and shown_run(app)["id"] == run_["id"]
    full = S.build_model(cfg, prepared)
    S.train(full, prepared, cfg)
    np.testing.assert_array_equal(run_["model"].params, full.params)
    assert "Network" in plotly_titles(app)
    # Reset draws fresh weights: epoch 0, the weights a new model starts from, no loss curve yet
    run(app.button(key="reset").click())
    assert epoch_label(app) == ["**Epoch 0**"]
    fresh = shown_run(app)
    assert fresh["id"] != run_["id"] and fresh["epochs"] == 0
    np.testing.assert_array_equal(fresh["model"].params, S.build_model(cfg, prepared).params)
    assert "Loss" not in plotly_titles(app) and "Network" in plotly_titles(app)
    assert any("Fresh weights" in i.value for i in app.info)
    run(app.button(key="reset").click())                    # already fresh: nothing happens
    assert shown_run(app)["id"] == fresh["id"] and len(runs(app)) == 2
    run(app.button(key="step").click())
    assert epoch_label(app) == ["**Epoch 1**"] and shown_run(app)["id"] == fresh["id"]
    # the compare tab lists trained runs only; the model tab can use any
    assert len(runs(app)) == 2


def test_step_on_changed_data_makes_a_new_model(app):
    run(app.button(key="step").click())
    first = shown_run(app)
    run(app.slider(key="noise").set_value(0.2))
    run(app.button(key="step").click())
    assert epoch_label(app) == ["**Epoch 1**"]
    second = shown_run(app)
    assert second["id"] != first["id"] and runs(app)[0]["epochs"] == 1
    assert any("changed since run 1" in i.value for i in app.info)
    run(app.text_input(key="arch").input("[2, 4, 'tanh', 1, 'sigmoid']"))
    run(app.button(key="step").click())
    assert shown_run(app)["model"].n_params == 3 * 4 + 5


def test_network_chart_appears_after_train(app):
    assert "Network" not in plotly_titles(app)
    train(app)
    net = next(f for f in figures_on_page(app) if f["layout"]["title"]["text"] == "Network")
    text = json.dumps(net, ensure_ascii=False)
    assert "x1" in text and "x2" in text and "x1²" not in text


def test_transforms_change_the_network_inputs_and_need_2d_data(app):
    run(app.checkbox(key="tf_x1^2").check())
    run(app.checkbox(key="tf_x1*x2").check())
    assert app.text_input(key="arch").value == "[4, 8, 'relu', 8, 'relu', 1, 'sigmoid']" and not errors(app)
    assert any("become 4 network inputs" in c.value and "x1²" in c.value for c in app.caption)
    run_ = train(app)
    model = run_["model"]
    assert model.n_inputs == 4 and model.preprocessor.transforms == ("x1^2", "x1*x2")
    net = json.dumps(run_["figures"]["network"], ensure_ascii=False)
    assert "x1²" in net and "x1·x2" in net and "x2²" not in net
    assert "decision_boundary" in run_["figures"]          # still drawn over the raw x1, x2 plane
    assert app.query_params["transforms"] in ("x1^2,x1*x2", ["x1^2,x1*x2"])
    # a 1-D dataset cannot take them: the core clears them and says so below the dataset; no checkbox is offered
    run(app.selectbox(key="dataset").set_value("sine"))
    assert "Extra inputs x1², x1·x2 cleared: they need two inputs, x1 and x2, and the 'sine' dataset has 1." in \
        [shown(w) for w in app.warning]
    assert not [c for c in app.checkbox if str(c.key).startswith("tf_")] and pg(app).settings["transforms"] == []
    assert not errors(app) and not app.button(key="train").disabled
    run(app.selectbox(key="dataset").set_value("moons"))            # 2-D again: all five offered, none checked
    assert sorted(c.key for c in app.checkbox if str(c.key).startswith("tf_")) == \
        sorted(["tf_x1^2", "tf_x2^2", "tf_x1*x2", "tf_sin(x1)", "tf_sin(x2)"])
    assert not any(c.value for c in app.checkbox if str(c.key).startswith("tf_"))


def test_l1_is_selectable_next_to_l2_and_reaches_the_optimizer(app):
    assert app.select_slider(key="l1").options[:2] == ["0", "1e-05"]
    run(app.select_slider(key="l1").set_value(1e-3))
    run(app.number_input(key="epochs").set_value(5))
    model = train(app)["model"]
    assert model.optimizer.hyper["l1"] == 1e-3
    # the penalty is in what training minimises: the app's gradient equals the engine's with l1 set
    _, prepared = default_model_and_data()
    plain = S.build_model({"arch": app.text_input(key="arch").value, "l1": 0.0}, prepared)
    plain.params = model.params
    g_app = np.concatenate([g.ravel() for g in model.gradients(prepared.X_train, prepared.y_train)])
    g_plain = np.concatenate([g.ravel() for g in plain.gradients(prepared.X_train, prepared.y_train)])
    assert not np.allclose(g_app, g_plain)


def latex_of(at):
    return [el.value for el in at.latex]


def open_explain(at):
    """Open the "Explain a step" expander (its open state lives in session state under its key)."""
    at.session_state["explain"] = True
    return run(at)


def test_explain_a_step_shows_formulas_with_the_traces_numbers_and_the_reference_code(app):
    assert not app.latex and not any("no model to explain" in i.value for i in app.info)   # closed: not computed
    open_explain(app)
    assert any("no model to explain yet" in i.value for i in app.info)
    run(app.number_input(key="epochs").set_value(20))
    run_ = train(app)
    model, prepared = run_["model"], run_["prepared"]
    run(app.number_input(key="explain_row").set_value(7))
    tex = " ".join(latex_of(app))
    assert "W^{(1)" in tex and r"\delta" in tex
    # the numbers are model.trace's for training row 7 (4 significant digits), computed here independently
    tr = model.trace(prepared.X_train[7:8], prepared.y_train[7:8])
    assert f"{tr.loss:.4g}" in tex
    for z in tr.layers[0].z[0]:
        assert f"{z:.4g}" in tex or abs(z) < 1e-3, z
    # beside each formula: mlp/reference.py's own lines, numbered as in the file
    import mlp.reference as R
    src = Path(R.__file__).read_text().splitlines()
    code = next(c.value for c in app.code if "def layer_forward" in c.value)
    first = code.splitlines()[0]
    n, text = first.split("  ", 1) if not first.startswith(" ") else first.strip().split("  ", 1)
    assert src[int(n) - 1] == text
    assert any("mlp/reference.py" in c.value and "layer_forward" in c.value for c in app.caption)
    # a chosen weight, and a row out of range: a clear message, the model untouched
    run(app.selectbox(key=f"explain_layer_{run_['id']}").set_value(2))
    run(app.number_input(key="explain_i").set_value(3))
    run(app.number_input(key="explain_j").set_value(5))
    assert any("W2[3,5]" in c.value for c in app.caption)
    before = model.params.copy()
    run(app.number_input(key="explain_row").set_value(10_000))
    assert "row" in errors(app)[0].lower() and f"{prepared.n_train - 1}" in errors(app)[0]
    np.testing.assert_array_equal(model.params, before)
    assert epoch_label(app) == ["**Epoch 20**"]


def test_explain_shows_its_notes(app):
    """What the numbers mean beyond the formulas (a standardised target, dropout off) is said on the page."""
    run(app.selectbox(key="dataset").set_value("sine"))
    run(app.text_input(key="arch").input("[1, 8, 'tanh', 'dropout(0.2)', 1, 'linear']"))
    run(app.button(key="step").click())
    open_explain(app)
    notes = [shown(c) for c in app.caption]
    assert any("The target y is 'y' standardised" in n for n in notes), notes
    assert any("Dropout is off here" in n for n in notes), notes


# ------------------------------------------------------------------ links, ONNX

def open_link(query):
    """A new browser session opened at ``?query`` (a query string or a mapping)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else query.items()
    for k, v in pairs:
        at.query_params[k] = v
    return run(at)


def address(at):
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def share_href(at):
    md = next(m.value for m in at.markdown if m.value.startswith("[**Share link**]("))
    return md[len("[**Share link**]("):md.index(")", len("[**Share link**]("))]


WIDGETS = {"dataset": "moons", "n_samples": 600, "noise": 0.25, "test_size": 0.3, "data_seed": 4,
           "optimizer": "rmsprop", "learning_rate": 0.03, "epochs": 40, "batch_size": "full",
           "lr_schedule": "exponential", "lr_decay": 0.95, "weight_decay": 1e-4, "l1": 1e-3, "dropout": 0.1,
           "validation_split": 0.1, "early_stopping": 5, "seed": 7, "tf_sin(x1)": True}


def set_widget(at, key, value):
    for kind in ("selectbox", "slider", "select_slider", "number_input", "checkbox"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return run(found[0].set_value(value))
    raise KeyError(key)


def widget_value(at, key):
    for kind in ("selectbox", "slider", "select_slider", "number_input", "checkbox", "text_input"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0].value
    raise KeyError(key)


def test_address_bar_holds_every_setting_and_opening_it_restores_them(app):
    for key, value in WIDGETS.items():
        set_widget(app, key, value)
    run(app.text_input(key="arch").input("[3, 6, 'tanh', 1, 'sigmoid']"))
    run(app.selectbox(key="loss").set_value("mse"))
    link = address(app)
    assert link["dataset"] == "moons" and link["transforms"] == "sin(x1)"
    assert link["arch"] == "[3, 6, 'tanh', 1, 'sigmoid']"
    assert link["batch_size"] == "full" and link["l1"] == "0.001" and link["loss"] == "mse"
    other = open_link(link)
    assert not other.warning, [w.value for w in other.warning]
    for key, value in WIDGETS.items():
        assert widget_value(other, key) == value, key
    assert other.text_input(key="arch").value == "[3, 6, 'tanh', 1, 'sigmoid']"
    assert other.selectbox(key="loss").value == "mse"
    assert address(other) == link
    model = train(other)["model"]
    assert model.optimizer.name == "rmsprop" and model.optimizer.hyper["l1"] == 1e-3 and model.seed == 7
    assert model.preprocessor.transforms == ("sin(x1)",)


def test_a_hand_broken_link_shows_notes_and_the_app_works():
    at = open_link("n_samples=abc&epochs=-3&zzz=1&noise=0.123&optimizer=nadam"
                   "&arch=%5B2%2C%20__import__('os')%5D&model=not-a-model")
    notes = " ".join(shown(w) for w in at.warning)
    for word in ("n_samples", "epochs", "zzz", "arch", "model"):
        assert word in notes, (word, notes)
    assert "noise" not in notes and at.slider(key="noise").value == 0.123   # in range: kept, between the steps
    assert at.selectbox(key="optimizer").value == "nadam"                  # the valid part is restored
    assert at.slider(key="n_samples").value == L.defaults()["n_samples"]
    assert at.number_input(key="epochs").value == L.defaults()["epochs"]
    assert not runs(at)
    train(at)


def test_a_links_values_are_shown_as_text_not_markdown():
    """A crafted value cannot become a clickable link, emphasis or a formula inside the app's own note."""
    at = open_link({"zzz": "[click me](https://example.invalid/x)", "epochs": "**$x$**"})
    notes = [w.value for w in at.warning]
    assert any("click me" in n for n in notes) and any("x" in n for n in notes)
    assert not any("[click me](" in n or "**$" in n or "https://" in n for n in notes), notes
    assert any("[click me](https://example.invalid/x)" in shown(w) for w in at.warning)   # the text, as written


def test_share_link_carries_a_small_trained_model_that_opens_without_training(app, tmp_path):
    run(app.number_input(key="epochs").set_value(30))
    run_ = train(app)
    href = share_href(app)
    query = urlsplit(href).query
    assert "model=" in query and dict(parse_qsl(query))["epochs"] == "30"
    assert app.text_input(key="share_text").value == href                 # the copyable text
    other = open_link(query)
    opened = shown_run(other)
    assert opened["from_link"] and opened["epochs"] == 30 and not other.warning
    assert epoch_label(other) == ["**Epoch 30**"]
    assert any("opened from a link" in c.value for c in other.caption)
    for a, b in zip(opened["model"].get_weights(), run_["model"].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert opened["metrics"]["test"] == run_["metrics"]["test"]
    dl = next(b for b in other.download_button if b.label == "Download model")
    path = tmp_path / "shared.mlp"
    path.write_bytes(pg(other).model_bytes())
    assert dl.proto.label == "Download model"
    for a, b in zip(mlp.load(path).get_weights(), run_["model"].get_weights()):
        np.testing.assert_array_equal(a, b)
    # Step continues the opened model itself
    run(other.button(key="step").click())
    assert epoch_label(other) == ["**Epoch 31**"] and shown_run(other)["id"] == opened["id"]


def test_share_link_of_a_large_model_carries_settings_and_says_so(app):
    run(app.text_input(key="arch").input("[2, 64, 'relu', 64, 'relu', 1, 'sigmoid']"))
    run(app.number_input(key="epochs").set_value(3))
    train(app)
    assert "model=" not in share_href(app)
    assert any("4,417 parameters" in c.value and "settings only" in c.value for c in app.caption)
    other = open_link(urlsplit(share_href(app)).query)
    assert not runs(other) and other.text_input(key="arch").value.startswith("[2, 64")


def test_csv_link_restores_settings_and_asks_for_the_file(app):
    use_csv(app, labelled_csv())
    run(app.selectbox(key="target").set_value("height"))
    run(app.number_input(key="epochs").set_value(33))
    link = address(app)
    assert link["source"] == "csv" and link["target"] == "height"
    other = open_link(link)
    assert other.radio(key="source").value == "csv"
    assert any("upload" in i.value.lower() and "height" in i.value for i in other.sidebar.info)
    run(other.file_uploader(key="csv_file").set_value(("data.csv", labelled_csv(), "text/csv")))
    assert other.selectbox(key="target").value == "height"
    assert other.number_input(key="epochs").value == 33 and not errors(other)
    assert train(other)["prepared"].task == "regression"


def test_download_onnx_beside_download_model_runs_in_onnxruntime(app):
    import onnxruntime as ort
    run(app.checkbox(key="tf_x1*x2").check())   # the transform is computed inside the ONNX graph too
    run(app.number_input(key="epochs").set_value(20))
    run_ = train(app)
    labels = [b.label for b in app.download_button]
    assert labels.index("Download ONNX") == labels.index("Download model") + 1
    onnx_bytes, why = pg(app).onnx()
    assert why is None
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    prepared = run_["prepared"]
    out = sess.run(["output"], {"X": prepared.raw_test.astype(np.float32)})[0]
    np.testing.assert_allclose(out, run_["model"].predict(prepared.X_test), atol=1e-5)


@pytest.fixture
def cube_activation():
    """A custom activation (ONNX cannot know it), removed again afterwards."""
    from mlp import activations as A
    name = mlp.register_activation("cube_st", lambda z: z ** 3, lambda z, a: 3 * z ** 2)
    yield name
    A.ACTIVATIONS.pop(name), A.DERIVATIVES.pop(name)
    A.NEEDS_Z.discard(name)


def test_download_onnx_says_why_when_the_model_cannot_be_exported(app, cube_activation):
    run(app.text_input(key="arch").input(f"[2, 4, '{cube_activation}', 1, 'sigmoid']"))
    run(app.number_input(key="epochs").set_value(2))
    train(app)
    button = next(b for b in app.button if b.key.startswith("dl_onnx_"))
    assert button.disabled and "Download model" in [b.label for b in app.download_button]
    assert any("No ONNX export" in shown(c) and cube_activation in shown(c) for c in app.caption)


def test_a_link_whose_model_does_not_fit_its_data_says_so_and_trains(app):
    run(app.number_input(key="epochs").set_value(5))
    train(app)
    query = urlsplit(share_href(app)).query.replace("dataset=circles", "dataset=spiral")
    other = open_link(query)
    assert not runs(other)
    assert any("output" in w.value and "train to see results" in w.value for w in other.warning)
    run(other.button(key="fix_arch").click())            # the link's architecture does not fit spiral either
    assert train(other)["prepared"].name == "spiral"


def test_file_and_column_names_are_shown_as_text_not_markdown(app):
    """An uploaded file's name and its column names (and a model file's) cannot become links or emphasis."""
    name, col = "[evil](https://example.invalid).csv", "*w*"
    lines = labelled_csv().replace(b"weight", col.encode()).split(b"\n")
    cells = lines[1].split(b",")
    lines[1] = b",".join([cells[0], b"", *cells[2:]])                        # one missing value in that column
    raw = b"\n".join(lines)
    use_csv(app, raw, name=name)
    texts = lambda: [e.value for e in (*app.caption, *app.warning, *app.sidebar.warning, *app.success)]  # noqa: E731
    assert any(col in shown(w) for w in app.sidebar.warning)                 # the missing-values warning
    run(app.checkbox(key="drop_missing").check())
    train(app)
    model_bytes = pg(app).model_bytes()
    assert any(name in shown(c) for c in app.caption) and any(col in shown(c) for c in app.caption)
    run(app.radio(key="model_source").set_value("Upload a model file"))
    run(app.file_uploader(key="model_file").set_value((name.replace(".csv", ".mlp"), model_bytes, "application/zip")))
    assert any("Loaded [evil](https://example.invalid).mlp" in shown(s) for s in app.success)
    assert any(f"height, {col}, colour" in shown(c) for c in app.caption)
    assert not any("[evil](" in t or f", {col}," in t or f"{col} (" in t for t in texts()), texts()
