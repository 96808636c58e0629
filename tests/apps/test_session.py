"""webapp.core.session: the workflow both front ends call, on the real engine (no mocks)."""
import csv
import io
import time

import numpy as np
import pytest

import mlp
from mlp.architecture import parse_architecture
from webapp.core import session as S


def labelled_csv(n=240, seed=0, sep=","):
    """Two numeric features, one categorical feature and string labels (a learnable rule)."""
    rng = np.random.default_rng(seed)
    lines = [sep.join(["height", "weight", "colour", "species"])]
    for _ in range(n):
        h, w = rng.normal(size=2)
        colour = rng.choice(["red", "green", "blue"])
        label = "setosa" if h + w + (1.5 if colour == "red" else 0) > 0.3 else "virginica"
        lines.append(sep.join([f"{h:.4f}", f"{w:.4f}", colour, label]))
    return ("\n".join(lines) + "\n").encode()


FAST = {"learning_rate": 0.01, "batch_size": 32}   # the settings' default (a slower first show) is not the point here


def train_default(prepared, **cfg):
    cfg = {"arch": S.default_architecture(prepared), **FAST, **cfg}
    model = S.build_model(cfg, prepared)
    history = S.train(model, prepared, cfg)
    return model, history


def engine_message(text):
    try:
        parse_architecture(text)
    except (ValueError, TypeError) as e:
        return str(e)
    raise AssertionError("expected an engine error")


@pytest.mark.parametrize("name", sorted(S.BUILTIN_TASKS))
def test_builtin_datasets_prepare_with_a_valid_default(name):
    p = S.prepare_builtin(name, n_samples=200, seed=1)
    assert p.task == S.BUILTIN_TASKS[name]
    assert p.n_train + p.n_test == 200 and p.n_test == 40
    assert p.X_train.shape == (160, p.n_inputs) and p.raw_train.shape[1] == p.n_inputs
    chk = S.check_architecture(S.default_architecture(p), p)
    assert chk["ok"], chk["error"]
    assert chk["output_activation"] == S.OUTPUT_ACTIVATION[p.task]
    assert p.describe().startswith(name)


def test_default_circles_reaches_high_accuracy_and_charts():
    p = S.prepare_builtin("circles")
    model, history = train_default(p, epochs=S.DEFAULT_CONFIG["epochs"])
    assert len(history.history["loss"]) == S.DEFAULT_CONFIG["epochs"]
    assert "val_loss" in history.history  # validation split of the training rows
    m = S.evaluate(model, p)
    assert m["test"]["accuracy"] >= 0.95 and m["train"]["accuracy"] >= 0.95
    assert set(m["test"]) >= {"accuracy", "precision", "recall", "f1", "confusion_matrix", "loss"}
    assert np.sum(m["test"]["confusion_matrix"]) == p.n_test
    figs = S.figures(model, p, history)
    assert set(figs) == {"loss", "decision_boundary", "confusion_matrix", "network"}
    heat = figs["decision_boundary"]["data"][0]
    assert len(heat["z"]) == S.GRID_SIZE and len(heat["z"][0]) == S.GRID_SIZE
    # axes in original units: the grid covers the raw points
    xs = heat["x"]
    assert xs[0] < p.raw_train[:, 0].min() and xs[-1] > p.raw_train[:, 0].max()


def test_sine_regression_fits_curve_in_original_units():
    p = S.prepare_builtin("sine", n_samples=300)
    model, history = train_default(p, epochs=200)
    m = S.evaluate(model, p)
    assert m["test"]["r2"] > 0.9 and m["test"]["mae"] < 0.3
    figs = S.figures(model, p, history)
    assert set(figs) == {"loss", "fit", "predicted_vs_actual", "network"}
    curve = figs["fit"]["data"][-1]
    assert max(curve["y"]) == pytest.approx(1.0, abs=0.3) and min(curve["y"]) == pytest.approx(-1.0, abs=0.3)


def test_multiclass_spiral_and_blobs_classes():
    p = S.prepare_builtin("blobs", n_classes=4)
    assert p.n_outputs == 4 and p.class_names == ["0", "1", "2", "3"]
    model, _ = train_default(p)
    assert S.evaluate(model, p)["test"]["accuracy"] > 0.9
    assert "decision_boundary" in S.figures(model, p)


def test_check_architecture_reports_and_fixes_sizes():
    p = S.prepare_builtin("spiral")  # 2 inputs, 3 classes
    chk = S.check_architecture("[4, 16, 'relu', 1, 'sigmoid']", p)
    assert not chk["ok"]
    assert "2 input" in chk["error"] and "3 output" in chk["error"] and "softmax" in chk["error"]
    assert chk["fixed"] == "[2, 16, 'relu', 3, 'softmax']"
    assert S.check_architecture(chk["fixed"], p)["ok"]
    # regression accepts any non-probability output activation
    sine = S.prepare_builtin("sine")
    assert S.check_architecture("[1, 8, 'tanh', 1]", sine)["ok"]
    assert S.check_architecture("[1, 8, 'tanh', 1, 'sigmoid']", sine)["fixed"] == "[1, 8, 'tanh', 1, 'linear']"


def test_check_architecture_passes_engine_errors_verbatim():
    p = S.prepare_builtin("circles")
    for text in ["[2, 8, 'rleu', 1, 'sigmoid']", "[2, 8,, 1]", "['relu', 2]", "[2, 8 'relu']"]:
        chk = S.check_architecture(text, p)
        assert not chk["ok"] and chk["fixed"] is None
        assert chk["error"] == engine_message(text)


def test_parameter_limit_refused_before_building():
    p = S.prepare_builtin("circles")
    t = time.perf_counter()
    chk = S.check_architecture("[2, 10**9, 1]", p)
    assert not chk["ok"] and chk["fixed"] is None and "parameters" in chk["error"]
    with pytest.raises(ValueError, match="parameters"):
        S.build_model({"arch": "[2, 10**9, 'relu', 1, 'sigmoid']"}, p)
    assert time.perf_counter() - t < 1.0  # nothing was allocated


def test_losses_match_output_layer_and_build_checks_them():
    assert S.loss_choices("sigmoid")[0] == "bce" and "cce" not in S.loss_choices("sigmoid")
    assert S.loss_choices("softmax")[0] == "cce" and "bce" not in S.loss_choices("softmax")
    assert "bce" not in S.loss_choices("linear") and "cce" not in S.loss_choices("linear")
    p = S.prepare_builtin("circles")
    with pytest.raises(ValueError, match="cce"):
        S.build_model({"arch": S.default_architecture(p), "loss": "cce"}, p)


def test_build_options_dropout_l2_schedule_early_stopping():
    p = S.prepare_builtin("moons")
    cfg = {"arch": S.default_architecture(p), "dropout": 0.2, "weight_decay": 1e-4, "optimizer": "adamw",
           "lr_schedule": "cosine", "lr_decay": 0.9, "early_stopping": 5, "epochs": 400, "seed": 3, **FAST}
    model = S.build_model(cfg, p)
    assert [s["type"] for s in model.specs].count("dropout") == 2  # after each hidden layer
    assert model.optimizer.hyper["weight_decay"] == 1e-4
    h = S.train(model, p, cfg)
    assert h.history["lr"][0] == pytest.approx(FAST["learning_rate"])
    assert h.history["lr"][-1] < h.history["lr"][0]  # cosine annealing
    assert h.stopped_early and len(h.history["loss"]) < 400
    # the same seed gives the same model
    again = S.build_model(cfg, p)
    S.train(again, p, cfg)
    np.testing.assert_array_equal(again.params, model.params)


def test_on_epoch_can_stop_and_model_is_kept():
    p = S.prepare_builtin("circles")
    seen = []
    model = S.build_model({"arch": S.default_architecture(p)}, p)
    h = S.train(model, p, {"epochs": 500, **FAST}, on_epoch=lambda e, logs: seen.append((e, logs["loss"])) or e >= 30)
    assert [e for e, _ in seen] == list(range(1, 31)) and len(h.history["loss"]) == 30
    assert S.evaluate(model, p)["test"]["accuracy"] > 0.6


def test_csv_preview_defaults_and_string_labels():
    prev = S.csv_preview(labelled_csv())
    assert prev["columns"] == ["height", "weight", "colour", "species"]
    assert prev["default_target"] == "species" and prev["default_features"] == ["height", "weight", "colour"]
    assert prev["default_task"] == "binary" and prev["n_rows"] == 240 and len(prev["rows"]) == S.PREVIEW_ROWS
    assert prev["missing"] == {}


def test_csv_with_string_labels_and_categorical_feature_trains_and_predicts():
    raw = labelled_csv()
    p = S.prepare_csv(raw)
    assert p.task == "binary" and p.class_names == ["setosa", "virginica"]
    assert p.n_inputs == 5 and p.raw_train is None  # one-hot colour: no 2-D plot
    model, history = train_default(p, epochs=200)
    assert S.evaluate(model, p)["test"]["accuracy"] > 0.85
    figs = S.figures(model, p, history)
    assert set(figs) == {"loss", "confusion_matrix", "network"}
    # the downloaded model predicts raw CSV columns on its own
    loaded = S.load_model(model.to_bytes())
    out = mlp.data.read_csv(S.predict_csv(loaded, raw))
    assert out.columns[-3:] == ["predicted_species", "p(setosa)", "p(virginica)"]
    assert set(out.column("predicted_species")) <= {"setosa", "virginica"}
    truth, pred = out.column("species"), out.column("predicted_species")
    assert np.mean([a == b for a, b in zip(truth, pred)]) > 0.85
    np.testing.assert_allclose(np.asarray(out.column("p(virginica)"), float),
                               model.predict(p.preprocessor.transform_X(mlp.data.read_csv(raw)))[:, 0], atol=1e-6)
    # the run's own predictions CSV names raw columns and the split
    text = S.predictions_csv(model, p)
    table = mlp.data.read_csv(text)
    assert table.columns[:5] == ["split", "height", "weight", "colour", "species"]
    assert len(table) == 240 and set(table.column("split")) == {"train", "test"}


def test_prediction_csv_cells_cannot_run_as_spreadsheet_formulas():
    """Class names come from model files people share; a downloaded predictions CSV opened in a spreadsheet
    must not run them. Text starting like a formula gets a leading quote; numbers stay as they are."""
    rows = "".join(f"{x},{-x / 7:.3f},{'=cmd' if x % 2 else '@evil'},{'-minus' if x % 3 else '+plus'}\n"
                   for x in range(60))
    raw = ("x,neg,label,note\n" + rows).encode()
    p = S.prepare_csv(raw, target="label", features=["x", "neg"])
    assert p.class_names == ["=cmd", "@evil"]
    model, _ = train_default(p, epochs=3)
    for text, echoed in ((S.predict_csv(model, raw), ["'-minus", "'+plus"]), (S.predictions_csv(model, p), [])):
        cells = [c for line in csv.reader(io.StringIO(text)) for c in line]
        assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c.startswith("-") and not _is_number(c))]
        assert all(c in cells for c in ["'=cmd", "'@evil"] + echoed)   # the input's own text cells too
        assert "p('=cmd)" not in cells and "p(=cmd)" in cells         # inside a name it is harmless
        assert any(c.startswith("-0.") for c in cells)                # negative numbers are kept


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_semicolon_csv_and_task_override():
    raw = labelled_csv(sep=";")
    assert S.csv_preview(raw)["columns"] == ["height", "weight", "colour", "species"]
    p = S.prepare_csv(raw, target="height", features=["weight", "colour"])
    assert p.task == "regression" and p.n_outputs == 1
    p = S.prepare_csv(b"a,b\n" + b"".join(f"{i % 7},{i % 3}\n".encode() for i in range(60)), task="regression")
    assert p.task == "regression"
    p = S.prepare_csv(b"a,b\n" + b"".join(f"{i % 7},{i % 3}\n".encode() for i in range(60)))
    assert p.task == "multiclass" and p.n_outputs == 3


def test_missing_values_reported_then_dropped():
    raw = b"x,y,label\n1,2,a\n,3,b\n2,NaN,a\n3,4,b\n4,5,a\n5,6,b\n6,7,a\n7,8,b\n"
    assert S.csv_preview(raw)["missing"] == {"x": 1, "y": 1}
    with pytest.raises(ValueError, match="drop rows"):
        S.prepare_csv(raw)
    p = S.prepare_csv(raw, drop_missing=True)
    assert p.n_train + p.n_test == 6 and "Dropped 2 of 8 rows" in p.notes[0]
    # only the chosen columns count
    p = S.prepare_csv(raw, features=["x"], drop_missing=True)
    assert p.n_train + p.n_test == 7


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ""),
    (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "line 3"),
    (b"a,b\n1,x\n2,x\n3,x\n4,x\n5,x\n", "one class"),
    (b"a,b\nNaN,NaN\nNA,\n?,null\n", "no values at all"),
    (b"a,b\nNaN,1\nNA,2\n?,1\n,2\n,1\n", "no values at all"),
    (b"onlycolumn\n1\n2\n", "one column"),
    (b"a,b\n", "no data rows"),
])
def test_bad_csvs_raise_clear_value_errors(raw, words):
    with pytest.raises(ValueError) as err:
        S.prepare_csv(raw)
    assert len(str(err.value)) > 20 and words.lower() in str(err.value).lower()


def test_all_nan_csv_dropping_leaves_nothing():
    with pytest.raises(ValueError, match="nothing is left"):
        S.prepare_csv(b"a,b,c\nNaN,1,x\n2,NA,y\n", drop_missing=True)


def test_non_utf8_csv_is_read():
    raw = "x;y;city\n1;2;Köln\n3;4;Zürich\n5;6;Köln\n7;8;Zürich\n9;1;Köln\n2;2;Zürich\n".encode("cp1252")
    p = S.prepare_csv(raw)
    assert p.class_names == ["Köln", "Zürich"]


def test_limits(monkeypatch):
    monkeypatch.setattr(S, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(ValueError, match="MB"):
        S.csv_preview(labelled_csv())
    monkeypatch.setattr(S, "MAX_UPLOAD_BYTES", 10**8)
    monkeypatch.setattr(S, "MAX_ROWS", 50)
    with pytest.raises(ValueError, match="50"):
        S.prepare_csv(labelled_csv())
    with pytest.raises(ValueError, match=f"between {S.MIN_SAMPLES} and"):
        S.prepare_builtin("circles", n_samples=S.MAX_SAMPLES + 1)
    p = S.prepare_builtin("circles", n_samples=50)
    with pytest.raises(ValueError, match="Epochs"):
        S.train(S.build_model({"arch": S.default_architecture(p)}, p), p, {"epochs": S.MAX_EPOCHS + 1})


def test_model_files_and_incompatible_csv():
    with pytest.raises(ValueError, match="not an mlp model"):
        S.load_model(b"height,weight\n1,2\n")
    with pytest.raises(ValueError):
        S.load_model(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="empty"):
        S.load_model(b"")
    p = S.prepare_csv(labelled_csv())
    model, _ = train_default(p, epochs=5)
    info = S.model_info(S.load_model(model.to_bytes()))
    assert info["features"] == ["height", "weight", "colour"] and info["target"] == "species"
    assert info["class_names"] == ["setosa", "virginica"] and info["n_inputs"] == 5
    with pytest.raises(ValueError, match="lacks column.*colour"):
        S.predict_csv(model, b"height,weight\n1,2\n")
    # extra columns are fine; a row with a missing feature is an engine error, passed on
    notes = []
    assert "predicted_species" in S.predict_csv(model, b"id,height,weight,colour\n7,1,2,red\n", notes)
    assert notes == []
    # a category the model never saw is predicted (as all zeros) and the user is told which, in how many rows
    text = S.predict_csv(model, b"height,weight,colour\n1,2,purple\n0,0,purple\n1,1,red\n", notes)
    assert len(mlp.data.read_csv(text)) == 3
    assert len(notes) == 1 and "'colour': 'purple' (2 rows)" in notes[0] and "all zeros" in notes[0]
    with pytest.raises(ValueError, match="missing"):
        S.predict_csv(model, b"height,weight,colour\n1,,red\n")


def test_a_category_only_in_the_test_rows_is_reported():
    lines = labelled_csv(n=60).decode().splitlines()
    lines.append("0.1,0.2,purple,setosa")                    # one row with a colour of its own
    data = "\n".join(lines) + "\n"
    seen = set()
    for seed in range(20):
        p = S.prepare_csv(data, test_size=0.3, seed=seed)
        in_test = "purple" in p.tables[1].column("colour")
        notes = [n for n in p.notes if "purple" in n]
        assert len(notes) == int(in_test), (seed, p.notes)
        if in_test:
            assert "'colour': 'purple' (1 row)" in notes[0] and "test rows" in notes[0]
        seen.add(in_test)
    assert seen == {True, False}                              # both cases were met


def test_prepared_repr_is_one_line():
    p = S.prepare_builtin("spiral", n_samples=300, n_classes=4)
    assert repr(p) == "Prepared('spiral', task='multiclass', train=240, test=60, inputs=2, outputs=4)"


def test_sessions_share_nothing():
    a, b = S.prepare_builtin("circles"), S.prepare_builtin("circles")
    assert a is not b and a.preprocessor is not b.preprocessor
    a.X_train[:] = 0
    assert np.abs(b.X_train).sum() > 0


def test_plane_regression_shows_a_prediction_surface():
    p = S.prepare_builtin("plane")
    model, history = train_default(p)
    figs = S.figures(model, p, history)
    assert set(figs) == {"loss", "surface", "predicted_vs_actual", "network"}
    z = np.asarray(figs["surface"]["data"][0]["z"], float)
    # y = 1.5 x1 - 0.5 x2: the surface rises along x1 and falls along x2
    assert z[50, -10] > z[50, 10] and z[-10, 50] < z[10, 50]
    assert S.evaluate(model, p)["test"]["r2"] > 0.95


def test_task_override_errors_come_from_the_engine():
    raw = b"a,b\n" + b"".join(f"{i},{'xyz'[i % 3]}\n".encode() for i in range(30))
    with pytest.raises(ValueError, match="exactly 2 classes"):
        S.prepare_csv(raw, task="binary")
    many = b"a,b\n" + b"".join(f"{i},{i}\n".encode() for i in range(300))
    with pytest.raises(ValueError, match="at most 100 classes"):
        S.prepare_csv(many, task="multiclass")


def test_csv_without_header_trains_and_says_so():
    rows = "".join(f"{i % 7 - 3},{(i * 5) % 11 - 5},{int(i % 7 > 3)}\n" for i in range(80))
    p = S.prepare_csv(rows.encode())
    assert p.feature_names == ["column_1", "column_2"] and len(p.X_train) + len(p.X_test) == 80
    assert any("no header" in note for note in p.notes)



def test_model_key_names_the_model_settings_and_training_key_the_rest():
    cfg = {"arch": "[2, 4, 'relu', 1, 'sigmoid']", "learning_rate": 0.1}
    assert S.model_key(cfg) == S.model_key({**cfg, "learning_rate": 0.3, "epochs": 5, "batch_size": None})
    assert S.model_key(cfg) != S.model_key({**cfg, "seed": 1})
    assert S.training_key(cfg) != S.training_key({**cfg, "epochs": 5})
    assert S.training_key(cfg) == S.training_key({**cfg, "seed": 1})
    assert S.model_key({}) == S.model_key(dict(S.DEFAULT_CONFIG))         # defaults filled in


def test_next_learning_rate_follows_the_schedule_then_the_settings():
    p = S.prepare_builtin("circles", n_samples=60)
    cfg = {"epochs": 4, "learning_rate": 0.1, "lr_schedule": "exponential", "lr_decay": 0.5, "validation_split": 0}
    run = S.start_training(S.build_model(cfg, p), p, cfg)
    assert S.next_learning_rate(run, cfg) == pytest.approx(0.1)
    run.step(epochs=2)
    assert S.next_learning_rate(run, cfg) == pytest.approx(0.025)
    run.step(epochs=2)
    assert run.done and S.next_learning_rate(run, cfg) == 0.1 and S.next_learning_rate(None, {}) == S.DEFAULT_CONFIG["learning_rate"]
