"""The Streamlit app in a real browser with the poisson loss: the counts dataset and poisson chosen in the sidebar,
trained, and the downloaded model, opened with `mlp.load`, predicts the app's predictions CSV (counts >= 0)."""
import os
from pathlib import Path

import numpy as np
import pytest

import mlp
from tests.apps.test_app_browser import (_choose, _download, _settled, _train_button, browser, page,  # noqa: F401
                                         server)

pytestmark = pytest.mark.browser


def test_poisson_on_the_counts_dataset_trains_and_the_download_predicts_the_counts(server, page, tmp_path):
    page.goto(server + "?epochs=120&learning_rate=0.01")
    _train_button(page).wait_for()
    _choose(page, "Dataset", "counts")
    _settled(page)
    page.get_by_text("counts: regression of counts").first.wait_for()
    _choose(page, "Loss", "poisson")
    _settled(page)
    page.wait_for_function("() => location.search.includes('loss=poisson')")
    _train_button(page).click()
    page.get_by_role("button", name="Download model", exact=True).wait_for()
    page.get_by_text("Poisson deviance (test)").wait_for()
    page.get_by_text("Fitted curve").first.wait_for()
    assert page.get_by_text("The results below are from run").count() == 0      # the data shown is the run's
    model = mlp.load(_download(page, "Download model", tmp_path / "counts.mlp"))
    assert model.loss == "poisson" and model.preprocessor.target_mode == "count"
    preds = mlp.data.read_csv(_download(page, "Download predictions (CSV)", tmp_path / "pred.csv"))
    assert preds.columns == ["split", "x", "y", "predicted_y"]
    predicted = np.asarray(preds.numeric_column("predicted_y"))
    np.testing.assert_allclose(model.predict_table(preds), predicted, rtol=1e-9)
    assert predicted.min() > 0
    shots = os.environ.get("MLP_SCREENSHOTS")
    if shots:
        page.get_by_text("Poisson deviance (test)").scroll_into_view_if_needed()
        page.screenshot(path=str(Path(shots) / "streamlit_poisson.png"))
