// Dash 4's dropdown keeps its keyboard entry point (an <input>) focusable yet aria-hidden, so
// screen readers reach a nameless, hidden control. Expose it and name it after the dropdown's
// label (an element with id "<dropdown id>-label").
(function () {
  "use strict";
  function dropdownFor(input) {
    var node = input.parentElement;
    for (var depth = 0; node && depth < 4; depth += 1, node = node.parentElement) {
      var button = node.querySelector("button.dash-dropdown");
      if (button) { return button; }
    }
    return null;
  }
  function fix() {
    // Its button is named by a hidden count plus the value, which differs from what it shows
    // (WCAG 2.5.3): let the visible text be the name.
    document.querySelectorAll("button.dash-dropdown[aria-labelledby]").forEach(function (b) {
      b.removeAttribute("aria-labelledby");
    });
    var inputs = document.querySelectorAll("input.dash-dropdown-focus-target[aria-hidden='true']");
    inputs.forEach(function (input) {
      var button = dropdownFor(input);
      var label = button && document.getElementById(button.id + "-label");
      input.removeAttribute("aria-hidden");
      input.setAttribute("aria-label", (label ? label.textContent : "Choose") +
        ": press Enter to open the list");
    });
  }
  new MutationObserver(fix).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true,
    attributeFilter: ["aria-labelledby", "aria-hidden"],
  });
})();
