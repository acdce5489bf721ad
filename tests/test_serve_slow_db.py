"""`serve` while another program holds the SQLite file's lock for 10 s, with calls made
before and during it: the pages and the API keep answering at once (record writes wait
in the write-behind queue, off the event loop), no request gets a 500, a request taken
during the lock is acknowledged only once its record is on disk and only then dialled
(so a client that retries never rings the person twice), and nothing is lost. Real
processes, real HTTP, real SQLite, the emulated PBX in real time."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tests.test_serve_restart import SCENARIO, Serve, records

LOCK = 10.0              # s another writer holds the database (the outside tester's figure)


def test_a_database_locked_for_10_s_slows_no_page_and_loses_no_request(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    serve = Serve(tmp_path)
    try:
        first_status, first = serve.request("/api/callbacks", {
            "phone": "+34612345601", "name": "Ana", "service": "talk", "consent": True})
        assert first_status == 201, first
        status_page = f"/api/callbacks/{first['id']}?token={first['status_token']}"
        time.sleep(2.5)                                       # connected, in the file
        holder = sqlite3.connect(tmp_path / "records.db", isolation_level=None, timeout=1)
        holder.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        answer: dict[str, object] = {}

        def ask() -> None:
            answer["status"], answer["body"] = serve.request("/api/callbacks", {
                "phone": "+34612345602", "name": "Ben", "service": "talk", "consent": True})
            answer["after"] = time.monotonic() - locked_at

        asking = threading.Thread(target=ask)
        asking.start()
        slowest, statuses = 0.0, []
        while time.monotonic() - locked_at < LOCK:
            for path in (status_page, "/api/openapi.json", "/metrics"):
                started = time.monotonic()
                try:
                    status, _ = serve.request(path)
                except ValueError:                           # /metrics is text, not JSON
                    status = 200
                slowest = max(slowest, time.monotonic() - started)
                statuses.append(status)
            assert "status" not in answer, "acknowledged while its record could not be stored"
            time.sleep(0.2)
        holder.execute("ROLLBACK")
        holder.close()
        asking.join(40)
        assert set(statuses) == {200}, sorted(set(statuses))
        assert slowest < 1.0, f"a GET took {slowest:.2f} s while the database was locked"
        assert answer["status"] == 201, answer                # taken once the file was free
        assert LOCK <= answer["after"] < LOCK + 10           # type: ignore[operator]
        cid = answer["body"]["id"]                            # type: ignore[index]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and records(tmp_path).get(cid, {}).get("state") \
                != "connected":
            time.sleep(0.2)
        stored = records(tmp_path)
        assert stored[cid]["state"] == "connected", stored[cid]   # dialled after, not during
        assert stored[first["id"]]["state"] == "connected"
        assert " 500 " not in serve.output() and "Traceback" not in serve.output()
    finally:
        serve.process.kill()
        serve.process.wait(10)
