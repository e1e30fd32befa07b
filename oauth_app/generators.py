"""Client identifier generation (RFC 7591 §3.2.1: the server assigns ``client_id``)."""

from __future__ import annotations

import secrets

from oauth2_provider.generators import BaseHashGenerator


class ClientIdGenerator(BaseHashGenerator):
    """``client_`` followed by 22 URL-safe characters (128 bits of randomness)."""

    def hash(self) -> str:
        return "client_" + secrets.token_urlsafe(16)
