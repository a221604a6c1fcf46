"""HTTP: routes turn requests into commands and queries; errors map to statuses in one place."""
