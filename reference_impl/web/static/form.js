"use strict";
// The callback form: the "when" choices and the closed-now note follow the service
// picked, so the person reads when we will call before sending the request.
(() => {
  const form = document.querySelector("form[data-times]");
  if (!form) return;
  const times = JSON.parse(form.dataset.times);
  const service = $("service"), schedule = $("schedule"), closed = $("closed");

  function show() {
    const these = times[service.value];
    if (!these) return;
    closed.textContent = these.closed;
    closed.hidden = !these.closed;
    const picked = schedule.value;
    schedule.replaceChildren(...these.choices.map(([value, label]) => {
      const option = el("option", "", label);
      option.value = value;
      option.selected = value === picked;
      return option;
    }));
  }

  service.addEventListener("change", show);
  show();
})();
