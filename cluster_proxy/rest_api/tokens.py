"""Password hashes and signed tokens of the REST API's local authentication.

Password hashes are scrypt, in a self-describing string
``scrypt.<n>.<r>.<p>.<salt>.<hash>`` (salt and hash unpadded URL-safe base64),
so the cost can be raised later without breaking stored hashes. The fields are
dot separated, not ``$`` separated as in crypt(3): oslo.config reads ``$name``
in a configuration value as a reference to another option.

Tokens are ``v1.<payload>.<mac>``: the payload (user, tenant, role, expiry) in
URL-safe base64 JSON and its HMAC-SHA256 under the cluster's secret. They are
stateless on purpose: any node holding the secret checks them with no shared
store and no table to bound or expire, which is all MidoNet's session cookies
needed. The alphabet (``A-Za-z0-9_-.``) is safe in a header and in a cookie.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

SCHEME = "scrypt"
DEFAULT_N, DEFAULT_R, DEFAULT_P = 2 ** 14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
# Bounds on a configured hash's cost, so a typo cannot make every login of a
# user take minutes or gigabytes.
MAX_N, MAX_R, MAX_P = 2 ** 20, 32, 16
MAX_MEMORY = 256 * 1024 * 1024

TOKEN_VERSION = "v1"
MAX_TOKEN_LENGTH = 4096  # far more than a real token: refuse before decoding
ROLES = ("admin", "tenant")


class HashFormatError(ValueError):
    """A stored password hash that is not ``scrypt.n.r.p.salt.hash``."""


class TokenError(ValueError):
    """A token that does not authenticate; the message says why."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        raise ValueError("not unpadded URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclasses.dataclass(frozen=True)
class PasswordHash:
    """A parsed password hash: verifying needs no re-parsing at each login."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        parts = text.split(".")
        if len(parts) != 6 or parts[0] != SCHEME:
            raise HashFormatError(
                f"expected {SCHEME}.<n>.<r>.<p>.<salt>.<hash> "
                "(from `python -m cluster_proxy.rest_api.auth hash-password`)")
        try:
            n, r, p = (int(x) for x in parts[1:4])
        except ValueError:
            raise HashFormatError("scrypt n, r and p must be integers") from None
        if n < 2 or n > MAX_N or n & (n - 1):
            raise HashFormatError(f"scrypt n must be a power of 2 from 2 to {MAX_N}")
        if not 1 <= r <= MAX_R or not 1 <= p <= MAX_P:
            raise HashFormatError(f"scrypt r must be 1..{MAX_R} and p 1..{MAX_P}")
        if _scrypt_memory(n, r, p) > MAX_MEMORY:
            raise HashFormatError("scrypt n * r needs more than 256 MiB")
        try:
            salt, digest = _b64decode(parts[4]), _b64decode(parts[5])
        except (ValueError, binascii.Error):
            raise HashFormatError("salt and hash must be URL-safe base64") from None
        if len(salt) < 8 or len(digest) < 16:
            raise HashFormatError("salt or hash too short (8 and 16 bytes at least)")
        return cls(n, r, p, salt, digest)

    def verify(self, password: str) -> bool:
        computed = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(computed, self.digest)

    def __str__(self) -> str:
        return ".".join([SCHEME, str(self.n), str(self.r), str(self.p),
                         _b64encode(self.salt), _b64encode(self.digest)])


def _scrypt_memory(n: int, r: int, p: int) -> int:
    return 128 * r * (n + p + 2)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          dklen=dklen, maxmem=_scrypt_memory(n, r, p) + 1024 * 1024)


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R,
                  p: int = DEFAULT_P) -> str:
    """The stored form of ``password``, with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    ph = PasswordHash(n, r, p, salt, _scrypt(password, salt, n, r, p, HASH_BYTES))
    return str(PasswordHash.parse(str(ph)))  # the same checks a configured hash gets


@dataclasses.dataclass(frozen=True)
class TokenClaims:
    """What a token asserts; ``tenant_id`` None only for an admin."""

    user: str
    tenant_id: str | None
    role: str
    expires: int  # seconds since the epoch


class TokenSigner:
    """Issues and checks tokens under one secret, against an injected clock."""

    def __init__(self, secret: bytes, now: Callable[[], float]) -> None:
        self._key = hashlib.sha256(b"midonet-api token " + secret).digest()
        self._now = now

    def _mac(self, signed: bytes) -> str:
        return _b64encode(hmac.new(self._key, signed, hashlib.sha256).digest())

    def issue(self, user: str, tenant_id: str | None, role: str,
              lifetime: int) -> tuple[str, TokenClaims]:
        claims = TokenClaims(user, tenant_id, role, int(self._now()) + lifetime)
        body = {"u": claims.user, "t": claims.tenant_id, "r": claims.role,
                "e": claims.expires}
        payload = _b64encode(json.dumps(body, sort_keys=True,
                                        separators=(",", ":")).encode())
        signed = f"{TOKEN_VERSION}.{payload}"
        return f"{signed}.{self._mac(signed.encode())}", claims

    def verify(self, token: str) -> TokenClaims:
        """The claims of a genuine, unexpired ``token``; else :class:`TokenError`."""
        parts = token.split(".")
        if (len(token) > MAX_TOKEN_LENGTH or not token.isascii() or len(parts) != 3
                or parts[0] != TOKEN_VERSION):
            raise TokenError("malformed token: not one issued by POST /login")
        signed = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(signed.encode()), parts[2]):
            raise TokenError("invalid token signature: forged, altered, or signed "
                             "with another secret (another node's, or before a restart)")
        claims = _decode_claims(parts[1])
        if self._now() >= claims.expires:
            raise TokenError("token expired: log in again")
        return claims


def _decode_claims(payload: str) -> TokenClaims:
    """The claims of a payload whose signature is already checked: malformed
    here means a signer bug or a reused secret, still answered as 401."""
    try:
        body: Any = json.loads(_b64decode(payload))
        user, tenant, role, expires = body["u"], body["t"], body["r"], body["e"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise TokenError("malformed token payload") from None
    if (not isinstance(user, str) or not (tenant is None or isinstance(tenant, str))
            or role not in ROLES or not isinstance(expires, int)):
        raise TokenError("malformed token payload")
    return TokenClaims(user, tenant, role, expires)
