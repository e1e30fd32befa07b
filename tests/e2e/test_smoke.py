"""A real daphne process serves the discovery documents (AUTH-20, AUTH-22)."""

import httpx


def test_daphne_serves_metadata(daphne_server):
    """AUTH-22: the issuer in the document served by daphne is PUBLIC_URL, byte for byte."""
    response = httpx.get(daphne_server.url + "/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.json()["issuer"] == daphne_server.url


def test_daphne_still_parses_forms_and_writes_its_access_log(daphne_server):
    """project/daphne_tuning.py: with Twisted's Content-Type parse memoized and its duplicate request log
    off, a form POST still reaches Django as a form (OAUTH-28: RFC 6749 error JSON), and daphne's own
    access log still has a line per request (the clean-log check reads 5xx lines from it)."""
    offset = daphne_server.log_size()
    for content_type in ("application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; charset=UTF-8"):
        response = httpx.post(daphne_server.url + "/token", content=b"grant_type=client_credentials&client_id=nobody",
                              headers={"Content-Type": content_type})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
    response = httpx.post(daphne_server.url + "/token", content=b'{"grant_type": "client_credentials"}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}
    access_lines = [line for line in daphne_server.log_since(offset).splitlines() if '"POST /token"' in line]
    assert [line.split('"')[2].split()[0] for line in access_lines] == ["401", "401", "400"]
