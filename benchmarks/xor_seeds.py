"""How often does the README's XOR example succeed? ([2, 4, 'relu', 1, 'sigmoid'], adam, lr 0.01, 5000 epochs)

    python benchmarks/xor_seeds.py [--seeds 100]

Success: all four predictions on the right side of 0.5.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mlp import MLP  # noqa: E402

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
Y = np.array([[0], [1], [1], [0]], float)


def success_rate(n_seeds, arch=(2, 4, "relu", 1, "sigmoid"), epochs=5000):
    ok = 0
    for seed in range(n_seeds):
        m = MLP(seed=seed).sequential(list(arch)).set_loss("bce").set_optimizer("adam")
        m.fit(X, Y, epochs=epochs, learning_rate=0.01)
        ok += bool(np.all((m.predict(X) >= 0.5) == (Y >= 0.5)))
    return ok / n_seeds


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=100)
    n = ap.parse_args().seeds
    print(f"XOR [2, 4, 'relu', 1, 'sigmoid'], adam, lr 0.01, 5000 epochs: learned for "
          f"{success_rate(n):.0%} of {n} seeds")
