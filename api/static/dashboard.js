// The buttons write through the JSON API with htmx (hx-headers on <body> adds the CSRF token).
// After one succeeds, the page is read again once the read models hold the write: its answer's
// `seq` becomes `min_seq`. A refusal shows the problem's detail instead.
document.addEventListener("htmx:afterRequest", (event) => {
  const then = event.detail.elt.dataset.then;
  if (!then) return;
  const xhr = event.detail.xhr;
  let body = {};
  try {
    body = JSON.parse(xhr.responseText || "{}");
  } catch {
    body = {};
  }
  if (!event.detail.successful) {
    const out = document.getElementById("action-result");
    if (out) out.textContent = body.detail || `${xhr.status} ${xhr.statusText}`;
    return;
  }
  if (then === "login") {
    window.location.assign("/login");
    return;
  }
  const url = new URL(window.location.href);
  if (body.seq !== undefined) url.searchParams.set("min_seq", body.seq);
  window.location.assign(url.toString());
});
