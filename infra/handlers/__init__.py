"""One handler per command: `async (services, command, context) -> answer`, listed in the table
of `infra.dispatch`. Handlers check what only the command can tell (whose agent, whose lease,
which service); the edges check permissions before a command is built."""
