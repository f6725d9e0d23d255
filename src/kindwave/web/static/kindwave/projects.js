// Kindwave project page: after HTMX replaced the follow and volunteer buttons, put keyboard
// focus back on the button that took the pressed one's place ("Stop following" after
// "Follow"), instead of losing it to the top of the page. Our own script, no dependencies;
// the page works without it (its buttons are plain forms).
(function () {
  "use strict";

  document.addEventListener("htmx:afterSettle", function () {
    var actions = document.querySelector("#project-actions[data-focus]");
    if (!actions) return;
    var group = actions.dataset.focus;
    actions.removeAttribute("data-focus");
    // The pair's other button, or (when the pair is gone: volunteering closed) the first
    // thing left to do, so focus stays in the same place on the page.
    var target = actions.querySelector('button[data-action="' + group + '"]') ||
      actions.querySelector("button, a[href]");
    if (target) target.focus();
  });
})();
