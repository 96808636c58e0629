"""The Streamlit app's Lessons, Race optimizers and Gradient flow in Chromium against a live server."""
import re

import pytest

from tests.apps.test_app_browser import WAIT, _train_button, browser, page, server  # noqa: F401  (fixtures)
from webapp.core import lessons as LS

pytestmark = pytest.mark.browser
LESSONS = LS.load_lessons()


def _chart(page, title):
    return page.locator(".js-plotly-plot .gtitle", has_text=title).first


def test_lessons_xor_goal_race_and_gradient_flow(server, page):
    page.goto(server)
    _train_button(page).wait_for()
    page.get_by_role("tab", name="Lessons").click()
    entries = page.get_by_role("button", name=re.compile(r"^\d+ · "))
    entries.first.wait_for()
    labels = [t.strip() for t in entries.all_inner_texts()]
    assert len(labels) >= 8 and labels == [le.label for le in LESSONS]
    # opening the XOR lesson puts its data in the address bar and shows its goal
    page.get_by_role("button", name="2 · XOR needs a hidden layer", exact=True).click()
    page.wait_for_url(re.compile(r"[?&]dataset=xor(&|$)"))
    page.get_by_text(re.compile(r"^Goal: test accuracy ≥ 0\.95")).first.wait_for()
    assert "dataset=xor" in page.url
    # Show solution, then Train: Goal reached, the entry gets its ✓, and Gradient flow is among the results
    page.get_by_role("button", name="Show solution", exact=True).click()
    page.wait_for_url(re.compile(r"tanh"))                  # the solution's architecture, in the address
    page.get_by_role("tab", name="Train & results").click()
    _train_button(page).click()
    page.get_by_text("Goal reached", exact=True).first.wait_for()
    _chart(page, "Gradient flow").wait_for()
    page.get_by_role("tab", name="Lessons").click()
    page.get_by_role("button", name="2 · XOR needs a hidden layer ✓", exact=True).wait_for()
    # Race optimizers draws both charts
    page.get_by_role("tab", name="Race optimizers").click()
    page.get_by_role("button", name="Race optimizers", exact=True).click()
    _chart(page, "Optimizer race").wait_for(timeout=2 * WAIT)
    _chart(page, "Loss landscape").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
