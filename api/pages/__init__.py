"""The web dashboard: server-rendered pages over the read models, readable without JavaScript;
htmx (vendored, api/static/vendor) sends the few writes, through the JSON API."""
