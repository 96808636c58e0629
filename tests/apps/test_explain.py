""""Explain a step" (session.explain / webapp.core.explain): its numbers are the trace's and what training does,
its LaTeX renders in KaTeX, its code is mlp/reference.py's own lines."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp import reference
from mlp.trace import code_for
from webapp.core import explain as ex
from webapp.core import session as S

ROOT = Path(__file__).resolve().parents[2]
OPTIMIZERS = [("sgd", {}), ("sgd", {"momentum": 0.5, "nesterov": True}), ("sgd_momentum", {"weight_decay": 0.01}),
              ("rmsprop", {}), ("adam", {}), ("adam", {"weight_decay": 0.001, "l1": 0.001}), ("adamw", {}),
              ("adagrad", {}), ("nadam", {})]


def _model(prepared, arch, optimizer="adam", epochs=3, **hyper):
    cfg = {"arch": arch, "epochs": epochs, "optimizer": optimizer}
    model = S.build_model(cfg, prepared)
    model.set_optimizer(optimizer, **hyper)
    S.train(model, prepared, cfg)      # the optimizer has state (t > 0) before the explained step
    return model


@pytest.fixture(scope="module")
def circles():
    return S.prepare_builtin("circles")


@pytest.mark.parametrize("optimizer,hyper", OPTIMIZERS)
def test_numbers_are_the_trace_and_what_one_real_step_does(circles, optimizer, hyper):
    p = circles
    model = _model(p, S.default_architecture(p), optimizer, **hyper)
    row, lr = 5, 0.02
    e = S.explain(model, p, row=row, learning_rate=lr)
    json.dumps(e, allow_nan=False)
    assert (e["row"], e["n_rows"]) == (row, p.n_train)
    layer, i, j = e["weight"]["layer"], e["weight"]["i"], e["weight"]["j"]
    assert e["weight"]["label"] == f"W{layer}[{i},{j}]"
    trace = model.trace(p.X_train[row:row + 1], p.y_train[row:row + 1], learning_rate=lr)
    v = e["values"]
    assert v["loss"] == trace.loss and v["penalty"] == trace.penalty and v["t"] == trace.t
    for shown, lt in zip(v["layers"], trace.layers):
        assert shown["z"] == lt.z[0].tolist() and shown["a"] == lt.a[0].tolist()
        assert shown["delta"] == lt.delta[0].tolist()
    lt = trace.layers[layer - 1]
    assert v["grad"] == lt.grad_W[i, j] and v["weight_before"] == lt.W[i, j]
    assert v["update"] == lt.update_W[i, j] != 0.0
    # default weight: the first layer's largest gradient for the row
    assert layer == 1 and abs(v["grad"]) == np.abs(trace.layers[0].grad_W).max()
    # one real training step on that row moves the weight exactly so (and a weight of the output layer too)
    last = S.explain(model, p, row=row, weight=(3, 7, 0), learning_rate=lr)["values"]["weight_after"]
    model.fit(p.X_train[row:row + 1], p.y_train[row:row + 1], epochs=1, batch_size=1, shuffle=False,
              learning_rate=lr)
    assert model.get_weights()[2 * (layer - 1)][i, j] == pytest.approx(v["weight_after"], rel=1e-9, abs=1e-14)
    assert model.get_weights()[4][7, 0] == pytest.approx(last, rel=1e-9, abs=1e-14)
    # the last update line ends with the new weight; the loss line shows the loss
    update = next(s for s in e["sections"] if s["id"] == "update")
    assert update["latex"][-1].endswith(ex.num(v["weight_after"]))
    assert update["code_name"] == reference.UPDATES[optimizer].__name__
    loss = next(s for s in e["sections"] if s["id"] == "loss")
    assert any(ex.num(trace.loss) in line for line in loss["latex"])
    if hyper.get("l1"):
        assert any(r"\lambda_1" in line for s in e["sections"] for line in s["latex"])


def test_adam_shows_its_real_moments_and_bias_corrections(circles):
    model = _model(circles, S.default_architecture(circles), "adam", epochs=2)
    e = S.explain(model, circles, row=0, weight=(2, 3, 4), learning_rate=0.01)
    v = e["values"]
    trace = model.trace(circles.X_train[:1], circles.y_train[:1], learning_rate=0.01)
    lt = trace.layers[1]
    m, s = lt.state_W["after"]["exp_avg"][3, 4], lt.state_W["after"]["exp_avg_sq"][3, 4]
    assert v["opt_m"] == m and v["opt_v"] == s
    assert v["opt_m_prev"] == lt.state_W["before"]["exp_avg"][3, 4] != 0.0
    t = trace.t
    assert v["opt_m_hat"] == pytest.approx(m / (1 - 0.9 ** t)) and v["opt_v_hat"] == pytest.approx(s / (1 - 0.999 ** t))
    assert v["weight_before"] + v["opt_step"] == pytest.approx(v["weight_after"], rel=1e-12)
    assert e["weight"] == {"layer": 2, "i": 3, "j": 4, "label": "W2[3,4]"}
    tex = " ".join(next(sec for sec in e["sections"] if sec["id"] == "update")["latex"])
    assert r"\hat m_t" in tex and r"\hat v_t" in tex and f"^{{{t}}}" in tex


def test_sections_in_order_with_reference_code(circles):
    model = _model(circles, S.default_architecture(circles), epochs=1)
    e = S.explain(model, circles)
    assert [s["id"] for s in e["sections"]] == ["forward-1", "forward-2", "forward-3", "loss", "delta-3", "delta-2",
                                               "delta-1", "gradient", "update"]
    names = {"forward-1": "layer_forward", "loss": "loss_value", "delta-3": "output_delta",
             "delta-2": "hidden_delta", "gradient": "layer_gradients", "update": "adam_update"}
    source = Path(reference.__file__).read_text().splitlines()
    for s in e["sections"]:
        if s["id"] in names:
            assert s["code_name"] == names[s["id"]]
        assert (s["code_start"], s["code"]) == code_for(s["code_name"])
        assert source[s["code_start"] - 1].startswith(f"def {s['code_name']}(")
        assert all(isinstance(line, str) and line for line in s["latex"]) and s["title"]


def test_multiclass_regression_and_wide_layers():
    spiral = S.prepare_builtin("spiral", n_samples=150)
    model = _model(spiral, "[2, 6, 'tanh', 3, 'softmax']", "rmsprop")
    e = S.explain(model, spiral, row=2)
    trace = model.trace(spiral.X_train[2:3], spiral.y_train[2:3])
    assert e["values"]["loss"] == trace.loss
    assert e["values"]["y"] == trace.y[0].tolist() and sum(e["values"]["y"]) == 1.0     # one-hot
    c = int(spiral.y_train[2])
    assert rf"-\log a_{{{c}}}" in e["sections"][2]["latex"][0]
    e2 = S.explain(model, spiral, row=2, weight=(2, 5, 1))["values"]
    model.fit(spiral.X_train[2:3], spiral.y_train[2:3], epochs=1, batch_size=1, shuffle=False, learning_rate=0.01)
    assert model.get_weights()[0][e["weight"]["i"], e["weight"]["j"]] == pytest.approx(e["values"]["weight_after"])
    assert model.get_weights()[2][5, 1] == pytest.approx(e2["weight_after"], rel=1e-9)

    sine = S.prepare_builtin("sine", n_samples=60)
    model = _model(sine, "[1, 5, 'gelu', 1, 'linear']", "sgd_momentum")
    e = S.explain(model, sine, row=1, weight={"layer": 2, "i": 4, "j": 0})
    assert e["values"]["layers"][0]["f_prime"]                          # gelu's f'(z) shown with numbers
    assert e["values"]["weight_before"] == model.get_weights()[2][4, 0]
    model.fit(sine.X_train[1:2], sine.y_train[1:2], epochs=1, batch_size=1, shuffle=False, learning_rate=0.01)
    assert model.get_weights()[2][4, 0] == pytest.approx(e["values"]["weight_after"], rel=1e-9)

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 784)), rng.integers(0, 10, 20)
    p = S.Prepared(X_train=X, X_test=X[:0], y_train=y, y_test=y[:0], task="multiclass", n_inputs=784, n_outputs=10,
                   feature_names=[f"px{i}" for i in range(784)], class_names=[str(k) for k in range(10)],
                   preprocessor=None, name="digits")
    model = mlp.MLP(seed=0).sequential([784, 256, "relu", 128, "relu", 10, "softmax"]).set_loss("cce")
    model.set_optimizer("adam")
    e = S.explain(model, p, row=19)
    first = e["sections"][0]["latex"]
    assert r"\cdots" in first[0] and "(784)" in first[0] and "(256)" in first[3]
    assert r"\mathbf{a}^{(0)}" not in " ".join(e["sections"][1]["latex"])    # later layers: the a above
    assert e["sections"][2]["latex"][-1].count("&") == ex._HEAD + ex._TAIL      # 10 outputs: elided too
    small = S.explain(model, p, row=0, weight=(3, 0, 0))["sections"][-2]["latex"][0]
    assert r"\cdots" not in small                                     # a scalar product in full


def test_errors_are_clear(circles):
    model = _model(circles, S.default_architecture(circles), epochs=1)
    with pytest.raises(ValueError, match="no model yet"):
        S.explain(None, circles)
    with pytest.raises(ValueError, match=rf"Row {circles.n_train} is out of range.*0 to {circles.n_train - 1}"):
        S.explain(model, circles, row=circles.n_train)
    with pytest.raises(ValueError, match="whole number"):
        S.explain(model, circles, row=1.5)
    with pytest.raises(ValueError, match="dense layers 1 to 3"):
        S.explain(model, circles, weight=(4, 0, 0))
    with pytest.raises(ValueError, match=r"shape \(2, 8\), so i is 0 to 1 and j is 0 to 7"):
        S.explain(model, circles, weight=(1, 2, 0))
    with pytest.raises(ValueError, match=r"\(layer, i, j\)"):
        S.explain(model, circles, weight=(1, 2))
    with pytest.raises(ValueError, match="'j' is missing"):
        S.explain(model, circles, weight={"layer": 1, "i": 0})
    before = model.get_weights()
    S.explain(model, circles, row=3)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))   # nothing changes


def _multilabel():
    """Two sigmoid outputs with bce (multi-label): data made here, the model from the engine."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(float)
    p = S.Prepared(X_train=X, X_test=X[:0], y_train=y, y_test=y[:0], task="binary", n_inputs=3, n_outputs=2,
                   feature_names=["a", "b", "c"], class_names=[], preprocessor=None, name="tags")
    model = mlp.MLP(seed=2).sequential([3, 4, "elu", 2, "sigmoid"]).set_loss("bce").set_optimizer("nadam")
    model.fit(X, y, epochs=2, learning_rate=0.01)
    return p, model


def test_multilabel_bce_explains_the_real_step():
    p, model = _multilabel()
    e = S.explain(model, p, row=4, weight=(2, 1, 1), learning_rate=0.05)
    trace = model.trace(p.X_train[4:5], p.y_train[4:5], learning_rate=0.05)
    assert e["values"]["loss"] == trace.loss and e["values"]["layers"][1]["delta"] == trace.layers[1].delta[0].tolist()
    assert r"\frac{1}{2}" in " ".join(e["sections"][3]["latex"])          # dL/dz = (a - y) / k for k = 2 outputs
    model.fit(p.X_train[4:5], p.y_train[4:5], epochs=1, batch_size=1, shuffle=False, learning_rate=0.05)
    assert model.get_weights()[2][1, 1] == pytest.approx(e["values"]["weight_after"], rel=1e-9)


def _katex_js():
    """KaTeX from the static build's pinned npm package (the same copy the browser build vendors)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("static_build", ROOT / "static" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.ensure_plotly(build.STATIC)        # runs `npm ci` when node_modules lacks Plotly or KaTeX
    return build.STATIC / "node_modules" / "katex"


def test_every_formula_renders_in_katex(circles):
    """Every LaTeX string of explanations covering each optimizer, loss and activation, through
    katex.renderToString with throwOnError (and strict mode: no unsupported input accepted quietly)."""
    strings = []
    for optimizer, hyper in OPTIMIZERS:
        model = _model(circles, S.default_architecture(circles), optimizer, epochs=1, **hyper)
        strings += [line for s in S.explain(model, circles)["sections"] for line in s["latex"]]
        model.params = model.params * 1e-4   # tiny gradients and moments: numbers written with 10^k, squared
        strings += [line for s in S.explain(model, circles)["sections"] for line in s["latex"]]
    sine = S.prepare_builtin("sine", n_samples=40)
    for arch, loss in (("[1, 4, 'elu', 3, 'softplus', 2, 'swish', 1, 'linear']", "mae"),
                       ("[1, 3, 'leaky_relu', 3, 'gelu', 1, 'tanh']", "huber"),
                       ("[1, 3, 'sigmoid', 2, 'softmax', 1, 'linear']", "mse")):
        cfg = {"arch": arch, "epochs": 1, "loss": loss}
        model = S.build_model(cfg, sine)
        strings += [line for s in S.explain(model, sine)["sections"] for line in s["latex"]]
    spiral = S.prepare_builtin("spiral", n_samples=60)
    model = S.build_model({"arch": "[2, 12, 'relu', 3, 'softmax']", "epochs": 1}, spiral)
    strings += [line for s in S.explain(model, spiral)["sections"] for line in s["latex"]]
    multi, model = _multilabel()
    strings += [line for s in S.explain(model, multi)["sections"] for line in s["latex"]]
    assert katex_refusals([(s, True) for s in strings]) == []
    assert len(strings) > 150


def katex_refusals(items):
    """``[[latex, KaTeX's message], ...]`` for each ``(latex, display)`` that katex.renderToString refuses
    (throwOnError, strict mode: no unsupported input accepted quietly)."""
    script = ("const katex = require(process.argv[1]);"
              "const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const bad = [];"
              "for (const [s, d] of items) { try { katex.renderToString(s, {throwOnError: true, displayMode: d,"
              " strict: 'error'}); } catch (e) { bad.push([s, e.message]); } }"
              "console.log(JSON.stringify({n: items.length, bad}));")
    out = subprocess.run(["node", "-e", script, str(_katex_js())], input=json.dumps([list(i) for i in items]),
                         capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["n"] == len(items)
    return result["bad"]


def test_a_broken_formula_is_caught_by_the_katex_check():
    """The check above can fail: KaTeX refuses an unknown macro."""
    script = ("const katex = require(process.argv[1]);"
              "try { katex.renderToString('\\\\notamacro{x}', {throwOnError: true}); console.log('rendered'); }"
              "catch (e) { console.log('refused'); }")
    out = subprocess.run(["node", "-e", script, str(_katex_js())], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"


def test_numbers_in_latex():
    assert ex.num(0.123456) == "0.1235" and ex.num(-2.5e-7) == r"-2.5 \times 10^{-7}" and ex.num(0) == "0"
    assert ex.par(-1.5) == "(-1.5)" and ex.par(2) == "2"
    assert ex.par(1.4e-4) == r"(1.4 \times 10^{-4})"     # so that par(g)^2 is no double superscript
    assert ex.vec([1, 2]) == r"\begin{bmatrix} 1 & 2 \end{bmatrix}^{\top}" and ex.vec([3.0]) == "3"
    long = ex.vec(np.arange(20))
    assert long.count("&") == ex._HEAD + ex._TAIL and r"\cdots" in long and "(20)" in long


def test_notes_for_dropout_and_regression_targets_and_other_data(circles):
    model = S.build_model({"arch": "[2, 8, 'relu', 'dropout(0.3)', 1, 'sigmoid']"}, circles)
    e = S.explain(model, circles)
    assert len(e["notes"]) == 1 and "Dropout is off" in e["notes"][0]
    assert [s["id"] for s in e["sections"]][:2] == ["forward-1", "forward-2"]
    sine = S.prepare_builtin("sine", n_samples=40)
    e = S.explain(S.build_model({"arch": "[1, 3, 'tanh', 1, 'linear']"}, sine), sine)
    assert e["notes"] == ["The target y is 'y' standardised with the training rows' mean and standard deviation: "
                          "the network is trained on those units."]
    assert e["values"]["y"] == [float(sine.y_train[0, 0])]
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) but the data gives 1"):
        S.explain(model, sine)
    assert S.explain(S.build_model({"arch": S.default_architecture(circles)}, circles), circles)["notes"] == []
