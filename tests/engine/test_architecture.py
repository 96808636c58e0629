"""The architecture parser (list and text forms), its error messages, and format/parse round trips.

Expected layer specs are written out by hand (or built by an independent model of the grammar in the
Hypothesis tests), never copied from the parser's own output.
"""
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlp
from mlp import MLP, format_architecture, parse_architecture
from mlp.activations import ACTIVATIONS

BUILTIN_ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu", "softplus",
                       "swish"]


def inp(n):
    return {"type": "input", "size": n}


def dense(n, act="linear"):
    return {"type": "dense", "units": n, "activation": act}


def drop(p):
    return {"type": "dropout", "rate": p}


# ---------------------------------------------------------------------------- accepted forms
def test_all_required_activations_are_builtin():
    assert set(BUILTIN_ACTIVATIONS) <= set(ACTIVATIONS)


def test_seed_xor_list():
    assert parse_architecture([2, 4, "relu", 1, "sigmoid"]) == [inp(2), dense(4, "relu"), dense(1, "sigmoid")]


def test_size_without_activation_is_linear():
    assert parse_architecture([3, 5, 2]) == [inp(3), dense(5), dense(2)]
    assert parse_architecture([3, 5, "tanh", 2]) == [inp(3), dense(5, "tanh"), dense(2)]


@pytest.mark.parametrize("item", ["dropout(0.2)", "Dropout( 0.2 )", ("dropout", 0.2), ["dropout", 0.2],
                                  "dropout(.2)", "dropout(2e-1)"])
def test_dropout_forms(item):
    assert parse_architecture([2, 8, "relu", item, 1, "sigmoid"]) == \
        [inp(2), dense(8, "relu"), drop(0.2), dense(1, "sigmoid")]


def test_dropout_after_input_and_without_activation():
    assert parse_architecture([4, "dropout(0.1)", 8, "dropout(0.5)", 3, "softmax"]) == \
        [inp(4), drop(0.1), dense(8), drop(0.5), dense(3, "softmax")]


def test_dropout_zero_rate_is_allowed():
    assert parse_architecture([2, 3, "relu", ("dropout", 0), 1])[2] == drop(0.0)


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_every_builtin_activation_name(name):
    assert parse_architecture([3, 4, name, 2, name]) == [inp(3), dense(4, name), dense(2, name)]


def test_names_are_case_and_space_insensitive():
    assert parse_architecture([2, 4, " ReLU ", 1, "SIGMOID"]) == [inp(2), dense(4, "relu"), dense(1, "sigmoid")]


def test_numpy_integer_sizes():
    assert parse_architecture([np.int64(2), np.int32(4), "relu", np.uint8(1)]) == [inp(2), dense(4, "relu"), dense(1)]


def test_tuple_architecture():
    assert parse_architecture((2, 4, "relu", 1)) == [inp(2), dense(4, "relu"), dense(1)]


@pytest.mark.parametrize("text", [
    "[2, 8, 'relu', 'dropout(0.2)', 1, 'sigmoid']",
    '[2, 8, "relu", "dropout(0.2)", 1, "sigmoid"]',
    "[2, 8, relu, dropout(0.2), 1, sigmoid]",
    "2, 8, relu, dropout(0.2), 1, sigmoid",
    "  [ 2 ,8,'relu' , 'dropout( 0.2 )',1,  'sigmoid' ]  ",
    "(2, 8, 'relu', 'dropout(0.2)', 1, 'sigmoid')",
])
def test_text_forms_parse_like_the_list(text):
    assert parse_architecture(text) == [inp(2), dense(8, "relu"), drop(0.2), dense(1, "sigmoid")]


def test_text_power_sizes():
    assert parse_architecture("[2, 2**4, 'relu', 1]") == [inp(2), dense(16, "relu"), dense(1)]


def test_sequential_accepts_text():
    a = MLP(seed=0).sequential("[2, 8, 'relu', 'dropout(0.25)', 3, 'softmax']")
    b = MLP(seed=0).sequential([2, 8, "relu", "dropout(0.25)", 3, "softmax"])
    assert a.specs == b.specs
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_format_architecture_text():
    specs = [inp(2), dense(8, "relu"), drop(0.2), dense(1, "sigmoid")]
    assert format_architecture(specs) == "[2, 8, 'relu', 'dropout(0.2)', 1, 'sigmoid']"


def test_model_architecture_property_round_trips():
    arch = [5, "dropout(0.1)", 7, "gelu", ("dropout", 0.3), 3, "softmax"]
    m = MLP(seed=0).sequential(arch)
    assert parse_architecture(m.architecture) == parse_architecture(arch)


def test_dropout_rate_survives_format_exactly():
    rate = 0.123456789
    specs = parse_architecture([2, 4, "relu", ("dropout", rate), 1])
    again = parse_architecture(format_architecture(specs))
    assert again[2]["rate"] == rate


# ---------------------------------------------------------------------------- errors
def _err(arch, exc=ValueError):
    with pytest.raises(exc) as info:
        parse_architecture(arch)
    return str(info.value)


@pytest.mark.parametrize("arch", [[], "", "[]", "  ", "()"])
def test_empty(arch):
    assert "empty" in _err(arch).lower()


def test_input_size_only():
    msg = _err([4])
    assert "at least one layer" in msg


@pytest.mark.parametrize("arch", [["relu", 4, 1], "[relu, 4, 1]"])
def test_activation_first(arch):
    msg = _err(arch)
    assert "input size" in msg and "relu" in msg


def test_dropout_first():
    assert "input size" in _err(["dropout(0.2)", 4, 1])


def test_activation_right_after_input():
    msg = _err([2, "relu", 4, 1])
    assert "input" in msg and "item 2" in msg


def test_two_activations_in_a_row():
    msg = _err([2, 4, "relu", "tanh", 1])
    assert "two activations" in msg and "item 4" in msg


def test_activation_after_dropout():
    assert "dropout" in _err([2, 4, "dropout(0.2)", "relu", 1])


def test_two_dropouts_in_a_row():
    assert "two dropouts" in _err([2, 4, "relu", "dropout(0.2)", "dropout(0.3)", 1])


def test_dropout_after_output():
    assert "after the output" in _err([2, 4, "relu", 1, "sigmoid", "dropout(0.2)"])


@pytest.mark.parametrize("arch", [[2, "8", "relu", 1], "[2, '8', 'relu', 1]", ["2", 8, 1]])
def test_a_size_written_as_text_says_so(arch):
    with pytest.raises(TypeError) as info:
        parse_architecture(arch)
    msg = str(info.value)
    assert "quoted text" in msg and "plain numbers" in msg and "unknown activation" not in msg


@pytest.mark.parametrize("size", [0, -3, 2.5, 4.0, True, False, float("nan"), float("inf")])
def test_bad_sizes(size):
    msg = _err([2, size, "relu", 1])
    assert "positive whole number" in msg and "item 2" in msg


@pytest.mark.parametrize("text", ["[2, 0, 1]", "[2, -4, 1]", "[2, 4.5, 1]", "[0, 4, 1]"])
def test_bad_sizes_text(text):
    assert "positive whole number" in _err(text)


@pytest.mark.parametrize("wrong, right", [("rleu", "relu"), ("sigmiod", "sigmoid"), ("tahn", "tanh"),
                                          ("softmx", "softmax"), ("leaky_rely", "leaky_relu"),
                                          ("dropuot(0.2)", "dropout")])
def test_unknown_name_suggests_closest(wrong, right):
    msg = _err([2, 4, wrong, 1])
    assert f"Did you mean '{right}'" in msg
    assert repr(wrong) in msg
    assert "relu" in msg and "sigmoid" in msg  # lists what is allowed


def test_unknown_name_in_text_suggests_closest():
    assert "Did you mean 'relu'" in _err("[2, 4, 'rleu', 1]")


@pytest.mark.parametrize("item", ["dropout(1.0)", "dropout(1.5)", "dropout(-0.1)", "dropout(abc)", "dropout",
                                  ("dropout", 1), ("dropout", "0.2"), ("dropout", True), ("drop", 0.2),
                                  ("dropout", 0.2, 0.3)])
def test_bad_dropout(item):
    msg = _err([2, 4, "relu", item, 1])
    assert "dropout" in msg.lower()


@pytest.mark.parametrize("arch", [None, 5, 2.0, {"a": 1}, b"[2, 1]"])
def test_wrong_architecture_type(arch):
    assert "architecture" in _err(arch, TypeError).lower()


@pytest.mark.parametrize("item", [None, {"units": 3}, object(), b"relu"])
def test_wrong_item_type(item):
    msg = _err([2, item, 1], TypeError)
    assert "item 2" in msg


@pytest.mark.parametrize("text", ["[2, 4, 'relu', 1", "2, 4, 1]", "[2,, 4]", "[2, 4,]", "[2 4]", "[2, 4; 1]",
                                  "[2, 4 * 2, 1]", "[2, 4, 'relu', 1, 'sigmoid'", "[2, 10**100, 1]"])
def test_malformed_text(text):
    _err(text)


def test_text_is_never_evaluated(tmp_path):
    canary = tmp_path / "pwned"
    payloads = [
        f"[2, __import__('pathlib').Path({str(canary)!r}).touch(), 1]",
        f"__import__('pathlib').Path({str(canary)!r}).touch()",
        f"[2, (lambda: open({str(canary)!r}, 'w'))(), 1]",
        "[2, 4, 'relu', 1] + [exec('raise SystemExit')]",
    ]
    for text in payloads:
        with pytest.raises((ValueError, TypeError)):
            parse_architecture(text)
    assert not canary.exists()


# ---------------------------------------------------------------------------- register_activation
@pytest.fixture
def cube_activation():
    name = mlp.register_activation("cube_test", lambda z: z ** 3, lambda z, a: 3 * z ** 2)
    yield name
    from mlp import activations
    activations.ACTIVATIONS.pop(name, None)
    activations.DERIVATIVES.pop(name, None)
    activations.NEEDS_Z.discard(name)


def test_registered_activation_usable(cube_activation):
    assert parse_architecture([2, 3, "cube_test", 1]) == [inp(2), dense(3, "cube_test"), dense(1)]
    m = MLP(seed=0).sequential([2, 3, "Cube_Test", 1]).set_loss("mse")
    W1, b1, W2, b2 = m.get_weights()
    x = np.array([[0.3, -0.7], [1.1, 0.2]])
    np.testing.assert_allclose(m.predict(x), ((x @ W1 + b1) ** 3) @ W2 + b2, rtol=1e-12)


def test_register_activation_refuses_builtins_and_bad_input():
    with pytest.raises(ValueError, match="built-in"):
        mlp.register_activation("relu", lambda z: z, lambda z, a: 1.0)
    with pytest.raises(ValueError):
        mlp.register_activation("not a name", lambda z: z, lambda z, a: 1.0)
    with pytest.raises(TypeError):
        mlp.register_activation("okname_test", "z", lambda z, a: 1.0)
    assert "okname_test" not in ACTIVATIONS


@pytest.mark.parametrize("forward, derivative, words", [
    (lambda z: z.sum(), lambda z, a: 1.0, ["forward(z)", "shape (3, 4)", "shape ()"]),
    (lambda z: z[:, :1], lambda z, a: 1.0, ["forward(z)", "shape (3, 1)"]),
    (lambda z: z.astype(str), lambda z, a: 1.0, ["forward(z)", "real numbers"]),
    (lambda z: z, lambda z, a: "one", ["derivative(z, a)", "real numbers"]),
    (lambda z: z, lambda z, a: np.ones(5), ["derivative(z, a)", "broadcasts", "shape (5,)"]),
    (lambda z: z, lambda z, a: z.missing, ["derivative(z, a) fails", "AttributeError"]),
])
def test_register_activation_checks_the_functions_at_once(forward, derivative, words):
    """A custom activation that cannot work is refused when registered, saying which function and why,
    instead of failing deep inside NumPy (or silently broadcasting) in the middle of training."""
    with pytest.raises(ValueError) as info:
        mlp.register_activation("broken_test", forward, derivative)
    for word in words:
        assert word in str(info.value), str(info.value)
    assert "broken_test" not in ACTIVATIONS


def test_registered_activation_may_return_lists_and_constant_derivatives():
    from mlp import activations
    name = mlp.register_activation("ident_test", lambda z: z.tolist(), lambda z, a: 1)
    try:
        m = MLP(seed=0, dtype="float32").sequential([2, 3, name, 1]).set_loss("mse")
        x = np.array([[0.5, -1.0]], dtype=np.float32)
        W1, b1, W2, b2 = m.get_weights()
        np.testing.assert_allclose(m.predict(x), (x @ W1 + b1) @ W2 + b2, rtol=1e-6)
        assert m.predict(x).dtype == np.float32 and m.gradients(x, [[1.0]])[0].dtype == np.float32
    finally:
        activations.ACTIVATIONS.pop(name, None)
        activations.DERIVATIVES.pop(name, None)
        activations.NEEDS_Z.discard(name)


# ---------------------------------------------------------------------------- property tests
ALIAS_MAP = {"identity": "linear", "silu": "swish", "logistic": "sigmoid"}
NAMES = BUILTIN_ACTIVATIONS + list(ALIAS_MAP)
rates = st.floats(min_value=0.0, max_value=1.0, exclude_max=True, allow_nan=False)
sizes = st.integers(min_value=1, max_value=10 ** 6)


@st.composite
def valid_architectures(draw):
    """(list form, expected specs) built from an independent model of the grammar."""
    n_in = draw(sizes)
    items, expected = [n_in], [inp(n_in)]
    if draw(st.booleans()):
        r = draw(rates)
        items.append(draw(st.sampled_from([("dropout", r), f"dropout({r!r})"])))
        expected.append(drop(r))
    n_layers = draw(st.integers(1, 5))
    for i in range(n_layers):
        units = draw(sizes)
        items.append(units)
        name = draw(st.none() | st.sampled_from(NAMES))
        canonical = "linear"
        if name is not None:
            canonical = ALIAS_MAP.get(name, name)
            items.append(draw(st.sampled_from([name, name.upper(), f" {name} "])))
        expected.append(dense(units, canonical))
        if i < n_layers - 1 and draw(st.booleans()):
            r = draw(rates)
            items.append(draw(st.sampled_from([("dropout", r), ["dropout", r], f"dropout({r!r})",
                                               f"Dropout( {r!r} )"])))
            expected.append(drop(r))
    return items, expected


def _to_text(items, quote, brackets, sep):
    parts = []
    for it in items:
        if isinstance(it, (tuple, list)):
            it = f"dropout({it[1]!r})"
        if isinstance(it, str):
            parts.append(f"{quote}{it.strip()}{quote}")
        else:
            parts.append(str(int(it)))
    body = sep.join(parts)
    return f"[{body}]" if brackets else body


@settings(max_examples=150, deadline=None, database=None)
@given(valid_architectures())
def test_property_list_parses_to_expected_specs(arch):
    items, expected = arch
    assert parse_architecture(items) == expected


@settings(max_examples=150, deadline=None, database=None)
@given(valid_architectures())
def test_property_format_then_parse_round_trips(arch):
    items, expected = arch
    specs = parse_architecture(items)
    text = format_architecture(specs)
    assert parse_architecture(text) == specs == expected


@settings(max_examples=150, deadline=None, database=None)
@given(valid_architectures(), st.sampled_from(["'", '"', ""]), st.booleans(), st.sampled_from([",", ", ", " , ", ",\n"]))
def test_property_text_and_list_parse_identically(arch, quote, brackets, sep):
    items, expected = arch
    assert parse_architecture(_to_text(items, quote, brackets, sep)) == parse_architecture(items) == expected


JUNK_ALPHABET = "[](),'\" 0123456789.-+eE*_/\\:;=!@#$%^&{}<>?|`~\t\nabcdefghijklmnopqrstuvwxyzRELU"
junk_tokens = st.sampled_from(["relu", "sigmoid", "dropout", "dropout(", ")", "(", "[", "]", ",", "'", '"', "**",
                               "0", "1", "-1", "2.5", "1e3", "1e999", "nan", "inf", "None", "True", "__import__",
                               " ", "\u0663", "\u00b2", "lambda", "#", "\\"])


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.text(alphabet=JUNK_ALPHABET, max_size=60),
                 st.lists(junk_tokens, max_size=15).map("".join)))
def test_property_junk_text_parses_or_raises_value_or_type_error(text):
    try:
        specs = parse_architecture(text)
    except (ValueError, TypeError) as e:
        assert str(e)  # a message is always given
        return
    _check_specs(specs)


junk_items = st.one_of(st.integers(-5, 50), st.floats(allow_nan=True), st.booleans(), st.none(),
                       st.text(max_size=12), st.sampled_from(NAMES + ["dropout(0.5)", "dropout"]),
                       st.tuples(st.sampled_from(["dropout", "x"]), st.one_of(st.floats(), st.text(max_size=3))),
                       st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                max_size=2))


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(junk_items, max_size=10))
def test_property_junk_lists_parse_or_raise_value_or_type_error(items):
    try:
        specs = parse_architecture(items)
    except (ValueError, TypeError) as e:
        assert str(e)
        return
    _check_specs(specs)


def _check_specs(specs):
    """Whatever parses must be a well-formed spec list that round-trips."""
    assert specs[0]["type"] == "input" and specs[0]["size"] >= 1
    assert any(s["type"] == "dense" for s in specs)
    assert specs[-1]["type"] == "dense"
    for a, b in zip(specs, specs[1:]):
        assert not (a["type"] == "dropout" and b["type"] == "dropout")
    for s in specs[1:]:
        if s["type"] == "dense":
            assert isinstance(s["units"], int) and s["units"] >= 1 and s["activation"] in ACTIVATIONS
        else:
            assert s["type"] == "dropout" and 0.0 <= s["rate"] < 1.0 and not math.isnan(s["rate"])
    assert parse_architecture(format_architecture(specs)) == specs



# ---------------------------------------------------------------------- default_architecture

@pytest.mark.parametrize("n_in, n_out, task, expected", [
    (2, 1, "binary", [2, 8, "relu", 8, "relu", 1, "sigmoid"]),
    (30, 1, "binary", [30, 8, "relu", 8, "relu", 1, "sigmoid"]),
    (4, 3, "multiclass", [4, 16, "relu", 16, "relu", 3, "softmax"]),
    (4, 8, "multiclass", [4, 16, "relu", 16, "relu", 8, "softmax"]),
    (64, 10, "multiclass", [64, 32, "relu", 32, "relu", 10, "softmax"]),   # no hidden layer narrower than the classes
    (5, 17, "multiclass", [5, 64, "relu", 64, "relu", 17, "softmax"]),
    (5, 100, "multiclass", [5, 128, "relu", 128, "relu", 100, "softmax"]),
    (1, 1, "regression", [1, 16, "tanh", 16, "tanh", 1, "linear"]),
])
def test_default_architecture_rule(n_in, n_out, task, expected):
    arch = mlp.default_architecture(n_in, n_out, task)
    assert arch == expected
    model = MLP().sequential(arch)          # a valid network of those sizes
    assert (model.n_inputs, model.n_outputs) == (n_in, n_out)
    assert mlp.default_architecture(n_in, n_out, task, width=5)[1:5] == [5, arch[2], 5, arch[2]]


@pytest.mark.parametrize("args, message", [
    ((0, 1, "binary"), "n_inputs must be a whole number >= 1, got 0"),
    ((2, 1.5, "binary"), "n_outputs must be a whole number >= 1, got 1.5"),
    ((2, True, "binary"), "n_outputs must be a whole number >= 1, got True"),
    ((2, 1, "ranking"), "task must be one of binary, multiclass, regression, got 'ranking'"),
    ((2, 1, "binary", 0), "width must be a whole number >= 1, got 0"),
])
def test_default_architecture_refuses(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        mlp.default_architecture(*args)


def test_the_apps_default_is_the_engines():
    from webapp.core import session
    for name in session.datasets():
        p = session.prepare_builtin(name)
        width = 32 if name == "spiral" else None
        expected = mlp.default_architecture(p.n_inputs, p.n_outputs, p.task, width=width)
        assert session.default_architecture(p) == format_architecture(parse_architecture(expected))
    assert session.default_architecture(session.prepare_builtin("circles")) == "[2, 8, 'relu', 8, 'relu', 1, 'sigmoid']"
