/* okrledger: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  /* A region of the page filled with the HTML a request answers (the replay's frame, the
     coach's findings): busy while it loads, and a later request wins over an earlier one.
     Calling the returned function fetches; its promise says whether the answer was shown. */
  window.okrRegion = function (target) {
    var latest = 0;
    return function (url, init) {
      var ticket = ++latest;
      target.setAttribute("aria-busy", "true");
      return fetch(url, Object.assign({ credentials: "same-origin" }, init))
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          if (ticket !== latest) { return false; }
          target.innerHTML = html;
          target.removeAttribute("aria-busy");
          return true;
        }, function (error) {
          target.removeAttribute("aria-busy");
          throw error;
        });
    };
  };

  /* The tree: expand or collapse every objective. */
  document.querySelectorAll("[data-tree-toggle]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("data-tree-toggle") === "open";
      document.querySelectorAll(".tree details").forEach(function (d) { d.open = open; });
    });
  });

  /* The replay: the slider, the step buttons and play/pause fetch one frame at a time. */
  var form = document.querySelector("form[data-replay]");
  if (!form) { return; }
  var slider = form.querySelector("input[type=range]");
  var label = form.querySelector("output");
  var target = document.getElementById("replay-frame");
  var play = form.querySelector("[data-replay-play]");
  var cycle = form.getAttribute("data-replay");
  var step = form.querySelector("select[name=step]");
  var timer = null;

  ["cycle", "step"].forEach(function (name) {
    var select = form.querySelector("select[name=" + name + "]");
    if (select) {
      select.addEventListener("change", function () {
        if (slider) { slider.disabled = true; }
        form.submit();
      });
    }
  });
  if (!slider || !target) { return; }
  var load = window.okrRegion(target);

  function show(index) {
    var url = "/replay/frame?cycle=" + encodeURIComponent(cycle) +
      "&step=" + encodeURIComponent(step.value) + "&frame=" + index;
    return load(url, { headers: { "Accept": "text/html" } })
      .then(function (shown) {
        if (!shown) { return; }
        var frame = target.querySelector("[data-label]");
        if (frame && label) { label.textContent = frame.getAttribute("data-label"); }
        var address = new URL(window.location.href);
        address.searchParams.set("cycle", cycle);
        address.searchParams.set("step", step.value);
        address.searchParams.set("frame", String(index));
        window.history.replaceState(null, "", address.toString());
      })
      .catch(stop);
  }

  function go(index) {
    var max = parseInt(slider.max, 10);
    index = Math.max(0, Math.min(max, index));
    slider.value = String(index);
    return show(index);
  }

  function stop() {
    if (timer !== null) { window.clearInterval(timer); timer = null; }
    if (play) { play.textContent = "Play"; play.setAttribute("aria-pressed", "false"); }
  }

  function start() {
    var max = parseInt(slider.max, 10);
    if (parseInt(slider.value, 10) >= max) { go(0); }
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    timer = window.setInterval(function () {
      var next = parseInt(slider.value, 10) + 1;
      if (next > max) { stop(); return; }
      go(next);
    }, 1200);
  }

  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  form.querySelectorAll("[data-replay-step]").forEach(function (button) {
    button.addEventListener("click", function () {
      stop();
      go(parseInt(slider.value, 10) + parseInt(button.getAttribute("data-replay-step"), 10));
    });
  });
  if (play) {
    play.addEventListener("click", function () { if (timer === null) { start(); } else { stop(); } });
  }
})();
