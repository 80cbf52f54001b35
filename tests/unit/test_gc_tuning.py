"""A served process runs with the collector tuned (app/gc_tuning.py); the tests' own does not."""

import gc
import subprocess
import sys

from app.gc_tuning import YOUNG_THRESHOLD


def test_the_served_entry_point_freezes_start_up_objects_and_raises_the_young_threshold():
    probe = ("import gc, app.asgi; "
             "print(gc.get_threshold()[0], gc.get_freeze_count() > 10_000)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env={"PATH": "", "JWT_SECRET": "x" * 32}).stdout.split()
    assert out == [str(YOUNG_THRESHOLD), "True"]


def test_importing_the_app_elsewhere_leaves_the_collector_alone():
    import app.main  # noqa: F401  (what the tests import)

    assert gc.get_threshold()[0] != YOUNG_THRESHOLD
