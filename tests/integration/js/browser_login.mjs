// A real browser against passgate's REST gateway: Debian's Chromium (driven by playwright-core)
// loads a page from http://127.0.0.1:<page_port>/ - another origin than the API (another
// port) but the same site - whose script logs in with fetch(credentials: "include") and then
// asks GET /sessions/validate with the cookie the browser stored.
//
//   node browser_login.mjs <api_base> <page_port> [user_id] [password]
//
// The server must allow the page's origin (server.public.cors.allow_origins) and set its
// cookie with http_only true, secure false (plain http) and same_site lax or strict.
// Checks: login 200; validate {"is_valid":true} (the browser stored the cookie and sends it
// cross-origin); the page's document.cookie has no "hanko" (HttpOnly); the browser's cookie
// store has "hanko" for the API with httpOnly true.
// Prints one JSON line {"ok":bool, ...}; exits 0 when all checks hold, 1 otherwise, 2 on
// usage errors.
import http from "node:http";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.PASSGATE_CHROMIUM || "/usr/bin/chromium";
const COOKIE_NAME = "hanko";
const DEFAULT_USER = "38bf5a00-d7ea-40a5-a5de-48722c148925";
const DEFAULT_PASSWORD = "SuperSecure";
// Generous bounds so that a slow machine never flakes; nothing asserts on timing.
const STEP_TIMEOUT_MS = 120000;

function pageHtml(apiBase, userId, password) {
  const config = JSON.stringify({ apiBase, userId, password }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>passgate browser login</title></head>
<body>
<pre id="result">pending</pre>
<script>
const config = ${config};
async function run() {
  const out = { login: null, validate: null, document_cookie: null };
  try {
    const login = await fetch(config.apiBase + "/password/login", {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: config.userId, password: config.password }),
    });
    out.login = {
      status: login.status,
      body: await login.text(),
      session_lifetime: login.headers.get("X-Session-Lifetime"),
      auth_token_header: login.headers.get("X-Auth-Token") !== null,
    };
    const validate = await fetch(config.apiBase + "/sessions/validate", { credentials: "include" });
    const text = await validate.text();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    out.validate = { status: validate.status, body, text };
  } catch (error) {
    out.error = String(error);
  }
  out.document_cookie = document.cookie;
  const result = document.getElementById("result");
  result.textContent = JSON.stringify(out);
  result.setAttribute("data-done", "true");
}
run();
</script>
</body>
</html>
`;
}

function startPageServer(port, html) {
  const server = http.createServer((request, response) => {
    if (request.method === "GET" && (request.url === "/" || request.url === "/index.html")) {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8",
                                "Cache-Control": "no-store" });
      response.end(html);
      return;
    }
    if (request.url === "/favicon.ico") {
      response.writeHead(204);
      response.end();
      return;
    }
    response.writeHead(404, { "Content-Type": "text/plain" });
    response.end("not found");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

async function main() {
  const [apiBaseArg, pagePortArg, userId = DEFAULT_USER, password = DEFAULT_PASSWORD] =
      process.argv.slice(2);
  const pagePort = Number.parseInt(pagePortArg ?? "", 10);
  if (!apiBaseArg || !(pagePort > 0 && pagePort < 65536)) {
    process.stderr.write("usage: node browser_login.mjs <api_base> <page_port> [user_id] [password]\n");
    process.exit(2);
  }
  const apiBase = apiBaseArg.replace(/\/+$/, "");
  const pageUrl = `http://127.0.0.1:${pagePort}/`;
  const report = { api_base: apiBase, page_url: pageUrl, chromium: CHROMIUM };
  const failures = [];

  let pageServer = null;
  let browser = null;
  let context = null;
  const consoleLines = [];
  try {
    pageServer = await startPageServer(pagePort, pageHtml(apiBase, userId, password));
    // launch() starts Chromium on a fresh temporary --user-data-dir of Playwright's own
    // (removed on close); an explicit --user-data-dir flag is refused by launch().
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_TIMEOUT_MS,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
      ],
    });
    report.browser_version = browser.version();
    context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));

    await page.goto(pageUrl, { waitUntil: "load" });
    await page.waitForSelector("#result[data-done='true']", { state: "attached" });
    const result = JSON.parse(await page.textContent("#result"));
    report.page = result;

    if (result.error) failures.push(`the page's fetch failed: ${result.error}`);
    if (result.login?.status !== 200) {
      failures.push(`login status ${result.login?.status}, expected 200`);
    }
    if (result.validate?.status !== 200 || result.validate?.body?.is_valid !== true) {
      failures.push("GET /sessions/validate did not answer is_valid true: the browser did not " +
                    "store the cookie or did not send it cross-origin");
    } else if (result.validate.body.user_id !== userId) {
      failures.push("the validated session is for another user");
    }
    const pageCookieNames = (result.document_cookie || "").split(/;\s*/).filter(Boolean)
        .map((cookie) => cookie.split("=")[0]);
    if (pageCookieNames.includes(COOKIE_NAME)) {
      failures.push("the session cookie is readable from the page's document.cookie");
    }
    // The browser's own cookie store, as the API's origin sees it.
    const cookies = await context.cookies(apiBase);
    report.api_cookies = cookies.map((cookie) => ({
      name: cookie.name, domain: cookie.domain, path: cookie.path, httpOnly: cookie.httpOnly,
      secure: cookie.secure, sameSite: cookie.sameSite, expires: cookie.expires,
    }));
    const sessionCookie = cookies.find((cookie) => cookie.name === COOKIE_NAME);
    if (!sessionCookie) {
      failures.push(`the browser holds no cookie "${COOKIE_NAME}" for ${apiBase}`);
    } else if (sessionCookie.httpOnly !== true) {
      failures.push(`cookie "${COOKIE_NAME}" is not HttpOnly`);
    }
  } catch (error) {
    failures.push(`harness error: ${error?.message ?? error}`);
  } finally {
    if (context) await context.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (pageServer) {
      pageServer.closeAllConnections();
      await new Promise((resolve) => pageServer.close(resolve));
    }
  }

  if (consoleLines.length > 0) report.console = consoleLines;
  const ok = failures.length === 0;
  if (!ok) report.failures = failures;
  process.stdout.write(JSON.stringify({ ok, ...report }) + "\n");
  process.exit(ok ? 0 : 1);
}

main();
