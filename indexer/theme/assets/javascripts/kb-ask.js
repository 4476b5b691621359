/*
 * 没有找到完全匹配的文章 + 提交问题: when the kb service says the best match is weak (no_good_match),
 * the search results get a plain banner above them (the weak matches stay listed below) and a button
 * that opens a short form (question, optional e-mail) posted to /api/questions, where the knowledge
 * managers see it and, if the company configured it, the helpdesk receives it.
 *
 * Like kb-search-box.js it reads the answers of kb's search worker (which carry no_good_match), so it
 * is loaded in <head>, before Material's bundle creates the worker. Key presses inside the form are
 * kept from Material, whose search keyboard handling would otherwise move them to the search box.
 */
(function () {
  "use strict";
  var t = window.kbT;  // the reader's language (kb-i18n.js)

  var RESULT = 3;
  var MAX_QUESTION = 1000, MAX_EMAIL = 254;  // analytics/questions.py

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function banner() {
    return document.querySelector(".md-search-result .kb-ask");
  }

  function messageFor(response, body) {
    if (response.status === 429) return t("提交太频繁了，请稍后再试。");
    if (response.status >= 400 && response.status < 500) {
      var detail = body && body.error && body.error.message ? body.error.message : "";  // English: matched, not shown
      if (/e-?mail/i.test(detail)) return t("邮箱格式不正确（例如 name@example.com），也可以不填。");
      if (/too long/i.test(detail)) return t("问题太长了，请控制在 %(n)s 字以内。", {n: MAX_QUESTION});
      return t("请填写您的问题。");
    }
    return t("提交失败，请稍后再试。");
  }

  function openForm(box, query) {
    if (box.querySelector(".kb-ask__form")) return;
    var form = el("div", "kb-ask__form");
    form.setAttribute("role", "form");
    form.setAttribute("aria-label", t("提交问题"));
    var qLabel = el("label", null, t("您的问题"));
    qLabel.htmlFor = "kb-ask-question";
    var question = el("textarea");
    question.id = "kb-ask-question";
    question.name = "question";
    question.rows = 3;
    question.maxLength = MAX_QUESTION;
    question.value = query;
    var eLabel = el("label", null, t("邮箱（可选，方便我们回复您）"));
    eLabel.htmlFor = "kb-ask-email";
    var email = el("input");
    email.id = "kb-ask-email";
    email.name = "email";
    email.type = "email";
    email.maxLength = MAX_EMAIL;
    email.placeholder = "name@example.com";
    var send = el("button", "md-button md-button--primary kb-ask__send", t("发送"));
    send.type = "button";
    var status = el("p", "kb-ask__status");
    status.setAttribute("role", "status");

    function submit() {
      var text = question.value.trim();
      if (!text) { status.textContent = t("请填写您的问题。"); question.focus(); return; }
      send.disabled = question.disabled = email.disabled = true;
      status.textContent = t("正在提交……");
      fetch("/api/questions", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-KB-Source": "site"},
        body: JSON.stringify({question: text, email: email.value.trim(), query: query})
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (response.ok) {
            var done = el("p", "kb-ask__done", t("已提交，客服团队会尽快处理。谢谢！"));
            done.setAttribute("role", "status");
            form.replaceChildren(done);
            return;
          }
          status.textContent = messageFor(response, body);
          send.disabled = question.disabled = email.disabled = false;
        });
      }).catch(function () {
        status.textContent = t("网络不可用，请稍后再试。");
        send.disabled = question.disabled = email.disabled = false;
      });
    }
    send.addEventListener("click", submit);
    ["keydown", "keyup", "keypress"].forEach(function (type) {
      form.addEventListener(type, function (ev) {
        if (type === "keydown" && ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
        ev.stopPropagation();  // Material's search keyboard would send the keys to the search box
      });
    });
    form.append(qLabel, question, eLabel, email, send, status);
    box.appendChild(form);
    question.focus();
  }

  function showBanner(query) {
    var old = banner();
    if (old && old.getAttribute("data-kb-query") === query) return;  // keep a half-written question
    if (old) old.remove();
    var result = document.querySelector(".md-search-result");
    if (query === null || !result) return;
    var box = el("div", "kb-ask");
    box.setAttribute("data-kb-query", query);
    var title = el("p", "kb-ask__title", t("没有找到完全匹配的文章"));
    title.setAttribute("role", "status");
    var hint = el("p", "kb-ask__hint", t("下面是可能相关的文章。没有您要的答案？可以直接问我们的客服团队。"));
    var ask = el("button", "md-button kb-ask__open", t("提交问题"));
    ask.type = "button";
    ask.addEventListener("click", function (ev) {
      ev.preventDefault();
      ev.stopPropagation();
      openForm(box, query);
    });
    box.append(title, hint, ask);
    // Material writes the count into the first child and results into the last: stay in between.
    result.insertBefore(box, result.lastElementChild);
  }

  function onWorkerMessage(ev) {
    var message = ev.data;
    if (!message || message.type !== RESULT || !message.data) return;
    var data = message.data;
    var weak = typeof data.query === "string" && data.query.trim() !== "" && data.no_good_match === true;
    showBanner(weak ? data.query : null);
  }

  var NativeWorker = window.Worker;
  if (NativeWorker) {
    var AskWorker = function (url, options) {
      var worker = new NativeWorker(url, options);
      if (String(url).indexOf("kb-search.js") >= 0) worker.addEventListener("message", onWorkerMessage);
      return worker;
    };
    AskWorker.prototype = NativeWorker.prototype;
    window.Worker = AskWorker;
  }
  document.addEventListener("reset", function (ev) {
    if (ev.target && ev.target.name === "search") showBanner(null);
  }, true);
})();
