"""mmengine's ``CheckpointHook``, reordered so that a run always has a loadable checkpoint.

Upstream, with ``max_keep_ckpts=k``, deletes the oldest kept checkpoint *before* writing
the new one, writes the new one in place, then rewrites ``last_checkpoint`` in place: a
kill or a full disk in between leaves no checkpoint, a truncated one, or a pointer to a
missing file. This subclass, registered under the upstream name (every config's
``default_hooks.checkpoint`` gets it once ``mixedae`` is imported), per checkpoint:

1. writes the file to a temporary name, ``fsync``-s it and renames it into place
   (``local_atomic`` backend, :mod:`mixedae.engine.atomic_backend`), with the SHA-256 digest
   of its tensors in ``meta`` (:mod:`mixedae.engine.tensor_digest`);
2. moves the ``last_checkpoint`` pointer the same way;
3. only then deletes the checkpoints that fell out of ``max_keep_ckpts``. Their ids are
   recorded in the new checkpoint, so a run killed before deleting them deletes them
   when it resumes from it; temporary files of killed writes are removed then too.

Best checkpoints (``save_best``) are written by upstream's code through the same atomic
backend. Non-local ``out_dir``s (``s3://``...) keep upstream's backend: steps 1-2 are then
not atomic, but the order (write, pointer, delete) holds.
"""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.io import _parse_uri_prefix
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ..atomic_write import remove_partial_files, write_atomically
from .tensor_digest import add_tensor_digest

RETIRED_KEY = 'retired_ckpt_ids'   # message-hub key: checkpoints to delete after a save


@HOOKS.register_module(name='CheckpointHook', force=True)
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints are written atomically, carry a tensor digest,
    and are deleted only once a newer one and the pointer to it are on disk. Same
    arguments as upstream's."""

    def before_train(self, runner) -> None:
        self.local = (self.backend_args is None and self.file_client_args is None
                      and _parse_uri_prefix(str(self.out_dir or runner.work_dir)) == '')
        if self.local:
            self.backend_args = dict(backend='local_atomic')
        super().before_train(runner)
        if self.local and is_main_process():
            self._clean_up_after_a_kill(runner)

    def _clean_up_after_a_kill(self, runner) -> None:
        """Delete what a killed save left behind: its temporary files, and the
        checkpoints it had retired but not yet deleted."""
        for directory in {runner.work_dir, self.out_dir}:
            if osp.isdir(directory):
                remove_partial_files(directory)
        kept = set(self.keep_ckpt_ids) if self.max_keep_ckpts > 0 else set()
        for step in runner.message_hub.get_info(RETIRED_KEY) or []:
            if step not in kept:
                self._remove(self.filename_tmpl.format(step))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        add_tensor_digest(checkpoint)

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        retired = self._retire_outdated(runner, step)
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args,
            **self.args)

        # Model parallel-like training pulls sharded states from all ranks; only the
        # main process moves the pointer and deletes (as upstream)
        if not is_main_process():
            return
        write_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                         str(self.last_ckpt).encode())
        for old in retired:
            self._remove(self.filename_tmpl.format(old))

    def _retire_outdated(self, runner, step: int) -> list:
        """Upstream's bookkeeping of ``keep_ckpt_ids`` without its deletion: the ids that
        fall out, also recorded in the message hub (saved in the new checkpoint)."""
        retired = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                retired.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.message_hub.update_info(RETIRED_KEY, retired)
        return retired

    def _remove(self, filename: str) -> None:
        path = self.file_backend.join_path(self.out_dir, filename)
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):     # checkpoints saved by DeepSpeed
            self.file_backend.rmtree(path)
