"""Export a trained network to ONNX and PyTorch, and read one back from PyTorch.

- :func:`to_onnx` (``model.to_onnx()``): the bytes of an ONNX model (opset 19) that takes the RAW feature
  columns and gives ``model.predict``'s outputs. The saved preprocessing runs inside the graph: numeric
  columns are standardised with the training statistics, categorical text columns are one-hot encoded
  (``Equal`` against the training categories: a category never seen encodes as all zeros, as in the engine),
  and feature transforms (x1², x1·x2, sin(x1), ...) are computed from the raw columns. Inputs: ``"X"``
  (float32, the numeric columns in the preprocessor's feature order) and, per categorical column, a string
  input named after the column, shape (n, 1). :func:`onnx_inputs` builds that dict from a table. Outputs:
  ``"output"`` (``predict``'s, float32 (n, n_outputs)) and, with a preprocessor, ``"prediction"`` (n,): what
  ``predict_table`` gives, class names (strings) or regression values in the target's units (a poisson
  model's predicted mean counts: ``Exp`` of the output, in the graph).
- :func:`to_torch` (``model.to_torch()``): a ``torch.nn.Sequential`` of Linear and activation modules (and
  Dropout), in eval mode, with the model's weights and dtype; it takes the model's inputs and gives its outputs,
  as ``predict`` (no preprocessing: a poisson model's output is the log of the rate).
- :func:`from_torch` (``MLP.from_torch(seq)``): an :class:`~mlp.MLP` with the Sequential's weights.

The ``onnx`` and ``torch`` packages are imported inside these functions only.
"""
import json

import numpy as np

from .activations import ELU_ALPHA, LEAKY_SLOPE, SQRT_2_OVER_PI

ONNX_OPSET = 19          # Equal on strings (the one-hot of categorical columns) needs 19
ONNX_IR_VERSION = 9
EXPORTABLE = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "softplus", "swish")


def _check_exportable(model, what):
    for i, layer in enumerate(model.layers, 1):
        if layer.activation not in EXPORTABLE:
            raise ValueError(f"{what} cannot export layer {i}'s activation {layer.activation!r}: it is a custom "
                             f"activation (register_activation), and {what} knows only {', '.join(EXPORTABLE)}.")


def _import(name, purpose):
    try:
        return __import__(name)
    except ImportError:
        raise ImportError(f"{purpose} needs the '{name}' package: pip install {name}") from None


# ---------------------------------------------------------------------- ONNX
class _Graph:
    """Nodes and constants of the graph being built, with fresh names."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.inits, self._n = onnx, [], [], 0

    def name(self, hint):
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value, hint="c", dtype=np.float32):
        name = self.name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _onnx_activation(g, name, z):
    """The activation ``name`` of the engine applied to ``z`` (float32, (n, units)) as ONNX nodes."""
    if name == "linear":
        return z
    if name == "relu":
        return g.op("Relu", [z])
    if name == "leaky_relu":
        return g.op("LeakyRelu", [z], alpha=float(LEAKY_SLOPE))
    if name == "tanh":
        return g.op("Tanh", [z])
    if name == "sigmoid":
        return g.op("Sigmoid", [z])
    if name == "softmax":
        return g.op("Softmax", [z], axis=-1)
    if name == "elu":
        return g.op("Elu", [z], alpha=float(ELU_ALPHA))
    if name == "softplus":   # max(z, 0) + log(1 + exp(-|z|)): no overflow, as the engine's logaddexp
        tail = g.op("Log", [g.op("Add", [g.const(1.0), g.op("Exp", [g.op("Neg", [g.op("Abs", [z])])])])])
        return g.op("Add", [g.op("Relu", [z]), tail])
    if name == "swish":
        return g.op("Mul", [z, g.op("Sigmoid", [z])])
    if name == "gelu":       # tanh form: 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))
        z3 = g.op("Mul", [g.op("Mul", [z, z]), z])
        inner = g.op("Mul", [g.const(SQRT_2_OVER_PI), g.op("Add", [z, g.op("Mul", [g.const(0.044715), z3])])])
        return g.op("Mul", [g.op("Mul", [g.const(0.5), z]), g.op("Add", [g.const(1.0), g.op("Tanh", [inner])])])
    raise ValueError(f"to_onnx cannot export the activation {name!r}.")   # _check_exportable said so first


def _numeric_input_name(encoders):
    """The graph input holding the numeric columns: "X", unless a categorical column is named so."""
    return "X" if all(e["column"] != "X" for e in encoders if e["kind"] == "categorical") else "X_numeric"


def _onnx_preprocessing(g, pre, T):
    """Graph inputs and the node that gives the model's input matrix from the raw columns."""
    from .data.preprocessing import FEATURE_TRANSFORMS
    cfg = pre.get_config()
    encoders = cfg["encoders"]
    numeric = [e for e in encoders if e["kind"] == "numeric"]
    x_name = _numeric_input_name(encoders)
    helper = g.onnx.helper
    inputs, pieces = [], []
    if numeric:
        inputs.append(helper.make_tensor_value_info(x_name, T.FLOAT, ["N", len(numeric)]))
        std = g.op("Div", [g.op("Sub", [x_name, g.const([e["mean"] for e in numeric], "mean")]),
                           g.const([e["std"] for e in numeric], "std")], "standardised")
    j, run = 0, []       # consecutive numeric columns are taken from the standardised block together

    def flush():
        if run:
            pieces.append(g.op("Gather", [std, g.const(run, "columns", np.int64)], axis=1))
            run.clear()
    for e in encoders:
        if e["kind"] == "numeric":
            run.append(j)
            j += 1
            continue
        flush()
        inputs.append(helper.make_tensor_value_info(e["column"], T.STRING, ["N", 1]))
        cats = g.const(np.array([e["categories"]], dtype=object), "categories", dtype=object)
        pieces.append(g.op("Cast", [g.op("Equal", [e["column"], cats])], "onehot", to=T.FLOAT))
    flush()
    if cfg["transforms"]:
        x1 = g.op("Gather", [x_name, g.const([0], "x1", np.int64)], axis=1)
        x2 = g.op("Gather", [x_name, g.const([1], "x2", np.int64)], axis=1)
        ops = {"x1^2": ("Mul", [x1, x1]), "x2^2": ("Mul", [x2, x2]), "x1*x2": ("Mul", [x1, x2]),
               "sin(x1)": ("Sin", [x1]), "sin(x2)": ("Sin", [x2])}
        for key, scale in zip(cfg["transforms"], cfg["transform_scales"]):
            if key not in ops:
                raise ValueError(f"to_onnx does not know the feature transform {key!r} "
                                 f"(it knows {', '.join(ops)}; FEATURE_TRANSFORMS has {', '.join(FEATURE_TRANSFORMS)}).")
            raw = g.op(*ops[key], hint="transform")
            pieces.append(g.op("Div", [g.op("Sub", [raw, g.const([scale["mean"]])]), g.const([scale["std"]])]))
    x = pieces[0] if len(pieces) == 1 else g.op("Concat", pieces, "inputs", axis=1)
    return inputs, x, x_name


def _onnx_prediction(g, pre, T):
    """The graph output ``"prediction"``, shape (n,): class names (strings) or regression values in target units."""
    helper, task = g.onnx.helper, pre.task
    axis1 = None if task == "multiclass" else g.const([1], "axis", np.int64)
    if task == "regression" and pre.target_mode == "count":   # the output is the log of the rate
        g.nodes.append(helper.make_node("Squeeze", [g.op("Exp", ["output"], "rate"), axis1], ["prediction"]))
        return helper.make_tensor_value_info("prediction", T.FLOAT, ["N"])
    if task == "regression":
        scale = pre.get_config()["target_scale"]
        value = g.op("Add", [g.op("Mul", ["output", g.const([scale["std"]])]), g.const([scale["mean"]])])
        g.nodes.append(helper.make_node("Squeeze", [value, axis1], ["prediction"]))
        return helper.make_tensor_value_info("prediction", T.FLOAT, ["N"])
    if task == "multiclass":
        index = g.op("ArgMax", ["output"], axis=1, keepdims=0)
    else:   # binary: p >= 0.5 is class_names[1], as inverse_y
        index = g.op("Squeeze", [g.op("Cast", [g.op("GreaterOrEqual", ["output", g.const([0.5])])], to=T.INT64),
                                 axis1])
    names = g.const(np.array(pre.class_names, dtype=object), "class_names", dtype=object)
    g.nodes.append(helper.make_node("Gather", [names, index], ["prediction"], axis=0))
    return helper.make_tensor_value_info("prediction", T.STRING, ["N"])


def to_onnx(model, name="mlp"):
    """The model as ONNX bytes: raw feature columns in (float32; strings for categorical columns), the
    outputs of ``model.predict`` out (``"output"``, float32, shape (n, n_outputs)).

    Check it with ``onnxruntime.InferenceSession(model.to_onnx()).run(None, onnx_inputs(model, table))``.
    """
    onnx = _import("onnx", "to_onnx")
    from onnx import TensorProto as T
    _check_exportable(model, "to_onnx")
    g = _Graph(onnx)
    pre = model.preprocessor
    if pre is not None:
        inputs, x, x_name = _onnx_preprocessing(g, pre, T)
        if pre.n_inputs != model.n_inputs:
            raise ValueError(f"the model's preprocessor gives {pre.n_inputs} inputs but the network takes "
                             f"{model.n_inputs}; they must match to export.")
        if pre.n_outputs != model.n_outputs:
            raise ValueError(f"the model's preprocessor ({pre.task}) reads {pre.n_outputs} output(s) but the "
                             f"network has {model.n_outputs}; they must match to export.")
    else:
        x = x_name = "X"
        inputs = [onnx.helper.make_tensor_value_info("X", T.FLOAT, ["N", model.n_inputs])]
    a = x
    for i, layer in enumerate(model.layers, 1):
        z = g.op("Gemm", [a, g.const(layer.W, f"W{i}"), g.const(layer.b, f"b{i}")], f"z{i}")
        a = _onnx_activation(g, layer.activation, z)
    g.nodes.append(onnx.helper.make_node("Identity", [a], ["output"]))
    outputs = [onnx.helper.make_tensor_value_info("output", T.FLOAT, ["N", model.n_outputs])]
    if pre is not None:    # "prediction": what predict_table gives (class names, or values in the target's units)
        outputs.append(_onnx_prediction(g, pre, T))
    graph = onnx.helper.make_graph(g.nodes, name, inputs, outputs, g.inits)
    proto = onnx.helper.make_model(graph, producer_name="mlp", opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
                                   doc_string=f"mlp network {model!r}")
    proto.ir_version = ONNX_IR_VERSION
    meta = {"mlp.architecture": json.dumps(model.architecture), "mlp.task": model.task,
            "mlp.numeric_input": x_name if any(i.name == x_name for i in inputs) else ""}
    if pre is not None:
        meta.update({"mlp.features": json.dumps(pre.features), "mlp.class_names": json.dumps(pre.class_names),
                     "mlp.target_scale": json.dumps(pre.get_config()["target_scale"])})
        if pre.target_mode != "standard":
            meta["mlp.target_mode"] = pre.target_mode
    onnx.helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def onnx_inputs(model, data):
    """The input dict of :func:`to_onnx`'s graph for ``data``: a ``mlp.data.Table``, a pandas DataFrame or CSV
    text/bytes/path holding the raw feature columns, or (all-numeric features) an array of them in order."""
    pre = model.preprocessor
    if pre is None or not isinstance(data, (str, bytes)) and not hasattr(data, "columns") \
            and not hasattr(data, "column"):
        if pre is not None and any(e["kind"] != "numeric" for e in pre.get_config()["encoders"]):
            raise ValueError("this model has categorical columns: pass a table (Table, DataFrame or CSV), not an array.")
        X = np.asarray(data, dtype=np.float32)
        width = model.n_inputs if pre is None else len(pre.features)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"expected an array of shape (n, {width}) of raw feature values, got {X.shape}.")
        return {"X": X}
    from . import data as mdata
    if isinstance(data, (str, bytes)):
        table = mdata.read_csv(data)
    elif isinstance(data, mdata.Table):
        table = data
    else:
        table = mdata.Table.from_dataframe(data)
    encoders = pre.get_config()["encoders"]
    missing = [c for c in pre.features if c not in table.columns]
    if missing:
        raise ValueError(f"the table is missing the feature column(s) {', '.join(map(repr, missing))}; "
                         f"the model needs {', '.join(map(repr, pre.features))}.")
    gaps = table.missing_counts()
    for c in pre.features:
        if gaps[c]:
            raise ValueError(f"feature column {c!r} has {gaps[c]} missing value(s); drop or fill those rows first.")
    numeric = [e["column"] for e in encoders if e["kind"] == "numeric"]
    x_name = _numeric_input_name(encoders)
    feed = {}
    if numeric:
        feed[x_name] = np.column_stack([table.numeric_column(c) for c in numeric]).astype(np.float32)
    for e in encoders:
        if e["kind"] == "categorical":
            feed[e["column"]] = np.array([[str(v)] for v in table.column(e["column"])], dtype=object)
    return feed


# ---------------------------------------------------------------------- PyTorch
def _torch_modules(nn):
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "swish": nn.SiLU}


def to_torch(model):
    """A ``torch.nn.Sequential`` (eval mode) computing ``model.predict`` on the model's inputs, same dtype."""
    torch = _import("torch", "to_torch")
    nn = torch.nn
    _check_exportable(model, "to_torch")
    dtype = torch.float64 if model.dtype == np.float64 else torch.float32
    simple = _torch_modules(nn)
    mods = [nn.Dropout(p=model.input_dropout)] if model.input_dropout else []
    for layer in model.layers:
        W, b = layer.W, layer.b
        lin = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        mods.append(lin)
        a = layer.activation
        if a in simple:
            mods.append(simple[a]())
        elif a == "leaky_relu":
            mods.append(nn.LeakyReLU(negative_slope=LEAKY_SLOPE))
        elif a == "softmax":
            mods.append(nn.Softmax(dim=-1))
        elif a == "gelu":
            mods.append(nn.GELU(approximate="tanh"))
        elif a == "elu":
            mods.append(nn.ELU(alpha=ELU_ALPHA))
        elif a == "softplus":
            mods.append(nn.Softplus(threshold=40.0))   # beyond 40, x + exp(-x) is x in float64 too
        if layer.dropout:
            mods.append(nn.Dropout(p=layer.dropout))
    return nn.Sequential(*mods).eval()


def _flatten(seq, nn):
    for m in seq:
        if isinstance(m, nn.Sequential):
            yield from _flatten(m, nn)
        else:
            yield m


def from_torch(seq, cls=None):
    """An :class:`~mlp.MLP` with the weights of ``seq``: a ``torch.nn.Sequential`` of ``Linear`` layers, each
    optionally followed by one of ReLU, LeakyReLU(0.01), Tanh, Sigmoid, Softmax(dim=-1), GELU('tanh'),
    ELU(1.0), Softplus(), SiLU or Identity, and ``Dropout`` anywhere between. The model has no loss yet."""
    torch = _import("torch", "from_torch")
    nn = torch.nn
    if cls is None:
        from .network import MLP as cls
    if not isinstance(seq, nn.Sequential):
        raise TypeError(f"from_torch reads a torch.nn.Sequential, got {type(seq).__name__}.")
    allowed = ("Linear, ReLU, LeakyReLU(negative_slope=0.01), Tanh, Sigmoid, Softmax(dim=-1), GELU(approximate='tanh'), "
               "ELU(alpha=1.0), Softplus(beta=1), SiLU, Identity, Dropout")
    simple = {v: k for k, v in _torch_modules(nn).items()}
    arch, weights, pending, last, dtype = [], [], [], None, None
    for i, m in enumerate(_flatten(seq, nn)):
        where = f"module {i} ({type(m).__name__})"
        act = None
        if isinstance(m, nn.Linear):
            W = m.weight.detach().cpu()
            if W.dtype not in (torch.float32, torch.float64):
                raise ValueError(f"{where} has dtype {W.dtype}; from_torch reads float32 or float64 weights.")
            if dtype is None:
                dtype = W.dtype
                arch.append(m.in_features)
                arch.extend(pending)
            elif W.dtype != dtype:
                raise ValueError(f"{where} has dtype {W.dtype} but the first Linear has {dtype}; use one dtype.")
            elif m.in_features != weights[-2].shape[1]:
                raise ValueError(f"{where} takes {m.in_features} inputs but the layer before it gives "
                                 f"{weights[-2].shape[1]}.")
            b = m.bias.detach().cpu().numpy() if m.bias is not None else np.zeros(m.out_features, W.numpy().dtype)
            weights += [W.numpy().T.copy(), np.array(b, copy=True)]
            arch.append(m.out_features)
            last = "linear"
            continue
        if isinstance(m, nn.Identity):
            continue
        if isinstance(m, nn.Dropout):
            if m.p > 0:
                (arch if dtype is not None else pending).append(f"dropout({m.p!r})")
                if dtype is not None:
                    last = "dropout"
            continue
        if type(m) in simple:
            act = simple[type(m)]
        elif isinstance(m, nn.LeakyReLU) and m.negative_slope == LEAKY_SLOPE:
            act = "leaky_relu"
        elif isinstance(m, nn.Softmax) and m.dim in (-1, 1):
            act = "softmax"
        elif isinstance(m, nn.GELU) and m.approximate == "tanh":
            act = "gelu"
        elif isinstance(m, nn.ELU) and m.alpha == ELU_ALPHA:
            act = "elu"
        elif isinstance(m, nn.Softplus) and m.beta == 1 and m.threshold >= 20:
            act = "softplus"
        else:
            detail = {nn.LeakyReLU: lambda: f" with negative_slope={m.negative_slope} (mlp's is {LEAKY_SLOPE})",
                      nn.GELU: lambda: f" with approximate={m.approximate!r} (mlp's GELU is the tanh form)",
                      nn.ELU: lambda: f" with alpha={m.alpha} (mlp's is {ELU_ALPHA})",
                      nn.Softmax: lambda: f" over dim={m.dim} (mlp's softmax is over the last dimension)",
                      nn.Softplus: lambda: f" with beta={m.beta}, threshold={m.threshold}"}.get(type(m), lambda: "")()
            raise ValueError(f"from_torch cannot read {where}{detail}: it reads {allowed}.")
        if last != "linear":
            raise ValueError(f"{where}: an activation must directly follow a Linear layer "
                             f"({'it comes first' if last is None else 'it follows ' + repr(last)}).")
        arch.append(act)
        last = act
    if dtype is None:
        raise ValueError("from_torch found no Linear layer in the Sequential.")
    if arch and isinstance(arch[-1], str) and arch[-1].startswith("dropout("):
        raise ValueError("from_torch: the Sequential ends with Dropout; mlp has no dropout after the output layer.")
    model = cls(dtype="float64" if dtype == torch.float64 else "float32").sequential(arch)
    model.set_weights(weights)
    return model
