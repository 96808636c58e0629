"""A poisson model with its count preprocessing through the adapters: the model file, ONNX (the Exp in the
graph, checked with onnxruntime), PyTorch and the `mlp` command line."""
import contextlib
import io

import numpy as np
import onnxruntime as ort
import torch

import mlp
from mlp import data
from mlp.export import onnx_inputs
from tests.apps.test_app_poisson import count_csv


def poisson_model(seed=0, epochs=60):
    table = data.read_csv(count_csv(seed=seed))
    pre = data.Preprocessor(["x1", "x2"], "visits", target_mode="count").fit(table)
    model = mlp.MLP(seed=seed).sequential([2, 8, "tanh", 1, "linear"])
    model.set_loss("poisson")
    model.fit(pre.transform_X(table), pre.transform_y(table), epochs=epochs, learning_rate=0.02, batch_size=16)
    model.preprocessor = pre
    return model, table


def test_the_model_file_carries_the_count_mode_and_predicts_mean_counts():
    model, table = poisson_model()
    again = mlp.from_bytes(model.to_bytes())
    assert again.preprocessor.target_mode == "count" and again.loss == "poisson"
    log_rate = model.predict(model.preprocessor.transform_X(table))[:, 0]
    np.testing.assert_array_equal(again.predict_table(table), np.exp(log_rate))
    assert min(again.predict_table(table)) > 0
    # evaluate_table: the metrics of the predicted counts against the counts, in their own units
    from sklearn.metrics import mean_absolute_error, mean_poisson_deviance, mean_squared_error, r2_score
    y, mu = np.asarray(table.numeric_column("visits")), np.exp(log_rate)
    got = again.evaluate_table(table)
    assert np.isclose(got["mae"], mean_absolute_error(y, mu), rtol=1e-12)
    assert np.isclose(got["rmse"], mean_squared_error(y, mu) ** 0.5, rtol=1e-12)
    assert np.isclose(got["r2"], r2_score(y, mu), rtol=1e-12)
    assert np.isclose(got["poisson_deviance"], mean_poisson_deviance(y, mu), rtol=1e-12)
    # the loss is PyTorch's PoissonNLLLoss(log_input=True) of the outputs and the counts
    want = torch.nn.PoissonNLLLoss(log_input=True)(torch.tensor(log_rate), torch.tensor(y)).item()
    assert np.isclose(got["loss"], want, rtol=1e-12)


def test_onnx_prediction_is_the_exp_of_the_output_in_the_graph():
    model, table = poisson_model(seed=1)
    blob = model.to_onnx()
    import onnx
    proto = onnx.load_from_string(blob)
    assert "Exp" in [n.op_type for n in proto.graph.node]
    assert {p.key: p.value for p in proto.metadata_props}["mlp.target_mode"] == "count"
    output, prediction = ort.InferenceSession(blob).run(None, onnx_inputs(model, table))
    np.testing.assert_allclose(output[:, 0], model.predict(model.preprocessor.transform_X(table))[:, 0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(prediction, model.predict_table(table), rtol=1e-5)


def test_to_torch_gives_the_networks_output_the_log_of_the_rate():
    """to_torch has no preprocessing: it computes ``predict`` (the log of the rate), as documented."""
    model, table = poisson_model(seed=2)
    X = model.preprocessor.transform_X(table)
    with torch.no_grad():
        out = model.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, model.predict(X), rtol=1e-12)
    np.testing.assert_allclose(np.exp(out[:, 0]), model.predict_table(table), rtol=1e-12)


def test_cli_train_with_poisson_then_predict_gives_counts(tmp_path):
    """`mlp train counts.csv --target visits --loss poisson`, then `mlp predict`: the mean counts, as the model's."""
    from mlp import cli
    path = tmp_path / "counts.csv"
    path.write_bytes(count_csv(seed=3))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["train", str(path), "--target", "visits", "--loss", "poisson", "--epochs", "60",
                         "--out", str(tmp_path / "c.mlp")]) == 0
        assert cli.main(["predict", str(tmp_path / "c.mlp"), str(path), "--out", str(tmp_path / "p.csv")]) == 0
        assert cli.main(["info", str(tmp_path / "c.mlp")]) == 0
    text = out.getvalue()
    assert "regression of 'visits'" in text and "loss poisson" in text and "poisson_deviance" in text
    assert "predictions are mean counts" in text
    model = mlp.load(tmp_path / "c.mlp")
    got = data.read_csv(tmp_path / "p.csv")
    predicted = np.asarray(got.numeric_column(got.columns[-1]))
    np.testing.assert_allclose(predicted, model.predict_table(data.read_csv(path)), rtol=1e-12)
    assert predicted.min() > 0


def test_cli_refuses_poisson_for_a_target_below_zero(tmp_path, capsys):
    from mlp import cli
    path = tmp_path / "shifted.csv"
    path.write_bytes(count_csv(shift=-1.5))
    assert cli.main(["train", str(path), "--target", "visits", "--loss", "poisson", "--out",
                     str(tmp_path / "c.mlp")]) != 0
    err = capsys.readouterr().err
    assert "needs a count target (0 or more), but target column 'visits' holds " in err
    assert "values below 0, the first -" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.mlp").exists()
