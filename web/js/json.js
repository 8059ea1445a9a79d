// JSON helpers that keep the API's numbers exact and build RFC 7396 merge patches.

const RAW = typeof JSON.rawJSON === "function" && typeof JSON.isRawJSON === "function";

/**
 * JSON.parse that keeps every number exactly as written.
 *
 * The API returns numbers exactly (12345678901234567890 stays 12345678901234567890); a plain
 * JSON.parse would round it to a double and the console would write the rounded value back.
 * Numbers whose text a double does not reproduce stay JSON.rawJSON values, which
 * JSON.stringify writes out verbatim.
 */
export function parseExact(text) {
  if (!RAW) {
    return JSON.parse(text);
  }
  return JSON.parse(text, (_key, value, context) => {
    if (typeof value === "number" && context && context.source !== String(value)) {
      return JSON.rawJSON(context.source);
    }
    return value;
  });
}

/** True for a JSON object (not an array, not null, not an exact-number wrapper). */
export function isObject(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    !(RAW && JSON.isRawJSON(value))
  );
}

/** JSON text with every object's keys sorted, so equal values give equal text. */
export function canonicalJson(value) {
  return JSON.stringify(value, (_key, member) => {
    if (!isObject(member)) return member;
    const sorted = Object.create(null);
    for (const key of Object.keys(member).sort()) sorted[key] = member[key];
    return sorted;
  });
}

/** True when two JSON values are equal, whatever the order of their objects' keys. */
export function sameJson(a, b) {
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * The RFC 7396 merge patch that turns `source` into `target`, or undefined when they are equal.
 *
 * Removed keys become null, nested objects are diffed key by key (the API merges `attributes`
 * recursively), anything else that changed is sent whole. The patch has no prototype so that a
 * key such as "__proto__" is an ordinary member.
 */
export function mergePatch(source, target) {
  if (!isObject(source) || !isObject(target)) {
    return sameJson(source, target) ? undefined : target;
  }
  const patch = Object.create(null);
  for (const key of Object.keys(source)) {
    if (!Object.hasOwn(target, key)) {
      patch[key] = null;
    }
  }
  for (const [key, value] of Object.entries(target)) {
    if (!Object.hasOwn(source, key)) {
      patch[key] = value;
      continue;
    }
    const change = mergePatch(source[key], value);
    if (change !== undefined) {
      patch[key] = change;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * True when a merge patch cannot express `value`: null as an object member means "remove" in
 * RFC 7396, so a null stored inside `attributes` needs a PUT instead. Arrays are replaced as a
 * whole by a merge patch, so nulls inside them are fine.
 */
export function hasNullMember(value) {
  if (!isObject(value)) {
    return false;
  }
  return Object.values(value).some((member) => member === null || hasNullMember(member));
}

/**
 * The word an API error message starts with, as the field it may name, or null.
 *
 * Every 400 of the API starts with the offending field or header: "name: ...",
 * "attributes.a.b: ..." (names "attributes"), "tags must be unique". Callers map only the
 * fields they show, so "item 3f1c... does not exist" names nothing they know.
 */
export function fieldOf(message) {
  const match = /^([A-Za-z_][\w-]*)(?:[.[][^:\s]*)?(?::|\s)/.exec(message ?? "");
  return match ? match[1] : null;
}
