"""Pure domain: aggregates, their events, status machines and policies. No I/O."""
