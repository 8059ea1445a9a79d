// The list's state as an address: filters, page size and the trail of cursors to this page.
//
// `#/?q=blue&status=active&limit=20&c=<cursor>&c=<cursor>`: `q` is the name prefix, `tag` a tag
// (the API takes one of the two at a time), `c` repeats once per page turned, so the page number
// is the trail's length + 1 and Previous drops the last cursor. A reload, Back or a shared link
// replays exactly that page.

export const PAGE_SIZES = [5, 10, 20, 50, 100];
export const DEFAULT_LIMIT = 20;

/** The list state of a hash such as "#/?tag=kitchen", or null when it is not the list route. */
export function listStateFromHash(hash) {
  const text = hash || "#/";
  const match = /^#\/?(?:\?(.*))?$/.exec(text);
  if (!match) return null;
  const query = new URLSearchParams(match[1] ?? "");
  const limit = Number.parseInt(query.get("limit") ?? "", 10);
  const status = query.get("status");
  const tag = (query.get("tag") ?? "").trim();
  const q = tag ? "" : (query.get("q") ?? "").trim();
  return {
    q,
    tag,
    status: status === "active" || status === "archived" ? status : "",
    limit: PAGE_SIZES.includes(limit) ? limit : DEFAULT_LIMIT,
    trail: query.getAll("c").filter((cursor) => cursor !== ""),
  };
}

/** The hash of a list state; the defaults are left out so the plain list stays "#/". */
export function listHash({ q = "", tag = "", status = "", limit = DEFAULT_LIMIT, trail = [] }) {
  const query = new URLSearchParams();
  if (tag) query.set("tag", tag);
  else if (q) query.set("q", q);
  if (status) query.set("status", status);
  if (limit !== DEFAULT_LIMIT) query.set("limit", String(limit));
  for (const cursor of trail) query.append("c", cursor);
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}
