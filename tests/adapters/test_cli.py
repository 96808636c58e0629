"""The ``mlp`` command line, run for real: ``python -m mlp ...`` in subprocesses on CSV files made here.

Checked against independent truth: the printed and JSON metrics against scikit-learn on the same rows, the
predictions against the engine's ``predict_table``, the ONNX export in onnxruntime and the PyTorch export in
torch against ``predict``, the trained model against the same recipe written with the Python API. Every bad
input ends with one line on stderr, a non-zero exit status, no traceback and no file left behind.
"""
import csv
import importlib
import json
import os
import pty
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

import mlp
from mlp import cli, data
from mlp.export import onnx_inputs

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
ENV.pop("MLP_DEBUG", None)


def run(*args, cwd, stderr=subprocess.PIPE):
    """``python -m mlp ARGS`` in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "mlp", *map(str, args)], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=600)


def run_without(packages, *args, cwd):
    """The command with ``packages`` not importable (as where they are not installed)."""
    code = (f"import sys\nfor name in {list(packages)!r}: sys.modules[name] = None\n"
            f"from mlp.cli import main\nsys.exit(main({list(map(str, args))!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def make_files(folder):
    """shop.csv (binary, numbers and a category), houses.csv (regression in thousands), spiral.csv (the engine's
    built-in spiral: 3 classes)."""
    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(2.0, 3.0, size=n)
    color = rng.choice(["red", "green", "blue"], n)
    label = np.where(x1 + 0.3 * (x2 - 2.0) + 1.5 * (color == "red") - 0.5 > 0, "yes", "no")
    write_csv(folder / "shop.csv", ["x1", "x2", "color", "label"],
              [[f"{a:.4f}", f"{b:.4f}", c, t] for a, b, c, t in zip(x1, x2, color, label)])
    area, rooms = rng.uniform(40, 200, n), rng.integers(1, 6, n)
    city = rng.choice(["north", "south"], n)
    price = 3000 * area + 15000 * rooms + 40000 * (city == "north") + rng.normal(0, 8000, n)
    write_csv(folder / "houses.csv", ["area", "rooms", "city", "price"],
              [[f"{a:.1f}", r, c, f"{p:.0f}"] for a, r, c, p in zip(area, rooms, city, price)])
    X, y = data.make_dataset("spiral", n_samples=300, noise=0.1, seed=0)
    (folder / "spiral.csv").write_text(data.to_csv(["x1", "x2", "arm"], [[*x, int(t)] for x, t in zip(X, y)]))


def make_customers(path, n=1000, seed=0):
    """customers.csv, the README's session: age, income (thousands), plan, visits a month -> churned yes/no."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.gamma(4.0, 12.0, n) + 10
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    visits = rng.poisson(np.where(plan == "basic", 4, 9))
    logit = 1.2 - 0.35 * visits + 0.9 * (plan == "basic") - 0.6 * (plan == "pro") + 0.02 * (45 - age) \
        - 0.01 * (income - 55) + rng.normal(0, 0.5, n)
    churned = np.where(logit > 0, "yes", "no")
    write_csv(path, ["age", "income", "plan", "visits", "churned"],
              [[a, f"{i:.1f}", p, v, c] for a, i, p, v, c in zip(age, income, plan, visits, churned)])
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The three CSVs and a model trained on each by ``mlp train`` (their runs kept for the tests)."""
    folder = tmp_path_factory.mktemp("cli")
    make_files(folder)
    runs = {
        "shop": run("train", "shop.csv", "--target", "label", "--out", "shop.mlp", cwd=folder),
        "houses": run("train", "houses.csv", "--target", "price", "--epochs", "200", "--out", "houses.mlp",
                      cwd=folder),
        "spiral": run("train", "spiral.csv", "--target", "arm", "--arch",
                      "[2, 32, 'tanh', 32, 'tanh', 3, 'softmax']", "--epochs", "300", "--validation-split", "0.1",
                      "--out", "spiral.mlp", cwd=folder),
    }
    for name, r in runs.items():
        assert r.returncode == 0, (name, r.stderr)
    return folder, runs


def metric(stdout, name, column):
    """A value from a printed metrics table (column 0, 1, ...)."""
    row = next(line for line in stdout.splitlines() if line.split()[:1] == [name])
    return float(row.split()[1 + column])


# ---------------------------------------------------------------------- the happy path

def test_train_prints_progress_and_metrics_equal_to_scikit_learn(work):
    folder, runs = work
    r = runs["shop"]
    lines = r.stderr.splitlines()
    epochs = [int(m.group(1)) for m in map(re.compile(r"^epoch (\d+)/150  loss [0-9.e+-]+  (ETA|took) ").match, lines) if m]
    assert epochs == list(range(15, 151, 15)) and lines[-1].startswith("epoch 150/150") and "took" in lines[-1]
    assert "Traceback" not in r.stderr
    # the test rows are the split --seed makes (mlp.data.train_test_split); score them with scikit-learn
    table = data.read_csv(folder / "shop.csv")
    train, test = data.train_test_split(table, test_size=0.2, seed=0)
    model = mlp.load(folder / "shop.mlp")
    for column, part in enumerate((train, test)):
        truth, pred = part.column("label"), model.predict_table(part)
        assert metric(r.stdout, "accuracy", column) == pytest.approx(skm.accuracy_score(truth, pred), abs=5e-5)
        assert metric(r.stdout, "f1", column) == pytest.approx(skm.f1_score(truth, pred, pos_label="yes"), abs=5e-5)
    assert skm.accuracy_score(test.column("label"), model.predict_table(test)) > 0.85   # it learned the rule
    cm = skm.confusion_matrix(test.column("label"), model.predict_table(test), labels=["no", "yes"])
    printed = r.stdout.split("confusion matrix (test")[1].splitlines()[2:4]
    assert [[int(v) for v in line.split()[1:]] for line in printed] == cm.tolist()
    assert "saved shop.mlp" in r.stdout


def test_train_is_the_documented_python_recipe(work):
    """The command trains exactly what the Python API trains with the same settings and seed."""
    folder, _ = work
    table = data.read_csv(folder / "shop.csv")
    train, _ = data.train_test_split(table, test_size=0.2, seed=0)
    pre = data.Preprocessor(["x1", "x2", "color"], "label").fit(train)
    arch = mlp.default_architecture(pre.n_inputs, pre.n_outputs, pre.task)
    model = mlp.MLP(seed=0).sequential(arch).set_loss("bce").set_optimizer("adam")
    model.fit(pre.transform_X(train), pre.transform_y(train), epochs=150, learning_rate=0.01, batch_size=32)
    saved = mlp.load(folder / "shop.mlp")
    assert saved.architecture == model.architecture == [5, 8, "relu", 8, "relu", 1, "sigmoid"]
    np.testing.assert_array_equal(saved.params, model.params)
    assert saved.preprocessor.to_config() == pre.to_config()
    assert len(saved.history) == 150


def test_train_with_options(work):
    folder, runs = work
    r = runs["spiral"]
    assert "network [2, 32, 'tanh', 32, 'tanh', 3, 'softmax']" in r.stdout
    assert re.search(r"^epoch 300/300  loss \S+  val_loss \S+  took", r.stderr, re.M)
    model = mlp.load(folder / "spiral.mlp")
    assert model.architecture == [2, 32, "tanh", 32, "tanh", 3, "softmax"]
    assert "val_loss" in model.history.history and len(model.history) == 300
    # --features, --task, --loss, --optimizer, --batch-size full, --test-size 0, --early-stopping
    r = run("train", "houses.csv", "--target", "rooms", "--features", "area,city", "--task", "regression",
            "--loss", "huber", "--optimizer", "sgd_momentum", "--lr", "0.05", "--batch-size", "full", "--test-size",
            "0", "--epochs", "400", "--early-stopping", "5", "--seed", "3", "--out", "rooms.mlp", cwd=folder)
    assert r.returncode == 0, r.stderr
    model = mlp.load(folder / "rooms.mlp")
    assert model.preprocessor.features == ["area", "city"] and model.preprocessor.task == "regression"
    assert model.loss == "huber" and model.optimizer.name == "sgd_momentum" and model.seed == 3
    assert "240 to train;" in r.stdout and "test" not in r.stdout.split("\n")[2]   # one metrics column: train
    assert len(model.history) < 400 and "stopped at epoch" in r.stderr


def test_progress_bar_on_a_terminal(tmp_path):
    make_files(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mlp", "train", "shop.csv", "--target", "label", "--epochs",
                             "40", "--out", "m.mlp"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:          # the terminal closed (Linux: EIO)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    out, _ = proc.communicate(timeout=600)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0
    frames = [f for f in shown.replace("\r\n", "\n").split("\r") if f.strip()]
    assert frames[0].startswith("[#") and "epoch 1/40" in frames[0] and "ETA" in frames[0]
    last = frames[-1].splitlines()[0]
    assert last.startswith("[" + "#" * (len(last.split("]")[0]) - 1) + "]") and "epoch 40/40" in last
    assert shown.endswith("\n") and "saved m.mlp" in out


def test_info(work):
    folder, _ = work
    r = run("info", "shop.mlp", cwd=folder)
    assert r.returncode == 0 and r.stderr == ""
    pre = mlp.load(folder / "shop.mlp").preprocessor
    cfg = pre.to_config()
    assert r.stdout.startswith("shop.mlp: [5, 8, 'relu', 8, 'relu', 1, 'sigmoid']\n")
    assert "predicts 'label': binary classification, classes 'no', 'yes'" in r.stdout
    assert "expects the column(s) x1, x2, color" in r.stdout
    for e in cfg["encoders"]:
        if e["kind"] == "numeric":
            assert re.search(rf"^  {e['column']} +number, standardised with mean {e['mean']:.6g}, std {e['std']:.6g}$",
                             r.stdout, re.M)
    assert "one-hot over 'blue', 'green', 'red'" in r.stdout
    assert "network inputs (5): x1, x2, color=blue, color=green, color=red" in r.stdout
    assert "trained 150 epoch(s)" in r.stdout
    r = run("info", "houses.mlp", cwd=folder)
    scale = mlp.load(folder / "houses.mlp").preprocessor.to_config()["target_scale"]
    assert f"standardised target (mean {scale['mean']:.6g}, std {scale['std']:.6g})" in r.stdout


@pytest.mark.parametrize("name, target", [("shop", "label"), ("spiral", "arm"), ("houses", "price")])
def test_predict_and_evaluate_against_scikit_learn(work, name, target):
    folder, _ = work
    r = run("predict", f"{name}.mlp", f"{name}.csv", cwd=folder)
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0] == target
    table = data.read_csv(folder / f"{name}.csv")
    expected = mlp.load(folder / f"{name}.mlp").predict_table(table)
    assert len(lines) == len(table) + 1
    ev = run("evaluate", f"{name}.mlp", f"{name}.csv", "--json", cwd=folder)
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    text = run("evaluate", f"{name}.mlp", f"{name}.csv", cwd=folder).stdout
    if name == "houses":      # values in the target's units
        pred = np.array([float(v) for v in lines[1:]])
        np.testing.assert_allclose(pred, expected, rtol=1e-12)
        truth = table.numeric_column("price")
        assert result["mae"] == pytest.approx(skm.mean_absolute_error(truth, pred), rel=1e-9)
        assert result["rmse"] == pytest.approx(skm.root_mean_squared_error(truth, pred), rel=1e-9)
        assert result["r2"] == pytest.approx(skm.r2_score(truth, pred), rel=1e-9)
        assert result["r2"] > 0.9 and result["mae"] > 1000   # learned, and in currency units, not standardised
        assert metric(text, "r2", 0) == pytest.approx(result["r2"], abs=5e-5)
        return
    pred, truth = lines[1:], [str(v) for v in table.column(target)]
    assert pred == list(expected)
    labels = mlp.load(folder / f"{name}.mlp").preprocessor.class_names
    average = "binary" if len(labels) == 2 else "macro"
    kw = {"pos_label": labels[1]} if average == "binary" else {}
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(truth, pred), abs=1e-12)
    for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert result[key] == pytest.approx(fn(truth, pred, average=average, **kw), abs=1e-12)
    assert result["confusion_matrix"] == skm.confusion_matrix(truth, pred, labels=labels).tolist()
    assert metric(text, "accuracy", 0) == pytest.approx(result["accuracy"], abs=5e-5)
    assert result["accuracy"] > 0.85


def test_evaluate_table_is_evaluate_through_the_preprocessing(work):
    """The engine method behind 'mlp evaluate': on classification it is evaluate() of the encoded rows."""
    folder, _ = work
    model = mlp.load(folder / "spiral.mlp")
    table = data.read_csv(folder / "spiral.csv")
    pre = model.preprocessor
    assert model.evaluate_table(table) == model.evaluate(pre.transform_X(table), pre.transform_y(table))
    assert model.evaluate_table((folder / "spiral.csv").read_text()) == model.evaluate_table(table)
    model.preprocessor = None
    with pytest.raises(ValueError, match="no saved preprocessing"):
        model.evaluate_table(table)


def test_predict_to_a_file_and_new_categories(work, tmp_path):
    folder, _ = work
    write_csv(tmp_path / "new.csv", ["color", "x2", "x1", "extra"],
              [["red", 1.0, 0.5, "a"], ["purple", 2.0, -1.0, "b"], ["blue", 0.0, 2.5, "c"]])
    shutil.copy(folder / "shop.mlp", tmp_path)
    r = run("predict", "shop.mlp", "new.csv", "--out", "pred.csv", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    assert "column 'color' holds categories the training rows did not have: 'purple' (1 row)" in r.stderr
    expected = mlp.load(tmp_path / "shop.mlp").predict_table(data.read_csv(tmp_path / "new.csv"))
    assert (tmp_path / "pred.csv").read_text().splitlines() == ["label", *expected]
    assert sorted(os.listdir(tmp_path)) == ["new.csv", "pred.csv", "shop.mlp"]


def test_export_onnx_runs_in_onnxruntime(work):
    import onnxruntime as ort
    folder, _ = work
    for name in ("shop", "houses", "spiral"):
        r = run("export", f"{name}.mlp", "--onnx", f"{name}.onnx", cwd=folder)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        model = mlp.load(folder / f"{name}.mlp")
        table = data.read_csv(folder / f"{name}.csv")
        session = ort.InferenceSession(str(folder / f"{name}.onnx"), providers=["CPUExecutionProvider"])
        output, prediction = session.run(["output", "prediction"], onnx_inputs(model, table))
        np.testing.assert_allclose(output, model.predict(model.preprocessor.transform_X(table)), rtol=1e-4,
                                   atol=1e-5)
        expected = model.predict_table(table)
        if name == "houses":
            np.testing.assert_allclose(prediction, expected, rtol=1e-4)
        else:       # float32 may flip a probability within 1e-6 of 0.5: none is that close here
            assert [p.decode() if isinstance(p, bytes) else p for p in prediction] == list(expected)


def test_export_torch_runs_in_torch(work):
    import torch
    folder, _ = work
    r = run("export", "spiral.mlp", "--torch", "spiral.pt2", "--onnx", "spiral2.onnx", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert (folder / "spiral2.onnx").is_file()
    model = mlp.load(folder / "spiral.mlp")
    X = model.preprocessor.transform_X(data.read_csv(folder / "spiral.csv"))
    module = torch.export.load(str(folder / "spiral.pt2")).module()
    with torch.no_grad():
        for rows in (X, X[:1], X[:7]):          # any number of rows
            np.testing.assert_allclose(module(torch.from_numpy(rows)).numpy(), model.predict(rows), rtol=1e-12,
                                       atol=1e-14)


def test_help_on_every_command(tmp_path):
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0
    for command in ("train", "predict", "evaluate", "export", "info"):
        assert command in r.stdout
        h = run(command, "--help", cwd=tmp_path)
        assert h.returncode == 0 and f"usage: mlp {command}" in h.stdout and f"  mlp {command} " in h.stdout
    assert run(cwd=tmp_path).returncode == 2                     # no command: the help, on stderr
    assert run("--version", cwd=tmp_path).stdout.strip() == f"mlp {mlp.__version__}"


FLOAT = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def assert_same_lines(printed, expected, what):
    """The same lines: the text exactly (whole numbers too: counts, sizes), the decimal numbers to 1e-3 (relative
    or absolute): a trained network's last digits may differ with another CPU or BLAS."""
    assert len(printed) == len(expected), (what, printed, expected)
    for got, want in zip(printed, expected):
        assert FLOAT.sub("<x>", got) == FLOAT.sub("<x>", want), (what, got, want)
        for a, b in zip(FLOAT.findall(got), FLOAT.findall(want)):
            assert float(a) == pytest.approx(float(b), rel=1e-3, abs=1e-3), (what, got, want)


def test_same_lines_tolerates_last_digits_only():
    assert_same_lines(["loss  0.1309  9"], ["loss  0.1308  9"], "a last digit")
    for other in (["loss  0.1408  9"], ["loss  0.1308  8"], ["lose  0.1308  9"], ["loss 0.1308  9"], []):
        with pytest.raises(AssertionError):
            assert_same_lines(other, ["loss  0.1308  9"], "another line")


def test_readme_session_is_real(tmp_path):
    """The README's session, replayed: the same commands on the same files print the same lines (numbers with
    decimals to 1e-3, see assert_same_lines)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Command line\n.*?```console\n(.*?)```", readme, re.S).group(1)
    steps = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", block, re.M)
    make_customers(tmp_path / "customers.csv")
    make_customers(tmp_path / "march.csv", n=300, seed=1)
    shown = dict(steps)
    (tmp_path / "new.csv").write_text(shown["cat new.csv"])
    assert shown["head -3 customers.csv"].splitlines() == (tmp_path / "customers.csv").read_text().splitlines()[:3]
    commands = [(c, out) for c, out in steps if c.startswith("mlp ")]
    assert [c.split()[1] for c, _ in commands] == ["train", "info", "evaluate", "predict", "predict", "export", "train"]
    for command, out in commands:
        r = run(*shlex.split(command)[1:], cwd=tmp_path)
        expected = [line for line in out.splitlines() if not line.startswith("[#")]     # the progress bar: stderr
        if command.startswith("mlp train"):
            printed = (r.stderr if r.returncode else "").splitlines() + r.stdout.splitlines()
        else:           # a terminal shows stderr's notes first (they are written before the predictions)
            printed = r.stderr.splitlines() + r.stdout.splitlines()
        assert_same_lines(printed, expected, command)
        assert r.returncode == (1 if command.endswith("other.mlp") else 0), command
    assert (tmp_path / "march_predictions.csv").read_text().count("\n") == 301
    assert {"churn.onnx", "churn.pt2"} <= set(os.listdir(tmp_path))


# ---------------------------------------------------------------------- bad input

@pytest.fixture
def folder(work, tmp_path):
    """A fresh folder with the CSVs, a trained model and some broken files."""
    src, _ = work
    for name in ("shop.csv", "shop.mlp", "houses.csv"):
        shutil.copy(src / name, tmp_path)
    blob = (src / "shop.mlp").read_bytes()
    (tmp_path / "truncated.mlp").write_bytes(blob[: len(blob) // 2])
    flipped = bytearray(blob)
    flipped[len(blob) // 3] ^= 0xFF
    (tmp_path / "flipped.mlp").write_bytes(bytes(flipped))
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    write_csv(tmp_path / "gaps.csv", ["x1", "x2", "color", "label"],
              [[1, 2, "red", "yes"], [2, "", "blue", "no"], [3, 1, "red", "yes"], [0, 1, "blue", "no"]] * 3)
    write_csv(tmp_path / "one_class.csv", ["x1", "label"], [[i, "yes"] for i in range(20)])
    write_csv(tmp_path / "no_x2.csv", ["x1", "color"], [[1, "red"]])
    write_csv(tmp_path / "text_x1.csv", ["x1", "x2", "color"], [[1, 2, "red"], ["high", 2, "blue"]])
    write_csv(tmp_path / "no_label.csv", ["x1", "x2", "color"], [[1, 2, "red"]])
    (tmp_path / "sub").mkdir()
    return tmp_path


def files(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


TRAIN = ("train", "shop.csv", "--target", "label")
BAD = [
    # (arguments, what the message must say, exit status)
    (("train", "nope.csv", "--target", "label", "--out", "m.mlp"), "nope.csv: no such file", 1),
    (("train", "sub", "--target", "label", "--out", "m.mlp"), "sub: is a folder", 1),
    (("train", "picture.png", "--target", "label", "--out", "m.mlp"), "picture.png: this does not look like a CSV", 1),
    ((*TRAIN[:3], "price", "--out", "m.mlp"), "--target 'price' is not a column of shop.csv; its columns are "
                                               "'x1', 'x2', 'color', 'label'", 1),
    ((*TRAIN, "--features", "x1,size", "--out", "m.mlp"), "--features: 'size' is not in shop.csv", 1),
    ((*TRAIN, "--features", "x1,label", "--out", "m.mlp"), "--features lists the target 'label'", 1),
    ((*TRAIN, "--arch", "[5, 8, 'rleu', 1, 'sigmoid']", "--out", "m.mlp"), "unknown activation 'rleu'. Did you mean 'relu'?", 1),
    ((*TRAIN, "--arch", "[5, 8, 'relu', 1", "--out", "m.mlp"), "Unbalanced brackets", 1),
    ((*TRAIN, "--arch", "[3, 8, 'relu', 1, 'sigmoid']", "--out", "m.mlp"),
     "the network takes 3 input(s) but the features give 5 (x1, x2, color=blue, color=green, color=red)", 1),
    ((*TRAIN, "--arch", "[5, 8, 'relu', 3, 'softmax']", "--out", "m.mlp"),
     "the output layer is 3, 'softmax' but binary classification of 'label' needs 1, 'sigmoid'", 1),
    ((*TRAIN, "--loss", "cce", "--out", "m.mlp"), "--loss cce: Loss 'cce' needs a 'softmax' output layer", 1),
    ((*TRAIN, "--out", "sub"), "--out sub: is a folder", 1),
    ((*TRAIN, "--out", "no/such/m.mlp"), "does not exist", 1),
    (("train", "gaps.csv", "--target", "label", "--out", "m.mlp"), "missing values in 'x2' (3); pass --drop-missing", 1),
    (("train", "one_class.csv", "--target", "label", "--out", "m.mlp"), "one_class.csv: the target has only one class ('yes')", 1),
    ((*TRAIN, "--epochs", "ten", "--out", "m.mlp"), "argument --epochs: 'ten' is not a whole number", 2),
    ((*TRAIN, "--test-size", "1.5", "--out", "m.mlp"), "argument --test-size: 1.5 is not a fraction in [0, 1)", 2),
    ((*TRAIN, "--optimizer", "adamm", "--out", "m.mlp"), "argument --optimizer: invalid choice: 'adamm'", 2),
    (TRAIN, "the following arguments are required: --out", 2),
    (("predict", "missing.mlp", "shop.csv"), "missing.mlp: no such model file", 1),
    (("predict", "truncated.mlp", "shop.csv"), "truncated.mlp: This is not an mlp model file", 1),
    (("predict", "flipped.mlp", "shop.csv"), "flipped.mlp: ", 1),
    (("predict", "shop.csv", "shop.csv"), "shop.csv: This is not an mlp model file", 1),
    (("predict", "picture.png", "shop.csv"), "picture.png: This is not an mlp model file", 1),
    (("predict", "shop.mlp", "no_x2.csv"), "no_x2.csv lacks the column(s) 'x2' that shop.mlp needs", 1),
    (("predict", "shop.mlp", "text_x1.csv"), "text_x1.csv: column 'x1' is not numeric: row 2 holds 'high'", 1),
    (("predict", "shop.mlp", "houses.csv"), "houses.csv lacks the column(s) 'x1', 'x2', 'color' that shop.mlp needs", 1),
    (("predict", "shop.mlp", "shop.csv", "--out", "no/such/p.csv"), "does not exist", 1),
    ((*TRAIN, "--out", "/proc/m.mlp"), "--out /proc/m.mlp: the folder /proc is not writable", 1),  # even for root
    (("predict", "shop.mlp", "shop.csv", "--out", "/proc/p.csv"), "the folder /proc is not writable", 1),
    (("export", "shop.mlp", "--onnx", "/proc/m.onnx"), "--onnx /proc/m.onnx: the folder /proc is not writable", 1),
    (("predict", "shop.mlp", "shop.csv", "--out", "/dev/full"), "cannot write /dev/full: No space left on device", 1),
    (("predict", "shop.mlp", "shop.csv"), None, "> /dev/full"),
    (("evaluate", "shop.mlp", "no_label.csv"), "no_label.csv lacks the column(s) 'label' that shop.mlp needs", 1),
    (("evaluate", "shop.mlp", "gone.csv"), "gone.csv: no such file", 1),
    (("export", "shop.mlp"), "give --onnx FILE and/or --torch FILE", 1),
    (("export", "truncated.mlp", "--onnx", "m.onnx"), "truncated.mlp: This is not an mlp model file", 1),
    (("info", "flipped.mlp"), "flipped.mlp: ", 1),
    (("frobnicate",), "argument COMMAND: invalid choice: 'frobnicate'", 2),
]


def check_refused(r, message, status, before, folder):
    err = r.stderr
    assert r.returncode == status, (r.returncode, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err          # one line
    assert re.match(r"mlp( \w+)?: error: ", err), err
    assert message in err, err
    assert "Traceback" not in err + (r.stdout or "")
    assert files(folder) == before                                     # nothing written, nothing half-written


@pytest.mark.parametrize("args, message, status", BAD, ids=[" ".join(a[:1] + a[-2:]) + f" [{i}]" for i, (a, _, _)
                                                            in enumerate(BAD)])
def test_bad_input_one_line_no_traceback_nothing_written(folder, args, message, status):
    before = files(folder)
    if status == "> /dev/full":     # standard output on a full disk
        with open("/dev/full", "w") as full:
            r = subprocess.run([sys.executable, "-m", "mlp", *args], cwd=folder, env=ENV, stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=600)
        message, status = "mlp predict: error: No space left on device", 1
    else:
        r = run(*args, cwd=folder)
    check_refused(r, message, status, before, folder)
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")     # a device still, not replaced


def test_output_to_a_device_is_written_into_it_not_replaced(folder):
    # a rename onto /dev/stdout or /dev/null would replace them (as root): devices and pipes are written into
    r = run("predict", "shop.mlp", "shop.csv", "--out", "/dev/stdout", cwd=folder)
    assert r.returncode == 0 and r.stdout == run("predict", "shop.mlp", "shop.csv", cwd=folder).stdout
    assert run(*TRAIN, "--epochs", "2", "--out", "/dev/null", cwd=folder).returncode == 0
    assert os.path.islink("/dev/stdout") and not os.path.isfile("/dev/null")
    mlp.load(folder / "shop.mlp").save("/dev/null")
    assert not os.path.isfile("/dev/null")


def test_predict_into_a_pipe_closed_early_stops_quietly(folder):
    # mlp predict MODEL data.csv | head -1: the reader leaves early; Python's "Note on SIGPIPE" recipe: no
    # traceback, no message (exit status 1 when the write fails; a write the kernel cut short ends it with 0)
    rows = [[f"{i % 7:.1f}", f"{i % 5:.1f}", "red", "yes"] for i in range(40000)]      # ~200 kB: more than a pipe holds
    write_csv(folder / "many.csv", ["x1", "x2", "color", "label"], rows)
    for out in ([], ["--out", "/dev/stdout"]):
        for read_first_line in (True, False):     # as head -1; a reader gone before anything was written
            proc = subprocess.Popen([sys.executable, "-m", "mlp", "predict", "shop.mlp", "many.csv", *out],
                                    cwd=folder, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = proc.stdout.readline() if read_first_line else b"label\n"
            proc.stdout.close()
            err = proc.stderr.read().decode()
            status = proc.wait(timeout=600)
            assert first == b"label\n" and err == "", (out, read_first_line, err)
            assert status == 1 if not read_first_line else status in (0, 1), (out, status)
    # train into a closed pipe: the model is trained and saved all the same (its job done: status 0)
    proc = subprocess.Popen([sys.executable, "-m", "mlp", *TRAIN, "--epochs", "3", "--out", "piped.mlp"], cwd=folder,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 0 and "Traceback" not in err and "error" not in err, err
    assert mlp.load(folder / "piped.mlp").history.epochs == [1, 2, 3]
    shell = subprocess.run(f"{shlex.quote(sys.executable)} -m mlp predict shop.mlp many.csv | head -1", shell=True,
                           cwd=folder, env=ENV, capture_output=True, text=True, timeout=600)
    assert shell.stdout == "label\n" and shell.stderr == ""


@pytest.mark.parametrize("missing, args", [
    (["onnx"], ("--onnx", "m.onnx")),
    (["torch"], ("--torch", "m.pt2")),
    (["torch"], ("--onnx", "m.onnx", "--torch", "m.pt2")),     # all or nothing: no ONNX file either
])
def test_export_without_the_optional_package(folder, missing, args):
    before = files(folder)
    r = run_without(missing, "export", "shop.mlp", *args, cwd=folder)
    check_refused(r, f"needs the '{missing[0]}' package, which is not installed: pip install {missing[0]}", 1,
                  before, folder)


def test_a_model_without_preprocessing(tmp_path):
    """A model trained on arrays (no preprocessor): info and export work, predict and evaluate say why not."""
    model = mlp.MLP(seed=0).sequential([3, 4, "tanh", 2, "softmax"]).set_loss("cce")
    model.fit(np.eye(3)[[0, 1, 2, 0]], [0, 1, 1, 0], epochs=2)
    model.save(tmp_path / "bare.mlp")
    write_csv(tmp_path / "rows.csv", ["a", "b", "c"], [[1, 0, 0]])
    r = run("info", "bare.mlp", cwd=tmp_path)
    assert r.returncode == 0 and "no preprocessing: it takes 3 numeric input(s)" in r.stdout
    before = files(tmp_path)
    for command in ("predict", "evaluate"):
        check_refused(run(command, "bare.mlp", "rows.csv", cwd=tmp_path),
                      "bare.mlp has no saved preprocessing (it was trained on arrays, not on a table)", 1, before,
                      tmp_path)
    r = run("export", "bare.mlp", "--onnx", "bare.onnx", cwd=tmp_path)
    assert r.returncode == 0 and "outputs 'output'\n" in r.stdout


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def fail(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")
    with pytest.raises(cli.CommandError, match="cannot write .*out.csv: No space left on device"):
        cli._write_atomic(target, fail)
    assert os.listdir(tmp_path) == ["out.csv"] and target.read_text() == "old"
    cli._write_atomic(target, lambda f: f.write(b"new"))
    assert os.listdir(tmp_path) == ["out.csv"] and target.read_text() == "new"


# ---------------------------------------------------------------------- packaging

def test_console_script_is_declared_and_resolves(tmp_path):
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["mlp"].partition(":")
    main = getattr(importlib.import_module(module), name)
    assert callable(main) and main is cli.main
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    # setuptools (the build backend) turns it into the console script `pip install .` creates
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src)
    shutil.copytree(REPO / "mlp", src / "mlp", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("from setuptools import build_meta; import sys; "
            "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=src, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    entry_points = (tmp_path / r.stdout.strip().splitlines()[-1] / "entry_points.txt").read_text()
    assert "[console_scripts]\nmlp = mlp.cli:main" in entry_points


def test_import_mlp_does_not_load_the_command_line():
    code = "import sys, mlp; print(sorted(m for m in ('mlp.cli', 'argparse', 'onnx', 'torch') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr
