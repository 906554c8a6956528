"use strict";
// The studio page: polls api/state, redraws only the paragraphs that changed, sends edits with the version seen.
const VOWELS = "аеёиоуыэюяАЕЁИОУЫЭЮЯ";
const STATUS = {new: "не озвучен", rendered: "озвучен", stale: "устарел", flagged: "проверить"};
let state = null;
const drawn = new Map();  // paragraph index → the JSON it was drawn from
const editing = new Set();

const $ = (id) => document.getElementById(id);
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function say(text, error = false) {
  $("message").textContent = text || "";
  $("message").className = error ? "error" : "";
}

async function call(action, body = {}) {
  const response = await fetch("api/" + action, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body)});
  const answer = await response.json();
  const before = $("message").textContent;
  if (answer.state) show(answer.state);  // may say how a job ended (one that took no time): keep that line
  if (answer.error || answer.message || $("message").textContent === before) say(answer.error || answer.message, !!answer.error);
  return response.ok;
}

function accented(reading) {  // "мол+око" → "моло́ко"
  return reading.replace(/\+(.)/g, "$1\u0301");
}

function clickableText(p) {
  const box = el("div", {className: "text", title: "щёлкните гласную — ударение на неё"});
  const text = p.text;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "+" && i + 1 < text.length && VOWELS.includes(text[i + 1])) continue;
    if (ch === "\u0301") continue;
    if (VOWELS.includes(ch)) {
      const on = text[i - 1] === "+" || text[i + 1] === "\u0301";
      const span = el("span", {className: "v" + (on ? " on" : ""), textContent: on ? ch + "\u0301" : ch});
      span.dataset.offset = i;
      span.onclick = () => call("stress", {version: state.version, index: p.index, offset: i});
      box.append(span);
    } else {
      box.append(ch);
    }
  }
  return box;
}

function number(label, value, min, max, step, send) {
  const input = el("input", {type: "number", value, min, max, step});
  input.onchange = () => send(parseFloat(input.value));
  return el("label", {}, label + " ", input);
}

function paragraph(p) {
  const card = el("section", {className: "para " + p.status, id: "p" + (p.index + 1)});
  card.dataset.status = p.status;
  const head = el("div", {className: "head"}, el("b", {textContent: "§" + (p.index + 1)}),
    el("span", {className: "badge status", textContent: STATUS[p.status]}),
    el("span", {className: "duration", textContent: p.duration ? p.duration.toFixed(1) + " с" : ""}));
  card.append(head);
  if (editing.has(p.index)) {
    const area = el("textarea", {value: p.text});
    const save = el("button", {textContent: "Сохранить"});
    save.onclick = async () => {
      if (await call("edit", {version: state.version, index: p.index, text: area.value})) {
        editing.delete(p.index); drawn.delete(p.index); show(state);
      }
    };
    const cancel = el("button", {textContent: "Отмена"});
    cancel.onclick = () => { editing.delete(p.index); drawn.delete(p.index); show(state); };
    card.append(area, el("div", {className: "controls"}, save, cancel));
  } else {
    card.append(clickableText(p));
  }
  card.append(el("div", {className: "reading", textContent: "читается: " + accented(p.reading)}));
  const controls = el("div", {className: "controls"});
  if (p.audio) controls.append(el("audio", {controls: true, preload: "none", src: p.audio}));
  const edit = el("button", {textContent: "Править текст"});
  edit.onclick = () => { editing.add(p.index); drawn.delete(p.index); show(state); };
  const take = el("button", {textContent: "Другой дубль", title: "озвучить заново с новым зерном, прежние дубли остаются"});
  take.onclick = () => call("take", {version: state.version, index: p.index});
  controls.append(edit, take,
    number("скорость", p.speed, 0.5, 2, 0.05, (v) => call("edit", {version: state.version, index: p.index, speed: v})),
    number("пауза после, с", p.pause, 0, 5, 0.1, (v) => call("edit", {version: state.version, index: p.index, pause: v})));
  if (p.takes.length > 1) {
    const choose = el("select", {title: "дубли этого текста"});
    p.takes.forEach((t, n) => choose.append(el("option", {value: t.seed, selected: t.current, textContent: "дубль " + (n + 1)})));
    choose.onchange = () => call("choose", {version: state.version, index: p.index, seed: parseInt(choose.value)});
    controls.append(el("label", {}, "дубль ", choose));
  }
  card.append(controls);
  if (p.check) {
    const bad = p.status === "flagged";
    card.append(el("div", {className: "check" + (bad ? " bad" : ""),
      textContent: `распознано: «${p.check.heard}» · ожидалось: «${p.check.meant}» · CER ${p.check.cer.toFixed(2)}`}));
  }
  return card;
}

function show(next) {
  state = next;
  $("lesson").textContent = state.lesson;
  $("output").textContent = state.output;
  const list = $("paragraphs");
  state.paragraphs.forEach((p) => {
    const json = JSON.stringify(p) + editing.has(p.index);
    if (drawn.get(p.index) === json) return;
    drawn.set(p.index, json);
    const card = paragraph(p);
    const old = document.getElementById("p" + (p.index + 1));
    if (old) old.replaceWith(card); else list.append(card);
  });
  while (list.children.length > state.paragraphs.length) { list.lastChild.remove(); drawn.delete(list.children.length); }
  const job = state.job;
  const running = job && job.state === "running";
  $("cancel").disabled = !running;
  $("progress").hidden = !running;
  document.querySelectorAll(".para.working").forEach((n) => n.classList.remove("working"));
  if (running) {
    $("progress").max = Math.max(job.total, 1);
    $("progress").value = job.done;
    if (job.current !== null) $("p" + (job.current + 1))?.classList.add("working");
    say(`${job.kind === "export" ? "экспорт" : "озвучиваю"}: ${job.done} из ${job.total}`);
  } else if (job && job.id !== show.lastJob) {
    show.lastJob = job.id;
    say(job.message, job.state === "failed");
  }
  document.body.dataset.version = state.version;
  document.body.dataset.job = job ? job.state : "none";
}

async function poll() {
  try {
    const response = await fetch("api/state");
    if (response.ok) show(await response.json());
  } catch (error) {
    say("студия не отвечает: она закрыта?", true);
  }
  setTimeout(poll, state && state.job && state.job.state === "running" ? 400 : 1500);
}

$("render").onclick = () => call("render");
$("cancel").onclick = () => call("cancel");
$("export").onclick = () => call("export");
$("save").onclick = () => call("save", {version: state.version});
$("word").onsubmit = (event) => {
  event.preventDefault();
  call("word", {version: state.version, word: $("word-key").value, reading: $("word-reading").value});
};
poll();
