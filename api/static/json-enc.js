// `hx-ext="json-enc"`: the JSON API reads JSON bodies, and htmx would send a form's fields (and
// `hx-vals`) form-encoded. Values stay strings; the API's schemas read them as they need.
htmx.defineExtension("json-enc", {
  onEvent(name, event) {
    if (name === "htmx:configRequest") {
      event.detail.headers["Content-Type"] = "application/json";
    }
  },
  encodeParameters(xhr, parameters) {
    xhr.overrideMimeType("text/json");
    const body = {};
    parameters.forEach((value, key) => {
      body[key] = value;
    });
    return JSON.stringify(body);
  },
});
