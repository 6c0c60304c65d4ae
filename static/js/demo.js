// Upload without a page reload, then poll the prediction's status URL until
// the worker has answered. Without JavaScript the form posts normally and the
// prediction page refreshes itself.
(function () {
  "use strict";
  // The status says when it is worth asking again (queue.poll_after_ms, from
  // the queue's recent speed); this is the fallback and the pause after an error.
  const POLL_MS = 600;

  function poll(statusUrl, target) {
    // ?wait: the site holds the request until the answer is stored (where it
    // can: otherwise it answers at once and says when to ask again).
    fetch(statusUrl + "?wait=20", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        target.innerHTML = data.html;
        if (!data.finished) {
          const wait = (data.queue && data.queue.poll_after_ms) || POLL_MS;
          setTimeout(() => poll(statusUrl, target), wait);
        }
      })
      .catch(() => setTimeout(() => poll(statusUrl, target), POLL_MS * 3));
  }

  const form = document.getElementById("upload-form");
  if (form) {
    const live = document.getElementById("live");
    const result = document.getElementById("live-result");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = new FormData(form, event.submitter);
      if (!(event.submitter && event.submitter.name === "example")) body.delete("example");
      live.hidden = false;
      result.innerHTML = '<p class="progress"><span class="spinner"></span> Uploading…</p>';
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
            result.innerHTML = "";
            const p = document.createElement("p");
            p.className = "error";
            p.textContent = data.error || "The upload failed.";
            result.appendChild(p);
            return;
          }
          document.getElementById("live-link").href = data.page_url;
          result.innerHTML = data.html;
          poll(data.status_url, result);
        })
        .catch(() => { result.innerHTML = '<p class="error">Network error; try again.</p>'; });
    });
  }

  const detail = document.querySelector(".prediction[data-status-url]");
  if (detail) {
    const target = detail.querySelector(".prediction-result");
    const status = target.querySelector("[data-status]").dataset.status;
    if (status === "queued" || status === "running") poll(detail.dataset.statusUrl, target);
  }
})();
