"""Feature transforms (x1², x2², x1·x2, sin x1, sin x2): values, model files, learning, errors."""

import io
import json
import zipfile

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

import mlp
from mlp import data
from mlp.data import FEATURE_TRANSFORMS
from webapp.core import session

ALL = tuple(FEATURE_TRANSFORMS)


def err(fn, *a, **kw):
    with pytest.raises(ValueError) as e:
        fn(*a, **kw)
    return str(e.value)


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(1.0, 2.0, n), rng.uniform(-3, 5, n)
    y = (x1 * x2 > 0).astype(int)
    return data.Table.from_rows([[a, b, c] for a, b, c in zip(x1, x2, y)], ["x1", "x2", "y"]), x1, x2


def test_registry_keys_and_labels_are_the_contract():
    assert list(FEATURE_TRANSFORMS) == ["x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    assert [v[0] for v in FEATURE_TRANSFORMS.values()] == ["x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)"]


def test_values_equal_numpy_and_sklearn_scaling():
    t, x1, x2 = _table()
    pre = data.Preprocessor(["x1", "x2"], "y", transforms=ALL).fit(t)
    assert pre.transforms == ALL
    assert pre.n_inputs == 2 + len(ALL)
    assert pre.feature_names == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)"]
    raw = np.column_stack([x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.sin(x1), np.sin(x2)])
    expected = StandardScaler().fit_transform(raw)
    X = pre.transform_X(t)
    np.testing.assert_allclose(X, expected, rtol=1e-12, atol=1e-12)
    # the array path (used for the decision-boundary grid) gives the same inputs
    np.testing.assert_allclose(pre.transform_numeric(np.column_stack([x1, x2])), X, rtol=0, atol=0)
    # test rows use the training statistics
    t2, y1, y2 = _table(seed=5)
    scaler = StandardScaler().fit(raw)
    raw2 = np.column_stack([y1, y2, y1 ** 2, y2 ** 2, y1 * y2, np.sin(y1), np.sin(y2)])
    np.testing.assert_allclose(pre.transform_X(t2), scaler.transform(raw2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("picked", [("x1^2",), ("x1*x2", "sin(x2)"), ("sin(x1)", "x2^2", "x1^2")])
def test_n_inputs_grows_by_the_number_of_transforms_in_given_order(picked):
    t, x1, x2 = _table()
    pre = data.Preprocessor(["x1", "x2"], "y", transforms=picked).fit(t)
    assert pre.n_inputs == 2 + len(picked)
    fns = {"x1^2": x1 ** 2, "x2^2": x2 ** 2, "x1*x2": x1 * x2, "sin(x1)": np.sin(x1), "sin(x2)": np.sin(x2)}
    X = pre.transform_X(t)
    for j, k in enumerate(picked):
        v = fns[k]
        np.testing.assert_allclose(X[:, 2 + j], (v - v.mean()) / v.std(), rtol=1e-12, atol=1e-12)
    prep = session.prepare_builtin("moons", n_samples=100, transforms=picked)
    assert prep.n_inputs == 2 + len(picked) and prep.transforms == picked
    assert prep.X_train.shape[1] == 2 + len(picked)
    assert session.default_architecture(prep).startswith(f"[{2 + len(picked)},")


def test_config_round_trip_and_old_configs():
    t, _, _ = _table()
    pre = data.Preprocessor(["x1", "x2"], "y", transforms=("x1*x2", "sin(x1)")).fit(t)
    cfg = json.loads(json.dumps(pre.to_config()))
    again = data.Preprocessor.from_config(cfg)
    assert again.transforms == ("x1*x2", "sin(x1)")
    np.testing.assert_array_equal(again.transform_X(t), pre.transform_X(t))
    assert repr(again) == repr(pre) and "transforms" in repr(pre)
    # a config written before transforms existed (no such keys) still loads, with none
    plain = data.Preprocessor(["x1", "x2"], "y").fit(t).to_config()
    del plain["transforms"], plain["transform_scales"]
    old = data.Preprocessor.from_config(plain)
    assert old.transforms == () and old.n_inputs == 2
    # unfitted
    raw = data.Preprocessor.from_config(data.Preprocessor(["a", "b"], "y", transforms=["x2^2"]).to_config())
    assert raw.transforms == ("x2^2",) and not raw.is_fitted


@pytest.mark.parametrize("mutate, fragment", [
    (lambda c: c.update(transforms=["x3^2"]), "unknown feature transform 'x3^2'"),
    (lambda c: c.update(transforms="x1^2"), "transforms must be a list"),
    (lambda c: c.update(transforms=["x1^2", "x1^2"]), "repeated"),
    (lambda c: c["transform_scales"].pop(), "transform_scales"),
    (lambda c: c["transform_scales"][0].update(std=0), "transform_scales"),
    (lambda c: c["transform_scales"][0].update(mean=float("inf")), "transform_scales"),
    (lambda c: c.update(transform_scales=None), "transform_scales"),
])
def test_from_config_rejects_bad_transforms(mutate, fragment):
    t, _, _ = _table()
    cfg = data.Preprocessor(["x1", "x2"], "y", transforms=("x1^2", "x2^2")).fit(t).to_config()
    mutate(cfg)
    msg = err(data.Preprocessor.from_config, cfg)
    assert "invalid Preprocessor config" in msg and fragment in msg


def _trained_circles(transforms, arch, epochs=150):
    prep = session.prepare_builtin("circles", n_samples=400, noise=0.05, seed=1, transforms=transforms)
    model = session.build_model({"arch": arch, "epochs": epochs, "learning_rate": 0.05, "seed": 0}, prep)
    session.train(model, prep, {"epochs": epochs, "learning_rate": 0.05, "seed": 0, "validation_split": 0.0})
    return prep, model


def test_squares_make_circles_linearly_separable():
    prep, model = _trained_circles(("x1^2", "x2^2"), "[4, 1, 'sigmoid']")
    assert model.n_inputs == 4
    acc = session.evaluate(model, prep)["test"]["accuracy"]
    assert acc >= 0.95, acc
    # the same linear network on raw x1, x2 cannot separate circles
    prep0, model0 = _trained_circles((), "[2, 1, 'sigmoid']")
    assert session.evaluate(model0, prep0)["test"]["accuracy"] < 0.75


def test_model_file_predicts_from_raw_x1_x2(tmp_path):
    prep, model = _trained_circles(("x1^2", "x2^2", "x1*x2"), "[5, 4, 'tanh', 1, 'sigmoid']", epochs=30)
    raw = prep.raw_test
    expected = model.predict(prep.X_test)
    csv = "x1,x2\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in raw)
    path = tmp_path / "circles.mlp"
    model.save(path)
    for back in (mlp.load(path), mlp.from_bytes(model.to_bytes())):
        assert back.preprocessor.transforms == ("x1^2", "x2^2", "x1*x2")
        assert back.preprocessor.features == ["x1", "x2"] and back.n_inputs == 5
        np.testing.assert_allclose(back.predict(back.preprocessor.transform_X(data.read_csv(csv))), expected,
                                   rtol=1e-12, atol=1e-12)
        labels = back.predict_table(csv)
        want = [prep.class_names[int(p >= 0.5)] for p in expected[:, 0]]
        assert labels == want
        # and through the session, as both front ends do
        out = session.predict_csv(back, csv.encode())
        assert out.splitlines()[0].startswith("x1,x2,predicted_y")


def _edit_model_json(blob, edit):
    src = zipfile.ZipFile(io.BytesIO(blob))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "model.json":
                meta = json.loads(body)
                edit(meta)
                body = json.dumps(meta).encode()
            out.writestr(info.filename, body)
    return buf.getvalue()


def test_model_file_with_unknown_transform_is_a_clear_error(tmp_path):
    prep, model = _trained_circles(("x1^2", "x2^2"), "[4, 1, 'sigmoid']", epochs=2)
    blob = model.to_bytes()
    bad = _edit_model_json(blob, lambda m: m["preprocessor"]["transforms"].__setitem__(1, "cos(x1)"))
    msg = err(mlp.from_bytes, bad)
    assert "unknown feature transform 'cos(x1)'" in msg and "x1^2" in msg
    path = tmp_path / "bad.mlp"
    path.write_bytes(bad)
    assert "unknown feature transform" in err(mlp.load, path)
    assert "unknown feature transform" in err(session.load_model, bad)
    # a transform dropped from the file no longer fits the network's 4 inputs
    fewer = _edit_model_json(blob, lambda m: (m["preprocessor"]["transforms"].pop(),
                                              m["preprocessor"]["transform_scales"].pop()))
    assert "3 input" in err(mlp.from_bytes, fewer)


def test_figures_draw_the_boundary_through_the_transforms():
    prep, model = _trained_circles(("x1^2", "x2^2"), "[4, 1, 'sigmoid']")
    figs = session.figures(model, prep)
    heat = next(t for t in figs["decision_boundary"]["data"] if t["type"] == "heatmap")
    xs, ys = np.asarray(heat["x"]), np.asarray(heat["y"])
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    # independent: transforms written out with NumPy, scaled with the training statistics (sklearn)
    raw = prep.raw_train
    feats = lambda a: np.column_stack([a[:, 0], a[:, 1], a[:, 0] ** 2, a[:, 1] ** 2])  # noqa: E731
    scaler = StandardScaler().fit(feats(raw))
    p = model.predict(scaler.transform(feats(pts)))[:, 0].reshape(gx.shape)
    np.testing.assert_allclose(np.asarray(heat["z"], dtype=float), p, atol=1e-4)
    # a circle boundary: the centre and the far corner are on different sides
    assert (p[50, 50] >= 0.5) != (p[0, 0] >= 0.5)
    # regression on 2-D data keeps its surface too
    prep_r = session.prepare_builtin("plane", n_samples=100, transforms=("x1*x2",))
    model_r = session.build_model({"epochs": 2}, prep_r)
    session.train(model_r, prep_r, {"epochs": 2})
    assert "surface" in session.figures(model_r, prep_r)


def test_transform_on_data_that_is_not_2d_is_a_clear_error():
    msg = err(session.prepare_builtin, "sine", transforms=("x1^2",))
    assert "2-D" in msg and "1 feature column" in msg and "'sine'" in msg
    csv = "a,b,c,y\n" + "\n".join(f"{i},{i % 3},{i % 5},{i % 2}" for i in range(20))
    msg = err(session.prepare_csv, csv, transforms=("x1*x2",))
    assert "3 feature columns" in msg
    ok = session.prepare_csv(csv, features=["a", "c"], transforms=("x1*x2",))
    assert ok.n_inputs == 3 and ok.feature_names == ["a", "c", "x1·x2"]
    cat = "a,color,y\n" + "\n".join(f"{i},{'red' if i % 2 else 'blue'},{i % 2}" for i in range(20))
    msg = err(session.prepare_csv, cat, transforms=("x1^2",))
    assert "'color' is not numeric" in msg
    assert "1 feature column" in err(data.Preprocessor, ["a"], "y", transforms=("x1^2",))
    assert "unknown feature transform 'x1^3'" in err(data.Preprocessor, ["a", "b"], "y", transforms=("x1^3",))
    with pytest.raises(TypeError):
        data.Preprocessor(["a", "b"], "y", transforms="x1^2")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_inputs_are_refused_not_overflowed():
    t = data.Table.from_rows([[1e200, 1.0, 0], [2e200, 2.0, 1], [3.0, 1.0, 0]], ["x1", "x2", "y"])
    assert "'x1' holds values too large" in err(data.Preprocessor(["x1", "x2"], "y", transforms=("x1^2",)).fit, t)
    t = data.Table.from_rows([[1e160, 1.0, 0], [1e160, 2.0, 1], [1e160, 1.0, 0]], ["x1", "x2", "y"])
    msg = err(data.Preprocessor(["x1", "x2"], "y", transforms=("x2^2", "x1^2")).fit, t)
    assert "'x1^2' gives infinite values" in msg
