"""CSV reading and preprocessing at library speed: mlp.data against pandas and scikit-learn, side by side.

    python benchmarks/bench_data.py [--rows 200000] [--rounds 5]

Generates its own CSV (200k rows x 22 columns: 19 numeric, 2 categorical and a yes/no label, about 70 MB),
then times, interleaved round by round (so a busy machine slows both sides alike), medians printed:

- ``mlp.data.read_csv(bytes)`` (pandas' C parser inside) vs ``pandas.read_csv(BytesIO(bytes))``;
- the same file through the standard-library reader (``engine="stdlib"``, what Pyodide uses), for reference;
- ``Preprocessor(...).fit(table)`` + ``transform_X`` + ``transform_y`` vs scikit-learn
  ``ColumnTransformer([StandardScaler, OneHotEncoder(handle_unknown="ignore")]).fit_transform`` on the
  DataFrame (+ ``LabelEncoder`` for the label), and the same with the table read by the stdlib reader;
- upload -> trained model as the Streamlit app does it (``webapp.core.session.read_table``, ``csv_preview``,
  ``detect_task``, ``prepare_csv``, ``build_model``, ``train`` with the app's default settings) for a 25 MB CSV.
"""
import argparse
import io
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mlp import data  # noqa: E402

N_NUMERIC = 17


def make_csv(n_rows=200_000, seed=0):
    """CSV bytes: 17 full-precision floats, an integer count, a 3-decimal percentage, 2 categorical columns
    (6 and 40 values) and a yes/no label (a noisy function of num1, num2 and color): 22 columns."""
    rng = np.random.default_rng(seed)
    cols, names, score = [], [], rng.normal(0, 0.5, n_rows)
    for j in range(N_NUMERIC):
        v = rng.normal(j, 1 + j, n_rows)
        if j < 2:
            score += (v - j) / (1 + j)  # the label depends on num1, num2 and color, so a model can learn it
        cols.append([repr(float(x)) for x in v])
        names.append(f"num{j + 1}")
    cols.append([str(int(x)) for x in rng.integers(0, 1000, n_rows)])
    names.append("count")
    cols.append([f"{x:.3f}" for x in rng.uniform(0, 100, n_rows)])
    names.append("pct")
    for name, k in (("color", 6), ("city", 40)):
        cats = np.array([f"{name}_{i}" for i in range(k)])
        idx = rng.integers(0, k, n_rows)
        if name == "color":
            score += np.where(idx < 3, 1.0, -1.0)
        cols.append(cats[idx].tolist())
        names.append(name)
    cols.append(np.array(["no", "yes"])[(score > 0).astype(int)].tolist())
    names.append("label")
    lines = [",".join(names)] + [",".join(r) for r in zip(*cols)]
    return ("\n".join(lines) + "\n").encode()


FEATURES_NUM = [f"num{j + 1}" for j in range(N_NUMERIC)] + ["count", "pct"]
FEATURES_CAT = ["color", "city"]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_read(raw, rounds):
    import pandas as pd

    times = {"mlp": [], "pandas": [], "stdlib": []}
    for r in range(rounds):
        order = [("pandas", lambda: pd.read_csv(io.BytesIO(raw))), ("mlp", lambda: data.read_csv(raw))]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            times[name].append(timed(fn)[0])
        if r < 2:  # the stdlib reader is slow: two rounds are enough to know it
            times["stdlib"].append(timed(lambda: data.read_csv(raw, engine="stdlib"))[0])
    return times


def bench_preprocess(raw, rounds):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

    df = pd.read_csv(io.BytesIO(raw))
    table = data.read_csv(raw)
    table_std = data.read_csv(raw, engine="stdlib")
    feats = FEATURES_NUM + FEATURES_CAT

    def ours(t):
        pre = data.Preprocessor(feats, "label").fit(t)
        return pre.transform_X(t), pre.transform_y(t)

    def sklearn():
        ct = ColumnTransformer([("num", StandardScaler(), FEATURES_NUM),
                                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), FEATURES_CAT)])
        return ct.fit_transform(df), LabelEncoder().fit_transform(df["label"])

    # same numbers (sklearn orders the one-hot columns after all numeric ones, as we do here)
    X, y = ours(table)
    Xs, ys = sklearn()
    assert np.allclose(X, Xs, atol=1e-10) and np.array_equal(y.ravel(), ys), "results differ from scikit-learn"
    times = {"mlp": [], "sklearn": [], "mlp (stdlib-read table)": []}
    for r in range(rounds):
        # a fresh Table each round: its caches (numbers, missing masks) must not carry over
        fresh, fresh_std = data.read_csv(raw), data.read_csv(raw, engine="stdlib") if r < 2 else None
        order = [("sklearn", sklearn), ("mlp", lambda: ours(fresh))]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            times[name].append(timed(fn)[0])
        if fresh_std is not None:
            times["mlp (stdlib-read table)"].append(timed(lambda: ours(fresh_std))[0])
    return times


def bench_upload(target_mb=25, epochs=None):
    """Upload -> trained model through the webapp.core.session calls the Streamlit app makes for an uploaded CSV
    (webapp/app.py: read_table, csv_preview, detect_task on the target, prepare_csv, build_model, train),
    for a CSV of about ``target_mb`` MB, with the app's default settings (``epochs`` to override)."""
    from webapp.core import session

    probe = make_csv(1000, seed=1)
    n = int(1000 * target_mb * 2**20 / len(probe))
    raw = make_csv(n, seed=1)
    while len(raw) > session.MAX_UPLOAD_BYTES:
        n = int(n * 0.98)
        raw = make_csv(n, seed=1)
    steps = {}

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        steps[name] = time.perf_counter() - t
        return out

    import pandas  # noqa: F401  (imported once per server process, by Streamlit itself)

    t0 = time.perf_counter()
    table = step("read_table (read_csv)", lambda: session.read_table(raw))
    preview = step("csv_preview", lambda: session.csv_preview(table))
    target = preview["default_target"]
    step("detect_task(table.column(target)) (as webapp/app.py called it)",
         lambda: session.mdata.detect_task(table.column(target)))
    step("detect_task(table.values(target)) (the array form)", lambda: session.mdata.detect_task(table.values(target)))
    prepared = step("prepare_csv (split, fit, transform)", lambda: session.prepare_csv(table, target))
    # the app's defaults when the README's row was measured (the first Train's are now a slower show: Adam 0.0001,
    # batches of 8, 300 epochs)
    cfg = {**session.DEFAULT_CONFIG, "epochs": 150, "batch_size": 32, "learning_rate": 0.01}
    if epochs is not None:
        cfg["epochs"] = epochs
    model = step("build_model", lambda: session.build_model(cfg, prepared))
    hist = step(f"train ({cfg['epochs']} epochs, batch {cfg['batch_size']}, "
                f"{session.default_architecture(prepared)})", lambda: session.train(model, prepared, cfg))
    steps["total"] = time.perf_counter() - t0
    acc = session.evaluate(model, prepared)["test"].get("accuracy")
    return len(raw), preview["n_rows"], steps, len(hist.history["loss"]) if hasattr(hist, "history") else None, acc


def report(title, times, ref):
    print(f"\n{title}")
    base = statistics.median(times[ref])
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = "" if name == ref else f"  {med / base:.2f}x {ref}"
        print(f"  {name:<28} median {med:7.3f} s  (runs: {', '.join(f'{t:.3f}' for t in ts)}){ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--skip-upload", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="epochs for the upload run (default: the app's)")
    args = ap.parse_args()
    raw = make_csv(args.rows)
    print(f"CSV: {args.rows:,} rows x 22 columns, {len(raw) / 1e6:.1f} MB; {args.rounds} interleaved rounds")
    import pandas
    import sklearn

    print(f"pandas {pandas.__version__}, scikit-learn {sklearn.__version__}, NumPy {np.__version__}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    report("read_csv", bench_read(raw, args.rounds), "pandas")
    report("preprocess: fit + transform_X + transform_y", bench_preprocess(raw, args.rounds), "sklearn")
    if not args.skip_upload:
        size, n_rows, steps, _, acc = bench_upload(epochs=args.epochs)
        print(f"\nupload -> trained model (the webapp.core.session calls the Streamlit app makes), "
              f"{size / 2**20:.1f} MB CSV, {n_rows:,} rows; test accuracy {acc:.3f}")
        for k, v in steps.items():
            print(f"  {k:<75} {v:6.2f} s")


if __name__ == "__main__":
    main()
