/*
 * kb search worker for Material for MkDocs.
 *
 * Material's search UI talks to a web worker with four messages: SETUP (0) carrying the lunr index,
 * READY (1), QUERY (2) and RESULT (3). This worker answers QUERY from the kb service
 * (GET /api/search), so readers get server-side ranking, Chinese segmentation and highlighted
 * snippets. When the service cannot be reached (the site opened as static files, or served by a
 * plain file server), it loads Material's own lunr worker (named by ?fallback=) and hands it the
 * SETUP message it kept, so search still works offline.
 *
 * Every RESULT carries the query it answers, the service's did_you_mean and no_good_match, so the
 * page can show 你是不是要找 … (kb-search-box.js), check that it shows the reader's last query, and
 * say plainly when nothing matches well (kb-ask.js).
 */
"use strict";

var SETUP = 0, READY = 1, QUERY = 2, RESULT = 3;
var DEBOUNCE_MS = 250;           // Material sends a query per keystroke: ask (and log) only settled ones
var latest = 0;                  // sequence number of the newest query; older answers are dropped
var inflight = null;             // AbortController of the request being answered
var setupMessage = null;
var fallbackActive = false;
var fallbackReady = null;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
  });
}

function toMaterialResult(query, data) {
  var items = (data.results || []).map(function (hit) {
    var sep = hit.url.indexOf("?") >= 0 ? "&" : "?";
    return [{
      location: hit.url + sep + "kbq=" + encodeURIComponent(data.query_id) + "&kbp=" + hit.position,
      title: escapeHtml(hit.title),
      text: hit.snippet,           // already HTML-escaped by the service, with <mark> around matches
      score: hit.score,
      terms: {}
    }];
  });
  // answer and query_id are for the answer box (kb-answer.js); Material reads items only.
  return {items: items, query: query, did_you_mean: data.did_you_mean || null,
          no_good_match: data.no_good_match === true, answer: data.answer || null, query_id: data.query_id || ""};
}

async function askService(query, signal) {
  var url = new URL("/api/search", self.location.origin);
  url.searchParams.set("q", query);
  url.searchParams.set("limit", "50");  // the most the API gives; Material shows them 10 at a time
  var response = await fetch(url.toString(), {credentials: "same-origin", headers: {"X-KB-Source": "site"},
                                              signal: signal});
  var type = response.headers.get("Content-Type") || "";
  if (type.indexOf("application/json") < 0)
    throw new Error("kb service not available");
  if (!response.ok)              // a 4xx from kb (empty or over-long query): no results, not a fallback
    return {items: [], query: query, did_you_mean: null};
  return toMaterialResult(query, await response.json());
}

function startFallback() {
  if (fallbackReady) return fallbackReady;
  fallbackActive = true;
  var realPost = self.postMessage.bind(self);
  fallbackReady = new Promise(function (resolve) {
    // Material's worker answers SETUP with READY; the UI already got ours, so swallow that one.
    self.postMessage = function (message) {
      if (message && message.type === READY) { resolve(); return; }
      realPost(message);
    };
  });
  var name = new URL(self.location.href).searchParams.get("fallback");
  importScripts(name);
  self.dispatchEvent(new MessageEvent("message", {data: setupMessage}));
  return fallbackReady;
}

self.addEventListener("message", async function (ev) {
  var message = ev.data;
  if (fallbackActive) return;    // Material's worker now handles every message itself
  if (message.type === SETUP) {
    setupMessage = message;
    self.postMessage({type: READY});
    return;
  }
  if (message.type !== QUERY) return;
  var seq = ++latest;
  if (inflight) inflight.abort();
  if (!String(message.data || "").trim()) {
    self.postMessage({type: RESULT, data: {items: [], query: message.data || "", did_you_mean: null}});
    return;
  }
  await new Promise(function (resolve) { setTimeout(resolve, DEBOUNCE_MS); });
  if (seq !== latest) return;    // the reader kept typing
  var controller = inflight = new AbortController();
  try {
    var result = await askService(message.data, controller.signal);
    if (seq === latest) self.postMessage({type: RESULT, data: result});
  } catch (err) {
    if (err && err.name === "AbortError") return;
    await startFallback();
    // Queries that arrived while lunr loaded went to it directly; an older one must not answer last.
    if (seq === latest) self.dispatchEvent(new MessageEvent("message", {data: message}));
  }
});
