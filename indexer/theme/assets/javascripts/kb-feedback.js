/*
 * The optional reason box after 👎 in "这篇文章有帮助吗？". The analytics provider
 * (partials/integrations/analytics/kb.html) posts the vote at once, so a vote is never lost to a reader
 * who leaves, then calls kbReasonBox(form, send); send(comment) posts {slug, helpful: false, comment}
 * to /api/feedback and resolves to the fetch response (null when the network failed).
 */
(function () {
  "use strict";
  var t = window.kbT;  // the reader's language (kb-i18n.js)

  var MAX_COMMENT = 2000;  // kbserver/api.py MAX_COMMENT

  window.kbReasonBox = function (form, send) {
    if (form.querySelector(".kb-reason")) return;
    var box = document.createElement("div");
    box.className = "kb-reason";
    var label = document.createElement("label");
    label.htmlFor = "kb-reason-text";
    label.textContent = t("哪里没有帮到您？（可选）");
    var text = document.createElement("textarea");
    text.id = "kb-reason-text";
    text.name = "comment";
    text.rows = 3;
    text.maxLength = MAX_COMMENT;
    text.placeholder = t("例如：步骤和界面对不上、缺少某个场景……");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "md-button md-button--primary";
    button.textContent = t("发送");
    var status = document.createElement("p");
    status.className = "kb-reason__status";
    status.setAttribute("role", "status");

    function submit() {
      var comment = text.value.trim();
      if (!comment) { text.focus(); return; }
      button.disabled = text.disabled = true;
      send(comment).then(function (response) {
        if (response && response.ok) {
          status.className = "kb-reason__done";
          status.textContent = t("已收到您的意见，谢谢！");
          box.replaceChildren(status);
        } else {
          status.textContent = t("发送失败，请稍后再试。");
          button.disabled = text.disabled = false;
        }
      });
    }
    button.addEventListener("click", submit);
    text.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); }
    });
    box.append(label, text, button, status);
    form.appendChild(box);  // outside the fieldset, which is disabled once a vote is cast
    text.focus();
  };
})();
