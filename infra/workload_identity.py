"""Workload identity federation: a CI job's OIDC token becomes a short-lived agent registration.

The checks are PyPI's for trusted publishers (warehouse `oidc/services.py`): a size cap before
parsing, pinned algorithms, a key id, `exp`/`iat`/`nbf` with a small leeway, exactly one audience,
an issuer some policy names (checked before any request goes out), the policy's claims, and a
`jti` seen never before, recorded in NATS so every API replica refuses a replay.

Every refusal answers with the same message; the reason goes to the log.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any, NamedTuple

import jwt
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict

from domain.errors import UnauthorizedError
from domain.trust import admitting, unmet_claim
from infra.authn import INVALID_CREDENTIALS
from infra.jwks import ALGORITHMS, JwksCache
from infra.nats_errors import unavailable_on_failure
from infra.projection_runner import ProjectionRunner
from infra.read_models import ReadModels
from infra.settings import WorkloadIdentitySettings
from infra.tokens import Signer
from projections.trust import TrustPolicyView

REGISTRATION_PREFIX = "jdreg_"
MAX_TOKEN_BYTES = 8192
TIMES = ("exp", "iat", "nbf")
REQUIRED_CLAIMS = ["iss", "aud", *TIMES, "jti"]
JTI_MARGIN_S = 5
"""Kept a little past the token's last valid instant, as warehouse does."""
log = logging.getLogger(__name__)


class RegistrationGrant(BaseModel):
    """What `jdreg_` tokens carry: registration in one pool, under one version of a policy."""

    model_config = ConfigDict(frozen=True)

    pool: str
    policy_id: str
    seq: int
    """The policy's last event when the grant was made; any later change voids the grant."""
    expires_at: float
    exchanged: str
    """Which exchange made it (a hash of the OIDC token's issuer and id): registrations under
    one grant share their idempotency keys with nobody else, and the log says who vouched."""

    @property
    def registrar(self) -> str:
        return f"trust-policy:{self.policy_id}:{self.exchanged}"


class Grant(NamedTuple):
    token: str
    expires_in: int


class WorkloadIdentity:
    def __init__(
        self,
        views: ReadModels,
        runner: ProjectionRunner,
        keys: JwksCache,
        jtis: KeyValue,
        signer: Signer,
        settings: WorkloadIdentitySettings,
        read_wait_s: float,
    ) -> None:
        self.views = views
        self.runner = runner
        self.keys = keys
        self.jtis = jtis
        self.signer = signer
        self.settings = settings
        self.read_wait_s = read_wait_s

    async def exchange(self, subject_token: str) -> Grant:
        """A registration for the pool of the policy that admits the token, or a 401."""
        try:
            policy, claims = await self._verify(subject_token)
            await self._first_use(claims)
        except UnauthorizedError as exc:
            log.info("workload token refused: %s", exc)
            raise UnauthorizedError(INVALID_CREDENTIALS) from None
        log.info("workload token admitted by trust policy %s", policy.policy_id)
        return self._grant(policy, claims)

    async def registration_grant(self, secret: str) -> RegistrationGrant:
        """What a `jdreg_` token allows: registering agents in one pool."""
        try:
            return await self._checked(secret.removeprefix(REGISTRATION_PREFIX))
        except UnauthorizedError as exc:
            log.debug("registration refused: %s", exc)
            raise UnauthorizedError(INVALID_CREDENTIALS) from None

    async def _verify(self, token: str) -> tuple[TrustPolicyView, dict[str, Any]]:
        if len(token.encode()) > MAX_TOKEN_BYTES:
            raise UnauthorizedError(f"token longer than {MAX_TOKEN_BYTES} bytes")
        kid = _key_id(token)
        issuer, audience = _addressing(token)
        candidates = self.views.trust.selecting(issuer, audience)
        if not candidates:  # before any request: never fetch from an issuer no policy names
            raise UnauthorizedError(f"no trust policy for issuer {issuer!r}, audience {audience!r}")
        key = await self.keys.key(issuer, kid)
        claims = self._decode(token, key, issuer, audience)
        policy = admitting(candidates, claims)
        if policy is None:
            unmet = {p.name: unmet_claim(p, claims) for p in candidates}
            raise UnauthorizedError(f"no trust policy admits the token's claims: {unmet}")
        return policy, claims

    def _decode(self, token: str, key: jwt.PyJWK, issuer: str, audience: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                issuer=issuer,
                audience=audience,
                leeway=self.settings.leeway_s,
                options={
                    "require": REQUIRED_CLAIMS,
                    "strict_aud": True,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"token does not verify: {exc!r}") from exc
        # PyJWT takes any time int() takes, "1700000000" too; RFC 7519 says numbers.
        if any(type(claims[name]) not in (int, float) for name in TIMES):
            raise UnauthorizedError("token times are not numbers")
        return claims

    async def _first_use(self, claims: dict[str, Any]) -> None:
        """Record the token's id until it expires; a second use finds it (atomically, across
        replicas: the server refuses a create of a key that exists)."""
        key = _token_key(claims)
        lives_s = math.ceil(claims["exp"] + self.settings.leeway_s - time.time()) + JTI_MARGIN_S
        with unavailable_on_failure("recording the token id"):
            try:
                await self.jtis.create(key, b"", msg_ttl=max(1, lives_s))
            except KeyWrongLastSequenceError:
                raise UnauthorizedError("token replayed") from None

    def _grant(self, policy: TrustPolicyView, claims: dict[str, Any]) -> Grant:
        ttl = self.settings.registration_ttl_s
        grant = RegistrationGrant(
            pool=policy.pool,
            policy_id=policy.policy_id,
            seq=policy.last_seq,
            expires_at=time.time() + ttl,
            exchanged=_token_key(claims)[:16],
        )
        return Grant(REGISTRATION_PREFIX + self.signer.sign(grant), ttl)

    async def _checked(self, secret: str) -> RegistrationGrant:
        grant = self.signer.verify(secret, RegistrationGrant)
        if grant.expires_at <= time.time():
            raise UnauthorizedError(f"registration of policy {grant.policy_id} expired")
        await self.runner.wait_for(grant.seq, self.read_wait_s)  # it may come from a replica ahead
        policy = self.views.trust.get(grant.policy_id)
        if policy is None or policy.last_seq != grant.seq:
            raise UnauthorizedError(f"policy {grant.policy_id} changed or was deleted")
        return grant


def _token_key(claims: dict[str, Any]) -> str:
    return hashlib.sha256(f"{claims['iss']}\n{claims['jti']}".encode()).hexdigest()


def _key_id(token: str) -> str:
    """The header must name a pinned algorithm and a key: never `none`, never HMAC."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(f"token header unreadable: {exc!r}") from exc
    if header.get("alg") not in ALGORITHMS:
        raise UnauthorizedError(f"algorithm {header.get('alg')!r} not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnauthorizedError("token names no key id")
    return kid


def _addressing(token: str) -> tuple[str, str]:
    """Issuer and audience as the token states them, unverified: they choose the policies,
    and with them the issuer whose keys will verify it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(f"token claims unreadable: {exc!r}") from exc
    issuer, audience = claims.get("iss"), claims.get("aud")
    if not isinstance(issuer, str) or not isinstance(audience, str):
        raise UnauthorizedError("token needs one issuer and exactly one audience")
    return issuer, audience
