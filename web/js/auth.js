// Sign-in with the user pool's managed login: OAuth 2.0 authorization code with PKCE (S256).
//
// The page never sees a password: it sends the person to the managed login, gets a one-time
// code back, and exchanges it (with the PKCE verifier only this tab holds) for tokens at the
// token endpoint. Tokens live in this tab's sessionStorage only (never localStorage, never a
// cookie) and are refreshed a minute before they expire; signing out revokes the refresh token
// and ends the managed login's session too.

const TOKENS_KEY = "items-console.tokens";
const PENDING_KEY = "items-console.pending-sign-in";
const REFRESH_MARGIN_MS = 60_000;

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The claims of a JWT, decoded without verification (the API verifies; this only displays). */
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(payload))));
  } catch {
    return {};
  }
}

export class Auth {
  /** ``config``: {domain, clientId}; ``redirectUri``: where the managed login returns. */
  constructor(config, redirectUri) {
    this.domain = String(config.domain || "").replace(/\/+$/, "");
    this.clientId = String(config.clientId || "");
    this.redirectUri = redirectUri;
    this.timer = null;
    this.onSignedOut = () => {};
    this.onRefreshed = () => {};
  }

  get configured() {
    return Boolean(this.domain && this.clientId);
  }

  get tokens() {
    try {
      return JSON.parse(sessionStorage.getItem(TOKENS_KEY) || "null");
    } catch {
      return null;
    }
  }

  set tokens(value) {
    if (value) sessionStorage.setItem(TOKENS_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(TOKENS_KEY);
  }

  get signedIn() {
    return this.tokens !== null;
  }

  /** Who is signed in: {username, groups, canWrite}. */
  get person() {
    const claims = claimsOf(this.tokens?.accessToken ?? "");
    const groups = Array.isArray(claims["cognito:groups"]) ? claims["cognito:groups"] : [];
    return {
      username: claims.username ?? claims["cognito:username"] ?? "",
      groups,
      canWrite: groups.includes("editors"),
    };
  }

  /** Go to the managed login; it comes back to ``redirectUri`` with a code. */
  async signIn() {
    const verifier = randomString();
    const state = randomString(16);
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      scope: "openid email profile",
      state,
      code_challenge: await challengeOf(verifier),
      code_challenge_method: "S256",
    });
    location.assign(`${this.domain}/oauth2/authorize?${query}`);
  }

  /**
   * Finish a sign-in if this page load is the managed login's return (``?code=&state=``).
   * Returns an error message when the return is not one this tab started, else null.
   */
  async completeSignIn() {
    const params = new URLSearchParams(location.search);
    if (!params.has("code") && !params.has("error")) return null;
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, "", location.pathname + location.hash); // the code works once
    if (params.has("error")) return `Sign-in failed: ${params.get("error")}`;
    if (!pending || pending.state !== params.get("state")) {
      return "Sign-in failed: this answer does not belong to a sign-in started here";
    }
    await this.#grant({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: this.redirectUri,
      code_verifier: pending.verifier,
    });
    return null;
  }

  /** A current access token, refreshed first when it expires within the margin. */
  async accessToken() {
    const tokens = this.tokens;
    if (!tokens) return null;
    if (tokens.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    return this.tokens?.accessToken ?? null;
  }

  async refresh() {
    const tokens = this.tokens;
    if (!tokens?.refreshToken) {
      this.#forget();
      return;
    }
    try {
      await this.#grant({ grant_type: "refresh_token", refresh_token: tokens.refreshToken });
      this.onRefreshed();
    } catch {
      this.#forget(); // the refresh token expired or was revoked: sign in again
    }
  }

  /** Refresh a minute before expiry, for as long as the tab stays open. */
  schedule() {
    clearTimeout(this.timer);
    const tokens = this.tokens;
    if (!tokens) return;
    const wait = Math.max(tokens.expiresAt - Date.now() - REFRESH_MARGIN_MS, 0);
    this.timer = setTimeout(async () => {
      await this.refresh();
      this.schedule();
    }, wait);
  }

  /** Revoke the refresh token, forget the tokens, and end the managed login's session. */
  async signOut() {
    const refreshToken = this.tokens?.refreshToken;
    this.#forget(); // the page shows the sign-in screen at once
    if (refreshToken) {
      try {
        await fetch(`${this.domain}/oauth2/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: refreshToken, client_id: this.clientId }),
          credentials: "omit",
          signal: AbortSignal.timeout(3000),
        });
      } catch {
        // Signing out locally still happened; the token expires on its own.
      }
    }
    const query = new URLSearchParams({ client_id: this.clientId, logout_uri: this.redirectUri });
    location.assign(`${this.domain}/logout?${query}`);
  }

  #forget({ notify = true } = {}) {
    clearTimeout(this.timer);
    this.tokens = null;
    if (notify) this.onSignedOut();
  }

  async #grant(fields) {
    const response = await fetch(`${this.domain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.clientId, ...fields }),
      credentials: "omit",
      cache: "no-store",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || !answer.access_token) {
      throw new Error(`sign-in refused: ${answer.error ?? response.status}`);
    }
    const previous = this.tokens;
    this.tokens = {
      accessToken: answer.access_token,
      idToken: answer.id_token ?? previous?.idToken ?? null,
      // A refresh grant returns no new refresh token: keep the one that still works.
      refreshToken: answer.refresh_token ?? previous?.refreshToken ?? null,
      expiresAt: Date.now() + Number(answer.expires_in || 3600) * 1000,
    };
  }
}
