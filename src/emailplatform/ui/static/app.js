// The little the pages need beyond htmx: the recipients upload (with a progress bar), the user's time zone,
// questions before a form is sent, and copy buttons.
(function () {
  "use strict";

  function csrf() { return document.body.dataset.csrf; }

  function setProgress(bar, fraction) {
    bar.hidden = false;
    const pct = Math.round(fraction * 100);
    bar.setAttribute("aria-valuenow", String(pct));
    bar.firstElementChild.style.width = pct + "%";
  }

  async function uploadUrl(input, file) {
    const body = new FormData();
    body.append("filename", file.name);
    const response = await fetch(input.dataset.uploadUrl, { method: "POST", body, headers: { "X-CSRF-Token": csrf() } });
    if (!response.ok) throw new Error("the server refused the upload (" + response.status + ")");
    return response.json();
  }

  function put(url, file, bar) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) setProgress(bar, e.loaded / e.total); });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        let reason = "status " + xhr.status;
        try { reason = JSON.parse(xhr.responseText).error.message; } catch (_) { /* keep the status */ }
        reject(new Error(reason));
      });
      xhr.addEventListener("error", function () { reject(new Error("the connection failed")); });
      xhr.send(file);
    });
  }

  async function upload(input) {
    const file = input.files[0];
    if (!file) return;
    const status = document.getElementById("upload-status");
    const bar = document.getElementById("upload-progress");
    document.getElementById("chosen").textContent = file.name;
    status.textContent = "Uploading " + file.name + "…";
    setProgress(bar, 0);
    try {
      const target = await uploadUrl(input, file);
      await put(target.upload_url, file, bar);
      setProgress(bar, 1);
      document.getElementById("file_url").value = target.file_url;
      document.getElementById("filename").value = file.name;
      status.textContent = "Uploaded " + file.name + ". Checking it…";
      const checked = function () { status.textContent = "Uploaded " + file.name + "."; };
      document.getElementById("check").addEventListener("htmx:afterSwap", checked, { once: true });
      document.body.dispatchEvent(new Event("uploaded"));
    } catch (err) {
      status.textContent = "";
      status.className = "error";
      status.textContent = "The upload failed: " + err.message;
    }
  }

  function setUpRecipients() {
    const input = document.getElementById("recipients");
    if (!input) return;
    const zone = document.getElementById("dropzone");
    input.addEventListener("change", function () { upload(input); });
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      input.files = e.dataTransfer.files;
      upload(input);
    });
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.getElementById("time_zone").value = tz;
    document.getElementById("tz-label").textContent = "(" + tz + ")";
    const form = document.getElementById("campaign-form");
    form.addEventListener("submit", function (e) {
      const button = document.getElementById("send-button");
      const later = document.getElementById("send_later").checked;
      const when = later ? " at " + document.getElementById("send_at_local").value.replace("T", " ") : " now";
      if (!confirm("Send this campaign to " + button.dataset.count + " recipients" + when + "?")) e.preventDefault();
    });
  }

  // A form with data-confirm asks before it is sent; the question is data, never code.
  document.addEventListener("submit", function (e) {
    const ask = e.target.dataset && e.target.dataset.confirm;
    if (ask && !confirm(ask)) e.preventDefault();
  });

  // A field with data-select-on-focus (a new key, secret or DNS record) is selected whole when focused.
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-select-on-focus]")) e.target.select();
  });

  // A link with data-back goes back a page (where there is one; else it follows its href).
  document.addEventListener("click", function (e) {
    const link = e.target.closest("a[data-back]");
    if (link && history.length > 1) { e.preventDefault(); history.back(); }
  });

  // A button with data-copy copies the value of the element it names, and says so.
  document.addEventListener("click", function (e) {
    const button = e.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    const text = source.value !== undefined ? source.value : source.textContent;
    const done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); });
    } else {
      if (source.select) source.select();
      document.execCommand("copy");
      done();
    }
  });

  document.addEventListener("DOMContentLoaded", setUpRecipients);
})();

// Forms that take a local date and time send the browser's time zone with it.
document.querySelectorAll("input[data-browser-time-zone]").forEach(function (input) {
  input.value = Intl.DateTimeFormat().resolvedOptions().timeZone;
});
