"""A worker that exits at once with 3: what a crash loop looks like to the supervisor."""

raise SystemExit(3)
