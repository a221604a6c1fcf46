"""Commands as objects: one small class per command, naming its action and carrying its inputs.

The HTTP routes and the NATS gateway only build commands and send them, with the context they
came in, to `infra.dispatch.handle`, whose one table names each command's handler.
"""
