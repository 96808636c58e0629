"""Model files written by earlier code open, predict as they did, and are written back the same way.

tests/adapters/fixtures/*.mlp were written by the code of commit 6ecd357 (before mlp/data/, model.layers and the
optimizers' own state layout) with tests/adapters/fixtures/make_model_files.py; each NAME.json holds that code's
predictions on a few inputs. Between them the files hold what a model file can: a preprocessor with text
classes and a category, feature transforms, dropout (on the inputs too), float32, NAdam's scalar state,
Adam's moments, plain SGD's unused momentum buffer and a training history."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import mlp

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["classifier", "regressor", "plain"]


def entries(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.mark.parametrize("name", NAMES)
def test_a_file_written_by_earlier_code_opens_and_predicts_as_it_did(name):
    model = mlp.load(FIXTURES / f"{name}.mlp")
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert repr(model) == expected["repr"]
    assert model.optimizer.t == expected["optimizer_step"]
    tol = {"rtol": 1e-6, "atol": 1e-7} if model.dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}
    if model.preprocessor is None:
        np.testing.assert_allclose(model.predict(np.array(expected["X"])), expected["predict"], **tol)
    else:
        X = model.preprocessor.transform_X(mlp.data.read_csv(expected["probe_csv"]))
        np.testing.assert_allclose(model.predict(X), expected["predict"], **tol)
        got = model.predict_table(expected["probe_csv"])
        if model.task == "regression":
            np.testing.assert_allclose(np.asarray(got, float), expected["table"], **tol)
        else:
            assert list(got) == expected["table"]


@pytest.mark.parametrize("name", NAMES)
def test_a_file_written_now_holds_what_the_earlier_file_held(name):
    """Loaded and saved again, the file has the same entries, the same model.json (but the library version)
    and the same arrays, byte for byte: what the earlier code reads."""
    old = (FIXTURES / f"{name}.mlp").read_bytes()
    new = mlp.load(FIXTURES / f"{name}.mlp").to_bytes()
    before, after = entries(old), entries(new)
    assert sorted(before) == sorted(after)
    meta_before, meta_after = json.loads(before.pop("model.json")), json.loads(after.pop("model.json"))
    meta_before.pop("library_version"), meta_after.pop("library_version")
    assert meta_after == meta_before
    assert after == before     # params.npy and optimizer/*.npy


@pytest.mark.parametrize("name", NAMES)
def test_training_goes_on_from_an_earlier_file_like_from_a_file_written_now(name):
    """One more epoch from the earlier file and from the same model saved by this code: the same steps."""
    twins = [mlp.load(FIXTURES / f"{name}.mlp"), mlp.from_bytes(mlp.load(FIXTURES / f"{name}.mlp").to_bytes())]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, twins[0].n_inputs))
    y = rng.integers(0, 2, size=(12, 1)) if twins[0].n_outputs == 1 else rng.integers(0, twins[0].n_outputs, 12)
    before = twins[0].params.copy()
    for model in twins:
        model.fit(X, y, epochs=1, batch_size=5, learning_rate=0.01)
    assert not np.array_equal(twins[0].params, before)
    np.testing.assert_array_equal(twins[0].params, twins[1].params)
    for key, value in twins[0].optimizer.state.items():
        np.testing.assert_array_equal(value, twins[1].optimizer.state[key], err_msg=key)
