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

// Live updates (api/live): #live holds the tab's one stream. Every reconnect, htmx's after a
// failed one included, resumes from the last message's id rather than the page's `after`; a
// hidden tab closes its stream and reopens it from there once shown again.
(() => {
  const first = document.getElementById("live");
  if (!first || !window.htmx) return;
  let lastId = null;
  let source = null;
  const open = htmx.createEventSource;
  htmx.createEventSource = (url) => {
    const resumed = new URL(url, window.location.href);
    if (lastId) resumed.searchParams.set("after", lastId);
    source = open(resumed.toString());
    return source;
  };
  const show = (state) => {
    const live = document.getElementById("live");
    live.dataset.state = state;
    live.textContent = state;
  };
  const log = () => document.getElementById("job-log-lines");
  let following = true;
  document.body.addEventListener("htmx:sseOpen", () => show("open"));
  document.body.addEventListener("htmx:sseError", () => show("reconnecting"));
  document.body.addEventListener("htmx:sseBeforeMessage", (event) => {
    lastId = event.detail.lastEventId || lastId;
    const lines = log();
    // The log follows its end only while the reader is there, not once they scrolled up.
    following = !lines || lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
  });
  document.body.addEventListener("htmx:sseMessage", () => {
    const lines = log();
    if (lines && following) lines.scrollTop = lines.scrollHeight;
  });
  document.body.addEventListener("htmx:sseClose", (event) => {
    if (event.detail.type === "message") window.location.assign("/login");
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (source) source.close();
      show("paused");
      return;
    }
    const paused = document.getElementById("live");
    if (paused.dataset.state !== "paused") return;
    const fresh = paused.cloneNode(true);
    paused.replaceWith(fresh);
    htmx.process(fresh);
  });
})();
