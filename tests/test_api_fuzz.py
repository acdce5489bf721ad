"""The API and the HTML form of a real `callback-emu serve`, fuzzed: never a server error,
and every answer as the served OpenAPI description says.

One `serve` process (the emulated PBX in real time, a SQLite file, an agent's
account made with `callback-emu agents add`, the request limits on) is driven
over loopback HTTP:

- schemathesis reads /api/openapi.json and, for every operation it lists (new
  ones too: nothing here names them), draws requests from the description,
  schema-valid and schema-invalid, with the credentials schemathesis makes up
  and, where the operation asks for them, with a signed-in agent's session and
  with a real callback's id and status token. Each answer must pass
  schemathesis's checks (no 5xx, a documented status, content type, headers
  and body), a schema-valid request may be refused with a 400 only for a
  property the description marks `x-server-checks`, and an answer got with
  credentials must turn into a documented refusal without them;
- hypothesis fills the form at / (the fields the page itself shows, and others)
  and the agent's sign-in form: a page, a redirect or a refusal, never a 500.

Afterwards serve must still take a callback, and its log must hold no
traceback. The cases tried are printed for the README's bad-input table
(`API_FUZZ_EXAMPLES=200` draws more per operation).
"""

from __future__ import annotations

import html.parser
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

ROOT = Path(__file__).resolve().parents[1]
AGENT, PASSWORD = "fuzz.agent", "a long enough passphrase"
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", 15))
TRIED: Counter[str] = Counter()
# Numbers the deployment calls (Spain's fixed and mobile, none of its own desk phones).
GOOD_PHONES = ("+34 612 345 678", "+34 622 345 679", "+34 911 234 567", "+34 632 111 222",
               "+34 642 111 223", "+34 652 111 224")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running `callback-emu serve`: its address, its log, an agent's session cookie."""

    base: str
    log: Path
    session: str
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        """What serve wrote so far (standard output and error)."""
        return self.log.read_text(errors="replace")

    def callback(self, phone: str) -> dict[str, Any]:
        """Ask for a callback through the API: its answer (201)."""
        answer = requests.post(f"{self.base}/api/callbacks", timeout=10, json={
            "phone": phone, "name": "Ana", "service": "mortgages", "consent": True})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "emulator.cli", *args]


def _xsrf(session: requests.Session, url: str) -> str:
    found = re.search(r'name="_xsrf" value="([^"]+)"', session.get(url, timeout=10).text)
    assert found, f"{url} has no xsrf field"
    return found.group(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`callback-emu serve` on a port of its own, with one agent's account, signed in."""
    folder = tmp_path_factory.mktemp("api-fuzz")
    db, log, port = folder / "records.sqlite3", folder / "serve.log", free_port()
    subprocess.run(_command("agents", "add", AGENT, "--password-stdin", "--db", str(db)),
                   input=f"{PASSWORD}\n".encode(), cwd=ROOT, check=True, capture_output=True)
    with log.open("wb") as out:
        process = subprocess.Popen(_command("serve", "--port", str(port), "--db", str(db)),
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, process, log)
        browser = requests.Session()
        signed_in = browser.post(f"{base}/agent", timeout=10, allow_redirects=False, data={
            "name": AGENT, "password": PASSWORD, "_xsrf": _xsrf(browser, f"{base}/agent")})
        assert signed_in.status_code == 303, signed_in.text
        yield Served(base, log, browser.cookies["agent"], process)
    finally:
        process.kill()            # no drain: the test's calls need not end politely
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")


def _wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(f"{base}/api/openapi.json", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("serve did not start: " + log.read_text(errors="replace"))


# -- the API, by its description ------------------------------------------------------

Fixed = dict[str, dict[str, str]]
# Every check schemathesis has, but two that `judge` replaces: a number that cannot be
# called is schema-valid (a 400 naming a field marked x-server-checks), and a callback's
# id without its token is answered 404 (as an unknown id: nobody learns which ids exist)
# or 429 (too many failed sign-ins), not 401 or 403. A body over the size limit is refused
# 413 before it is read: a rejection too.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
CONFIG = schemathesis.Config.from_dict({"checks": {
    "positive_data_acceptance": {"enabled": False}, "ignored_auth": {"enabled": False},
    "negative_data_rejection": {"expected-statuses": REJECTED}}})


def _schemes(operation: Any) -> set[str]:
    """The security schemes an operation accepts (any one of them suffices)."""
    return {name for requirement in operation.definition.raw.get("security", [])
            for name in requirement}


def credentials(operation: Any, served: Served, callback: dict[str, Any]) -> dict[str, Fixed]:
    """The ways to call `operation`: with what schemathesis makes up; as a signed-in agent;
    with a real callback's id (as an agent, or with its status token)."""
    schemes, ways = _schemes(operation), {"made-up credentials": {}}
    agent = {"cookies": {"agent": served.session}}
    real = {"path_parameters": {"id": callback["id"]}}
    if "agentSession" in schemes:
        ways["an agent"] = agent
        if "{id}" in operation.path:
            ways["an agent, a real id"] = {**agent, **real}
    if "statusToken" in schemes and "{id}" in operation.path:
        ways["the status token"] = {**real, "query": {"token": callback["status_token"]}}
    return ways


def server_checked(operation: Any, field: str | None) -> bool:
    """Whether the description marks `field` of the request body `x-server-checks`."""
    content = operation.definition.raw.get("requestBody", {}).get("content", {})
    return any("x-server-checks" in body.get("schema", {}).get("properties", {}).get(field or "", {})
               for body in content.values())


def refusals(operation: Any) -> set[int]:
    """The 4xx statuses an operation's description lists."""
    return {int(code) for code in operation.definition.raw["responses"]
            if code.isdigit() and 400 <= int(code) < 500}


def judge(case: Any, served: Served, way: Fixed, mode: GenerationMode) -> list[str]:
    """Send one case: what is wrong with its answer (nothing, if all is well)."""
    response = case.call(base_url=served.base, timeout=20)
    TRIED[f"api {response.status_code}"] += 1
    problems = []
    try:
        case.validate_response(response)
    except BaseException as failures:            # schemathesis raises a group
        problems.append(str(failures))
    if mode is GenerationMode.POSITIVE and response.status_code == 400:
        field = response.json().get("field")
        if not server_checked(case.operation, field):
            problems.append(f"a schema-valid request refused for {field!r}, which the "
                            f"description does not mark x-server-checks: {response.text}")
    if way and 200 <= response.status_code < 300:
        problems += _without_credentials(case, served, way)
    return [f"{case.operation.label}: {p}\n  {case.as_curl_command()}" for p in problems]


def _without_credentials(case: Any, served: Served, way: Fixed) -> list[str]:
    """The same request without the cookie and token it was sent with: a documented 4xx."""
    bare = case.operation.Case(method=case.method, path_parameters=case.path_parameters,
                               headers={k: v for k, v in (case.headers or {}).items()
                                        if k.lower() not in ("authorization", "x-agent-key",
                                                             "x-status-token", "cookie")},
                               query={k: v for k, v in (case.query or {}).items() if k != "token"},
                               body=case.body, media_type=case.media_type)
    answer = bare.call(base_url=served.base, timeout=20)
    TRIED[f"api {answer.status_code}"] += 1
    if answer.status_code not in refusals(case.operation):
        return [f"answered {answer.status_code} without credentials: {answer.text[:200]}"]
    return []


def run_operation(operation: Any, fixed: Fixed, mode: GenerationMode,
                  check: Callable[[Any], list[str]]) -> list[str]:
    """Up to EXAMPLES cases of `operation` in `mode`: the problems found."""
    found: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def one(case: Any) -> None:
        TRIED["api requests"] += 1
        found.extend(check(case))

    try:
        one()
    except Unsatisfiable:
        pass          # every parameter is fixed: nothing left to make schema-invalid
    return found


def test_every_operation_answers_as_its_description_says(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base}/api/openapi.json", config=CONFIG)
    callback = served.callback(GOOD_PHONES[0])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/callbacks", "GET /api/rooms",
                                               "GET /api/callbacks/{id}"}
    problems: list[str] = []
    for operation in operations:
        for way, fixed in credentials(operation, served, callback).items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                problems += run_operation(operation, fixed, mode,
                                          lambda case: judge(case, served, fixed, mode))
                TRIED["api runs"] += 1
    TRIED["api operations"] = len(operations)
    kinds = Counter(re.sub(r"\s+", " ", problem)[:160] for problem in problems)
    assert not problems, f"{len(problems)} problems: " + "\n".join(
        f"{n} x {kind}" for kind, n in kinds.most_common()) + "\n\nthe first:\n" + problems[0]
    # Still serving: the callback asked for at the start is there, a new one is taken.
    assert requests.get(f"{served.base}/api/callbacks/{callback['id']}", timeout=10,
                        params={"token": callback["status_token"]}).status_code == 200
    served.callback(GOOD_PHONES[1])


METHODS = ("get", "post", "put", "patch", "delete")


def test_what_schemathesis_does_not_send_is_answered_as_described_too(served: Served) -> None:
    """Methods a path does not list (405 and Allow, RFC 9110), and bodies too big for the
    server itself (past the upload limit: never read) or not JSON."""
    description = requests.get(f"{served.base}/api/openapi.json", timeout=10).json()
    cookies = {"agent": served.session}
    for path, item in description["paths"].items():
        url = served.base + re.sub(r"\{[^}]+\}", "x", path)
        listed = {method.upper() for method in item if method in METHODS}
        for method in sorted({m.upper() for m in METHODS} - listed):
            TRIED["api requests"] += 1
            answer = requests.request(method, url, cookies=cookies, timeout=10)
            assert answer.status_code == 405 and answer.json()["error"], (method, path)
            assert set(answer.headers["Allow"].split(", ")) == listed, (path, answer.headers)
        for method, operation in item.items():
            if "requestBody" not in operation:
                continue
            for body, content_type, status in ((b"{" + b" " * 6_000_000 + b"}",
                                                "application/json", 413),
                                               (b"{}", "text/plain", 415)):
                TRIED["api requests"] += 1
                answer = requests.request(method, url, data=body, cookies=cookies, timeout=30,
                                          headers={"Content-Type": content_type})
                documented = {int(code) for code in operation["responses"] if code.isdigit()}
                # A path's own id may be looked up first: an unknown one is a 404 then.
                assert answer.status_code == status or (answer.status_code == 404 and "{" in path
                                                        and len(body) < 1_000_000), \
                    (method, path, len(body), answer.status_code, answer.text[:200])
                assert answer.status_code in documented, (method, path, answer.status_code)
                assert answer.json()["field"] == "body" or answer.status_code == 404


# -- the form ---------------------------------------------------------------------------

class _Fields(html.parser.HTMLParser):
    """The names of a page's form fields, and the options of its selects."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag in ("input", "select", "textarea") and name and name != "_xsrf":
            self.names.append(name)
        if tag == "select":
            self._select = name
        if tag == "option" and self._select is not None:
            self.options.setdefault(self._select, []).append(attributes.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def form_fields(page: str) -> _Fields:
    """The fields of the (first) form of `page`."""
    fields = _Fields()
    fields.feed(page)
    return fields


hostile_text = st.one_of(
    st.text(max_size=60), st.text(st.characters(codec="utf-8"), min_size=200, max_size=3000),
    st.sampled_from(["", " ", "\x00", "+34 612 345 678", "612345678", "+34 803 123 456",
                     "+882 1234 5678", "+34 910 000 001", "<script>alert(1)</script>",
                     "' OR 1=1 --", "yes", "on", "in:-5", "in:1e308", "in:nan",
                     "2999-01-01T00:00+00:00", "2026-12-07T15:00", "\u202egnp.exe", "🙂" * 50]))


@st.composite
def form_posts(draw: st.DrawFn, fields: _Fields) -> dict[str, Any]:
    """A form's fields, each left out, one of its own options, or hostile text; and more."""
    data: dict[str, Any] = {}
    for name in fields.names:
        choice = draw(st.sampled_from(["omit", "own", "text", "twice"]))
        own = fields.options.get(name) or (["yes"] if name == "consent" else ["+34 612 345 678"])
        if choice == "own":
            data[name] = draw(st.sampled_from(own))
        elif choice == "text":
            data[name] = draw(hostile_text)
        elif choice == "twice":
            data[name] = [draw(hostile_text), draw(st.sampled_from(own))]
    data.update(draw(st.dictionaries(st.text(min_size=1, max_size=10), hostile_text,
                                     max_size=3)))
    return data


FORM_STATUSES = {200, 303, 400, 403, 429, 503}


def _post_form(served: Served, browser: requests.Session, path: str, data: dict[str, Any],
               xsrf: str | None, raw: bytes | None = None) -> requests.Response:
    body: Any = raw if raw is not None else {**data, **({"_xsrf": xsrf} if xsrf else {})}
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if raw is not None else {}
    response = browser.post(f"{served.base}{path}", data=body, headers=headers, timeout=20,
                            allow_redirects=False)
    TRIED[f"form {response.status_code}"] += 1
    return response


def _page_answer(response: requests.Response, where: str) -> None:
    """A page (HTML), or a redirect to one of ours; never a 500 or a traceback."""
    assert response.status_code in FORM_STATUSES, (where, response.status_code, response.text)
    if response.status_code == 303:
        assert response.headers["Location"].startswith("/"), response.headers
    else:
        assert response.headers["Content-Type"].startswith("text/html"), response.headers
        assert "Traceback" not in response.text


def test_the_form_never_answers_a_server_error(served: Served) -> None:
    browser = requests.Session()
    page = browser.get(f"{served.base}/", timeout=10).text
    fields = form_fields(page)
    assert {"phone", "name", "service", "consent"} <= set(fields.names), fields.names
    xsrf = _xsrf(browser, f"{served.base}/")

    @settings(max_examples=4 * EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=form_posts(fields), token=st.sampled_from(["right", "right", "right", "none",
                                                           "wrong"]))
    @example(data={"phone": "+34 612 345 678", "name": "Ana", "service": "mortgages",
                   "consent": "yes"}, token="right")
    def one(data: dict[str, Any], token: str) -> None:
        TRIED["form posts"] += 1
        sent = {"right": xsrf, "none": None, "wrong": "2|00|00|00"}[token]
        response = _post_form(served, browser, "/", data, sent)
        _page_answer(response, f"POST / {data}")
        if token != "right":
            assert response.status_code == 403, response.status_code

    one()
    # Raw bodies: not form-encoded, not UTF-8, odd percent-escapes.
    for raw in (b"\xff\xfe\x00", b"phone=%ZZ&name=%", b"=" * 5000, b"a" * 70_000,
                f"_xsrf={xsrf}&phone=%FF%FE&name=%00&service=mortgages&consent=yes".encode()):
        TRIED["form posts"] += 1
        _page_answer(_post_form(served, browser, "/", {}, None, raw=raw), f"POST / {raw[:40]!r}")


def test_the_agents_sign_in_form_never_answers_a_server_error(served: Served) -> None:
    browser = requests.Session()
    fields = form_fields(browser.get(f"{served.base}/agent", timeout=10).text)
    fields.names += ["code", "next", "key"]           # what the page posts once signed in too
    xsrf = _xsrf(browser, f"{served.base}/agent")

    @settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=form_posts(fields))
    def one(data: dict[str, Any]) -> None:
        TRIED["form posts"] += 1
        _page_answer(_post_form(served, browser, "/agent", data, xsrf), f"POST /agent {data}")

    one()


def test_zz_report_the_cases_tried() -> None:
    """Runs last in this file: how many cases each kind tried, and how they were answered."""
    print("\napi fuzz cases:", ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))
    assert TRIED["api requests"] >= 8 * EXAMPLES and TRIED["form posts"] >= 4 * EXAMPLES
