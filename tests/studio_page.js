// The studio page's own script (rutts/studio/static/app.js) run by Node against a live studio, in a small
// document of its own: no browser here (no chromium, Playwright or Selenium). Clicks what a person clicks and
// prints what the page then shows, as JSON, for tests/test_studio.py to check.
//   node tests/studio_page.js <studio url> <app.js>
"use strict";
const fs = require("fs");
const [url, script] = process.argv.slice(2);

class Node_ {
  constructor(tag) {
    this.tagName = tag.toUpperCase(); this.children = []; this.parent = null;
    this.dataset = new Proxy({}, {set(t, k, v) { t[k] = String(v); return true; }});  // as a DOM keeps it
    this._text = ""; this.className = ""; this.id = "";
    const node = this;
    this.classList = {
      add(c) { if (!node.classes().includes(c)) node.className = (node.className + " " + c).trim(); },
      remove(c) { node.className = node.classes().filter((x) => x !== c).join(" "); },
    };
  }
  classes() { return this.className.split(/\s+/).filter(Boolean); }
  append(...items) {
    for (const item of items) {
      const child = typeof item === "string" ? Object.assign(new Node_("#text"), {textContent: item}) : item;
      child.parent = this; this.children.push(child);
    }
  }
  get textContent() { return this.tagName === "#TEXT" ? this._text : this._text + this.children.map((c) => c.textContent).join(""); }
  set textContent(value) { this._text = String(value); this.children = []; }
  get lastChild() { return this.children[this.children.length - 1]; }
  replaceWith(node) { const i = this.parent.children.indexOf(this); node.parent = this.parent; this.parent.children[i] = node; }
  remove() { this.parent.children.splice(this.parent.children.indexOf(this), 1); }
  *walk() { yield this; for (const c of this.children) yield* c.walk(); }
}

const root = new Node_("html");
const body = new Node_("body");
root.append(body);
for (const id of ["lesson", "output", "paragraphs", "render", "cancel", "export", "save", "progress", "message",
                  "word", "word-key", "word-reading"]) {
  body.append(Object.assign(new Node_("div"), {id}));
}
global.document = {
  body,
  createElement: (tag) => new Node_(tag),
  getElementById: (id) => { for (const n of root.walk()) if (n.id === id) return n; return null; },
  querySelectorAll: (selector) => {
    const wanted = selector.split(".").filter(Boolean);
    return [...root.walk()].filter((n) => wanted.every((c) => n.classes().includes(c)));
  },
};
const realFetch = fetch;
global.fetch = (path, options) => realFetch(new URL(path, url), options);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, what) {
  for (let i = 0; i < 600; i++) { if (check()) return; await sleep(100); }
  throw new Error("the page never showed " + what);
}

const card = (n) => document.getElementById("p" + n);
const status = (n) => card(n) && card(n).dataset.status;
const part = (n, cls) => [...card(n).walk()].find((x) => x.classes().includes(cls));
const audio = (n) => [...card(n).walk()].find((x) => x.tagName === "AUDIO");

(async () => {
  eval(fs.readFileSync(script, "utf8"));  // eslint-disable-line no-eval
  await until(() => status(5), "five paragraphs");
  document.getElementById("render").onclick();
  await until(() => [1, 2, 3, 4, 5].every((n) => status(n) === "rendered"), "every paragraph rendered");
  const before = [1, 2, 3, 4, 5].map((n) => audio(n).src);
  const vowel = [...part(3, "text").walk()].find((x) => x.dataset.offset === "1");  // the first "о" of "Молоко"
  vowel.onclick();
  await until(() => status(3) === "stale", "paragraph 3 stale");
  const staleStatuses = [1, 2, 3, 4, 5].map(status);
  document.getElementById("render").onclick();
  await until(() => status(3) === "rendered", "paragraph 3 rendered again");
  const after = [1, 2, 3, 4, 5].map((n) => audio(n).src);
  console.log(JSON.stringify({
    staleStatuses, before, after,
    text: part(3, "text").textContent, reading: part(3, "reading").textContent,
    stressed: [...part(3, "text").walk()].filter((x) => x.classes().includes("on")).map((x) => x.textContent),
    message: document.getElementById("message").textContent,
  }));
  process.exit(0);
})().catch((error) => { console.error(error.stack || String(error)); process.exit(1); });
