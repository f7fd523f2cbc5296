"""A schema the package has never seen, written only into a temporary folder by the tests
that show a developer's new schema reaching /metrics, the dashboard and Grafana unchanged."""

from __future__ import annotations

from pathlib import Path

LOGIN_SCHEMA = "login_attempts"
LOGIN_EVENT_TYPE = "login_attempt"

LOGIN_ATTEMPTS_YAML = """\
# Login attempts by method and outcome. Never by user: users are only counted (k distinct).
name: login_attempts
version: 1
description: >-
  Login attempts per authentication method and outcome, with a latency histogram and a
  count of attempts that needed a second factor, per minute.
source:
  type: login_attempt
  topic: {topic}
window:
  size: 60s
  grace: 5s
dimensions:
  method: {{type: enum, field: method, values: [password, sso, passkey, magic_link]}}
  outcome: {{type: enum, field: outcome, values: [success, bad_password, locked, mfa_failed]}}
measures:
  latency_ms:
    type: histogram
    field: latency_ms
    buckets: [10, 50, 100, 250, 500, 1000, 2500]
    min: 0
    max: 60000
  mfa_prompts: {{type: count_if, field: mfa_required, equals: true}}
privacy:
  subjects: [user.id]
  k: 5
"""


def write_login_schema(directory: Path, topic: str = "telemetry.raw.login_attempts") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{LOGIN_SCHEMA}.yaml"
    path.write_text(LOGIN_ATTEMPTS_YAML.format(topic=topic))
    return path
