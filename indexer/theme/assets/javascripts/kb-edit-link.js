// "编辑文章" on an article page, only for a signed-in manager or editor: the page itself is static and the
// same for everyone, so it asks the kb service who is signed in. Served as a plain file or offline, /api/me
// does not answer and nothing is shown.
(function () {
  "use strict";
  var t = window.kbT;  // the reader's language (kb-i18n.js)
  // The theme's own words on a static article page, in the reader's language: main.html names them in
  // data-kb-t ("a|b"); only the element's own text nodes change, never the article's data beside them.
  function translatePage() {
    document.querySelectorAll("[data-kb-t]").forEach(function (el) {
      var keys = el.getAttribute("data-kb-t").split("|");
      Array.prototype.forEach.call(el.childNodes, function (node) {
        if (node.nodeType !== 3) return;
        keys.forEach(function (key) { node.nodeValue = node.nodeValue.split(key).join(t(key)); });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", translatePage);
  else translatePage();
  var meta = document.querySelector('meta[name="kb-slug"]');
  if (!meta || !window.fetch) return;
  var slug = meta.getAttribute("content");
  if (!slug || slug === "index") return;
  fetch("/api/me", {credentials: "same-origin", headers: {"Accept": "application/json"}})
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (me) {
      if (!me || !me.can_edit) return;
      var inner = document.querySelector(".md-content__inner");
      if (!inner) return;
      var link = document.createElement("a");
      link.className = "md-content__button md-button kb-edit-link";
      link.href = "/edit/" + slug.split("/").map(encodeURIComponent).join("/");
      link.textContent = t("编辑文章");
      link.title = t("在 kb 中编辑这篇文章（%(name)s）", {name: me.user.name});
      var history = document.createElement("a");
      history.className = "md-content__button md-button kb-history-link";
      history.href = "/history/" + slug.split("/").map(encodeURIComponent).join("/");
      history.textContent = t("修订历史");
      inner.insertBefore(history, inner.firstChild);
      inner.insertBefore(link, inner.firstChild);
    })
    .catch(function () {});
})();
