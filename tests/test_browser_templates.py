"""Two services' rooms in a real browser look as their templates say: `callback-emu serve`
(its directory seeded from the scenario into its SQLite file) and headless Chromium.

Two people ask for calls about two services; each person's room shows its
template's title, greeting, logo and colours, and the chat only where the
template has it; the agent joins each room and is offered only that template's
catalogue documents. The pixels say the two rooms differ: the page behind the
cards is each template's background colour. Screenshots of the four rooms go to
tests/artifacts/ (as tests/test_browser.py's do).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from .test_browser import AGENT, ARTIFACTS, PASSWORD, browser, free_port  # noqa: F401

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
Image = pytest.importorskip("PIL.Image", reason="Pillow (matplotlib's) is not installed")

ROOT = Path(__file__).resolve().parent.parent
SIZE = {"width": 1280, "height": 820}
SCENARIO = f"""\
name: browser test - two services, two room templates
seed: 1
services:
  mortgages: {{centres: [madrid], room_template: advisor, label: Mortgages}}
  insurance: {{centres: [madrid], room_template: home_cover, label: Home insurance}}
centres:
  madrid: {{terminals: ["+34910000001", "+34910000002"], ring_timeout: 20s, agent: quick}}
room_templates:
  advisor:
    title: Your mortgage advisor
    greeting: "Welcome! Your advisor will go through the rates with you."
    colours: {{accent: "#1e40af", background: "#eef2ff", text: "#172554"}}
    logo: {ROOT}/scenarios/serve/logos/mortgages.png
    documents: [rates.png, terms.pdf]
  home_cover:
    title: Home insurance claims
    greeting: "Hello! Keep your policy number at hand."
    colours: {{accent: "#0f766e", background: "#f0fdfa", text: "#134e4a"}}
    logo: {ROOT}/scenarios/serve/logos/insurance.png
    documents: [cover.png]
    chat: false
profiles:
  people:
    quick: {{answer_delay: {{fixed: 300ms}}}}
  agents:
    quick: {{pickup_delay: {{fixed: 300ms}}, talk_time: {{fixed: 30min}}}}
pbx: {{post_dial_delay: {{fixed: 100ms}}}}
callbacks:
  - {{at: 0s, service: mortgages, person: quick}}
"""
LOOKS = {"mortgages": {"template": "advisor", "title": "Your mortgage advisor",
                       "background": (0xEE, 0xF2, 0xFF), "accent": "rgb(30, 64, 175)",
                       "chat": True, "documents": ["rates.png", "terms.pdf"]},
         "insurance": {"template": "home_cover", "title": "Home insurance claims",
                       "background": (0xF0, 0xFD, 0xFA), "accent": "rgb(15, 118, 110)",
                       "chat": False, "documents": ["cover.png"]}}
# What a page shows of its look, read in the page.
SHOWN = """
(() => {
  const logo = document.getElementById('room-logo');
  const css = getComputedStyle(document.documentElement);
  return {title: document.getElementById('room-title').textContent,
          greeting: (document.getElementById('greeting') || {}).textContent || '',
          logo: logo ? logo.naturalWidth : 0,
          accent: getComputedStyle(document.getElementById('greeting')).borderLeftColor,
          brand: css.getPropertyValue('--brand').trim(),
          background: getComputedStyle(document.body).backgroundColor,
          chat: !!document.getElementById('chat-form')};
})()
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`callback-emu serve` on a fresh SQLite file (so it seeds its directory), agents
    signing in with an account made first."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    port, db = free_port(), str(tmp_path / "records.sqlite3")
    subprocess.run([sys.executable, "-m", "emulator.cli", "agents", "add", AGENT,
                    "--password-stdin", "--db", db], input=PASSWORD + "\n", cwd=ROOT,
                   check=True, capture_output=True, text=True, timeout=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--scenario",
         str(scenario), "--db", db], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed = []
    for line in process.stdout:                  # serve prints its URLs once it listens
        printed.append(line)
        if "operations:" in line:
            break
    else:
        pytest.fail("callback-emu serve did not start:\n" + "".join(printed))
    assert any("seeded from" in line for line in printed), printed
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def api(base: str, path: str, method: str = "GET") -> Any:
    """An agent's call on the API (HTTP Basic, the account's name and password)."""
    basic = base64.b64encode(f"{AGENT}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(base + path, method=method,
                                     data=b"{}" if method == "POST" else None,
                                     headers={"Authorization": f"Basic {basic}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"templates-{name}.png"
    page.screenshot(path=str(path))
    return path


def ask_for_a_call(page: Any, server: str, service: str, phone: str) -> str:
    """Fill the form for `service`; the callback's id once the room has opened."""
    page.goto(server + "/")
    page.fill("#name", "Ana")
    page.fill("#phone", phone)
    page.select_option("#service", service)
    page.check("input[name=consent]")
    page.click("#submit")
    page.wait_for_url("**/callbacks/*/*")
    callback_id = str(page.url.rsplit("/", 2)[1])
    page.wait_for_url("**/room/*", timeout=15_000)
    page.wait_for_selector("#room-title")
    return callback_id


def test_two_services_rooms_look_as_their_templates_say(server: str, browser: Any) -> None:
    errors: list[str] = []
    agent_context = browser.new_context(viewport=SIZE, bypass_csp=True)
    agent = agent_context.new_page()
    agent.on("pageerror", lambda error: errors.append(str(error)))
    agent.goto(server + "/agent")
    agent.fill("#name", AGENT)
    agent.fill("#password", PASSWORD)
    agent.click("#join")
    agent.wait_for_selector("#code")

    seen: dict[str, dict[str, Any]] = {}
    for service, phone in (("mortgages", "612 345 678"), ("insurance", "622 345 679")):
        look = LOOKS[service]
        person = browser.new_context(viewport=SIZE, bypass_csp=True).new_page()
        person.on("pageerror", lambda error: errors.append(str(error)))
        callback_id = ask_for_a_call(person, server, service, phone)
        person.wait_for_function("document.getElementById('room-logo').naturalWidth > 0")
        shown = person.evaluate(SHOWN)
        assert (shown["title"], shown["chat"], shown["accent"]) == (
            look["title"], look["chat"], look["accent"]), shown
        assert shown["greeting"] and shown["logo"] > 0
        assert person.title().startswith(look["title"])
        seen[service] = shown

        # The agent types the code off the desk phone and lands in the same room, offered
        # only the template's documents.
        code = api(server, f"/api/callbacks/{callback_id}")["code"]
        agent.goto(server + "/agent")
        agent.fill("#code", code)
        agent.click("#join")
        agent.wait_for_url("**/agent/room/*")
        agent.wait_for_function("document.getElementById('room-logo').naturalWidth > 0")
        offered = agent.eval_on_selector_all("[data-push]", "bs => bs.map(b => b.dataset.push)")
        assert offered == look["documents"]
        assert agent.evaluate(SHOWN)["chat"] is look["chat"]
        assert look["title"] in (agent.text_content(".room-head") or "")
        person.wait_for_function("document.getElementById('remote').videoWidth > 0",
                                 timeout=20_000)          # the agent's video, one way

        # The pixels: beside the cards the page is the template's background colour.
        pixels = Image.open(shot(person, f"{look['template']}-person")).convert("RGB")
        assert pixels.getpixel((8, SIZE["height"] // 2)) == look["background"]
        shot(agent, f"{look['template']}-agent")
        api(server, f"/api/callbacks/{callback_id}/hangup", "POST")   # the person hangs up
        person.wait_for_selector("#closed:not(.hidden)", timeout=10_000)
        person.context.close()

    assert seen["mortgages"]["background"] != seen["insurance"]["background"]
    assert seen["mortgages"]["brand"] == "#1e40af" and seen["insurance"]["brand"] == "#0f766e"
    assert errors == []
