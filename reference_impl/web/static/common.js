"use strict";
// Small helpers shared by the pages. Everything a person or agent typed is
// shown with textContent, never as HTML.
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function socketUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

function xsrf() {
  const meta = document.querySelector('meta[name="xsrf"]');
  return meta ? meta.content : "";
}

function clock(seconds) {
  const d = seconds ? new Date(seconds * 1000) : new Date();
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) {
    const td = el("td");
    if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "";
    tr.append(td);
  }
  return tr;
}

function fill(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    const td = el("td", "empty", emptyText);
    td.colSpan = columns;
    tbody.append(el("tr")).append(td);
  }
}

function poll(url, render, every) {
  const tick = () => fetch(url, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null)).then((data) => data && render(data))
    .catch(() => {}).finally(() => setTimeout(tick, every));
  tick();
}
