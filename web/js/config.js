// Where the console finds the API: config.json next to index.html, then what the user entered.

const URL_KEY = "items-console.apiUrl";
const KEY_KEY = "items-console.apiKey";

function text(value) {
  return typeof value === "string" ? value.trim() : "";
}

/**
 * The optional config.json beside index.html: {"apiUrl"} when deployed, plus "apiKey" locally
 * (`make run` generates it). Missing or broken means "ask the user".
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

/** What this tab uses: what the user entered here wins over config.json. */
export function readSettings(config) {
  return {
    apiUrl: sessionStorage.getItem(URL_KEY) || text(config.apiUrl),
    apiKey: sessionStorage.getItem(KEY_KEY) || text(config.apiKey),
  };
}

/** Remember the connection for this tab only (sessionStorage: never on disk after the tab). */
export function saveSettings({ apiUrl, apiKey }) {
  sessionStorage.setItem(URL_KEY, apiUrl);
  sessionStorage.setItem(KEY_KEY, apiKey);
}
