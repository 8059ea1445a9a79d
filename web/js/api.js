// The Items API over fetch: one method per route, errors as ApiError with the API's Message.

import { fieldOf, parseExact } from "./json.js";

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    // The field a 400 names ("name: ..." names "name"); null for anything else.
    this.field = status === 400 ? fieldOf(message) : null;
    // Seconds the API asked to wait (Retry-After of a 503 or 429), or null.
    this.retryAfter = retryAfter;
  }

  /**
   * True when a write may or may not have been applied: no answer at all, a 503 (the API could
   * not confirm with storage), a 500 or a 504. A 4xx always means "not applied".
   */
  get outcomeUnknown() {
    return this.status === 0 || this.status === 503 || this.status === 504 || this.status === 500;
  }

  /** True for a request the page cancelled itself (a newer request replaced it). */
  get aborted() {
    return this.code === "Aborted";
  }
}

function retryAfterOf(response) {
  const value = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

function parseBody(text) {
  if (!text) {
    return null;
  }
  try {
    return parseExact(text);
  } catch {
    return null;
  }
}

/** The message of an S3 XML error document, or null. */
export function s3ErrorMessage(text) {
  if (!text || !text.trimStart().startsWith("<")) {
    return null;
  }
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const message = doc.querySelector("Error > Message")?.textContent;
  const code = doc.querySelector("Error > Code")?.textContent;
  return message || code || null;
}

async function errorFrom(response) {
  const text = await response.text();
  const body = parseBody(text);
  if (body && typeof body === "object") {
    // Chalice's {"Code", "Message"}; API Gateway's own refusals use {"message"}.
    const message = body.Message ?? body.message;
    if (typeof message === "string") {
      // The app's own 403 says which permission is missing; API Gateway's (no Code) is the
      // console's API key refused, and its 401 a token it no longer accepts.
      let hint = "";
      if (response.status === 403 && !body.Code) hint = " (the console's API key was refused)";
      if (response.status === 401) hint = " (sign in again)";
      const prefix = body.Code === "ForbiddenError" ? "Not allowed: " : "";
      return new ApiError(
        response.status,
        body.Code ?? "",
        prefix + message + hint,
        retryAfterOf(response),
      );
    }
  }
  const message = s3ErrorMessage(text) ?? `HTTP ${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, "", message, retryAfterOf(response));
}

export class Api {
  /** ``auth``: the signed-in session (js/auth.js), which supplies a current access token. */
  constructor(baseUrl, apiKey, auth) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.auth = auth;
    this.onUnauthorized = () => {};
  }

  async headers() {
    const token = await this.auth.accessToken();
    return { "x-api-key": this.apiKey, ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  }

  async send(
    method,
    path,
    { body, ifMatch, idempotencyKey, signal, contentType = "application/json" } = {},
  ) {
    const headers = await this.headers();
    if (body !== undefined) {
      headers["Content-Type"] = contentType;
    }
    if (ifMatch !== undefined) {
      headers["If-Match"] = `"${ifMatch}"`;
    }
    if (idempotencyKey !== undefined) {
      headers["Idempotency-Key"] = idempotencyKey;
    }
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        signal,
      });
    } catch (error) {
      if (signal?.aborted || error?.name === "AbortError") {
        throw new ApiError(0, "Aborted", "cancelled: a newer request replaced it");
      }
      // Also what a refusal without CORS headers looks like to a page (e.g. a wrong API key
      // refused before the application answers), hence the hint.
      throw new ApiError(0, "NetworkError", `no readable answer from the API at ${this.baseUrl}`);
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (error.status === 401) this.onUnauthorized(error);
      throw error;
    }
    return { response, data: parseBody(await response.text()) };
  }

  /** One page of items; ``tag`` and ``namePrefix`` are the API's filters (one at a time). */
  async listItems({ limit, cursor, status, tag, namePrefix, signal }) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    if (status) query.set("status", status);
    if (tag) query.set("tag", tag);
    if (namePrefix) query.set("name_prefix", namePrefix);
    return (await this.send("GET", `/items?${query}`, { signal })).data;
  }

  async getItem(id, { signal } = {}) {
    return (await this.send("GET", `/items/${encodeURIComponent(id)}`, { signal })).data;
  }

  /** ``idempotencyKey``: the same key on a retry of the same body creates at most one item. */
  async createItem(fields, idempotencyKey) {
    return (await this.send("POST", "/items", { body: fields, idempotencyKey })).data;
  }

  async patchItem(id, patch, version) {
    const path = `/items/${encodeURIComponent(id)}`;
    const options = { body: patch, ifMatch: version, contentType: "application/merge-patch+json" };
    return (await this.send("PATCH", path, options)).data;
  }

  async replaceItem(id, fields, version) {
    const path = `/items/${encodeURIComponent(id)}`;
    return (await this.send("PUT", path, { body: fields, ifMatch: version })).data;
  }

  async deleteItem(id, version) {
    await this.send("DELETE", `/items/${encodeURIComponent(id)}`, { ifMatch: version });
  }

  async createAttachment(id, file) {
    const body = { filename: file.name, content_type: file.type, size: file.size };
    const path = `/items/${encodeURIComponent(id)}/attachments`;
    return (await this.send("POST", path, { body })).data;
  }

  async listAttachments(id, cursor, { signal } = {}) {
    const query = new URLSearchParams({ limit: "20" });
    if (cursor) query.set("cursor", cursor);
    const path = `/items/${encodeURIComponent(id)}/attachments?${query}`;
    return (await this.send("GET", path, { signal })).data;
  }

  async deleteAttachment(id, attachmentId) {
    const path = `/items/${encodeURIComponent(id)}/attachments/${encodeURIComponent(attachmentId)}`;
    await this.send("DELETE", path);
  }

  /**
   * The file of an attachment, as a Blob.
   *
   * The API answers 302 to a presigned S3 URL. A link cannot carry the token and key headers, and
   * fetch cannot read the Location of a cross-origin redirect (redirect: "manual" gives an
   * opaque response), so fetch follows the redirect and the file comes back through it. After
   * the hop from the API's origin to the bucket's the browser sends `Origin: null`, so the
   * bucket's CORS rule must allow GET from any origin; the presigned URL is the credential.
   */
  async downloadAttachment(id, attachmentId) {
    const path = `/items/${encodeURIComponent(id)}/attachments/${encodeURIComponent(attachmentId)}`;
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        headers: await this.headers(),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "NetworkError", "cannot reach the API or the bucket");
    }
    if (!response.ok) {
      throw await errorFrom(response);
    }
    return response.blob();
  }
}
