// The share prompt: a copy button (clipboard API) and the phone's share sheet (Web Share
// API), each shown only where the browser has it; without script the link stays selectable.
(function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest(".field").querySelector(".copy-status");
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        status.textContent = button.getAttribute("data-copied");
      }, function () {
        field.select();
        status.textContent = button.getAttribute("data-copy-failed");
      });
    });
  });
  document.querySelectorAll("[data-share-url]").forEach(function (button) {
    if (!navigator.share) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.share({ title: button.getAttribute("data-share-title"),
                        url: button.getAttribute("data-share-url") }).catch(function () {});
    });
  });
})();
