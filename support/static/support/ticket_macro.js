/*
 * The ticket page's macro picker: choosing a macro puts its text, filled in for this
 * ticket's customer, in the reply box, to edit before sending. What is sent is what the box
 * holds (support.tickets.ticket_work).
 *
 * Plain JavaScript, no dependencies, no inline script (the admin's CSP). The page provides
 *   <div data-macro-preview-url="URL"> … #id_macro, #id_reply, #id_reply_as … </div>
 * and URL?macro=<id> answers {text, reply_as, set_status_label, tags, empty} or {detail}.
 */
(function () {
  "use strict";

  function init() {
    var root = document.querySelector("[data-macro-preview-url]");
    var select = document.getElementById("id_macro");
    var box = document.getElementById("id_reply");
    var replyAs = document.getElementById("id_reply_as");
    var note = document.getElementById("macro-note");
    var inBox = document.getElementById("id_macro_in_box");
    if (!root || !select || !box || !note) return;
    var filled = ""; // the text the last macro put in the box, while the agent has not changed it

    function say(text, problem) {
      note.textContent = text;
      note.hidden = !text;
      note.classList.toggle("problem", !!problem);
    }

    function describe(body) {
      var parts = [];
      if (body.set_status_label) parts.push("sets the status to “" + body.set_status_label + "” (unless you choose one)");
      if (body.tags && body.tags.length) parts.push("adds the tag" + (body.tags.length > 1 ? "s " : " ") + body.tags.join(", "));
      var text = "Edit the text as you need: it is sent as it stands in the box.";
      if (parts.length) text += " On save the macro also " + parts.join(" and ") + ".";
      if (body.empty && body.empty.length) {
        text += " This customer has no value for " + body.empty.map(function (n) { return "{{ " + n + " }}"; }).join(", ") +
          ": check the sentence reads well.";
      }
      return text;
    }

    select.addEventListener("change", function () {
      var id = select.value;
      if (!id) { say(""); return; }
      say("Filling in the macro…");
      var url = root.getAttribute("data-macro-preview-url") + "?macro=" + encodeURIComponent(id);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        })
        .then(function (result) {
          if (select.value !== id) return; // another macro was chosen meanwhile
          if (!result.ok) {
            say((result.body && result.body.detail) || "The macro could not be filled in.", true);
            return;
          }
          var text = result.body.text;
          // Never lose what the agent typed: their own text stays, the macro's goes below it.
          var own = box.value.trim() && box.value !== filled;
          box.value = own ? box.value.replace(/\s+$/, "") + "\n\n" + text : text;
          filled = box.value;
          if (inBox) inBox.value = "1"; // the box is what is sent from now on, even emptied
          if (replyAs && result.body.reply_as) replyAs.value = result.body.reply_as;
          say(describe(result.body));
          box.focus();
        })
        .catch(function () {
          say("The macro could not be filled in; on save without text in the box, the macro's own text is sent.", true);
        });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
