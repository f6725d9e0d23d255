// Kindwave community pages: the compose box's character counter, and keeping keyboard
// focus in place when HTMX swaps a post or a profile header. Our own script, no
// dependencies; the pages work without it.
(function () {
  "use strict";

  // Mastodon's rule, as the server counts it (community/services/text.py): a link counts
  // as many characters as data-url-chars, whatever its length; characters are graphemes.
  var URL = /https?:\/\/[^\s<>"'\u00a0]+[^\s<>"'\u00a0.,;:!?)\]}\u00bb\u201d\u2019]/g;
  var segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter() : null;

  // Without Intl.Segmenter: the server's own rule (text.py's grapheme_count) — marks,
  // skin tones, variation selectors, tags and zero-width joins extend the character
  // before; regional indicators pair into flags; Hangul jamo join into syllables.
  var EXTEND = /[\p{Mn}\p{Me}\p{Mc}\u200c\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}]/u;
  var CONTROL = /[\p{Cc}\u2028\u2029]/u;
  function isRegional(c) { var n = c.codePointAt(0); return n >= 0x1F1E6 && n <= 0x1F1FF; }
  function hangulJoins(b, a) {
    b = b.codePointAt(0); a = a.codePointAt(0);
    var L = function (n) { return n >= 0x1100 && n < 0x1160; };
    var V = function (n) { return n >= 0x1160 && n < 0x11A8; };
    var T = function (n) { return n >= 0x11A8 && n < 0x1200; };
    var syllable = b >= 0xAC00 && b <= 0xD7A3;
    var lv = syllable && (b - 0xAC00) % 28 === 0;
    if (L(b)) return L(a) || V(a) || (a >= 0xAC00 && a <= 0xD7A3);
    if (V(b) || lv) return V(a) || T(a);
    if (T(b) || syllable) return T(a);
    return false;
  }

  function countByRule(text) {
    var count = 0, previous = "", regionalRun = 0;
    Array.from(text).forEach(function (c) {
      var joins = previous !== "" && !CONTROL.test(previous) && !CONTROL.test(c);
      if (!(joins && (EXTEND.test(c) || c === "\u200d" || previous === "\u200d" ||
                      (isRegional(c) && regionalRun % 2 === 1) || hangulJoins(previous, c)))) {
        count += 1;
      }
      regionalRun = isRegional(c) ? regionalRun + 1 : 0;
      previous = c;
    });
    return count;
  }

  function graphemes(text) {
    text = text.replace(/\r\n?/g, "\n").normalize("NFC");
    if (segmenter) {
      var count = 0;
      for (var _ of segmenter.segment(text)) count += 1;
      return count;
    }
    return countByRule(text);
  }

  function statusLength(text, spoiler, urlChars) {
    return graphemes(text.replace(URL, "x".repeat(urlChars))) + graphemes(spoiler);
  }

  var announceTimers = new WeakMap();

  function update(form, announce) {
    var text = form.querySelector("[data-compose-text]");
    var remaining = form.querySelector("[data-compose-remaining]");
    var label = form.querySelector("[data-compose-label]");
    if (!text || !remaining || !label) return;
    var spoiler = form.querySelector("[name=spoiler_text]");
    var max = parseInt(form.dataset.maxChars, 10);
    var left = max - statusLength(text.value, spoiler ? spoiler.value : "",
                                  parseInt(form.dataset.urlChars, 10));
    remaining.textContent = String(Math.abs(left));
    label.textContent = left < 0 ? label.dataset.over : label.dataset.left;
    remaining.parentElement.classList.toggle("over", left < 0);
    if (!announce) return;
    // Screen readers hear the count once typing pauses, not at every key.
    var live = form.querySelector("[data-compose-announce]");
    if (!live) return;
    clearTimeout(announceTimers.get(form));
    announceTimers.set(form, setTimeout(function () {
      live.textContent = Math.abs(left) + " " + label.textContent;
    }, 800));
  }

  function updateAll(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form.compose") : [];
    forms.forEach(function (form) { update(form, false); });
    if (root.matches && root.matches("form.compose")) update(root, false);
  }

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form.compose");
    if (form) update(form, true);
  });

  document.addEventListener("DOMContentLoaded", function () { updateAll(document); });
  document.addEventListener("htmx:load", function (event) { updateAll(event.target); });

  // After an action swapped a card or a header, put focus back on the button pressed
  // (data-focus names the action; "unfavourite" is the "favourite" toggle).
  // A refused compose box comes back with data-focus="error": focus goes to the first
  // field in error (the text, whose description is the error, unless the image is wrong).
  document.addEventListener("htmx:afterSettle", function () {
    var swapped = document.querySelector("[data-focus]");
    if (swapped) {
      var action = swapped.dataset.focus.replace(/^un/, "");
      swapped.removeAttribute("data-focus");
      var target = action === "error"
        ? swapped.querySelector('[aria-invalid="true"]') ||
          swapped.querySelector("[data-compose-text]")
        : swapped.querySelector('[data-action="' + action + '"]');
      if (target) target.focus();
    }
    var published = document.querySelector("#compose .compose-done");
    if (published && (document.activeElement === document.body || !document.activeElement)) {
      var text = document.querySelector("#compose [data-compose-text]");
      if (text) text.focus();
    }
  });

  function focusable(element) {
    if (element.matches("article.status")) element.setAttribute("tabindex", "-1");
    return element;
  }

  // Deleting a post takes its card away (the answer is empty): focus moves to the next
  // card, else the one before, else the compose box, and the deletion is announced.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var card = event.detail.target;
    if (!card || !card.matches || !card.matches("article.status")) return;
    if (!event.detail.xhr || event.detail.xhr.responseText.trim() !== "") return;
    var deleted = card.querySelector('[data-action="delete"]');
    var sibling = function (element, step) {
      do { element = element[step]; } while (element && !element.matches("article.status"));
      return element;
    };
    var next = sibling(card, "nextElementSibling") || sibling(card, "previousElementSibling") ||
      document.querySelector("#compose [data-compose-text]") || document.querySelector("h1");
    setTimeout(function () {
      if (next && document.body.contains(next)) {
        if (next.matches("h1")) next.setAttribute("tabindex", "-1");
        focusable(next).focus();
      }
      var live = document.querySelector("[data-community-announce]");
      if (live && deleted && deleted.dataset.done) live.textContent = deleted.dataset.done;
    }, 0);
  });
})();
