"""A real daphne process serves the discovery documents (AUTH-20, AUTH-22)."""

import httpx


def test_daphne_serves_metadata(daphne_server):
    """AUTH-22: the issuer in the document served by daphne is PUBLIC_URL, byte for byte."""
    response = httpx.get(daphne_server.url + "/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.json()["issuer"] == daphne_server.url
