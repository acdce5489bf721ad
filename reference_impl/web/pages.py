"""The HTML pages: the form, the status page, the two room pages, the agent and ops pages.

Handlers translate requests into switchboard calls and render templates; the
templates escape everything they print (tornado's autoescape), and the pages'
scripts show chat and names with `textContent` only.
"""

from __future__ import annotations

import json
import re
from typing import Any

import tornado.escape
import tornado.web

from .base import Base
from .documents import UploadRefused, checked_upload, content_disposition
from .limits import RequestRefused, Unavailable, retry_after
from .rooms import Room
from .schedule import ServiceTimes, form_times
from .validation import FieldError, check_request
from .views import desks_view, masked, recent_callbacks, rooms_view

CODE = re.compile(r"^\d{1,12}$")


class Page(Base):
    """An HTML page: renders a template with the app's title."""

    def page(self, template: str, status: int = 200, **values: Any) -> None:
        """Render `template` with the title and `values`, answering `status`."""
        self.set_status(status)
        self.render(template, title=self.app.web.title, **values)

    def gone(self, message: str) -> None:
        """Answer 404 with a page that says `message`."""
        self.page("gone.html", status=404, message=message)


class FormPage(Page):
    """The callback form, at /."""

    def get(self) -> None:
        """Show the empty form."""
        self.form()

    async def post(self) -> None:
        """Start a callback and go to its status page (the existing one's, for a duplicate);
        show the form again if refused."""
        data = {name: self.get_body_argument(name, "") for name in ("phone", "name", "service",
                                                                     "consent", "schedule")}
        try:
            form = check_request(data, self.app.directory, self.app.numbers)
        except FieldError as error:
            self.form(data, error, status=400)
            return
        try:
            callback_id, _ = await self.app.start(form, self.client())
        except RequestRefused as refused:
            self.set_header("Retry-After", retry_after(refused.wait))
            self.form(data, FieldError(refused.field, refused.message), status=429)
            return
        except Unavailable as busy:
            self.set_header("Retry-After", retry_after(busy.wait))
            self.form(data, FieldError("phone", busy.message), status=503)
            return
        self.redirect(f"/callbacks/{callback_id}/{self.app.status_token(callback_id)}",
                      status=303)

    def form(self, values: dict[str, str] | None = None, error: FieldError | None = None,
             status: int = 200) -> None:
        """Render the form with the services, what was typed and the error, if any."""
        services = [(code, s.label or code) for code, s in self.app.directory.services.items()]
        values = values or {}
        times = form_times(self.app.switchboard, self.app.numbers.region)
        chosen = values.get("service", "")
        shown = times.get(chosen) or next(iter(times.values()), ServiceTimes())
        self.page("form.html", status=status, services=services, values=values, error=error,
                  times=shown, all_times=json.dumps(
                      {code: t.as_json() for code, t in times.items()}))


class StatusPage(Page):
    """The person's status page of one callback, at /callbacks/{id}/{token}."""

    def get(self, callback_id: str, token: str = "") -> None:
        """Show the status page; a "gone" page for a callback we do not know or a link
        without its token."""
        record = self.app.switchboard.record(callback_id) \
            if self.app.status_token_valid(callback_id, token) else None
        if record is None:
            self.gone("We do not know that callback request. Please fill the form again.")
            return
        self.page("status.html", callback_id=callback_id, token=token,
                  name=record.form.get("name", ""), phone=record.person_number)


class CancelCallback(Page):
    """The status page's "cancel my callback" button (a form post, xsrf-checked)."""

    def post(self, callback_id: str, token: str) -> None:
        """Cancel, then back to the status page (which tells what happened)."""
        if not self.app.status_token_valid(callback_id, token):
            self.gone("We do not know that callback request. Please fill the form again.")
            return
        self.app.switchboard.cancel(callback_id)
        self.redirect(f"/callbacks/{callback_id}/{token}", status=303)


class PersonRoomPage(Page):
    """The person's video room, reached by the link on their status page."""

    def get(self, token: str) -> None:
        """Show the person's room page; a "gone" page for a closed room or a wrong link."""
        room = self.app.rooms.by_person_token(token)
        if room is None:
            self.gone("This video room is closed, or the link is not right.")
            return
        record = self.app.switchboard.record(room.callback_id)
        self.page("room.html", token=token, name=record.form.get("name", "") if record else "",
                  look=room.look)


class _DocumentBase(Base):
    def serve(self, room: Room | None, doc_id: str) -> None:
        document = room.documents.get(doc_id) if room else None
        if document is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", document.content_type)
        self.set_header("Cache-Control", "no-store")
        # Images are shown inline; anything else is a download, never rendered in our
        # origin. The name in any script, as RFC 6266 and 5987 say (ASCII beside it).
        self.set_header("Content-Disposition",
                        content_disposition(document.name, inline=document.is_image))
        self.finish(document.data)


class PersonDocument(_DocumentBase):
    """A document of a room, for the person (by their room link)."""

    def get(self, token: str, doc_id: str) -> None:
        """Send the document; 404 for a closed room or an unknown document."""
        self.serve(self.app.rooms.by_person_token(token), doc_id)


class AgentOnly(Page):
    """A page for agents only; `ticket_room` finds the call an agent's ticket opens."""

    def prepare(self) -> None:
        """Send a visitor who is not an agent to sign in (a page's GET), or answer 403."""
        if not self.is_agent():
            if self.request.method == "GET" and not self.request.path.endswith(".json"):
                self.redirect(f"/agent?next={tornado.escape.url_escape(self.request.path)}")
            else:
                raise tornado.web.HTTPError(403)

    def ticket_room(self, ticket: str) -> tuple[str | None, Room | None]:
        """The callback an agent's ticket opens and its room; None for what is gone, or
        for another agent's ticket."""
        callback_id = self.app.tickets.callback(ticket, self.agent())
        room = self.app.rooms.of_callback(callback_id) if callback_id else None
        return callback_id, room


class AgentPage(Page):
    """The agent page: sign in (name and password, or demo mode's key), type the code
    shown on the desk phone."""

    def get(self) -> None:
        """Show the agent page."""
        self.agent_page()

    async def post(self) -> None:
        """Sign in if need be, then take the code; 403 for wrong credentials or a code that
        opens nothing, 429 after too many failures."""
        agent = self.agent()
        signing_in = agent is None
        if agent is None:
            agent = await self.credentials()
            if agent is None:
                return
            self.sign_in(agent)
        code = self.get_body_argument("code", "").strip()
        if not code and signing_in:
            self.redirect(self._next(), status=303)      # signing in only
            return
        self.enter(agent, code)

    async def credentials(self) -> str | None:
        """The agent the form's credentials sign in; None (the page answered) if they fail."""
        signin, address = self.app.signin, self.client()
        if signin.demo_mode:
            verdict = signin.key(address, self.get_body_argument("key", ""))
            wrong = "That agent key is not right."
        else:
            verdict = await signin.password(address, self.get_body_argument("name", ""),
                                            self.get_body_argument("password", ""))
            wrong = "That name or password is not right."
        if verdict.wait > 0:
            self.set_header("Retry-After", retry_after(verdict.wait))
            self.agent_page(f"Too many failed sign-ins. Try again in {retry_after(verdict.wait)} s.",
                            429)
            return None
        if verdict.agent is None:
            self.agent_page(wrong, 403)
        return verdict.agent

    def enter(self, agent: str, code: str) -> None:
        """Take a typed code: on to the call's room with a new ticket, or back with why not.
        A code nobody holds and one whose desk phone has not been answered yet get the
        same answer and both count against the agent: the page tells no live codes."""
        limits, address = self.app.attempts, self.client()
        wait = limits.wait(agent, address)
        if wait > 0:
            self.set_header("Retry-After", retry_after(wait))
            self.agent_page(f"Too many wrong codes. Try again in {retry_after(wait)} s.", 429)
            return
        if not CODE.match(code):
            self.agent_page("Type the code shown on your desk phone: digits only.", 400)
            return
        switchboard = self.app.switchboard
        callback_id = switchboard.holder(code)
        if callback_id is None or not switchboard.accepts_code(code) \
                or not switchboard.enter_code(code, agent):
            limits.failed(agent, address)
            self.agent_page("No call is waiting for that code. Pick up the desk phone first, "
                            "then type the code its display shows.", 403)
            return
        ticket = self.app.tickets.issue(callback_id, agent)
        self.redirect(f"/agent/room/{ticket}", status=303)

    def _next(self) -> str:
        target = self.get_argument("next", "/agent")
        return target if target in ("/agent", "/ops") else "/agent"

    def agent_page(self, error: str = "", status: int = 200) -> None:
        """Render the agent page with `error`, if any, answering `status`."""
        self.page("agent.html", status=status, error=error, agent=self.agent(),
                  demo=self.app.signin.demo_mode, next=self._next(),
                  desks=self.app.web.desk_phones is not None)


class AgentLogout(Base):
    """The agent's sign-out."""

    def post(self) -> None:
        """Revoke the agent's session, drop its cookie, and go back to the agent page."""
        self.sign_out()
        self.redirect("/agent", status=303)


class DeskPhones(AgentOnly):
    """What the emulated desk phones show, as JSON, for the agent page."""

    def get(self) -> None:
        """Send each desk phone's number, centre, state and display (none on a real system)."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(desks_view(self.app.web.desk_phones)))


class AgentRoomPage(AgentOnly):
    """The agent's side of a video room, reached by a ticket."""

    def get(self, ticket: str) -> None:
        """Show the agent's room page; a "gone" page once the call has ended."""
        callback_id, room = self.ticket_room(ticket)
        record = self.app.switchboard.record(callback_id) if callback_id else None
        if record is None:
            self.gone("This call has ended.")
            return
        look = self.app.rooms.look_for(
            room, self.app.directory.route(record.service_code).room_template)
        self.page("agent_room.html", ticket=ticket, code=record.code or "",
                  person=record.form.get("name", ""), service=record.service_code, look=look,
                  catalogue=look.pick(self.app.catalogue.names(record.service_code)),
                  max_mb=self.app.web.upload_max_bytes // (1024 * 1024),
                  types=", ".join(sorted(self.app.web.upload_types)))


class AgentDocument(AgentOnly, _DocumentBase):
    """A document of a room, for the agent (by their ticket)."""

    def get(self, ticket: str, doc_id: str) -> None:
        """Send the document; 404 for a closed room or an unknown document."""
        self.serve(self.ticket_room(ticket)[1], doc_id)


class Upload(AgentOnly):
    """An agent shares a file from their computer (multipart; xsrf in a header)."""

    def post(self, ticket: str) -> None:
        """Check the file and share it in the room: 201, or a JSON error saying why not."""
        _, room = self.ticket_room(ticket)
        if room is None:
            return self.answer(404, {"error": "The room is closed."})
        files = self.request.files.get("file")
        if not files:
            return self.answer(400, {"error": "Choose a file to share.", "field": "file"})
        web = self.app.web
        try:
            document = checked_upload(files[0].filename, files[0].body, web.upload_types,
                                      web.upload_max_bytes)
        except UploadRefused as error:
            return self.answer(error.status, {"error": str(error), "field": "file"})
        if not self.app.rooms.push(room, document, web.documents_per_room):
            return self.answer(409, {"error": "This room already holds the most documents it can."})
        self.answer(201, {"id": document.id, "name": document.name})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        """Send `body` as JSON with `status`."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class OpsPage(AgentOnly):
    """The operations page: live and recent callbacks, rooms, codes, desk phones."""

    def get(self) -> None:
        """Show the operations page (its script reads /ops.json)."""
        self.page("ops.html", hangup=self.app.web.hangup is not None)


class OpsData(AgentOnly):
    """The operations page's data, as JSON."""

    def get(self) -> None:
        """Send recent callbacks (numbers masked), rooms, codes and desk phones as JSON."""
        app = self.app
        callbacks = [{"id": r.id, "state": r.state, "outcome": r.outcome, "service": r.service_code,
                      "phone": masked(r.person_number), "name": r.form.get("name", ""),
                      "centre": r.centre, "terminal": r.terminal, "code": r.code,
                      "agent": r.agent or app.tickets.agent(r.id),
                      "failovers": r.failovers, "live": app.switchboard.is_live(r.id),
                      "notice": r.notices[-1] if r.notices else None}
                     for r in recent_callbacks(app.switchboard, app.notices)]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "callbacks": callbacks, "rooms": rooms_view(app.rooms),
            "codes": app.switchboard.codes_in_use(), "codes_free": app.switchboard.codes_free(),
            "desks": desks_view(app.web.desk_phones),
            "reconciled": [{"callback": r.callback_id, "was": r.was, "action": r.action,
                            "code": r.code, "legs_hung_up": r.legs_hung_up,
                            "legs_answered": r.legs_answered} for r in app.reconciled]}))
