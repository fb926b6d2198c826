"""`make test` (the README's test command, what .ci/run calls) runs both stacks and fails if either failed."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Stands in for pytest: notes which stack it ran on and fails where the test asks it to.
FAKE_PYTEST = """#!/bin/sh
if [ -n "$MEDIANEST_TEST_DATABASE_URL" ]; then stack=production; else stack=embedded; fi
echo "$stack" >> "$FAKE_LOG"
case " $FAKE_FAIL " in *" $stack "*) exit 1;; esac
exit 0
"""


@pytest.fixture
def fake_venv(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "pytest").write_text(FAKE_PYTEST)
    (bin_dir / "pytest").chmod(0o755)
    (tmp_path / "venv" / ".installed").touch()  # newer than the requirements: nothing to install
    return tmp_path


def make_test(tmp_path, fail: str, *, production: bool = True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIANEST_TEST_", "MAKE"))}
    env.update(FAKE_LOG=str(tmp_path / "runs.log"), FAKE_FAIL=fail)
    if production:
        env.update(MEDIANEST_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/x",
                   MEDIANEST_TEST_REDIS_URL="redis://127.0.0.1:6379/9")
    result = subprocess.run(["make", "--no-print-directory", "test", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    log = tmp_path / "runs.log"
    runs = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return result, runs


@pytest.mark.parametrize(("fail", "ok"), [("", True), ("embedded", False), ("production", False),
                                          ("embedded production", False)])
def test_make_test_runs_both_stacks_and_fails_at_the_end(fake_venv, fail, ok):
    result, runs = make_test(fake_venv, fail)
    assert runs == ["embedded", "production"], result.stdout + result.stderr
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    for stack, label in (("embedded", "the embedded stack"), ("production", "PostgreSQL + Redis")):
        assert (f"FAILED: tests on {label}" in result.stdout) is (stack in fail.split())


def test_make_test_without_test_urls_runs_the_embedded_stack_only(fake_venv):
    result, runs = make_test(fake_venv, "embedded", production=False)
    assert runs == ["embedded"] and result.returncode != 0
    result, runs = make_test(fake_venv, "", production=False)
    assert runs == ["embedded"] and result.returncode == 0 and "PostgreSQL + Redis run skipped" in result.stdout
