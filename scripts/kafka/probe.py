"""Does a Kafka broker answer on BOOTSTRAP? Used by scripts/kafka.sh (no project imports).

usage: probe.py BOOTSTRAP [--wait SECONDS] [--pid PID]

Exit status: 0 the broker answered; 1 it did not within --wait seconds; 2 the process --pid
exited while waiting. With aiokafka importable (the project's .venv) the check is a metadata
request that must list at least one broker; without it, a stdlib ApiVersions v0 round trip.
Prints nothing: scripts/kafka.sh does the talking.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import struct
import sys
import time

ATTEMPT_TIMEOUT_S = 3.0
POLL_INTERVAL_S = 0.5


def _first_address(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _api_versions_ok(bootstrap: str, timeout_s: float) -> bool:
    """One ApiVersions v0 request (every broker version answers v0) over a plain socket."""
    host, port = _first_address(bootstrap)
    client_id = b"deidentify-probe"
    correlation_id = 7
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _read_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            if size < 6 or size > 1 << 20:
                return False
            payload = _read_exactly(sock, size)
    except OSError:
        return False
    got_correlation, error_code = struct.unpack(">ih", payload[:6])
    return got_correlation == correlation_id and error_code == 0


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.extend(chunk)
    return bytes(chunks)


async def _metadata_ok(bootstrap: str, timeout_s: float) -> bool:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        connections_max_idle_ms=int(timeout_s * 1000) + 1000,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return False
    finally:
        try:
            await asyncio.wait_for(client.close(), timeout_s)
        except Exception:  # noqa: BLE001
            pass


def _check_once(bootstrap: str) -> bool:
    try:
        import aiokafka  # noqa: F401
    except ImportError:
        return _api_versions_ok(bootstrap, ATTEMPT_TIMEOUT_S)
    return asyncio.run(_metadata_ok(bootstrap, ATTEMPT_TIMEOUT_S))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rpartition(")")[2].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("--wait", type=float, default=0.0, help="keep trying this many seconds")
    parser.add_argument("--pid", type=int, default=0, help="give up when this process exits")
    args = parser.parse_args(argv)
    # aiokafka logs connection errors while the broker is still starting: not our output
    logging.disable(logging.CRITICAL)

    deadline = time.monotonic() + args.wait
    while True:
        if _check_once(args.bootstrap):
            return 0
        if args.pid and not _alive(args.pid):
            return 2
        if time.monotonic() >= deadline:
            return 1
        time.sleep(POLL_INTERVAL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
