"""The static (Pyodide) page in real Chromium with the poisson loss: chosen on the counts dataset, trained, and the
downloaded model, opened with `mlp.load`, predicts the page's predictions CSV: mean counts, never negative."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import mlp
from tests._browser import READY_MS, open_page, train_in_page, wait_ready
from tests._browser import browser, server, site  # noqa: F401 - fixtures
from tests.static.test_static_browser import _choose, _use_csv, ctx  # noqa: F401 - ctx is a fixture

pytestmark = pytest.mark.browser


def _download(page, selector, path):
    with page.expect_download() as dl:
        page.click(selector)
    dl.value.save_as(path)
    return path


def _check_predictions(page, tmp_path):
    model = mlp.load(_download(page, "#download", tmp_path / "counts.mlp"))
    assert model.loss == "poisson" and model.preprocessor.target_mode == "count"
    table = mlp.data.read_csv(_download(page, "#download-run-predictions", tmp_path / "predictions.csv"))
    predicted = np.asarray(table.numeric_column(table.columns[-1]))
    np.testing.assert_allclose(model.predict_table(table), predicted, rtol=1e-9)
    assert predicted.min() > 0
    return model


def test_poisson_on_the_counts_dataset_and_on_an_uploaded_count_csv(ctx, server, tmp_path):
    page = open_page(ctx, server.url)
    try:
        wait_ready(page)
        _choose(page, "#dataset", "sine")
        assert "poisson" not in page.locator("#loss option").all_inner_texts()
        _choose(page, "#dataset", "counts")
        assert page.locator("#loss option").all_inner_texts() == ["mse", "mae", "huber", "poisson"]
        _choose(page, "#loss", "poisson")
        _choose(page, "#learning_rate", "0.01")
        status = train_in_page(page, epochs=120)
        assert status.startswith("Done: counts"), status
        metrics = page.inner_text("#metrics")
        assert "poisson_deviance" in metrics and "r2" in metrics
        assert page.locator("#pred-chart .main-svg").count() > 0            # the fitted curve
        _check_predictions(page, tmp_path)
        shots = os.environ.get("MLP_SCREENSHOTS")
        if shots:
            page.screenshot(path=str(Path(shots) / "static_poisson.png"), full_page=True)
        # an uploaded count CSV: a regression of counts gets poisson too
        from tests.apps.test_app_poisson import count_csv
        _use_csv(page, "visits.csv", count_csv().decode())
        page.wait_for_selector("#task", state="visible", timeout=15_000)
        _choose(page, "#task", "regression")
        page.wait_for_function("[...document.querySelectorAll('#loss option')].some(o => o.value === 'poisson')",
                               timeout=15_000)
        _choose(page, "#loss", "poisson")
        assert train_in_page(page, epochs=60).startswith("Done: visits.csv"), page.inner_text("#train-status")
        _check_predictions(page, tmp_path)
        assert not page.errors, page.errors
    finally:
        page.close()


def test_a_links_poisson_on_data_that_is_no_count_is_dropped_with_the_note(ctx, server):
    page = open_page(ctx, server.url + "#dataset=sine&loss=poisson")
    try:
        page.wait_for_selector("#link-notes:not([hidden])", timeout=READY_MS)
        assert ("Ignored 'loss=poisson' from the link: the poisson loss is offered only for a regression whose "
                "target is a count (0 or more, e.g. the counts dataset).") in page.inner_text("#link-notes")
        assert page.locator("#loss").input_value() == "mse"
        assert not page.errors, page.errors
    finally:
        page.close()
