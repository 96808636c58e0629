""""Explain a step": one training row through the network, typeset as LaTeX with its real numbers.

Pure module (stdlib, numpy, ``mlp``), shared by the Streamlit app and the browser build. Every number comes
from :meth:`mlp.MLP.trace` (``mlp/reference.py``), and every section carries the lines of
``mlp/reference.py`` that compute it (:func:`mlp.trace.code_for`). The LaTeX uses only macros KaTeX
supports (``st.latex`` is KaTeX too).
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

MAX_SHOWN = 8      # vectors up to this length are written in full; longer ones elided
_HEAD, _TAIL = 5, 2  # ... as their first 5 and last 2 entries


# ---------------------------------------------------------------- numbers as LaTeX

def num(v, digits=4):
    """One number as LaTeX: 4 significant digits, ``1.23 \\times 10^{-5}`` for very small or large ones."""
    v = float(v)
    if math.isnan(v):
        return r"\text{NaN}"
    if math.isinf(v):
        return r"\infty" if v > 0 else r"-\infty"
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits}g}"
    mant, exp = f"{v:.{digits - 1}e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return rf"{mant} \times 10^{{{int(exp)}}}"


def par(v):
    """A number as an operand (of a product or a power): negative ones and ones written with a power of
    ten in parentheses, so that ``par(g)^2`` reads (1.4 \\times 10^{-4})^2, never a double superscript."""
    s = num(v)
    return rf"({s})" if float(v) < 0 or r"\times" in s else s


def vec(values):
    """A row vector ``[v1, v2, ...]`` (a column written transposed), elided beyond MAX_SHOWN entries;
    one entry is written as a plain number."""
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size == 1:
        return num(v[0])
    if v.size <= MAX_SHOWN:
        cells = [num(x) for x in v]
    else:
        cells = [num(x) for x in v[:_HEAD]] + [r"\cdots"] + [num(x) for x in v[-_TAIL:]]
    body = " & ".join(cells)
    suffix = rf"_{{\,({v.size})}}" if v.size > MAX_SHOWN else ""
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}^{{\top}}{suffix}"


def _name(text):
    """A safe \\operatorname name for an activation (custom names may hold anything)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "", str(text)) or "f"
    return clean.replace("_", r"\_")


def _floats(a):
    return [float(x) for x in np.asarray(a, dtype=float).reshape(-1)]


# ---------------------------------------------------------------- formulas of the activations and losses

ACTIVATION_TEX = {        # f(z), f'(z)  (as functions of z, or of a = f(z))
    "linear": ("z", "1"),
    "relu": (r"\max(0,\, z)", r"1 \text{ if } z > 0 \text{, else } 0"),
    "leaky_relu": (r"\max(0.01\,z,\, z)", r"1 \text{ if } z > 0 \text{, else } 0.01"),
    "tanh": (r"\tanh z", r"1 - a^2"),
    "sigmoid": (r"\sigma(z) = \frac{1}{1 + e^{-z}}", r"a\,(1 - a)"),
    "softmax": (r"\frac{e^{z_j}}{\sum_k e^{z_k}}", None),
    "gelu": (r"\tfrac{1}{2} z \left(1 + \tanh\!\left(\sqrt{2/\pi}\,(z + 0.044715\, z^3)\right)\right)",
             r"\text{GELU}'(z)"),
    "elu": (r"z \text{ if } z > 0 \text{, else } e^{z} - 1", r"1 \text{ if } z > 0 \text{, else } a + 1"),
    "softplus": (r"\log(1 + e^{z})", r"\sigma(z) = 1 - e^{-a}"),
    "swish": (r"z\,\sigma(z)", r"\sigma(z)\,(1 + z\,(1 - \sigma(z)))"),
}


def _activation_tex(act):
    f, d = ACTIVATION_TEX.get(act, (rf"\operatorname{{{_name(act)}}}(z)", rf"\operatorname{{{_name(act)}}}'(z)"))
    return f, d


def _derivative(act, z, a):
    from mlp.activations import DERIVATIVES
    fn = DERIVATIVES.get(act)
    return None if fn is None else np.asarray(fn(np.array(z), np.array(a)), dtype=float)


# ---------------------------------------------------------------- the optimizers' updates of one weight
# Each takes (w, g, before, after, t, hyper, new_w) for the chosen weight (state entries as floats, by
# PyTorch's names) and returns (latex lines, numbers shown). new_w is the trace's result.

def _decayed(w, g, hyper, lines, vals):
    wd = hyper.get("weight_decay", 0.0)
    if wd:
        g = g + wd * w
        lines.append(rf"g \leftarrow g + \lambda_2 w = {num(g - wd * w)} + {num(wd)} \cdot {par(w)} = {num(g)}")
        vals["g_decayed"] = g
    return g


def _sgd(w, g, before, after, t, hyper, new_w):
    lines, vals = [], {}
    g = _decayed(w, g, hyper, lines, vals)
    lr, mu = hyper["lr"], hyper.get("momentum", 0.0)
    if not mu:
        lines.append(rf"w \leftarrow w - \eta\, g = {num(w)} - {num(lr)} \cdot {par(g)} = {num(new_w)}")
        return lines, vals
    b0, b = before.get("momentum_buffer", 0.0), after["momentum_buffer"]
    lines.append(rf"b_t = \mu\, b_{{t-1}} + g = {num(mu)} \cdot {par(b0)} + {par(g)} = {num(b)}")
    vals.update(b_prev=b0, b=b)
    if hyper.get("nesterov"):
        lines.append(rf"w \leftarrow w - \eta\,(g + \mu\, b_t) = {num(w)} - {num(lr)} \cdot ({num(g)} + {num(mu)}"
                     rf" \cdot {par(b)}) = {num(new_w)}")
    else:
        lines.append(rf"w \leftarrow w - \eta\, b_t = {num(w)} - {num(lr)} \cdot {par(b)} = {num(new_w)}")
    return lines, vals


def _rmsprop(w, g, before, after, t, hyper, new_w):
    lines, vals = [], {}
    g = _decayed(w, g, hyper, lines, vals)
    rho, eps, lr = hyper["rho"], hyper["eps"], hyper["lr"]
    v0, v = before.get("square_avg", 0.0), after["square_avg"]
    lines.append(rf"v_t = \rho\, v_{{t-1}} + (1 - \rho)\, g^2 = {num(rho)} \cdot {num(v0)} + {num(1 - rho)} \cdot"
                 rf" {par(g)}^2 = {num(v)}")
    lines.append(rf"w \leftarrow w - \eta \frac{{g}}{{\sqrt{{v_t}} + \epsilon}} = {num(w)} - {num(lr)} \cdot"
                 rf" \frac{{{num(g)}}}{{\sqrt{{{num(v)}}} + {num(eps)}}} = {num(new_w)}")
    vals.update(v_prev=v0, v=v)
    return lines, vals


def _adam_lines(w, g, before, after, t, hyper, new_w, lines, vals):
    b1, b2, eps, lr = hyper["beta1"], hyper["beta2"], hyper["eps"], hyper["lr"]
    if hyper.get("eps_placement") == "sqrt_v":     # scikit-learn's (mlp.sklearn's networks): eps added to sqrt(v)
        eps = eps / math.sqrt(1 - b2 ** t)
    m0, v0 = before.get("exp_avg", 0.0), before.get("exp_avg_sq", 0.0)
    m, v = after["exp_avg"], after["exp_avg_sq"]
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    step = lr * m_hat / (math.sqrt(v_hat) + eps)
    lines += [
        rf"m_t = \beta_1 m_{{t-1}} + (1 - \beta_1)\, g = {num(b1)} \cdot {par(m0)} + {num(1 - b1)} \cdot {par(g)}"
        rf" = {num(m)}",
        rf"v_t = \beta_2 v_{{t-1}} + (1 - \beta_2)\, g^2 = {num(b2)} \cdot {num(v0)} + {num(1 - b2)} \cdot"
        rf" {par(g)}^2 = {num(v)}",
        rf"\hat m_t = \frac{{m_t}}{{1 - \beta_1^{{t}}}} = \frac{{{num(m)}}}{{1 - {num(b1)}^{{{t}}}}} = {num(m_hat)}",
        rf"\hat v_t = \frac{{v_t}}{{1 - \beta_2^{{t}}}} = \frac{{{num(v)}}}{{1 - {num(b2)}^{{{t}}}}} = {num(v_hat)}",
        rf"\Delta w = -\eta \frac{{\hat m_t}}{{\sqrt{{\hat v_t}} + \epsilon}} = -{num(lr)} \cdot"
        rf" \frac{{{num(m_hat)}}}{{\sqrt{{{num(v_hat)}}} + {num(eps)}}} = {num(-step)}",
        rf"w \leftarrow w + \Delta w = {num(w)} + {par(-step)} = {num(new_w)}",
    ]
    vals.update(m_prev=m0, v_prev=v0, m=m, v=v, m_hat=m_hat, v_hat=v_hat, step=-step)
    return lines, vals


def _adam(w, g, before, after, t, hyper, new_w):
    lines, vals = [], {}
    g = _decayed(w, g, hyper, lines, vals)
    return _adam_lines(w, g, before, after, t, hyper, new_w, lines, vals)


def _adamw(w, g, before, after, t, hyper, new_w):
    lr, wd = hyper["lr"], hyper.get("weight_decay", 0.0)
    shrunk = w - lr * wd * w
    lines = [rf"w \leftarrow w - \eta \lambda w = {num(w)} - {num(lr)} \cdot {num(wd)} \cdot {par(w)} = {num(shrunk)}"
             r"\quad\text{(decoupled weight decay)}"]
    vals = {"w_decayed": shrunk}
    lines, vals = _adam_lines(shrunk, g, before, after, t, hyper, new_w, lines, vals)
    return lines, vals


def _adagrad(w, g, before, after, t, hyper, new_w):
    lines, vals = [], {}
    g = _decayed(w, g, hyper, lines, vals)
    eps, lr = hyper["eps"], hyper["lr"]
    s0, s = before.get("sum", 0.0), after["sum"]
    lines.append(rf"s_t = s_{{t-1}} + g^2 = {num(s0)} + {par(g)}^2 = {num(s)}")
    lines.append(rf"w \leftarrow w - \eta \frac{{g}}{{\sqrt{{s_t}} + \epsilon}} = {num(w)} - {num(lr)} \cdot"
                 rf" \frac{{{num(g)}}}{{\sqrt{{{num(s)}}} + {num(eps)}}} = {num(new_w)}")
    vals.update(s_prev=s0, s=s)
    return lines, vals


def _nadam(w, g, before, after, t, hyper, new_w):
    lines, vals = [], {}
    g = _decayed(w, g, hyper, lines, vals)
    b1, b2, eps, psi = hyper["beta1"], hyper["beta2"], hyper["eps"], hyper["momentum_decay"]
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod = after["mu_product"]
    m0, v0, m, v = before.get("exp_avg", 0.0), before.get("exp_avg_sq", 0.0), after["exp_avg"], after["exp_avg_sq"]
    d = math.sqrt(v / (1 - b2 ** t)) + eps
    lines += [
        rf"\mu_t = \beta_1 \left(1 - \tfrac{{1}}{{2}}\, 0.96^{{t \psi}}\right) = {num(mu)},\qquad"
        rf" \mu_{{t+1}} = {num(mu_next)},\qquad \textstyle\prod_{{s \le t}} \mu_s = {num(prod)}",
        rf"m_t = \beta_1 m_{{t-1}} + (1 - \beta_1)\, g = {num(b1)} \cdot {par(m0)} + {num(1 - b1)} \cdot {par(g)}"
        rf" = {num(m)}",
        rf"v_t = \beta_2 v_{{t-1}} + (1 - \beta_2)\, g^2 = {num(b2)} \cdot {num(v0)} + {num(1 - b2)} \cdot"
        rf" {par(g)}^2 = {num(v)}",
        rf"d = \sqrt{{v_t / (1 - \beta_2^{{t}})}} + \epsilon = {num(d)}",
        rf"w \leftarrow w - \eta \frac{{1 - \mu_t}}{{1 - \prod \mu}} \frac{{g}}{{d}} - \eta"
        rf" \frac{{\mu_{{t+1}}}}{{1 - \mu_{{t+1}} \prod \mu}} \frac{{m_t}}{{d}} = {num(new_w)}",
    ]
    vals.update(mu=mu, mu_next=mu_next, mu_product=prod, m_prev=m0, v_prev=v0, m=m, v=v, d=d)
    return lines, vals


UPDATE_TEX = {"sgd": _sgd, "sgd_momentum": _sgd, "rmsprop": _rmsprop, "adam": _adam, "adamw": _adamw,
              "adagrad": _adagrad, "nadam": _nadam}

HYPER_TEX = {"lr": r"\eta", "beta1": r"\beta_1", "beta2": r"\beta_2", "eps": r"\epsilon", "rho": r"\rho",
             "momentum": r"\mu", "weight_decay": r"\lambda_2", "momentum_decay": r"\psi"}

OPTIMIZER_TITLES = {"sgd": "SGD", "sgd_momentum": "SGD with momentum", "rmsprop": "RMSprop", "adam": "Adam",
                    "adamw": "AdamW", "adagrad": "Adagrad", "nadam": "NAdam"}


# ---------------------------------------------------------------- the explanation

@functools.lru_cache(maxsize=64)
def _code(name):
    """(first line, text) of ``name`` in mlp/reference.py, or a note when the source is not shipped.
    Cached: the file does not change while an app runs, and reading it is most of an explanation's time."""
    from mlp.trace import code_for
    try:
        return code_for(name)
    except (OSError, ValueError) as e:
        return 0, f"# the source of mlp.reference.{name} is not available here: {e}\n"


def _section(sid, title, latex, code_name):
    start, text = _code(code_name)
    return {"id": sid, "title": title, "latex": latex, "code_name": code_name, "code_start": start, "code": text}


def default_weight(trace):
    """The first layer's weight with the largest |gradient| for this row (the first on ties): the one this row
    pushes hardest (a row the network already fits well may push none)."""
    g = np.abs(trace.layers[0].grad_W)
    i, j = np.unravel_index(int(np.argmax(g)), g.shape)
    return 1, int(i), int(j)


def check_weight(trace, weight):
    """``weight`` as ``(layer, i, j)`` (layer 1-based, i and j 0-based indices into W of shape (n_in, n_out));
    a tuple/list or a mapping with keys layer, i, j. Clear ValueError when out of range."""
    n_layers = len(trace.layers)
    if weight is None:
        return default_weight(trace)
    if isinstance(weight, dict):
        try:
            weight = (weight["layer"], weight["i"], weight["j"])
        except KeyError as e:
            raise ValueError(f"The weight needs keys 'layer', 'i' and 'j'; {e.args[0]!r} is missing.") from None
    try:
        layer, i, j = weight
    except (TypeError, ValueError):
        raise ValueError(f"The weight must be (layer, i, j), e.g. (1, 0, 0); got {weight!r}.") from None
    out = []
    for name, v in (("layer", layer), ("i", i), ("j", j)):
        whole = isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer())
        if isinstance(v, bool) or not whole:
            raise ValueError(f"The weight's {name} must be a whole number, got {v!r}.")
        out.append(int(v))
    layer, i, j = out
    if not 1 <= layer <= n_layers:
        raise ValueError(f"Layer {layer} does not exist: the network has dense layers 1 to {n_layers}.")
    n_in, n_out = trace.layers[layer - 1].W.shape
    if not (0 <= i < n_in and 0 <= j < n_out):
        raise ValueError(f"Weight ({layer}, {i}, {j}) is out of range: layer {layer}'s W has shape ({n_in}, {n_out}), "
                         f"so i is 0 to {n_in - 1} and j is 0 to {n_out - 1}.")
    return layer, i, j


def _loss_lines(trace, z, a, y):
    loss, k = trace.loss_name, a.size
    mean = r"\frac{1}{" + str(k) + r"} \sum_{j}" if k > 1 else ""
    L = num(trace.loss)
    if loss == "bce":
        if k == 1:
            lines = [rf"\begin{{aligned}} L &= -\left[y \log a + (1 - y) \log(1 - a)\right] = \log(1 + e^{{z}})"
                     rf" - y\, z \\ &= \log(1 + e^{{{num(z[0])}}}) - {num(y[0])} \cdot {par(z[0])} = {L}"
                     r" \end{aligned}"]
        else:
            lines = [rf"L = {mean} \left[\log(1 + e^{{z_j}}) - y_j z_j\right], \quad \mathbf{{z}} = {vec(z)},"
                     rf" \ \mathbf{{y}} = {vec(y)}", rf"L = {L}"]
    elif loss == "cce":
        c = int(np.argmax(y))
        lines = [rf"L = -\sum_j y_j \log a_j = -\log a_{{{c}}} = -\log {num(a[c])} = {L}",
                 rf"\mathbf{{a}} = {vec(a)}, \quad \mathbf{{y}} = {vec(y)}"]
    else:
        term = {"mse": r"(a_j - y_j)^2", "mae": r"\lvert a_j - y_j \rvert",
                "huber": r"\begin{cases} \tfrac{1}{2}(a_j - y_j)^2 & \lvert a_j - y_j \rvert < 1 \\"
                         r" \lvert a_j - y_j \rvert - \tfrac{1}{2} & \text{otherwise} \end{cases}",
                "poisson": r"e^{a_j} - y_j a_j"}[loss]      # poisson: a is the log of the rate
        if k == 1:
            term = term.replace("_j", "")
            lines = [rf"L = {term}, \quad a = {num(a[0])},\ y = {num(y[0])}", rf"L = {L}"]
        else:
            lines = [rf"L = {mean} {term}, \quad \mathbf{{a}} = {vec(a)},\ \mathbf{{y}} = {vec(y)}", rf"L = {L}"]
    if trace.l1:
        lines.append(rf"L_{{\text{{minimised}}}} = L + \lambda_1 \sum \lvert W \rvert = {L} + {num(trace.penalty)}"
                     rf" = {num(trace.loss + trace.penalty)}")
    return lines


def _output_delta_lines(trace, z, a, y, n_layers):
    loss, act, k = trace.loss_name, trace.layers[-1].activation, a.size
    s = str(n_layers)   # layer superscripts are their numbers, the output layer's too (L is the loss)
    d = trace.layers[-1].delta[0]
    D = rf"\boldsymbol{{\delta}}^{{({s})}}"
    if loss in ("bce", "cce"):
        over = "" if (loss == "cce" or k == 1) else rf"\frac{{1}}{{{k}}}"
        name = "sigmoid" if loss == "bce" else "softmax"
        return [rf"{D} = \frac{{\partial L}}{{\partial \mathbf{{z}}^{{({s})}}}} = {over}(\mathbf{{a}} - \mathbf{{y}})"
                rf"\quad\text{{({name} and its loss together)}}",
                rf"{D} = {over}\left({vec(a)} - {vec(y)}\right) = {vec(d)}" if k == 1 else
                rf"\begin{{aligned}} {D} &= {over}\left({vec(a)} - {vec(y)}\right) \\ &= {vec(d)} \end{{aligned}}"]
    grad = {"mse": rf"\frac{{2}}{{{k}}}(\mathbf{{a}} - \mathbf{{y}})", "mae": rf"\frac{{1}}{{{k}}}\operatorname{{sign}}"
            rf"(\mathbf{{a}} - \mathbf{{y}})", "huber": rf"\frac{{1}}{{{k}}}\operatorname{{clip}}(\mathbf{{a}} - "
            rf"\mathbf{{y}}, -1, 1)", "poisson": rf"\frac{{1}}{{{k}}}(e^{{\mathbf{{a}}}} - \mathbf{{y}})"}[loss]
    dL_da = {"mse": 2.0 * (a - y) / k, "mae": np.sign(a - y) / k,
             "huber": np.clip(a - y, -1.0, 1.0) / k, "poisson": (np.exp(a) - y) / k}[loss]
    lines = [rf"\frac{{\partial L}}{{\partial \mathbf{{a}}}} = {grad} = {vec(dL_da)}"]
    if act == "softmax":
        lines.append(rf"{D} = \mathbf{{a}} \odot \left(\frac{{\partial L}}{{\partial \mathbf{{a}}}} - "
                     rf"\frac{{\partial L}}{{\partial \mathbf{{a}}}} \cdot \mathbf{{a}}\right) = {vec(d)}")
    else:
        fp = _derivative(act, trace.layers[-1].z[0], a)
        _, dtex = _activation_tex(act)
        lines.append(rf"{D} = \frac{{\partial L}}{{\partial \mathbf{{a}}}} \odot f'(\mathbf{{z}}),"
                     rf" \quad f'(z) = {dtex}")
        lines.append(rf"{D} = {vec(dL_da)} \odot {vec(fp)} = {vec(d)}")
    return lines


def explain_step(model, X, y, row, n_rows, weight=None, learning_rate=0.01, notes=()):
    """The explanation dict of one training step on row ``row`` of ``(X, y)`` (see ``session.explain``);
    ``notes``: sentences for the reader, returned under ``"notes"`` with the explanation's own."""
    trace = model.trace(X[row:row + 1], y[row:row + 1], learning_rate=learning_rate)
    notes = list(notes)
    if any(s["type"] == "dropout" for s in model.specs):
        notes.append("Dropout is off here, as when the model predicts: training drops units at random, so a real "
                     "step on this row differs from this one by the units it drops.")
    layer_no, wi, wj = check_weight(trace, weight)
    layers, n_layers = trace.layers, len(trace.layers)
    sections = []
    values = {"loss": float(trace.loss), "penalty": float(trace.penalty), "x": _floats(trace.x[0]),
              "y": _floats(trace.y[0]), "optimizer": trace.optimizer, "t": int(trace.t),
              "learning_rate": float(trace.hyper["lr"]), "layers": []}

    # ---- forward
    a_prev = trace.x[0]
    for k, lt in enumerate(layers, 1):
        s, p = str(k), str(k - 1)
        z, a = lt.z[0], lt.a[0]
        ftex, _ = _activation_tex(lt.activation)
        j = wj if k == layer_no else 0
        n_terms = len(a_prev) if len(a_prev) <= 3 else 2
        terms = [rf"{par(lt.W[i, j])} \cdot {par(a_prev[i])}" for i in range(n_terms)]
        if len(a_prev) > n_terms:
            terms.append(r"\cdots")
        # the layer's input: the data row for the first layer (the others' are the previous section's a)
        latex = [rf"\mathbf{{a}}^{{(0)}} = \mathbf{{x}} = {vec(a_prev)}"] if k == 1 else []
        latex += [
            rf"\mathbf{{z}}^{{({s})}} = W^{{({s})\top}} \mathbf{{a}}^{{({p})}} + \mathbf{{b}}^{{({s})}}",
            rf"\begin{{aligned}} z^{{({s})}}_{{{j}}} &= \sum_i W^{{({s})}}_{{i{j}}}\, a^{{({p})}}_i"
            rf" + b^{{({s})}}_{{{j}}} \\ &= " + " + ".join(terms) + rf" + {par(lt.b[j])} = {num(z[j])} \end{{aligned}}",
            rf"\mathbf{{z}}^{{({s})}} = {vec(z)}",
            rf"\mathbf{{a}}^{{({s})}} = f(\mathbf{{z}}^{{({s})}}), \quad f(z) = {ftex}",
            rf"\mathbf{{a}}^{{({s})}} = {vec(a)}",
        ]
        title = f"Layer {k}{' (output)' if k == n_layers else ''}: forward, {lt.activation}"
        sections.append(_section(f"forward-{k}", title, latex, "layer_forward"))
        values["layers"].append({"activation": lt.activation, "z": _floats(z), "a": _floats(a),
                                 "delta": _floats(lt.delta[0])})
        a_prev = a

    # ---- loss and output delta
    out = layers[-1]
    z_out, a_out, y_row = out.z[0], out.a[0], np.asarray(trace.y[0], dtype=float)
    sections.append(_section("loss", f"Loss ({trace.loss_name})", _loss_lines(trace, z_out, a_out, y_row),
                             "loss_value"))
    sections.append(_section(f"delta-{n_layers}", "Output delta", _output_delta_lines(trace, z_out, a_out, y_row,
                                                                                      n_layers), "output_delta"))
    # ---- hidden deltas, backwards
    for k in range(n_layers - 1, 0, -1):
        lt, nxt = layers[k - 1], layers[k]
        s, sn = str(k), str(k + 1)
        back = nxt.delta[0] @ nxt.W.T
        D = rf"\boldsymbol{{\delta}}^{{({s})}}"
        latex = [rf"{D} = \left(W^{{({sn})}} \boldsymbol{{\delta}}^{{({sn})}}\right) \odot f'(\mathbf{{z}}^{{({s})}})",
                 rf"W^{{({sn})}} \boldsymbol{{\delta}}^{{({sn})}} = {vec(back)}"]
        fp = _derivative(lt.activation, lt.z[0], lt.a[0])
        if fp is None:     # softmax inside the network: its Jacobian, not element-wise
            latex.append(rf"{D} = \mathbf{{a}} \odot (\mathbf{{g}} - \mathbf{{g}} \cdot \mathbf{{a}}), \quad"
                         rf" \mathbf{{g}} = W^{{({sn})}} \boldsymbol{{\delta}}^{{({sn})}}")
        else:
            _, dtex = _activation_tex(lt.activation)
            latex.append(rf"f'(z) = {dtex}: \quad f'(\mathbf{{z}}^{{({s})}}) = {vec(fp)}")
            values["layers"][k - 1]["f_prime"] = _floats(fp)
        latex.append(rf"{D} = {vec(lt.delta[0])}")
        values["layers"][k - 1]["back"] = _floats(back)
        sections.append(_section(f"delta-{k}", f"Layer {k}: delta (backpropagated)", latex, "hidden_delta"))

    # ---- the chosen weight's gradient
    lt = layers[layer_no - 1]
    s, p = str(layer_no), str(layer_no - 1)
    a_i, d_j = float(lt.a_prev[0, wi]), float(lt.delta[0, wj])
    g, w = float(lt.grad_W[wi, wj]), float(lt.W[wi, wj])
    wtex = rf"W^{{({s})}}_{{{wi},{wj}}}"
    latex = [rf"\frac{{\partial L}}{{\partial {wtex}}} = a^{{({p})}}_{{{wi}}}\, \delta^{{({s})}}_{{{wj}}}"
             + (r" + \lambda_1 \operatorname{sign}(w)" if trace.l1 else "")
             + rf" = {par(a_i)} \cdot {par(d_j)}"
             + (rf" + {num(trace.l1)} \cdot {par(float(np.sign(w)))}" if trace.l1 else "") + rf" = {num(g)}",
             rf"\frac{{\partial L}}{{\partial b^{{({s})}}_{{{wj}}}}} = \delta^{{({s})}}_{{{wj}}}"
             rf" = {num(lt.grad_b[wj])}"]
    sections.append(_section("gradient", f"Gradient of the weight W{layer_no}[{wi},{wj}]", latex, "layer_gradients"))

    # ---- the optimizer's update of it, from its real state
    def at(state):     # the chosen weight's entry of each optimizer state (a scalar state is its own)
        return {name: float(v if np.ndim(v) == 0 else np.asarray(v)[wi, wj]) for name, v in state.items()}
    before, after = at(lt.state_W["before"]), at(lt.state_W["after"])
    new_w = w + float(lt.update_W[wi, wj])
    fn = UPDATE_TEX.get(trace.optimizer)
    if fn is None:
        latex, extra = [rf"w \leftarrow {num(w)} + {par(new_w - w)} = {num(new_w)}"], {}
    else:
        latex, extra = fn(w, g, before, after, trace.t, trace.hyper, new_w)
    hp = r",\ ".join(rf"{HYPER_TEX.get(k, _name(k))} = {num(v)}" for k, v in trace.hyper.items()
                     if not isinstance(v, (bool, str)))
    latex[:0] = [rf"t = {trace.t},\quad g = \frac{{\partial L}}{{\partial w}} = {num(g)}"] + ([hp] if hp else [])
    from mlp.reference import UPDATES
    code_name = UPDATES[trace.optimizer].__name__ if trace.optimizer in UPDATES else "train_step"
    opt_title = OPTIMIZER_TITLES.get(trace.optimizer, trace.optimizer)
    title = f"{opt_title} update of W{layer_no}[{wi},{wj}] (step {trace.t})"
    sections.append(_section("update", title, latex, code_name))
    values.update(weight_before=w, grad=g, update=float(lt.update_W[wi, wj]), weight_after=new_w,
                  state_before=before, state_after=after, **{f"opt_{k}": float(v) for k, v in extra.items()})
    label = f"W{layer_no}[{wi},{wj}]"
    return {"row": int(row), "n_rows": int(n_rows),
            "weight": {"layer": layer_no, "i": wi, "j": wj, "label": label},
            "sections": sections, "values": values, "notes": notes}
