"""The Preprocessor's count target mode (the poisson loss) and the counts dataset."""
import json

import numpy as np
import pytest

from mlp import data

CSV = "x,c,y\n0.5,a,0\n1.5,b,3\n2.5,a,1\n3.5,b,7\n4.5,a,2.5\n"


def err(fn, *args):
    with pytest.raises(ValueError) as e:
        fn(*args)
    return str(e.value)


def test_a_count_target_is_kept_as_it_is_and_outputs_are_log_rates():
    t = data.read_csv(CSV)
    pre = data.Preprocessor(["x", "c"], "y", target_mode="count").fit(t)
    assert pre.task == "regression" and pre.target_mode == "count" and pre.default_loss == "poisson"
    np.testing.assert_array_equal(pre.transform_y(t), [[0], [3], [1], [7], [2.5]])     # fractions: a rate
    out = np.array([[-1.0], [0.0], [2.0]])
    np.testing.assert_array_equal(pre.inverse_y(out), np.exp([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(pre.inverse_target(pre.transform_y(t)), [0, 3, 1, 7, 2.5])
    # the features are encoded exactly as in the standard mode
    std = data.Preprocessor(["x", "c"], "y").fit(t)
    np.testing.assert_array_equal(pre.transform_X(t), std.transform_X(t))
    assert std.target_mode == "standard" and "target_mode" not in repr(std) and "target_mode='count'" in repr(pre)
    np.testing.assert_allclose(std.inverse_target(std.transform_y(t)), [0, 3, 1, 7, 2.5], rtol=1e-14, atol=1e-14)


def test_the_count_mode_round_trips_its_config_and_the_standard_one_writes_no_new_key():
    t = data.read_csv(CSV)
    pre = data.Preprocessor(["x", "c"], "y", target_mode="count").fit(t)
    cfg = pre.get_config()
    assert cfg["target_mode"] == "count" and cfg["target_scale"] is None
    again = data.Preprocessor.from_config(json.loads(json.dumps(cfg)))
    assert again.get_config() == cfg and again.target_mode == "count"
    np.testing.assert_array_equal(again.inverse_y([[1.0]]), [np.e])
    unfitted = data.Preprocessor(["x"], "y", target_mode="count")
    assert data.Preprocessor.from_config(unfitted.get_config()).target_mode == "count"
    # a standard preprocessor's config is what earlier code wrote (no key), and such a config opens as standard
    std = data.Preprocessor(["x", "c"], "y").fit(t).get_config()
    assert "target_mode" not in std
    assert data.Preprocessor.from_config(std).target_mode == "standard"
    assert data.Preprocessor.from_config({**std, "target_mode": "standard"}).get_config() == std


def test_bad_count_configs_are_refused_clearly():
    t = data.read_csv(CSV)
    cfg = data.Preprocessor(["x"], "y", target_mode="count").fit(t).get_config()
    assert "target_mode must be one of standard, count" in err(data.Preprocessor.from_config,
                                                                {**cfg, "target_mode": "log"})
    assert "target_mode must be one of" in err(data.Preprocessor.from_config, {**cfg, "target_mode": ["count"]})
    assert "target_scale null" in err(data.Preprocessor.from_config,
                                      {**cfg, "target_scale": {"mean": 1.0, "std": 2.0}})
    assert "needs the task 'regression'" in err(data.Preprocessor.from_config, {**cfg, "task": "binary"})
    std = data.Preprocessor(["x"], "y").fit(t).get_config()
    assert "target_scale must be" in err(data.Preprocessor.from_config, {**std, "target_scale": None})


def test_a_negative_target_is_refused_naming_the_column_and_the_value():
    t = data.read_csv("x,n\n1,2\n2,-0.5\n3,1\n4,-3\n")
    msg = err(data.Preprocessor(["x"], "n", target_mode="count").fit, t)
    assert msg == ("the poisson loss needs a count target (0 or more), but target column 'n' holds 2 values below "
                   "0, the first -0.5; choose another loss (mse) or another target.")
    fitted = data.Preprocessor(["x"], "n", target_mode="count").fit(data.read_csv("x,n\n1,2\n2,0\n"))
    assert "holds -7;" in err(fitted.transform_y, data.read_csv("x,n\n1,-7\n"))
    with pytest.raises(ValueError, match="target_mode 'count' .* regression target, not a binary one"):
        data.Preprocessor(["x"], "n", task="binary", target_mode="count")
    with pytest.raises(ValueError, match="target_mode must be one of standard, count"):
        data.Preprocessor(["x"], "n", target_mode="counts")


def test_a_count_column_that_reads_as_classes_is_a_regression_in_count_mode():
    rows = "".join(f"{i},{i % 3}\n" for i in range(30))
    t = data.read_csv("x,k\n" + rows)
    assert data.detect_task(t.values("k")) == "multiclass"
    assert data.Preprocessor(["x"], "k", target_mode="count").fit(t).task == "regression"


def test_the_counts_dataset_is_whole_counts_from_a_seeded_poisson():
    X, y = data.make_dataset("counts", n_samples=5000, noise=0.0, seed=3)
    assert X.shape == (5000, 1) and y.shape == (5000, 1) and y.dtype == np.float64
    assert y.min() == 0 and np.all(y == np.round(y))
    X2, y2 = data.make_dataset("counts", n_samples=5000, noise=0.0, seed=3)
    np.testing.assert_array_equal(y, y2)
    # the mean count follows exp(amplitude sin x): binned means against the rate (Poisson standard errors)
    rate = np.exp(2.0 * np.sin(X[:, 0]))
    bins = np.digitize(X[:, 0], np.linspace(-np.pi, np.pi, 11))
    for b in np.unique(bins):
        sel = bins == b
        assert abs(y[sel, 0].mean() - rate[sel].mean()) < 5 * np.sqrt(rate[sel].mean() / sel.sum())
    _, flat = data.make_dataset("counts", n_samples=2000, noise=0.0, seed=1, amplitude=0.0)
    assert abs(flat.mean() - 1.0) < 0.1                            # exp(0) = one event on average
    assert "amplitude must be at most 5" in err(lambda: data.make_dataset("counts", amplitude=9))
    assert data.DATASETS["counts"]["counts"] is True
    assert not any(info.get("counts") for name, info in data.DATASETS.items() if name != "counts")
