"""The sidecar's parts that need no broker: settings, error translation, commit metadata,
readiness, the health server, the schema reloader and the batch loop's window hold."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka import errors as kerr

from deidentify import cli
from deidentify.errors import (
    AuthenticationFailed,
    BrokerUnavailable,
    ProducerFenced,
    RuntimeFailure,
    SettingsError,
)
from deidentify.metrics import sidecar_metrics
from deidentify.runtime.kafka_errors import translate
from deidentify.runtime.security import Secret
from deidentify.runtime.settings import parse_duration_ms
from deidentify.schema import load_schemas
from deidentify.sidecar import kafka
from deidentify.sidecar.failpoints import Failpoint
from deidentify.sidecar.health import HealthServer, HealthState
from deidentify.sidecar.kafka import client_options
from deidentify.sidecar.loop import BatchLoop
from deidentify.sidecar.offsets import (
    check_metadata_fits,
    commit_metadata,
    parse_commit_metadata,
)
from deidentify.sidecar.reload import SchemaReloader
from deidentify.sidecar.settings import load_settings
from tests.sidecar.sidecar_support import SHIPPED_SCHEMAS, T0, http_event

RUN_FLAGS = ("region", "bootstrap", "schemas", "group", "central_topic", "port", "topic_prefix",
             "idle", "commit_interval", "security_protocol", "sasl_mechanism", "sasl_username",
             "sasl_password_file", "ssl_cafile", "k_floor", "max_future")


def _k_line(schema_file: Path) -> int:
    """The line of ``k:`` in a shipped schema (error messages point at it)."""
    lines = schema_file.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith("k:"))


K_LINE = _k_line(SHIPPED_SCHEMAS / "http_requests.yaml")


def args(**flags) -> argparse.Namespace:
    values = {name: None for name in RUN_FLAGS}
    values.update(flags)
    return argparse.Namespace(**values)


# --------------------------------------------------------------------------- settings


def test_defaults_and_derived_ids():
    s = load_settings(args(region="eu"), env={})
    assert s.bootstrap == "127.0.0.1:9092"
    assert s.group_id == "deidentify-eu"
    assert s.central_topic == "telemetry.central.aggregates"
    assert s.port == 8080 and s.idle_ms == 30_000 and s.commit_interval_ms == 1000
    assert s.topic_prefix == "" and s.raw_topic("telemetry.raw.x") == "telemetry.raw.x"
    assert s.instance_id == "deidentify-eu" and s.transactional_id == "deidentify-eu.txn"
    assert s.security.protocol == "PLAINTEXT"
    assert s.schemas_dir.is_dir() and s.host == "127.0.0.1"     # loopback by default
    assert load_settings(args(region="eu"), env={"DEIDENTIFY_BIND": "::1"}).host == "::1"
    assert s.k_floor == 5 and s.max_future_ms == 300_000


def test_every_flag_also_comes_from_the_environment():
    env = {"DEIDENTIFY_REGION": "us-east", "KAFKA_BOOTSTRAP": "k1:9092,k2:9093",
           "DEIDENTIFY_SCHEMAS": str(SHIPPED_SCHEMAS), "DEIDENTIFY_GROUP": "g1",
           "DEIDENTIFY_CENTRAL_TOPIC": "central.x", "DEIDENTIFY_PORT": "9100",
           "DEIDENTIFY_TOPIC_PREFIX": "us.", "DEIDENTIFY_IDLE": "2s",
           "DEIDENTIFY_COMMIT_INTERVAL": "250ms", "DEIDENTIFY_K_FLOOR": "7",
           "DEIDENTIFY_MAX_FUTURE": "90s"}
    s = load_settings(args(), env=env)
    assert (s.k_floor, s.max_future_ms) == (7, 90_000)
    assert (s.region, s.bootstrap, s.group_id, s.central_topic, s.port, s.topic_prefix,
            s.idle_ms, s.commit_interval_ms) == ("us-east", "k1:9092,k2:9093", "g1",
                                                 "central.x", 9100, "us.", 2000, 250)
    assert s.raw_topic("telemetry.raw.http_requests") == "us.telemetry.raw.http_requests"


def test_flags_win_over_the_environment():
    s = load_settings(args(region="eu", idle="5s", port=1234),
                      env={"DEIDENTIFY_REGION": "us", "DEIDENTIFY_IDLE": "9s",
                           "DEIDENTIFY_PORT": "4321"})
    assert (s.region, s.idle_ms, s.port) == ("eu", 5000, 1234)


@pytest.mark.parametrize("flags,env,needle", [
    ({}, {}, "--region (env DEIDENTIFY_REGION) is required"),
    ({"region": "EU!"}, {}, "--region (env DEIDENTIFY_REGION): 'EU!' must match"),
    ({"region": "eu", "bootstrap": "nohostport"}, {},
     "--bootstrap (env KAFKA_BOOTSTRAP): 'nohostport' is not HOST:PORT"),
    ({"region": "eu"}, {"KAFKA_BOOTSTRAP": "h:99999"}, "'h:99999' is not HOST:PORT"),
    ({"region": "eu", "port": 70000}, {}, "--port (env DEIDENTIFY_PORT): 70000"),
    ({"region": "eu"}, {"DEIDENTIFY_PORT": "http"}, "'http' is not a port number"),
    ({"region": "eu", "idle": "soon"}, {}, "--idle (env DEIDENTIFY_IDLE): 'soon' is not a"),
    ({"region": "eu", "idle": "10ms"}, {}, "--idle (env DEIDENTIFY_IDLE): must be at least"),
    ({"region": "eu", "commit_interval": "2m"}, {},
     "--commit-interval (env DEIDENTIFY_COMMIT_INTERVAL): must be between"),
    ({"region": "eu", "group": "a group"}, {}, "--group (env DEIDENTIFY_GROUP): 'a group'"),
    ({"region": "eu", "central_topic": "a/b"}, {}, "--central-topic"),
    ({"region": "eu", "topic_prefix": "eu/"}, {}, "--topic-prefix"),
    ({"region": "eu", "schemas": "/no/such/dir"}, {}, "--schemas (env DEIDENTIFY_SCHEMAS)"),
    ({"region": "eu"}, {"DEIDENTIFY_LOG_LEVEL": "LOUD"}, "DEIDENTIFY_LOG_LEVEL: 'LOUD'"),
    ({"region": "eu", "k_floor": 4}, {}, "--k-floor (env DEIDENTIFY_K_FLOOR): 4 is not between "
     "5 and 1000 (the floor can only be raised"),
    ({"region": "eu"}, {"DEIDENTIFY_K_FLOOR": "1"}, "DEIDENTIFY_K_FLOOR): 1 is not between"),
    ({"region": "eu"}, {"DEIDENTIFY_K_FLOOR": "five"}, "'five' is not a whole number"),
    ({"region": "eu", "max_future": "1ms"}, {},
     "--max-future (env DEIDENTIFY_MAX_FUTURE): must be between 1s and 24h"),
    ({"region": "eu"}, {"DEIDENTIFY_MAX_FUTURE": "later"}, "'later' is not a duration"),
    ({"region": "eu"}, {"DEIDENTIFY_BIND": "a b"}, "--bind (env DEIDENTIFY_BIND): 'a b'"),
    ({"region": "eu"}, {"DEIDENTIFY_BIND": "0.0.0.0"},
     "refusing to listen on 0.0.0.0 without authentication"),
    ({"region": "eu", "security_protocol": "TLS"}, {},
     "--security-protocol (env KAFKA_SECURITY_PROTOCOL): 'TLS' is not one of"),
    ({"region": "eu", "security_protocol": "SASL_SSL"}, {},
     "SASL_SSL needs a user name: set --sasl-username (env KAFKA_SASL_USERNAME)"),
    ({"region": "eu", "security_protocol": "SASL_SSL", "sasl_username": "u"}, {},
     "SASL_SSL needs a password: set KAFKA_SASL_PASSWORD or --sasl-password-file"),
    ({"region": "eu", "security_protocol": "SASL_SSL", "sasl_username": "u",
      "sasl_mechanism": "GSSAPI"}, {"KAFKA_SASL_PASSWORD": "x"},
     "--sasl-mechanism (env KAFKA_SASL_MECHANISM): 'GSSAPI'"),
    ({"region": "eu", "sasl_mechanism": "PLAIN"}, {},
     "a SASL setting is given but --security-protocol (env KAFKA_SECURITY_PROTOCOL) is "
     "PLAINTEXT"),
    ({"region": "eu", "ssl_cafile": "/etc/hostname"}, {}, "--ssl-cafile (env KAFKA_SSL_CAFILE) "
     "is set but"),
    ({"region": "eu", "security_protocol": "SSL", "ssl_cafile": "/no/ca.pem"}, {},
     "/no/ca.pem: no such file"),
    ({"region": "eu", "security_protocol": "SASL_SSL", "sasl_username": "u",
      "sasl_password_file": "/no/pw"}, {},
     "--sasl-password-file (env KAFKA_SASL_PASSWORD_FILE): cannot read /no/pw"),
])
def test_unusable_settings_name_the_flag_and_the_variable(flags, env, needle):
    with pytest.raises(SettingsError) as info:
        load_settings(args(**flags), env=env)
    assert needle in str(info.value)


def test_secrets_come_from_a_file_or_the_environment_and_never_show(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cr3t-file-pw\n")
    s = load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="deid",
                           sasl_password_file=str(pw)), env={})
    assert s.security.sasl_password.reveal() == "s3cr3t-file-pw"
    assert s.security.sasl_mechanism == "SCRAM-SHA-512"
    s2 = load_settings(args(region="eu"), env={"KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                                "KAFKA_SASL_USERNAME": "deid",
                                                "KAFKA_SASL_MECHANISM": "PLAIN",
                                                "KAFKA_SASL_PASSWORD": "s3cr3t-env-pw"})
    assert s2.security.sasl_password.reveal() == "s3cr3t-env-pw"
    for text in (repr(s), str(s), s.describe(), repr(s.security), repr(s2), s2.describe()):
        assert "s3cr3t" not in text
    assert repr(Secret("x")) == "Secret('***')" and str(Secret("x")) == "Secret('***')"
    with pytest.raises(SettingsError, match="keep one"):
        load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="deid",
                           sasl_password_file=str(pw)), env={"KAFKA_SASL_PASSWORD": "x"})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SettingsError, match="is empty"):
        load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="deid",
                           sasl_password_file=str(tmp_path / "empty")), env={})


def test_sasl_variables_without_a_sasl_protocol_are_not_used():
    # scripts/kafka.sh reads the same KAFKA_SASL_* variables for the local broker
    s = load_settings(args(region="eu"), env={"KAFKA_SASL_USERNAME": "deid",
                                               "KAFKA_SASL_PASSWORD": "pw"})
    assert s.security.protocol == "PLAINTEXT" and s.security.sasl_password is None


def test_client_options_carry_tls_and_sasl(tmp_path):
    ca = Path(__file__).resolve().parents[2] / ".kafka" / "tls" / "ca.pem"
    if not ca.is_file():
        pytest.skip("no local CA file (the broker script makes it)")
    s = load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="deid",
                           sasl_mechanism="SCRAM-SHA-256", ssl_cafile=str(ca)),
                      env={"KAFKA_SASL_PASSWORD": "pw"})
    opts = client_options(s)
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-256" and opts["sasl_plain_username"] == "deid"
    assert opts["sasl_plain_password"] == "pw"
    assert isinstance(opts["ssl_context"], ssl.SSLContext)
    assert opts["ssl_context"].check_hostname


def test_durations():
    assert parse_duration_ms("500ms", what="x") == 500
    assert parse_duration_ms("2s", what="x") == 2000
    assert parse_duration_ms("1m", what="x") == 60_000
    assert parse_duration_ms("3", what="x") == 3000
    with pytest.raises(SettingsError, match="x: '2 days' is not a duration"):
        parse_duration_ms("2 days", what="x")


def test_cli_run_exits_2_on_bad_settings(capsys, monkeypatch):
    monkeypatch.delenv("DEIDENTIFY_REGION", raising=False)
    assert cli.main(["run"]) == 2
    assert "--region (env DEIDENTIFY_REGION) is required" in capsys.readouterr().err
    assert cli.main(["run", "--region", "eu", "--idle", "never"]) == 2
    assert "--idle (env DEIDENTIFY_IDLE)" in capsys.readouterr().err


def test_cli_run_exits_2_on_an_invalid_schema(tmp_path, capsys):
    shutil.copytree(SHIPPED_SCHEMAS, tmp_path / "s")
    bad = tmp_path / "s" / "http_requests.yaml"
    bad.write_text(bad.read_text().replace("k: 5", "k: 0"))
    assert cli.main(["run", "--region", "eu", "--schemas", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{K_LINE}: privacy 'k' is out of range" in err


def test_cli_run_refuses_schemas_below_the_k_floor(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEIDENTIFY_K_FLOOR", raising=False)
    shutil.copytree(SHIPPED_SCHEMAS, tmp_path / "s")
    low = tmp_path / "s" / "webhook_deliveries.yaml"
    low.write_text(low.read_text().replace("k: 5", "k: 4"))
    assert cli.main(["run", "--region", "eu", "--schemas", str(tmp_path / "s")]) == 2
    assert (f"{low}:{_k_line(low)}: privacy 'k' is 4, below this deployment's k floor of 5 (fix: write "
            "k: 5 or more") in capsys.readouterr().err
    assert cli.main(["run", "--region", "eu", "--k-floor", "4"]) == 2    # never lowered
    assert "--k-floor (env DEIDENTIFY_K_FLOOR): 4 is not between 5 and 1000" \
        in capsys.readouterr().err


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("exc,expected,needle", [
    (kerr.ProducerFenced(), ProducerFenced, "only one sidecar instance"),
    (kerr.InvalidProducerEpoch(), ProducerFenced, "InvalidProducerEpoch"),
    (kerr.SaslAuthenticationFailed("bad creds for user deid"), AuthenticationFailed,
     "refused the SASL credentials"),
    (kerr.TopicAuthorizationFailedError(), AuthenticationFailed, "not authorized"),
    (kerr.KafkaConnectionError("Unable to bootstrap"), BrokerUnavailable, "no broker answered"),
    (kerr.KafkaTimeoutError(), BrokerUnavailable, "no broker answered"),
    (ConnectionRefusedError(111, "refused"), BrokerUnavailable, "no broker answered"),
    (kerr.NotLeaderForPartitionError(), BrokerUnavailable, "retriable"),
    (kerr.IllegalStateError("x"), RuntimeFailure, "IllegalStateError"),
])
def test_aiokafka_errors_are_translated(exc, expected, needle):
    out = translate(exc, "doing something")
    assert type(out) is expected
    assert str(out).startswith("doing something: ") and needle in str(out)
    # the broker's own message text is not repeated (it may name users or topics)
    assert "bad creds" not in str(out)


def test_retriable_flags():
    assert BrokerUnavailable.retriable and not AuthenticationFailed.retriable
    assert not ProducerFenced.retriable


# --------------------------------------------------------------------------- metadata


def test_commit_metadata_round_trip_and_foreign_metadata():
    text = commit_metadata({"http_requests": T0 + 60_000, "billing_totals": T0})
    assert parse_commit_metadata(text) == {"http_requests": T0 + 60_000, "billing_totals": T0}
    assert json.loads(text)["v"] == 1
    for foreign in (None, "", "not json", "[1]", '{"closed_through": 5}',
                    '{"closed_through": {"x": "1"}}'):
        assert parse_commit_metadata(foreign) in (None, {})


def test_too_many_schemas_for_the_commit_metadata_are_refused(tmp_path):
    src = (SHIPPED_SCHEMAS / "http_requests.yaml").read_text()
    for i in range(80):
        name = f"http_requests_with_a_rather_long_name_{i:03d}"
        (tmp_path / f"s{i}.yaml").write_text(src.replace("name: http_requests", f"name: {name}"))
    with pytest.raises(SettingsError, match="commit metadata larger than"):
        check_metadata_fits(load_schemas(tmp_path))
    check_metadata_fits(load_schemas(SHIPPED_SCHEMAS))


def test_failpoint_spec():
    assert Failpoint(None).point is None
    fp = Failpoint("before_commit:3")
    assert fp.armed == {("before_commit", 3): "kill"}
    fp.hit("before_commit", 2)          # not the third: nothing happens
    fp = Failpoint("after_send:1:raise")
    with pytest.raises(BrokerUnavailable, match="failpoint after_send"):
        fp.hit("after_send", 1)
    fp.hit("after_send", 1)             # fires once
    fp = Failpoint("after_fetch:1:raise,session_start:2:hold", hold_dir="/nonexistent")
    assert fp.armed == {("after_fetch", 1): "raise", ("session_start", 2): "hold"}
    fp.hit("session_start", 2)          # a hold only waits in reached(), never in hit()
    with pytest.raises(BrokerUnavailable, match="failpoint after_fetch"):
        asyncio.run(fp.reached("after_fetch", 1))
    for bad in ("explode:1", "after_send:x", "after_send:1:boom", "after_send:1:hold"):
        with pytest.raises(SettingsError, match="DEIDENTIFY_FAILPOINT"):
            Failpoint(bad)


# --------------------------------------------------------------------------- readiness


def test_readiness_reasons():
    now = time.monotonic()
    h = HealthState(heartbeat=now)
    assert h.readiness(now) == (False, "not connected to Kafka")
    h.last_failure = "BrokerUnavailable"
    assert h.readiness(now)[1] == "not connected to Kafka (last failure: BrokerUnavailable)"
    h.session_up = True
    assert h.readiness(now)[1] == "no partitions assigned"
    h.assigned = 3
    assert h.readiness(now)[1].startswith("no successful fetch, commit or metadata")
    h.broker_ok = now
    assert h.readiness(now) == (True, "ok")
    h.broker_failing = True           # the last metadata probe failed
    assert h.readiness(now)[1].startswith("no successful fetch, commit or metadata")
    h.broker_failing = False
    h.uncommitted_since = now - 31
    assert h.readiness(now)[1] == "consumed events have not been committed recently"
    h.uncommitted_since = None
    h.fenced = True
    assert h.readiness(now)[1].startswith("producer fenced")
    h.fenced, h.stopping = False, True
    assert h.readiness(now) == (False, "shutting down")


def test_health_server_answers():
    async def scenario():
        state = HealthState(heartbeat=time.monotonic())
        metrics = sidecar_metrics()
        metrics.events_dropped.labels("-", "invalid_json").inc(3)
        server = HealthServer(state, metrics, host="127.0.0.1", port=0)
        port = await server.start()

        def get(path):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
        live = await asyncio.to_thread(get, "/livez")
        ready = await asyncio.to_thread(get, "/readyz")
        text = await asyncio.to_thread(get, "/metrics")
        state.heartbeat -= 60
        dead = await asyncio.to_thread(get, "/livez")
        await server.stop()
        await server.stop()              # a second stop is harmless
        return live, ready, text, dead
    live, ready, text, dead = asyncio.run(scenario())
    assert live[0] == 200 and orjson.loads(live[1])["alive"] is True
    assert ready[0] == 503 and orjson.loads(ready[1]) == {
        "ready": False, "reason": "not connected to Kafka", "assigned_partitions": 0}
    assert text[0] == 200
    assert b'deid_sidecar_events_dropped_total{reason="invalid_json",schema="-"} 3.0' in text[1]
    assert dead[0] == 503


# --------------------------------------------------------------------------- reload


def test_reloader_swaps_valid_sets_and_refuses_invalid_ones(tmp_path, caplog):
    directory = tmp_path / "schemas"
    shutil.copytree(SHIPPED_SCHEMAS, directory)
    applied = []
    outcomes = []

    async def apply(schemas):
        applied.append(schemas.versions())

    async def scenario():
        r = SchemaReloader(directory, apply, poll_s=60, on_outcome=outcomes.append)
        results = [await r.check()]                          # nothing changed
        f = directory / "http_requests.yaml"
        f.write_text(f.read_text().replace("version: 1", "version: 2"))
        results.append(await r.check())                      # valid -> ok
        good = f.read_text()
        f.write_text(good.replace("k: 5", "k: 0"))
        results.append(await r.check())                      # invalid -> refused
        results.append(await r.check())                      # same broken state: quiet
        r.request()
        results.append(await r.check())                      # SIGHUP: tried again
        f.write_text(good)
        results.append(await r.check())
        return results
    with caplog.at_level("INFO", logger="deidentify.sidecar.reload"):
        results = asyncio.run(scenario())
    assert results == [None, "ok", "refused", None, "refused", "ok"]
    assert outcomes == ["ok", "refused", "refused", "ok"]
    assert applied == [{"billing_totals": 1, "http_requests": 2, "webhook_deliveries": 1}] * 2
    assert "schema reload ok: billing_totals v1, http_requests v2, webhook_deliveries v1" \
        in caplog.text
    assert f"http_requests.yaml:{K_LINE}: privacy 'k' is out of range (fix:" in caplog.text


def test_reloader_refuses_a_schema_below_the_k_floor(tmp_path, caplog):
    directory = tmp_path / "schemas"
    shutil.copytree(SHIPPED_SCHEMAS, directory)
    for f in directory.glob("*.yaml"):                       # a deployment with floor 6
        f.write_text(f.read_text().replace("k: 5", "k: 6"))
    applied = []

    async def apply(schemas):
        applied.append(schemas.versions())

    async def scenario():
        r = SchemaReloader(directory, apply, poll_s=60, k_floor=6)
        f = directory / "billing_totals.yaml"
        text = f.read_text().replace("version: 1", "version: 2")
        f.write_text(text.replace("k: 6", "k: 5"))         # a new version under the floor
        first = await r.check()
        f.write_text(text.replace("k: 6", "k: 7"))
        return first, await r.check()
    with caplog.at_level("INFO", logger="deidentify.sidecar.reload"):
        assert asyncio.run(scenario()) == ("refused", "ok")
    assert "billing_totals.yaml:22: privacy 'k' is 5, below this deployment's k floor of 6 " \
        "(fix: write k: 6 or more" in caplog.text
    assert applied == [{"billing_totals": 2, "http_requests": 1, "webhook_deliveries": 1}]


# --------------------------------------------------------------------------- window hold


def test_windows_wait_for_assigned_partitions_until_known_caught_up(monkeypatch):
    """The window-close gate: a partition counts as caught up only on a fresh fetch response
    whose end offset its position reached; unread records or no (fresh) response hold."""
    settings = load_settings(args(region="eu", idle="5s"), env={})
    loop = BatchLoop(settings, load_schemas(SHIPPED_SCHEMAS), sidecar_metrics(), HealthState())
    p0 = TopicPartition("telemetry.raw.http_requests", 0)
    p1 = TopicPartition("telemetry.raw.http_requests", 1)
    progress: dict = {}
    monkeypatch.setattr(kafka, "fetch_progress", lambda consumer, tp: progress.get(tp))
    assigned = {p0, p1}
    loop.gate.track(assigned)
    wall = int(time.time() * 1000)
    events = [(i, orjson.dumps(http_event(T0 + i * 1000, user=f"u{i}"))) for i in range(6)]
    events.append((6, orjson.dumps(http_event(T0 + 3_600_000, user="closer"))))
    loop.pipeline.process_batch(events, p0, wall)

    def close(at: int) -> list:
        loop.gate.observe(None, assigned, at)
        return loop.gate.close_due(at)
    # p1 has not answered a fetch: it holds, however long that takes (the broker is down)
    assert close(wall) == []
    assert close(wall + 60_000) == []
    # p1 answers: 5 unread records -> holds
    progress[p1] = kafka.FetchProgress(position=0, end=5, fetched_at_ms=wall + 60_000)
    assert close(wall + 60_000) == []
    # p1 turns out empty (position at its end, fresh response): it holds nothing back
    progress[p1] = kafka.FetchProgress(position=5, end=5, fetched_at_ms=wall + 60_000)
    assert len(close(wall + 60_000)) == 1
    # p0 is caught up too, but the responses stop (broker unreachable): not idle, the
    # closer's window stays open however long the outage lasts
    progress[p0] = kafka.FetchProgress(position=7, end=7, fetched_at_ms=wall + 60_000)
    assert close(wall + 61_000) == []
    assert close(wall + 600_000) == []
    # fresh responses again: idle after --idle (5 s) of being caught up, then it closes
    progress[p0] = kafka.FetchProgress(position=7, end=7, fetched_at_ms=wall + 600_000)
    progress[p1] = kafka.FetchProgress(position=5, end=5, fetched_at_ms=wall + 600_000)
    assert close(wall + 600_000) == []
    assert loop.pipeline.windows.open_window_count == 1
    progress[p0] = progress[p0]._replace(fetched_at_ms=wall + 605_000)
    progress[p1] = progress[p1]._replace(fetched_at_ms=wall + 605_000)
    close(wall + 605_000)       # the closer's cell is under k: it closes, publishes nothing
    assert loop.pipeline.windows.open_window_count == 0


# --------------------------------------------------------------------------- Kafka hardening


def test_sasl_plain_without_tls_is_refused():
    with pytest.raises(SettingsError, match="PLAIN over .* SASL_PLAINTEXT would send the "
                                            "password in clear; use SASL_SSL"):
        load_settings(args(region="eu", security_protocol="SASL_PLAINTEXT",
                           sasl_mechanism="PLAIN", sasl_username="u"),
                      env={"KAFKA_SASL_PASSWORD": "pw"})
    # SCRAM never sends the password itself; PLAIN over TLS is fine
    for protocol, mechanism in (("SASL_PLAINTEXT", "SCRAM-SHA-512"), ("SASL_SSL", "PLAIN")):
        s = load_settings(args(region="eu", security_protocol=protocol, sasl_mechanism=mechanism,
                               sasl_username="u"), env={"KAFKA_SASL_PASSWORD": "pw"})
        assert s.security.sasl_mechanism == mechanism


def test_a_password_file_readable_by_others_is_reported(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("hunter2-secret\n")
    secret.chmod(0o644)
    s = load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="u",
                           sasl_password_file=str(secret)), env={})
    assert len(s.security.warnings) == 1
    assert "is readable by other users (mode 644); chmod 600" in s.security.warnings[0]
    assert "hunter2" not in s.security.warnings[0]
    secret.chmod(0o600)
    s = load_settings(args(region="eu", security_protocol="SASL_SSL", sasl_username="u",
                           sasl_password_file=str(secret)), env={})
    assert s.security.warnings == ()


def test_client_certificate_options(tmp_path):
    from tests.tls_helpers import issue, make_ca
    ca = make_ca(tmp_path)
    client = issue(tmp_path, ca, "sidecar-eu", client=True)
    s = load_settings(args(region="eu", security_protocol="SSL", ssl_cafile=str(ca[0].cert),
                           ssl_certfile=str(client.cert), ssl_keyfile=str(client.key)), env={})
    assert (s.security.ssl_certfile, s.security.ssl_keyfile) == (str(client.cert),
                                                                 str(client.key))
    assert "ssl_client_cert=set" in s.describe()
    from deidentify.sidecar.kafka import ssl_context
    assert ssl_context(s) is not None          # the pair loads
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u",
           "KAFKA_SASL_PASSWORD": "pw", "KAFKA_SSL_CERTFILE": str(client.cert),
           "KAFKA_SSL_KEYFILE": str(client.key)}
    assert load_settings(args(region="eu"), env=env).security.ssl_certfile == str(client.cert)
    for flags, words in (
            ({"ssl_certfile": str(client.cert), "ssl_keyfile": str(client.key)},
             "is PLAINTEXT; use SSL (mTLS) or SASL_SSL"),
            ({"security_protocol": "SSL", "ssl_certfile": str(client.cert)},
             "needs both --ssl-certfile (env KAFKA_SSL_CERTFILE) and --ssl-keyfile"),
            ({"security_protocol": "SSL", "ssl_certfile": str(client.cert),
              "ssl_keyfile": str(tmp_path / "none.key")}, "none.key: no such file")):
        with pytest.raises(SettingsError) as info:
            load_settings(args(region="eu", **flags), env={})
        assert words in str(info.value)
