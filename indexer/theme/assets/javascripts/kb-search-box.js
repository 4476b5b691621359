/*
 * kb search box: every way text arrives searches, and the reader sees the answer to their last query.
 *
 * Material 9.x sends the search box's value to its worker on key-up only, so text that arrives without
 * a key-up was never searched: a right-click paste, autofill, the words an IME commits when a
 * composition ends (甘特图 依赖 was searched as "甘特图 "). This script listens to `input` and
 * `compositionend` and hands Material the key-up it waits for; key-ups during a composition (the
 * half-typed pinyin) are kept from Material instead. Debouncing is the worker's job (kb-search.js
 * asks the service only for a settled query and drops answers to older ones).
 *
 * It also reads the worker's answers, which carry their query and the service's did_you_mean: the
 * result list gets data-kb-query (the query it shows) and 你是不是要找 <suggestion>, which searches
 * the suggestion when clicked. Loaded in <head>, before Material's bundle creates the worker.
 */
(function () {
  "use strict";
  var t = window.kbT;  // the reader's language (kb-i18n.js)

  var RESULT = 3;
  var composing = false;

  function searchBox() {
    return document.querySelector("input.md-search__input");
  }

  // Material reads the box on key-up (and drops values it already sent), so a synthetic one is enough.
  function settle(box) {
    box.dispatchEvent(new KeyboardEvent("keyup", {bubbles: false}));
  }

  function search(box, text) {
    box.value = text;
    box.focus();
    settle(box);
  }

  function suggestionElement() {
    return document.querySelector(".md-search-result .kb-did-you-mean");
  }

  function showSuggestion(suggestion) {
    var old = suggestionElement();
    if (old) old.remove();
    var result = document.querySelector(".md-search-result");
    if (!suggestion || !result) return;
    var line = document.createElement("div");
    line.className = "kb-did-you-mean md-search-result__meta";
    line.appendChild(document.createTextNode(t("你是不是要找 ")));
    var link = document.createElement("a");
    var url = new URL(location.href);
    url.search = "?q=" + encodeURIComponent(suggestion);  // Material's own deep link, for a new tab
    url.hash = "";
    link.href = url.toString();
    link.textContent = suggestion;
    link.addEventListener("click", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
      ev.preventDefault();
      ev.stopPropagation();
      var box = searchBox();
      if (box) search(box, suggestion);
    });
    line.appendChild(link);
    line.appendChild(document.createTextNode(t("？")));
    // Material writes the count into the first child and results into the last: stay in between.
    result.insertBefore(line, result.lastElementChild);
  }

  function onWorkerMessage(ev) {
    var message = ev.data;
    if (!message || message.type !== RESULT || !message.data) return;
    var data = message.data, result = document.querySelector(".md-search-result");
    if (typeof data.query !== "string") {   // Material's lunr worker (static files): no query, no suggestion
      showSuggestion(null);
      return;
    }
    if (result) result.setAttribute("data-kb-query", data.query);
    showSuggestion(data.did_you_mean);
    // The worker answers only its newest query; if the box has moved on since, make sure Material sends it.
    var box = searchBox();
    if (box && !composing && box.value !== data.query) settle(box);
  }

  // Watch the answers of kb's worker: Material creates it with `new Worker(url)` when its bundle runs.
  var NativeWorker = window.Worker;
  if (NativeWorker) {
    var KbWorker = function (url, options) {
      var worker = new NativeWorker(url, options);
      if (String(url).indexOf("kb-search.js") >= 0) worker.addEventListener("message", onWorkerMessage);
      return worker;
    };
    KbWorker.prototype = NativeWorker.prototype;
    window.Worker = KbWorker;
  }

  function isBox(target) {
    return target && target.matches && target.matches("input.md-search__input");
  }

  document.addEventListener("compositionstart", function (ev) {
    if (isBox(ev.target)) composing = true;
  }, true);
  document.addEventListener("compositionend", function (ev) {
    if (!isBox(ev.target)) return;
    composing = false;
    var box = ev.target;
    setTimeout(function () { settle(box); }, 0);  // some browsers update the value after compositionend
  }, true);
  document.addEventListener("input", function (ev) {
    if (isBox(ev.target) && !composing && !ev.isComposing) settle(ev.target);
  }, true);
  // Key-ups while an IME composes carry half-typed pinyin: searching (and logging) it helps nobody.
  window.addEventListener("keyup", function (ev) {
    if (isBox(ev.target) && (composing || ev.isComposing)) ev.stopImmediatePropagation();
  }, true);
  document.addEventListener("reset", function (ev) {
    if (!ev.target || ev.target.name !== "search") return;
    showSuggestion(null);
    var box = searchBox();
    if (box) setTimeout(function () { settle(box); }, 0);  // the value is cleared after the event
  }, true);
})();
