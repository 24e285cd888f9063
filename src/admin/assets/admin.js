// WhisperEngine admin dashboard: a little progressive enhancement, nothing the pages need to work.
// - <time datetime> elements get a relative age ("3 min ago") as a tooltip and suffix.
// - "pick" buttons put an account into the first empty field of the link form.
// - The overview reloads itself every data-refresh seconds while the tab is visible.
"use strict";

(function () {
  function age(seconds) {
    if (seconds < 60) return Math.max(0, Math.round(seconds)) + " s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " d ago";
  }

  function showAges() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (element) {
      var at = Date.parse(element.getAttribute("datetime"));
      if (isNaN(at)) return;
      var text = age((now - at) / 1000);
      element.title = text;
      var suffix = element.nextElementSibling;
      if (!suffix || !suffix.classList.contains("age")) {
        suffix = document.createElement("span");
        suffix.className = "age muted";
        element.after(suffix);
      }
      suffix.textContent = " (" + text + ")";
    });
  }

  function wirePickButtons() {
    document.querySelectorAll("button[data-pick]").forEach(function (button) {
      button.addEventListener("click", function () {
        var first = document.getElementById("link-first");
        var second = document.getElementById("link-second");
        if (!first || !second) return;
        var target = first.value.trim() === "" ? first : second;
        target.value = button.getAttribute("data-pick");
        target.focus();
      });
    });
  }

  function scheduleRefresh() {
    var seconds = parseInt(document.body.getAttribute("data-refresh") || "", 10);
    if (!(seconds > 0)) return;
    window.setInterval(function () {
      if (document.visibilityState === "visible") window.location.reload();
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    showAges();
    wirePickButtons();
    scheduleRefresh();
  });
})();
