// Upload without a page reload, then poll the prediction's status URL until
// the worker has answered. Without JavaScript the form posts normally and the
// prediction page refreshes itself.
//
// What a person notices: the tapped example is marked at once, the answer's
// box scrolls into view (on a phone it is below the fold), a screen reader
// hears "Uploading", "Queued" and then the answer (#live-status, aria-live),
// and keyboard focus moves to the answer when it arrives.
(function () {
  "use strict";
  // The status says when it is worth asking again (queue.poll_after_ms, from
  // the queue's recent speed); this is the fallback and the pause after an error.
  const POLL_MS = 600;

  const statusRegion = document.getElementById("live-status");

  function announce(text) {
    if (statusRegion && statusRegion.textContent !== text) statusRegion.textContent = text;
  }

  // The answer in words, from the rendered partial: "Dog, 97% sure".
  function answerText(target) {
    const answer = target.querySelector(".answer, .error");
    return answer ? answer.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function finished(target, data) {
    target.setAttribute("aria-busy", "false");
    announce("Answer: " + (answerText(target) || data.status));
    target.focus({ preventScroll: true });
  }

  function poll(statusUrl, target) {
    // ?wait: the site holds the request until the answer is stored (where it
    // can: otherwise it answers at once and says when to ask again).
    fetch(statusUrl + "?wait=20", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        target.innerHTML = data.html;
        if (data.finished) {
          finished(target, data);
        } else {
          announce(data.status === "running" ? "Running" : "Queued");
          const wait = (data.queue && data.queue.poll_after_ms) || POLL_MS;
          setTimeout(() => poll(statusUrl, target), wait);
        }
      })
      .catch(() => setTimeout(() => poll(statusUrl, target), POLL_MS * 3));
  }

  function showError(result, message) {
    result.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = message;
    result.appendChild(p);
    result.setAttribute("aria-busy", "false");
    announce(message);
    result.focus({ preventScroll: true });
  }

  const form = document.getElementById("upload-form");
  if (form) {
    const live = document.getElementById("live");
    const result = document.getElementById("live-result");
    const linkRow = document.getElementById("live-link-row");
    const link = document.getElementById("live-link");
    const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = new FormData(form, event.submitter);
      const example = event.submitter && event.submitter.name === "example" ? event.submitter : null;
      if (!example) body.delete("example");
      form.querySelectorAll(".example.chosen").forEach((b) => b.classList.remove("chosen"));
      if (example) example.classList.add("chosen");
      live.hidden = false;
      linkRow.hidden = true;
      result.setAttribute("aria-busy", "true");
      result.innerHTML = '<p class="progress"><span class="spinner"></span> Uploading…</p>';
      announce("Uploading");
      live.scrollIntoView({ behavior: reduceMotion ? "auto" : "smooth", block: "start" });
      fetch(form.action || window.location.href, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
        },
      })
        .then((r) => r.json().then((data) => ({ ok: r.ok, data })))
        .then(({ ok, data }) => {
          if (!ok) {
            showError(result, data.error || "The upload failed.");
            return;
          }
          link.href = data.page_url;
          linkRow.hidden = false;
          result.innerHTML = data.html;
          if (data.finished) finished(result, data);
          else poll(data.status_url, result);
        })
        .catch(() => showError(result, "Network error; try again."));
    });
  }

  const detail = document.querySelector(".prediction[data-status-url]");
  if (detail) {
    const target = detail.querySelector(".prediction-result");
    const status = target.querySelector("[data-status]").dataset.status;
    if (status === "queued" || status === "running") poll(detail.dataset.statusUrl, target);
  }
})();
