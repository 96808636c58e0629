"""webapp.core.charts: pure Plotly figure dicts (JSON-safe, valid for Plotly, no UI imports)."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from webapp.core import charts

import plotly.graph_objects as go  # noqa: E402  (a test requirement: no skip)


def _valid(fig):
    """The dict is plain JSON and Plotly accepts it (strict schema validation)."""
    text = json.dumps(fig, allow_nan=False)
    assert json.loads(text) == fig
    go.Figure(fig)
    return fig


def test_loss_figure_single_history_and_nan():
    fig = _valid(charts.loss_figure({"loss": [1.0, 0.5, float("nan")], "val_loss": [1.1, 0.7, 0.6]}))
    train, val = fig["data"]
    assert train["y"] == [1.0, 0.5, None] and train["x"] == [1, 2, 3]
    assert val["line"]["dash"] == "dash" and val["line"]["color"] == train["line"]["color"]


def test_loss_figure_overlays_runs_with_distinct_colours():
    runs = [("#1", {"loss": [3, 2, 1]}), ("#2", {"loss": [2, 1], "val_loss": [2.5, 1.5]})]
    fig = _valid(charts.loss_figure(runs))
    assert [t["name"] for t in fig["data"]] == ["#1 train", "#2 train", "#2 validation"]
    assert fig["data"][0]["line"]["color"] != fig["data"][1]["line"]["color"]
    assert _valid(charts.loss_figure({"a": {"loss": [1]}, "b": {"loss": [2]}}))["data"][1]["name"] == "b train"


def test_decision_boundary_binary_and_multiclass():
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-2, 2, 4)
    X = np.array([[0.0, 0.0], [0.5, 1.0], [-0.5, -1.0]])
    fig = _valid(charts.decision_boundary_figure(xs, ys, np.full((4, 5), 0.3), X, [0, 1, 1], ["no", "yes"],
                                                 X_test=X[:1], y_test=[1], feature_names=["a", "b"]))
    heat = fig["data"][0]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 4 and len(heat["z"][0]) == 5
    assert (heat["zmin"], heat["zmax"]) == (0.0, 1.0)
    assert [t["name"] for t in fig["data"][1:]] == ["no (train)", "yes (train)", "yes (test)"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "a" and fig["layout"]["xaxis"]["range"] == [-1.0, 1.0]
    z = np.arange(20).reshape(4, 5) % 3
    fig = _valid(charts.decision_boundary_figure(xs, ys, z, X, [0, 1, 2], ["a", "b", "c"]))
    assert fig["data"][0]["zmax"] == 2.5 and fig["data"][0]["showscale"] is False


def test_regression_and_confusion_figures():
    x = np.linspace(0, 1, 10)
    fig = _valid(charts.fitted_curve_figure(x, x ** 2, x, x ** 2 + 0.1, x[:3], x[:3], "x", "y"))
    assert [t["mode"] for t in fig["data"]] == ["markers", "markers", "lines"]
    fig = _valid(charts.predicted_vs_actual_figure([1, 2, 3], [1.1, 2.2, 2.9], [4], [3.5]))
    ideal = fig["data"][-1]
    assert ideal["x"] == [1.0, 4.0] and ideal["y"] == [1.0, 4.0]
    fig = _valid(charts.confusion_matrix_figure([[5, 1], [0, 4]], ["cat", "dog"]))
    assert fig["data"][0]["text"] == [["5", "1"], ["0", "4"]]
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"


def test_data_figure_classification_and_regression():
    fig = _valid(charts.data_figure(np.array([[0, 0], [1, 1]]), [0, 1], "binary", ["a", "b"]))
    assert [t["name"] for t in fig["data"]] == ["a", "b"]
    fig = _valid(charts.data_figure(np.array([0.0, 1.0]), [2.0, math.inf], "regression"))
    assert fig["data"][0]["y"] == [2.0, None]


def test_shared_modules_import_no_ui_libraries():
    """charts and session are reused by the Pyodide build: no streamlit, plotly or pandas."""
    code = ("import sys, webapp.core.charts, webapp.core.session; "
            "print([m for m in ('streamlit', 'plotly', 'pandas') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_surface_figure_shares_the_colour_range():
    xs, ys = np.linspace(0, 1, 3), np.linspace(0, 2, 4)
    X = np.array([[0.1, 0.2], [0.9, 1.5]])
    fig = _valid(charts.surface_figure(xs, ys, np.full((4, 3), 2.0), X, [1.0, 5.0], X[:1], [3.0],
                                       feature_names=["a", "b"], target_name="price"))
    heat, train, test = fig["data"]
    assert (heat["zmin"], heat["zmax"]) == (1.0, 5.0)
    assert train["marker"]["color"] == [1.0, 5.0] and train["marker"]["cmax"] == 5.0
    assert test["marker"]["symbol"] == "diamond" and heat["colorbar"]["title"]["text"] == "price"


def test_loss_figure_names_its_units_and_offers_a_log_scale():
    fig = _valid(charts.loss_figure({"loss": [1.0, 0.1]}, ytitle="loss (standardised target)"))
    assert fig["layout"]["yaxis"]["title"]["text"] == "loss (standardised target)"
    buttons = fig["layout"]["updatemenus"][0]["buttons"]
    assert [b["args"][0]["yaxis.type"] for b in buttons] == ["linear", "log"]


def test_readable_maps_and_matrices():
    xs, ys = np.linspace(-1, 1, 3), np.linspace(-1, 1, 3)
    X = np.array([[0.0, 0.0], [0.5, 0.5]])
    fig = _valid(charts.decision_boundary_figure(xs, ys, np.full((3, 3), 0.9), X, [0, 1], ["a", "b"]))
    heat, pts = fig["data"][0], fig["data"][1]
    # the map is a paler version of the point colours (points stay visible on their own class's side)
    assert heat["colorscale"] == charts.BINARY_MAP_SCALE and "opacity" not in heat
    assert pts["marker"]["color"] == charts.BINARY_COLORS[0]
    fig = _valid(charts.confusion_matrix_figure([[40, 2], [0, 38]], ["no", "yes"]))
    cm = fig["data"][0]
    assert cm["textfont"]["size"] >= 14 and cm["zmin"] == 0.0 and cm["texttemplate"] == "%{text}"


def test_data_figure_2d_regression_colours_points_by_target():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    fig = _valid(charts.data_figure(X, [1.0, 200000.0, 5.0], "regression", feature_names=["a", "b"],
                                    target_name="price"))
    (trace,) = fig["data"]
    assert trace["y"] == [0.0, 1.0, 1.0] and trace["marker"]["color"] == [1.0, 200000.0, 5.0]
    assert trace["marker"]["colorbar"]["title"]["text"] == "price"
    fig = _valid(charts.data_figure(np.array([0.0, 1.0]), [2.0, 3.0], "regression", target_name="price"))
    assert fig["layout"]["yaxis"]["title"]["text"] == "price"


@pytest.mark.parametrize("digits", [None, 4, 5, 7])
def test_list_rounds_whole_arrays_as_num_does_one_value(digits):
    """The vectorised _list gives exactly _num's value (and None for NaN/inf) for every element: powers of
    ten from 1e-320 to 1e300, zeros, ties, integers."""
    rng = np.random.default_rng(digits or 0)
    a = rng.standard_normal(30_000) * 10.0 ** rng.integers(-310, 300, 30_000)
    a[::97], a[::101], a[::103], a[::107] = 0.0, np.nan, np.inf, -np.inf
    a[::109] = np.round(a[::109], 3)
    a[::113] = rng.integers(-10 ** 6, 10 ** 6, len(a[::113])) + 0.5          # ties at the 7th digit
    a[::127] = 5e-324
    got = charts._list(a.reshape(100, 300), digits)
    want = [[charts._num(v, digits) for v in row] for row in a.reshape(100, 300)]
    assert got == want
    assert all(type(v) is float or v is None for row in got for v in row)


def test_names_from_a_users_data_are_text_not_plotly_markup():
    """Plotly.js renders <a href>, <b>, <br>... in titles, legends and tick labels: a file, column, target or
    class name from a CSV is shown as its own characters."""
    evil = "<a href='https://example.invalid'>x</a>"
    X, y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
    grid = np.linspace(0, 1, 3)
    figs = [
        charts.data_figure(X, y, "binary", [evil, "<b>b</b>"], [evil, "f"], title=evil),
        charts.data_figure(X, [1.0, 2.0], "regression", feature_names=["a", "b"], title="d", target_name=evil),
        charts.decision_boundary_figure(grid, grid, np.zeros((3, 3)), X, y, ["a", evil], feature_names=["a", evil]),
        charts.surface_figure(grid, grid, np.zeros((3, 3)), X, [1.0, 2.0], target_name=evil),
        charts.fitted_curve_figure(grid, grid, [0.0], [1.0], None, None, evil, evil),
        charts.predicted_vs_actual_figure([1.0, 2.0], [1.0, 2.0], target_name=evil),
        charts.confusion_matrix_figure([[1, 0], [0, 1]], [evil, "<b>b</b>"]),
    ]
    for fig in figs:
        text = json.dumps(_valid(fig))
        assert "<a " not in text and "<b>" not in text and "&lt;a href" in text, text[:300]


# ---------------------------------------------------------------- live maps as pictures (issue 16)

def _rgb(hex_colour):
    return np.array([int(hex_colour[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)


def _scale_colour(scale, t, opacity=1.0):
    """Plotly's colour for ``t`` on ``scale`` (linear between its stops) over white at ``opacity``."""
    for (t0, c0), (t1, c1) in zip(scale[:-1], scale[1:]):
        if t0 <= t <= t1:
            c = _rgb(c0) + (_rgb(c1) - _rgb(c0)) * ((t - t0) / ((t1 - t0) or 1.0))
            return opacity * c + (1 - opacity) * 255.0
    raise AssertionError(t)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_live_map_picture_shows_the_heatmaps_cells_in_its_colours(task):
    """picture=True draws the same map as a PNG layout image: the same cells, the same colours (to one palette
    step), the points and the colour bar unchanged; the grid is hidden under it as under the heatmap."""
    from tests.apps.test_network_view import _decode_png
    rng = np.random.default_rng(0)
    xs, ys = np.linspace(-1, 1, 30), np.linspace(-2, 2, 20)
    X = rng.normal(size=(40, 2))
    target, y2, y3 = rng.normal(size=40), rng.integers(0, 2, 40), rng.integers(0, 3, 40)
    if task == "regression":
        z = np.add.outer(ys, xs)
        full = charts.surface_figure(xs, ys, z, X, target)
        live = charts.surface_figure(xs, ys, z, X, target, picture=True)
        lo, hi = full["data"][0]["zmin"], full["data"][0]["zmax"]
        colour = lambda v: _scale_colour(charts.VIRIDIS, (v - lo) / (hi - lo), 0.75)  # noqa: E731
    elif task == "binary":
        z = 1 / (1 + np.exp(-np.add.outer(ys, 2 * xs)))
        full = charts.decision_boundary_figure(xs, ys, z, X, y2, ["a", "b"])
        live = charts.decision_boundary_figure(xs, ys, z, X, y2, ["a", "b"], picture=True)
        colour = lambda v: _scale_colour(charts.BINARY_MAP_SCALE, v)  # noqa: E731
    else:
        z = (np.add.outer(ys, xs) > 0).astype(float) + (np.add.outer(ys, xs) > 1)
        full = charts.decision_boundary_figure(xs, ys, z, X, y3, ["a", "b", "c"])
        live = charts.decision_boundary_figure(xs, ys, z, X, y3, ["a", "b", "c"], picture=True)
        colour = lambda v: 0.35 * _rgb(charts.PALETTE[int(v)]) + 0.65 * 255.0  # noqa: E731
    assert live["data"][1:] == full["data"][1:]                            # the points, as they are
    stub = live["data"][0]
    assert stub["opacity"] == 0 and stub.get("colorbar") == full["data"][0].get("colorbar")
    (img,) = live["layout"]["images"]
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]                                  # heatmap cells are centred on xs, ys
    assert img["x"] == pytest.approx(xs[0] - dx / 2) and img["sizex"] == pytest.approx(xs[-1] - xs[0] + dx)
    assert img["y"] == pytest.approx(ys[-1] + dy / 2) and img["sizey"] == pytest.approx(ys[-1] - ys[0] + dy)
    assert (img["xanchor"], img["yanchor"], img["sizing"], img["layer"]) == ("left", "top", "stretch", "below")
    assert live["layout"]["xaxis"]["showgrid"] is False and live["layout"]["yaxis"]["zeroline"] is False
    palette, px = _decode_png(img["source"])
    assert px.shape == z.shape
    shown = palette[px].astype(float)[::-1]                                # image row 0 is the top: the largest y
    want = np.array([[colour(v) for v in row] for row in z])
    step = 255.0 / 63 * 1.5 if task != "multiclass" else 1.0              # one palette step of 64 (rounding)
    assert np.abs(shown - want).max() <= step, np.abs(shown - want).max()
    assert len(json.dumps(live)) < len(json.dumps(full))
