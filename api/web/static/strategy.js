/* okrledger: the quality coach while drafting. Every page works without this file: the
   objective page lists the coach's warnings once a draft is saved. */
(function () {
  "use strict";
  var target = document.getElementById("coach-draft");
  if (!target) { return; }
  var cycle = target.getAttribute("data-cycle") || "";
  var objective = target.getAttribute("data-objective") || "";
  var forms = document.querySelectorAll("form[data-coach], form[action$='/key-results']");
  var timer = null;
  var load = window.okrRegion(target);

  function value(form, name) {
    var field = form.querySelector("[name=" + name + "]");
    if (!field) { return ""; }
    if (field.type === "radio") {
      var checked = form.querySelector("[name=" + name + "]:checked");
      return checked ? checked.value : "";
    }
    return field.value || "";
  }

  function payload(form) {
    var data = new URLSearchParams();
    data.set("csrf_token", value(form, "csrf_token"));
    if (form.hasAttribute("data-coach")) {
      data.set("cycle_id", value(form, "cycle_id") || cycle);
      ["title", "owner", "kind", "parent_objective_id"].forEach(function (name) {
        data.set(name, value(form, name));
      });
    } else {
      data.set("cycle_id", cycle);
      data.set("objective_id", objective);
      ["title", "measure", "baseline", "target", "unit", "direction"].forEach(function (name) {
        data.set("kr_" + name, value(form, name));
      });
    }
    return data;
  }

  function check(form) {
    load("/coach/draft", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html" },
      body: payload(form).toString()
    }).catch(function () { /* the findings stay as they were; saving the draft lists them */ });
  }

  forms.forEach(function (form) {
    ["input", "change"].forEach(function (kind) {
      form.addEventListener(kind, function () {
        if (timer !== null) { window.clearTimeout(timer); }
        timer = window.setTimeout(function () { timer = null; check(form); }, 350);
      });
    });
  });
})();
