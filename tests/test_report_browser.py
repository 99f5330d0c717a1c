"""The report page in a real browser (headless Chromium): every picture loads, every match card
is there, the inline style applies under the page's Content-Security-Policy, nothing is fetched
from outside the report folder, and the page prints.

Needs Chromium (Debian: ``apt-get install chromium``; ``.ci/run`` installs it); skips, saying
so, where there is none.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import evidence_case
from browser import Browser, find_chromium
from photomatch import Matcher
from photomatch.cli import main
from photomatch.evidence import ReportWriter

EXE = find_chromium()
pytestmark = pytest.mark.skipif(EXE is None, reason="no Chromium on this machine (apt-get install chromium, "
                                                    "or set PHOTOMATCH_CHROMIUM to a Chrome/Chromium binary)")


@pytest.fixture(scope="module")
def browser():
    try:
        b = Browser(EXE)
    except (OSError, RuntimeError, TimeoutError) as exc:
        pytest.skip(f"{EXE} is installed but could not start headless: {exc}")
    yield b
    b.close()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return evidence_case.build(tmp_path_factory.mktemp("case"))


def _check_page(browser: Browser, folder: Path, cards: int) -> None:
    browser.open((folder / "report.html").as_uri())
    # pictures load lazily (as they scroll in): ask for each one and wait until it is decoded
    images = browser.evaluate(
        "Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().then("
        "() => [i.getAttribute('src'), i.naturalWidth], () => [i.getAttribute('src'), 0]); }))", await_promise=True)
    assert images, "no pictures on the page"
    broken = [src for src, width in images if width == 0]
    assert broken == []
    assert len(images) == len(list((folder / "img").iterdir()))  # every picture written is shown
    assert browser.evaluate("document.querySelectorAll('article.card').length") == cards
    assert browser.evaluate("getComputedStyle(document.querySelector('.card')).borderTopLeftRadius") == "8px"
    outside = [u for u in browser.requests() if not u.startswith(folder.as_uri() + "/")]
    assert outside == []
    browser.open((folder / "report.html").as_uri())  # afresh: printing must fetch the lazy pictures itself
    pdf = base64.b64decode(browser.call("Page.printToPDF", session=True)["data"])
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 2
    assert pdf.count(b"/Subtype /Image") >= len(images), "pictures missing from the printed page"


def test_cli_report_renders_in_chromium(case, tmp_path, browser):
    folder = tmp_path / "report"
    assert main(["match", str(case.store), str(case.scan), "--report", str(folder)]) == 2
    _check_page(browser, folder, cards=len(case.expected))


def test_report_with_messages_renders_in_chromium(case, tmp_path, browser):
    folder = tmp_path / "report"
    with Matcher(case.store, create=False) as m:
        w = ReportWriter(folder, store=m.store, parameters={"mode": "robust"}, inputs=[str(case.scan)])
        for line in evidence_case.lines(case, m):
            w.add(line)
        w.finish(summary={"messages": 3})
    _check_page(browser, folder, cards=len(case.expected))
    title = browser.evaluate("document.querySelector('article.card h3').textContent")
    assert title == "Neighbourhood group · message 98"  # item 1's earliest message (12:00 UTC, before 13:22 UTC)
