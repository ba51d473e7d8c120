// The campaign page's live audience count: as the shop, the target and exclusion segments
// or the frequency cap change, POST them to the count endpoint and show how many the
// campaign reaches and who is left out, and why. Plain JS, no dependencies; one request at
// a time, the newest answer wins.
(function () {
  "use strict";

  function checked(name) {
    return Array.prototype.map.call(
      document.querySelectorAll("input[name=" + name + "]:checked"),
      function (box) { return parseInt(box.value, 10); }
    );
  }

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) node.className = className;
    return node;
  }

  function init(box) {
    var form = document.querySelector("#campaign_form");
    var shop = document.querySelector("select[name=shop]");
    if (!form || !shop) return;  // a read-only page: the count shown is the server's
    var timer = null, sequence = 0;

    function body() {
      var cap = document.querySelector("input[name=cap_hours]");
      var capValue = cap && cap.value.trim() !== "" ? parseInt(cap.value, 10) : null;
      return {
        shop: shop.value ? parseInt(shop.value, 10) : null,
        segments: checked("segments"),
        excluded_segments: checked("excluded_segments"),
        cap_hours: isNaN(capValue) ? -1 : capValue,
      };
    }

    function show(ok, answer) {
      box.classList.remove("audience-loading");
      var parts = [];
      if (ok) {
        var reach = text("p", "", "audience-count");
        reach.appendChild(document.createTextNode("Reaches "));
        reach.appendChild(text("strong", answer.reachable.toLocaleString("en"), "audience-reachable"));
        reach.appendChild(document.createTextNode(" of " + answer.total.toLocaleString("en") +
          " customers in the target segments"));
        parts.push(reach);
        var list = document.createElement("ul");
        list.className = "audience-excluded";
        answer.excluded.forEach(function (row) {
          list.appendChild(text("li", row.count.toLocaleString("en") + " left out: " + row.label));
        });
        if (answer.excluded.length) parts.push(list);
      } else {
        var errors = answer.errors || {};
        var problems = document.createElement("ul");
        problems.className = "errorlist";
        Object.keys(errors).forEach(function (field) {
          errors[field].forEach(function (message) { problems.appendChild(text("li", field + ": " + message)); });
        });
        if (!problems.children.length) problems.appendChild(text("li", answer.detail || "Cannot count yet."));
        parts.push(problems);
      }
      box.querySelector(".audience-body").replaceChildren.apply(box.querySelector(".audience-body"), parts);
    }

    function run() {
      var mine = ++sequence;
      var token = document.querySelector("[name=csrfmiddlewaretoken]");
      box.classList.add("audience-loading");
      fetch(box.dataset.audienceUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify(body()),
      }).then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
      }).then(function (result) {
        if (mine === sequence) show(result.ok, result.answer);
      }).catch(function () {
        if (mine === sequence) show(false, { detail: "The count could not be loaded; try again." });
      });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    }

    form.addEventListener("change", function (event) {
      var name = event.target && event.target.name;
      if (name === "shop" || name === "segments" || name === "excluded_segments" || name === "cap_hours") soon();
    });
    form.addEventListener("input", function (event) {
      if (event.target && event.target.name === "cap_hours") soon();
    });
    if (box.dataset.live === "now" && shop.value) run();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-audience-url]").forEach(init);
  });
})();
