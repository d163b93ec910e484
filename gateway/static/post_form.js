// Live character count as X counts it (links 23, most CJK and emoji 2), and a size check
// before upload so nobody waits for a file that will be refused. The server checks both again.
(function () {
  var text = document.getElementById("text"), out = document.getElementById("count");
  var accounts = document.querySelectorAll("input[name=account_id]"), form = text.form;
  var url = /https?:\/\/\S+|\bwww\.\S+|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|net|uk|edu|gov|io|co)\b\S*/gi;
  function weight(cp) {
    if (cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247)) return 1;
    return 2;
  }
  function count(s) {
    var n = 0, rest = s.replace(url, function () { n += 23; return ""; });
    for (var ch of rest.normalize("NFC")) n += weight(ch.codePointAt(0));
    return n;
  }
  function limit() {  // the tightest of the accounts chosen; each network's own count is checked on the server
    var limits = Array.prototype.filter.call(accounts, function (a) { return a.checked; })
      .map(function (a) { return parseInt(a.dataset.limit, 10); });
    return limits.length ? Math.min.apply(null, limits) : 280;
  }
  function update() {
    var n = count(text.value), max = limit();
    out.textContent = n + " of " + max + " characters" + (n > max ? " — " + (n - max) + " too many" : "");
    out.className = n > max ? "hint over" : "hint";
  }
  var errors = document.querySelector(".errors");
  if (errors) errors.focus();
  text.addEventListener("input", update);
  accounts.forEach(function (a) { a.addEventListener("change", update); });
  update();
  var maxBytes = parseInt(form.dataset.maxMb, 10) * 1048576;
  form.querySelectorAll("input[type=file]").forEach(function (input) {
    input.addEventListener("change", function () {
      var f = input.files[0];
      input.setCustomValidity(f && f.size > maxBytes ?
        f.name + " is " + Math.round(f.size / 1048576) + " MB; the limit is " + form.dataset.maxMb + " MB." : "");
      input.reportValidity();
      // a chosen photo needs its description before the form is sent (the server asks again)
      var alt = document.getElementById(input.id.replace("photo_", "alt_new_"));
      if (alt) alt.required = !!f || input.dataset.held === "1";
    });
  });
})();
