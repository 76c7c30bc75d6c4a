"""Bearer-token protection for control endpoints (approve, reject, train, stop...)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

_bearer = HTTPBearer(auto_error=False)


def token_guard(token: SecretStr | None) -> Callable[..., None]:
    """A dependency that requires ``Authorization: Bearer <token>``.

    Without a configured token, control endpoints are refused (503) rather than left open.
    """

    def check(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> None:
        if token is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "control endpoints are disabled: set GRIDSTREAM_CONTROL_TOKEN",
            )
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode()
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid token")

    return check
