"""A staged project for `chalice local`: the sources as symlinks, beside a generated
``.chalice/config.json`` whose ``local`` stage runs on the emulator this run started.

`chalice local` sets the stage's ``environment_variables`` over its own environment, so the
emulator's endpoints cannot come from outside; and writing them into the tracked
``.chalice/config.json`` would pin every clone to one port. The staged config is the committed
one with only the local stage's environment replaced: `.chalice/config.json` stays the one
source of everything else, and every run can choose its ports.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from localdev.emulator import CHALICE_CONFIG, PROJECT_DIR

SOURCES = ("app.py", "chalicelib", "requirements.txt")


def stage_project(directory: Path, environment: dict[str, str]) -> Path:
    """(Re)create ``directory`` as a project serving ``environment`` as its ``local`` stage."""
    shutil.rmtree(directory, ignore_errors=True)
    (directory / ".chalice").mkdir(parents=True)
    for name in SOURCES:
        (directory / name).symlink_to(PROJECT_DIR / name)
    config = json.loads(CHALICE_CONFIG.read_text())
    config["stages"]["local"]["environment_variables"] = environment
    (directory / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    return directory
