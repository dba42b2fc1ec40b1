// cxscore live feed: new responses appear on the overview without a reload.
// Without JavaScript the page refreshes itself every minute instead
// (<noscript> in its head). Text is set with textContent, never as HTML.
(function () {
  "use strict";
  var section = document.getElementById("live");
  if (!section || !window.EventSource) return;
  var list = document.getElementById("live-list");
  var empty = document.getElementById("live-empty");
  var survey = section.getAttribute("data-survey") || "";
  var source = new EventSource("/app/live?survey=" + encodeURIComponent(survey));
  source.addEventListener("response", function (e) {
    var r;
    try { r = JSON.parse(e.data).response; } catch (err) { return; }
    if (!r) return;
    var item = document.createElement("li");
    item.setAttribute("data-response", String(r.id));
    var when = document.createElement("span");
    when.className = "muted";
    when.textContent = (r.submitted_at || "").replace("T", " ").replace("Z", "") + " ";
    item.appendChild(when);
    if (r.nps !== null && r.nps !== undefined) {
      var score = document.createElement("strong");
      score.className = "pill " + (r.nps >= 9 ? "positive" : r.nps >= 7 ? "neutral" : "negative");
      score.textContent = "NPS " + r.nps;
      item.appendChild(score);
      item.appendChild(document.createTextNode(" "));
    }
    if (r.account) item.appendChild(document.createTextNode(r.account + " · "));
    if (r.comment) item.appendChild(document.createTextNode(r.comment));
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 20) list.removeChild(list.lastChild);
    if (empty) empty.hidden = true;
  });
})();
