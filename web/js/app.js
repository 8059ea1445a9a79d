// The Items console: hash routes (#/, #/new, #/items/<id>) over one page, behind a sign-in.

import { Api, ApiError } from "./api.js";
import { Auth } from "./auth.js";
import { loadConfig, readSettings } from "./config.js";
import { hasNullMember, isObject, mergePatch, parseExact } from "./json.js";
import { uploadToBucket } from "./upload.js";

const $ = (id) => document.getElementById(id);

const state = {
  config: {},
  api: null,
  auth: null, // the signed-in session (js/auth.js)
  list: { cursors: [null], page: 0, nextCursor: null },
  item: null, // the item as last read from the API (null while creating)
  attachmentsCursor: null,
  keepNotice: false, // set by an action that navigates, so its notice survives the route change
  listRequest: 0, // numbers list loads, so a slow answer never overwrites a newer one
  visit: 0, // numbers route changes, so a slow item load never shows on another screen
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

function confirmDialog(title, text, confirmLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirmLabel;
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

function resetPaging() {
  state.list = { cursors: [null], page: 0, nextCursor: null };
}

async function renderList({ focus = true } = {}) {
  show("list-view");
  if (focus) focusHeading("list-title");
  const { cursors, page } = state.list;
  $("list-error").textContent = "";
  $("items-table").setAttribute("aria-busy", "true");
  const request = ++state.listRequest;
  let result;
  try {
    result = await state.api.listItems({
      limit: Number($("page-size").value),
      cursor: cursors[page],
      status: $("status-filter").value,
    });
  } catch (error) {
    if (request !== state.listRequest) return;
    $("items-table").removeAttribute("aria-busy");
    if (error instanceof ApiError && error.field === "cursor") {
      // A cursor from before a restart or a filter change: start again from the first page.
      resetPaging();
      $("list-error").textContent = `${error.message} (back to the first page)`;
    } else {
      $("list-error").textContent = error.message;
    }
    return;
  }
  if (request !== state.listRequest) return;
  $("items-table").removeAttribute("aria-busy");
  state.list.nextCursor = result.next_cursor;
  const body = $("items-body");
  body.replaceChildren(
    ...result.items.map((item) => {
      const row = document.createElement("tr");
      const nameCell = document.createElement("td");
      const link = document.createElement("a");
      link.href = `#/items/${encodeURIComponent(item.id)}`;
      link.textContent = item.name;
      nameCell.append(link);
      row.append(
        nameCell,
        cell(item.status, `status status-${item.status}`),
        cell(item.tags.join(", ")),
        cell(formatTime(item.updated_at)),
        cell(String(item.version), "number"),
      );
      return row;
    }),
  );
  $("empty-list").hidden = result.items.length > 0;
  $("items-table").hidden = result.items.length === 0;
  $("prev-page").disabled = page === 0;
  $("next-page").disabled = !result.next_cursor;
  $("page-label").textContent = `Page ${page + 1}`;
}

function nextPage() {
  if (!state.list.nextCursor) return;
  state.list.cursors = state.list.cursors.slice(0, state.list.page + 1);
  state.list.cursors.push(state.list.nextCursor);
  state.list.page += 1;
  renderList({ focus: false });
}

function previousPage() {
  if (state.list.page === 0) return;
  state.list.page -= 1;
  renderList({ focus: false });
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

function fillItemForm(item) {
  $("meta-created-by").textContent = item?.created_by ?? "unknown";
  $("meta-updated-by").textContent = item?.updated_by ?? "unknown";
  $("item-name").value = item?.name ?? "";
  $("item-description").value = item?.description ?? "";
  $("item-status").value = item?.status ?? "active";
  $("item-tags").value = item ? item.tags.join(", ") : "";
  const attributes = JSON.stringify(item?.attributes ?? {}, null, 2);
  $("item-attributes").value = attributes;
  // Tall enough to show the whole object (up to a point), so nothing hides below the fold.
  $("item-attributes").rows = Math.min(Math.max(attributes.split("\n").length + 1, 4), 20);
  $("item-meta").hidden = !item;
  if (item) {
    $("meta-id").textContent = item.id;
    $("meta-version").textContent = String(item.version);
    $("meta-created").textContent = formatTime(item.created_at);
    $("meta-updated").textContent = formatTime(item.updated_at);
  }
}

/** The form's fields, or null after showing why the attributes are not a JSON object. */
function readItemForm() {
  let attributes;
  try {
    attributes = parseExact($("item-attributes").value.trim() || "{}");
  } catch (error) {
    attributes = error;
  }
  if (!isObject(attributes)) {
    $("item-attributes").setAttribute("aria-invalid", "true");
    $("item-attributes-error").textContent = "attributes: must be a JSON object, e.g. {\"price\": 12.5}";
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

function showItem(item) {
  state.item = item;
  $("item-title").textContent = item ? item.name : "New item";
  document.title = item ? `${item.name} — Items console` : "New item — Items console";
  $("save-item").textContent = item ? "Save changes" : "Create item";
  $("delete-item").hidden = !item;
  $("attachments").hidden = !item;
  $("conflict").hidden = true;
  fillItemForm(item);
  applyRole();
}

function showConflict(message) {
  $("conflict-text").textContent = message;
  $("conflict").hidden = false;
  $("reload-item").focus();
}

const CONFLICT = "This item was changed elsewhere — reload to see the current version. Your changes were not saved.";
const GONE = "This item no longer exists: it was deleted elsewhere.";

async function renderItem(id) {
  show("item-view");
  clearErrors($("item-form"));
  $("item-load-error").textContent = "";
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
  let item;
  try {
    item = await state.api.getItem(id);
  } catch (error) {
    if (visit !== state.visit) return;
    $("item-title").textContent = "Item not available";
    $("item-load-error").textContent = error.message;
    focusHeading("item-title");
    return;
  }
  if (visit !== state.visit) return; // the user went elsewhere meanwhile
  showItem(item);
  $("item-form").hidden = false;
  focusHeading("item-title");
  await loadAttachments({ reset: true });
}

async function submitItem(event) {
  event.preventDefault();
  const form = $("item-form");
  clearErrors(form);
  const fields = readItemForm();
  if (!fields) return;
  const saving = $("save-item");
  saving.disabled = true;
  try {
    if (!state.item) {
      const created = await state.api.createItem(fields);
      notify(`Created “${created.name}”.`);
      state.keepNotice = true;
      location.hash = `#/items/${encodeURIComponent(created.id)}`;
      return;
    }
    const current = state.item;
    const patch = mergePatch(clientFields(current), fields);
    if (patch === undefined) {
      notify("Nothing to save: no changes.");
      return;
    }
    // If-Match makes the write conditional: if someone saved in between, the API answers 412
    // and nothing is overwritten.
    const saved = hasNullMember(fields.attributes)
      ? await state.api.replaceItem(current.id, fields, current.version)
      : await state.api.patchItem(current.id, patch, current.version);
    showItem(saved);
    notify(`Saved “${saved.name}” (version ${saved.version}).`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      showConflict(CONFLICT);
    } else if (error instanceof ApiError && error.status === 404 && state.item) {
      showConflict(GONE);
    } else {
      showError(error, ITEM_FIELDS, "item-error");
    }
  } finally {
    saving.disabled = false;
  }
}

async function reloadItem() {
  if (!state.item) return;
  clearErrors($("item-form"));
  try {
    showItem(await state.api.getItem(state.item.id));
    notify("Reloaded the current version.");
    $("item-name").focus();
  } catch (error) {
    $("conflict-text").textContent = error.message;
  }
}

async function deleteItem() {
  const item = state.item;
  if (!item) return;
  const confirmed = await confirmDialog(
    "Delete this item?",
    `“${item.name}” and its attachments will be deleted. This cannot be undone.`,
    "Delete item",
  );
  if (!confirmed) {
    $("delete-item").focus();
    return;
  }
  try {
    await state.api.deleteItem(item.id, item.version);
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
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
  location.hash = "#/";
}

// -- attachments -----------------------------------------------------------------------------

function attachmentRow(attachment) {
  const row = document.createElement("tr");
  const download = document.createElement("button");
  download.type = "button";
  download.textContent = "Download";
  download.setAttribute("aria-label", `Download ${attachment.filename}`);
  download.addEventListener("click", () => downloadAttachment(attachment, download));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "danger";
  remove.textContent = "Delete…";
  remove.setAttribute("aria-label", `Delete ${attachment.filename}`);
  remove.addEventListener("click", () => deleteAttachment(attachment, remove));
  remove.hidden = !canWrite();
  const actions = document.createElement("td");
  actions.className = "row-actions";
  actions.append(download, remove);
  row.append(
    cell(attachment.filename),
    cell(attachment.content_type),
    cell(formatSize(attachment.size), "number"),
    // No upload time yet: the file has not reached the bucket (Download then says so).
    cell(attachment.uploaded_at ? formatTime(attachment.uploaded_at) : "not yet"),
    actions,
  );
  return row;
}

async function loadAttachments({ reset }) {
  const item = state.item;
  if (!item) return;
  $("attachments-error").textContent = "";
  if (reset) {
    state.attachmentsCursor = null;
    $("attachments-body").replaceChildren();
  }
  let page;
  try {
    page = await state.api.listAttachments(item.id, state.attachmentsCursor);
  } catch (error) {
    $("attachments-error").textContent = error.message;
    return;
  }
  if (state.item !== item) return; // the user moved on meanwhile
  $("attachments-body").append(...page.items.map(attachmentRow));
  state.attachmentsCursor = page.next_cursor;
  const count = $("attachments-body").childElementCount;
  $("attachments-table").hidden = count === 0;
  $("no-attachments").hidden = count > 0;
  $("more-attachments").hidden = !page.next_cursor;
}

function setProgress(fraction) {
  const percent = Math.round(fraction * 100);
  $("upload-progress").value = percent;
  $("upload-percent").textContent = `${percent}%`;
}

async function submitUpload(event) {
  event.preventDefault();
  const form = $("upload-form");
  clearErrors(form);
  const file = $("upload-file").files[0];
  if (!file) {
    $("upload-file").setAttribute("aria-invalid", "true");
    $("upload-file-error").textContent = "file: choose a file to upload";
    $("upload-file").focus();
    return;
  }
  const button = $("upload-button");
  button.disabled = true;
  setProgress(0);
  try {
    const created = await state.api.createAttachment(state.item.id, file);
    await uploadToBucket(created.upload, file, setProgress);
    notify(`Uploaded “${created.attachment.filename}”.`);
    form.reset();
    await loadAttachments({ reset: true });
  } catch (error) {
    showError(error, UPLOAD_FIELDS, "upload-error");
  } finally {
    button.disabled = false;
  }
}

async function downloadAttachment(attachment, button) {
  $("attachments-error").textContent = "";
  button.disabled = true;
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
  } finally {
    button.disabled = false;
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
    return;
  }
  notify(`Deleted “${attachment.filename}”.`);
  await loadAttachments({ reset: true });
  $("upload-file").focus();
}

// -- routing ---------------------------------------------------------------------------------

function route() {
  state.visit += 1;
  const hash = location.hash || "#/";
  if (!isConnected()) {
    document.title = "Sign in — Items console";
    renderSignIn();
    return;
  }
  showIdentity();
  applyRole();
  const match = /^#\/items\/([^/]+)$/.exec(hash);
  if (match) {
    renderItem(decodeURIComponent(match[1]));
  } else if (hash === "#/new" && canWrite()) {
    renderItem(null);
    document.title = "New item — Items console";
  } else {
    document.title = "Items — Items console";
    state.item = null;
    renderList();
  }
}

async function start() {
  $("sign-in").addEventListener("click", () => state.auth.signIn());
  $("sign-out").addEventListener("click", () => state.auth.signOut());
  $("status-filter").addEventListener("change", () => {
    resetPaging();
    renderList({ focus: false });
  });
  $("page-size").addEventListener("change", () => {
    resetPaging();
    renderList({ focus: false });
  });
  $("next-page").addEventListener("click", nextPage);
  $("prev-page").addEventListener("click", previousPage);
  $("item-form").addEventListener("submit", submitItem);
  $("reload-item").addEventListener("click", reloadItem);
  $("delete-item").addEventListener("click", deleteItem);
  $("upload-form").addEventListener("submit", submitUpload);
  $("more-attachments").addEventListener("click", () => loadAttachments({ reset: false }));
  window.addEventListener("hashchange", () => {
    // A notice belongs to the action that caused the navigation, not to any later page.
    if (!state.keepNotice) notify("");
    state.keepNotice = false;
    route();
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
