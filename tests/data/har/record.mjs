// Record a HAR 1.2 file with headless Chromium: node record.mjs APP_URL OUT.har
//
// Speaks the DevTools protocol over --remote-debugging-pipe (fd 3: commands to the
// browser, fd 4: replies and events, NUL-terminated JSON), so it needs Node >= 18 and
// nothing from npm. Network domain events become HAR entries (one per redirect hop, raw
// request/response headers from the *ExtraInfo events, bodies from Network.getResponseBody,
// timings from response.timing); a page per main-frame navigation.
//
// The session it records is the shop app of tests/integration/import_har.rs: open APP_URL
// (a login page with a hidden CSRF field, CSS, an image, a script from another origin),
// "type" the credentials after a pause and submit (POST /login, 303 to /app), and let
// /static/app.js run its fetch() calls (a JSON POST for a token, a JSON POST with
// `Authorization: Bearer <token>` that answers 201 with a Location, a GET of that
// Location, a GET of the cart). The browser is kept off the network: every host but
// 127.0.0.1 fails to resolve, and anything else goes to a dead proxy.
//
// Regenerate the committed tests/data/har/browser.har with
//   LOADTESTER_RECORD_HAR=tests/data/har/browser.har \
//     cargo test --test integration -- import_har::a_browser_recording_made_now
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [appUrl, out] = process.argv.slice(2);
if (!appUrl || !out) {
  console.error("usage: node record.mjs APP_URL OUT.har");
  process.exit(2);
}
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "har-record-"));
const browser = spawn(
  chromium,
  [
    "--headless=new",
    "--remote-debugging-pipe",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    `--user-data-dir=${profile}`,
    "about:blank",
  ],
  // Its own process group, so shutdown() stops the renderers and helpers too.
  { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true },
);
const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
const deadline = setTimeout(() => fail("no recording within 60 s"), 60_000);

function fail(why) {
  console.error(`record.mjs: ${why}`);
  shutdown(1, false);
}

// Stop the browser, wait for it to exit, remove its profile (it may still be writing).
async function shutdown(code, graceful) {
  const exited = new Promise((r) => browser.once("exit", r));
  if (graceful && browser.exitCode === null && browser.signalCode === null) {
    await Promise.race([exited, sleep(3000)]);
  }
  try {
    process.kill(-browser.pid, "SIGKILL");
  } catch {
    // the group is gone already
  }
  await sleep(200);
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (e) {
    console.error(`record.mjs: could not remove ${profile}: ${e.message}`);
  }
  process.exit(code);
}

let nextId = 1;
const pending = new Map();
const listeners = [];
let buffered = Buffer.alloc(0);
fromBrowser.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  let end;
  while ((end = buffered.indexOf(0)) >= 0) {
    const msg = JSON.parse(buffered.subarray(0, end).toString("utf8"));
    buffered = buffered.subarray(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject, method } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
      else resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg);
    }
  }
});
let closing = false;
browser.on("exit", (code) => {
  if (!closing && pending.size) fail(`chromium exited (${code}) with commands pending`);
});

function send(method, params = {}, sessionId) {
  const id = nextId++;
  const msg = { id, method, params };
  if (sessionId) msg.sessionId = sessionId;
  toBrowser.write(JSON.stringify(msg) + "\0");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}

function waitFor(method, test = () => true, ms = 20_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${method} within ${ms} ms`)), ms);
    listeners.push(function once(msg) {
      if (msg.method === method && test(msg.params)) {
        clearTimeout(timer);
        listeners.splice(listeners.indexOf(once), 1);
        resolve(msg.params);
      }
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const headerList = (h = {}) =>
  Object.entries(h).flatMap(([name, v]) =>
    String(v)
      .split("\n")
      .map((value) => ({ name, value })),
  );
const iso = (wallSeconds) => new Date(wallSeconds * 1000).toISOString();

// --- recording state --------------------------------------------------------------------
const pages = [];
const entries = [];
const byRequest = new Map(); // requestId -> current (last hop) entry state
const extraRequest = new Map(); // requestId -> [headers] in hop order
const extraResponse = new Map();
const bodies = [];
let mainFrame = null;

function newEntry(p) {
  const req = p.request;
  const url = new URL(req.url);
  const st = {
    requestId: p.requestId,
    startWall: p.wallTime,
    startMono: p.timestamp,
    pageref: pages.length ? pages[pages.length - 1].id : undefined,
    resourceType: p.type,
    har: {
      startedDateTime: iso(p.wallTime),
      time: 0,
      request: {
        method: req.method,
        url: req.url,
        httpVersion: "HTTP/1.1",
        cookies: [],
        headers: headerList(req.headers),
        queryString: [...url.searchParams].map(([name, value]) => ({ name, value })),
        headersSize: -1,
        bodySize: req.postData ? Buffer.byteLength(req.postData) : 0,
      },
      response: null,
      cache: {},
      timings: { blocked: -1, dns: -1, connect: -1, ssl: -1, send: 0, wait: 0, receive: 0 },
      _resourceType: (p.type || "other").toLowerCase(),
    },
  };
  if (req.postData !== undefined) {
    const ct = Object.entries(req.headers).find(([k]) => k.toLowerCase() === "content-type");
    st.har.request.postData = { mimeType: ct ? ct[1] : "", text: req.postData };
  }
  if (st.pageref) st.har.pageref = st.pageref;
  entries.push(st);
  byRequest.set(p.requestId, st);
  return st;
}

function setResponse(st, r, endMono) {
  const t = r.timing;
  const h = r.headers || {};
  const loc = Object.entries(h).find(([k]) => k.toLowerCase() === "location");
  st.har.request.httpVersion = (r.protocol || "http/1.1").toUpperCase();
  st.har.response = {
    status: r.status,
    statusText: r.statusText || "",
    httpVersion: (r.protocol || "http/1.1").toUpperCase(),
    cookies: [],
    headers: headerList(h),
    content: { size: 0, mimeType: r.mimeType || "" },
    redirectURL: loc ? loc[1] : "",
    headersSize: -1,
    bodySize: -1,
    _transferSize: r.encodedDataLength ?? -1,
  };
  if (r.remoteIPAddress) st.har.serverIPAddress = r.remoteIPAddress;
  if (r.connectionId !== undefined) st.har.connection = String(r.connectionId);
  if (t) {
    const span = (a, b) => (a >= 0 && b >= 0 ? Math.max(0, b - a) : -1);
    // Queued in the browser until the first network phase (DNS, connect or send) began.
    const first = [t.dnsStart, t.connectStart, t.sendStart].find((x) => x >= 0) ?? 0;
    const blocked = Math.max(0, (t.requestTime - st.startMono) * 1000 + first);
    st.har.timings = {
      blocked: Number(blocked.toFixed(3)),
      dns: span(t.dnsStart, t.dnsEnd),
      connect: span(t.connectStart, t.connectEnd),
      ssl: span(t.sslStart, t.sslEnd),
      send: span(t.sendStart, t.sendEnd),
      wait: span(t.sendEnd, t.receiveHeadersEnd),
      receive: 0,
    };
    st.headersDoneMono = t.requestTime + t.receiveHeadersEnd / 1000;
  }
  if (endMono !== undefined) finish(st, endMono);
}

function finish(st, endMono) {
  st.har.time = Number(((endMono - st.startMono) * 1000).toFixed(3));
  if (st.headersDoneMono) {
    st.har.timings.receive = Number(Math.max(0, (endMono - st.headersDoneMono) * 1000).toFixed(3));
  }
}

listeners.push((msg) => {
  const p = msg.params;
  switch (msg.method) {
    case "Network.requestWillBeSent": {
      if (p.redirectResponse) {
        const prev = byRequest.get(p.requestId);
        if (prev) setResponse(prev, p.redirectResponse, p.timestamp);
      } else if (p.type === "Document" && p.frameId === mainFrame) {
        pages.push({
          startedDateTime: iso(p.wallTime),
          id: `page_${pages.length + 1}`,
          title: p.request.url,
          pageTimings: { onContentLoad: -1, onLoad: -1 },
          _startMono: p.timestamp,
        });
      }
      const st = newEntry(p);
      if (p.redirectResponse) {
        // A hop belongs to the page of the request that was redirected.
        const hops = entries.filter((e) => e.requestId === p.requestId);
        st.har.pageref = hops[0].har.pageref;
      }
      break;
    }
    case "Network.requestWillBeSentExtraInfo":
      if (!extraRequest.has(p.requestId)) extraRequest.set(p.requestId, []);
      extraRequest.get(p.requestId).push(p);
      break;
    case "Network.responseReceivedExtraInfo":
      if (!extraResponse.has(p.requestId)) extraResponse.set(p.requestId, []);
      extraResponse.get(p.requestId).push(p);
      break;
    case "Network.responseReceived": {
      const st = byRequest.get(p.requestId);
      if (st) setResponse(st, p.response);
      break;
    }
    case "Network.loadingFinished": {
      const st = byRequest.get(p.requestId);
      if (!st || !st.har.response) break;
      finish(st, p.timestamp);
      st.har.response.bodySize = p.encodedDataLength;
      bodies.push(
        send("Network.getResponseBody", { requestId: p.requestId }, session)
          .then((b) => {
            const c = st.har.response.content;
            c.size = b.base64Encoded ? Buffer.from(b.body, "base64").length : Buffer.byteLength(b.body);
            c.text = b.body;
            if (b.base64Encoded) c.encoding = "base64";
          })
          .catch(() => {}),
      );
      break;
    }
    case "Network.loadingFailed": {
      const st = byRequest.get(p.requestId);
      if (st) {
        finish(st, p.timestamp);
        st.har.response ??= {
          status: 0,
          statusText: "",
          httpVersion: "",
          cookies: [],
          headers: [],
          content: { size: 0, mimeType: "x-unknown" },
          redirectURL: "",
          headersSize: -1,
          bodySize: -1,
          _error: p.errorText,
        };
      }
      break;
    }
    case "Page.domContentEventFired":
    case "Page.loadEventFired": {
      const page = pages[pages.length - 1];
      if (page) {
        const key = msg.method === "Page.loadEventFired" ? "onLoad" : "onContentLoad";
        page.pageTimings[key] = Number(((p.timestamp - page._startMono) * 1000).toFixed(3));
      }
      break;
    }
  }
});

// --- the session ------------------------------------------------------------------------
let session;
try {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  ({ sessionId: session } = await send("Target.attachToTarget", { targetId, flatten: true }));
  const { frameTree } = await send("Page.getFrameTree", {}, session);
  mainFrame = frameTree.frame.id;
  await send("Page.enable", {}, session);
  await send("Network.enable", { maxTotalBufferSize: 64 << 20, maxResourceBufferSize: 16 << 20 }, session);
  await send("Network.setCacheDisabled", { cacheDisabled: true }, session);
  const { product, userAgent } = await send("Browser.getVersion");

  const loaded = waitFor("Page.loadEventFired");
  await send("Page.navigate", { url: appUrl }, session);
  await loaded;
  await sleep(1500); // the user reads the page and types
  const next = waitFor("Page.loadEventFired");
  await send(
    "Runtime.evaluate",
    {
      expression: `document.querySelector('[name=user]').value = 'ann';
        document.querySelector('[name=password]').value = 'pw-ann-1';
        document.querySelector('button[type=submit]').click();`,
    },
    session,
  );
  await next;
  for (let i = 0; ; i++) {
    const { result } = await send(
      "Runtime.evaluate",
      { expression: "document.getElementById('status') && document.getElementById('status').textContent" },
      session,
    );
    if (result.value === "done") break;
    if (String(result.value).startsWith("error")) fail(`the app page says: ${result.value}`);
    if (i > 200) fail("the app page never finished its fetch() calls");
    await sleep(50);
  }
  await sleep(300);
  await Promise.all(bodies);

  // Raw headers (Cookie, Set-Cookie…) where the browser reported them, hop by hop.
  const hop = new Map();
  for (const st of entries) {
    const n = hop.get(st.requestId) ?? 0;
    hop.set(st.requestId, n + 1);
    const rq = extraRequest.get(st.requestId)?.[n];
    if (rq) {
      st.har.request.headers = headerList(rq.headers);
      st.har.request.cookies = (rq.associatedCookies || [])
        .filter((c) => !c.blockedReasons || c.blockedReasons.length === 0)
        .map((c) => ({ name: c.cookie.name, value: c.cookie.value }));
    }
    const rs = extraResponse.get(st.requestId)?.[n];
    if (rs && st.har.response) {
      st.har.response.headers = headerList(rs.headers);
      const sc = Object.entries(rs.headers).find(([k]) => k.toLowerCase() === "set-cookie");
      if (sc) {
        st.har.response.cookies = sc[1].split("\n").map((line) => {
          const [pair] = line.split(";");
          const eq = pair.indexOf("=");
          return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() };
        });
      }
    }
  }
  const har = {
    log: {
      version: "1.2",
      creator: { name: "loadtester tests/data/har/record.mjs", version: "1" },
      browser: { name: product.split("/")[0], version: product.split("/")[1] || "", comment: userAgent },
      pages: pages.map(({ _startMono, ...p }) => p),
      entries: entries
        .filter((st) => st.har.response)
        .sort((a, b) => a.startMono - b.startMono)
        .map((st) => st.har),
    },
  };
  writeFileSync(out, JSON.stringify(har, null, 2) + "\n");
  console.error(`record.mjs: ${har.log.entries.length} entries on ${pages.length} pages → ${out}`);
  clearTimeout(deadline);
  closing = true;
  await Promise.race([send("Browser.close").catch(() => {}), sleep(2000)]);
  await shutdown(0, true);
} catch (e) {
  fail(e.message);
}
