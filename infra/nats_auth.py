"""The embedded server's users: passwords made once into its data directory, and a server
config with their bcrypt hashes and permissions written at every start.

* `admin`, the layout credential: everything, so it alone creates, updates and deletes streams.
* `jetdeck`, the runtime credential (API and workers): appends, reads, consumers, KV and object
  store, but no stream reconfigured or deleted and no purge but the two its code needs.
* `agent`, for native clients, agents and services alike: requests on `jetdeck.queue.>` and
  `jetdeck.cmd.>`, replies on its own inbox prefix. The token in each request says who calls.

The permissions are data, so `docs/nats-server.example.conf` can be checked against them.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, NamedTuple

import bcrypt

from infra.layout import AUDIT, EVENTS, LEASES, QUEUE, SNAPSHOTS
from infra.settings import Login

ADMIN = "admin"
RUNTIME = "jetdeck"
AGENT = "agent"
AGENT_INBOX = "_INBOX_agent"
"""Agents connect with `inbox_prefix=AGENT_INBOX`: `_INBOX.>` holds other clients' replies."""
CONFIG_FILE = "nats-server.conf"

RUNTIME_PUBLISH = [
    "ev.>",
    "lease.>",
    "hb.>",
    "log.>",
    "jetdeck.>",
    "audit.>",
    "$KV.>",
    "$O.>",
    "$JS.ACK.>",
    "$JS.FC.>",
    "$JS.API.INFO",
    "$JS.API.STREAM.INFO.>",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.MSG.GET.>",
    "$JS.API.DIRECT.GET.>",
    "$JS.API.CONSUMER.>",
    f"$JS.API.STREAM.MSG.DELETE.{QUEUE}",  # the dead-letter handler removes a stale ticket
    f"$JS.API.STREAM.PURGE.{LEASES}",  # a lease ends
    f"$JS.API.STREAM.PURGE.OBJ_{SNAPSHOTS}",  # a snapshot's put purges the previous one's chunks
]
RUNTIME_DENY = [
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.DELETE.>",
    f"$JS.API.STREAM.PURGE.{EVENTS}",
    f"$JS.API.STREAM.PURGE.{AUDIT}",
]
"""Already outside the allow list; a deny wins over any allow, so these hold if it ever widens."""
RUNTIME_SUBSCRIBE = ["_INBOX.>", "ev.>", "jetdeck.>"]
"""`ev.>`: a waiting claim wakes on queued events."""
AGENT_PUBLISH = ["jetdeck.queue.>", "jetdeck.cmd.>"]
AGENT_SUBSCRIBE = [f"{AGENT_INBOX}.>"]
BCRYPT_ROUNDS = 4
"""The lowest cost: bcrypt's cost slows the guessing of human passwords, and 256 random bits cannot
be guessed at any cost, while the server pays it again on every connect."""


class Logins(NamedTuple):
    admin: Login
    runtime: Login
    agent: Login


def permissions(user: str) -> dict[str, Any] | None:
    """What `user` may do; None is everything."""
    if user == RUNTIME:
        return {
            "publish": {"allow": RUNTIME_PUBLISH, "deny": RUNTIME_DENY},
            "subscribe": {"allow": RUNTIME_SUBSCRIBE},
            "allow_responses": True,  # the gateway answers requests on the requester's inbox
        }
    if user == AGENT:
        return {"publish": {"allow": AGENT_PUBLISH}, "subscribe": {"allow": AGENT_SUBSCRIBE}}
    return None


def load_logins(directory: Path) -> Logins:
    """The passwords made at the first start in `directory`, made now if this is it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def login(user: str) -> Login:
        return Login(user, _password(directory / f"{user}.password"))

    return Logins(login(ADMIN), login(RUNTIME), login(AGENT))


def _password(path: Path) -> str:
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def write_server_config(directory: Path, logins: Logins) -> Path:
    """The users with bcrypt hashes; NATS config syntax is a superset of JSON."""
    users = [_user_entry(login) for login in logins]
    path = directory / CONFIG_FILE
    write_private(path, json.dumps({"authorization": {"users": users}}, indent=2))
    return path


def _user_entry(login: Login) -> dict[str, Any]:
    salt = bcrypt.gensalt(rounds=BCRYPT_ROUNDS)
    entry: dict[str, Any] = {
        "user": login.user,
        "password": bcrypt.hashpw(login.password.encode(), salt).decode(),
    }
    allowed = permissions(login.user)
    if allowed is not None:
        entry["permissions"] = allowed
    return entry


def write_private(path: Path, text: str) -> None:
    """Readable by the owner alone from its first byte, and never seen half written."""
    partial = path.with_name(f"{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)
