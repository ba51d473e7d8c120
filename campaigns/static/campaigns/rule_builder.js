/*
 * The segment rule builder: AND/OR groups of conditions, edited in place, kept as JSON in a
 * hidden input, with a live preview (count, sentence, a sample of customers).
 *
 * Plain JavaScript, no dependencies. The page provides:
 *   <div data-rule-builder data-input="ID" data-schema="ID" data-preview-url="URL">
 * where the input holds the rule JSON and the schema is a json_script of
 * campaigns.segments.schema.builder_schema(). The server validates every rule again.
 */
(function () {
  "use strict";

  var NO_VALUE = ["is_set", "is_not_set"];
  var LIST_OPERATORS = ["in", "not_in"];
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  var LIST_TYPES = ["tags", "window_items"];  // always a list, typed as comma-separated text

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (attrs[key] !== undefined && attrs[key] !== null && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    for (var i = 2; i < arguments.length; i++) if (arguments[i]) node.appendChild(arguments[i]);
    return node;
  }

  function option(value, label, selected) {
    var node = el("option", { value: String(value), text: label });
    node.selected = !!selected;
    return node;
  }

  function newCondition() { return { field: "", operator: "", value: null }; }
  function newGroup() { return { match: "all", negate: false, children: [newCondition()] }; }
  function isGroup(node) { return node && Array.isArray(node.children); }

  function valueShape(field, operator) {
    if (!field || NO_VALUE.indexOf(operator) >= 0) return "none";
    if (field.type === "date" && operator === "in_last_days") return "days";
    if (operator === "between") return "pair";
    if (LIST_OPERATORS.indexOf(operator) >= 0 || LIST_TYPES.indexOf(field.type) >= 0) return "list";
    return "one";
  }

  function defaultValue(field, operator) {
    var shape = valueShape(field, operator);
    if (shape === "none") return null;
    if (shape === "pair") return [null, null];
    if (shape === "list") return [];
    if (field.type === "bool") return true;
    if (field.type === "choice" && field.choices.length) return field.choices[0][0];
    if (field.type === "month") return 1;
    return null;
  }

  function init(root) {
    var schema = JSON.parse(document.getElementById(root.dataset.schema).textContent);
    var input = document.getElementById(root.dataset.input);
    var fields = {};
    schema.fields.forEach(function (f) { fields[f.name] = f; });

    var rule = null;
    try { rule = JSON.parse(input.value || "null"); } catch (e) { rule = null; }
    if (!isGroup(rule)) rule = newGroup();

    var tree = el("div", { className: "rb-tree" });
    var preview = el("div", { className: "rb-preview", "aria-live": "polite" });
    root.appendChild(el("div", { className: "rb-layout" }, tree, preview));

    function changed(structure) {
      input.value = JSON.stringify(rule);
      if (structure) render();
      updatePreview(350);
    }

    function render() {
      tree.replaceChildren(renderGroup(rule, null, 1));
    }

    function renderGroup(group, parent, depth) {
      var negate = el("input", { type: "checkbox", className: "rb-negate" });
      negate.checked = !!group.negate;
      negate.addEventListener("change", function () { group.negate = negate.checked; changed(false); });
      var match = el("select", { className: "rb-match", "aria-label": "Match" },
        option("all", "ALL of these (AND)", group.match !== "any"),
        option("any", "ANY of these (OR)", group.match === "any"));
      match.addEventListener("change", function () { group.match = match.value; changed(false); });

      var children = el("div", { className: "rb-children" });
      group.children.forEach(function (child) {
        children.appendChild(isGroup(child) ? renderGroup(child, group, depth + 1) : renderCondition(child, group));
      });

      var addCondition = el("button", { type: "button", className: "rb-add-condition", text: "+ Condition" });
      addCondition.addEventListener("click", function () { group.children.push(newCondition()); changed(true); });
      var actions = el("div", { className: "rb-actions" }, addCondition);
      if (depth < schema.maxDepth) {
        var addGroup = el("button", { type: "button", className: "rb-add-group", text: "+ Group" });
        addGroup.addEventListener("click", function () {
          group.children.push({ match: group.match === "any" ? "all" : "any", negate: false, children: [newCondition()] });
          changed(true);
        });
        actions.appendChild(addGroup);
      }
      if (parent) actions.appendChild(removeButton(group, parent, "Remove group"));

      var head = el("div", { className: "rb-group-head" },
        el("label", { className: "rb-negate-label" }, negate, document.createTextNode(" NOT")), match);
      return el("fieldset", { className: "rb-group", "data-depth": depth }, head, children, actions);
    }

    function removeButton(node, parent, label) {
      var button = el("button", { type: "button", className: "rb-remove", title: label, "aria-label": label, text: "✕" });
      button.addEventListener("click", function () {
        parent.children.splice(parent.children.indexOf(node), 1);
        if (!parent.children.length) parent.children.push(newCondition());
        changed(true);
      });
      return button;
    }

    function renderCondition(condition, parent) {
      var field = fields[condition.field];
      var fieldSelect = el("select", { className: "rb-field", "aria-label": "Field" }, option("", "— choose a field —", !field));
      var groups = {};
      schema.fields.forEach(function (f) {
        if (!groups[f.group]) {
          groups[f.group] = el("optgroup", { label: f.group });
          fieldSelect.appendChild(groups[f.group]);
        }
        groups[f.group].appendChild(option(f.name, f.label, f === field));
      });
      fieldSelect.addEventListener("change", function () {
        var chosen = fields[fieldSelect.value];
        Object.keys(condition).forEach(function (key) { delete condition[key]; });
        condition.field = fieldSelect.value;
        condition.operator = chosen ? chosen.operators[0].value : "";
        condition.value = defaultValue(chosen, condition.operator);
        if (chosen && chosen.window) condition.within_days = 30;
        changed(true);
      });

      var row = el("div", { className: "rb-condition" }, fieldSelect);
      if (field) {
        var operatorSelect = el("select", { className: "rb-operator", "aria-label": "Operator" });
        field.operators.forEach(function (o) { operatorSelect.appendChild(option(o.value, o.label, o.value === condition.operator)); });
        operatorSelect.addEventListener("change", function () {
          var before = valueShape(field, condition.operator);
          condition.operator = operatorSelect.value;
          if (valueShape(field, condition.operator) !== before) condition.value = defaultValue(field, condition.operator);
          changed(true);
        });
        row.appendChild(operatorSelect);
        row.appendChild(renderValue(field, condition));
        if (field.window) row.appendChild(renderWindow(field, condition));
        if (field.help) row.appendChild(el("span", { className: "rb-help", text: field.help }));
      }
      row.appendChild(removeButton(condition, parent, "Remove condition"));
      return row;
    }

    function scalarInput(field, condition, get, set, label) {
      var type = field.type, node;
      if (type === "choice" || type === "month" || type === "bool") {
        node = el("select", { className: "rb-value-input", "aria-label": label });
        var options = type === "choice" ? field.choices
          : type === "month" ? MONTHS.map(function (m, i) { return [i + 1, m]; })
          : [[true, "yes"], [false, "no"]];
        options.forEach(function (pair) { node.appendChild(option(pair[0], pair[1], String(get()) === String(pair[0]))); });
        node.addEventListener("change", function () {
          set(type === "month" ? parseInt(node.value, 10) : type === "bool" ? node.value === "true" : node.value);
          changed(false);
        });
        return node;
      }
      var numeric = ["number", "window_number", "percent"].indexOf(type) >= 0;
      node = el("input", {
        className: "rb-value-input",
        "aria-label": label,
        type: numeric ? "number" : type === "date" ? "date" : "text",
        step: numeric ? "any" : null,
        placeholder: type === "event" ? "event type, e.g. cart_abandoned" : null,
      });
      node.value = get() === null || get() === undefined ? "" : String(get());
      node.addEventListener("input", function () {
        var raw = node.value.trim();
        set(raw === "" ? null : numeric ? Number(raw) : raw);
        changed(false);
      });
      return node;
    }

    function renderValue(field, condition) {
      var shape = valueShape(field, condition.operator);
      var box = el("span", { className: "rb-value" });
      if (shape === "none") return box;
      if (shape === "days") {
        var days = el("input", { type: "number", min: "1", step: "1", className: "rb-value-input", "aria-label": "Days" });
        days.value = condition.value === null || condition.value === undefined ? "" : condition.value;
        days.addEventListener("input", function () {
          condition.value = days.value === "" ? null : parseInt(days.value, 10);
          changed(false);
        });
        box.appendChild(days);
        box.appendChild(document.createTextNode(" days"));
      } else if (shape === "pair") {
        if (!Array.isArray(condition.value)) condition.value = [null, null];
        [0, 1].forEach(function (i) {
          if (i) box.appendChild(document.createTextNode(" and "));
          box.appendChild(scalarInput(field, condition,
            function () { return condition.value[i]; },
            function (v) { condition.value[i] = v; }, i ? "To" : "From"));
        });
      } else if (shape === "list" && (field.type === "choice" || field.type === "month")) {
        if (!Array.isArray(condition.value)) condition.value = [];
        var options = field.type === "choice" ? field.choices : MONTHS.map(function (m, i) { return [i + 1, m]; });
        var multi = el("select", { multiple: "multiple", size: String(Math.min(options.length, 6)), className: "rb-value-input", "aria-label": "Values" });
        options.forEach(function (pair) {
          multi.appendChild(option(pair[0], pair[1], condition.value.map(String).indexOf(String(pair[0])) >= 0));
        });
        multi.addEventListener("change", function () {
          condition.value = Array.prototype.filter.call(multi.options, function (o) { return o.selected; })
            .map(function (o) { return field.type === "month" ? parseInt(o.value, 10) : o.value; });
          changed(false);
        });
        box.appendChild(multi);
      } else if (shape === "list") {
        if (!Array.isArray(condition.value)) condition.value = [];
        var text = el("input", { type: "text", className: "rb-value-input", "aria-label": "Values", placeholder: "comma-separated" });
        text.value = condition.value.join(", ");
        text.addEventListener("input", function () {
          condition.value = text.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          changed(false);
        });
        box.appendChild(text);
      } else {
        box.appendChild(scalarInput(field, condition,
          function () { return condition.value; },
          function (v) { condition.value = v; }, "Value"));
      }
      return box;
    }

    function renderWindow(field, condition) {
      var unit = condition.within_hours !== undefined ? "hours" : "days";
      var amount = el("input", { type: "number", min: "1", step: "1", className: "rb-window-amount", "aria-label": "Window" });
      amount.value = condition["within_" + unit] === null || condition["within_" + unit] === undefined ? "" : condition["within_" + unit];
      var units = el("select", { className: "rb-window-unit", "aria-label": "Window unit" }, option("days", "days", unit === "days"));
      if (field.window === "days_or_hours") units.appendChild(option("hours", "hours", unit === "hours"));
      function update() {
        delete condition.within_days;
        delete condition.within_hours;
        condition["within_" + units.value] = amount.value === "" ? null : parseInt(amount.value, 10);
        changed(false);
      }
      amount.addEventListener("input", update);
      units.addEventListener("change", update);
      return el("span", { className: "rb-window" }, document.createTextNode("in the last "), amount, document.createTextNode(" "), units);
    }

    // A condition whose field is not chosen yet (a new rule, a row just added): the rule is
    // not started there, so there is nothing to ask the server (it would only answer 400).
    function unchosen(node) {
      return isGroup(node) ? node.children.some(unchosen) : !node.field;
    }

    // The live preview: one request at a time, the newest answer wins.
    var timer = null, sequence = 0;
    function updatePreview(delay) {
      clearTimeout(timer);
      sequence++;  // an answer still on its way is out of date
      if (unchosen(rule)) {
        showParts([el("p", { className: "rb-waiting", text: "Choose a field in each condition to see who matches." })]);
        return;
      }
      preview.classList.add("rb-loading");
      timer = setTimeout(runPreview, delay);
    }

    function runPreview() {
      var mine = sequence;
      var token = document.querySelector("[name=csrfmiddlewaretoken]");
      fetch(root.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify({ rule: rule }),
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (mine === sequence) showPreview(answer.ok, answer.body);
      }).catch(function () {
        if (mine === sequence) showPreview(false, { detail: "The preview could not be loaded; try again." });
      });
    }

    function showParts(parts) {
      preview.classList.remove("rb-loading");
      preview.replaceChildren.apply(preview, [el("h3", { text: "Preview" })].concat(parts));
    }

    function showPreview(ok, body) {
      var parts = [];
      if (ok) {
        parts.push(el("p", { className: "rb-count" }, document.createTextNode("Matches "),
          el("strong", { className: "rb-count-number", text: body.count.toLocaleString("en") }),
          document.createTextNode(body.count === 1 ? " customer" : " customers")));
        parts.push(el("p", { className: "rb-sentence", text: body.sentence }));
        if (body.sample.length) {
          var list = el("ol", { className: "rb-sample" });
          body.sample.forEach(function (c) { list.appendChild(el("li", {}, el("a", { href: c.url, text: c.name }))); });
          parts.push(el("p", { className: "rb-sample-title", text: "The newest " + body.sample.length + ":" }), list);
        }
      } else {
        var errors = (body.errors && body.errors.rule) || [body.detail || "The rule is not valid."];
        var box = el("ul", { className: "errorlist rb-errors" });
        errors.forEach(function (message) { box.appendChild(el("li", { text: message })); });
        parts.push(el("p", { text: "Not a complete rule yet:" }), box);
      }
      showParts(parts);
    }

    input.value = JSON.stringify(rule);
    render();
    updatePreview(0);
  }

  // On the segment form: show the rule for a dynamic segment, the member list for a static one.
  function followKind() {
    var kind = document.getElementById("id_kind");
    if (!kind) return;
    function show(selector, visible) {
      var node = document.querySelector(selector);
      var fieldset = node && node.closest("fieldset");
      if (fieldset) fieldset.hidden = !visible;
    }
    function toggle() {
      show(".field-rule", kind.value === "dynamic");
      show(".field-members_upload", kind.value === "static");
    }
    kind.addEventListener("change", toggle);
    toggle();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rule-builder]").forEach(init);
    followKind();
  });
})();
