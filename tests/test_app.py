"""The Streamlit app through streamlit.testing.v1.AppTest (real engine, no browser)."""
import json
from pathlib import Path

import numpy as np
import pytest

from streamlit.testing.v1 import AppTest  # noqa: E402  (AppTest.file_uploader/download_button: streamlit>=1.59)

import mlp  # noqa: E402
from tests.test_session import labelled_csv  # noqa: E402

APP = str(Path(__file__).resolve().parents[1] / "webapp" / "app.py")
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


def plotly_titles(at):
    """{title: trace names} of the Plotly charts on the page."""
    out = {}
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        out[spec["layout"]["title"]["text"]] = [t.get("name") for t in spec["data"]]
    return out


def errors(at):
    return [e.value for e in at.error]


def state_keys(at):
    """Session-state keys (AppTest's session_state is iterable only in newer Streamlit versions)."""
    ss = at.session_state
    filtered = getattr(ss, "filtered_state", None)
    return list(filtered if isinstance(filtered, dict) else ss.keys())


def key_starting(at, prefix):
    return next(k for k in state_keys(at) if str(k).startswith(prefix))


def train(at):
    run(at.button(key="train").click())
    assert not errors(at), errors(at)
    return at.session_state["runs"][-1]


def use_csv(at, raw, name="data.csv"):
    run(at.radio(key="source").set_value("Upload CSV"))
    run(at.file_uploader(key="csv_file").set_value((name, raw, "text/csv")))
    return at


@pytest.fixture
def app():
    return new_app()


def test_default_is_ready_and_trains_in_one_click(app, tmp_path):
    assert app.text_input(key="arch").value == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    assert not app.button(key="train").disabled and not errors(app)
    assert app.selectbox(key=key_starting(app, "loss_")).options == \
        ["bce", "mse", "mae", "huber"]
    run_ = train(app)
    assert run_["metrics"]["test"]["accuracy"] >= 0.95
    assert [m.label for m in app.metric][:1] == ["accuracy (test)"]
    assert {"Download model", "Download predictions (CSV)"} <= {b.label for b in app.download_button}
    assert set(run_["figures"]) == {"loss", "decision_boundary", "confusion_matrix", "network"}
    shown = plotly_titles(app)
    assert shown["Decision boundary"][1:] == ["0 (train)", "1 (train)", "0 (test)", "1 (test)"]
    assert shown["Loss"] == ["train", "validation"] and "Confusion matrix (test)" in shown
    # the bytes behind "Download model" load with mlp.load and predict exactly like the app's model
    path = tmp_path / "model.mlp"
    path.write_bytes(run_["model_bytes"])
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
    assert app.selectbox(key="loss_softmax").options == ["cce", "mse", "mae", "huber"]
    run_ = train(app)
    assert run_["prepared"].n_outputs == 3 and run_["metrics"]["test"]["accuracy"] > 0.7
    run(app.selectbox(key="dataset").set_value("sine"))
    assert app.text_input(key="arch").value.endswith("1, 'linear']")
    assert app.selectbox(key="loss_linear").options == ["mse", "mae", "huber"]
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
    run(app.select_slider(key="lr").set_value(0.1))
    run(app.number_input(key="epochs").set_value(40))
    run(app.selectbox(key="batch_size").set_value("full batch"))
    run(app.selectbox(key="schedule").set_value("step"))
    run(app.slider(key="dropout").set_value(0.1))
    run(app.selectbox(key="l2").set_value(1e-4))
    run(app.number_input(key="model_seed").set_value(7))
    run_ = train(app)
    model = run_["model"]
    assert model.optimizer.name == "sgd_momentum" and model.optimizer.hyper["weight_decay"] == 1e-4
    assert [s["type"] for s in model.specs].count("dropout") == 2 and model.seed == 7
    lrs = run_["history"]["lr"]
    assert len(lrs) == 40 and lrs[0] == pytest.approx(0.1) and lrs[13] == pytest.approx(0.01)  # step: every 40 // 3


def test_compare_runs_overlays_loss_curves(app):
    train(app)
    run(app.select_slider(key="lr").set_value(0.003))
    train(app)
    runs = app.session_state["runs"]
    assert [r["id"] for r in runs] == [1, 2]
    assert app.multiselect(key="compare_2").value == [1, 2]
    assert plotly_titles(app)["Loss curves"] == ["run 1 train", "run 1 validation", "run 2 train",
                                                 "run 2 validation"]
    assert app.selectbox(key="selected_run").value == 2
    run(app.selectbox(key="selected_run").set_value(1))
    assert "run 1" in app.subheader[0].value
    run(app.button(key="clear_runs").click())
    assert app.session_state["runs"] == []


def test_csv_with_string_labels_trains(app):
    use_csv(app, labelled_csv())
    assert app.selectbox(key=key_starting(app, "target_")).value == "species"
    feats = app.multiselect(key=key_starting(app, "features_"))
    assert feats.value == ["height", "weight", "colour"]
    assert app.text_input(key="arch").value == "[5, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
    run(app.number_input(key="epochs").set_value(200))
    run_ = train(app)
    assert run_["prepared"].class_names == ["setosa", "virginica"]
    assert run_["metrics"]["test"]["accuracy"] > 0.85
    assert "Confusion matrix (test)" == run_["figures"]["confusion_matrix"]["layout"]["title"]["text"]
    assert "species" in run_["pred_csv"].splitlines()[0]


def test_csv_semicolon_task_override_and_target_choice(app):
    use_csv(app, labelled_csv(sep=";"))
    tkey = key_starting(app, "target_")
    run(app.selectbox(key=tkey).set_value("height"))
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
    drop = app.checkbox(key=key_starting(app, "drop_"))
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
    assert not app.session_state["runs"]
    run(app.file_uploader(key="csv_file").set_value(("good.csv", labelled_csv(), "text/csv")))
    assert not errors(app)
    train(app)


def test_upload_model_and_predict_csv(app):
    use_csv(app, labelled_csv())
    model_bytes = train(app)["model_bytes"]
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
    assert len(a.session_state["runs"]) == 1 and b.session_state["runs"] == []
    assert not b.download_button


def test_settings_survive_switching_to_csv_before_upload(app):
    run(app.text_input(key="arch").input("[2, 4, 'tanh', 1, 'sigmoid']"))
    run(app.number_input(key="epochs").set_value(77))
    run(app.radio(key="source").set_value("Upload CSV"))
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
        assert app.text_input(key="arch").value == app.session_state["arch_default"]
        assert not errors(app) and not app.button(key="train").disabled, name
    assert app.text_input(key="arch").value == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"


def test_regression_with_large_targets_reads_in_original_units(app):
    use_csv(app, house_prices_csv(), "houses.csv")
    assert any("3 feature column(s) become 5 network inputs" in c.value for c in app.caption)
    run(app.number_input(key="epochs").set_value(200))
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
    assert app.selectbox(key="schedule").value == "constant"
    assert not [n for n in app.number_input if n.key == "lr_decay"]
    run(app.selectbox(key="schedule").set_value("exponential"))
    run(app.number_input(key="lr_decay").set_value(0.9))
    run(app.number_input(key="epochs").set_value(5))
    lrs = train(app)["history"]["lr"]
    assert lrs[1] == pytest.approx(lrs[0] * 0.9)
    run(app.selectbox(key="schedule").set_value("constant"))
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
    model_bytes = train(app)["model_bytes"]
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
    assert any("'neighbourhood': 'harbour' (1 row)" in w.value for w in app.warning)
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
    run(app.slider(key="csv_test_size").set_value(0.3))
    run(app.radio(key="source").set_value("Built-in dataset"))
    assert (app.selectbox(key="dataset").value, app.slider(key="n_samples").value,
            app.slider(key="noise").value) == ("moons", 800, 0.25)
    use_csv(app, labelled_csv())   # a file uploader cannot keep its file: upload it again
    assert app.slider(key="csv_test_size").value == 0.3
    run(app.radio(key="source").set_value("Built-in dataset"))
    run(app.selectbox(key="dataset").set_value("spiral"))
    run(app.slider(key="n_classes").set_value(5))
    run(app.selectbox(key="dataset").set_value("circles"))   # no class-count slider here
    run(app.selectbox(key="dataset").set_value("spiral"))
    assert app.slider(key="n_classes").value == 5

