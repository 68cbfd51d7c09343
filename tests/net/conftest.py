"""Shared fixtures for the network tests."""

from __future__ import annotations

import sys
from pathlib import Path

# Make the sibling helper modules (net_strategies, net_peer) importable under --import-mode=importlib.
sys.path.insert(0, str(Path(__file__).parent))
