// The Items console: hash routes (#/?filters, #/new, #/items/<id>) over one page, behind a
// sign-in. The list's state (filters, page size, the cursor trail) lives in the address, so a
// reload, Back and a shared link show the same page.

import { Api, ApiError } from "./api.js";
import { Auth } from "./auth.js";
import { loadConfig, readSettings } from "./config.js";
import { canonicalJson, hasNullMember, isObject, mergePatch, parseExact, sameJson } from "./json.js";
import { listHash, listStateFromHash } from "./liststate.js";
import { renderTree } from "./tree.js";
import { uploadToBucket } from "./upload.js";

const $ = (id) => document.getElementById(id);

const state = {
  config: {},
  api: null,
  auth: null, // the signed-in session (js/auth.js)
  list: null, // the list state of the address (js/liststate.js)
  nextCursor: null, // the next page's cursor of the page on screen
  listLoading: false,
  listAbort: null, // the AbortController of the list load in flight
  item: null, // the item as last read from the API (null while creating)
  attachmentsCursor: null,
  attachmentsAbort: null,
  attachmentsPoll: null, // the timer that re-reads attachments until an upload is processed
  keepNotice: false, // set by an action that navigates, so its notice survives the route change
  listRequest: 0, // numbers list loads, so a slow answer never overwrites a newer one
  visit: 0, // numbers route changes, so a slow item load never shows on another screen
  routed: null, // the address last routed, so one navigation is handled once
  createAttempt: null, // {key, body}: the Idempotency-Key of a create, reused on its retries
  pendingWrite: null, // a write whose outcome is unknown: {kind, base, fields}
  shownList: null, // the list state whose rows are on screen
  savedSnapshot: null, // the item form as last loaded or saved, to tell unsaved edits
  outcomeAction: null, // what the outcome panel's button does
  leaving: false, // set once the person agreed to drop unsaved edits
};

const VIEWS = ["loading-view", "sign-in-view", "list-view", "item-view"];

// The form inputs that show an error the API names, by field.
const ITEM_FIELDS = {
  name: "item-name",
  description: "item-description",
  status: "item-status",
  tags: "item-tags",
  attributes: "item-attributes",
};
const UPLOAD_FIELDS = { filename: "upload-file", content_type: "upload-file", size: "upload-file" };

// -- small helpers ---------------------------------------------------------------------------

function show(viewId) {
  for (const id of VIEWS) {
    $(id).hidden = id !== viewId;
  }
}

function focusHeading(id) {
  // Moving focus to the new view's heading tells keyboard and screen reader users where they are.
  $(id).focus({ preventScroll: false });
}

function notify(message) {
  $("notice").textContent = message;
}

function formatTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A <time> that stays on one line, the full instant in its datetime and title. */
function timeElement(value) {
  const time = document.createElement("time");
  time.className = "nowrap";
  time.dateTime = value ?? "";
  time.textContent = formatTime(value);
  time.title = value ?? "";
  return time;
}

/**
 * Run ``action`` once at a time for ``button``: a second click while it runs does nothing.
 * aria-disabled rather than disabled, so the button keeps the focus the person gave it.
 */
async function once(button, action, busyLabel) {
  if (button.getAttribute("aria-disabled") === "true") return undefined;
  const label = button.textContent;
  button.setAttribute("aria-disabled", "true");
  if (busyLabel) button.textContent = busyLabel;
  try {
    return await action();
  } finally {
    button.removeAttribute("aria-disabled");
    if (busyLabel) button.textContent = label;
  }
}

function isBusy(button) {
  return button.getAttribute("aria-disabled") === "true";
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function clearErrors(form) {
  for (const element of form.querySelectorAll(".field-error, .form-error")) {
    element.textContent = "";
  }
  for (const element of form.querySelectorAll("[aria-invalid]")) {
    element.removeAttribute("aria-invalid");
  }
}

/**
 * Show an error next to the input of the field it names, or in the form's general slot.
 * Returns the input that got the error, if any, so the caller can focus it.
 */
function showError(error, fields, generalId) {
  const inputId = error instanceof ApiError && error.field ? fields[error.field] : undefined;
  if (inputId) {
    const input = $(inputId);
    input.setAttribute("aria-invalid", "true");
    $(`${inputId}-error`).textContent = error.message;
    input.focus();
    return input;
  }
  $(generalId).textContent = error.message;
  return null;
}

function confirmDialog(title, text, confirmLabel, cancelLabel = "Cancel") {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirmLabel;
  $("confirm-cancel").textContent = cancelLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
    dialog.showModal();
  });
}

function isConnected() {
  return state.api !== null && state.auth?.signedIn;
}

/** Whether the signed-in person may write (an editor); a viewer gets read-only screens. */
function canWrite() {
  return Boolean(state.auth?.person.canWrite);
}

function showIdentity() {
  const signedIn = isConnected();
  $("sign-out").hidden = !signedIn;
  if (!signedIn) {
    $("connection-status").textContent = "";
    return;
  }
  const { username, groups } = state.auth.person;
  const role = canWrite() ? "editor: reads and writes" : "viewer: read only";
  $("connection-status").textContent = `Signed in as ${username} (${role})`;
  document.body.dataset.role = canWrite() ? "editor" : "viewer";
  document.body.dataset.groups = groups.join(" ");
}

/** A viewer sees no control that would write; the API refuses such writes either way. */
function applyRole() {
  const readOnly = !canWrite();
  $("new-item").hidden = readOnly;
  $("upload-form").hidden = readOnly;
  $("save-item").hidden = readOnly;
  for (const id of Object.values(ITEM_FIELDS)) {
    $(id).disabled = readOnly;
  }
  if (readOnly) $("delete-item").hidden = true;
}

// -- sign-in ---------------------------------------------------------------------------------

function renderSignIn(message = "") {
  show("sign-in-view");
  showIdentity();
  $("sign-in-error").textContent = message;
  $("sign-in").disabled = !state.auth?.configured;
  if (!state.auth?.configured) {
    $("sign-in-error").textContent =
      "This console is not configured: its config.json names no API or sign-in.";
  }
  focusHeading("sign-in-title");
}

function signedOut() {
  notify("");
  renderSignIn("You are signed out.");
}

// -- list ------------------------------------------------------------------------------------

const TAGS_SHOWN = 3; // tags shown as chips in a row; the rest behind "+N"

function currentListState() {
  return state.list ?? listStateFromHash("#/");
}

/** Go to a list state: a new history entry (so Back returns), then load it. */
function goToList(changes, { replace = false } = {}) {
  const next = { ...currentListState(), ...changes };
  const hash = listHash(next);
  if (replace) history.replaceState(null, "", hash);
  else history.pushState(null, "", hash);
  route();
}

function tagChip(tag) {
  const chip = document.createElement("button");
  chip.type = "button";
  chip.className = "chip";
  chip.textContent = tag;
  chip.title = `Show items tagged “${tag}”`;
  chip.setAttribute("aria-label", `Filter by tag ${tag}`);
  chip.addEventListener("click", () => {
    $("search").value = "";
    goToList({ tag, q: "", trail: [] });
    $("list-title").focus();
  });
  return chip;
}

function tagsCell(tags) {
  const td = document.createElement("td");
  td.dataset.label = "Tags";
  const box = document.createElement("div");
  box.className = "chips";
  for (const tag of tags.slice(0, TAGS_SHOWN)) box.append(tagChip(tag));
  if (tags.length > TAGS_SHOWN) {
    const more = document.createElement("span");
    more.className = "chip chip-more";
    more.textContent = `+${tags.length - TAGS_SHOWN}`;
    more.title = tags.join(", ");
    more.setAttribute("aria-label", `${tags.length - TAGS_SHOWN} more tags: ${tags.slice(TAGS_SHOWN).join(", ")}`);
    more.setAttribute("role", "note");
    box.append(more);
  }
  td.append(box);
  return td;
}

function itemRow(item) {
  const row = document.createElement("tr");
  const nameCell = document.createElement("td");
  nameCell.className = "name-cell";
  nameCell.dataset.label = "Name";
  const link = document.createElement("a");
  link.href = `#/items/${encodeURIComponent(item.id)}`;
  link.className = "truncate";
  link.textContent = item.name;
  link.title = item.name; // the full name on hover; focus unfolds it (styles.css)
  nameCell.append(link);
  const status = cell(item.status, `status status-${item.status}`);
  status.dataset.label = "Status";
  const updated = document.createElement("td");
  updated.dataset.label = "Updated";
  updated.append(timeElement(item.updated_at));
  const version = cell(String(item.version), "number");
  version.dataset.label = "Version";
  row.append(nameCell, status, tagsCell(item.tags), updated, version);
  return row;
}

function describeFilters(list) {
  const parts = [];
  if (list.q) parts.push(`name starts with “${list.q}”`);
  if (list.tag) parts.push(`tagged “${list.tag}”`);
  if (list.status) parts.push(list.status);
  return parts.join(", ");
}

function showListControls(list) {
  $("search").value = list.q;
  $("status-filter").value = list.status;
  $("page-size").value = String(list.limit);
  const described = describeFilters(list);
  $("active-filters").hidden = !described;
  $("active-filter-text").textContent = described ? `Showing items ${described}.` : "";
  $("page-label").textContent = `Page ${list.trail.length + 1}`;
  $("prev-page").disabled = list.trail.length === 0;
}

function sameFilters(a, b) {
  return Boolean(a && b) && a.q === b.q && a.tag === b.tag && a.status === b.status && a.limit === b.limit;
}

async function renderList(list, { focus = true } = {}) {
  show("list-view");
  if (focus) focusHeading("list-title");
  const previous = state.shownList;
  state.list = list;
  showListControls(list);
  $("list-error-box").hidden = true;
  // Rows of another filter never stay on screen under this one; the same filter's rows stay,
  // dimmed, while its next page loads.
  if (!sameFilters(previous, list)) {
    $("items-body").replaceChildren();
    $("items-table").hidden = true;
    $("empty-list").hidden = true;
  }
  $("items-table").setAttribute("aria-busy", "true");
  $("list-status").textContent = "Loading items…";
  $("next-page").disabled = true;
  state.listAbort?.abort();
  const controller = new AbortController();
  state.listAbort = controller;
  state.listLoading = true;
  const request = ++state.listRequest;
  let result;
  try {
    result = await state.api.listItems({
      limit: list.limit,
      cursor: list.trail.at(-1) ?? null,
      status: list.status,
      tag: list.tag,
      namePrefix: list.q,
      signal: controller.signal,
    });
  } catch (error) {
    if (request !== state.listRequest || error.aborted) return;
    state.listLoading = false;
    $("items-table").removeAttribute("aria-busy");
    $("list-status").textContent = "";
    $("items-body").replaceChildren();
    $("items-table").hidden = true;
    state.shownList = null;
    if (error instanceof ApiError && error.field === "cursor") {
      // A cursor from before a restart, or not of these filters: start again from the first page.
      notify(`${error.message} (showing the first page)`);
      goToList({ trail: [] }, { replace: true });
      return;
    }
    $("list-error").textContent = `The items could not be loaded: ${error.message}`;
    $("list-error-box").hidden = false;
    return;
  }
  if (request !== state.listRequest) return;
  state.listLoading = false;
  state.shownList = list;
  $("items-table").removeAttribute("aria-busy");
  state.nextCursor = result.next_cursor;
  $("items-body").replaceChildren(...result.items.map(itemRow));
  const count = result.items.length;
  $("empty-list").hidden = count > 0;
  // An empty page with a cursor is not "no matches": the API reads a bounded stretch of the
  // listing per page (a long name prefix filters what it reads), and older items may match.
  $("empty-list").textContent = count > 0 ? "" : result.next_cursor
    ? "No matches among the items read for this page; older items may still match. Use Next page to search on."
    : describeFilters(list)
      ? "No items match these filters."
      : "No items here.";
  $("items-table").hidden = count === 0;
  $("next-page").disabled = !result.next_cursor;
  $("list-status").textContent = `Page ${list.trail.length + 1}: ${count} item${count === 1 ? "" : "s"}.`;
}

function nextPage() {
  // One page per click: the button stays inert until the page it asked for has loaded.
  if (state.listLoading || !state.nextCursor) return;
  const list = currentListState();
  state.listLoading = true;
  goToList({ trail: [...list.trail, state.nextCursor] });
}

function previousPage() {
  const list = currentListState();
  if (list.trail.length === 0 || state.listLoading) return;
  state.listLoading = true;
  goToList({ trail: list.trail.slice(0, -1) });
}

function submitSearch(event) {
  event.preventDefault();
  goToList({ q: $("search").value.trim(), tag: "", trail: [] });
}

function submitGoTo(event) {
  event.preventDefault();
  const id = $("goto-id").value.trim();
  $("goto-id").removeAttribute("aria-invalid");
  $("goto-id-error").textContent = "";
  if (!id) {
    $("goto-id").setAttribute("aria-invalid", "true");
    $("goto-id-error").textContent = "id: type the id of an item";
    $("goto-id").focus();
    return;
  }
  history.pushState(null, "", `#/items/${encodeURIComponent(id)}`);
  route();
}

// -- item form -------------------------------------------------------------------------------

function clientFields(item) {
  return {
    name: item.name,
    description: item.description,
    status: item.status,
    tags: item.tags,
    attributes: item.attributes,
  };
}

/** True when the stored item holds exactly the fields the page sent (the API trims names). */
function holdsFields(item, fields) {
  return sameJson(clientFields(item), { ...fields, name: fields.name.trim() });
}

function fillItemForm(item) {
  $("meta-created-by").textContent = item?.created_by ?? "unknown";
  $("meta-updated-by").textContent = item?.updated_by ?? "unknown";
  $("item-name").value = item?.name ?? "";
  $("item-description").value = item?.description ?? "";
  $("item-status").value = item?.status ?? "active";
  $("item-tags").value = item ? item.tags.join(", ") : "";
  const attributes = JSON.stringify(item?.attributes ?? {}, null, 2);
  $("item-attributes").value = attributes;
  // Tall enough for a small object; a large one scrolls inside the box (and the tree beside it).
  $("item-attributes").rows = Math.min(Math.max(attributes.split("\n").length + 1, 4), 14);
  checkAttributes();
  $("item-meta").hidden = !item;
  if (item) {
    $("meta-id").textContent = item.id;
    $("meta-version").textContent = String(item.version);
    $("meta-created").replaceChildren(timeElement(item.created_at));
    $("meta-updated").replaceChildren(timeElement(item.updated_at));
  }
}

/** The parsed attributes, or an Error that says where the JSON is wrong. */
function parseAttributes() {
  try {
    const value = parseExact($("item-attributes").value.trim() || "{}");
    return isObject(value) ? value : new Error("must be a JSON object, e.g. {\"price\": 12.5}");
  } catch (error) {
    return new Error(`not valid JSON: ${error.message}`);
  }
}

/** Check the raw JSON as it is typed, and show its key/value tree when it is valid. */
function checkAttributes() {
  const value = parseAttributes();
  const input = $("item-attributes");
  if (value instanceof Error) {
    input.setAttribute("aria-invalid", "true");
    $("item-attributes-check").textContent = "";
    $("item-attributes-error").textContent = `attributes: ${value.message}`;
    return null;
  }
  input.removeAttribute("aria-invalid");
  $("item-attributes-error").textContent = "";
  const keys = Object.keys(value).length;
  $("item-attributes-check").textContent = `Valid JSON object, ${keys} top-level key${keys === 1 ? "" : "s"}.`;
  renderTree($("attributes-tree"), value);
  return value;
}

/** The form's fields, or null after showing why the attributes are not a JSON object. */
function readItemForm() {
  const attributes = checkAttributes();
  if (attributes === null) {
    $("item-attributes").focus();
    return null;
  }
  return {
    name: $("item-name").value,
    description: $("item-description").value,
    status: $("item-status").value,
    tags: $("item-tags")
      .value.split(",")
      .map((tag) => tag.trim())
      .filter((tag) => tag !== ""),
    attributes,
  };
}

/** What the form holds now, compared as the API would store it. */
function formSnapshot() {
  const value = parseAttributes();
  return canonicalJson({
    name: $("item-name").value.trim(),
    description: $("item-description").value,
    status: $("item-status").value,
    tags: $("item-tags").value.split(",").map((t) => t.trim()).filter((t) => t !== ""),
    attributes: value instanceof Error ? $("item-attributes").value : value,
  });
}

/** True when the item form holds edits that were not saved. */
function hasUnsavedEdits() {
  if ($("item-view").hidden || $("item-form").hidden || !canWrite()) return false;
  return formSnapshot() !== state.savedSnapshot;
}

function showItem(item) {
  state.item = item;
  $("item-title").textContent = item ? item.name : "New item";
  document.title = item ? `${item.name} — Items console` : "New item — Items console";
  $("save-item").textContent = item ? "Save changes" : "Create item";
  $("delete-item").hidden = !item;
  $("attachments").hidden = !item;
  $("conflict").hidden = true;
  hideOutcome();
  fillItemForm(item);
  state.savedSnapshot = formSnapshot();
  applyRole();
}

function showConflict(message) {
  hideOutcome();
  $("conflict-text").textContent = message;
  $("conflict").hidden = false;
  $("reload-item").focus();
}

/**
 * Say what became of a write. ``action``: {label, run} for the one button the person may press
 * next (check again, save again, retry), or none.
 */
function showOutcome(message, action) {
  $("outcome-text").textContent = message;
  $("outcome").hidden = false;
  const button = $("outcome-action");
  button.hidden = !action;
  state.outcomeAction = action?.run ?? null;
  if (action) {
    button.textContent = action.label;
  }
}

function hideOutcome() {
  $("outcome").hidden = true;
  state.outcomeAction = null;
}

// How long a create keeps retrying a 409 ("still in progress"): an in-progress idempotency
// record lasts at most as long as the invocation it belongs to (the API function's 20 s
// timeout; API Gateway gives up on any request at 29 s), so past 30 s a retry takes over.
const IN_PROGRESS_WAIT_MS = 30_000;
const CONFLICT = "This item was changed elsewhere — reload to see the current version. Your changes were not saved.";
const GONE = "This item no longer exists: it was deleted elsewhere.";

function unknownText(error) {
  return error.status === 0
    ? "The API did not answer"
    : `The API could not confirm the write (${error.message})`;
}

async function renderItem(id) {
  show("item-view");
  $("back-to-list").href = listHash(currentListState()); // back to the same page and filters
  clearErrors($("item-form"));
  $("item-load-box").hidden = true;
  hideOutcome();
  stopAttachmentsPoll();
  state.pendingWrite = null;
  if (id === null) {
    showItem(null);
    $("item-form").hidden = false;
    focusHeading("item-title");
    $("item-name").focus();
    return;
  }
  const visit = state.visit;
  // Hidden until loaded: neither the previous item's values nor an empty "create" form show.
  $("item-form").hidden = true;
  $("attachments").hidden = true;
  $("conflict").hidden = true;
  $("item-title").textContent = "Loading…";
  $("item-view").setAttribute("aria-busy", "true");
  let item;
  try {
    item = await state.api.getItem(id);
  } catch (error) {
    if (visit !== state.visit) return;
    $("item-view").removeAttribute("aria-busy");
    $("item-title").textContent = "Item not available";
    $("item-load-error").textContent = error.message;
    // A missing item stays missing; anything else (storage down, no answer) may pass.
    $("retry-item").hidden = error instanceof ApiError && error.status === 404;
    $("item-load-box").hidden = false;
    focusHeading("item-title");
    return;
  }
  if (visit !== state.visit) return; // the user went elsewhere meanwhile
  $("item-view").removeAttribute("aria-busy");
  showItem(item);
  $("item-form").hidden = false;
  focusHeading("item-title");
  await loadAttachments({ reset: true });
}

async function submitItem(event) {
  event.preventDefault();
  const saving = $("save-item");
  if (isBusy(saving)) return; // a second click or Enter while the first save runs
  await once(saving, () => saveItem(), state.item ? "Saving…" : "Creating…");
}

async function saveItem() {
  const form = $("item-form");
  clearErrors(form);
  const fields = readItemForm();
  if (!fields) return;
  $("conflict").hidden = true;
  hideOutcome();
  if (!state.item) {
    await createItem(fields);
    return;
  }
  const base = state.item;
  const patch = mergePatch(clientFields(base), fields);
  if (patch === undefined) {
    notify("Nothing to save: no changes.");
    return;
  }
  try {
    // If-Match makes the write conditional: if someone saved in between, the API answers 412
    // and nothing is overwritten. The same holds for a retry of this save.
    const saved = hasNullMember(fields.attributes)
      ? await state.api.replaceItem(base.id, fields, base.version)
      : await state.api.patchItem(base.id, patch, base.version);
    state.pendingWrite = null;
    showItem(saved);
    notify(`Saved “${saved.name}” (version ${saved.version}).`);
  } catch (error) {
    if (error instanceof ApiError && error.outcomeUnknown) {
      state.pendingWrite = { kind: "update", base, fields };
      showOutcome(`${unknownText(error)}. Checking whether your changes were saved…`);
      await checkPendingWrite(error);
    } else if (error instanceof ApiError && error.status === 412) {
      // A 412 is also what a retry gets when its first attempt went through: compare first.
      await explainConflict(base, fields);
    } else if (error instanceof ApiError && error.status === 404) {
      showConflict(GONE);
    } else {
      showError(error, ITEM_FIELDS, "item-error");
    }
  }
}

/** After a 412: the stored item either holds what was sent (an earlier attempt applied) or not. */
async function explainConflict(base, fields) {
  let current;
  try {
    current = await state.api.getItem(base.id);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showConflict(GONE);
      return;
    }
    state.pendingWrite = { kind: "update", base, fields };
    showOutcome(
      `The item changed since it was read, and re-reading it failed (${error.message}): it is unknown whether it holds your changes.`,
      { label: "Check again", run: () => checkPendingWrite() },
    );
    return;
  }
  if (holdsFields(current, fields)) {
    state.pendingWrite = null;
    showItem(current);
    notify(`Saved “${current.name}” (version ${current.version}): an earlier attempt of this save went through.`);
    $("save-item").focus();
    return;
  }
  showConflict(CONFLICT);
}

/**
 * Find out what became of a write whose answer was lost (a 503, no answer): re-read the item
 * and compare it with what was sent. ``firstError``: the write's own error, for its Retry-After.
 */
async function checkPendingWrite(firstError) {
  const pending = state.pendingWrite;
  if (!pending) return;
  const { kind, base, fields } = pending;
  if (firstError?.retryAfter) {
    // The API asked for a pause; re-reading at once would only meet the same outage.
    await sleep(Math.min(firstError.retryAfter, 5) * 1000);
    if (state.pendingWrite !== pending) return;
  }
  let current = null;
  let gone = false;
  try {
    current = await state.api.getItem(base.id);
  } catch (error) {
    if (state.pendingWrite !== pending) return;
    if (error instanceof ApiError && error.status === 404) {
      gone = true;
    } else {
      const what = kind === "delete" ? "the item was deleted" : "your changes were saved";
      showOutcome(
        `Unknown whether ${what}: re-reading the item failed too (${error.message}). ` +
          (kind === "delete" ? "" : "Your changes are still on screen. ") +
          "Check again once storage is back.",
        { label: "Check again", run: () => checkPendingWrite() },
      );
      return;
    }
  }
  if (state.pendingWrite !== pending) return;
  state.pendingWrite = null;
  if (kind === "delete") {
    if (gone) {
      notify(`Deleted “${base.name}” (confirmed by re-reading it).`);
      state.keepNotice = true;
      state.leaving = true;
      history.pushState(null, "", listHash(currentListState()));
      route();
    } else if (current.version === base.version) {
      showOutcome(`Not deleted: “${base.name}” is still there, unchanged. Deleting again is safe.`, {
        label: "Delete again",
        run: () => deleteItem(),
      });
    } else {
      showItem(current);
      showConflict("Not deleted: this item was changed elsewhere meanwhile. It now shows the current version.");
    }
    return;
  }
  if (gone) {
    showConflict(GONE);
  } else if (holdsFields(current, fields)) {
    showItem(current);
    notify(`Saved “${current.name}” (version ${current.version}): confirmed by re-reading the item.`);
    $("save-item").focus();
  } else if (current.version === base.version) {
    // Unchanged: this save was not applied. Saving again is safe: it carries the same If-Match.
    showOutcome("Not saved: the item is unchanged, so your changes were not applied. They are still on screen; saving again is safe.", {
      label: "Save again",
      run: () => submitItem(new Event("submit")),
    });
  } else {
    showConflict(CONFLICT);
  }
}

async function createItem(fields) {
  const body = canonicalJson(fields);
  // One key per request body: a retry of the same form reuses it, so the API creates the item
  // at most once; a changed form is a new request with a new key.
  if (state.createAttempt?.body !== body) {
    state.createAttempt = { key: crypto.randomUUID(), body };
  }
  const attempt = state.createAttempt;
  let waitUntil = null; // set by the first 409: how long an in-progress record may last
  for (;;) {
    try {
      const created = await state.api.createItem(fields, attempt.key);
      state.createAttempt = null;
      notify(`Created “${created.name}”.`);
      state.keepNotice = true;
      state.leaving = true;
      history.pushState(null, "", `#/items/${encodeURIComponent(created.id)}`);
      route();
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        // The first attempt with this key is still running, or its in-progress record outlived
        // it (an outage ate the record's clean-up): the API lets a retry take over once the
        // invocation it belonged to would have timed out. Wait for that, Retry-After at a time.
        waitUntil ??= Date.now() + IN_PROGRESS_WAIT_MS;
        if (Date.now() < waitUntil) {
          showOutcome("An earlier attempt of this create is still in progress; waiting for its answer…");
          await sleep((error.retryAfter ?? 1) * 1000);
          continue;
        }
      }
      if (error instanceof ApiError && (error.outcomeUnknown || error.status === 409)) {
        showOutcome(
          `${unknownText(error)}: it is unknown whether the item was created. Retrying is safe: ` +
            "the retry carries the same Idempotency-Key, so the item is created at most once.",
          { label: "Retry", run: () => submitItem(new Event("submit")) },
        );
        $("outcome-action").focus();
        return;
      }
      showError(error, ITEM_FIELDS, "item-error");
      return;
    }
  }
}

async function reloadItem() {
  if (!state.item) return;
  clearErrors($("item-form"));
  await once($("reload-item"), async () => {
    try {
      showItem(await state.api.getItem(state.item.id));
      notify("Reloaded the current version.");
      $("item-name").focus();
    } catch (error) {
      $("conflict-text").textContent = `Reloading failed: ${error.message}. Press Reload to try again.`;
    }
  });
}

async function deleteItem() {
  const item = state.item;
  if (!item || isBusy($("delete-item"))) return;
  const confirmed = await confirmDialog(
    "Delete this item?",
    `“${item.name}” and its attachments will be deleted. This cannot be undone.`,
    "Delete item",
  );
  if (!confirmed) {
    $("delete-item").focus();
    return;
  }
  hideOutcome();
  await once($("delete-item"), async () => {
    try {
      await state.api.deleteItem(item.id, item.version);
    } catch (error) {
      if (error instanceof ApiError && error.outcomeUnknown) {
        state.pendingWrite = { kind: "delete", base: item, fields: null };
        showOutcome(`${unknownText(error)}. Checking whether the item was deleted…`);
        await checkPendingWrite(error);
      } else if (error instanceof ApiError && error.status === 412) {
        showConflict(CONFLICT);
      } else if (error instanceof ApiError && error.status === 404) {
        showConflict(GONE);
      } else {
        $("item-error").textContent = error.message;
      }
      return;
    }
    notify(`Deleted “${item.name}”.`);
    state.keepNotice = true;
    state.leaving = true;
    history.pushState(null, "", listHash(currentListState()));
    route();
  }, "Deleting…");
}

// -- attachments -----------------------------------------------------------------------------

const POLL_INTERVAL_MS = 1000;
const POLL_LIMIT = 60; // re-reads of an upload's state before the page stops and offers a check

function attachmentRow(attachment) {
  const row = document.createElement("tr");
  row.dataset.attachmentId = attachment.id;
  const download = document.createElement("button");
  download.type = "button";
  download.textContent = "Download";
  download.setAttribute("aria-label", `Download ${attachment.filename}`);
  download.addEventListener("click", () => once(download, () => downloadAttachment(attachment)));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "danger";
  remove.textContent = "Delete…";
  remove.setAttribute("aria-label", `Delete ${attachment.filename}`);
  remove.addEventListener("click", () => once(remove, () => deleteAttachment(attachment, remove)));
  remove.hidden = !canWrite();
  const actions = document.createElement("td");
  actions.className = "row-actions";
  actions.append(download, remove);
  const name = document.createElement("td");
  name.dataset.label = "File";
  const nameText = document.createElement("span");
  nameText.className = "truncate";
  nameText.textContent = attachment.filename;
  nameText.title = attachment.filename;
  name.append(nameText);
  const type = cell(attachment.content_type);
  type.dataset.label = "Type";
  const size = cell(formatSize(attachment.size), "number");
  size.dataset.label = "Size";
  const uploaded = document.createElement("td");
  uploaded.dataset.label = "Uploaded";
  uploaded.className = "upload-state";
  if (attachment.uploaded_at) {
    uploaded.append(timeElement(attachment.uploaded_at));
  } else {
    // The file has not reached the bucket, or its arrival is not processed yet.
    uploaded.textContent = "not yet";
  }
  row.append(name, type, size, uploaded, actions);
  return row;
}

function stopAttachmentsPoll() {
  clearTimeout(state.attachmentsPoll);
  state.attachmentsPoll = null;
}

/** Load the attachments (the first page, or the next); true when they loaded. */
async function loadAttachments({ reset }) {
  const item = state.item;
  if (!item) return false;
  $("attachments-error-box").hidden = true;
  state.attachmentsAbort?.abort();
  const controller = new AbortController();
  state.attachmentsAbort = controller;
  if (reset) {
    state.attachmentsCursor = null;
    $("no-attachments").hidden = true;
  }
  $("attachments-status").textContent = "Loading attachments…";
  $("attachments-table").setAttribute("aria-busy", "true");
  let page;
  try {
    page = await state.api.listAttachments(item.id, reset ? null : state.attachmentsCursor, {
      signal: controller.signal,
    });
  } catch (error) {
    if (error.aborted || state.item !== item) return false;
    $("attachments-status").textContent = "";
    $("attachments-table").removeAttribute("aria-busy");
    $("attachments-error").textContent = `The attachments could not be loaded: ${error.message}`;
    $("attachments-error-box").hidden = false;
    return false;
  }
  if (state.item !== item) return false; // the user moved on meanwhile
  // Keep the focus on a row's button across the re-render (the same attachment's).
  const focused = document.activeElement?.closest?.("#attachments-body tr");
  const focusedId = focused?.dataset.attachmentId;
  const focusedLabel = document.activeElement?.getAttribute?.("aria-label");
  if (reset) $("attachments-body").replaceChildren();
  $("attachments-body").append(...page.items.map(attachmentRow));
  $("attachments-table").removeAttribute("aria-busy");
  if (focusedId) {
    const again = [...$("attachments-body").querySelectorAll("button")].find(
      (button) => button.getAttribute("aria-label") === focusedLabel,
    );
    again?.focus();
  }
  state.attachmentsCursor = page.next_cursor;
  const count = $("attachments-body").childElementCount;
  $("attachments-status").textContent = count ? `${count} attachment${count === 1 ? "" : "s"}.` : "";
  $("attachments-table").hidden = count === 0;
  $("no-attachments").hidden = count > 0; // said only once they have loaded
  $("more-attachments").hidden = !page.next_cursor;
  return true;
}

/**
 * Re-read the attachments until ``attachmentId`` shows as uploaded: the bucket's upload event
 * (S3 -> the app's handler) sets it, a moment after the upload itself succeeded.
 */
function pollUntilUploaded(item, attachmentId, filename, round = 0) {
  stopAttachmentsPoll();
  state.attachmentsPoll = setTimeout(async () => {
    if (state.item !== item) return;
    const loaded = await loadAttachments({ reset: true });
    if (state.item !== item) return;
    const row = $("attachments-body").querySelector(`tr[data-attachment-id="${CSS.escape(attachmentId)}"]`);
    const done = loaded && row && !row.querySelector(".upload-state").textContent.includes("not yet");
    if (done) {
      notify(`Uploaded “${filename}”: stored and ready to download.`);
      return;
    }
    if (round + 1 >= POLL_LIMIT) {
      notify(`Uploaded “${filename}”; storage has not confirmed it yet. Reload the page to check again.`);
      return;
    }
    pollUntilUploaded(item, attachmentId, filename, round + 1);
  }, POLL_INTERVAL_MS);
}

function setProgress(fraction) {
  const percent = Math.round(fraction * 100);
  $("upload-progress").value = percent;
  $("upload-percent").textContent = `${percent}%`;
}

async function submitUpload(event) {
  event.preventDefault();
  const button = $("upload-button");
  if (isBusy(button)) return;
  await once(button, () => upload(), "Uploading…");
}

async function upload() {
  const form = $("upload-form");
  clearErrors(form);
  const file = $("upload-file").files[0];
  if (!file) {
    $("upload-file").setAttribute("aria-invalid", "true");
    $("upload-file-error").textContent = "file: choose a file to upload";
    $("upload-file").focus();
    return;
  }
  const item = state.item;
  setProgress(0);
  try {
    const created = await state.api.createAttachment(item.id, file);
    await uploadToBucket(created.upload, file, setProgress);
    const name = created.attachment.filename;
    notify(`Uploaded “${name}”; waiting for storage to confirm it…`);
    form.reset();
    await loadAttachments({ reset: true });
    pollUntilUploaded(item, created.attachment.id, name);
  } catch (error) {
    const input = showError(error, UPLOAD_FIELDS, "upload-error");
    if (!input && error instanceof ApiError && error.outcomeUnknown) {
      $("upload-error").textContent = `${error.message}. Nothing was uploaded; Upload again to retry.`;
    }
  }
}

async function downloadAttachment(attachment) {
  $("attachments-error-box").hidden = true;
  try {
    const blob = await state.api.downloadAttachment(state.item.id, attachment.id);
    // Save the bytes under the original name; the object URL lives only as long as needed.
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = attachment.filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    notify(`Downloaded “${attachment.filename}”.`);
  } catch (error) {
    $("attachments-error").textContent = `${attachment.filename}: ${error.message}`;
    $("attachments-error-box").hidden = false;
  }
}

async function deleteAttachment(attachment, button) {
  const confirmed = await confirmDialog(
    "Delete this attachment?",
    `“${attachment.filename}” will be deleted. This cannot be undone.`,
    "Delete attachment",
  );
  if (!confirmed) {
    button.focus();
    return;
  }
  try {
    await state.api.deleteAttachment(state.item.id, attachment.id);
  } catch (error) {
    $("attachments-error").textContent = `${attachment.filename}: ${error.message}`;
    $("attachments-error-box").hidden = false;
    button.focus();
    return;
  }
  notify(`Deleted “${attachment.filename}”.`);
  await loadAttachments({ reset: true });
  $("upload-file").focus();
}

// -- routing ---------------------------------------------------------------------------------

const DISCARD_TEXT = "Your edits to this item have not been saved. Leave and lose them?";

async function confirmLeaving() {
  if (state.leaving || !hasUnsavedEdits()) return true;
  return confirmDialog("Discard unsaved changes?", DISCARD_TEXT, "Discard changes", "Keep editing");
}

function route() {
  const hash = location.hash || "#/";
  state.routed = location.href;
  state.leaving = false;
  state.visit += 1;
  if (!isConnected()) {
    document.title = "Sign in — Items console";
    renderSignIn();
    return;
  }
  showIdentity();
  applyRole();
  const match = /^#\/items\/([^/?]+)$/.exec(hash);
  const list = listStateFromHash(hash);
  if (match) {
    state.listAbort?.abort();
    renderItem(decodeURIComponent(match[1]));
  } else if (hash === "#/new" && canWrite()) {
    state.listAbort?.abort();
    renderItem(null);
    document.title = "New item — Items console";
  } else {
    document.title = "Items — Items console";
    stopAttachmentsPoll();
    state.item = null;
    const focus = $("list-view").hidden; // arriving from another screen
    renderList(list ?? listStateFromHash("#/"), { focus });
  }
}

/** Back, Forward and links: an address change; unsaved edits are asked about first. */
async function onAddressChange() {
  if (location.href === state.routed) return;
  if (!state.keepNotice) notify("");
  state.keepNotice = false;
  if (!state.leaving && hasUnsavedEdits()) {
    // The address already changed: put the item's back until the person decides.
    const target = location.href;
    history.pushState(null, "", state.routed);
    const leave = await confirmLeaving();
    if (!leave) {
      $("item-name").focus();
      return;
    }
    state.leaving = true;
    history.pushState(null, "", target);
  }
  route();
}

async function start() {
  $("sign-in").addEventListener("click", () => state.auth.signIn());
  $("sign-out").addEventListener("click", () => state.auth.signOut());
  $("status-filter").addEventListener("change", () => {
    goToList({ status: $("status-filter").value, trail: [] });
  });
  $("page-size").addEventListener("change", () => {
    goToList({ limit: Number($("page-size").value), trail: [] });
  });
  $("search-form").addEventListener("submit", submitSearch);
  $("goto-form").addEventListener("submit", submitGoTo);
  $("clear-filters").addEventListener("click", () => {
    goToList({ q: "", tag: "", status: "", trail: [] });
    $("search").focus();
  });
  $("retry-list").addEventListener("click", async () => {
    await renderList(currentListState(), { focus: false });
    if ($("list-error-box").hidden) $("list-title").focus();
    else $("retry-list").focus();
  });
  $("retry-item").addEventListener("click", () => route());
  $("retry-attachments").addEventListener("click", async () => {
    if (await loadAttachments({ reset: true })) $("attachments-title").setAttribute("tabindex", "-1");
    if ($("attachments-error-box").hidden) $("attachments-title").focus();
  });
  $("next-page").addEventListener("click", nextPage);
  $("prev-page").addEventListener("click", previousPage);
  $("item-form").addEventListener("submit", submitItem);
  $("item-attributes").addEventListener("input", () => checkAttributes());
  $("reload-item").addEventListener("click", reloadItem);
  $("delete-item").addEventListener("click", deleteItem);
  $("outcome-action").addEventListener("click", () => {
    const action = state.outcomeAction;
    if (action) once($("outcome-action"), action);
  });
  $("upload-form").addEventListener("submit", submitUpload);
  $("more-attachments").addEventListener("click", () =>
    once($("more-attachments"), () => loadAttachments({ reset: false })),
  );
  window.addEventListener("popstate", onAddressChange);
  window.addEventListener("hashchange", onAddressChange);
  window.addEventListener("beforeunload", (event) => {
    // A reload or a closed tab would lose the edits: the browser asks first.
    if (!state.leaving && hasUnsavedEdits()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  state.config = await loadConfig();
  const settings = readSettings(state.config);
  // The managed login returns to the console's own page (its registered callback URL).
  state.auth = new Auth(settings?.auth ?? {}, location.origin + location.pathname);
  let problem = null;
  if (settings) {
    try {
      problem = await state.auth.completeSignIn();
    } catch (error) {
      problem = error.message;
    }
    state.api = new Api(settings.apiUrl, settings.apiKey, state.auth);
    state.api.onUnauthorized = () => state.auth.refresh();
    state.auth.onSignedOut = signedOut;
    state.auth.onRefreshed = () => state.auth.schedule();
    if (state.auth.signedIn) {
      await state.auth.accessToken(); // refreshes first when the token is about to expire
      state.auth.schedule();
    }
  }
  if (problem) {
    renderSignIn(problem);
    document.body.dataset.ready = "true";
    return;
  }
  route();
  document.body.dataset.ready = "true";
}

start();
