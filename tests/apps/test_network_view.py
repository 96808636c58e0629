"""The network view (session.network_figure / charts.network_figure) on real trained models."""
import base64
import importlib.util
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import mlp
from webapp.core import charts
from webapp.core import session as S

EDGE_HOVER = re.compile(r"^W(\d+)\[(\d+),(\d+)\] = (\S+)<br>")


def _valid(fig):
    """Plain JSON (what the browser worker sends) that Plotly's schema accepts."""
    assert json.loads(json.dumps(fig, allow_nan=False)) == fig
    go.Figure(fig)
    return fig


def _decode_png(uri):
    """(palette (n, 3), pixel indices (h, w)) of a palette PNG data URI, read by the PNG spec."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    png = base64.b64decode(uri[len(prefix):])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, ctype) == (8, 3)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(h, w + 1)
    assert (raw[:, 0] == 0).all()
    return np.frombuffer(chunks[b"PLTE"], dtype=np.uint8).reshape(-1, 3), raw[:, 1:]


def _nodes(fig):
    """Node traces (one per column, in order) = the marker traces carrying unit hover text."""
    return [t for t in fig["data"] if t["mode"] in ("markers", "none") and t["name"] != "weights"]


def _texts(fig, name):
    """The texts of the text traces called ``name`` (layer names, unit names, more units), trace by trace."""
    return [t["text"] for t in fig["data"] if t["mode"] == "text" and t["name"] == name]


def _edges(fig):
    return [t for t in fig["data"] if t["mode"] == "lines"]


def _weight_of_segment(fig, model):
    """Map each drawn segment ((x0, y0), (x1, y1)) to its weight, from the node positions."""
    cols = [dict(zip(t["y"], range(len(t["y"])))) for t in _nodes(fig)]
    weights = model.get_weights()[0::2]

    def weight(x0, y0, x1, y1):
        k = int(round(x0))
        assert int(round(x1)) == k + 1
        return weights[k][cols[k][y0], cols[k + 1][y1]]
    return weight


def _trained_circles(epochs=40, **prep):
    p = S.prepare_builtin("circles", **prep)
    cfg = {"arch": S.default_architecture(p), "epochs": epochs, "learning_rate": 0.01, "batch_size": 32}
    model = S.build_model(cfg, p)
    S.train(model, p, cfg)
    return model, p


@pytest.fixture(scope="module")
def circles():
    return _trained_circles()


def test_default_circles_network_structure_edges_and_hover(circles):
    model, p = circles
    fig = _valid(S.network_figure(model, p))
    assert fig["layout"]["title"]["text"] == "Network"
    nodes = _nodes(fig)
    assert [len(t["x"]) for t in nodes] == [2, 8, 8, 1]
    assert "relu" in nodes[1]["name"] and "sigmoid" in nodes[3]["name"]
    assert all("relu" in text for text in nodes[2]["text"])
    # biases in the node hover
    b1 = model.get_weights()[1]
    for j, text in enumerate(nodes[1]["text"]):
        assert f"b = {b1[j]:.4g}" in text
    # every edge once, its sign = its colour, the hover carries its value
    weight = _weight_of_segment(fig, model)
    n_segments = 0
    for trace in _edges(fig):
        colour = trace["line"]["color"]
        assert colour in (charts.POSITIVE_COLOR, charts.NEGATIVE_COLOR)
        xs, ys = trace["x"], trace["y"]
        assert xs[2::3] == [None] * (len(xs) // 3)
        for s in range(0, len(xs), 3):
            w = weight(xs[s], ys[s], xs[s + 1], ys[s + 1])
            assert (w >= 0) == (colour == charts.POSITIVE_COLOR)
            n_segments += 1
    assert n_segments == 2 * 8 + 8 * 8 + 8
    assert len(_edges(fig)) <= 2 * len(charts._EDGE_WIDTHS)     # grouped, never one trace per edge
    hover = next(t for t in fig["data"] if t["name"] == "weights")
    assert len(hover["text"]) == n_segments
    Ws = model.get_weights()[0::2]
    for text in hover["text"]:
        k, i, j, v = EDGE_HOVER.match(text).groups()
        assert float(v) == pytest.approx(Ws[int(k) - 1][int(i), int(j)], rel=1e-3, abs=1e-12)
    points = list(zip(hover["x"], hover["y"]))
    assert len(set(points)) == len(points)                    # each weight can be hovered on its own
    for (x, y), text in zip(points, hover["text"]):             # ... on its edge
        k, i, j = (int(g) for g in EDGE_HOVER.match(text).groups()[:3])
        ys = [t["y"] for t in _nodes(fig)]
        t = x - (k - 1)
        assert 0.1 < t < 0.9 and y == pytest.approx(ys[k - 1][i] + t * (ys[k][j] - ys[k - 1][i]), abs=2e-4)
    # wider lines for larger |w|
    by_width = sorted(_edges(fig), key=lambda t: t["line"]["width"])
    mags = [np.mean([abs(weight(t["x"][s], t["y"][s], t["x"][s + 1], t["y"][s + 1]))
                     for s in range(0, len(t["x"]), 3)]) for t in by_width]
    widths = sorted({t["line"]["width"] for t in by_width})
    per_width = [np.mean([m for m, t in zip(mags, by_width) if t["line"]["width"] == w]) for w in widths]
    assert per_width == sorted(per_width)


def test_2d_data_every_node_is_a_picture_of_its_output(circles):
    model, p = circles
    fig = S.network_figure(model, p)
    images = fig["layout"]["images"]
    assert len(images) == 2 + 8 + 8 + 1
    decoded = [_decode_png(im["source"]) for im in images]
    assert all(px.shape == (S.NETWORK_GRID, S.NETWORK_GRID) for _, px in decoded)
    # the output picture is P(class 1) over the plane, from model.predict on the same grid
    raw = np.vstack([p.raw_train, p.raw_test])
    span = [(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)) for lo, hi in zip(raw.min(0), raw.max(0))]
    xs = np.linspace(*span[0], S.NETWORK_GRID)
    ys = np.linspace(*span[1], S.NETWORK_GRID)[::-1]           # image row 0 is the top
    gx, gy = np.meshgrid(xs, ys)
    prob = model.predict(p.preprocessor.transform_numeric(np.column_stack([gx.ravel(), gy.ravel()])))
    expect = np.rint(prob[:, 0].reshape(gx.shape) * (charts._PNG_LEVELS - 1))
    palette, out_px = decoded[-1]
    assert np.abs(out_px.astype(int) - expect).max() <= 1
    assert out_px.min() < 16 and out_px.max() > 48          # both classes on the plane
    # input x1 varies left to right only, x2 top to bottom only (x2 grows upwards: blue on top)
    x1, x2 = decoded[0][1].astype(int), decoded[1][1].astype(int)
    assert (np.diff(x1, axis=0) == 0).all() and (np.diff(x1, axis=1) >= 0).all() and x1[0, -1] > x1[0, 0]
    assert (np.diff(x2, axis=1) == 0).all() and (np.diff(x2, axis=0) <= 0).all() and x2[0, 0] > x2[-1, 0]
    # palette: orange for negative, blue for positive (TensorFlow Playground)
    assert tuple(palette[0]) == charts._hex_rgb(charts.NEGATIVE_COLOR)
    assert tuple(palette[-1]) == charts._hex_rgb(charts.POSITIVE_COLOR)


def test_transformed_inputs_are_nodes_with_pictures():
    model, p = _trained_circles(epochs=3, transforms=("x1^2", "x1*x2"))
    fig = _valid(S.network_figure(model, p))
    nodes = _nodes(fig)
    assert len(nodes[0]["x"]) == 4
    assert _texts(fig, "unit names") == [["x1", "x2", "x1²", "x1·x2"], ["P(1)"]]
    images = fig["layout"]["images"]
    assert len(images) == 4 + 8 + 8 + 1
    sq = _decode_png(images[2]["source"])[1].astype(int)
    # x1² is symmetric about the plane's centre column-wise (the grid spans the data symmetrically)
    assert np.abs(sq - sq[:, ::-1]).max() <= 8 and sq[:, 0].mean() > sq[:, S.NETWORK_GRID // 2].mean()


def _mnist_like():
    rng = np.random.default_rng(0)
    X = np.zeros((30, 784))                 # like an image's border pixels, most inputs never change
    X[:, 300:384] = rng.normal(size=(30, 84))
    y = rng.integers(0, 10, 30)
    p = S.Prepared(X_train=X, X_test=X[:0], y_train=y, y_test=y[:0], task="multiclass", n_inputs=784,
                   n_outputs=10, feature_names=[f"px{i}" for i in range(784)],
                   class_names=[str(i) for i in range(10)], preprocessor=None, name="digits")
    model = mlp.MLP(seed=0).sequential([784, 256, "relu", 128, "relu", 10, "softmax"])
    return model, p


def test_wide_layers_show_16_units_and_more_marks_and_row_activations():
    model, p = _mnist_like()
    fig = _valid(S.network_figure(model, p, row=7))
    nodes = _nodes(fig)
    assert [len(t["x"]) for t in nodes] == [16, 16, 16, 10]
    assert _texts(fig, "more units") == [["+768 more", "+240 more", "+112 more"]]
    assert [len(t) for t in _texts(fig, "layer names")] == [4]
    assert "images" not in fig["layout"]
    assert sum(len(t["x"]) // 3 for t in _edges(fig)) == 16 * 16 + 16 * 16 + 16 * 10
    # the inputs drawn are 16 of those that vary, in column order, named and hovered by their real index
    inputs, outputs = _texts(fig, "unit names")
    shown = [int(name[2:]) for name in inputs]
    assert shown == sorted(shown) and all(300 <= i < 384 for i in shown)
    spread = p.X_train[:, 300:384].std(axis=0)
    assert min(spread[np.array(shown) - 300]) >= max(np.delete(spread, np.array(shown) - 300))
    hover = next(t for t in fig["data"] if t["name"] == "weights")
    W1 = model.get_weights()[0]
    first = [EDGE_HOVER.match(text).groups() for text in hover["text"][:16 * 16]]
    assert {int(i) for _, i, _, _ in first} == set(shown)
    assert all(float(v) == pytest.approx(W1[int(i), int(j)], rel=1e-3) for _, i, j, v in first)
    assert hover["text"][0].endswith(f"px{shown[0]} → h1[0]")
    # node colours: each unit's output for row 7, by an independent forward pass
    W1, b1, W2, b2, W3, b3 = model.get_weights()
    x = p.X_train[7]
    a1 = np.maximum(x @ W1 + b1, 0)
    a2 = np.maximum(a1 @ W2 + b2, 0)
    z3 = a2 @ W3 + b3
    a3 = np.exp(z3 - z3.max()) / np.exp(z3 - z3.max()).sum()
    for trace, a in zip(nodes, (x[shown], a1, a2, a3)):
        assert np.allclose(trace["marker"]["color"], a[:len(trace["x"])], rtol=1e-6, atol=1e-9)
        assert "(row 7)" in trace["text"][0]
    assert outputs == [str(k) for k in range(10)]


def test_the_figure_changes_when_the_network_trains():
    p = S.prepare_builtin("circles")
    cfg = {"arch": S.default_architecture(p), "epochs": 1}
    model = S.build_model(cfg, p)
    before = S.network_figure(model, p)
    S.train(model, p, cfg)
    after = S.network_figure(model, p)
    hover = [next(t["text"] for t in f["data"] if t["name"] == "weights") for f in (before, after)]
    assert sum(a != b for a, b in zip(*hover)) > 60          # (nearly) every weight moved
    pics = [[im["source"] for im in f["layout"]["images"]] for f in (before, after)]
    assert pics[0][:2] == pics[1][:2]                        # inputs do not depend on the weights
    assert sum(a != b for a, b in zip(pics[0][2:], pics[1][2:])) >= 10


def test_figures_include_the_network_and_errors_are_clear(circles):
    model, p = circles
    assert S.figures(model, p)["network"] == S.network_figure(model, p)
    with pytest.raises(ValueError, match="no model yet"):
        S.network_figure(None, p)
    with pytest.raises(ValueError, match=rf"numbered 0 to {p.n_train - 1}"):
        S.network_figure(model, p, row=p.n_train)
    with pytest.raises(ValueError, match="out of range"):
        S.network_figure(model, p, row=-1)
    with pytest.raises(ValueError, match="whole number"):
        S.network_figure(model, p, row="first")


def test_regression_and_non_2d_data():
    p = S.prepare_builtin("sine")                       # 1-D regression: colours, no pictures
    cfg = {"arch": S.default_architecture(p), "epochs": 2}
    model = S.build_model(cfg, p)
    fig = _valid(S.network_figure(model, p))
    assert "images" not in fig["layout"]
    assert [len(t["x"]) for t in _nodes(fig)] == [1, 16, 16, 1]
    assert _texts(fig, "unit names") == [["x"], ["y"]]


def _static_build():
    spec = importlib.util.spec_from_file_location("static_build", Path(__file__).parents[2] / "static" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_plotly_js_draws_the_pictures_in_chromium(circles):
    """The data-URI PNGs decode in a real browser and Plotly.js places one per node."""
    from playwright.sync_api import sync_playwright

    from tests._browser import CHROMIUM_ARGS, chromium_path

    build = _static_build()
    model, p = circles
    fig = S.network_figure(model, p)
    plotly_js = build.ensure_plotly(build.STATIC).read_text()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content("<div id='g' style='width:720px'></div>")
            page.add_script_tag(content=plotly_js)
            page.evaluate("f => Plotly.newPlot('g', f.data, f.layout)", fig)
            sizes = page.evaluate("""() => Promise.all([...document.querySelectorAll('#g image')].map(el =>
                new Promise(ok => { const i = new Image(); i.onload = () => ok([i.naturalWidth, i.naturalHeight]);
                                    i.onerror = () => ok(null); i.src = el.getAttribute('href'); })))""")
            # hovering an edge's point shows that weight's value
            hover = next(t for t in fig["data"] if t["name"] == "weights")
            k = len(hover["x"]) // 2
            px = page.evaluate("""([x, y]) => { const g = document.getElementById('g'), L = g._fullLayout;
                const r = g.querySelector('.nsewdrag').getBoundingClientRect();
                return [r.left + L.xaxis.l2p(x), r.top + L.yaxis.l2p(y)]; }""", [hover["x"][k], hover["y"][k]])
            page.mouse.move(*px)
            page.wait_for_selector(".hovertext")
            shown = page.evaluate("() => document.querySelector('.hovertext').textContent")
            # ... and hovering a picture shows its unit, with its bias
            out = _nodes(fig)[-1]
            px = page.evaluate("""([x, y]) => { const g = document.getElementById('g'), L = g._fullLayout;
                const r = g.querySelector('.nsewdrag').getBoundingClientRect();
                return [r.left + L.xaxis.l2p(x), r.top + L.yaxis.l2p(y)]; }""", [out["x"][0], out["y"][0]])
            page.mouse.move(0, 0)
            page.mouse.move(*px)
            page.wait_for_function("() => (document.querySelector('.hovertext') || {}).textContent"
                                   "?.startsWith('output (sigmoid)')")
            node_text = page.evaluate("() => document.querySelector('.hovertext').textContent")
        finally:
            browser.close()
    assert sizes == [[S.NETWORK_GRID, S.NETWORK_GRID]] * 19
    assert shown.startswith(hover["text"][k].split("<br>")[0])
    assert "b = " in node_text and "P(1)" in node_text


def test_a_model_for_other_data_and_overflowing_outputs_are_handled(circles):
    _, p = circles
    other = S.build_model({"arch": "[3, 4, 'relu', 1, 'sigmoid']"}, S.prepare_builtin("circles", transforms=("x1^2",)))
    with pytest.raises(ValueError, match=r"takes 3 input\(s\) but the data gives 2"):
        S.network_figure(other, p)
    # huge weights: linear units overflow to inf; the figure stays strict JSON
    model = S.build_model({"arch": "[2, 3, 'linear', 3, 'linear', 1, 'sigmoid']"}, p)
    model.set_weights([np.full_like(w, 1e200) for w in model.get_weights()])
    fig = _valid(S.network_figure(model, p))
    assert len(fig["layout"]["images"]) == 2 + 3 + 3 + 1
    assert "inf (row 0)" in _nodes(fig)[2]["text"][0]


def test_names_from_a_csv_are_text_not_markup():
    csv = "a<b>,<i>c</i>,kind\n" + "\n".join(f"{i % 7},{(i * 3) % 5},{'<a href=x>y</a>' if i % 2 else 'n&m'}"
                                               for i in range(40))
    p = S.prepare_csv(csv.encode())
    model = S.build_model({"arch": S.default_architecture(p)}, p)
    fig = _valid(S.network_figure(model, p))
    shown = json.dumps(fig)
    assert "<b>" not in shown and "<i>" not in shown and "<a href" not in shown
    assert _texts(fig, "unit names")[0] == ["a&lt;b&gt;", "&lt;i&gt;c&lt;/i&gt;"]
