"""A stage's state file, ``<stage dir>/stage.json``: what ran, on which inputs, and what it made.

``status`` is ``running`` while the stage runs, then ``done`` (written only after success,
with the stage's outputs) or ``failed``. A stage is up to date when its state is ``done``,
its signature (command and input files) is unchanged and every output still exists; a
stage interrupted or failed with the same signature resumes instead of starting over.
"""
import json
import os
import tempfile
from pathlib import Path
from typing import Optional

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
    """Write the state atomically (temporary file + rename)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.stage-', suffix='.json', dir=stage_dir)
    with os.fdopen(fd, 'w') as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, stage_dir / STATE_FILE)


def is_up_to_date(state: Optional[dict], signature: dict) -> bool:
    """Done with this signature, and every listed output still exists."""
    return (state is not None and state.get('status') == 'done'
            and state.get('signature') == signature
            and all(Path(p).exists() for p in state.get('outputs', {}).values()))


def can_resume(state: Optional[dict], signature: dict) -> bool:
    """An earlier attempt with the same signature stopped before finishing."""
    return (state is not None and state.get('status') in ('running', 'failed')
            and state.get('signature') == signature)
