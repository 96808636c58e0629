"""The controls chosen from an uploaded CSV (target, features, task): Playground.controls gives each its value as
it applies (the defaults resolved) and its options, the file's columns, so no front end works them out."""
from webapp.core.playground import Playground
from webapp.core import settings as T

CSV = "a,b,c\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(40)) + "\n"


def _file_rows(pg):
    return {r["name"]: (r["value"], r["options"]) for r in pg.controls("browser") if r["control"] == "file"}


def test_no_file_controls_for_a_builtin_source_and_defaults_resolved_for_a_csv():
    pg = Playground()
    assert _file_rows(pg) == {}
    pg.set_csv(CSV.encode(), "x.csv")
    rows = _file_rows(pg)
    assert rows["target"] == ("c", ["a", "b", "c"])            # the last column
    assert rows["features"] == (["a", "b"], ["a", "b"])         # every other column
    assert rows["task"] == (None, list(T.TASKS))                # None: detected from the target


def test_another_target_leaves_the_features_and_a_chosen_feature_list_stays():
    pg = Playground()
    pg.set_csv(CSV.encode(), "x.csv")
    pg.update({"target": "b"})
    assert _file_rows(pg)["features"] == (["a", "c"], ["a", "c"])
    pg.update({"features": ["a"]})
    assert _file_rows(pg)["features"] == (["a"], ["a", "c"])
    pg.update({"target": "a"})                                   # the target is never a feature
    assert _file_rows(pg)["features"] == ([], ["b", "c"])
    pg.update({"task": "multiclass"})
    assert _file_rows(pg)["task"][0] == "multiclass"
