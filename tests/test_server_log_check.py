"""The clean-log check of the end-to-end tests (tests.support.daphne) recognises what it must."""

from __future__ import annotations

from tests.support.daphne import log_problems

LOG = """\
2026-12-03 13:22:34,001 INFO daphne.server: Listening on TCP address 127.0.0.1:41689
127.0.0.1:50412 - - [03/Dec/2026:13:22:35] "POST /token" 200 523
127.0.0.1:50414 - - [03/Dec/2026:13:22:35] "POST /token" 400 27
127.0.0.1:50416 - - [03/Dec/2026:13:22:35] "GET /.well-known/log-sync-1" 404 179
2026-12-03 13:22:36,100 ERROR django.request: Internal Server Error: /register
Traceback (most recent call last):
  File "/x/django/db/backends/utils.py", line 105, in _execute
    return self.cursor.execute(sql, params)
sqlite3.IntegrityError: NOT NULL constraint failed: oauth_app_client.name

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/x/django/core/handlers/exception.py", line 55, in inner
django.db.utils.IntegrityError: NOT NULL constraint failed: oauth_app_client.name
127.0.0.1:50418 - - [03/Dec/2026:13:22:36] "POST /register" 500 145
2026-12-03 13:22:37,000 WARNING django.request: Bad Request: /token
"""


def test_finds_each_traceback_with_its_record_and_each_5xx_line():
    """Issue 8 §5: one problem per traceback (chained causes included) and one per 5xx access line; 4xx is fine."""
    problems = log_problems(LOG)
    assert len(problems) == 2
    traceback, access = problems
    assert traceback.startswith("2026-12-03 13:22:36,100 ERROR django.request: Internal Server Error: /register")
    assert traceback.rstrip().endswith("django.db.utils.IntegrityError: NOT NULL constraint failed: oauth_app_client.name")
    assert access == '127.0.0.1:50418 - - [03/Dec/2026:13:22:36] "POST /register" 500 145'


def test_a_clean_log_has_no_problems():
    assert log_problems("\n".join(line for line in LOG.splitlines() if " 500 " not in line and "Error" not in line
                                  and not line.startswith((" ", "Traceback", "The above", "sqlite3")))) == []
