// A read-only key/value tree of a JSON value, beside the raw JSON of `attributes`.

import { isObject } from "./json.js";

function leaf(value) {
  const span = document.createElement("span");
  if (value === null) {
    span.className = "tree-null";
    span.textContent = "null";
  } else if (typeof value === "string") {
    span.className = "tree-string";
    span.textContent = JSON.stringify(value);
  } else if (typeof value === "object" && !Array.isArray(value)) {
    // An exact number kept as JSON.rawJSON (js/json.js): its own text.
    span.className = "tree-number";
    span.textContent = JSON.stringify(value);
  } else {
    span.className = `tree-${typeof value}`;
    span.textContent = String(value);
  }
  return span;
}

function branch(value) {
  const entries = Array.isArray(value)
    ? value.map((member, index) => [`[${index}]`, member])
    : Object.entries(value);
  if (entries.length === 0) {
    const empty = document.createElement("span");
    empty.className = "tree-null";
    empty.textContent = Array.isArray(value) ? "[] (empty list)" : "{} (no keys)";
    return empty;
  }
  const list = document.createElement("ul");
  list.className = "tree";
  for (const [key, member] of entries) {
    const row = document.createElement("li");
    const name = document.createElement("span");
    name.className = "tree-key";
    name.textContent = key;
    row.append(name, document.createTextNode(": "));
    row.append(isObject(member) || Array.isArray(member) ? branch(member) : leaf(member));
    list.append(row);
  }
  return list;
}

/** Replace ``container``'s content with the tree of ``value`` (a JSON object). */
export function renderTree(container, value) {
  container.replaceChildren(branch(value));
}
