"""The ``mlp`` command: train, evaluate, predict, export and inspect models from the shell.

    mlp train data.csv --target species --out iris.mlp
    mlp info iris.mlp
    mlp evaluate iris.mlp test.csv
    mlp predict iris.mlp new.csv --out predictions.csv
    mlp export iris.mlp --onnx iris.onnx --torch iris.pt2

(``python -m mlp ...`` is the same command.) Built on the engine's public API and the standard library only;
onnx and torch are imported inside ``export``, and ``import mlp`` never imports this module.

A user error (a missing file, an unknown column, a malformed architecture, a damaged or foreign model file, a
CSV without the columns the model needs, a missing optional package) ends the command with one line on stderr,
``mlp <command>: error: ...``, and exit status 1 (2 for a command line argparse cannot read); no traceback
(``MLP_DEBUG=1`` shows it). Every file is written under a temporary name in the target's folder and renamed
into place, so a failed command leaves nothing behind.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

EXIT_ERROR = 1
EXIT_USAGE = 2
TASKS = ("binary", "multiclass", "regression")
# training defaults: the apps' (webapp.session.DEFAULT_CONFIG), except no validation rows by default
DEFAULTS = {"optimizer": "adam", "epochs": 150, "lr": 0.01, "batch_size": 32, "validation_split": 0.0,
            "test_size": 0.2, "seed": 0}


class CommandError(Exception):
    """A user error: the command prints its message as one line and exits with status 1."""


# ---------------------------------------------------------------------- small helpers

def _one_line(text):
    return " ".join(str(text).split())


def _read_table(path):
    """A CSV file read with ``mlp.data.read_csv``; errors name the file."""
    from pathlib import Path

    from . import data
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file.")
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a folder, not a CSV file.")
    try:
        table = data.read_csv(Path(path))
    except (ValueError, TypeError) as e:
        raise CommandError(f"{path}: {e}") from None
    if len(table) == 0:
        raise CommandError(f"{path}: the CSV has a header but no data rows.")
    return table


def _load(path):
    """A model file read with ``mlp.load`` (which validates everything and never unpickles)."""
    from . import load
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such model file.")
    try:
        return load(path)
    except (ValueError, TypeError) as e:
        msg = str(e)
        raise CommandError(msg if path in msg else f"{path}: {msg}") from None


def _preprocessor(model, path, what):
    pre = model.preprocessor
    if pre is None:
        raise CommandError(f"{path} has no saved preprocessing (it was trained on arrays, not on a table), so it "
                           f"cannot {what} CSV columns; train it with 'mlp train' or give it a preprocessor.")
    return pre


def _require_columns(table, needed, data_path, model_path):
    lacking = [c for c in needed if c not in table.columns]
    if lacking:
        raise CommandError(f"{data_path} lacks the column(s) {_names(lacking)} that {model_path} needs; it needs "
                           f"{_names(needed)} and the file has {_names(table.columns)}.")


def _names(names):
    return ", ".join(repr(n) for n in names)


def _check_output(path, option):
    """Refuse an output path that cannot be written, before any work is done."""
    if not path:
        raise CommandError(f"{option} needs a file name.")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a folder; give a file name, e.g. {os.path.join(path, 'out')}.")
    from .io import not_a_regular_file, temporary_name
    if not_a_regular_file(path):
        return                        # /dev/stdout, /dev/null, a named pipe: written straight into
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {path}: the folder {folder} does not exist.")
    probe = temporary_name(path)     # (os.access says yes to root in a read-only folder: try it)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.remove(probe)
    except OSError as e:
        raise CommandError(f"{option} {path}: the folder {folder} is not writable ({e.strerror or e}).") from None


def _write_atomic(path, write):
    """``mlp.io.write_file`` (a temporary file renamed onto ``path``; a device or pipe written straight into),
    its errors as one-line messages."""
    from .io import write_file
    try:
        write_file(path, write)
    except BrokenPipeError:
        raise                       # /dev/stdout into a pipe whose reader left: main stops quietly
    except OSError as e:
        raise CommandError(f"cannot write {path}: {e.strerror or e}.") from None


def _fmt(value):
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def _print_metrics(results, class_names, out):
    """``results``: {column title: evaluate() dict}, printed as a table; then the last column's confusion matrix."""
    names = [k for k in next(iter(results.values())) if k != "confusion_matrix"]
    width = max(map(len, names + ["metric"])) + 2
    cols = [max(10, len(t) + 2) for t in results]
    print("".ljust(width) + "".join(t.rjust(w) for t, w in zip(results, cols)), file=out)
    for name in names:
        print(name.ljust(width) + "".join(_fmt(r.get(name, "")).rjust(w) for r, w in zip(results.values(), cols)),
              file=out)
    title, last = list(results.items())[-1]
    cm = last.get("confusion_matrix")
    if cm is not None and class_names:
        labels = [str(c) for c in class_names]
        w = max(map(len, labels + [str(v) for row in cm for v in row])) + 2
        print(f"confusion matrix ({title}; rows: true class, columns: predicted):", file=out)
        print("".ljust(w + 2) + "".join(c.rjust(w) for c in labels), file=out)
        for label, row in zip(labels, cm):
            print("  " + label.ljust(w) + "".join(str(v).rjust(w) for v in row), file=out)


def _note_unseen(pre, table, path, command):
    unseen = pre.unseen_categories(table)
    for col, counts in unseen.items():
        shown = ", ".join(f"{v!r} ({n} row{'s' if n > 1 else ''})" for v, n in list(counts.items())[:5])
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        print(f"mlp {command}: note: {path}: column {col!r} holds categories the training rows did not have: {shown}{more}; "
              "they are encoded as all zeros (that column is ignored for those rows).", file=sys.stderr)


class Progress:
    """A training progress display on a stream (stderr): a bar redrawn in place on a terminal, otherwise
    about ten plain lines. Called after every epoch with the engine's logs; it never stops training."""

    def __init__(self, epochs, stream=None):
        self.epochs, self.stream = epochs, stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.drawn = -math.inf                  # the first epoch is drawn at once
        self.every = max(1, epochs // 10)
        self.width = 0

    def text(self, epoch, logs):
        elapsed = time.perf_counter() - self.start
        parts = [f"epoch {epoch}/{self.epochs}", f"loss {logs['loss']:.4g}"]
        if "val_loss" in logs:
            parts.append(f"val_loss {logs['val_loss']:.4g}")
        left = elapsed / epoch * (self.epochs - epoch)
        parts.append(f"ETA {_duration(left)}" if epoch < self.epochs else f"took {_duration(elapsed)}")
        return "  ".join(parts)

    def __call__(self, epoch, logs):
        if self.tty:
            now = time.perf_counter()
            if now - self.drawn < 0.1 and epoch < self.epochs:
                return None
            self.drawn = now
            text = self.text(epoch, logs)
            columns = shutil.get_terminal_size((80, 24)).columns
            bar = max(10, min(30, columns - len(text) - 4))
            done = round(bar * epoch / self.epochs)
            line = f"[{'#' * done}{'-' * (bar - done)}] {text}"[:columns - 1]
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        elif epoch % self.every == 0 or epoch == self.epochs:
            self.stream.write(self.text(epoch, logs) + "\n")
        self.stream.flush()
        return None

    def close(self, history):
        """End the display, with the reason when training ended before its last epoch."""
        if self.tty and self.width:
            self.stream.write("\n")
        if history.stop_reason:
            epoch = history.epochs[-1] if history.epochs else 0
            self.stream.write(f"stopped at epoch {epoch}: {history.stop_reason}\n")
        self.stream.flush()


def _duration(seconds):
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# ---------------------------------------------------------------------- commands

def _architecture(text):
    """``--arch`` parsed by the engine (nothing is evaluated)."""
    from . import parse_architecture
    try:
        return parse_architecture(text)
    except (ValueError, TypeError) as e:
        raise CommandError(f"--arch {text}: {e}") from None


def _check_fits(specs, pre, text):
    """The architecture's input and output layers must be those the data needs."""
    from . import format_architecture
    n_in = specs[0]["size"]
    out = [s for s in specs if s["type"] == "dense"][-1]
    task = {"binary": "binary classification", "multiclass": f"{pre.n_outputs} classes",
            "regression": "regression"}[pre.task]
    want_act = pre.output_activation
    need = f"[{pre.n_inputs}, ..., {pre.n_outputs}, '{want_act}']"
    if n_in != pre.n_inputs:
        raise CommandError(f"--arch {text}: the network takes {n_in} input(s) but the features give "
                           f"{pre.n_inputs} ({', '.join(pre.feature_names)}); use {need}.")
    ok_act = out["activation"] not in ("sigmoid", "softmax") if pre.task == "regression" else \
        out["activation"] == want_act
    if out["units"] != pre.n_outputs or not ok_act:
        raise CommandError(f"--arch {text}: the output layer is {out['units']}, '{out['activation']}' but "
                           f"{task} of {pre.target!r} needs {pre.n_outputs}, '{want_act}'; use {need}, "
                           f"e.g. {format_architecture(specs[:-1] + [dict(out, units=pre.n_outputs, activation=want_act)])}.")


def cmd_train(args):
    """Read a CSV, split it, fit the preprocessing on the training rows, train, report, save."""
    import mlp
    from mlp import data
    specs = _architecture(args.arch) if args.arch is not None else None
    _check_output(args.out, "--out")
    table = _read_table(args.data)
    columns = table.columns
    if args.target not in columns:
        raise CommandError(f"--target {args.target!r} is not a column of {args.data}; its columns are "
                           f"{_names(columns)}.")
    if args.features:
        features = [f.strip() for item in args.features for f in item.split(",") if f.strip()]
        unknown = [f for f in features if f not in columns]
        if unknown:
            raise CommandError(f"--features: {_names(unknown)} {'is' if len(unknown) == 1 else 'are'} not in "
                               f"{args.data}; its columns are {_names(columns)}.")
        if args.target in features:
            raise CommandError(f"--features lists the target {args.target!r}; leave it out.")
    else:
        features = [c for c in columns if c != args.target]
        if not features:
            raise CommandError(f"{args.data} has only the target column {args.target!r}; it needs feature columns too.")
    used = features + [args.target]
    missing = {c: n for c, n in table.missing_counts().items() if n and c in used}
    if missing and not args.drop_missing:
        raise CommandError(f"{args.data}: missing values in " + ", ".join(f"{c!r} ({n})" for c, n in missing.items())
                           + "; pass --drop-missing to leave those rows out, or fill them in.")
    if missing:
        before = len(table)
        table = table.drop_missing(used)
        print(f"dropped {before - len(table)} of {before} rows with missing values")
        if len(table) == 0:
            raise CommandError(f"{args.data}: every row has a missing value in the used columns.")
    if args.test_size:
        train, test = data.train_test_split(table, test_size=args.test_size, seed=args.seed)
    else:
        train, test = table, None
    try:
        pre = data.Preprocessor(features, args.target, task=args.task,     # poisson: the target is a count
                                target_mode="count" if args.loss == "poisson" else "standard").fit(train)
    except (ValueError, TypeError) as e:
        raise CommandError(f"{args.data}: {e}") from None
    if specs is None:
        specs = mlp.parse_architecture(mlp.default_architecture(pre.n_inputs, pre.n_outputs, pre.task))
    else:
        _check_fits(specs, pre, args.arch)
    model = mlp.MLP(seed=args.seed).sequential(mlp.format_architecture(specs))
    try:
        model.set_loss(args.loss or pre.default_loss)
    except ValueError as e:
        raise CommandError(f"--loss {args.loss}: {e}" if args.loss else str(e)) from None
    model.set_optimizer(args.optimizer)
    X, y = pre.transform_X(train), pre.transform_y(train)
    kind = {"binary": "binary classification", "multiclass": f"{pre.n_outputs}-class classification",
            "regression": "regression"}[pre.task]
    classes = f" ({', '.join(map(str, pre.class_names))})" if pre.class_names else ""
    try:
        print(f"{args.data}: {len(table)} rows, {len(train)} to train" + (f", {len(test)} to test" if test else "")
              + f"; {kind} of {args.target!r}{classes} from {len(features)} column(s), {pre.n_inputs} input(s)")
        print(f"network {mlp.format_architecture(specs)}: {model.n_params:,} parameters, loss {model.loss}, "
              f"optimizer {args.optimizer}, learning rate {args.lr:g}, batch {args.batch_size or 'full'}")
        sys.stdout.flush()
    except BrokenPipeError:      # mlp train ... | head -1: the reader left; the model is trained and saved all the same
        _stdout_to_devnull()
    progress = Progress(args.epochs)
    history = model.fit(X, y, epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size or None,
                        validation_split=args.validation_split, early_stopping=args.early_stopping or None,
                        callbacks=[progress])
    progress.close(history)
    model.preprocessor = pre
    results = {"train": model.evaluate_table(train)}
    if test is not None:
        results["test"] = model.evaluate_table(test)
    _write_atomic(args.out, lambda f: f.write(model.to_bytes()))     # (model.save's bytes), before any more output
    try:
        _print_metrics(results, pre.class_names, sys.stdout)
        print(f"saved {args.out} (network, weights and preprocessing)")
        sys.stdout.flush()
    except BrokenPipeError:      # the reader left: the model is saved, the command did its job
        _stdout_to_devnull()
    return 0


def cmd_predict(args):
    from . import data
    if args.out is not None:
        _check_output(args.out, "--out")
    model = _load(args.model)
    pre = _preprocessor(model, args.model, "read")
    table = _read_table(args.data)
    _require_columns(table, pre.features, args.data, args.model)
    try:
        predictions = model.predict_table(table)
    except (ValueError, TypeError) as e:
        raise CommandError(f"{args.data}: {e}") from None
    _note_unseen(pre, table, args.data, "predict")
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    text = data.to_csv([pre.target], [[v] for v in values])
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write_atomic(args.out, lambda f: f.write(text.encode("utf-8")))
        print(f"wrote {len(values)} prediction(s) of {pre.target!r} to {args.out}", file=sys.stderr)
    return 0


def cmd_evaluate(args):
    model = _load(args.model)
    pre = _preprocessor(model, args.model, "evaluate")
    table = _read_table(args.data)
    _require_columns(table, pre.features + [pre.target], args.data, args.model)
    try:
        result = model.evaluate_table(table)
    except (ValueError, TypeError) as e:
        raise CommandError(f"{args.data}: {e}") from None
    _note_unseen(pre, table, args.data, "evaluate")
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{args.data}: {len(table)} rows")
        _print_metrics({os.path.basename(args.data): result}, pre.class_names, sys.stdout)
    return 0


def _import(name, what):
    try:
        return __import__(name)
    except ImportError:
        raise CommandError(f"{what} needs the '{name}' package, which is not installed: pip install {name}") from None


def cmd_export(args):
    import numpy as np
    if not (args.onnx or args.torch):
        raise CommandError("give --onnx FILE and/or --torch FILE: what to export to.")
    for option, path in (("--onnx", args.onnx), ("--torch", args.torch)):
        if path is not None:
            _check_output(path, option)
    onnx = _import("onnx", "--onnx") if args.onnx else None        # every package first: all or nothing
    torch = _import("torch", "--torch") if args.torch else None
    model = _load(args.model)
    written = []
    if onnx is not None:
        blob = model.to_onnx()
        written.append((args.onnx, lambda f: f.write(blob),
                        "ONNX, raw feature columns in (preprocessing inside), outputs 'output'"
                        + (" and 'prediction'" if model.preprocessor is not None else "")))
    if torch is not None:
        seq = model.to_torch()
        example = torch.from_numpy(np.zeros((2, model.n_inputs), dtype=model.dtype))
        program = torch.export.export(seq, (example,), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},))
        written.append((args.torch, lambda f: torch.export.save(program, f),
                        f"torch.export program (torch.export.load(path).module()), {model.n_inputs} {model.dtype} "
                        "input(s) as predict() takes them"
                        + (" (preprocessed: see mlp info)" if model.preprocessor is not None else "")))
    for path, write, what in written:
        _write_atomic(path, write)
        print(f"wrote {path}: {what}")
    return 0


def cmd_info(args):
    from . import format_architecture
    model = _load(args.model)
    print(f"{args.model}: {format_architecture(model.specs)}")
    print(model.summary())
    history = model.history
    if history is not None and len(history):
        line = f"trained {len(history)} epoch(s); last loss {history['loss'][-1]:.4g}"
        if "val_loss" in history.history:
            line += f", val_loss {history['val_loss'][-1]:.4g}"
        print(line + (f"; stopped: {history.stop_reason}" if history.stop_reason else ""))
    pre = model.preprocessor
    if pre is None:
        print(f"no preprocessing: it takes {model.n_inputs} numeric input(s) as they are (mlp predict and "
              "mlp evaluate need a model trained from a table)")
        return 0
    cfg = pre.to_config()
    kind = {"binary": "binary classification", "multiclass": f"{pre.n_outputs}-class classification",
            "regression": "regression"}[pre.task]
    print(f"predicts {pre.target!r}: {kind}" + (f", classes {_names(pre.class_names)}" if pre.class_names else ""))
    if pre.target_mode == "count":
        print("  trained on the counts as they are (poisson loss: the network gives the log of the rate); "
              "predictions are mean counts")
    if cfg["target_scale"] is not None:
        print(f"  trained on the standardised target (mean {cfg['target_scale']['mean']:.6g}, "
              f"std {cfg['target_scale']['std']:.6g}); predictions are in the target's units")
    print(f"expects the column(s) {', '.join(pre.features)} (a CSV with a header row; other columns are ignored):")
    width = max(len(c) for c in pre.features) + 2
    for e in cfg["encoders"]:
        if e["kind"] == "numeric":
            how = f"number, standardised with mean {e['mean']:.6g}, std {e['std']:.6g}"
        else:
            cats = e["categories"]
            shown = ", ".join(map(repr, cats[:8])) + (f" and {len(cats) - 8} more" if len(cats) > 8 else "")
            how = f"category, one-hot over {shown} (others: all zeros)"
        print(f"  {e['column']:<{width}}{how}")
    if pre.transforms:
        print(f"  derived inputs: {', '.join(pre.transforms)} (computed from {pre.features[0]}, {pre.features[1]})")
    print(f"network inputs ({pre.n_inputs}): {', '.join(pre.feature_names)}")
    return 0


# ---------------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not >= 1")
    return value


def _batch_size(text):
    return 0 if text.strip().lower() in ("full", "0") else _positive_int(text)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1)")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


TRAIN_EXAMPLES = """examples:
  mlp train iris.csv --target species --out iris.mlp
  mlp train houses.csv --target price --features area,rooms,city --epochs 300 --out houses.mlp
  mlp train data.csv --target label --arch "[4, 32, 'relu', 'dropout(0.1)', 16, 'relu', 1, 'sigmoid']" \\
            --optimizer adamw --lr 0.003 --batch-size 64 --validation-split 0.1 --early-stopping 20 --out m.mlp

The CSV needs a header row (delimiter , ; tab or |). The features are standardised (numbers) or one-hot
encoded (text) with statistics of the training rows only; that preprocessing is saved inside the model, so
'mlp predict' takes the raw columns. Without --arch the network is mlp.default_architecture(inputs, outputs,
task): two hidden layers (relu; tanh for regression) of 8 units (binary), 16 (other tasks) or more for many
classes. An --arch list starts with the number of inputs after encoding and ends with the output layer; when
it does not fit the data the error says what it must be. Progress goes to stderr; the metrics to stdout."""

EXAMPLES = {
    "predict": """examples:
  mlp predict iris.mlp new.csv                      # CSV on stdout: a header (the target's name), one row each
  mlp predict iris.mlp new.csv --out predictions.csv

The CSV needs the feature columns the model was trained on (see 'mlp info'); others are ignored. Predictions
are class names, or values in the target's units.""",
    "evaluate": """examples:
  mlp evaluate iris.mlp test.csv
  mlp evaluate houses.mlp test.csv --json

The CSV needs the feature columns and the target column. Classification: loss, accuracy, precision, recall,
f1 (binary, or macro over the classes) and the confusion matrix; regression: loss (on the standardised
target), mae, rmse and r2 in the target's units.""",
    "export": """examples:
  mlp export iris.mlp --onnx iris.onnx
  mlp export iris.mlp --torch iris.pt2

--onnx: an ONNX graph (opset 19) taking the raw feature columns: "X" (float32, the numeric columns in the
model's feature order) and one string input per categorical column; outputs "output" (what predict gives)
and "prediction" (class names or values in the target's units). Needs the onnx package.
--torch: a torch.export program of the network (torch.export.load(path).module()(x)); x holds the network's
inputs as mlp's predict takes them, i.e. already standardised and one-hot encoded (the preprocessing is
shown by 'mlp info'), in the model's dtype, any number of rows. Needs torch.""",
    "info": """examples:
  mlp info iris.mlp

Shows the layers, the training history's end, what the model predicts, the columns it expects and how
each is preprocessed.""",
}


def build_parser():
    """The ``mlp`` argument parser (one subcommand per action)."""
    from . import LOSSES, OPTIMIZERS, __version__
    parser = _Parser(prog="mlp", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Train, evaluate, predict with, export and inspect multi-layer perceptrons "
                                 "(the mlp engine, NumPy only) from CSV files.",
                     epilog="Run 'mlp COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("train", help="train a model on a CSV and save it", formatter_class=raw,
                       description="Train a network on a CSV file and save it (preprocessing inside).",
                       epilog=TRAIN_EXAMPLES)
    p.add_argument("data", metavar="DATA.csv", help="the training data")
    p.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    p.add_argument("--features", action="append", metavar="COLS",
                   help="feature columns, comma-separated (or the option repeated); default: every other column")
    p.add_argument("--task", choices=TASKS, help="override the detected task (e.g. integer ratings as regression)")
    p.add_argument("--arch", metavar="LIST",
                   help="the network in mlp's list syntax, e.g. \"[4, 16, 'relu', 3, 'softmax']\" (default: sized "
                        "from the data)")
    p.add_argument("--loss", choices=sorted(LOSSES), help="default: bce (binary), cce (classes), mse (regression); "
                   "poisson for a count target (0 or more: kept as it is, predictions are mean counts)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=DEFAULTS["optimizer"],
                   help="default: %(default)s")
    p.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"], help="default: %(default)s")
    p.add_argument("--lr", type=_positive_float, default=DEFAULTS["lr"], help="learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=_batch_size, default=DEFAULTS["batch_size"], metavar="N",
                   help="rows per step, or 'full' (default: %(default)s)")
    p.add_argument("--validation-split", type=_fraction, default=DEFAULTS["validation_split"], metavar="F",
                   help="fraction of the training rows held out for val_loss (default: %(default)s)")
    p.add_argument("--early-stopping", type=_positive_int, metavar="PATIENCE",
                   help="stop after this many epochs without a better val_loss (loss without a validation "
                        "split), keeping the best weights")
    p.add_argument("--test-size", type=_fraction, default=DEFAULTS["test_size"], metavar="F",
                   help="fraction of the rows held out for the test metrics; 0: none (default: %(default)s)")
    p.add_argument("--drop-missing", action="store_true", help="drop rows with missing values in the used columns")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seed of the split, the initial weights and the shuffling (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="MODEL.mlp", help="the model file to write")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("predict", help="predict every row of a CSV", formatter_class=raw,
                       description="Predict the target for every row of a CSV, in the target's terms.",
                       epilog=EXAMPLES["predict"])
    p.add_argument("model", metavar="MODEL.mlp")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--out", metavar="FILE", help="write the CSV here (default: stdout)")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("evaluate", help="the metrics of a model on a CSV with the target column",
                       formatter_class=raw, description="Loss and metrics of a model on a labelled CSV.",
                       epilog=EXAMPLES["evaluate"])
    p.add_argument("model", metavar="MODEL.mlp")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("export", help="export a model to ONNX or PyTorch", formatter_class=raw,
                       description="Export a model to ONNX and/or PyTorch.", epilog=EXAMPLES["export"])
    p.add_argument("model", metavar="MODEL.mlp")
    p.add_argument("--onnx", metavar="FILE", help="write an ONNX model here")
    p.add_argument("--torch", metavar="FILE", help="write a torch.export program (.pt2) here")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("info", help="what a model file holds and expects", formatter_class=raw,
                       description="Show a model's layers, preprocessing and the columns it expects.",
                       epilog=EXAMPLES["info"])
    p.add_argument("model", metavar="MODEL.mlp")
    p.set_defaults(run=cmd_info)
    return parser


def _stdout_to_devnull():
    """Python's recipe for a closed stdout pipe (docs.python.org, "Note on SIGPIPE"): what is still to be written
    goes to devnull, so that no later flush (at exit too) raises again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv=None):
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    prog = f"mlp {args.command}"
    try:
        status = args.run(args)
        sys.stdout.flush()              # here, so that a closed pipe is handled below
        return status
    except BrokenPipeError:              # e.g. mlp predict ... | head: the reader left; stop quietly
        _stdout_to_devnull()
        return EXIT_ERROR
    except (CommandError, ValueError, TypeError, ImportError, OSError) as e:
        if os.environ.get("MLP_DEBUG"):
            raise
        if isinstance(e, OSError) and not isinstance(e, CommandError):
            message = f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}"
        else:
            message = str(e)
        sys.stdout.flush()
        print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
