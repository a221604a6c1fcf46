"""Live dashboard pages: one Server-Sent Events stream per tab carries every panel of its page,
each message a batch of elements replacing their namesakes by id (docs/architecture.md, Live
pages)."""
