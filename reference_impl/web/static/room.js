"use strict";
// A room page, for the person (receives video) or the agent (sends video).
// Signalling goes over the room's websocket; video is one-way, agent to person:
// the agent's transceiver is sendonly and the person's page never asks for a camera.
// A room whose template has the chat off has no chat panel: the page then shows none.
(() => {
  const main = document.querySelector("main");
  const role = main.dataset.role;
  const other = role === "agent" ? "person" : "agent";
  let ws = null, pc = null, stream = null, closed = false;
  let chain = Promise.resolve();

  const send = (m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

  // -- chat and documents ------------------------------------------------------
  function addMessage(m) {
    if (!$("messages")) return;
    const mine = m.from === role;
    const li = el("li", "msg " + (mine ? "mine" : "theirs"));
    const meta = el("div", "meta");
    meta.append(el("span", "who", mine ? "You" : m.name), el("time", "", clock(m.at)));
    li.append(meta, el("p", "text", m.text));
    $("messages").append(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  function addNote(text) {                        // from the server, to this page only
    if (!$("messages")) return;
    const li = el("li", "msg note", text);
    li.setAttribute("role", "status");
    $("messages").append(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  function addDocument(d) {
    if (document.querySelector(`[data-doc="${CSS.escape(d.id)}"]`)) return;
    $("docs-empty").classList.add("hidden");
    const url = main.dataset.docs + "/" + encodeURIComponent(d.id);
    const li = el("li", "doc " + d.kind);
    li.dataset.doc = d.id;
    if (d.kind === "image") {
      const img = el("img");
      img.src = url;
      img.alt = d.name;
      li.append(img);
    } else {
      const dot = d.name.lastIndexOf(".");
      li.append(el("span", "ext", dot > 0 ? d.name.slice(dot + 1).toUpperCase() : "FILE"));
    }
    const link = el("a", "", d.name);
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    if (d.kind !== "image") link.download = d.name;
    li.append(link);
    $("docs").prepend(li);
  }

  function presence(here) {
    $("live-dot").classList.toggle("live", here);
    $("presence").textContent = role === "agent"
      ? (here ? "The caller is in the room." : "The caller has not opened the room yet.")
      : (here ? "Your advisor is in the room." : "Your advisor has not joined yet.");
  }

  function end(reason) {
    if (closed) return;
    closed = true;
    document.body.classList.add("closed");
    $("closed").textContent = reason + " ";
    if (role === "person") {
      const again = el("a", "", "Request another call");
      again.href = "/";
      $("closed").append(again);
    }
    $("live-dot").classList.remove("live");
    $("presence").textContent = "The call has ended.";
    $("sending").textContent = "Ended";
    $("sending").classList.remove("on");
    $("closed").classList.remove("hidden");
    if ($("chat-text")) $("chat-text").disabled = true;
    document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    if (pc) pc.close();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    const video = $(role === "agent" ? "local" : "remote");
    video.srcObject = null;
    $("overlay").classList.remove("hidden");
    $("overlay").replaceChildren(el("p", "", "The room is closed."));
  }

  // -- WebRTC, one way ---------------------------------------------------------
  function newPeer() {
    if (pc) pc.close();
    pc = new RTCPeerConnection({ iceServers: [] });   // one machine: no STUN or TURN
    pc.onicecandidate = (e) => { if (e.candidate) send({ type: "signal", data: { candidate: e.candidate.toJSON() } }); };
    pc.onconnectionstatechange = () => {
      const up = pc.connectionState === "connected";
      $("sending").textContent = role === "agent" ? (up ? "Sending video" : "Camera on") : (up ? "Live" : "Connecting…");
      $("sending").classList.toggle("on", up);
    };
    return pc;
  }

  async function offer() {                        // the agent offers its camera, send-only
    if (!stream || closed) return;
    const peer = newPeer();
    for (const track of stream.getVideoTracks()) peer.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    await peer.setLocalDescription(await peer.createOffer());
    send({ type: "signal", data: { sdp: peer.localDescription.toJSON() } });
  }

  async function signal(data) {
    if (data.sdp && data.sdp.type === "offer" && role === "person") {
      const peer = newPeer();
      peer.ontrack = (e) => {
        const video = $("remote");
        video.srcObject = e.streams[0] || new MediaStream([e.track]);
        video.play().catch(() => {});
      };
      await peer.setRemoteDescription(data.sdp);
      await peer.setLocalDescription(await peer.createAnswer());
      send({ type: "signal", data: { sdp: peer.localDescription.toJSON() } });
    } else if (data.sdp && data.sdp.type === "answer" && role === "agent" && pc) {
      await pc.setRemoteDescription(data.sdp);
    } else if (data.candidate && pc) {
      await pc.addIceCandidate(data.candidate).catch(() => {});
    }
  }

  // -- the room's messages, handled one at a time -------------------------------
  async function handle(m) {
    switch (m.type) {
      case "joined":
        presence(m.present.includes(other));
        (m.documents || []).forEach(addDocument);
        if (role === "agent") {
          $("overlay").classList.add("hidden");
          if (m.present.includes("person")) await offer();
        }
        break;
      case "waiting":
        $("overlay-text").textContent = "Waiting for the call to be connected…";
        break;
      case "peer":
        if (m.role !== other) break;
        presence(m.present);
        if (m.present && role === "agent") await offer();
        if (!m.present && role === "person") $("overlay").classList.remove("hidden");
        break;
      case "signal": await signal(m.data); break;
      case "chat": addMessage(m); break;
      case "limited": addNote(m.text); break;
      case "document": addDocument(m); break;
      case "closed": end(m.reason); break;
    }
  }

  function connect() {
    ws = new WebSocket(socketUrl(main.dataset.socket));
    ws.onmessage = (ev) => { chain = chain.then(() => handle(JSON.parse(ev.data))).catch((e) => console.error(e)); };
    ws.onclose = () => { chain = chain.then(() => end("Disconnected from the room.")); };
  }

  if ($("chat-form")) $("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("chat-text").value.trim();
    if (text) send({ type: "chat", text });
    $("chat-text").value = "";
  });

  if (role === "person") {
    $("remote").addEventListener("playing", () => $("overlay").classList.add("hidden"));
    connect();
    return;
  }

  // -- the agent's extras: documents and the camera -----------------------------
  document.querySelectorAll("[data-push]").forEach((b) =>
    b.addEventListener("click", () => send({ type: "push", name: b.dataset.push })));

  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    const error = $("upload-error");
    error.classList.add("hidden");
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    const r = await fetch(main.dataset.upload, { method: "POST", body, headers: { "X-XSRFToken": xsrf() } })
      .catch(() => null);
    if (!r || !r.ok) {
      const answer = r ? await r.json().catch(() => ({})) : {};
      error.textContent = answer.error || "The file could not be shared.";
      error.classList.remove("hidden");
    } else {
      $("upload-file").value = "";
    }
  });

  navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false })
    .then((s) => { stream = s; $("local").srcObject = s; $("sending").textContent = "Camera on"; })
    .catch(() => { $("sending").textContent = "No camera"; })
    .finally(connect);
})();
