"""webapp.core.links: settings and small trained models in a URL, and every way a link can be wrong."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pickle
import random
import tracemalloc
import zipfile
import zlib
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlp
from mlp.data import FEATURE_TRANSFORMS
from mlp.training import SCHEDULES
from tests._browser import run_in_pyodide
from webapp.core import links as L
from webapp.core import session as S

CONTRACT_KEYS = ["source", "dataset", "n_samples", "noise", "data_seed", "test_size", "n_classes", "transforms",
                 "arch", "loss", "optimizer", "learning_rate", "epochs", "batch_size", "lr_schedule", "lr_decay",
                 "weight_decay", "l1", "dropout", "validation_split", "early_stopping", "seed", "target",
                 "features", "task", "drop_missing"]
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _train(arch, dataset="circles", epochs=20, transforms=(), **cfg):
    s = {"dataset": dataset, "arch": arch, "epochs": epochs, "transforms": list(transforms), **cfg}
    args = L.session_args(s)
    prepared = S.prepare_builtin(**args["prepare"])
    model = S.build_model(args["cfg"], prepared)
    S.train(model, prepared, args["cfg"])
    return s, model, prepared


# ---------------------------------------------------------------- valid settings (hypothesis)

def _arch_text(draw, n_in, out_act, n_out):
    hidden = draw(st.lists(st.tuples(st.integers(1, 12), st.sampled_from(["relu", "tanh", "gelu", "sigmoid"]),
                                     st.sampled_from([None, 0.0, 0.25, 0.5])), max_size=3))
    items = [str(n_in)]
    for units, act, drop in hidden:
        items += [str(units), repr(act)] + ([repr(f"dropout({drop})")] if drop is not None else [])
    items += [str(n_out), repr(out_act)]
    sep = draw(st.sampled_from([", ", ",", " , "]))
    return "[" + sep.join(items) + "]"


def _float(name):
    s = L.SETTINGS[name]
    return st.floats(s.lo, s.hi, exclude_min=s.lo_open, exclude_max=s.hi_open, allow_nan=False)


def _int(name):
    return st.integers(L.SETTINGS[name].lo, L.SETTINGS[name].hi)


_NAME = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@st.composite
def valid_settings(draw):
    """A settings dict a link can carry: any subset of keys, values in range, consistent with each other."""
    source = draw(st.sampled_from(["builtin", "csv"]))
    s = {"source": source}
    out_act = None
    if source == "builtin":
        dataset = draw(st.sampled_from(S.datasets()))
        s["dataset"] = dataset
        task = S.BUILTIN_TASKS[dataset]
        n_in = mlp.data.DATASETS[dataset]["n_features"]
        if n_in == 2 and draw(st.booleans()):
            s["transforms"] = draw(st.lists(st.sampled_from(list(FEATURE_TRANSFORMS)), unique=True))
    else:
        task = draw(st.sampled_from(S.TASKS))
        s["task"] = task
        s["target"] = draw(_NAME)
        s["features"] = draw(st.lists(_NAME, min_size=1, max_size=5, unique=True))
        n_in = draw(st.integers(1, 6))
        if len(s["features"]) == 2:                      # the extra inputs need two feature columns (x1, x2)
            s["transforms"] = draw(st.lists(st.sampled_from(list(FEATURE_TRANSFORMS)), unique=True, max_size=2))
    out_act = S.OUTPUT_ACTIVATION[task]
    if draw(st.booleans()):
        out_act = draw(st.sampled_from(["linear", "tanh"])) if task == "regression" else out_act
        s["arch"] = _arch_text(draw, n_in, out_act, draw(st.integers(1, 4)))
    if draw(st.booleans()):
        counts = s["dataset"] in S.BUILTIN_COUNTS if source == "builtin" else None   # (a CSV's: when it comes)
        s["loss"] = draw(st.sampled_from(S.loss_choices(out_act, counts)))
    for name in ("n_samples", "data_seed", "n_classes", "epochs", "early_stopping", "seed"):
        if draw(st.booleans()):
            s[name] = draw(_int(name))
    for name in ("noise", "test_size", "learning_rate", "lr_decay", "weight_decay", "l1", "dropout",
                 "validation_split"):
        if draw(st.booleans()):
            s[name] = draw(_float(name))
    if draw(st.booleans()):
        s["optimizer"] = draw(st.sampled_from(S.OPTIMIZERS))
    if draw(st.booleans()):
        s["lr_schedule"] = draw(st.sampled_from(list(SCHEDULES)))
    if draw(st.booleans()):
        s["batch_size"] = draw(st.one_of(st.just("full"), _int("batch_size")))
    if source == "builtin" and draw(st.booleans()):
        del s["source"]                                  # builtin is the default
    keys = list(s)
    random.Random(draw(st.integers(0, 99))).shuffle(keys)
    return {k: s[k] for k in keys}


@PROPS
@given(valid_settings())
def test_round_trip_every_valid_setting(s):
    text = L.encode(s)
    out = L.decode(text)
    assert out.notes == []
    assert out.settings == s
    assert list(out.settings) == [k for k in L.SETTINGS if k in s]        # table order
    assert L.decode("#" + text).settings == s and L.decode("?" + text).settings == s
    assert L.decode(dict(parse_qsl(text, keep_blank_values=True))).settings == s   # as st.query_params gives it
    assert L.decode(s).settings == s                                                  # native values
    assert L.encode(dict(reversed(list(s.items())))) == text                          # stable order


@PROPS
@given(valid_settings(), st.sampled_from(["fragment", "query"]))
def test_share_href_round_trips_through_a_real_url(s, mode):
    link = L.share(s, None, base="https://example.org/mlp/index.html?x=1#old", mode=mode)
    parts = urlsplit(link["href"])
    assert parts.netloc == "example.org" and parts.path == "/mlp/index.html"
    assert L.decode(parts.fragment if mode == "fragment" else parts.query).settings == s
    assert L.decode(link["href"]).settings == s
    assert link["carries_model"] is False
    assert " " not in link["href"] and "\n" not in link["href"]


def test_every_contract_setting_has_one_row():
    assert list(L.SETTINGS) == CONTRACT_KEYS
    assert set(L.defaults()) == set(CONTRACT_KEYS)


def test_defaults_are_what_the_session_uses():
    d = L.defaults()
    for k in ("optimizer", "learning_rate", "epochs", "batch_size", "weight_decay", "dropout", "validation_split",
              "early_stopping", "seed"):
        assert d[k] == S.DEFAULT_CONFIG[k], k
    assert d["lr_schedule"] == "constant" and S.DEFAULT_CONFIG["lr_decay"] == 1.0   # the decay is the exponential's
    assert d["dataset"] in S.datasets()
    assert L.check(d)[1] == []


# ---------------------------------------------------------------- ranges agree with the session

def _session_accepts(s):
    """Prepare, build and start training (no epochs run) as a front end would."""
    args = L.session_args(s)
    prepared = S.prepare_builtin(**args["prepare"])
    model = S.build_model(args["cfg"], prepared)
    S.start_training(model, prepared, args["cfg"])
    return model


def _extremes(name):
    s = L.SETTINGS[name]
    if s.kind == "int":
        return [s.lo, s.hi]
    if s.kind == "float":
        lo = np.nextafter(s.lo, s.hi) if s.lo_open else s.lo
        hi = np.nextafter(s.hi, s.lo) if s.hi_open else s.hi
        return [float(lo), float(hi)]
    if s.kind == "batch":
        return ["full", 1, s.hi]
    return s.allowed()


@pytest.mark.parametrize("name", ["n_samples", "noise", "data_seed", "test_size", "n_classes", "optimizer",
                                  "learning_rate", "epochs", "batch_size", "lr_schedule", "lr_decay",
                                  "weight_decay", "l1", "dropout", "validation_split", "early_stopping", "seed",
                                  "dataset", "transforms"])
def test_whatever_a_link_accepts_the_session_accepts(name):
    values = [[k] for k in L.SETTINGS[name].allowed()] if name == "transforms" else _extremes(name)
    for v in values:
        s = {name: v, "n_samples": 60} if name != "n_samples" else {name: v}
        if name in ("test_size", "validation_split") and v > 0.5:
            s["n_samples"] = L.SETTINGS["n_samples"].hi
        out = L.decode(L.encode(s))
        assert out.settings == s and out.notes == []
        _session_accepts(out.settings)


def test_limits_are_the_sessions():
    """Just outside each session limit, the link refuses and the session refuses too."""
    for name, bad, call in (
            ("n_samples", S.MAX_SAMPLES + 1, lambda v: S.prepare_builtin("circles", n_samples=v)),
            ("n_samples", 9, lambda v: S.prepare_builtin("circles", n_samples=v)),
            ("epochs", S.MAX_EPOCHS + 1, lambda v: S.start_training(*_model_and_data(), {"epochs": v})),
            ("test_size", 1.0, lambda v: S.prepare_builtin("circles", test_size=v)),
            ("validation_split", 1.0, lambda v: S.start_training(*_model_and_data(), {"validation_split": v})),
            ("dropout", 1.0, lambda v: S.build_model({"dropout": v}, S.prepare_builtin("circles"))),
            ("optimizer", "lbfgs", lambda v: S.build_model({"optimizer": v}, S.prepare_builtin("circles"))),
            ("dataset", "mnist", lambda v: S.prepare_builtin(v)),
            ("learning_rate", 0.0, lambda v: S.start_training(*_model_and_data(), {"learning_rate": v})),
    ):
        out = L.decode({name: str(bad)})
        assert name not in out.settings and len(out.notes) == 1, (name, out.notes)
        with pytest.raises(ValueError):
            call(bad)


def _model_and_data():
    prepared = S.prepare_builtin("circles", n_samples=40)
    return S.build_model({}, prepared), prepared


# ---------------------------------------------------------------- malformed values: a note each, the rest kept

BAD = [
    ("source", "ftp"), ("dataset", "mnist"), ("dataset", ""), ("n_samples", "abc"), ("n_samples", "9"),
    ("n_samples", "10001"), ("n_samples", "40.5"), ("n_samples", "1e3"), ("n_samples", "9" * 40),
    ("noise", "-0.1"), ("noise", "2.5"), ("noise", "nan"), ("noise", "inf"), ("noise", "0x1"), ("noise", ""),
    ("data_seed", "-1"), ("data_seed", str(2**32)), ("test_size", "0.91"), ("test_size", "-0.2"),
    ("n_classes", "1"), ("n_classes", "101"), ("transforms", "x3^2"), ("transforms", "x1^2,x1^2"),
    ("transforms", "x1^2,,x2^2"), ("arch", "[2, 8, 'relu'"), ("arch", "__import__('os').system('echo hi')"),
    ("arch", "[2, 8, 'warp', 1, 'sigmoid']"), ("arch", ""), ("arch", "[2, 99999, 99999, 1]"),
    ("arch", "[" + "8, " * 1000 + "1]"), ("loss", "hinge"), ("optimizer", "lbfgs"), ("learning_rate", "0"),
    ("learning_rate", "11"), ("learning_rate", "1e999"), ("epochs", "0"), ("epochs", "10001"),
    ("epochs", "abc"), ("epochs", "True"), ("batch_size", "0"), ("batch_size", "half"), ("batch_size", "200001"),
    ("lr_schedule", "warmup"), ("lr_decay", "0"), ("lr_decay", "1.5"), ("weight_decay", "-1e-4"),
    ("weight_decay", "2"), ("l1", "-0.1"), ("l1", "abc"), ("dropout", "1"), ("dropout", "-0.5"),
    ("validation_split", "0.95"), ("early_stopping", "-1"), ("early_stopping", "10001"), ("seed", "-3"),
    ("seed", "1.5"), ("wat", "1"), ("Epochs", "5"), ("", "x"),
]


@pytest.mark.parametrize("key,value", BAD)
def test_each_bad_value_gives_one_plain_note_and_the_rest_is_kept(key, value):
    good = {"epochs": "7", "optimizer": "sgd", "arch": "[2, 4, 'relu', 1, 'sigmoid']"}
    if key in good:
        del good[key]
    link = "&".join(f"{k}={v}" for k, v in good.items()) + f"&{key}={value}"
    out = L.decode(link.replace("+", "%2B").replace("#", "%23"))
    assert len(out.notes) == 1, out.notes
    note = out.notes[0]
    assert note.startswith(f"Ignored '{key}=") and "from the link: " in note, note
    assert key not in out.settings
    expect = {k: v for k, v in L.decode("&".join(f"{k}={v}" for k, v in good.items())).settings.items()}
    assert out.settings == expect and expect        # the good values survive
    if key in L.SETTINGS:
        assert L.SETTINGS[key].rule() in note       # says what is allowed


def test_note_wording():
    out = L.decode("#epochs=abc")
    assert out.notes == ["Ignored 'epochs=abc' from the link: epochs must be a whole number from 1 to 10,000."]
    out = L.decode("#learning_rate=-1&wat=3")
    assert out.notes == ["Ignored 'learning_rate=-1' from the link: learning_rate must be a number greater than 0 "
                         "and at most 10.",
                         "Ignored 'wat=3' from the link: 'wat' is not a setting this app knows."]
    out = L.decode("optimizer=lbfgs")
    assert out.notes == ["Ignored 'optimizer=lbfgs' from the link: optimizer must be one of "
                         + ", ".join(S.OPTIMIZERS) + "."]


def test_the_architecture_is_parsed_never_run(tmp_path):
    flag = tmp_path / "ran"
    for text in (f"__import__('os').system('touch {flag}')", f"[2, open('{flag}', 'w'), 1]",
                 f"[2, 8, 'relu', 1, 'sigmoid'] + [__import__('os').system('touch {flag}')]"):
        out = L.decode({"arch": text})
        assert "arch" not in out.settings and len(out.notes) == 1
    assert not flag.exists()


def test_settings_that_contradict_each_other():
    out = L.decode("arch=[2, 4, 'relu', 1, 'linear']&loss=bce")
    assert out.settings == {"arch": "[2, 4, 'relu', 1, 'linear']"}
    assert out.notes == ["Ignored 'loss=bce' from the link: after a 'linear' output the loss must be one of "
                         + ", ".join(S.loss_choices("linear", counts=False)) + "."]   # (circles: no counts)
    out = L.decode("dataset=spiral&loss=bce")           # spiral is multiclass: a softmax output, no bce
    assert out.settings == {"dataset": "spiral"} and "loss" in out.notes[0]
    out = L.decode("dataset=sine&transforms=x1^2")       # sine has one feature
    assert out.settings == {"dataset": "sine"} and out.notes == [
        "Ignored 'transforms=x1^2' from the link: x1² needs two inputs, x1 and x2, and the 'sine' dataset has 1."]
    out = L.decode("source=csv&target=y&features=a,b,c&transforms=x1*x2")   # a CSV's: its feature columns
    assert "transforms" not in out.settings and out.notes == [
        "Ignored 'transforms=x1*x2' from the link: x1·x2 needs two inputs, x1 and x2, and the link names 3 feature "
        "columns."]
    assert L.decode("source=csv&target=y&features=a,b&transforms=x1*x2").settings["transforms"] == ["x1*x2"]
    out = L.decode("target=y&features=a,b&task=binary&epochs=3")   # CSV-only keys without source=csv
    assert out.settings == {"epochs": 3} and len(out.notes) == 3
    assert all("applies only to a CSV source" in n for n in out.notes)
    out = L.decode("source=csv&target=y&features=a,b&task=binary")
    assert out.settings == {"source": "csv", "target": "y", "features": ["a", "b"], "task": "binary"}
    assert out.needs_file and not out.notes


def test_lists_carry_any_column_name():
    names = ["a,b", "back\\slash", "x=1&y=2", "#hash", "100%", "émoji 🎉", "+plus", " spaced "]
    s = {"source": "csv", "target": "t,arget", "features": names}
    assert L.decode(L.encode(s)).settings == s
    href = L.share(s, base="https://h/", mode="query")["href"]
    assert L.decode(urlsplit(href).query).settings == s


def test_repeated_keys_last_wins_and_mapping_lists():
    assert L.decode("epochs=3&epochs=5").settings == {"epochs": 5}
    assert L.decode({"epochs": ["3", "5"]}).settings == {"epochs": 5}
    assert L.decode({"transforms": ["x1^2", "x2^2"]}).settings == {"transforms": ["x1^2", "x2^2"]}  # native list


def test_input_size_is_bounded():
    huge = "epochs=5&" + "x" * (L.MAX_LINK_CHARS + 1)
    out = L.decode(huge)
    assert out.settings == {} and out.model is None and len(out.notes) == 1
    assert "characters long" in out.notes[0] and "nothing was restored" in out.notes[0]
    out = L.decode("&".join(f"k{i}=1" for i in range(500)))
    assert out.settings == {} and len(out.notes) == 1 and "too many values" in out.notes[0]
    out = L.decode({f"k{i}": "1" for i in range(500)})
    assert out.settings == {} and len(out.notes) == 1
    many = "&".join(f"wat{i}=1" for i in range(60))
    out = L.decode(many)
    assert len(out.notes) == L.MAX_NOTES and "more values" in out.notes[-1]


@pytest.mark.parametrize("source", [None, "", "#", "?", "https://example.org/app/", 42, object(), b"\xff\xfe",
                                    "%ZZ=%%%", "=&=&&", "epochs", "#model", "a=b=c", "\x00\x01=\x02"])
def test_odd_sources_never_raise(source):
    out = L.decode(source)
    assert isinstance(out.settings, dict) and out.model is None
    assert all(isinstance(n, str) for n in out.notes)


def test_encode_refuses_what_a_link_cannot_restore():
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        L.encode({"epochs": 0})
    with pytest.raises(ValueError, match="'wat' is not a setting"):
        L.encode({"wat": 1})
    with pytest.raises(TypeError):
        L.encode("epochs=3")
    assert L.encode({"epochs": 5, "loss": None}) == "epochs=5"
    assert L.encode({"epochs": np.int64(5), "seed": 3.0, "noise": np.float32(0.5)}) == "noise=0.5&epochs=5&seed=3"
    for bad in ({"epochs": True}, {"epochs": 1.5}, {"epochs": [3]}, {"epochs": float("inf")}, {"noise": True},
                {"noise": float("nan")}, {"noise": [0.1]}, {"arch": [2, 1]}, {"target": 3}, {"features": "a"},
                {"features": ["a", "a"]}, {"features": []}, {"transforms": ["x1^3"]}, {"dataset": None, "x": 1}):
        with pytest.raises(ValueError, match="Cannot put these settings in a link"):
            L.encode(bad)
    assert L.check({"epochs": 0, "seed": 4}) == ({"seed": 4}, [L.decode("epochs=0").notes[0]])


# ---------------------------------------------------------------- the trained model in the link

def test_trained_model_round_trips_bit_exact_with_transforms_and_history():
    s, model, prepared = _train("[4, 6, 'tanh', 1, 'sigmoid']", transforms=["x1*x2", "sin(x1)"], epochs=30)
    link = L.share(s, model, base="https://h/", mode="fragment")
    assert link["carries_model"] and link["note"] is None
    out = L.decode(urlsplit(link["href"]).fragment)
    assert out.notes == [] and out.settings == s
    got = out.model
    assert got.params.dtype == model.params.dtype and got.params.tobytes() == model.params.tobytes()
    assert got.architecture == model.architecture and got.loss == model.loss
    assert got.preprocessor.to_config() == model.preprocessor.to_config()
    assert tuple(got.preprocessor.transforms) == ("x1*x2", "sin(x1)")
    assert got.optimizer.get_config() == model.optimizer.get_config()
    assert model.optimizer.t > 0 and got.optimizer.t == 0          # Adam's moments stay behind (3x shorter link)
    assert got.history.to_dict() == model.history.to_dict()
    # same predictions on raw rows, preprocessing and transforms included
    raw = prepared.tables[1]
    np.testing.assert_array_equal(got.predict(got.preprocessor.transform_X(raw)),
                                  model.predict(model.preprocessor.transform_X(raw)))
    # its Download model bytes open to the same weights, and the session shows its results on the same data
    again = S.load_model(got.to_bytes())
    assert again.params.tobytes() == model.params.tobytes()
    args = L.session_args(out.settings)
    prepared2 = S.prepare_builtin(**args["prepare"])
    assert L.model_mismatch(got, prepared2) is None
    assert S.evaluate(got, prepared2) == S.evaluate(model, prepared)


def test_regression_model_keeps_its_target_scale():
    s, model, prepared = _train("[1, 8, 'tanh', 1, 'linear']", dataset="sine", epochs=10, loss="huber",
                                optimizer="rmsprop", weight_decay=1e-3)
    out = L.decode(L.encode(s, model))
    assert out.notes == [] and out.model.params.tobytes() == model.params.tobytes()
    assert out.model.loss == "huber"
    X = np.linspace(-3, 3, 7)[:, None]
    np.testing.assert_array_equal(out.model.preprocessor.inverse_y(out.model.predict(
        out.model.preprocessor.transform_numeric(X))), model.preprocessor.inverse_y(model.predict(
            model.preprocessor.transform_numeric(X))))
    assert L.settings_from_model(out.model) == {"arch": "[1, 8, 'tanh', 1, 'linear']", "loss": "huber",
                                                "optimizer": "rmsprop", "weight_decay": 1e-3, "l1": 0.0,
                                                "transforms": []}


def _model_with(n):
    """An untrained circles model with exactly ``n`` parameters: [2, h, 1] has 4h + 1, [2, h, k, 1] 3h + (h+2)k + 1."""
    if (n - 1) % 4 == 0:
        arch = f"[2, {(n - 1) // 4}, 'relu', 1, 'sigmoid']"
    else:
        h = next(h for h in range(8, 100) if (n - 1 - 3 * h) % (h + 2) == 0)
        arch = f"[2, {h}, 'relu', {(n - 1 - 3 * h) // (h + 2)}, 'relu', 1, 'sigmoid']"
    prepared = S.prepare_builtin("circles", n_samples=60)
    model = S.build_model({"arch": arch}, prepared)
    assert model.n_params == n
    return model, prepared


def test_the_parameter_limit_and_the_link_length():
    assert L.SHARE_MAX_PARAMS == 1000
    model, prepared = _model_with(1000)
    S.train(model, prepared, {"epochs": 150})
    link = L.share({"dataset": "circles"}, model, base="", mode="fragment")
    assert link["carries_model"] and len(link["href"]) <= L.MAX_MODEL_CHARS
    assert L.decode(link["href"]).model.params.tobytes() == model.params.tobytes()
    big, prepared = _model_with(1001)
    link = L.share({"dataset": "circles"}, big)
    assert not link["carries_model"] and "model=" not in link["href"]
    assert link["note"] == ("This model has 1,001 parameters; links carry a trained model of at most 1,000, "
                            "so this link carries the settings only.")
    assert L.decode(link["href"]).settings == {"dataset": "circles"}


def test_csv_link_says_the_file_stays_behind():
    s = {"source": "csv", "target": "y", "features": ["a", "b"]}
    link = L.share(s, None, mode="query")
    assert link["note"] == L.CSV_NOTE == "A CSV file cannot travel in a link: whoever opens it is asked for the file."
    assert link["href"].startswith("?source=csv")


def test_long_history_is_dropped_before_the_weights():
    s, model, prepared = _train("[2, 20, 'relu', 20, 'relu', 1, 'sigmoid']", epochs=600)
    text = L.encode(s, model)
    out = L.decode(text)
    assert out.model is not None and out.model.params.tobytes() == model.params.tobytes()
    assert out.model.history is None                       # 600 epochs of history would not fit the budget
    assert len(dict(parse_qsl(text))["model"]) <= L.HISTORY_BUDGET


def test_the_gradient_statistics_are_dropped_before_the_loss_curves():
    s, model, prepared = _train("[2, 24, 'relu', 32, 'relu', 1, 'sigmoid']", epochs=150)
    assert "grad_norm/3" in model.history.history
    text = L.encode(s, model)
    out = L.decode(text)
    assert out.model.params.tobytes() == model.params.tobytes()
    kept = out.model.history.history
    assert kept == {k: v for k, v in model.history.history.items() if "/" not in k} and "loss" in kept
    assert len(dict(parse_qsl(text))["model"]) <= L.HISTORY_BUDGET


# ---------------------------------------------------------------- hostile model payloads

def _zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


class _Boom:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _model_note(payload_text, extra="epochs=9&dataset=moons"):
    out = L.decode(f"{extra}&model={payload_text}")
    assert out.model is None
    assert out.settings == {"epochs": 9, "dataset": "moons"}          # settings still restored
    assert len(out.notes) == 1 and out.notes[0].startswith("The trained model in the link could not be opened")
    return out.notes[0]


def test_random_bytes_and_text():
    rng = np.random.default_rng(0)
    for n in (1, 7, 100, 5000):
        _model_note(_b64(rng.bytes(n)))
        _model_note(_b64(zlib.compress(rng.bytes(n))))
    assert "base64" in _model_note("not*base64!")
    assert "base64" in _model_note("A")                  # one base64 character cannot be a byte
    _model_note("")


def test_truncated_and_edited_payloads():
    s, model, _ = _train("[2, 4, 'relu', 1, 'sigmoid']", epochs=3)
    text = dict(parse_qsl(L.encode({}, model)))["model"]
    assert "cut short" in _model_note(text[: len(text) // 2])
    flipped = text[:200] + ("A" if text[200] != "A" else "B") + text[201:]
    _model_note(flipped)


def test_zlib_bomb_is_not_unpacked():
    assert "characters long" in _model_note("A" * (L.MAX_MODEL_CHARS + 4))
    small = zlib.compress(b"PK\x03\x04" + b"\0" * (40 << 20), 9)   # 40 MB in ~40 KB: within the length limit
    text = _b64(small)
    assert len(text) <= L.MAX_MODEL_CHARS
    tracemalloc.start()
    note = _model_note(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "more than" in note and peak < 8 * L.MAX_MODEL_BYTES


def test_a_zip_with_a_pickle_inside_is_refused_and_never_run(tmp_path):
    flag = tmp_path / "pwned"
    evil = pickle.dumps(_Boom(flag))
    assert "no model.json" in _model_note(_b64(zlib.compress(_zip({"data.pkl": evil}))))
    # a model-shaped archive whose weights are a pickled object array
    s, model, _ = _train("[2, 3, 'relu', 1, 'sigmoid']", epochs=2)
    good = zipfile.ZipFile(io.BytesIO(model.to_bytes()))
    entries = {n: good.read(n) for n in good.namelist()}
    buf = io.BytesIO()
    np.save(buf, np.array([_Boom(flag)] * model.n_params, dtype=object), allow_pickle=True)
    entries["params.npy"] = buf.getvalue()
    _model_note(_b64(zlib.compress(_zip(entries))))
    entries["model.json"] = evil
    _model_note(_b64(zlib.compress(_zip(entries))))
    assert not flag.exists()


def test_oversized_models_are_refused_before_they_are_built():
    big, _ = _model_with(1001)
    note = _model_note(_b64(zlib.compress(big.to_bytes())))
    assert "1,001 parameters" in note and "at most 1,000" in note
    # a model.json that claims an enormous network: refused from its text, nothing allocated
    s, model, _ = _train("[2, 3, 'relu', 1, 'sigmoid']", epochs=2)
    good = zipfile.ZipFile(io.BytesIO(model.to_bytes()))
    entries = {n: good.read(n) for n in good.namelist()}
    meta = json.loads(entries["model.json"])
    for arch, n in (([2, 3000, "relu", 3000, "relu", 1, "sigmoid"], "9,015,001"),      # 72 MB, under mlp.MAX_PARAMS
                    ([2, 40000, "relu", 40000, "relu", 1, "sigmoid"], "1,600,200,001")):
        meta["config"]["architecture"] = arch
        entries["model.json"] = json.dumps(meta)
        tracemalloc.start()
        note = _model_note(_b64(zlib.compress(_zip(entries))))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert f"it has {n} parameters; links carry at most 1,000" in note and peak < 8 << 20
    # a model.json that breaks the engine's own validation
    meta["config"]["architecture"] = [2, 3, "relu", 1, "sigmoid"]
    meta["preprocessor"]["encoders"] = "nope"
    entries["model.json"] = json.dumps(meta)
    _model_note(_b64(zlib.compress(_zip(entries))))


def test_a_model_that_does_not_fit_the_data_is_named():
    s, model, _ = _train("[2, 3, 'relu', 1, 'sigmoid']", epochs=2)
    prepared = S.prepare_builtin("spiral", n_samples=60)
    note = L.model_mismatch(model, prepared)
    assert "gives 1 output(s)" in note and "this data has 2 and 3" in note


# ---------------------------------------------------------------- applying a link in the session

@PROPS
@given(valid_settings())
def test_session_args_and_back(s):
    args = L.session_args(s)
    full = L.defaults()
    full.update(s)
    back = L.settings_from_session(args["prepare"], args["cfg"], source=args["source"])
    expect = {k: v for k, v in full.items() if v is not None}
    if args["source"] == "csv":
        expect = {k: v for k, v in expect.items() if k not in ("dataset", "n_samples", "noise", "n_classes")}
    else:
        expect = {k: v for k, v in expect.items() if not L.SETTINGS[k].csv_only}
    if not expect.get("transforms"):
        back.setdefault("transforms", [])
    if expect.get("lr_schedule") != "exponential":      # the decay applies only to that schedule
        expect["lr_decay"] = L.SETTINGS["lr_decay"].default
    assert back == expect
    assert L.decode(L.encode(back)).settings == back


def test_session_args_drive_the_session():
    s = {"dataset": "blobs", "n_classes": 4, "n_samples": 120, "noise": 0.05, "data_seed": 3, "test_size": 0.25,
         "arch": "[2, 5, 'relu', 4, 'softmax']", "optimizer": "sgd_momentum", "learning_rate": 0.1, "epochs": 4,
         "batch_size": "full", "seed": 11, "weight_decay": 1e-4}
    args = L.session_args(s)
    assert args["source"] == "builtin" and args["cfg"]["batch_size"] is None
    prepared = S.prepare_builtin(**args["prepare"])
    direct = S.prepare_builtin("blobs", n_samples=120, noise=0.05, seed=3, test_size=0.25, n_classes=4)
    np.testing.assert_array_equal(prepared.X_train, direct.X_train)
    model = S.build_model(args["cfg"], prepared)
    hist = S.train(model, prepared, args["cfg"])
    assert len(hist.epochs) == 4 and prepared.n_outputs == 4
    ref = S.build_model({"arch": s["arch"], "optimizer": "sgd_momentum", "seed": 11, "weight_decay": 1e-4}, direct)
    S.train(ref, direct, {"learning_rate": 0.1, "epochs": 4, "batch_size": None, "seed": 11})
    assert model.params.tobytes() == ref.params.tobytes()
    got = L.settings_from_model(model)
    assert got["arch"] == s["arch"] and got["optimizer"] == "sgd_momentum" and got["loss"] == "cce"
    assert got["weight_decay"] == 1e-4


# ---------------------------------------------------------------- fuzz: whatever the address holds, decode answers

_LINK_CHARS = st.sampled_from(list("=&#?%,+[]()'\" \\.-_~0123456789eE") + ["%00", "%ZZ", "%E2%82", "é", "\x00"])


@PROPS
@given(st.one_of(st.text(max_size=300), st.lists(_LINK_CHARS, max_size=80).map("".join),
                 st.dictionaries(st.sampled_from(CONTRACT_KEYS + ["model", "x"]),
                                 st.one_of(st.text(max_size=30), st.integers(), st.floats(), st.none(), st.booleans(),
                                           st.lists(st.text(max_size=5), max_size=3)), max_size=8)))
def test_decode_never_raises(source):
    out = L.decode(source)
    assert isinstance(out.settings, dict) and all(isinstance(n, str) and n for n in out.notes)
    assert L.check(out.settings) == (out.settings, [])          # what survives is valid
    L.encode(out.settings)                                       # and can go back into a link


_SMALL = None


def _small_link():
    global _SMALL
    if _SMALL is None:
        s, model, _ = _train("[2, 3, 'relu', 1, 'sigmoid']", epochs=2, optimizer="nadam", seed=5)
        _SMALL = L.encode(s, model)
    return _SMALL


@PROPS
@given(st.data())
def test_edited_links_never_raise(data):
    text = list(_small_link())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip":
            text[i] = data.draw(_LINK_CHARS)
        elif op == "cut":
            del text[i:]
        else:
            text.insert(i, data.draw(_LINK_CHARS))
        if not text:
            break
    out = L.decode("".join(text))
    assert isinstance(out.settings, dict) and all(isinstance(n, str) for n in out.notes)
    if out.model is not None:            # a payload that still opens is a valid small model
        assert out.model.n_params <= L.SHARE_MAX_PARAMS and np.isfinite(out.model.params).all()


# ---------------------------------------------------------------- the same links in Pyodide (the static site's runtime)

_PYODIDE_CODE = r"""
import sys, json, hashlib, zlib, base64
from webapp.core import links as L
a = L.decode(open("/link/link.txt").read())
bomb = base64.urlsafe_b64encode(zlib.compress(b"PK\x03\x04" + bytes(20 << 20), 9)).decode().rstrip("=")
b = L.decode("epochs=3&model=" + bomb)
json.dumps({"python": sys.version.split()[0], "settings": a.settings, "notes": a.notes,
            "sha": hashlib.sha256(a.model.params.tobytes()).hexdigest(), "pre": a.model.preprocessor.to_config(),
            "link_b": L.encode(a.settings, a.model), "bomb": [b.settings, b.notes]})
"""


def test_links_open_alike_in_pyodide(tmp_path):
    s, model, _ = _train("[4, 5, 'tanh', 1, 'sigmoid']", transforms=["x1^2", "sin(x2)"], epochs=15)
    link_file = tmp_path / "link.txt"
    link_file.write_text(L.encode(s, model))
    got = json.loads(run_in_pyodide(_PYODIDE_CODE, {tmp_path: "/link"}))
    assert got["python"].startswith("3.12")
    assert got["settings"] == s and got["notes"] == []
    assert got["sha"] == hashlib.sha256(model.params.tobytes()).hexdigest()
    assert got["pre"] == json.loads(json.dumps(model.preprocessor.to_config()))
    back = L.decode(got["link_b"])                      # a link made in Pyodide opens in CPython
    assert back.settings == s and back.model.params.tobytes() == model.params.tobytes()
    assert got["bomb"][0] == {"epochs": 3} and "more than 1,048,576 bytes" in got["bomb"][1][0]
