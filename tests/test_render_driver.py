"""The render driver and its worker processes: progress from the worker's stdout, errors from its stderr, and no
deadlock however much the worker writes to either (fake workers: plain Python, no Blender)."""

import sys
import time

import pytest

from blender_scripts.render import DONE_PREFIX, drive_worker
from handmodel.errors import InputError


def fake_worker(body: str) -> list[str]:
    # The alarm ends a worker that blocks (on a full pipe), so a deadlock fails the test instead of hanging it.
    return [sys.executable, "-c", f"import signal, sys\nsignal.alarm(20)\n{body}"]


def test_a_worker_writing_megabytes_of_warnings_does_not_block_the_driver():
    body = (
        "for i in range(3):\n"
        "    sys.stderr.write('warning: something Blender says\\n' * 40000)\n"  # 1.3 MB per sample, far over a pipe
        f"    print('{DONE_PREFIX}' + str(i), flush=True)\n"
    )
    names = []
    t0 = time.monotonic()
    assert drive_worker(fake_worker(body), names.append) == 3
    assert names == ["0", "1", "2"]
    assert time.monotonic() - t0 < 15


def test_a_failing_worker_reports_its_last_error_line_after_a_flood_of_warnings():
    body = "sys.stderr.write('warning: noise\\n' * 100000)\nprint('error: poses.npz: missing key', file=sys.stderr)\n"
    with pytest.raises(InputError, match=r"^poses.npz: missing key$"):
        drive_worker(fake_worker(body + "sys.exit(1)"), lambda name: None)


def test_a_crashing_worker_raises_with_the_tail_of_its_stderr():
    body = "sys.stderr.write('warning: noise\\n' * 100000)\nraise ValueError('boom in the scene')\n"
    with pytest.raises(RuntimeError, match="render worker failed: ValueError: boom in the scene") as e:
        drive_worker(fake_worker(body), lambda name: None)
    assert "Traceback" in str(e.value)


def test_a_failing_driver_kills_its_worker_instead_of_waiting_for_it():
    body = f"print('{DONE_PREFIX}7', flush=True)\nimport time\ntime.sleep(30)\n"

    def fail(name):
        raise KeyboardInterrupt

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        drive_worker(fake_worker(body), fail)
    assert time.monotonic() - t0 < 10
