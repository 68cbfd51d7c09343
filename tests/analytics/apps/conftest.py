"""Shared set-up for the application tests."""

from __future__ import annotations

import sys
from pathlib import Path

# Make the sibling helper modules importable under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).parent))
