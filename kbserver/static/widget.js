/*
 * kb in-product help widget. A company puts one tag into its own web app:
 *
 *   <script src="https://help.example.com/widget.js" data-kb-context="gantt" async></script>
 *
 * data-kb-context  the module this page is about (else the page's path is mapped: --widget-pages)
 * data-kb-lang     "zh" or "en": the company's choice for this page; without it the customer's browser
 *                  decides (the first of navigator.languages that is Chinese or English), else the
 *                  company's language (KB_LANGUAGE, written into this script when kb serves it)
 * data-kb-position "right" (default) or "left"
 *
 * Everything lives in a shadow root (no CSS leaks in or out), styles come from a constructed
 * stylesheet (no <style> element, so a host CSP without 'unsafe-inline' still works), and requests go
 * to the kb origin the script came from, without cookies (credentials: "omit"). The only HTML set is
 * what kb sanitized on the server (snippets, the answer, the article).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__kbHelpWidget) return;
  window.__kbHelpWidget = true;

  var KB = new URL(script.src, location.href).origin;
  var COMPANY_LANG = /*KB_LANGUAGE*/"zh";  // kb's /widget.js writes the company's language here
  var LANG = language(script.getAttribute("data-kb-lang"), navigator.languages || [navigator.language], COMPANY_LANG);
  var context = script.getAttribute("data-kb-context") || "";
  var SIDE = script.getAttribute("data-kb-position") === "left" ? "left" : "right";
  var SESSION_KEY = "kb-widget-session";
  var SESSION_IDLE = 30 * 60 * 1000;  // like the site's kb_sid cookie

  var STRINGS = {
    zh: {
      button: "帮助", title: "帮助中心", close: "关闭帮助", search: "搜索帮助文章", placeholder: "输入问题，例如：如何导入 Excel",
      suggested: "本页相关文章", searching: "正在搜索……", none: "没有找到相关文章。", weak: "没有找到完全匹配的文章。",
      answer: "答案", readMore: "查看全文", results: "搜索结果", back: "返回", openInKb: "在帮助中心打开",
      wasHelpful: "这篇文章有帮助吗？", answerHelpful: "这个答案有帮助吗？", yes: "有帮助", no: "没帮助",
      thanks: "感谢您的反馈！", ask: "联系客服", askTitle: "联系客服", askIntro: "没找到答案？把问题告诉我们，客服会尽快回复。",
      question: "您的问题", email: "邮箱（选填，便于回复您）", send: "提交", sending: "正在提交……",
      sent: "已提交，客服团队会尽快处理。谢谢！", empty: "请填写您的问题。", tooMany: "提交太频繁，请稍后再试。",
      failed: "出错了，请稍后再试。", loading: "正在加载……", badEmail: "邮箱格式不正确，请检查或留空。"
    },
    en: {
      button: "Help", title: "Help center", close: "Close help", search: "Search help articles",
      placeholder: "Ask a question, e.g. how to import Excel", suggested: "Articles for this page",
      searching: "Searching…", none: "No articles found.", weak: "No article matches exactly.", answer: "Answer",
      readMore: "Read the article", results: "Results", back: "Back", openInKb: "Open in the help center",
      wasHelpful: "Was this article helpful?", answerHelpful: "Was this answer helpful?", yes: "Yes", no: "No",
      thanks: "Thanks for your feedback!", ask: "Ask the support team", askTitle: "Ask the support team",
      askIntro: "Didn't find it? Tell us your question and the support team will get back to you.",
      question: "Your question", email: "E-mail (optional, for our answer)", send: "Send", sending: "Sending…",
      sent: "Sent. The support team will get back to you soon. Thank you!", empty: "Please write your question.",
      tooMany: "Too many questions from here; please try again later.", failed: "Something went wrong; please try again.",
      loading: "Loading…", badEmail: "That e-mail address does not look right; check it or leave it empty."
    }
  };
  function t(key) { return STRINGS[LANG][key]; }

  // The snippet's data-kb-lang, else the first Chinese or English language the browser asks for, else the company's.
  function language(chosen, browser, company) {
    var wanted = [chosen || ""].concat(Array.prototype.slice.call(browser || []));
    for (var i = 0; i < wanted.length; i++) {
      var m = /^(zh|en)\b/i.exec(String(wanted[i] || "").trim());
      if (m) return m[1].toLowerCase();
    }
    return company === "en" ? "en" : "zh";
  }

  var CSS = [
    ":host{all:initial}",
    ".kb{position:fixed;bottom:20px;" + SIDE + ":20px;z-index:2147483000;font:14px/1.5 -apple-system,BlinkMacSystemFont,",
    "'Segoe UI','PingFang SC','Hiragino Sans GB','Noto Sans CJK SC','Microsoft YaHei',sans-serif;color:#1f2328}",
    ".kb *{box-sizing:border-box}",
    ".kb-button{display:flex;align-items:center;gap:6px;border:0;border-radius:24px;padding:10px 18px;cursor:pointer;",
    "background:#3f51b5;color:#fff;font:inherit;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".kb-button:focus-visible,.kb button:focus-visible,.kb a:focus-visible,.kb input:focus-visible,",
    ".kb textarea:focus-visible{outline:3px solid #ff9800;outline-offset:2px}",
    ".kb-panel{position:absolute;bottom:56px;" + SIDE + ":0;width:380px;max-width:calc(100vw - 40px);height:560px;",
    "max-height:calc(100vh - 100px);display:flex;flex-direction:column;background:#fff;border-radius:10px;",
    "box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}",
    ".kb-panel[hidden]{display:none}",
    ".kb-head{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:#3f51b5;color:#fff}",
    ".kb-head h2{margin:0;font-size:16px}",
    ".kb-close{border:0;background:transparent;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:2px 6px}",
    ".kb-form{padding:10px 14px;border-bottom:1px solid #e5e7eb}",
    ".kb-input{width:100%;padding:8px 10px;border:1px solid #c4c8d0;border-radius:6px;font:inherit}",
    ".kb-body{flex:1;overflow:auto;padding:10px 14px}",
    ".kb-foot{padding:8px 14px;border-top:1px solid #e5e7eb;text-align:center}",
    ".kb-link{border:0;background:none;color:#3f51b5;font:inherit;cursor:pointer;padding:2px 0;text-decoration:underline}",
    ".kb h3{font-size:13px;color:#57606a;margin:8px 0 6px;font-weight:600}",
    ".kb ul.kb-list{list-style:none;margin:0;padding:0}",
    ".kb-list li{margin:0 0 8px}",
    ".kb-item{display:block;width:100%;text-align:left;border:1px solid #e5e7eb;border-radius:6px;background:#fff;",
    "padding:8px 10px;font:inherit;color:inherit;cursor:pointer}",
    ".kb-item:hover{border-color:#3f51b5}",
    ".kb-item strong{display:block;color:#3f51b5}",
    ".kb-item span{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;color:#57606a;",
    "font-size:13px}",
    ".kb mark{background:#fff3b0;color:inherit}",
    ".kb-answer{border:1px solid #c5cae9;background:#f5f6fc;border-radius:8px;padding:10px;margin:0 0 12px}",
    ".kb-answer__label{font-size:12px;color:#3f51b5;font-weight:600}",
    ".kb-answer__heading{font-weight:600;margin:2px 0 4px}",
    ".kb-votes{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-top:8px}",
    ".kb-vote{border:1px solid #c4c8d0;border-radius:16px;background:#fff;padding:3px 12px;font:inherit;cursor:pointer}",
    ".kb-status{color:#1a7f37;margin:6px 0}",
    ".kb-error{color:#cf222e;margin:6px 0}",
    ".kb-article h1,.kb-article h2{font-size:17px;margin:12px 0 6px}",
    ".kb-article h3,.kb-article h4{font-size:15px;color:inherit;margin:10px 0 4px}",
    ".kb-article img{max-width:100%;height:auto}",
    ".kb-target{background:#fff8c5}",
    ".kb-article table{border-collapse:collapse;font-size:13px}",
    ".kb-article td,.kb-article th{border:1px solid #d0d7de;padding:3px 6px}",
    ".kb-article pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}",
    ".kb-article a,.kb-body a{color:#3f51b5}",
    ".kb-ask label{display:block;margin:8px 0 4px;font-weight:600}",
    ".kb-ask textarea{width:100%;min-height:90px;padding:8px;border:1px solid #c4c8d0;border-radius:6px;font:inherit}",
    ".kb-primary{margin-top:10px;border:0;border-radius:6px;background:#3f51b5;color:#fff;padding:7px 16px;font:inherit;",
    "cursor:pointer}",
    ".kb-primary[disabled]{opacity:.6}"
  ].join("");

  // Only HTML kb sanitized on the server passes through here; under a host's Trusted Types policy the
  // page must allow the policy "kb-widget".
  var policy = null;
  if (window.trustedTypes && window.trustedTypes.createPolicy) {
    try { policy = window.trustedTypes.createPolicy("kb-widget", {createHTML: function (s) { return s; }}); }
    catch (e) { policy = null; }
  }
  function setHTML(node, html) { node.innerHTML = policy ? policy.createHTML(html) : html; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // The anonymous session: kept in the host's storage for 30 idle minutes (in memory if storage is off).
  var memorySession = null;
  function session() {
    var now = Date.now(), stored = null;
    try { stored = JSON.parse(localStorage.getItem(SESSION_KEY) || "null"); } catch (e) { stored = memorySession; }
    if (!stored || !stored.id || now - stored.at > SESSION_IDLE) {
      var bytes = new Uint8Array(12);
      crypto.getRandomValues(bytes);
      stored = {id: Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("")};
    }
    stored.at = now;
    memorySession = stored;
    try { localStorage.setItem(SESSION_KEY, JSON.stringify(stored)); } catch (e) { /* storage blocked */ }
    return stored.id;
  }

  function api(method, path, body) {
    var options = {method: method, credentials: "omit", mode: "cors", headers: {"X-KB-Session": session()}};
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(KB + "/api/widget/" + path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) { var err = new Error("HTTP " + response.status); err.status = response.status; throw err; }
        return data;
      });
    });
  }

  // -- the button and the panel ------------------------------------------------------------------------
  var host = document.createElement("kb-help-widget");
  var root = host.attachShadow({mode: "open"});
  if ("adoptedStyleSheets" in root && window.CSSStyleSheet) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", null, CSS));  // older browsers: needs style-src 'unsafe-inline' on the host
  }
  var wrap = el("div", "kb");
  wrap.lang = LANG === "en" ? "en" : "zh-CN";
  var button = el("button", "kb-button", "? " + t("button"));
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "kb-panel");
  var panel = el("div", "kb-panel");
  panel.id = "kb-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", t("title"));
  var head = el("div", "kb-head");
  var close = el("button", "kb-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", t("close"));
  head.append(el("h2", null, t("title")), close);
  var form = el("form", "kb-form");
  form.setAttribute("role", "search");
  var input = el("input", "kb-input");
  input.type = "search";
  input.maxLength = 500;
  input.placeholder = t("placeholder");
  input.setAttribute("aria-label", t("search"));
  form.appendChild(input);
  var body = el("div", "kb-body");
  body.setAttribute("aria-live", "polite");
  var foot = el("div", "kb-foot");
  var askLink = el("button", "kb-link kb-ask-open", t("ask"));
  askLink.type = "button";
  foot.appendChild(askLink);
  panel.append(head, form, body, foot);
  wrap.append(panel, button);
  root.appendChild(wrap);

  var lastQuery = "", lastResults = null, suggestionsShown = null, suggestionsFor = "", seq = 0;

  function open() {
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (!body.childNodes.length) showHome();
    input.focus();
  }
  function shut() {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () { if (panel.hidden) open(); else shut(); });
  close.addEventListener("click", shut);
  wrap.addEventListener("keydown", function (ev) { if (ev.key === "Escape" && !panel.hidden) { ev.preventDefault(); shut(); } });

  function show(nodes) {
    body.replaceChildren.apply(body, nodes);
    body.scrollTop = 0;
    keepFocus();
  }
  // A keyboard user whose focused control was just replaced (a sent form, a vote) stays in the panel.
  function keepFocus() {
    if (panel.hidden || root.activeElement) return;
    var first = body.querySelector("button, a[href], input, textarea");
    (first || input).focus();
  }
  function item(title, summary, onOpen) {
    var li = el("li");
    var b = el("button", "kb-item");
    b.type = "button";
    b.appendChild(el("strong", null, title));
    if (summary) b.appendChild(summary);
    b.addEventListener("click", onOpen);
    li.appendChild(b);
    return li;
  }

  // -- home: suggestions for this page ---------------------------------------------------------------------
  // Single-page apps change the path (or call kbHelpWidget.setContext) without reloading: asked again then.
  function showHome() {
    var query = "suggestions?context=" + encodeURIComponent(context) + "&path=" + encodeURIComponent(location.pathname);
    if (suggestionsShown && suggestionsFor === query) { show(suggestionsShown); return; }
    suggestionsFor = query;
    var mine = ++seq;
    show([el("p", null, t("loading"))]);
    api("GET", query).then(function (data) {
      var list = el("ul", "kb-list kb-suggestions");
      data.articles.forEach(function (a) {
        list.appendChild(item(a.title, el("span", null, a.summary), function () { openArticle(a.slug, showHome); }));
      });
      suggestionsShown = data.articles.length ? [el("h3", null, t("suggested")), list] : [];
      if (mine === seq) show(suggestionsShown);
    }).catch(function () {
      suggestionsShown = null;
      if (mine === seq) show([el("p", "kb-error", t("failed"))]);
    });
  }

  // -- search, the answer box, results ---------------------------------------------------------------------
  var timer = null;
  form.addEventListener("submit", function (ev) { ev.preventDefault(); clearTimeout(timer); search(input.value); });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(input.value); }, 400);
  });

  function search(q) {
    q = q.trim();
    if (!q) { lastResults = null; showHome(); return; }
    if (q === lastQuery && lastResults) { show(lastResults); return; }
    var mine = ++seq;
    show([el("p", null, t("searching"))]);
    api("GET", "search?q=" + encodeURIComponent(q)).then(function (data) {
      if (mine !== seq) return;  // a newer search was typed meanwhile
      lastQuery = q;
      var nodes = [];
      if (data.answer) nodes.push(answerBox(data.answer, data.query_id));
      if (data.no_good_match || !data.results.length) {
        var note = el("p", "kb-weak", data.results.length ? t("weak") + " " : t("none") + " ");
        var askHere = el("button", "kb-link", t("ask"));
        askHere.type = "button";
        askHere.addEventListener("click", function () { showAsk(q); });
        note.appendChild(askHere);
        nodes.push(note);
      }
      if (data.results.length) {
        nodes.push(el("h3", null, t("results")));
        var list = el("ul", "kb-list kb-results");
        data.results.forEach(function (r, i) {
          var snippet = el("span");
          setHTML(snippet, r.snippet || "");
          list.appendChild(item(r.title, snippet, function () {
            api("POST", "click", {query_id: data.query_id, slug: r.slug, position: i + 1}).catch(function () {});
            openArticle(r.slug, function () { show(lastResults); });
          }));
        });
        nodes.push(list);
      }
      lastResults = nodes;
      show(nodes);
    }).catch(function () { if (mine === seq) show([el("p", "kb-error", t("failed"))]); });
  }

  function answerBox(answer, searchId) {
    var box = el("div", "kb-answer");
    box.appendChild(el("div", "kb-answer__label", t("answer") + " · " + answer.title));
    if (answer.heading) box.appendChild(el("div", "kb-answer__heading", answer.heading));
    var passage = el("div", "kb-answer__passage");
    setHTML(passage, answer.passage_html);
    box.appendChild(passage);
    var more = el("button", "kb-link kb-answer__more", t("readMore"));
    more.type = "button";
    more.addEventListener("click", function () {
      openArticle(answer.slug, function () { show(lastResults); }, answer.url.split("#")[1]);
    });
    box.appendChild(more);
    box.appendChild(votes(t("answerHelpful"), function (helpful) {
      return api("POST", "answers/feedback", {search_id: searchId, helpful: helpful});
    }));
    return box;
  }

  function votes(label, send) {
    var row = el("div", "kb-votes");
    row.appendChild(el("span", null, label));
    [[true, "👍 " + t("yes")], [false, "👎 " + t("no")]].forEach(function (pair) {
      var b = el("button", "kb-vote", pair[1]);
      b.type = "button";
      b.setAttribute("data-helpful", String(pair[0]));
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        send(pair[0]).then(function () {
          row.replaceChildren(el("span", "kb-status", t("thanks")));
          keepFocus();
        }).catch(function () {
          row.querySelectorAll("button").forEach(function (x) { x.disabled = false; });
          row.appendChild(el("span", "kb-error", t("failed")));
        });
      });
      row.appendChild(b);
    });
    return row;
  }

  // -- an article in the panel ---------------------------------------------------------------------------
  function backButton(onBack) {
    var back = el("button", "kb-link kb-back", "← " + t("back"));
    back.type = "button";
    back.addEventListener("click", onBack);
    return back;
  }

  function openArticle(slug, onBack, anchor) {
    seq++;
    show([backButton(onBack), el("p", null, t("loading"))]);
    api("GET", "articles/" + slug.split("/").map(encodeURIComponent).join("/")).then(function (a) {
      var article = el("div", "kb-article");
      article.appendChild(el("h1", "kb-article__title", a.title));
      var content = el("div", "kb-article__content");
      setHTML(content, a.html);
      content.querySelectorAll("a[href]").forEach(function (link) { link.target = "_blank"; link.rel = "noopener noreferrer"; });
      article.appendChild(content);
      var link = el("a", "kb-article__open", t("openInKb"));
      link.href = a.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      var footer = el("p", "kb-article__footer");
      footer.appendChild(link);
      show([backButton(onBack), article, votes(t("wasHelpful"), function (helpful) {
        return api("POST", "feedback", {slug: a.slug, helpful: helpful});
      }), footer]);
      var section = null, wanted = anchor || "";
      try { wanted = decodeURIComponent(wanted); } catch (e) { /* keep it as it is */ }
      content.querySelectorAll("[id]").forEach(function (node) { if (!section && wanted && node.id === wanted) section = node; });
      if (section) {  // the answer's section, at the top of the panel
        body.scrollTop = section.getBoundingClientRect().top - body.getBoundingClientRect().top + body.scrollTop;
        section.classList.add("kb-target");
      }
    }).catch(function () { show([backButton(onBack), el("p", "kb-error", t("failed"))]); });
  }

  // -- 联系客服 / ask the support team ----------------------------------------------------------------------
  askLink.addEventListener("click", function () { showAsk(lastQuery); });

  function showAsk(query) {
    seq++;
    var box = el("form", "kb-ask");
    box.noValidate = true;
    box.appendChild(el("h3", null, t("askTitle")));
    box.appendChild(el("p", null, t("askIntro")));
    var qLabel = el("label", null, t("question"));
    var question = el("textarea", "kb-ask__question");
    question.maxLength = 1000;
    question.value = query || "";
    qLabel.appendChild(question);
    var eLabel = el("label", null, t("email"));
    var email = el("input", "kb-input kb-ask__email");
    email.type = "email";
    email.maxLength = 254;
    eLabel.appendChild(email);
    var send = el("button", "kb-primary kb-ask__send", t("send"));
    send.type = "submit";
    var status = el("p", "kb-error");
    status.setAttribute("role", "status");
    box.append(qLabel, eLabel, send, status);
    box.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = question.value.trim();
      if (!text) { status.textContent = t("empty"); question.focus(); return; }
      send.disabled = true;
      status.textContent = t("sending");
      api("POST", "questions", {question: text, email: email.value.trim(), query: lastQuery}).then(function () {
        var done = el("p", "kb-status kb-ask__done", t("sent"));
        done.setAttribute("role", "status");
        show([backButton(function () { if (lastResults) show(lastResults); else showHome(); }), done]);
      }).catch(function (err) {
        status.textContent = err.status === 429 ? t("tooMany") : err.status === 400 && email.value.trim() ? t("badEmail")
          : t("failed");
        send.disabled = false;
      });
    });
    show([backButton(function () { if (lastResults) show(lastResults); else showHome(); }), box]);
    question.focus();
  }

  // For the host app's own code: open or close the panel, or say what the page is about now.
  window.kbHelpWidget = {
    open: open,
    close: function () { if (!panel.hidden) shut(); },
    setContext: function (value) { context = String(value || ""); if (!panel.hidden && !lastResults) showHome(); }
  };

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
