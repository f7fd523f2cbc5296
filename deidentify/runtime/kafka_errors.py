"""The one place aiokafka (and socket/TLS) exceptions become deidentify errors.

::

    aiokafka / ssl / OSError                        deidentify.errors
    ─────────────────────────────────────────────   ─────────────────────────────
    ProducerFenced, InvalidProducerEpoch,        -> ProducerFenced
      TransactionCoordinatorFenced
    SaslAuthenticationFailed, *Authorization*,   -> AuthenticationFailed
      TLS certificate verification
    connection, timeout, TLS handshake,          -> BrokerUnavailable (retriable)
      any retriable KafkaError
    anything else                                -> RuntimeFailure

Used by the sidecar's clients, the generator's producer and the central collector's start-up
checks: ``raise translate(exc, "commit transaction") from exc``, or the context manager
:func:`translated`. Messages name the operation and the error class, never a payload, a
message text of the library, or a secret.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

from aiokafka import errors as kerr

from deidentify.errors import (
    AuthenticationFailed,
    BrokerUnavailable,
    DeidentifyError,
    ProducerFenced,
    RuntimeFailure,
)

__all__ = ["KAFKA_ERRORS", "translate", "translated"]

# What a ``translated`` block catches: everything aiokafka and the socket layer raise.
KAFKA_ERRORS = (TimeoutError, kerr.KafkaError, OSError, ssl.SSLError)

_FENCED = (kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.TransactionCoordinatorFenced)
_REFUSED = (kerr.SaslAuthenticationFailed, kerr.AuthenticationFailedError)
_UNAUTHORIZED = (kerr.TopicAuthorizationFailedError, kerr.GroupAuthorizationFailedError,
                 kerr.ClusterAuthorizationFailedError, kerr.TransactionalIdAuthorizationFailed)
_UNAVAILABLE = (kerr.KafkaConnectionError, kerr.NoBrokersAvailable, kerr.KafkaTimeoutError,
                kerr.RequestTimedOutError, kerr.NodeNotReadyError, OSError, TimeoutError,
                ConnectionError)


def translate(exc: BaseException, what: str,
              causes: tuple[type[BaseException], ...] = ()) -> DeidentifyError:
    """Map an aiokafka (or socket/TLS) exception to the deidentify error tree.

    ``what``: the operation, first in the message (``commit transaction``, a bootstrap
    address). ``causes``: exception types aiokafka logged but did not raise - it reports a
    refused SASL login as "Unable to bootstrap" (a connection error) and logs the refusal.
    """
    if isinstance(exc, DeidentifyError):
        return exc
    name = type(exc).__name__
    refused = [c for c in causes if issubclass(c, _REFUSED + _UNAUTHORIZED)]
    if refused:
        exc, name = refused[0](), refused[0].__name__
    if isinstance(exc, _FENCED):
        return ProducerFenced(f"{what}: another producer took the transactional id over "
                              f"({name}); only one sidecar instance may run per region and "
                              "group")
    if isinstance(exc, _REFUSED):
        return AuthenticationFailed(f"{what}: the broker refused the SASL credentials "
                                    f"({name}); check the user name and password")
    if isinstance(exc, _UNAUTHORIZED):
        return AuthenticationFailed(f"{what}: not authorized ({name}); check the Kafka user's "
                                    "ACLs (a sidecar needs read on the raw topics and group, "
                                    "write on its central topic and transactional id)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return AuthenticationFailed(f"{what}: TLS certificate verification failed "
                                    f"({exc.verify_message}); check --ssl-cafile")
    if isinstance(exc, ssl.SSLError):
        return BrokerUnavailable(f"{what}: TLS handshake failed ({name}); is the listener "
                                 "TLS, and is --security-protocol right?")
    if isinstance(exc, _UNAVAILABLE):
        return BrokerUnavailable(f"{what}: no broker answered ({name})")
    if isinstance(exc, kerr.KafkaError) and getattr(exc, "retriable", False):
        return BrokerUnavailable(f"{what}: retriable Kafka error ({name})")
    return RuntimeFailure(f"{what}: {name}")


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """``with translated("commit transaction"): ...`` — aiokafka errors leave as ours."""
    try:
        yield
    except DeidentifyError:
        raise
    except KAFKA_ERRORS as exc:
        raise translate(exc, what) from exc
