"use strict";
// The agent page: what each emulated desk phone displays; a click on a code fills it in.
(() => {
  const main = document.querySelector("main");
  poll(main.dataset.desks, (desks) => {
    const rows = desks.map((d) => {
      const display = el("button", "display " + d.state, d.display || "—");
      display.type = "button";
      display.disabled = !d.display;
      display.addEventListener("click", () => { $("code").value = d.display; $("code").focus(); });
      return row([d.centre, d.number, el("span", "pill " + d.state, d.state), display]);
    });
    fill($("desks"), rows, "No desk phones.", 4);
  }, 1000);
})();
