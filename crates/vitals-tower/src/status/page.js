// The status page's live updates, served at {base}/page.js. Each event carries the page's
// new title, summary and rows, rendered by the server (the one renderer), so nothing is
// fetched again. Without JavaScript, the page's reload link works.
"use strict";
(function () {
  var events = document.body.dataset.events;
  if (!window.EventSource || !events) return;
  new EventSource(events).addEventListener("status", function (event) {
    var page = JSON.parse(event.data).page;
    if (!page) return;
    document.title = page.title;
    document.getElementById("summary").outerHTML = page.summary;
    document.getElementById("checks").innerHTML = page.rows;
  });
})();
