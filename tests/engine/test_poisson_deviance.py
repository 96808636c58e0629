"""The mean Poisson deviance (mlp.metrics) and a poisson model's evaluate, against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import mean_poisson_deviance

import mlp
from mlp import metrics as M


@pytest.mark.parametrize("seed", range(5))
def test_poisson_deviance_equals_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    y = rng.poisson(rng.uniform(0, 4), 200).astype(float)       # zeros included
    y[:3] = [0.0, 0.5, 2.25]                                        # rates, not only whole counts
    mu = rng.uniform(0.01, 6, 200)
    assert np.isclose(M.poisson_deviance(y, mu), mean_poisson_deviance(y, mu), rtol=1e-13)
    assert M.poisson_deviance(y[y > 0], y[y > 0]) == 0.0           # a perfect fit


def test_poisson_deviance_refuses_what_is_no_count():
    with pytest.raises(ValueError, match="targets >= 0"):
        M.poisson_deviance([1.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="predicted counts > 0"):
        M.poisson_deviance([1.0, 1.0], [1.0, -0.5])
    assert M.poisson_deviance([1.0], [0.0]) == np.inf               # a count that underflowed to 0


def test_a_poisson_models_evaluate_reports_the_deviance_of_its_mean_counts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = rng.poisson(np.exp(0.5 * X[:, :1])).astype(float)
    model = mlp.MLP(seed=0).sequential([2, 6, "tanh", 1, "linear"])
    model.set_loss("poisson")
    model.fit(X, y, epochs=30, learning_rate=0.02)
    got = model.evaluate(X, y)
    mu = np.exp(model.predict(X))
    assert np.isclose(got["poisson_deviance"], mean_poisson_deviance(y[:, 0], mu[:, 0]), rtol=1e-12)
    assert set(got) == {"loss", "mae", "rmse", "r2", "poisson_deviance"}
    model.set_loss("mse")
    assert "poisson_deviance" not in model.evaluate(X, y)
