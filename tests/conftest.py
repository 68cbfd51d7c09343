"""Suite-wide test settings.

Hypothesis deadlines are off: the suite runs on shared 2-core machines where timing is noise, and
veil's performance is measured by `veil bench`, never by tests.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "veil",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
settings.load_profile("veil")
