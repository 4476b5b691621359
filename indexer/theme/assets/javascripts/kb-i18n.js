/*
 * t("中文", {name: value}): a kb script's text in the reader's language. kb-strings.js (served by the kb
 * service per Accept-Language, absent when the site is opened as plain files) maps the Chinese text to
 * it; without a mapping the Chinese text itself is shown. %(name)s in the text is replaced by values.
 */
window.kbT = function (text, values) {
  "use strict";
  var s = (window.KB_STRINGS || {})[text] || text;
  Object.keys(values || {}).forEach(function (k) { s = s.split("%(" + k + ")s").join(values[k]); });
  return s;
};
