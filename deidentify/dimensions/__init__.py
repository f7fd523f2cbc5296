"""Typed dimension transforms: the only way a raw field becomes a published dimension value.

* :mod:`deidentify.dimensions.route` - ``RouteTemplate``: URL/route field -> ``/v1/orders/{id}``;
  ``RouteVocabulary``: the literals a route may publish (shipped route words, declarations)
* :mod:`deidentify.dimensions.routewords` - the shipped vocabulary of route words
* :mod:`deidentify.dimensions.host` - ``HostExtractor``: URL -> registrable domain or ``{ip}``
* :mod:`deidentify.dimensions.vocab` - closed vocabularies for ``enum`` dimensions

Every transform is a pure, synchronous callable that never raises on event input, never logs
and maps anything it cannot make safe to ``__other__``. Each module's docstring states its
invariants and memory cost.
"""

from deidentify.dimensions.host import IP_PLACEHOLDER, HostExtractor, is_valid_host
from deidentify.dimensions.route import (
    OTHER,
    ROUTE_GRAMMAR,
    RouteTemplate,
    RouteVocabulary,
    is_valid_route,
)
from deidentify.dimensions.vocab import VOCABULARIES

__all__ = ["IP_PLACEHOLDER", "OTHER", "ROUTE_GRAMMAR", "VOCABULARIES", "HostExtractor",
           "RouteTemplate", "RouteVocabulary", "is_valid_host", "is_valid_route"]
