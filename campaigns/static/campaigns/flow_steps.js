// The flow page: each step shows the fields of its kind only. A send step has the email's
// subject, preheader, body and A/B settings; every other kind hides them (their values are
// not used). Follows the kind as it is changed, and steps added with "Add another".
(function () {
  "use strict";
  const EMAIL_FIELDS = ["subject", "preheader", "body", "holdout_percent", "winner_metric", "min_uplift_percent"];

  function step(select) {
    return select.closest(".form-group") || select.closest(".inline-related") || document;
  }

  function follow(select) {
    const isSend = select.value === "send_email";
    const box = step(select);
    for (const name of EMAIL_FIELDS) {
      box.querySelectorAll(".field-" + name).forEach((row) => {
        row.hidden = !isSend;
      });
    }
    // Read-only rows carry no field class: their content is marked instead.
    box.querySelectorAll(".flow-email-only").forEach((marker) => {
      const row = marker.closest(".field-line");
      if (row) row.hidden = !isSend;
    });
  }

  function wire(root) {
    root.querySelectorAll("select[name$='-kind']").forEach((select) => {
      if (select.dataset.followed) return;
      select.dataset.followed = "1";
      select.addEventListener("change", () => follow(select));
      follow(select);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire(document);
    document.addEventListener("formset:added", (event) => wire(event.target));
  });
})();
