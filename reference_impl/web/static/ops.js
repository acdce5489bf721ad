"use strict";
// The operations page: live callbacks, open rooms, codes in use, desk phones.
(() => {
  const main = document.querySelector("main");
  const canHangUp = Boolean(main.dataset.hangup);

  function hangup(id) {
    return fetch(`/api/callbacks/${encodeURIComponent(id)}/hangup`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: "{}" });
  }

  function render(data) {
    $("n-live").textContent = data.callbacks.filter((c) => c.live).length;
    $("n-rooms").textContent = data.rooms.length;
    $("n-codes").textContent = data.codes.length;
    $("n-free").textContent = data.codes_free;
    $("codes").textContent = data.codes.join(", ") || "none";
    fill($("callbacks"), data.callbacks.map((c) => {
      let action = "";
      if (c.live && canHangUp) {
        action = el("button", "small danger", "Hang up phone");
        action.type = "button";
        action.dataset.hangup = c.id;
        action.addEventListener("click", () => hangup(c.id));
      }
      const state = el("span", "pill " + (c.live ? "live" : (c.outcome || "")), c.live ? c.state : c.outcome);
      return row([c.name, c.phone, c.service, state, c.centre || "", c.terminal || "", c.code || "", action]);
    }), "No callbacks yet.", 8);
    fill($("rooms"), data.rooms.map((r) =>
      row([r.room, r.code, r.present.join(" + ") || "nobody yet", r.agent || "", String(r.documents)])), "No open rooms.", 5);
    const reconciled = data.reconciled || [];
    $("restart").hidden = reconciled.length === 0;
    fill($("reconciled"), reconciled.map((r) =>
      row([r.callback, r.was, r.action, r.code || "", `${r.legs_answered}/${r.legs_hung_up}`])),
      "Nothing was left unfinished.", 5);
    fill($("desks"), data.desks.map((d) =>
      row([d.centre, d.number, el("span", "pill " + d.state, d.state), el("strong", "code", d.display || "")])),
      "No desk phones to show.", 4);
  }
  poll(main.dataset.source, render, 1000);
})();
