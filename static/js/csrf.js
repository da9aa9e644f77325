// The campaign page is the same for every visitor who is not logged in, so it is cached
// whole and carries no CSRF token of theirs. This fetches the visitor's own token when they
// start filling in the support form (or, at the latest, when they send it). Without this
// script the form still works: the server answers it with the form again, with a token.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-token-url]");
  Array.prototype.forEach.call(forms, function (form) {
    var input = form.querySelector('input[name="csrf_token"]');
    if (!input) { return; }
    var pending = null;

    function fetchToken() {
      if (!pending) {
        pending = fetch(form.getAttribute("data-token-url"), {
          credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}
        }).then(function (response) {
          if (!response.ok) { throw new Error("no token"); }
          return response.json();
        }).then(function (data) {
          input.value = data.csrf_token;
        }).catch(function () {
          pending = null; // try again on submit; the server answers a form without a token
        });
      }
      return pending;
    }

    form.addEventListener("focusin", fetchToken);
    form.addEventListener("submit", function (event) {
      if (input.value) { return; }
      event.preventDefault();
      var submitter = event.submitter;
      var send = function () {
        if (form.requestSubmit && input.value) {
          form.requestSubmit(submitter || undefined);
        } else {
          form.submit();
        }
      };
      (fetchToken() || Promise.resolve()).then(send, send);
    });
  });
})();
