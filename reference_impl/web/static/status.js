"use strict";
// The person's status page: notices arrive over a websocket; the room opens by itself.
(() => {
  const main = document.querySelector("main");
  const order = ["calling", "connecting", "connected", "room_ready"];
  const failures = new Set(["busy", "no_answer", "rejected", "invalid_number", "no_agent",
                            "no_trunk", "unavailable"]);
  // Once the person answers, the call goes on: cancelling is for before that.
  const answered = new Set(["connecting", "connected", "room_ready"]);
  let opening = null;

  function step(notice) {
    const reached = order.indexOf(notice);
    if (reached < 0) return;
    document.querySelectorAll("#steps li").forEach((li, i) => {
      li.classList.toggle("done", i < reached);
      li.classList.toggle("now", i === reached);
    });
  }

  function told(m) {
    $("headline").textContent = m.text;
    const li = el("li", "", "");
    li.append(el("time", "", clock()), el("span", "", m.text));
    $("log").prepend(li);
    step(m.notice);
    document.body.dataset.notice = m.notice;
    if (answered.has(m.notice) || m.final) $("cancel").hidden = true;
    if (m.at) li.title = m.at;
    if (m.room_url && !opening) {
      const link = el("a", "", "Opening your video room…");
      link.href = m.room_url;
      $("hint").replaceChildren(link);
      opening = setTimeout(() => location.assign(m.room_url), 400);
    }
    if (m.final || answered.has(m.notice)) $("wait").hidden = true;
    if (m.final) {
      clearTimeout(opening);
      $("spinner").classList.add("hidden");
      document.body.classList.add(failures.has(m.notice) ? "failed" : "over");
      $("hint").replaceChildren(el("a", "button", "Request another call"));
      $("hint").firstChild.href = "/";
    }
  }

  const ws = new WebSocket(socketUrl(main.dataset.socket));
  // While the callback waits: its place in the queue and when an advisor is expected.
  function waits(m) {
    $("wait").textContent = m.text;
    $("wait").hidden = !m.text;
    document.body.dataset.position = m.position === null ? "" : String(m.position);
  }

  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "wait") waits(m);
    else if (m.type !== "closed") told(m);
  };
  ws.onclose = () => {
    if (!document.body.classList.contains("over") && !document.body.classList.contains("failed")) {
      $("hint").textContent = "Lost touch with the server: reload this page.";
    }
  };
})();
