"""Output helpers shared by commands: JSON documents to stdout, people-facing text to stderr."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console

#: Version of every ``--json`` document; bump when a key changes meaning or disappears.
SCHEMA_VERSION = 1

#: Tables, progress bars and messages go to stderr so stdout stays data.
console = Console(stderr=True)


def emit_json(document: dict[str, Any]) -> None:
    """Print ``document`` as one JSON object on stdout, ``schema_version`` first."""
    print(json.dumps({"schema_version": SCHEMA_VERSION, **document}, default=_default))


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
