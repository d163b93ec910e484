// While a post is being checked, how far each photo has got is fetched every two seconds and shown in place:
// no full-page refresh, so a screen reader keeps its place. When the checks end, the page loads once more.
(function () {
  var region = document.querySelector("[data-progress-url]");
  if (!region) return;
  function poll() {
    fetch(region.dataset.progressUrl, {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("progress");
        if (!next || next.dataset.checking !== "yes") { window.location.reload(); return; }
        var shown = document.getElementById("progress");
        if (shown.innerHTML !== next.innerHTML) shown.innerHTML = next.innerHTML;
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });  // a lost connection: try again, a little later
  }
  setTimeout(poll, 2000);
})();
