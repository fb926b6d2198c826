"""The `flask` command as an operator runs it: a real process, its exit status, stdout and stderr kept apart."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medianest import crypto
from tests.fakes.base import free_port

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


def flask(*args, instance: Path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MEDIANEST_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    clean.update({"MEDIANEST_SKIP_DOTENV": "1", "MEDIANEST_INSTANCE_DIR": str(instance), "MEDIANEST_ENV": "development"}, **env)
    return subprocess.run([FLASK, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["users", "list"], ["services", "check"], ["cleanup"],
                                     ["users", "create-admin", "--email", "a@nas.local", "--password", "Sturdy-pass-42"]])
def test_a_command_before_db_upgrade_says_so_in_one_line(tmp_path, command):
    empty = tmp_path / "fresh.sqlite3"
    empty.touch()
    result = flask(*command, instance=tmp_path, DATABASE_URL=f"sqlite:///{empty}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["Error: The database has no tables yet: run `flask db upgrade`"]
    assert result.stdout == ""


def test_an_unreachable_database_is_named_in_one_line(tmp_path):
    port = free_port()  # nothing listens there
    result = flask("users", "list", instance=tmp_path, DATABASE_URL=f"postgresql://medianest@127.0.0.1:{port}/medianest")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Error: Cannot reach the database at 127.0.0.1:{port}"]


def test_keys_generate_works_in_production_before_the_key_exists(tmp_path):
    result = flask("keys", "generate", instance=tmp_path, MEDIANEST_ENV="production")
    assert result.returncode == 0, result.stderr
    assert len(crypto.parse_key(result.stdout.strip())) == 32
    other = flask("users", "list", instance=tmp_path, MEDIANEST_ENV="production")
    assert other.returncode == 1 and "MediaNest cannot start: SECRET_KEY is required" in other.stderr
    assert "Traceback" not in other.stderr
    rotate = flask("keys", "rotate", instance=tmp_path, MEDIANEST_ENV="production")
    assert rotate.returncode == 1 and "MediaNest cannot start" in rotate.stderr


def test_log_lines_stay_out_of_command_output(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'medianest.sqlite3'}"
    assert flask("db", "upgrade", instance=tmp_path, DATABASE_URL=db_url).returncode == 0
    result = flask("services", "set", "youtube", "--per-hour", "7", instance=tmp_path, DATABASE_URL=db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == ["youtube saved", "youtube (YouTube downloads)", "  enabled: yes"]
    assert " INFO " not in result.stdout
    shown = flask("services", "show", "youtube", instance=tmp_path, DATABASE_URL=db_url)
    assert "  per_hour: 7" in shown.stdout.splitlines() and " INFO " not in shown.stdout


def test_the_readme_lists_every_command(app):
    import re

    import click

    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("## Command line"):]
    lines = block[:block.index("## ", 5)].splitlines()
    missing = []
    from medianest import cli_base

    for name, command in app.cli.commands.items():
        if not isinstance(command, (cli_base.Group, cli_base.Command)):  # Flask-Migrate's, Flask-Limiter's
            continue
        subcommands = command.commands if isinstance(command, click.Group) else {"": None}
        for sub in subcommands:
            pattern = re.compile(rf"(?<![\w-]){re.escape(sub)}(?![\w-])")
            if not any(line.startswith(f"flask {name}") and pattern.search(line) for line in lines):
                missing.append(f"flask {name} {sub}".strip())
    assert not missing, missing
