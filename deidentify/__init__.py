"""deidentify: a telemetry de-identification stream processor.

Raw regional telemetry goes in; only de-identified aggregates that an allowlist schema
declares come out. The public API is deliberately small.
"""

from deidentify.errors import DeidentifyError, SchemaError
from deidentify.pipeline import Pipeline
from deidentify.schema import load_schemas

__all__ = ["DeidentifyError", "Pipeline", "SchemaError", "load_schemas"]
__version__ = "0.1.0"
