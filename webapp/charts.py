"""Plotly figure *dicts* built from plain arrays.

Pure module: stdlib + numpy only (no plotly, no streamlit), so the Streamlit
app and the Pyodide browser build share it. Every function returns a
JSON-serialisable ``{"data": [...], "layout": {...}}`` dict that Plotly.js
and ``st.plotly_chart`` both accept. Non-finite numbers become ``None``.
"""

from __future__ import annotations

import math

import numpy as np

# Class colours (points) and the TF-Playground-like orange/blue for binary maps.
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]
BINARY_COLORS = ["#f59322", "#0877bd"]  # class 0, class 1
BINARY_SCALE = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]
# The probability map behind the points is a paler version of the same scale (as in TensorFlow
# Playground), so points of either class stay visible on both sides of the boundary.
BINARY_MAP_SCALE = [[0.0, "#f9be7c"], [0.5, "#f4f5f5"], [1.0, "#7fb3db"]]
# Confusion matrix: white to dark blue.
CONFUSION_SCALE = [[0.0, "#f7fbff"], [1.0, "#08306b"]]


def _num(v, digits=None):
    """One number as a JSON-safe float (None for NaN/inf), optionally to ``digits`` significant digits."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}") if digits else v


def _list(a, digits=7):
    """Array-like -> nested list of JSON-safe floats (7 significant digits keep the JSON small)."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        return _num(arr, digits)
    if arr.ndim == 1:
        return [_num(v, digits) for v in arr]
    return [_list(row, digits) for row in arr]


def _layout(title, xtitle=None, ytitle=None, **extra):
    layout = {
        "title": {"text": title},
        "margin": {"l": 55, "r": 20, "t": 45, "b": 45},
        "legend": {"orientation": "h", "y": -0.2},
    }
    if xtitle is not None:
        layout["xaxis"] = {"title": {"text": xtitle}}
    if ytitle is not None:
        layout["yaxis"] = {"title": {"text": ytitle}}
    layout.update(extra)
    return layout


def _history_dict(h):
    """Accept an engine History, a plain history dict, or None."""
    if h is None:
        return {}
    return getattr(h, "history", h)


def _log_switch():
    """A small linear/log y-axis toggle (a Plotly updatemenu)."""
    # inside the plot's top-right corner (where a falling loss curve leaves room), clear of the modebar
    return [{"type": "buttons", "direction": "left", "showactive": True, "active": 0,
             "x": 1.0, "xanchor": "right", "y": 1.0, "yanchor": "top", "pad": {"r": 2, "t": 2},
             "bgcolor": "rgba(255,255,255,0.8)", "font": {"size": 11},
             "buttons": [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                         {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]}]}]


def loss_figure(runs, title="Loss", ytitle="loss"):
    """Training (solid) and validation (dashed) loss per epoch.

    ``runs``: a history dict/History, a ``{name: history}`` dict, or a list of
    ``(name, history)`` pairs — several runs are overlaid for comparison.
    ``ytitle`` names the loss (e.g. that a regression loss is on the standardised target).
    A linear/log switch sits in the top-right corner.
    """
    if isinstance(runs, dict) and "loss" in runs:
        runs = [("", runs)]
    elif hasattr(runs, "history"):
        runs = [("", runs)]
    elif isinstance(runs, dict):
        runs = list(runs.items())
    data = []
    for i, (name, h) in enumerate(runs):
        h = _history_dict(h)
        color = PALETTE[i % len(PALETTE)]
        prefix = f"{name} " if name else ""
        for key, label, dash in (("loss", "train", "solid"), ("val_loss", "validation", "dash")):
            ys = list(h.get(key) or [])
            if not ys:
                continue
            data.append({
                "type": "scatter", "mode": "lines", "name": f"{prefix}{label}",
                "x": list(range(1, len(ys) + 1)), "y": [_num(v) for v in ys],
                "line": {"color": color, "dash": dash},
            })
    return {"data": data, "layout": _layout(title, "epoch", ytitle, updatemenus=_log_switch())}


def _points(X, y, class_names, symbol="circle", suffix="", show_legend=True, binary=False):
    """Scatter traces, one per class so the legend names the classes."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).reshape(-1).astype(int)
    traces = []
    for k, name in enumerate(class_names):
        mask = y == k
        if not mask.any():
            continue
        color = BINARY_COLORS[k] if binary else PALETTE[k % len(PALETTE)]
        traces.append({
            "type": "scatter", "mode": "markers", "name": f"{name}{suffix}",
            "x": _list(X[mask, 0]), "y": _list(X[mask, 1]),
            "showlegend": show_legend,
            "marker": {"color": color, "symbol": symbol, "size": 7,
                       "line": {"color": "white", "width": 1}},
        })
    return traces


def data_figure(X, y, task, class_names=None, feature_names=("x1", "x2"), title="Data", target_name="target"):
    """Scatter of 2-D data (classes coloured, or the target as a colour scale for regression)
    or an x/y plot (1-D regression)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if task == "regression" and X.shape[1] >= 2:
        yv = np.asarray(y, dtype=float).reshape(-1)
        data = [{"type": "scatter", "mode": "markers", "name": target_name, "showlegend": False,
                 "x": _list(X[:, 0]), "y": _list(X[:, 1]),
                 "marker": {"color": _list(yv), "colorscale": "Viridis", "size": 7,
                            "colorbar": {"title": {"text": target_name}},
                            "line": {"color": "white", "width": 1}},
                 "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>" + target_name
                                  + "=%{marker.color:.4g}<extra></extra>"}]
        return {"data": data, "layout": _layout(title, feature_names[0], feature_names[1])}
    if task == "regression" or X.shape[1] < 2:
        yv = np.asarray(y, dtype=float).reshape(-1)
        data = [{"type": "scatter", "mode": "markers", "name": "data",
                 "x": _list(X[:, 0]), "y": _list(yv),
                 "marker": {"color": PALETTE[0], "size": 6}}]
        return {"data": data, "layout": _layout(title, feature_names[0], target_name)}
    names = list(class_names) if class_names else [str(k) for k in range(int(np.max(y)) + 1)]
    data = _points(X[:, :2], y, names, binary=len(names) == 2)
    layout = _layout(title, feature_names[0], feature_names[1])
    layout["yaxis"]["scaleanchor"] = "x"
    return {"data": data, "layout": layout}


def decision_boundary_figure(xs, ys, z, X_train, y_train, class_names, X_test=None, y_test=None,
                             feature_names=("x1", "x2"), title="Decision boundary"):
    """Heatmap of the model output over a grid, with the points on top.

    ``xs``/``ys``: 1-D grid coordinates; ``z``: ``(len(ys), len(xs))`` — P(class 1)
    for binary, the predicted class index for multi-class. Test points are
    drawn as diamonds.
    """
    names = list(class_names)
    binary = len(names) == 2
    z = np.asarray(z, dtype=float)
    if binary:
        heat = {"type": "heatmap", "x": _list(xs), "y": _list(ys), "z": _list(z, 4),
                "zmin": 0.0, "zmax": 1.0, "colorscale": BINARY_MAP_SCALE,
                "colorbar": {"title": {"text": f"P({names[1]})"}},
                "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>p=%{z:.2f}<extra></extra>"}
    else:
        k = len(names)
        # Discrete colour bands: class i maps to [i/k, (i+1)/k).
        scale = []
        for i in range(k):
            c = PALETTE[i % len(PALETTE)]
            scale += [[i / k, c], [(i + 1) / k, c]]
        heat = {"type": "heatmap", "x": _list(xs), "y": _list(ys), "z": _list(z),
                "zmin": -0.5, "zmax": k - 0.5, "colorscale": scale, "opacity": 0.35,
                "showscale": False,
                "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>class=%{z}<extra></extra>"}
    data = [heat] + _points(X_train, y_train, names, binary=binary, suffix=" (train)")
    if X_test is not None and len(X_test):
        data += _points(X_test, y_test, names, symbol="diamond", suffix=" (test)", binary=binary)
    layout = _layout(title, feature_names[0], feature_names[1])
    layout["xaxis"]["range"] = [_num(np.min(xs)), _num(np.max(xs))]
    layout["yaxis"]["range"] = [_num(np.min(ys)), _num(np.max(ys))]
    return {"data": data, "layout": layout}


def surface_figure(xs, ys, z, X_train, y_train, X_test=None, y_test=None, feature_names=("x1", "x2"),
                   target_name="y", title="Prediction surface"):
    """2-D regression: heatmap of the predicted value over a grid, points coloured by their target."""
    z = np.asarray(z, dtype=float)
    vals = [np.ravel(np.asarray(y_train, float))]
    if y_test is not None and len(y_test):
        vals.append(np.ravel(np.asarray(y_test, float)))
    v = np.concatenate(vals + [z.ravel()])
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    common = {"colorscale": "Viridis", "cmin": lo, "cmax": hi}
    data = [{"type": "heatmap", "x": _list(xs), "y": _list(ys), "z": _list(z, 5), "zmin": lo, "zmax": hi,
             "colorscale": "Viridis", "opacity": 0.75, "colorbar": {"title": {"text": target_name}},
             "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>predicted=%{z:.3g}<extra></extra>"}]
    for name, Xp, yp, symbol in (("train", X_train, y_train, "circle"), ("test", X_test, y_test, "diamond")):
        if Xp is None or not len(Xp):
            continue
        Xp = np.asarray(Xp, dtype=float)
        data.append({"type": "scatter", "mode": "markers", "name": name, "x": _list(Xp[:, 0]),
                     "y": _list(Xp[:, 1]),
                     "marker": {"color": _list(np.ravel(yp)), **common, "symbol": symbol, "size": 7,
                                "line": {"color": "white", "width": 1}}})
    layout = _layout(title, feature_names[0], feature_names[1])
    layout["xaxis"]["range"] = [_num(np.min(xs)), _num(np.max(xs))]
    layout["yaxis"]["range"] = [_num(np.min(ys)), _num(np.max(ys))]
    return {"data": data, "layout": layout}


def fitted_curve_figure(x_grid, y_grid, x_train, y_train, x_test=None, y_test=None,
                        feature_name="x", target_name="y", title="Fitted curve"):
    """1-D regression: the model's curve over a grid, with train/test points."""
    data = [
        {"type": "scatter", "mode": "markers", "name": "train", "x": _list(np.ravel(x_train)),
         "y": _list(np.ravel(y_train)), "marker": {"color": PALETTE[0], "size": 6, "opacity": 0.7}},
    ]
    if x_test is not None and len(x_test):
        data.append({"type": "scatter", "mode": "markers", "name": "test",
                     "x": _list(np.ravel(x_test)), "y": _list(np.ravel(y_test)),
                     "marker": {"color": PALETTE[1], "size": 6, "symbol": "diamond"}})
    data.append({"type": "scatter", "mode": "lines", "name": "model", "x": _list(np.ravel(x_grid)),
                 "y": _list(np.ravel(y_grid)), "line": {"color": PALETTE[3], "width": 3}})
    return {"data": data, "layout": _layout(title, feature_name, target_name)}


def predicted_vs_actual_figure(y_true, y_pred, y_true_test=None, y_pred_test=None,
                               target_name="target", title="Predicted vs actual"):
    """Regression scatter of predictions against targets, with the y = x line."""
    yt, yp = np.ravel(np.asarray(y_true, float)), np.ravel(np.asarray(y_pred, float))
    data = [{"type": "scatter", "mode": "markers", "name": "train", "x": _list(yt), "y": _list(yp),
             "marker": {"color": PALETTE[0], "size": 6, "opacity": 0.7}}]
    allv = [yt, yp]
    if y_true_test is not None and len(y_true_test):
        tt, tp = np.ravel(np.asarray(y_true_test, float)), np.ravel(np.asarray(y_pred_test, float))
        data.append({"type": "scatter", "mode": "markers", "name": "test", "x": _list(tt),
                     "y": _list(tp), "marker": {"color": PALETTE[1], "size": 6, "symbol": "diamond"}})
        allv += [tt, tp]
    v = np.concatenate(allv)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    data.append({"type": "scatter", "mode": "lines", "name": "ideal (y = x)", "x": [lo, hi],
                 "y": [lo, hi], "line": {"color": "#999999", "dash": "dot"}})
    return {"data": data, "layout": _layout(title, f"actual {target_name}", f"predicted {target_name}")}


def confusion_matrix_figure(cm, class_names, title="Confusion matrix"):
    """Heatmap of a confusion matrix (rows: actual, columns: predicted)."""
    cm = np.asarray(cm, dtype=float)
    names = [str(c) for c in class_names]
    text = [[str(int(v)) if float(v).is_integer() else f"{v:.2f}" for v in row] for row in cm]
    # Plotly picks the text colour per cell (dark on light cells, white on dark ones)
    size = 18 if len(names) <= 4 else 14 if len(names) <= 8 else 11
    data = [{"type": "heatmap", "z": _list(cm), "x": names, "y": names, "text": text,
             "texttemplate": "%{text}", "textfont": {"size": size}, "zmin": 0.0,
             "colorscale": CONFUSION_SCALE, "showscale": False,
             "hovertemplate": "actual %{y}<br>predicted %{x}<br>count %{z}<extra></extra>"}]
    layout = _layout(title, "predicted", "actual")
    layout["xaxis"]["type"] = "category"
    layout["yaxis"].update({"type": "category", "autorange": "reversed"})
    return {"data": data, "layout": layout}
