"""The one error hierarchy. Edges translate it: NATS to ours, ours to HTTP and to ack/nak/term.

* JetDeckError
  x DomainError                 a rule was broken by the command itself
    + InvalidTransitionError    409, names the current status
    + ValidationError           422
    + IdempotencyKeyReusedError 422, the key was used for another request
    + SecretShownError          409, a retried token issue: its secret was shown once
  x NotFoundError               404
  x ConcurrencyError            lost an append race after every retry: 409
  x BeyondLogError              a read waits for a sequence the log has not reached: 409
  x UnauthorizedError           401
  x ForbiddenError              403
  x InUseError                  a data directory or a port another process holds: JetDeck
                                does not start
  x UnavailableError            503, the event store or a read model cannot answer now
    + OutcomeUnknownError       a write not confirmed in time: retry with its Idempotency-Key
    + UndecodableEventError     the log holds a message that is not a JetDeck event: quarantined
      + ForgedEventError        its MAC does not hold: not written by a JetDeck process
"""

from __future__ import annotations


class JetDeckError(Exception):
    """Root of every error JetDeck raises on purpose."""


class DomainError(JetDeckError):
    """A command broke a rule of the domain."""


class InvalidTransitionError(DomainError):
    def __init__(self, kind: str, aggregate_id: str, status: str, action: str) -> None:
        super().__init__(f"cannot {action} {kind} {aggregate_id} in status {status}")
        self.kind = kind
        self.aggregate_id = aggregate_id
        self.status = status
        self.action = action


class ValidationError(DomainError):
    """A command's values are wrong in a way its schema could not say."""


class IdempotencyKeyReusedError(DomainError):
    def __init__(self, key: str, first_action: str, action: str) -> None:
        used = f"to {first_action}, not to {action}"
        if first_action == action:
            used = f"to {action} with another request (a different body)"
        super().__init__(f"Idempotency-Key {key!r} was first used {used}")


class SecretShownError(DomainError):
    """A retry of a token issue that already landed: the secret was shown once and is kept
    nowhere, so the retry cannot answer it again."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"token {name!r} was issued by this request already and its secret shown once; "
            "if it was lost, revoke the token and issue another"
        )


class NotFoundError(JetDeckError):
    def __init__(self, kind: str, aggregate_id: str) -> None:
        super().__init__(f"{kind} {aggregate_id} not found")
        self.kind = kind
        self.aggregate_id = aggregate_id


class ExpiredError(JetDeckError):
    """It was there, and retention removed it (a job's log after `log_retention_days`)."""


class ConcurrencyError(JetDeckError):
    def __init__(self, kind: str, aggregate_id: str, status: str | None = None) -> None:
        super().__init__(f"{kind} {aggregate_id} changed concurrently; try again")
        self.kind = kind
        self.aggregate_id = aggregate_id
        self.status = status


class BeyondLogError(JetDeckError):
    """A read asked to wait for a stream sequence that no event holds yet."""

    def __init__(self, seq: int, last_seq: int) -> None:
        super().__init__(f"sequence {seq} is beyond the log, which ends at {last_seq}")
        self.seq = seq
        self.last_seq = last_seq


class InUseError(JetDeckError):
    """What this JetDeck needs alone is held by another process, which the message names."""


class UnauthorizedError(JetDeckError):
    """No credentials, or credentials that prove nothing."""


class ForbiddenError(JetDeckError):
    """Valid credentials that do not allow this action."""


class UnavailableError(JetDeckError):
    """The event store or a read model cannot answer in time."""


class OutcomeUnknownError(UnavailableError):
    """The event store did not confirm a write in time: it may have landed or not. A retry under
    the same Idempotency-Key is safe: it answers the first result if there was one."""

    def __init__(self, idempotency_key: str | None = None) -> None:
        key = "the same key" if idempotency_key is None else repr(idempotency_key)
        super().__init__(
            "the outcome of this write is unknown: the event store did not confirm it in time. "
            f"Retry with Idempotency-Key {key}: the retry answers with the first result if the "
            "write landed, and never writes twice"
        )
        self.idempotency_key = idempotency_key


class UndecodableEventError(UnavailableError):
    """A message on the event subjects that is not a JetDeck event; loaders and read models
    quarantine it (skip and report) and go on from the last good event."""


class ForgedEventError(UndecodableEventError):
    """An event whose MAC does not hold: someone without the writer key published it."""
