// Copy buttons (data-copy-target="#id") and "acknowledge before leaving" pages.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) return;
  event.preventDefault();
  var source = document.querySelector(button.getAttribute("data-copy-target"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); document.execCommand("copy"); done(); });
  } else {
    if (source.select) { source.select(); } document.execCommand("copy"); done();
  }
});

document.addEventListener("DOMContentLoaded", function () {
  var ack = document.querySelector("[data-ack-required]");
  if (!ack) return;
  var leave = document.querySelectorAll("[data-ack-leave]");
  var update = function () { leave.forEach(function (a) { a.classList.toggle("disabled", !ack.checked); a.setAttribute("aria-disabled", String(!ack.checked)); }); };
  update();
  ack.addEventListener("change", update);
  leave.forEach(function (a) { a.addEventListener("click", function (e) { if (!ack.checked) { e.preventDefault(); ack.focus(); } }); });
  window.addEventListener("beforeunload", function (e) { if (!ack.checked) { e.preventDefault(); e.returnValue = ""; } });
});

// Session page: ID images and the raw provider JSON load only when asked for
// (each look is recorded in the personal data access log).
document.addEventListener("click", function (event) {
  var button = event.target.closest("#ts-show-images");
  if (!button) return;
  var box = document.getElementById("ts-images");
  box.innerHTML = "";
  button.getAttribute("data-urls").split(",").forEach(function (pair) {
    var parts = pair.split("|");
    var figure = document.createElement("figure");
    var img = document.createElement("img");
    img.src = parts[0]; img.alt = parts[1];
    var caption = document.createElement("figcaption");
    caption.textContent = parts[1].replace(/_/g, " ");
    figure.appendChild(img); figure.appendChild(caption); box.appendChild(figure);
  });
  button.disabled = true;
});
document.addEventListener("toggle", function (event) {
  var details = event.target;
  if (details.id !== "ts-raw" || !details.open || details.dataset.loaded) return;
  details.dataset.loaded = "1";
  fetch(details.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (text) {
    details.querySelector("pre").textContent = text;
  });
}, true);
