"""The whole system in a real browser: `callback-emu serve` and headless Chromium.

A person fills the form; the emulated phone answers; the person's page opens
the room; an agent signs in with an account (made first with `callback-emu
agents add`, as a deployment would; serve runs without demo mode), reads the
code off the emulated desk phone and joins; the agent's camera (Chromium's fake device) plays on the person's page,
one way; chat goes both ways; the agent shares an image; the person's phone is
hung up from the operations page; both pages say the room is closed and the
code is free again. Screenshots of every page go to tests/artifacts/.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AGENT, PASSWORD = "tester", "a long enough passphrase"
ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]

# People answer and agents pick up at once; the talk lasts until the test hangs up.
SCENARIO = """\
name: browser test - everyone answers at once
seed: 1
services:
  mortgages: {centres: [madrid], room_template: advisor, label: Mortgages}
centres:
  madrid: {terminals: ["+34910000001"], ring_timeout: 20s, agent: quick}
profiles:
  people:
    quick: {answer_delay: {fixed: 300ms}}
  agents:
    quick: {pickup_delay: {fixed: 300ms}, talk_time: {fixed: 30min}}
pbx: {post_dial_delay: {fixed: 100ms}}
callbacks:
  - {at: 0s, service: mortgages, person: quick}
"""


# Counts the person's camera requests and keeps the page's peer connections,
# so the test can check that video only ever flows agent -> person.
WATCH_MEDIA = """
window.__cameraAsked = 0;
window.__peers = [];
const askCamera = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (...a) => { window.__cameraAsked++; return askCamera(...a); };
const Peer = window.RTCPeerConnection;
window.RTCPeerConnection = function (...a) { const pc = new Peer(...a); window.__peers.push(pc); return pc; };
window.RTCPeerConnection.prototype = Peer.prototype;
"""

ONE_WAY = """
(() => {
  const pc = window.__peers[window.__peers.length - 1];
  return {camera: window.__cameraAsked,
          directions: pc.getTransceivers().map(t => t.currentDirection),
          sending: pc.getSenders().filter(s => s.track).length};
})()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    port = free_port()
    db = str(tmp_path / "records.sqlite3")
    subprocess.run([sys.executable, "-m", "emulator.cli", "agents", "add", AGENT,
                    "--password-stdin", "--db", db], input=PASSWORD + "\n", cwd=ROOT,
                   check=True, capture_output=True, text=True, timeout=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--scenario",
         str(scenario), "--db", db],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    printed = []
    for line in process.stdout:                  # serve prints its URLs once it listens
        printed.append(line)
        if "operations:" in line:
            break
    else:
        pytest.fail("callback-emu serve did not start:\n" + "".join(printed))
    assert any(f"http://127.0.0.1:{port}/agent" in line for line in printed)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        print(f"SKIPPED: {CHROMIUM} is missing (Debian package chromium; make test installs it)")
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium)")
    # A short folder: Chromium's singleton socket path must fit in 108 bytes.
    home = Path(tempfile.mkdtemp(prefix="cbe-", dir="/tmp"))
    for name, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                      ("TMPDIR", "tmp")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(home / sub))     # Chromium writes there, not in ~
    with playwright.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except playwright.Error as error:
            print(f"SKIPPED: Chromium could not start: {error}")
            pytest.skip(f"Chromium could not start: {error}")
        yield chromium
        chromium.close()
    shutil.rmtree(home, ignore_errors=True)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def api(base: str, path: str) -> Any:
    """An agent's GET on the API (HTTP Basic, the account's name and password)."""
    basic = base64.b64encode(f"{AGENT}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(base + path, headers={"Authorization": f"Basic {basic}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


def test_a_callback_with_one_way_video_chat_and_a_document(server: str, browser: Any) -> None:
    size = {"width": 1280, "height": 820}
    # The pages forbid eval by CSP; the test's own wait_for_function needs it.
    person_context = browser.new_context(viewport=size, bypass_csp=True)
    person_context.add_init_script(WATCH_MEDIA)
    person = person_context.new_page()
    agent_context = browser.new_context(viewport=size, bypass_csp=True)
    agent = agent_context.new_page()
    script_errors: list[str] = []
    for page in (person, agent):
        page.on("pageerror", lambda error: script_errors.append(str(error)))

    # The person asks for a call; a name with markup must show as text.
    person.goto(server + "/")
    shot(person, "1-form")
    person.fill("#name", "Ana <b>Ruiz</b>")
    person.fill("#phone", "612 345 678")
    person.select_option("#service", "mortgages")
    person.check("input[name=consent]")
    person.click("#submit")
    person.wait_for_url("**/callbacks/*/*")              # the status page's link: id, token
    callback_id = person.url.rsplit("/", 2)[1]
    person.wait_for_selector("#log li")
    assert "Ana <b>Ruiz</b>" in (person.text_content(".eyebrow") or "")
    assert "+34612345678" in (person.text_content(".eyebrow") or "")
    shot(person, "2-status")

    # The emulated phones answer; the room opens on the person's page by itself.
    person.wait_for_url("**/room/*", timeout=15_000)

    # The agent signs in, reads the code on the desk phone, and joins.
    agent.goto(server + "/agent")
    agent.fill("#name", AGENT)
    agent.fill("#password", PASSWORD)
    agent.click("#join")
    display = agent.wait_for_selector("button.display.talking:not([disabled])", timeout=10_000)
    code = display.inner_text().strip()
    assert code == api(server, f"/api/callbacks/{callback_id}")["code"]
    shot(agent, "3-agent-desks")
    display.click()
    assert agent.input_value("#code") == code
    agent.click("#join")
    agent.wait_for_url("**/agent/room/*")

    # One-way video: the agent's fake camera plays on the person's page.
    person.wait_for_function("document.getElementById('remote').videoWidth > 0", timeout=20_000)
    assert person.evaluate(ONE_WAY) == {"camera": 0, "directions": ["recvonly"], "sending": 0}
    agent.wait_for_function("document.getElementById('presence').textContent.includes('in the room')")

    # Chat both ways; markup stays text.
    agent.fill("#chat-text", "Hello Ana, I am your advisor.")
    agent.press("#chat-text", "Enter")
    person.wait_for_selector("#messages li.theirs >> text=Hello Ana, I am your advisor.")
    person.fill("#chat-text", "<img src=x onerror=alert(1)> Hi!")
    person.press("#chat-text", "Enter")
    agent.wait_for_selector("#messages li.theirs >> text=Hi!")
    assert "<img src=x onerror=alert(1)> Hi!" in agent.inner_text("#messages li.theirs")
    assert agent.locator("#messages img").count() == 0
    assert "Ana <b>Ruiz</b>" in (agent.text_content("#messages li.theirs .who") or "")

    # The agent shares an image from the catalogue; the person sees it inline.
    agent.click("[data-push='rates.png']")
    person.wait_for_function(
        "(() => { const i = document.querySelector('#docs img'); return i && i.naturalWidth > 0; })()")
    assert api(server, "/api/rooms")["rooms"][0]["documents"] == 1
    shot(person, "4-person-room")
    shot(agent, "5-agent-room")

    # The operations page shows the call; its button hangs up the person's phone.
    ops = agent_context.new_page()
    ops.on("pageerror", lambda error: script_errors.append(str(error)))
    ops.goto(server + "/ops")
    ops.wait_for_selector(f"button[data-hangup='{callback_id}']")
    assert code in ops.inner_text("#codes")
    shot(ops, "6-ops")
    ops.click(f"button[data-hangup='{callback_id}']")

    # Both pages are told the room is closed; the code is free again.
    for page in (person, agent):
        page.wait_for_selector("#closed:not(.hidden)", timeout=10_000)
        assert "closed" in page.inner_text("#closed")
    shot(person, "7-person-room-closed")
    rooms = api(server, "/api/rooms")
    assert rooms["rooms"] == [] and code not in rooms["codes_in_use"]
    record = api(server, f"/api/callbacks/{callback_id}")
    assert (record["outcome"], record["ended_by"], record["agent"]) == ("connected", "person",
                                                                         AGENT)
    assert record["phone"] == "+346•••••678"                   # the API masks the number
    assert "room_ready" in record["notices"] and record["notices"][-1] == "ended"
    assert script_errors == []
