"""A stage's state file, ``<stage dir>/stage.json``: what ran, on which inputs, and what it made.

``status`` is ``running`` while the stage runs, then ``done`` (written only after success,
with the stage's ``outputs``: name -> path) or ``failed`` (with its ``error``); its
``signature`` (command and input files) tells whether it is up to date
(:mod:`mixedae.pipeline.plan`).
"""
import json
from pathlib import Path
from typing import Optional

from ..atomic_write import write_atomically

STATE_FILE = 'stage.json'


def file_stamp(path: str | Path) -> list:
    """``[path, size, mtime_ns]`` of a file (part of a signature)."""
    stat = Path(path).stat()
    return [str(path), stat.st_size, stat.st_mtime_ns]


def read_state(stage_dir: Path) -> Optional[dict]:
    """The stage's state, or ``None`` if it never ran (or the file is unreadable)."""
    try:
        return json.loads((stage_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def write_state(stage_dir: Path, state: dict) -> None:
    """Write the state atomically (a reader sees the old state or the new one)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(stage_dir / STATE_FILE, json.dumps(state, indent=1))



def finished_outputs(stage_dir: Path) -> Optional[dict[str, str]]:
    """The outputs of a stage whose state is ``done`` (None otherwise)."""
    state = read_state(stage_dir)
    return state.get('outputs') if state and state.get('status') == 'done' else None
