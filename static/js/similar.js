// While a proposal's title is typed, list similar open proposals to the same brand.
// It only suggests: nothing is blocked, and the form works without this script.
(function () {
  "use strict";
  var box = document.getElementById("similar");
  var title = document.getElementById("title");
  var brand = document.getElementById("target_brand_id");
  if (!box || !title || !brand) { return; }
  var timer = null;
  var last = "";

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
      a.textContent = item.title + " (" + item.counted + ")";  // translated by the server
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(heading);
    box.appendChild(list);
  }

  function lookUp() {
    var query = title.value.trim();
    var key = brand.value + "|" + query;
    if (query.length < 4 || brand.value === "0" || key === last) { return; }
    last = key;
    var url = box.dataset.url + "?brand=" + encodeURIComponent(brand.value) +
      "&title=" + encodeURIComponent(query);
    fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { proposals: [] }; })
      .then(function (data) { render(data.proposals || []); })
      .catch(function () { /* suggestions are optional */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookUp, 300);
  }
  title.addEventListener("input", later);
  brand.addEventListener("change", later);
}());
