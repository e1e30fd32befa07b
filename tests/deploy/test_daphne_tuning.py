"""project/daphne_tuning.py changes how daphne's Twisted layer works, never what it answers."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from project import daphne_tuning

CONTENT_TYPES = [b"application/json", b"Application/JSON; charset=utf-8", b"application/x-www-form-urlencoded",
                 b"multipart/form-data; boundary=----x", b"text/plain", b"", b"garbage;;;=", b"\xff\xfe/\x00"]


def reference(line: bytes) -> bytes:
    """Twisted's own parse, written out: what the memoized function must keep answering."""
    message = EmailMessage()
    message["content-type"] = line.decode("charmap")
    return message.get_content_type().encode("charmap")


@pytest.mark.parametrize("line", CONTENT_TYPES)
def test_memoized_content_type_parse_answers_as_twisted_does(line):
    from twisted.web import http

    assert daphne_tuning.memoize_content_type_parsing()
    assert daphne_tuning.memoize_content_type_parsing()  # idempotent: wrapped once
    assert http._parseContentType(line) == reference(line)
    assert http._parseContentType(line) == reference(line)  # and from the cache
    assert http._parseContentType.cache_info().hits >= 1
    assert not hasattr(http._parseContentType.__wrapped__, "cache_info")


def test_twisted_request_log_is_skipped_on_daphnes_factory_only():
    from daphne.http_protocol import HTTPFactory
    from twisted.web import http

    assert daphne_tuning.skip_twisted_request_log()
    assert HTTPFactory.log is daphne_tuning._no_request_log
    assert http.HTTPFactory.log is not daphne_tuning._no_request_log  # Twisted's own class is untouched
