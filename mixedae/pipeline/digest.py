"""What makes a training stage run again: its config files, with every base they inherit."""
import hashlib
from pathlib import Path

from mmengine.config import Config


def config_files(config: Path) -> list[Path]:
    """``config`` and the files it inherits from (``_base_``, recursively, as mmengine
    reads it); bases of installed packages (``mmdet::...``) are left out."""
    files, todo = [], [config.resolve()]
    while todo:
        path = todo.pop(0)
        if path in files or not path.is_file():
            continue
        files.append(path)
        try:
            bases = Config._get_base_files(str(path))
        except (SyntaxError, ValueError, TypeError, NameError):
            continue  # mmengine names the error when the stage runs
        todo += [(path.parent / base).resolve() for base in bases
                 if isinstance(base, str) and '::' not in base]
    return files


def config_digest(config: Path) -> str:
    """SHA-256 of the contents of a config and its base files: editing any of them makes
    the stage run again."""
    digest = hashlib.sha256()
    for path in config_files(config):
        digest.update(str(path).encode() + b'\0' + path.read_bytes() + b'\0')
    return digest.hexdigest()
