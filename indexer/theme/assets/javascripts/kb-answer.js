/*
 * kb answer box: the passage that answers a question, above Material's search results.
 *
 * The kb search worker (workers/kb-search.js) passes the service's `answer` and `query_id` along with
 * every result it sends Material. This script watches those messages (like kb-search-box.js, by
 * wrapping the Worker constructor before Material's bundle creates the worker) and shows the answer
 * between the result count and the list: article title and section heading, the passage (a step list,
 * a paragraph or a table row; sanitized HTML from the service), a link to that section, and
 * 这个答案有帮助吗？ 👍/👎, posted to /api/answers/feedback with the search's id. The optional reason box
 * after 👎 is the article widget's (kb-feedback.js) when the page has it.
 */
(function () {
  "use strict";
  var t = window.kbT;  // the reader's language (kb-i18n.js)

  var RESULT = 3;

  function siteUrl(relative) {
    var base = ".";
    var config = document.getElementById("__config");
    try { if (config) base = JSON.parse(config.textContent).base || "."; } catch (err) { /* keep "." */ }
    return new URL(base.replace(/\/?$/, "/") + relative, location.href).toString();
  }

  function removeBox() {
    var old = document.querySelector(".md-search-result .kb-answer");
    if (old) old.remove();
  }

  function vote(searchId, helpful, comment) {
    var body = {search_id: searchId, helpful: helpful};
    if (comment) body.comment = comment;
    return fetch(new URL("/api/answers/feedback", location.origin).toString(), {  // where the worker asks too
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)
    }).catch(function () { return null; });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function showAnswer(answer, searchId) {
    removeBox();
    var result = document.querySelector(".md-search-result");
    if (!answer || !result) return;
    var href = siteUrl(answer.url);
    var box = element("section", "kb-answer");
    box.setAttribute("aria-label", t("答案"));
    var source = element("a", "kb-answer__source");
    source.href = href;
    source.appendChild(element("span", "kb-answer__title", answer.title));
    if (answer.heading) source.appendChild(element("span", "kb-answer__heading", answer.heading));
    var passage = element("div", "kb-answer__passage md-typeset");
    passage.innerHTML = answer.passage_html;   // sanitized by the service (contrib/render.py)
    var foot = element("div", "kb-answer__foot");
    var more = element("a", "kb-answer__more", t("查看完整章节 →"));
    more.href = href;
    var ask = element("span", "kb-answer__ask", t("这个答案有帮助吗？"));
    // Words, not 👍/👎: a machine without an emoji font (many Linux desktops) shows those as empty boxes.
    var up = element("button", "kb-answer__vote", t("有帮助"));
    up.type = "button";
    up.title = t("有帮助");
    up.setAttribute("aria-label", t("有帮助"));
    var down = element("button", "kb-answer__vote", t("没帮助"));
    down.type = "button";
    down.title = t("没有帮助");
    down.setAttribute("aria-label", t("没有帮助"));
    var status = element("span", "kb-answer__status");
    status.setAttribute("role", "status");

    function cast(helpful) {
      up.disabled = down.disabled = true;
      vote(searchId, helpful).then(function (response) {
        if (!response || !response.ok) {
          status.textContent = t("发送失败，请稍后再试。");
          up.disabled = down.disabled = false;
          return;
        }
        status.textContent = helpful ? t("感谢您的反馈！") : t("感谢反馈，我们会改进这个答案。");
        if (!helpful && window.kbReasonBox) {
          window.kbReasonBox(box, function (comment) { return vote(searchId, false, comment); });
        }
      });
    }
    up.addEventListener("click", function (ev) { ev.stopPropagation(); cast(true); });
    down.addEventListener("click", function (ev) { ev.stopPropagation(); cast(false); });
    foot.append(more, ask, up, down, status);
    box.append(source, passage, foot);
    // Material writes the count into the first child and the results into the last: stay in between.
    result.insertBefore(box, result.lastElementChild);
  }

  function onWorkerMessage(ev) {
    var message = ev.data;
    if (!message || message.type !== RESULT || !message.data) return;
    var data = message.data;
    showAnswer(data.answer || null, data.query_id || "");
  }

  var PreviousWorker = window.Worker;
  if (PreviousWorker) {
    var AnswerWorker = function (url, options) {
      var worker = new PreviousWorker(url, options);
      if (String(url).indexOf("kb-search.js") >= 0) worker.addEventListener("message", onWorkerMessage);
      return worker;
    };
    AnswerWorker.prototype = PreviousWorker.prototype;
    window.Worker = AnswerWorker;
  }

  document.addEventListener("reset", function (ev) {
    if (ev.target && ev.target.name === "search") removeBox();
  }, true);
})();
