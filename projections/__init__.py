"""Read models: deterministic reducers over recorded events, so a replay gives the same answers."""
