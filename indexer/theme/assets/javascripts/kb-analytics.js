/*
 * kb analytics provider: "was this helpful?" votes, search-result clicks and agent-link visits go to the
 * kb service. partials/integrations/analytics/kb.html loads this file with the article's slug
 * (data-kb-slug, the slug the index uses; empty on pages that are not articles), and Material calls
 * __md_analytics() right after it.
 *
 * 👎 posts the vote at once (a vote is never lost to a reader who leaves), then offers an optional
 * reason box; a reason is posted as {slug, helpful: false, comment}.
 */
(function () {
  "use strict";

  var MAX_COMMENT = 2000;  // kbserver/api.py MAX_COMMENT
  var script = document.currentScript;
  var slug = (script && script.getAttribute("data-kb-slug")) || "";

  function post(path, body) {
    return fetch(new URL(path, location.origin), {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)
    }).catch(function () { return null; });
  }

  function reasonBox(form) {
    var box = document.createElement("div");
    box.className = "kb-reason";
    var label = document.createElement("label");
    label.htmlFor = "kb-reason-text";
    label.textContent = "哪里没有帮到您？（可选）";
    var text = document.createElement("textarea");
    text.id = "kb-reason-text";
    text.name = "comment";
    text.rows = 3;
    text.maxLength = MAX_COMMENT;
    text.placeholder = "例如：步骤和界面对不上、缺少某个场景……";
    var send = document.createElement("button");
    send.type = "button";
    send.className = "md-button md-button--primary";
    send.textContent = "发送";
    function submit() {
      var comment = text.value.trim();
      if (!comment) { text.focus(); return; }
      send.disabled = text.disabled = true;
      post("/api/feedback", {slug: slug, helpful: false, comment: comment}).then(function (response) {
        var done = document.createElement("p");
        done.className = "kb-reason__done";
        done.textContent = response && response.ok ? "已收到您的意见，谢谢！" : "发送失败，请稍后再试。";
        if (response && response.ok) box.replaceChildren(done);
        else { box.appendChild(done); send.disabled = text.disabled = false; }
      });
    }
    send.addEventListener("click", submit);
    text.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
    });
    box.append(label, text, send);
    form.appendChild(box);  // outside the fieldset, which is disabled once a vote is cast
    text.focus();
  }

  window.__md_analytics = function () {
    if (!slug) return;  // not an article (e.g. the 404 page)
    document.addEventListener("DOMContentLoaded", function () {
      // A click on a server search result arrives with ?kbq=<query_id>&kbp=<position>: log it, tidy the URL.
      var url = new URL(location.href), qid = url.searchParams.get("kbq");
      if (qid) {
        post("/api/events/click", {query_id: qid, slug: slug, position: parseInt(url.searchParams.get("kbp") || "0", 10)});
        url.searchParams.delete("kbq"); url.searchParams.delete("kbp");
        history.replaceState(history.state, "", url.toString());
      }
      // Opened through a link a support agent sent (?ref=<token>): count the visit, tidy the URL.
      var ref = url.searchParams.get("ref");
      if (ref) {
        post("/api/agent/visit", {ref: ref, slug: slug});
        url.searchParams.delete("ref");
        history.replaceState(history.state, "", url.toString());
      }
      var form = document.forms.feedback;
      if (!form) return;
      form.querySelectorAll("[type=submit]").forEach(function (button) {
        button.addEventListener("click", function (ev) {
          ev.preventDefault();
          var value = this.getAttribute("data-md-value");
          post("/api/feedback", {slug: slug, helpful: value === "1"});
          form.firstElementChild.disabled = true;
          var note = form.querySelector(".md-feedback__note [data-md-value='" + value + "']");
          if (note) note.hidden = false;
          if (value === "0") reasonBox(form);
        });
      });
      form.hidden = false;
    });
  };
})();
