"""The callback policy in a real browser: the form says a closed service will call at
its opening and offers only open slots; the status page cancels; a second request for
the same number opens the first one's status page. `callback-emu serve` and headless
Chromium, as in tests/test_browser.py; screenshots go to tests/artifacts/."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.test_browser import ROOT, browser, free_port, shot  # noqa: F401  (a fixture)

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
SCENARIO = f"""\
name: browser test - a service closed today, another open
seed: 2
calendar: {{timezone: UTC, calling_hours: null}}
policy: {{dedupe: true}}
services:
  mortgages:
    centres: [madrid]
    label: Mortgages
    holidays: [{TODAY}]
    slots: {{every: 1h, capacity: 3}}
  loans: {{centres: [madrid], label: Loans}}
centres:
  madrid: {{terminals: ["+34910000001"], ring_timeout: 20s}}
profiles:
  people:
    slow: {{answer_delay: {{fixed: 60s}}}}
callbacks:
  - {{at: 0s, service: loans, person: slow}}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--scenario",
         str(scenario), "--db", str(tmp_path / "records.sqlite3"), "--agent-key", "k"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if "operations:" in line:
            break
    else:
        pytest.fail("callback-emu serve did not start:\n" + "".join(printed))
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def fill(page: Any, service: str, phone: str) -> None:
    page.fill("#name", "Ana")
    page.fill("#phone", phone)
    page.select_option("#service", service)
    page.check("input[name=consent]")


def test_the_form_says_when_a_closed_service_calls_and_offers_open_slots(
        server: str, browser: Any) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server + "/")
    page.select_option("#service", "loans")
    assert page.is_hidden("#closed")
    assert page.locator("#schedule option").count() == 2          # as soon as we can, in 2 h
    page.select_option("#service", "mortgages")
    assert page.is_visible("#closed")
    assert "We are closed now; we will call you on" in page.inner_text("#closed")
    slots = page.eval_on_selector_all("#schedule option", "os => os.map(o => o.value)")
    booked = [value for value in slots if value[:2] == "20"]
    assert booked and all(not value.startswith(TODAY) for value in booked)
    assert "3 places left" in page.inner_text("#schedule")
    fill(page, "mortgages", "612 345 601")
    page.select_option("#schedule", booked[2])
    shot(page, "policy-1-form-closed-slots")
    page.click("#submit")
    page.wait_for_url("**/callbacks/*/*")
    page.wait_for_selector("#log li")
    assert page.inner_text("#headline").startswith("We will call you on ")
    page.wait_for_selector("#wait:not([hidden])")
    assert "An advisor should be on the line in about" in page.inner_text("#wait")
    shot(page, "policy-2-status-scheduled")
    page.goto(server + "/")                                         # the slot has one place less
    page.select_option("#service", "mortgages")
    assert "2 places left" in page.inner_text(f"#schedule option[value='{booked[2]}']")
    assert errors == []


def test_the_person_cancels_and_a_repeat_opens_the_first_request(server: str,
                                                                 browser: Any) -> None:  # noqa: F811
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(server + "/")
    fill(page, "loans", "612 345 602")
    page.click("#submit")
    page.wait_for_url("**/callbacks/*/*")
    first = page.url
    page.wait_for_selector("#log li")
    assert "calling you" in page.inner_text("#headline")           # the phone rings for 60 s

    again = browser.new_page()
    again.goto(server + "/")
    fill(again, "loans", "+34 612 345 602")                        # the same number, written so
    again.click("#submit")
    again.wait_for_url("**/callbacks/*/*")
    assert again.url == first                                       # the first one's page

    page.click("#cancel button")
    page.wait_for_selector("text=You cancelled your callback")
    assert page.is_hidden("#cancel")
    shot(page, "policy-3-cancelled")
