// Where the console finds the API and the sign-in: config.json next to index.html.

function text(value) {
  return typeof value === "string" ? value.trim() : "";
}

/**
 * config.json beside index.html, published with the console (`make run` generates it):
 * {"apiUrl", "apiKey", "auth": {"domain", "clientId"}}. The API key names the console for its
 * usage plan; it is not the person's, and not a secret. Missing or broken means "not configured".
 */
export async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
    if (!response.ok) {
      return {};
    }
    const config = await response.json();
    return config !== null && typeof config === "object" ? config : {};
  } catch {
    return {};
  }
}

/** The connection settings of config.json, or null when it lacks one of them. */
export function readSettings(config) {
  const auth = config.auth && typeof config.auth === "object" ? config.auth : {};
  const settings = {
    apiUrl: text(config.apiUrl),
    apiKey: text(config.apiKey),
    auth: { domain: text(auth.domain), clientId: text(auth.clientId) },
  };
  const complete = settings.apiUrl && settings.apiKey && settings.auth.domain && settings.auth.clientId;
  return complete ? settings : null;
}
