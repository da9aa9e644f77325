// The campaign form's brand field: brands are listed while their name is typed (with the
// group owning each) and one is chosen by click or keyboard. Without this script the name
// typed is looked up when the form is sent, and the brands like it are listed to choose from.
(function () {
  "use strict";
  var box = document.querySelector(".brand-picker");
  if (!box) { return; }
  var input = box.querySelector("input[type=text]");
  var hidden = document.getElementById("target_brand_id");
  var list = document.getElementById("brand-options");
  var suggest = document.getElementById("suggest-brand");
  var timer = null;
  var asked = "";
  var active = -1;

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");

  function options() { return list.querySelectorAll("[role=option]"); }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function mark(index) {
    var all = options();
    if (!all.length) { return; }
    active = (index + all.length) % all.length;
    all.forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  }

  function choose(li) {
    input.value = li.dataset.name;
    hidden.value = li.dataset.id;
    var matches = box.querySelector(".brand-matches");
    if (matches) { matches.remove(); }
    close();
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function render(brands) {
    list.textContent = "";
    active = -1;
    if (!brands.length) {
      var none = document.createElement("li");
      none.className = "combobox-empty";
      none.textContent = box.dataset.none;
      list.appendChild(none);
    }
    brands.forEach(function (brand, i) {
      var li = document.createElement("li");
      li.id = "brand-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.id = brand.id;
      li.dataset.name = brand.name;
      li.textContent = brand.name;
      if (brand.group) {
        var group = document.createElement("span");
        group.className = "muted";
        group.textContent = " " + box.dataset.partOf.replace("{group}", brand.group);
        li.appendChild(group);
      }
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(li); });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function lookUp() {
    var query = input.value.trim();
    if (!query) { close(); return; }
    if (query === asked) { return; }
    asked = query;
    fetch(box.dataset.url + "?q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { brands: [] }; })
      .then(function (data) { if (query === input.value.trim()) { render(data.brands || []); } })
      .catch(function () { /* the form still works: the name is looked up on submit */ });
  }

  input.addEventListener("input", function () {
    hidden.value = "";  // a name typed again is not the brand chosen before
    suggest.href = suggest.dataset.base + "?name=" + encodeURIComponent(input.value.trim());
    window.clearTimeout(timer);
    timer = window.setTimeout(lookUp, 200);
  });
  input.addEventListener("keydown", function (event) {
    if (list.hidden) {
      if (event.key === "ArrowDown") { asked = ""; lookUp(); event.preventDefault(); }
      return;
    }
    if (event.key === "ArrowDown") { mark(active + 1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { mark(active - 1); event.preventDefault(); }
    else if (event.key === "Enter" && active >= 0) { choose(options()[active]); event.preventDefault(); }
    else if (event.key === "Escape") { close(); event.preventDefault(); }
  });
  input.addEventListener("blur", function () { window.setTimeout(close, 150); });
}());
