// mxarchive's one script: enhancements only; every page works without it.
// Served from the archive's own origin (the CSP allows scripts from 'self'
// and nowhere else, and no inline script). Hooks, kept stable for the
// browser tests:
//   time[data-ts]          UTC milliseconds; the text becomes the reader's
//                          local time (data-fmt="time": hh:mm, "datetime":
//                          date and time), the title keeps the UTC time.
//   button.copy[data-copy] hidden without script; copies the value of the
//                          element whose id data-copy names (#copy-url,
//                          #copy-wiki, #copy-plain, #copy-markdown), then
//                          reads "Copied" (data-copied="true").
//   li.highlight           the permalinked message: scrolled to the centre.
//                          On a day page, the message a #fragment names is
//                          given the class and centred the same way; a
//                          #$event not on the page goes to /event/$event.
//   [ and ]                go to the previous / next day (a[rel=prev],
//                          a[rel=next] in nav.days), unless typing.
//   #live[data-live-url]   the current day's page: polls data-live-url plus
//                          "&after=" + data-live-since every 30 s for new
//                          items (an HTML fragment of li elements from the
//                          same templates) and appends them to ol.timeline;
//                          data-live-since is then the last item's event ID
//                          (the response's X-Live-Since header, an ID
//                          percent-escaped but for printable ASCII).
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function localTimes(root) {
    root.querySelectorAll("time[data-ts]").forEach(function (el) {
      var ms = Number(el.getAttribute("data-ts"));
      if (!isFinite(ms) || el.hasAttribute("data-local")) { return; }
      var d = new Date(ms);
      var utc = d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
      var text = pad(d.getHours()) + ":" + pad(d.getMinutes());
      if (el.getAttribute("data-fmt") === "datetime") {
        text = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + text;
      }
      el.textContent = text;
      el.title = utc;
      el.setAttribute("data-local", "true");
    });
  }

  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
      var src = document.getElementById(b.getAttribute("data-copy"));
      if (!src || !navigator.clipboard) { return; }
      b.hidden = false;
      b.addEventListener("click", function () {
        navigator.clipboard.writeText(src.value).then(function () {
          b.textContent = "Copied";
          b.setAttribute("data-copied", "true");
        }, function () {
          src.select();
        });
      });
    });
  }

  function centre() {
    var target = null;
    if (location.hash.length > 1) {
      // The fragment as it is, then decoded: the archive writes an event
      // ID path-escaped ("$p%25252" for "$p%252"), while a link made by
      // hand, or before, may hold it raw.
      var raw = location.hash.slice(1), id = "";
      try { id = decodeURIComponent(raw); } catch (e) { id = ""; }
      target = document.getElementById(raw) || (id ? document.getElementById(id) : null);
      if (target && target.matches("ol.timeline li")) { target.classList.add("highlight"); }
      // A day page's link to a message that is not on it (the day has
      // since been split into pages, or the link named the wrong day):
      // its permalink knows where it is.
      if (!target && id.charAt(0) === "$" && document.querySelector("nav.days a.txt")) {
        location.replace("/event/" + encodeURIComponent(id));
        return;
      }
    }
    if (!target) { target = document.querySelector("ol.timeline li.highlight"); }
    if (target) { target.scrollIntoView({ block: "center" }); }
  }

  function keys() {
    document.addEventListener("keydown", function (ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.defaultPrevented) { return; }
      var t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(t.tagName))) { return; }
      var rel = ev.key === "[" ? "prev" : ev.key === "]" ? "next" : "";
      if (!rel) { return; }
      var a = document.querySelector("nav.days a[rel=" + rel + "]");
      if (a) { ev.preventDefault(); location.href = a.href; }
    });
  }

  function live() {
    var box = document.getElementById("live");
    var list = document.querySelector("ol.timeline");
    if (!box || !list || !window.fetch) { return; }
    function poll() {
      var url = box.getAttribute("data-live-url");
      var since = box.getAttribute("data-live-since");
      if (since) { url += "&after=" + encodeURIComponent(since); }
      fetch(url, { credentials: "omit", headers: { "Accept": "text/html" } }).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        // Percent-escaped (an ID may be any Unicode, a header's bytes
        // are read as Latin-1); printable ASCII but '%' comes as it is.
        var next = r.headers.get("X-Live-Since");
        try { next = next ? decodeURIComponent(next) : next; } catch (e) { /* an older server's raw ID */ }
        return r.text().then(function (html) {
          var tpl = document.createElement("template");
          tpl.innerHTML = html;
          localTimes(tpl.content);
          list.appendChild(tpl.content);
          if (next) { box.setAttribute("data-live-since", next); }
        });
      }).catch(function () { /* try again at the next tick */ }).then(function () {
        setTimeout(poll, Number(box.getAttribute("data-live-interval")) || 30000);
      });
    }
    setTimeout(poll, Number(box.getAttribute("data-live-interval")) || 30000);
  }

  function start() {
    localTimes(document);
    copyButtons();
    centre();
    keys();
    live();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
