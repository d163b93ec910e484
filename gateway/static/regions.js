// Drag over a marked photo to fill in the area to cover, in the photo's own pixels.
document.querySelectorAll("img.regions").forEach(function (img) {
  var card = img.closest(".photo-card"), form = card && card.querySelector("form.obscure");
  if (!form) return;
  var start = null;
  function point(e) {
    var r = img.getBoundingClientRect(), sx = img.dataset.width / r.width, sy = img.dataset.height / r.height;
    return { x: Math.round((e.clientX - r.left) * sx), y: Math.round((e.clientY - r.top) * sy) };
  }
  img.addEventListener("pointerdown", function (e) { start = point(e); e.preventDefault(); });
  img.addEventListener("pointerup", function (e) {
    if (!start) return;
    var end = point(e);
    form.elements.left.value = Math.min(start.x, end.x);
    form.elements.top.value = Math.min(start.y, end.y);
    form.elements.width.value = Math.max(1, Math.abs(end.x - start.x));
    form.elements.height.value = Math.max(1, Math.abs(end.y - start.y));
    start = null;
    form.closest("details").open = true;
    form.querySelector("button").focus();
  });
});
