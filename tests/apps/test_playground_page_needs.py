"""What the front ends need from the Playground beyond its own tests: the controls chosen from an uploaded CSV
(target, features, task) with their values resolved and their options, and a link with dropout opening as it was."""
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


def test_a_link_with_dropout_opens_its_model_with_the_links_own_architecture():
    """The dropout setting adds dropout layers to the model; the link's architecture (without them) is what the
    opened link shows, and Step goes on with the model the link carried."""
    import numpy as np
    pg = Playground({"n_samples": 100, "arch": "[2, 6, 'tanh', 1, 'sigmoid']", "dropout": 0.1})
    pg.step()
    href = pg.share(base="", mode="fragment")["href"]
    other = Playground()
    assert other.open_link(href)["opened"]
    assert other.settings["arch"] == "[2, 6, 'tanh', 1, 'sigmoid']" and other.settings["dropout"] == 0.1
    np.testing.assert_array_equal(other.model().params, pg.model().params)
    assert other.step()["epoch"] == 2 and not other.notes     # the same run goes on


def test_the_data_names_the_uploaded_file_also_when_it_cannot_be_prepared():
    pg = Playground()
    pg.set_csv(b"a,b,y\n1,,0\n2,3,1\n" * 5, "holes.csv")
    data = pg.data()
    assert not data["ok"] and "Missing values" in data["error"] and data["file"] == "holes.csv"
    pg.update({"drop_missing": True})
    assert pg.data()["ok"] and pg.data()["file"] == "holes.csv"
    pg.update({"source": "builtin"})
    assert pg.data()["file"] is None
