// Hanko's own frontend SDK (@teamhanko/hanko-frontend-sdk 0.12.0) against passgate's REST
// gateway, in Node under jsdom: the page lives on another origin than the API, so every
// request is a credentialed cross-origin XMLHttpRequest and passes jsdom's CORS checks.
//
//   node sdk_login.mjs <base_url> <user_id> <password> <expect>
//
// expect:
//   ok-cookie          login resolves; the server's session cookie landed in the cookie jar for
//                      the API (not in the page's document.cookie); the SDK read
//                      X-Session-Lifetime and recorded a session; the SDK's own HTTP client
//                      then gets {"is_valid":true} from GET /sessions/validate (cookie sent).
//   ok-header          login resolves; the SDK read X-Auth-Token and stored it as its own
//                      cookie "hanko" on the page's origin; no cookie from the server; the
//                      SDK's HTTP client then validates with "Authorization: Bearer".
//   invalid-password   login rejects with the SDK's InvalidPasswordError (HTTP 401).
//   too-many-requests  8 concurrent logins: at least one rejects with TooManyRequestsError
//                      (HTTP 429); every other outcome is a success or one of those.
//
// Prints one JSON line {"ok":bool, ...details}; exits 0 when the expectation is met, 1
// otherwise (with "reason"), 2 on usage errors.
import { JSDOM, CookieJar } from "jsdom";

export const PAGE_ORIGIN = "http://app.localhost.test";
const CONCURRENT_LOGINS = 8;
const EXPECTATIONS = ["ok-cookie", "ok-header", "invalid-password", "too-many-requests"];

function finish(ok, report) {
  process.stdout.write(JSON.stringify({ ok, ...report }) + "\n");
  process.exit(ok ? 0 : 1);
}

// The SDK's build minifies class names, so name errors by the exported class they are.
let sdkErrorClasses = [];

function describeError(error) {
  if (error === null || typeof error !== "object") return { value: String(error) };
  const matching = sdkErrorClasses.filter(([, cls]) => error instanceof cls);
  // The most derived class: the one that no other match is a subclass of.
  const sdkClass = matching.find(([, cls]) =>
      matching.every(([, other]) => other === cls || !(other.prototype instanceof cls)));
  return {
    sdk_class: sdkClass ? sdkClass[0] : null,
    name: error.constructor?.name,
    code: error.code,
    message: error.message,
    retryAfter: error.retryAfter,
    cause: error.cause ? String(error.cause) : undefined,
  };
}

function jwtPayload(token) {
  const parts = String(token ?? "").split(".");
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return null;
  }
}

// The SDK is written for a browser: it touches window, document, localStorage,
// XMLHttpRequest and CustomEvent at import time and on every call. Copy them from a jsdom
// window onto globalThis before the dynamic import (a static import would run first).
function installBrowserGlobals(window) {
  const names = [
    "window", "document", "navigator", "location", "localStorage", "sessionStorage",
    "XMLHttpRequest", "Event", "CustomEvent", "DOMException", "HTMLElement", "Node",
  ];
  for (const name of names) {
    const value = name === "window" ? window : window[name];
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}

async function main() {
  const [baseUrlArg, userId, password, expect] = process.argv.slice(2);
  if (!baseUrlArg || !userId || password === undefined || !EXPECTATIONS.includes(expect)) {
    process.stderr.write(
      `usage: node sdk_login.mjs <base_url> <user_id> <password> <${EXPECTATIONS.join("|")}>\n`);
    process.exit(2);
  }
  const baseUrl = baseUrlArg.replace(/\/+$/, "");
  const report = { expect, base_url: baseUrl, page_origin: PAGE_ORIGIN };

  const cookieJar = new CookieJar();
  const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", {
    url: PAGE_ORIGIN + "/",
    cookieJar,
    pretendToBeVisual: true,
  });
  installBrowserGlobals(dom.window);

  // The package's "exports" send an ESM import to dist/sdk.modern.js (the ES2017+ module
  // build); dist/sdk.cjs is for require() and dist/sdk.umd.js for <script> tags.
  report.sdk_entry = import.meta.resolve("@teamhanko/hanko-frontend-sdk");
  const sdk = await import("@teamhanko/hanko-frontend-sdk");
  const { Hanko, InvalidPasswordError, TooManyRequestsError, HankoError } = sdk;
  sdkErrorClasses = Object.entries(sdk).filter(
      ([name, value]) => typeof value === "function" && /Error$/.test(name));
  // A generous request timeout: the tests assert outcomes, never timing.
  const hanko = new Hanko(baseUrl, { timeout: 120000 });

  const sessionCreated = [];
  hanko.onSessionCreated((detail) => sessionCreated.push(detail));

  if (expect === "too-many-requests") {
    const outcomes = await Promise.allSettled(
      Array.from({ length: CONCURRENT_LOGINS }, () => hanko.password.login(userId, password)));
    const summary = { fulfilled: 0, too_many_requests: 0, other: [] };
    for (const outcome of outcomes) {
      if (outcome.status === "fulfilled") {
        summary.fulfilled++;
      } else if (outcome.reason instanceof TooManyRequestsError) {
        summary.too_many_requests++;
        summary.retry_after ??= outcome.reason.retryAfter;
      } else {
        summary.other.push(describeError(outcome.reason));
      }
    }
    report.outcomes = summary;
    if (summary.too_many_requests === 0) {
      return finish(false, { ...report, reason: "no login rejected with TooManyRequestsError" });
    }
    if (summary.other.length > 0) {
      return finish(false, {
        ...report,
        reason: "some logins failed with something other than TooManyRequestsError",
      });
    }
    return finish(true, report);
  }

  let loginError = null;
  try {
    await hanko.password.login(userId, password);
  } catch (error) {
    loginError = error;
  }
  report.login = loginError === null ? "resolved" : { rejected: describeError(loginError) };

  if (expect === "invalid-password") {
    if (loginError === null) return finish(false, { ...report, reason: "login resolved" });
    if (!(loginError instanceof InvalidPasswordError)) {
      return finish(false, { ...report, reason: "not an InvalidPasswordError" });
    }
    if (!(loginError instanceof HankoError) || loginError.code !== "invalidPassword") {
      return finish(false, { ...report, reason: "error is not the SDK's invalidPassword" });
    }
    if (hanko.session.isValid()) {
      return finish(false, { ...report, reason: "the SDK recorded a session after a 401" });
    }
    return finish(true, report);
  }

  // ok-cookie / ok-header
  if (loginError !== null) return finish(false, { ...report, reason: "login rejected" });

  // What the SDK keeps after a login: localStorage "<localStorageKey>_session" (base64 of a
  // URI-encoded JSON {"session":{"expiry","userID","authFlowCompleted"}}), written only when
  // it could read X-Session-Lifetime; plus, only when it could read X-Auth-Token, its own
  // cookie "<cookieName>" on the page's origin holding the JWT. hanko.session.get() combines
  // the two: {userID, expirationSeconds, jwt}.
  const session = hanko.session.get();
  const pageCookies = dom.window.document.cookie;
  const apiCookies = cookieJar.getCookiesSync(baseUrl + "/").map((cookie) => ({
    key: cookie.key,
    httpOnly: cookie.httpOnly,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
    path: cookie.path,
    maxAge: cookie.maxAge,
    value_is_jwt: jwtPayload(cookie.value) !== null,
  }));
  const apiSessionCookie = cookieJar.getCookiesSync(baseUrl + "/").find((c) => c.key === "hanko");
  report.sdk_session = session && {
    userID: session.userID,
    expirationSeconds: session.expirationSeconds,
    jwt_present: Boolean(session.jwt),
  };
  report.local_storage_keys = Object.keys(dom.window.localStorage);
  report.page_cookie_names = pageCookies ? pageCookies.split(/;\s*/).map((c) => c.split("=")[0]) : [];
  report.api_cookies = apiCookies;
  report.session_created_events = sessionCreated.length;

  if (!hanko.session.isValid() || session === null) {
    return finish(false, {
      ...report,
      reason: "the SDK recorded no session: it could not read X-Session-Lifetime " +
              "(missing, or not in Access-Control-Expose-Headers)",
    });
  }
  if (session.userID !== userId) {
    return finish(false, { ...report, reason: "the SDK's session is for another user" });
  }
  if (sessionCreated.length !== 1) {
    return finish(false, { ...report, reason: "expected one hanko-session-created event" });
  }

  // The SDK's own HTTP client (credentialed XHR, Bearer from its cookie when it has one)
  // asks the gateway whether the session it now holds is valid.
  const validate = await hanko.password.client.get("/sessions/validate");
  let validateBody = null;
  try {
    validateBody = validate.json();
  } catch {
    validateBody = null;
  }
  report.validate = { status: validate.status, body: validateBody };
  if (validate.status !== 200 || validateBody?.is_valid !== true) {
    return finish(false, { ...report, reason: "GET /sessions/validate did not say is_valid" });
  }
  if (validateBody.user_id !== userId && validateBody.claims?.subject !== userId) {
    return finish(false, { ...report, reason: "validated session is for another user" });
  }

  if (expect === "ok-cookie") {
    if (!apiSessionCookie) {
      return finish(false, { ...report, reason: "the server set no cookie \"hanko\"" });
    }
    if (jwtPayload(apiSessionCookie.value)?.sub !== userId) {
      return finish(false, { ...report, reason: "the server's cookie holds no JWT for the user" });
    }
    if (session.jwt) {
      return finish(false, {
        ...report,
        reason: "the SDK stored a token of its own: the gateway sent X-Auth-Token in cookie mode",
      });
    }
    return finish(true, report);
  }

  // ok-header
  if (!session.jwt) {
    return finish(false, {
      ...report,
      reason: "the SDK stored no token: it could not read X-Auth-Token " +
              "(missing, or not in Access-Control-Expose-Headers)",
    });
  }
  if (jwtPayload(session.jwt)?.sub !== userId) {
    return finish(false, { ...report, reason: "the SDK's token is not a JWT for the user" });
  }
  if (!/(^|;\s*)hanko=/.test(pageCookies)) {
    return finish(false, { ...report, reason: "the SDK's cookie is not in document.cookie" });
  }
  if (apiSessionCookie) {
    return finish(false, { ...report, reason: "the server set a cookie in header mode" });
  }
  return finish(true, report);
}

main().catch((error) => finish(false, { reason: "uncaught", error: describeError(error),
                                        stack: String(error?.stack ?? "") }));
