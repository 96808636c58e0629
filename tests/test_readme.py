"""Every ```python block of the README runs as written (a new user copies them)."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    code = BLOCKS[index]
    namespace = {"__name__": "__readme__"}
    exec(compile(code, f"README.md[python block {index}]", "exec"), namespace)  # noqa: S102 - our own README
    if "unseen_categories" in code:
        out = capsys.readouterr().out
        assert "['short', 'tall']" in out and "{'color': {'purple': 1}}" in out
    if "transforms=" in code:  # feature transforms: a linear model separates the circles
        out = capsys.readouterr().out
        assert "['x1', 'x2', 'x1²', 'x2²']\n['1', '0']" in out
    if "target_mode='count'" in code:  # counts: mean counts near the true rates exp(2 sin x)
        model = namespace["model"]
        got = model.predict_table("x\n-1.57\n0\n1.57\n")
        assert got.min() > 0 and abs(got[2] - 7.39) < 1.0 and got[0] < 0.4
    if "X_train" in code and "forward" in code:  # XOR: every prediction on the right side of 0.5
        model, X, y = namespace["model"], namespace["X_train"], namespace["y_train"]
        assert all((model.forward(x)[0] >= 0.5) == bool(t[0]) for x, t in zip(X, y))
