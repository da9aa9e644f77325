// A table in a .table-scroll box is sent with tabindex="0" so that keyboard users can reach
// it and scroll it with the arrow keys (and so it still is without this script). A box whose
// table fits has nothing to scroll: this takes it out of the tab order, and puts it back when
// the window narrows until the table no longer fits.
(function () {
  "use strict";
  var boxes = document.querySelectorAll(".table-scroll");
  if (!boxes.length || !("ResizeObserver" in window)) { return; }

  function fit(box) {
    if (box.scrollWidth > box.clientWidth) {
      box.setAttribute("tabindex", "0");
    } else {
      box.removeAttribute("tabindex");
    }
  }

  var observer = new ResizeObserver(function (entries) {
    entries.forEach(function (entry) {
      fit(entry.target.classList.contains("table-scroll") ? entry.target : entry.target.parentElement);
    });
  });
  Array.prototype.forEach.call(boxes, function (box) {
    fit(box);
    observer.observe(box);
    if (box.firstElementChild) { observer.observe(box.firstElementChild); }
  });
})();
