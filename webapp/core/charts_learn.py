"""Plotly figure dicts of the learning views: "Optimizer race", "Loss landscape", "Gradient flow".

Pure like ``charts.py`` (stdlib + numpy; no plotly, no streamlit): each function returns a JSON-serialisable
``{"data": [...], "layout": {...}}`` for ``st.plotly_chart`` and Plotly.js alike (traces: scatter and contour,
both in the page's cartesian Plotly bundle).

``race_figure(race)``                 overlaid training-loss curves of an ``mlp.Race`` (log y, linear switch)
``landscape_figure(surface, race=None)``  the ``mlp.LossSurface`` as a contour of log10(loss), each optimizer's
                                      projected path on it (start, end), the centre, and a note that the paths
                                      are projections (with the share of their movement the plane holds)
``gradient_flow_figure(history, model=None)``  per dense layer, over the epochs: the weight gradient's norm
                                      (top) and the update relative to the weights (bottom), log y, one colour
                                      per layer; relu layers' dead units in the legend and a note
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from . import charts as C

# one colour per optimizer, the same in both race charts
RACE_COLORS = {"sgd": "#7f7f7f", "sgd_momentum": "#1f77b4", "rmsprop": "#2ca02c", "adam": "#d62728",
               "adamw": "#ff7f0e", "adagrad": "#9467bd", "nadam": "#8c564b"}
OPTIMIZER_LABELS = {"sgd": "SGD", "sgd_momentum": "SGD + momentum", "rmsprop": "RMSprop", "adam": "Adam",
                    "adamw": "AdamW", "adagrad": "Adagrad", "nadam": "NAdam"}
LANDSCAPE_SCALE = [[0.0, "#f7fbff"], [0.35, "#c6dbef"], [0.7, "#6baed6"], [1.0, "#08306b"]]


def _label(name):
    return OPTIMIZER_LABELS.get(name, name)


def _color(name, i):
    return RACE_COLORS.get(name, C.PALETTE[i % len(C.PALETTE)])


def race_figure(race, title="Optimizer race"):
    """Each racer's training loss per epoch, overlaid; a racer that diverged ends early, marked ✕."""
    data, notes = [], []
    for i, name in enumerate(race.optimizers):
        h = race.histories[name]
        ys = list(h.history.get("loss") or [])
        label = f"{_label(name)} (lr {race.learning_rates[name]:g})"
        data.append({"type": "scatter", "mode": "lines", "name": label, "x": list(range(1, len(ys) + 1)),
                     "y": C._list(ys), "line": {"color": _color(name, i), "width": 2},
                     "hovertemplate": f"{C._text(label)}<br>epoch %{{x}}<br>loss %{{y:.4g}}<extra></extra>"})
        if h.stop_reason and "the loss became" in h.stop_reason:
            notes.append(f"{_label(name)} diverged in epoch {len(ys) + 1}")
            if ys:
                data.append({"type": "scatter", "mode": "markers", "showlegend": False, "x": [len(ys)],
                             "y": C._list(ys[-1:]), "marker": {"symbol": "x", "size": 11, "color": _color(name, i)},
                             "hoverinfo": "skip"})
    layout = C._layout(title, "epoch", "training loss", updatemenus=_log_first())
    layout["yaxis"]["type"] = "log"
    if notes:
        _top_note(layout, "; ".join(notes) + ".")
    return {"data": data, "layout": layout}


def _log_first():
    """The linear/log switch of ``charts``, with log active (losses of a race span decades)."""
    menu = C._log_switch()
    menu[0]["active"] = 1
    return menu


def _top_note(layout, text):
    """A note between the title and the plot, with room made for its lines."""
    note = _note(text, y=1.0, yanchor="bottom")
    layout["annotations"] = [note]
    layout["margin"] = {**layout["margin"], "t": 50 + 14 * (note["text"].count("<br>") + 1)}


def _note(text, y, yanchor="top", width=105):
    """A grey note in the figure's corner, wrapped into lines of about ``width`` characters."""
    lines = textwrap.wrap(text, width) or [""]
    return {"text": "<br>".join(C._text(line) for line in lines), "xref": "paper", "yref": "paper", "x": 0.0,
            "y": y, "xanchor": "left",
            "yanchor": yanchor, "showarrow": False, "align": "left", "font": {"size": 11, "color": "#444"}}


def landscape_figure(surface, race=None, title="Loss landscape"):
    """The loss over the plane of the paths (colour: log10 of the loss) with every path projected onto it.

    ``surface``: an ``mlp.LossSurface``; ``race`` (optional) adds each racer's learning rate to its name."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.asarray(surface.losses, dtype=float))
    finite = z[np.isfinite(z)]
    data = [{"type": "contour", "x": C._list(surface.alphas), "y": C._list(surface.betas), "z": C._list(z, 4),
             "colorscale": LANDSCAPE_SCALE, "ncontours": 24, "contours": {"coloring": "heatmap"},
             "line": {"width": 0.5, "color": "rgba(0,0,0,0.25)"},
             "colorbar": {"title": {"text": "log10 loss"}, "thickness": 12, "len": 0.8},
             "customdata": C._list(surface.losses, 4),
             "hovertemplate": "loss %{customdata:.4g}<br>(%{x:.3g}, %{y:.3g})<extra>plane</extra>",
             "showscale": True, "name": "loss"}]
    if finite.size:
        data[0]["zmin"], data[0]["zmax"] = C._num(finite.min(), 4), C._num(finite.max(), 4)
    for i, name in enumerate(surface.optimizers or list(surface.paths)):
        path, color = np.asarray(surface.paths[name]), _color(name, i)
        label = _label(name) + (f" (lr {race.learning_rates[name]:g})" if race is not None else "")
        true_loss = C._list(surface.path_losses.get(name, []), 4) if surface.path_losses else None
        data.append({"type": "scatter", "mode": "lines+markers", "name": label, "x": C._list(path[:, 0]),
                     "y": C._list(path[:, 1]), "line": {"color": color, "width": 2},
                     "marker": {"size": 4, "color": color}, "customdata": true_loss,
                     "hovertemplate": (f"{C._text(label)}<br>epoch %{{pointNumber}}<br>loss there %{{customdata:.4g}}"
                                       "<extra></extra>")})
        data.append({"type": "scatter", "mode": "markers", "showlegend": False, "hoverinfo": "skip",
                     "x": C._list(path[-1:, 0]), "y": C._list(path[-1:, 1]),
                     "marker": {"size": 10, "color": color, "symbol": "circle", "line": {"width": 1, "color": "#fff"}}})
    start = np.asarray(surface.paths[(surface.optimizers or list(surface.paths))[0]])[0]
    data.append({"type": "scatter", "mode": "markers", "name": "start", "x": [C._num(start[0])],
                 "y": [C._num(start[1])], "marker": {"size": 11, "symbol": "diamond", "color": "#000"},
                 "hovertemplate": "start (the same weights for every optimizer)<extra></extra>"})
    shown = float(np.sum(surface.explained))
    centre = "the best end point" if surface.center_name not in ("mean",) else "the mean end point"
    note = (f"Paths are projections onto the plane of their two main directions (it holds {shown:.0%} of "
            f"their movement), centred on {centre} ({_label(surface.center_name)}, loss "
            f"{surface.center_loss:.3g}). The loss under a drawn point is not exactly the racer's loss there.")
    layout = C._layout(title, "direction 1", "direction 2")
    _top_note(layout, note)
    return {"data": data, "layout": layout}


def _layers(history, model):
    """Dense layers' (1-based number, units or None, activation or None) from the history's keys / the model."""
    series = C._history_dict(history) or {}
    numbers = sorted({int(k.split("/")[1]) for k in series if k.startswith("grad_norm/")})
    specs = [s for s in (getattr(model, "specs", None) or []) if s.get("type") == "dense"]
    return [(n, specs[n - 1]["units"] if n <= len(specs) else None,
             specs[n - 1]["activation"] if n <= len(specs) else None) for n in numbers]


def gradient_flow_figure(history, model=None, title="Gradient flow"):
    """Per dense layer and epoch: ||dL/dW|| (top) and ||ΔW|| / ||W|| (bottom), log scales; relu layers'
    dead units at the last epoch in the legend and a note. ``history``: a History or its dict (several runs'
    histories merged work too); ``model`` (optional) names each layer's activation and size."""
    series = C._history_dict(history) or {}
    data, dead_notes, windows = [], [], []
    layers = _layers(history, model)
    last = len(layers)
    for i, (n, units, activation) in enumerate(layers):
        color = C.PALETTE[i % len(C.PALETTE)]
        what = "output" if n == last else f"hidden {n}"
        name = f"layer {n} ({what}" + (f", {activation}" if activation else "") + ")"
        dead = series.get(f"dead/{n}") or []
        if dead:
            count = int(dead[-1])
            name += f" · {count} dead"
            dead_notes.append(f"layer {n}: {count}" + (f" of {units}" if units else ""))
        grads = _positive(series.get(f"grad_norm/{n}") or [])
        ratios = _positive(series.get(f"update_ratio/{n}") or [])
        for values, axes, dash, quantity in ((grads, {}, "solid", "|dL/dW|"),
                                             (ratios, {"xaxis": "x2", "yaxis": "y2"}, "dot", "|ΔW|/|W|")):
            x = list(range(1, len(values) + 1))
            smooth, window = _smooth(values)
            if window > 1:       # each epoch's value faint, their running geometric mean bold
                data.append({"type": "scatter", "mode": "lines", "x": x, "y": C._list(values, 4), **axes,
                             "legendgroup": str(n), "showlegend": False, "hoverinfo": "skip", "opacity": 0.3,
                             "line": {"color": color, "width": 1, "dash": dash}})
            data.append({"type": "scatter", "mode": "lines", "name": name, "legendgroup": str(n), "x": x,
                         "y": C._list(smooth, 4), **axes, "showlegend": not axes,
                         "line": {"color": color, "width": 2, "dash": dash},
                         "hovertemplate": f"{C._text(name)}<br>epoch %{{x}}<br>{quantity} %{{y:.3g}}<extra></extra>"})
        windows.append(window)
    layout = C._layout(title)
    layout.update({
        "xaxis": {"anchor": "y", "matches": "x2", "showticklabels": False, "domain": [0, 1]},
        "yaxis": {"type": "log", "title": {"text": "gradient |dL/dW|"}, "domain": [0.55, 1.0],
                  "exponentformat": "power", "minorloglabels": "none"},   # (the 2 5 ... labels crowded the axis)
        "xaxis2": {"anchor": "y2", "title": {"text": "epoch"}, "domain": [0, 1]},
        "yaxis2": {"type": "log", "title": {"text": "update |ΔW| / |W|"}, "domain": [0.0, 0.45],
                   "exponentformat": "power", "minorloglabels": "none"},
        "legend": {"orientation": "h", "y": -0.18},
    })
    notes = []
    if max(windows, default=1) > 1:
        notes.append(f"Bold: the running geometric mean over {max(windows)} epochs (each epoch's value faint: "
                     "its last step's batch).")
    if not layers:
        notes.append("No gradient statistics yet: train to record them.")
    if dead_notes:
        notes.append("Dead ReLU units (no gradient, output 0 on the data) at the last epoch: "
                     + ", ".join(dead_notes) + ".")
    if notes:
        _top_note(layout, " ".join(notes))
    return {"data": data, "layout": layout}


def _smooth(values):
    """(running geometric mean of ``values`` over a centred window of about 1/40 of them, window); gaps
    (NaN) are left out of each mean. Fewer than 40 values are returned as they are (window 1)."""
    v = np.asarray(values, dtype=float)
    window = max(1, (len(v) // 40) | 1)
    if window == 1:
        return v, 1
    ok = np.isfinite(v)
    logs = np.where(ok, np.log(np.where(ok, v, 1.0)), 0.0)
    kernel = np.ones(window)
    total, count = np.convolve(logs, kernel, "same"), np.convolve(ok * 1.0, kernel, "same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.exp(total / np.maximum(count, 1)), np.nan), window


def _positive(values):
    """Values for a log axis: 0 (a dead layer's gradient) and non-finite values become gaps."""
    return [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else float("nan") for v in values]
