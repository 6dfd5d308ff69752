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
