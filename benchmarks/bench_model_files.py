"""Randomly corrupted model files: how each one is refused.

    python benchmarks/bench_model_files.py [--files 2000] [--seed 0]

Takes a real model file (preprocessing, Adam state, history) and makes N corrupted copies: 1-8 random bytes
flipped, or the file cut short, or both. Each copy is opened with ``mlp.from_bytes`` and counted as refused
with a ``ValueError`` (what should happen), loaded (the damage missed everything that matters; the model must
then predict), or any other exception, by type (the goal: none). tests/adapters/test_io_fuzz.py runs thousands of
targeted corruptions in the suite; this measures 2,000 random files.
"""
import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mlp  # noqa: E402
from mlp.data import Preprocessor, read_csv  # noqa: E402


def model_file():
    text = "height,color,kind\n" + "\n".join(f"{150 + 7 * i % 45},{'red blue green'.split()[i % 3]},"
                                             f"{'tall' if 150 + 7 * i % 45 > 170 else 'short'}" for i in range(60))
    table = read_csv(text)
    pre = Preprocessor(["height", "color"], "kind").fit(table)
    model = mlp.MLP(seed=0).sequential([pre.n_inputs, 8, "relu", pre.n_outputs, pre.output_activation])
    model.set_loss(pre.default_loss).set_optimizer("adam")
    model.fit(pre.transform_X(table), pre.transform_y(table), epochs=5)
    model.preprocessor = pre
    return model.to_bytes()


def corrupt(blob, rng):
    b = bytearray(blob)
    kind = rng.integers(3)
    if kind in (0, 2):
        for pos in rng.integers(0, len(b), rng.integers(1, 9)):
            b[pos] ^= int(rng.integers(1, 256))
    if kind in (1, 2):
        b = b[:int(rng.integers(0, len(b)))]
    return bytes(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    blob, rng = model_file(), np.random.default_rng(args.seed)
    counts = collections.Counter()
    for _ in range(args.files):
        try:
            model = mlp.from_bytes(corrupt(blob, rng))
        except ValueError:
            counts["refused with a ValueError"] += 1
            continue
        except Exception as e:  # what this measures: nothing should land here
            counts[f"raised {type(e).__name__}"] += 1
            continue
        model.predict(np.zeros((1, model.n_inputs)))
        counts["loaded (and predicts)"] += 1
    print(f"{args.files} corrupted copies of a {len(blob):,}-byte model file (seed {args.seed}):")
    for what, n in counts.most_common():
        print(f"  {n:5d}  {what}")
    other = sum(n for what, n in counts.items() if what.startswith("raised"))
    print(f"other exceptions: {other} (goal: 0)")
    return 1 if other else 0


if __name__ == "__main__":
    sys.exit(main())
