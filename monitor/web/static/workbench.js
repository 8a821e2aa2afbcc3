// The workbench updates its results as you type: the form is sent (at most one request at a time, the last
// state winning) to /workbench/results, whose answer is server-rendered, escaped HTML. Without this script the
// form's buttons do the same with a page load.
"use strict";
(function () {
  const form = document.getElementById("workbench");
  const results = document.getElementById("results");
  if (!form || !results) return;
  let timer = null;
  let inFlight = false;
  let again = false;

  function send() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    const body = new URLSearchParams(new FormData(form));
    const address = new URLSearchParams(body);
    address.delete("text");
    address.delete("title");
    history.replaceState(null, "", "/workbench?" + address.toString());
    fetch("/workbench/results", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (answer) { return answer.text(); })
      .then(function (html) { results.innerHTML = html; })
      .catch(function () {})
      .finally(function () {
        inFlight = false;
        if (again) {
          again = false;
          send();
        }
      });
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(send, 250);
  });
})();
