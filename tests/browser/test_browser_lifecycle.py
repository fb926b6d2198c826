"""The browser rig itself: a Chromium that crashes costs one test, and no test leaves pages or contexts open.
The tests run in file order: the first ones break or litter the shared browser, the next ones must not notice."""
from __future__ import annotations

PAGE = "data:text/html,<title>ok</title><p>still here</p>"


def test_a_crash_takes_down_the_shared_browser(browser, desktop):
    desktop.goto(PAGE)
    cdp = browser.new_browser_cdp_session()
    try:
        cdp.send("Browser.crash")
    except Exception:  # noqa: BLE001  (the pipe breaks while the answer is on its way)
        pass


def test_the_next_test_gets_a_working_browser(desktop):
    desktop.goto(PAGE)
    assert desktop.title() == "ok"


def test_a_test_that_leaves_pages_and_contexts_open(browser):
    for _ in range(3):
        browser.new_context().new_page().goto(PAGE)
    assert len(browser.contexts) == 3


def test_nothing_is_left_open_for_the_next_test(browser, phone):
    assert browser.contexts == [phone.context]
    assert phone.context.pages == [phone]
