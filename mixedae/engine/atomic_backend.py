"""mmengine's local file backend whose ``put`` replaces files atomically
(:mod:`mixedae.atomic_write`), registered as ``local_atomic``
(``backend_args=dict(backend='local_atomic')``): checkpoints are never half-written."""
import os
import os.path as osp

from mmengine.fileio import LocalBackend, register_backend

from ..atomic_write import write_atomically


@register_backend('local_atomic')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend whose ``put`` replaces files atomically."""

    def put(self, obj: bytes, filepath) -> None:
        os.makedirs(osp.dirname(os.fspath(filepath)) or '.', exist_ok=True)
        write_atomically(os.fspath(filepath), obj)
