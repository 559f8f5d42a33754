// Follows a running result's log: each new entry becomes a row; the end shows the final status.
// Text from workers is hostile: it is set as textContent, with control characters written as escapes.
"use strict";
(function () {
  var body = document.getElementById("entries");
  if (!body || !body.dataset.follow || !window.EventSource) { return; }
  // The same characters as jobsync.domain.text's CONTROLS (CONTROLS_BUT_LAYOUT: tab and newline kept).
  var controls = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\u{d800}-\u{dfff}]/gu;
  var named = { 9: "\\t", 10: "\\n", 13: "\\r" };
  function shown(text, layout) {
    return String(text).replace(controls, function (found) {
      var code = found.charCodeAt(0);
      if (layout && (code === 9 || code === 10 || code === 0x2028 || code === 0x2029)) { return found; }
      if (named[code]) { return named[code]; }
      var hex = code.toString(16);
      return code < 0x100 ? "\\x" + ("0" + hex).slice(-2) : "\\u" + ("000" + hex).slice(-4);
    });
  }
  function when(iso) {
    var moment = new Date(iso);
    if (isNaN(moment)) { return shown(iso); }
    return moment.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = shown(text, className === "message");
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }
  function webLink(url) {
    try { var parsed = new URL(url); } catch (e) { return null; }
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? url : null;
  }
  var status = document.getElementById("status");
  var live = document.getElementById("live");
  if (live) { live.textContent = "(live)"; }
  var source = new EventSource(body.dataset.follow);
  source.addEventListener("entry", function (event) {
    var entry = JSON.parse(event.data);
    var row = document.createElement("tr");
    row.className = "level-" + String(entry.level).replace(/[^a-z]/g, "");
    cell(row, when(entry.time), "nowrap");
    cell(row, entry.level);
    cell(row, entry.grouping);
    var object = cell(row, entry.object);
    var link = entry.url ? webLink(entry.url) : null;
    if (link) {
      object.textContent = "";
      var anchor = document.createElement("a");
      anchor.href = link;
      anchor.rel = "noopener noreferrer nofollow";
      anchor.textContent = shown(entry.object || entry.url);
      object.appendChild(anchor);
    }
    cell(row, entry.message, "message");
    body.appendChild(row);
    var empty = document.getElementById("no-entries");
    if (empty) { empty.remove(); }
  });
  source.addEventListener("end", function (event) {
    var final = JSON.parse(event.data).status;
    var badge = document.createElement("span");
    badge.className = "status status-" + String(final).replace(/[^a-z]/g, "");
    badge.textContent = shown(final);
    status.textContent = "";
    status.appendChild(badge);
    if (live) { live.textContent = "(finished)"; }
    source.close();
  });
})();
