// Live connection: one EventSource on /health-stream drives every page's updates.
// Each event bumps the "tick" store (Dash callbacks listen to it); the status text says
// live / reconnecting / stale with the time of the last update. On loss it reconnects with
// backoff capped at 2 s, so the page recovers within 5 s of the server's return, no reload.
(function () {
  "use strict";
  var source = null, delay = 250, lastEvent = 0, seq = 0, state = "connecting", lastStamp = null;
  var MAX_DELAY = 2000;

  function intervalMs() {
    var el = document.getElementById("conn-status");
    var ms = el ? parseInt(el.getAttribute("data-interval-ms"), 10) : NaN;
    return isNaN(ms) ? 5000 : ms;
  }

  function show(next, text) {
    state = next;
    var el = document.getElementById("conn-status");
    if (!el) { return; }
    el.setAttribute("data-state", next);
    el.textContent = text;
  }

  function when(stamp) {
    try { return new Date(stamp).toLocaleTimeString(); } catch (e) { return stamp; }
  }

  function onHealth(event) {
    delay = 250;
    lastEvent = Date.now();
    var doc = JSON.parse(event.data);
    lastStamp = doc.timestamp;
    seq += 1;
    show("live", "\u25CF Live \u00B7 updated " + when(doc.timestamp));
    var el = document.getElementById("conn-status");
    if (el) {  // for tests and benches: which tick the page has, and when it arrived
      el.setAttribute("data-last-ts", doc.timestamp);
      el.setAttribute("data-received-ms", String(lastEvent));
    }
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("tick", {data: {seq: seq, ts: doc.timestamp}});
    }
  }

  function connect() {
    source = new EventSource("/health-stream");
    source.addEventListener("health", onHealth);
    source.onerror = function () {
      source.close();
      show("reconnecting", "\u21BB Reconnecting\u2026" + (lastStamp ? " last update " + when(lastStamp) : ""));
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, MAX_DELAY);
    };
  }

  setInterval(function () {
    var limit = 3 * intervalMs() + 2000;
    if (state === "live" && lastEvent && Date.now() - lastEvent > limit) {
      show("stale", "\u26A0 Stale \u00B7 last update " + when(lastStamp));
    }
  }, 1000);

  // Start once Dash has rendered the shell, so the first event finds the "tick" store.
  var waiter = setInterval(function () {
    if (document.getElementById("conn-status") && window.dash_clientside &&
        window.dash_clientside.set_props) {
      clearInterval(waiter);
      connect();
    }
  }, 100);
})();
