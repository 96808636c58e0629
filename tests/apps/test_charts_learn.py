"""webapp.core.charts_learn: the Optimizer race, Loss landscape and Gradient flow figures (JSON, valid for Plotly)."""
import json

import numpy as np
import plotly.graph_objects as go
import pytest

import mlp
from mlp import MLP
from webapp.core import charts_learn as CL


def _valid(fig):
    text = json.dumps(fig, allow_nan=False)
    assert json.loads(text) == fig
    go.Figure(fig)
    return fig


@pytest.fixture(scope="module")
def raced():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, :1] * X[:, 1:] > 0) * 1.0
    model = MLP(seed=0).sequential([2, 6, "relu", 4, "relu", 1, "sigmoid"]).set_loss("bce")
    race = mlp.race(model, X, y, epochs=8, learning_rates=0.05, batch_size=20)
    return race, mlp.loss_surface(race, resolution=9)


def test_race_figure(raced):
    race, _ = raced
    fig = _valid(CL.race_figure(race))
    assert fig["layout"]["title"]["text"] == "Optimizer race"
    assert [t["name"] for t in fig["data"]] == ["SGD (lr 0.05)", "SGD + momentum (lr 0.05)", "RMSprop (lr 0.05)",
                                               "Adam (lr 0.05)"]
    for t, name in zip(fig["data"], race.optimizers):
        assert t["y"] == pytest.approx(race.histories[name]["loss"], rel=1e-6) and t["x"] == list(range(1, 9))
    assert fig["layout"]["yaxis"]["type"] == "log" and len({t["line"]["color"] for t in fig["data"]}) == 4


def test_race_figure_marks_a_diverged_racer():
    X = np.linspace(-1, 1, 40).reshape(-1, 2)
    model = MLP(seed=0).sequential([2, 8, "linear", 1]).set_loss("mse")
    with np.errstate(all="ignore"):
        race = mlp.race(model, X, X[:, :1] * 10, optimizers=["sgd", "adam"], epochs=10, learning_rates=[1.0, 0.01],
                        batch_size=10)
    fig = _valid(CL.race_figure(race))
    assert "SGD diverged in epoch" in fig["layout"]["annotations"][0]["text"]
    assert fig["data"][1]["marker"]["symbol"] == "x"


def test_landscape_figure(raced):
    race, surface = raced
    fig = _valid(CL.landscape_figure(surface, race))
    contour = fig["data"][0]
    assert fig["layout"]["title"]["text"] == "Loss landscape" and contour["type"] == "contour"
    np.testing.assert_allclose(contour["z"], np.log10(surface.losses), rtol=1e-3)
    assert contour["x"] == pytest.approx(list(surface.alphas)) and contour["y"] == pytest.approx(list(surface.betas))
    paths = [t for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in paths] == ["SGD (lr 0.05)", "SGD + momentum (lr 0.05)", "RMSprop (lr 0.05)",
                                         "Adam (lr 0.05)"]
    for t, name in zip(paths, race.optimizers):
        np.testing.assert_allclose(np.column_stack([t["x"], t["y"]]), surface.paths[name], rtol=1e-6, atol=1e-12)
        assert t["customdata"] == pytest.approx(list(surface.path_losses[name]), rel=1e-3)
    note = fig["layout"]["annotations"][0]["text"]
    assert note.startswith("Paths are projections onto the plane") and "best end point" in note
    assert f"{surface.explained.sum():.0%}" in note


def test_gradient_flow_figure(raced):
    race, _ = raced
    model = race.models["adam"]
    h = race.histories["adam"]
    fig = _valid(CL.gradient_flow_figure(h, model))
    assert fig["layout"]["title"]["text"] == "Gradient flow"
    assert fig["layout"]["yaxis"]["type"] == fig["layout"]["yaxis2"]["type"] == "log"
    names = [t["name"] for t in fig["data"] if t.get("showlegend", True)]
    assert names == [f"layer 1 (hidden 1, relu) · {int(h['dead/1'][-1])} dead",
                     f"layer 2 (hidden 2, relu) · {int(h['dead/2'][-1])} dead", "layer 3 (output, sigmoid)"]
    top = [t for t in fig["data"] if t.get("yaxis") is None]
    bottom = [t for t in fig["data"] if t.get("yaxis") == "y2"]
    for k, (t, b) in enumerate(zip(top, bottom), 1):
        assert t["y"] == pytest.approx(h[f"grad_norm/{k}"], rel=1e-3)
        assert b["y"] == pytest.approx(h[f"update_ratio/{k}"], rel=1e-3)
    assert "Dead ReLU units" in fig["layout"]["annotations"][0]["text"] and "of 6" in \
        fig["layout"]["annotations"][0]["text"]
    # a zero gradient (nothing flows) is a gap on the log axis; a plain dict and no model work too
    fig = _valid(CL.gradient_flow_figure({"grad_norm/1": [0.1, 0.0], "update_ratio/1": [1e-3, float("nan")],
                                          "grad_norm/2": [1.0, 2.0], "update_ratio/2": [1e-2, 1e-2]}))
    assert fig["data"][0]["y"] == [0.1, None] and fig["data"][1]["y"] == [0.001, None]
    assert [t["name"] for t in fig["data"][::2]] == ["layer 1 (hidden 1)", "layer 2 (output)"]
    empty = _valid(CL.gradient_flow_figure({"loss": [1.0]}))
    assert empty["data"] == [] and "train to record them" in empty["layout"]["annotations"][0]["text"]


def test_gradient_flow_smooths_long_runs():
    rng = np.random.default_rng(1)
    g = list(np.exp(rng.normal(size=120)) * 1e-3)
    g[7] = 0.0                                                   # a gap: left out of the means around it
    fig = _valid(CL.gradient_flow_figure({"grad_norm/1": g, "update_ratio/1": g, "grad_norm/2": g,
                                          "update_ratio/2": g}))
    faint, bold = fig["data"][0], fig["data"][1]
    assert faint["opacity"] == 0.3 and faint["y"][7] is None and faint["y"][0] == pytest.approx(g[0], rel=1e-3)
    window = 3                                                   # 120 // 40, odd
    logs = [np.log(v) if v > 0 else None for v in g]
    for i in (0, 7, 50, 119):
        near = [x for x in logs[max(0, i - 1):i + 2] if x is not None]
        assert bold["y"][i] == pytest.approx(np.exp(np.mean(near)), rel=1e-3)
    assert f"geometric mean over {window} epochs" in fig["layout"]["annotations"][0]["text"]
    assert fig["layout"]["margin"]["t"] > 50
