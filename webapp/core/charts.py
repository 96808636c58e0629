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
    """Array-like -> nested list of JSON-safe floats (7 significant digits keep the JSON small).

    The same values as ``_num`` element by element, computed for the whole array at once: a grid of
    10,000 numbers formatted one at a time was most of a live chart's cost."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        return _num(arr, digits)
    if arr.size == 0:
        return arr.tolist()
    out = _rounded(arr, digits) if digits else arr.copy()
    finite = np.isfinite(out)
    if finite.all():
        return out.tolist()
    out = out.astype(object)
    out[~finite] = None
    return out.tolist()


def _rounded(arr, digits):
    """``arr`` to ``digits`` significant digits: each value the nearest double to its rounded decimal, as
    ``float(f"{v:.{digits}g}")`` gives (a power of ten up to 1e22 is exact, so one division or product
    by it rounds correctly); the rare value whose scaled form lies on a rounding edge is formatted."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mag = np.floor(np.log10(np.abs(arr)))
        k = (digits - 1 - mag)                                  # decimals to keep
        ok = np.isfinite(arr) & (arr != 0) & (np.abs(k) <= 22)
        k = np.where(ok, k, 0.0)
        up = k >= 0
        scaled = np.where(up, arr * 10.0 ** np.abs(k), arr / 10.0 ** np.abs(k))
        n = np.rint(scaled)
        out = np.where(up, n / 10.0 ** np.abs(k), n * 10.0 ** np.abs(k))
        edge = ok & ((np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6)          # a tie, or near one
                     | (np.abs(n) >= 10.0 ** digits) | (np.abs(n) < 10.0 ** (digits - 1)))  # log10 off by one
    out = np.where(ok, out, arr)
    for idx in zip(*np.nonzero(edge | (~ok & np.isfinite(arr) & (arr != 0)))):
        out[idx] = float(f"{arr[idx]:.{digits}g}")
    return out


def _layout(title, xtitle=None, ytitle=None, **extra):
    """A layout whose titles (a file, column or target name) are shown as text, never as markup."""
    layout = {
        "title": {"text": _text(title)},
        "margin": {"l": 55, "r": 20, "t": 45, "b": 45},
        "legend": {"orientation": "h", "y": -0.2},
    }
    if xtitle is not None:
        layout["xaxis"] = {"title": {"text": _text(xtitle)}}
    if ytitle is not None:
        layout["yaxis"] = {"title": {"text": _text(ytitle)}}
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


def loss_figure(runs, title="Loss", ytitle="loss", switch=True):
    """Training (solid) and validation (dashed) loss per epoch.

    ``runs``: a history dict/History, a ``{name: history}`` dict, or a list of
    ``(name, history)`` pairs — several runs are overlaid for comparison.
    ``ytitle`` names the loss (e.g. that a regression loss is on the standardised target).
    A linear/log switch sits in the top-right corner (``switch=False``: none, for live frames redrawn often).
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
    return {"data": data, "layout": _layout(title, "epoch", ytitle, **({"updatemenus": _log_switch()} if switch else {}))}


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
            "type": "scatter", "mode": "markers", "name": f"{_text(name)}{suffix}",
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
    target = _text(target_name)
    if task == "regression" and X.shape[1] >= 2:
        yv = np.asarray(y, dtype=float).reshape(-1)
        data = [{"type": "scatter", "mode": "markers", "name": target, "showlegend": False,
                 "x": _list(X[:, 0]), "y": _list(X[:, 1]),
                 "marker": {"color": _list(yv), "colorscale": "Viridis", "size": 7,
                            "colorbar": {"title": {"text": target}},
                            "line": {"color": "white", "width": 1}},
                 "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>" + target
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
                             feature_names=("x1", "x2"), title="Decision boundary", picture=False):
    """Heatmap of the model output over a grid, with the points on top.

    ``xs``/``ys``: 1-D grid coordinates; ``z``: ``(len(ys), len(xs))`` — P(class 1)
    for binary, the predicted class index for multi-class. Test points are
    drawn as diamonds. ``picture``: the map as a PNG layout image with the same colours (no hover values;
    for live frames, which a browser redraws many times a second).
    """
    names = list(class_names)
    binary = len(names) == 2
    z = np.asarray(z, dtype=float)
    # a picture replaces the heatmap's grid: its values are not rounded for nothing (most of a live frame's cost)
    grid = (lambda a, digits=7: None) if picture else _list
    if binary:
        heat = {"type": "heatmap", "x": grid(xs), "y": grid(ys), "z": grid(z, 4),
                "zmin": 0.0, "zmax": 1.0, "colorscale": BINARY_MAP_SCALE,
                "colorbar": {"title": {"text": f"P({_text(names[1])})"}},
                "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>p=%{z:.2f}<extra></extra>"}
    else:
        k = len(names)
        # Discrete colour bands: class i maps to [i/k, (i+1)/k).
        scale = []
        for i in range(k):
            c = PALETTE[i % len(PALETTE)]
            scale += [[i / k, c], [(i + 1) / k, c]]
        heat = {"type": "heatmap", "x": grid(xs), "y": grid(ys), "z": grid(z),
                "zmin": -0.5, "zmax": k - 0.5, "colorscale": scale, "opacity": 0.35,
                "showscale": False,
                "hovertemplate": "x=%{x:.3g}<br>y=%{y:.3g}<br>class=%{z}<extra></extra>"}
    data = [heat] + _points(X_train, y_train, names, binary=binary, suffix=" (train)")
    if X_test is not None and len(X_test):
        data += _points(X_test, y_test, names, symbol="diamond", suffix=" (test)", binary=binary)
    layout = _layout(title, feature_names[0], feature_names[1])
    layout["xaxis"]["range"] = [_num(np.min(xs)), _num(np.max(xs))]
    layout["yaxis"]["range"] = [_num(np.min(ys)), _num(np.max(ys))]
    fig = {"data": data, "layout": layout}
    if picture:
        if binary:
            return _as_picture(fig, heat, xs, ys, z, 0.0, 1.0, scale_palette(BINARY_MAP_SCALE))
        k = len(names)
        palette = scale_palette([[i / max(k - 1, 1), PALETTE[i % len(PALETTE)]] for i in range(k)], n=k,
                                opacity=heat["opacity"])
        return _as_picture(fig, heat, xs, ys, z, 0.0, k - 1.0, palette)
    return fig


def surface_figure(xs, ys, z, X_train, y_train, X_test=None, y_test=None, feature_names=("x1", "x2"),
                   target_name="y", title="Prediction surface", picture=False):
    """2-D regression: heatmap of the predicted value over a grid, points coloured by their target.
    ``picture``: the map as a PNG layout image (see :func:`decision_boundary_figure`)."""
    z = np.asarray(z, dtype=float)
    vals = [np.ravel(np.asarray(y_train, float))]
    if y_test is not None and len(y_test):
        vals.append(np.ravel(np.asarray(y_test, float)))
    v = np.concatenate(vals + [z.ravel()])
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    common = {"colorscale": "Viridis", "cmin": lo, "cmax": hi}
    grid = (lambda a, digits=7: None) if picture else _list     # (a picture replaces the grid, as above)
    data = [{"type": "heatmap", "x": grid(xs), "y": grid(ys), "z": grid(z, 5), "zmin": lo, "zmax": hi,
             "colorscale": "Viridis", "opacity": 0.75, "colorbar": {"title": {"text": _text(target_name)}},
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
    fig = {"data": data, "layout": layout}
    if picture:
        return _as_picture(fig, data[0], xs, ys, z, lo, hi, scale_palette(VIRIDIS, opacity=data[0]["opacity"]))
    return fig


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
    names = [_text(c) for c in class_names]
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


# ---------------------------------------------------------------- network view

# TensorFlow Playground's colours: orange for negative, blue for positive, a light grey between.
NEGATIVE_COLOR, POSITIVE_COLOR, NEUTRAL_COLOR = "#f59322", "#0877bd", "#e8eaeb"
MAX_UNITS = 16            # units drawn per column; the rest are summarised as "+N more"
_EDGE_WIDTHS = (0.6, 1.4, 2.4, 3.8)   # line width per |w| bin (quarters of the largest |w| drawn)
_PNG_LEVELS = 64          # palette entries of a node picture (orange -> grey -> blue)


def _hex_rgb(h):
    return tuple(int(h[k:k + 2], 16) for k in (1, 3, 5))


def _palette(n):
    """``n`` colours from orange through grey to blue, as an (n, 3) uint8 array."""
    neg, mid, pos = (np.array(_hex_rgb(c), dtype=float) for c in (NEGATIVE_COLOR, NEUTRAL_COLOR, POSITIVE_COLOR))
    t = np.linspace(-1.0, 1.0, n)[:, None]
    rgb = np.where(t < 0, mid + (neg - mid) * -t, mid + (pos - mid) * t)
    return np.rint(rgb).astype(np.uint8)


def _png_chunk(kind, payload):
    import struct
    import zlib
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


_PLTE = _png_chunk(b"PLTE", _palette(_PNG_LEVELS).tobytes())
_IEND = _png_chunk(b"IEND", b"")


def png_data_uris(levels, palette=None):
    """Palette PNGs (stdlib zlib + struct only, so it runs in Pyodide) as ``data:`` URIs, one per picture.

    ``levels``: an array ``(n, h, w)`` of integers, indices into ``palette`` (an ``(m, 3)`` uint8 array of
    RGB colours, at most 256; default: the 64 colours orange-grey-blue); row 0 is a picture's top row.
    """
    import base64
    import struct
    import zlib
    plte = _PLTE if palette is None else _png_chunk(b"PLTE", np.asarray(palette, dtype=np.uint8).tobytes())
    top = (_PNG_LEVELS if palette is None else len(palette)) - 1
    idx = np.asarray(levels)
    n, h, w = idx.shape
    raw = np.zeros((n, h, w + 1), dtype=np.uint8)        # each scanline starts with filter type 0
    raw[:, :, 1:] = np.clip(idx, 0, top)
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)) + plte
    return ["data:image/png;base64," + base64.b64encode(
        head + _png_chunk(b"IDAT", zlib.compress(raw[k].tobytes(), 6)) + _IEND).decode("ascii") for k in range(n)]


def png_data_uri(levels, palette=None):
    """One picture (a 2-D array of palette indices, see :func:`png_data_uris`) as a PNG ``data:`` URI."""
    return png_data_uris(np.asarray(levels)[None], palette)[0]


# Plotly's Viridis colour scale (the surface's), to draw it as a picture.
VIRIDIS = [[0.0, "#440154"], [0.1111, "#482878"], [0.2222, "#3e4989"], [0.3333, "#31688e"], [0.4444, "#26828e"],
           [0.5556, "#1f9e89"], [0.6667, "#35b779"], [0.7778, "#6ece58"], [0.8889, "#b5de2b"], [1.0, "#fde725"]]


def scale_palette(scale, n=_PNG_LEVELS, opacity=1.0, background="#ffffff"):
    """``n`` colours evenly along a Plotly colour scale (``[[t, "#rrggbb"], ...]``), each blended over
    ``background`` at ``opacity`` (what a translucent heatmap looks like), as an ``(n, 3)`` uint8 array."""
    ts = np.array([float(t) for t, _ in scale])
    rgb = np.array([_hex_rgb(c) for _, c in scale], dtype=float)
    t = np.linspace(0.0, 1.0, n)
    cols = np.column_stack([np.interp(t, ts, rgb[:, k]) for k in range(3)])
    bg = np.array(_hex_rgb(background), dtype=float)
    return np.rint(opacity * cols + (1 - opacity) * bg).astype(np.uint8)


def _picture(xs, ys, z, lo, hi, palette):
    """A heatmap of ``z`` (rows along ``ys``, columns along ``xs``) as a layout image covering the same cells:
    the live frames' form (a redraw only decodes a small PNG; the points on top stay as they are)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    t = (np.asarray(z, dtype=float) - lo) / ((hi - lo) or 1.0)
    levels = np.rint(np.clip(np.nan_to_num(t, nan=0.5), 0.0, 1.0) * (len(palette) - 1)).astype(np.int64)
    return {"source": png_data_uri(levels[::-1], palette), "xref": "x", "yref": "y", "x": _num(xs[0] - dx / 2),
            "y": _num(ys[-1] + dy / 2), "sizex": _num(xs[-1] - xs[0] + dx), "sizey": _num(ys[-1] - ys[0] + dy),
            "xanchor": "left", "yanchor": "top", "sizing": "stretch", "layer": "below"}


def _as_picture(fig, heat, xs, ys, z, lo, hi, palette):
    """``fig`` with its heatmap trace ``heat`` (data[0]) drawn as a picture; a transparent 1-cell heatmap keeps
    the colour bar (and so the plot's width)."""
    keep = {k: heat[k] for k in ("zmin", "zmax", "colorscale", "colorbar", "showscale") if k in heat}
    stub = {"type": "heatmap", "x": [_num(xs[0])], "y": [_num(ys[0])], "z": [[heat.get("zmin", lo)]],
            "opacity": 0, "hoverinfo": "skip", **keep}
    fig["data"][0] = stub
    fig["layout"]["images"] = [_picture(xs, ys, z, lo, hi, palette)]
    for axis in ("xaxis", "yaxis"):      # the heatmap hides the grid; a picture lies below it
        fig["layout"][axis].update(showgrid=False, zeroline=False)
    return fig


def _levels(a, bounded):
    """Palette indices for values ``a`` (..., G, G): a sigmoid's [0, 1] spans orange to blue (as the decision
    boundary), a softmax's [0, 1] grey to blue; others are scaled by their own largest |value|, 0 grey."""
    a = np.asarray(a, dtype=float)
    if bounded == "sigmoid":
        t = a
    elif bounded == "softmax":
        t = 0.5 + 0.5 * a
    else:
        a = np.nan_to_num(a, nan=0.0, posinf=np.finfo(float).max, neginf=-np.finfo(float).max)
        m = np.max(np.abs(a), axis=(-2, -1), keepdims=True)
        t = 0.5 + 0.5 * (a / np.where(m > 1e-12, m, 1.0))
    return np.rint(np.nan_to_num(t, nan=0.5) * (_PNG_LEVELS - 1)).astype(np.int64)


def _text(name):
    """A column or class name (from a user's CSV) as Plotly text: its own characters, not markup."""
    return str(name).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shown(n, max_units, chosen=None):
    """Indices of the units drawn for a layer of ``n`` units (``chosen``, else the first ones), and how many
    are left out."""
    idx = np.arange(min(n, max_units)) if chosen is None else np.asarray(chosen, dtype=int)[:max_units]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"unit indices must be in 0..{n - 1}, got {idx.min()}..{idx.max()}.")
    return idx, n - len(idx)


def network_figure(layers, input_names, output_names=None, values=None, grids=None, row=None,
                   max_units=MAX_UNITS, units=None, title="Network"):
    """The network as a graph: one column of nodes per layer, edges coloured by the weight's sign.

    ``layers``: one dict per dense layer, ``{"W": (n_in, n_out), "b": (n_out,), "activation": str}``.
    ``input_names`` / ``output_names``: labels of the input and output units.
    ``values``: optional, per column (inputs, then each layer) a 1-D array of that column's outputs for
    one row (``row`` names it in the hover); nodes are coloured by it when there are no pictures.
    ``grids``: optional, per column an array ``(units shown, G, G)`` of each drawn unit's output over the input
    plane (row 0 = the plane's top); each node is then that picture (``layout.images``, PNG data URIs).
    Columns wider than ``max_units`` show their first units (or, per column, the indices in ``units``; None
    entries: the first) and a "+N more" mark. Edges are grouped into a few traces by sign and width; a
    hover-only point on each edge carries the weight's value (``W<layer>[i,j]``, 0-based indices into that
    layer's ``W``, as ``session.explain`` names weights). Names are shown as text, never as markup.
    """
    sizes = [int(np.shape(layers[0]["W"])[0])] + [int(np.shape(layer["W"])[1]) for layer in layers]
    n_cols = len(sizes)
    units = list(units) if units is not None else [None] * len(sizes)
    shown = [_shown(n, max_units, chosen) for n, chosen in zip(sizes, units)]
    slots = max(len(idx) + (1 if more else 0) for idx, more in shown)
    ys = [(len(idx) + (1 if more else 0) - 1) / 2.0 - np.arange(len(idx)) for idx, more in shown]
    acts = [""] + [str(layer["activation"]) for layer in layers]
    col_names = (["input"] + [f"hidden {k}" for k in range(1, n_cols - 1)] + ["output"])
    output_names = list(output_names) if output_names is not None else [f"output {j + 1}" for j in range(sizes[-1])]
    # hidden unit j of layer k is h<k>[j]: 0-based, as the weight W<k>[i, j] it feeds (the indices of W)
    unit_names = [[_text(n) for n in input_names]] + [[f"h{k}[{j}]" for j in range(n)]
                                                       for k, n in enumerate(sizes[1:-1], 1)] \
        + [[_text(n) for n in output_names]]

    data, annotations, images = [], [], []
    headers, mores, labels = ([], []), ([], [], []), (([], [], []), ([], [], []))
    # ---- edges, binned by sign and |w|
    ws = [np.asarray(layer["W"], dtype=float)[np.ix_(shown[k][0], shown[k + 1][0])] for k, layer in enumerate(layers)]
    top = max((float(np.max(np.abs(w))) for w in ws if w.size), default=0.0) or 1.0
    n_bins = len(_EDGE_WIDTHS)
    groups = [([], []) for _ in range(2 * n_bins)]   # key = positive * n_bins + width bin -> (xs, ys)
    mid_x, mid_y, mid_text = [], [], []               # the hover points of the edges
    for k, w in enumerate(ws):
        n_in, n_out = w.shape
        ya = np.repeat(ys[k], n_out)         # edge (i, j) in row-major order, as w.ravel()
        yb = np.tile(ys[k + 1], n_in)
        flat = w.ravel()
        keys = ((flat >= 0) * n_bins + np.minimum((np.abs(flat) / top * n_bins).astype(int), n_bins - 1)).tolist()
        x0, x1 = float(k), float(k + 1)
        for key, a, b in zip(keys, ya.tolist(), yb.tolist()):
            xs_, ys_ = groups[key]
            xs_ += (x0, x1, None)
            ys_ += (a, b, None)
        # each edge's hover point sits at a fraction t_j of its length that depends on its target unit j, so
        # no two points coincide (at the midpoints, every edge with the same i + j would share one)
        t = np.tile(0.2 + 0.6 * (np.arange(n_out) + 0.5) / n_out, n_in)
        mid_x += np.round(k + t, 4).tolist()          # 4 decimals: a shorter JSON, the same place on screen
        mid_y += np.round(ya + t * (yb - ya), 4).tolist()
        src, dst = unit_names[k], unit_names[k + 1]
        src_idx, dst_idx = shown[k][0].tolist(), shown[k + 1][0].tolist()
        mid_text += [f"W{k + 1}[{i},{j}] = {v:.4g}<br>{src[i]} → {dst[j]}"
                     for i, row_w in zip(src_idx, w.tolist()) for j, v in zip(dst_idx, row_w)]
    bins = {(key >= n_bins, key % n_bins): g for key, g in enumerate(groups) if g[0]}
    for (positive, b), (xs_, ys_) in sorted(bins.items()):
        data.append({"type": "scatter", "mode": "lines", "x": xs_, "y": ys_, "hoverinfo": "skip",
                     "showlegend": False, "name": f"{'positive' if positive else 'negative'} weights",
                     "line": {"color": POSITIVE_COLOR if positive else NEGATIVE_COLOR, "width": _EDGE_WIDTHS[b]},
                     "opacity": 0.45 + 0.15 * b})
    # mode "none": hover without drawing (an invisible marker is still one SVG path per point, about 40 % of
    # a redraw of the MNIST-shaped view)
    data.append({"type": "scatter", "mode": "none", "x": mid_x, "y": mid_y, "text": mid_text,
                 "hoverinfo": "text", "showlegend": False, "name": "weights"})
    # ---- nodes
    pictures = grids is not None
    for c in range(n_cols):
        idx, more = shown[c]
        bias = None if c == 0 else np.asarray(layers[c - 1]["b"], dtype=float)
        vals = None if values is None else np.asarray(values[c], dtype=float).reshape(-1)
        label = col_names[c] + (f" ({acts[c]})" if acts[c] else "")
        texts = []
        for j in idx:
            t = f"{label}<br>{unit_names[c][j]}"
            if bias is not None:
                t += f"<br>b = {bias[j]:.4g}"
            if vals is not None:
                t += f"<br>{'x' if c == 0 else 'a'} = {vals[j]:.4g}" + (f" (row {row})" if row is not None else "")
            texts.append(t)
        node = {"type": "scatter", "mode": "markers", "x": [float(c)] * len(idx), "y": _list(ys[c]),
                "text": texts, "hoverinfo": "text", "showlegend": False, "name": label}
        bounded = acts[c] if acts[c] in ("sigmoid", "softmax") else None
        if pictures:
            node["mode"] = "none"        # the picture is the node; the trace only carries the hover
            uris = png_data_uris(_levels(np.asarray(grids[c])[:len(idx)], bounded))
            for uri, y in zip(uris, ys[c].tolist()):
                images.append({"source": uri, "xref": "x", "yref": "y", "x": float(c),
                               "y": y, "sizex": 0.42, "sizey": 0.84, "xanchor": "center",
                               "yanchor": "middle", "sizing": "contain", "layer": "above"})
        else:
            v = vals[idx] if vals is not None else np.zeros(len(idx))
            finite = np.abs(v[np.isfinite(v)])
            top_v = float(finite.max()) if finite.size else 0.0
            lo, hi = {"sigmoid": (0.0, 1.0), "softmax": (-1.0, 1.0)}.get(bounded, (-(top_v or 1.0), top_v or 1.0))
            node["marker"] = {"size": 22, "color": _list(v), "cmin": lo, "cmax": hi, "colorscale": BINARY_SCALE,
                              "showscale": False, "line": {"color": "#555555", "width": 1}}
        data.append(node)
        headers[0].append(float(c))
        headers[1].append(f"{col_names[c].capitalize()} · {sizes[c]}<br>{acts[c] or '&nbsp;'}")
        if more:
            mores[0].append(float(c))
            mores[1].append(float(ys[c][-1]) - 1.0)
            mores[2].append(f"+{more} more")
        if c in (0, n_cols - 1):
            side = -1 if c == 0 else 1
            names = labels[0 if c == 0 else 1]
            names[0].extend([c + side * 0.27] * len(idx))
            names[1].extend(ys[c].tolist())
            names[2].extend(str(unit_names[c][j]) for j in idx)
    # text traces rather than annotations: Plotly.js lays out each annotation on its own, on every redraw
    text = {"type": "scatter", "mode": "text", "hoverinfo": "skip", "showlegend": False}
    data.append({**text, "name": "layer names", "x": headers[0], "y": [(slots - 1) / 2.0 + 0.55] * len(headers[0]),
                 "text": headers[1], "textposition": "top center", "textfont": {"size": 11}})
    if mores[0]:
        data.append({**text, "name": "more units", "x": mores[0], "y": mores[1], "text": mores[2],
                     "textposition": "middle center", "textfont": {"size": 11, "color": "#666666"}})
    for (xs_, ys_, names), pos in zip(labels, ("middle left", "middle right")):
        data.append({**text, "name": "unit names", "x": xs_, "y": ys_, "text": names, "textposition": pos,
                     "textfont": {"size": 10}})
    half = (slots - 1) / 2.0
    key = (f"<span style='color:{POSITIVE_COLOR}'>blue</span> weight > 0, "
           f"<span style='color:{NEGATIVE_COLOR}'>orange</span> < 0, wider = larger · ")
    key += "each picture: that unit's output over the input plane" if pictures else (
        "node colour: its output for " + (f"row {row}" if row is not None else "one row"))
    annotations.append({"x": 0.5, "y": 0, "xref": "paper", "yref": "paper", "yanchor": "top", "yshift": -4,
                        "text": key, "showarrow": False, "font": {"size": 10, "color": "#666666"}})
    layout = {
        "title": {"text": title},
        "margin": {"l": 10, "r": 10, "t": 45, "b": 28},
        "height": int(max(300, min(760, 46 * slots + 120))),
        "showlegend": False, "hovermode": "closest", "plot_bgcolor": "white",
        "xaxis": {"visible": False, "range": [-0.85, n_cols - 1 + 0.85], "fixedrange": True},
        "yaxis": {"visible": False, "range": [-half - 0.6, half + 1.6], "fixedrange": True},
        "annotations": annotations,
    }
    if images:
        layout["images"] = images
    return {"data": data, "layout": layout}
