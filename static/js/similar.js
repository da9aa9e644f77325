// While a campaign's title is typed, list open campaigns of any kind to the same brand that
// match it, so people join one instead of splitting support. It only suggests: nothing is
// blocked, and without this script the form lists them when it comes back.
(function () {
  "use strict";
  var box = document.getElementById("similar");
  var title = document.getElementById("title");
  var form = title && title.form;
  if (!box || !title || !form) { return; }
  var timer = null;
  var last = "";

  function brandId() {
    var hidden = document.getElementById("target_brand_id");
    if (hidden && hidden.value) { return hidden.value; }
    var picked = form.querySelector("input[name=brand_choice]:checked, input[name=endorsed_brands]:checked");
    return picked ? picked.value : "";
  }

  function render(items) {
    box.textContent = "";
    if (!items.length) { return; }
    var heading = document.createElement("p");
    heading.className = "hint";
    heading.textContent = box.dataset.heading;  // translated by the page
    var list = document.createElement("ul");
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title;
      var count = document.createElement("span");
      count.className = "muted";
      count.textContent = " (" + item.label + ")";
      li.appendChild(a);
      li.appendChild(count);
      list.appendChild(li);
    });
    box.appendChild(heading);
    box.appendChild(list);
  }

  function lookUp() {
    var query = title.value.trim();
    var brand = brandId();
    var key = brand + "|" + query;
    if (query.length < 4 || !brand || key === last) { return; }
    last = key;
    var url = box.dataset.url + "?brand=" + encodeURIComponent(brand) +
      "&title=" + encodeURIComponent(query) +
      (box.dataset.exclude ? "&exclude=" + encodeURIComponent(box.dataset.exclude) : "");
    fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { campaigns: [] }; })
      .then(function (data) { render(data.campaigns || []); })
      .catch(function () { /* suggestions are optional */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookUp, 300);
  }
  title.addEventListener("input", later);
  form.addEventListener("change", later);
}());
