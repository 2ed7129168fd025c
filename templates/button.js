/* The fedflattr button: one line on any page,
     <script async src="https://INSTANCE/button.js" data-url="https://blog.example/post"></script>
   renders a "Flattr" link with the count beside the script tag. data-url defaults to the
   page's address; data-owner (a username on INSTANCE) and data-title make it an auto-submit
   button for a page under a domain that user verified. The link opens INSTANCE's flattr page
   at top level (never in a frame), where the visitor logs in and confirms. No cookies, no
   tracking: the count is one cached, anonymous request. */
(function () {
  var script = document.currentScript;
  if (!script) { return; }
  var base = script.src.replace(/\/button\.js(\?.*)?$/, "");
  var url = script.getAttribute("data-url") || location.href.split("#")[0];
  var owner = script.getAttribute("data-owner");
  var target = url;
  if (owner) {
    target = base + "/submit/auto?user_id=" + encodeURIComponent(owner) +
      "&url=" + encodeURIComponent(url) +
      "&title=" + encodeURIComponent(script.getAttribute("data-title") || document.title);
  }
  var link = document.createElement("a");
  link.href = base + "/flattr?url=" + encodeURIComponent(target);
  link.className = "fedflattr-button";
  link.setAttribute("style", "display:inline-flex;align-items:center;gap:.4em;padding:.3em .7em;" +
    "border-radius:4px;background:#1d6b2a;color:#fff;font:bold 15px/1.3 system-ui,sans-serif;" +
    "text-decoration:none");
  link.appendChild(document.createTextNode("Flattr"));
  var count = document.createElement("span");
  count.className = "fedflattr-count";
  count.setAttribute("style", "background:#fff;color:#1a1a1a;border-radius:3px;padding:0 .4em;font-weight:normal");
  count.textContent = "…";
  link.appendChild(count);
  link.setAttribute("aria-label", "Flattr this");
  script.parentNode.insertBefore(link, script.nextSibling);
  // Back from flattring (#flattred), the cached count is stale: ask again.
  var fresh = location.hash === "#flattred" ? { cache: "reload" } : {};
  fetch(base + "/button/count?url=" + encodeURIComponent(url), fresh)
    .then(function (r) { return r.json(); })
    .then(function (body) {
      count.textContent = String(body.count);
      link.setAttribute("aria-label", "Flattr this (" + body.count + " flattrs)");
    })
    .catch(function () { count.textContent = "?"; });
})();
