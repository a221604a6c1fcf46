"""The login-state cookie: Starlette's SessionMiddleware (an itsdangerous-signed cookie), on the
login and callback routes alone, for what authlib keeps between them (state, nonce, PKCE
verifier), for ten minutes. JetDeck's own sessions live in NATS, never in this cookie.

Its key derives from the token secret every replica shares, so the callback may reach another
replica than the login did. That secret is known once the services are open, after the app is
built, so the middleware is made at the first login.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.services import Services

LOGIN_PATHS = ("/api/auth/login/", "/api/auth/callback/")
STATE_COOKIE = "jetdeck_login"
STATE_MAX_AGE_S = 600


def state_key(secret: bytes) -> str:
    """A key of its own, so no signature made for this cookie verifies anything else."""
    return hmac.new(secret, b"jetdeck login state", hashlib.sha256).hexdigest()


class LoginStateMiddleware:
    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure
        self.state: SessionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LOGIN_PATHS):
            await self.app(scope, receive, send)
            return
        await self._state(scope)(scope, receive, send)

    def _state(self, scope: Scope) -> SessionMiddleware:
        if self.state is None:
            services: Services = scope["app"].state.services
            self.state = SessionMiddleware(
                self.app,
                secret_key=state_key(services.signer.secret),
                session_cookie=STATE_COOKIE,
                max_age=STATE_MAX_AGE_S,
                path="/api/auth",
                same_site="lax",  # sent on the provider's top-level redirect back to us
                https_only=self.secure,
            )
        return self.state
