"""The study's shared vocabulary: where everything lives (:mod:`.layout`), what a method is
(:mod:`.method`) and a stage's state file (:mod:`.state`).

Imported by the pipeline, the tables, the report and the tools; it imports nothing heavier
than the standard library, so a tool that only reads a study starts in a fraction of a
second.
"""
from .layout import (CONVERT_TARGETS, RUN_INFO, SCALARS, TASKS, TRANSFER_TASKS, Study,
                     newest_run_with, run_dirs, seed_folder)
from .method import Method
from .state import STATE_FILE, file_stamp, finished_outputs, read_state, write_state

__all__ = ['CONVERT_TARGETS', 'Method', 'RUN_INFO', 'SCALARS', 'STATE_FILE', 'Study',
           'TASKS', 'TRANSFER_TASKS', 'file_stamp', 'finished_outputs', 'newest_run_with', 'read_state',
           'run_dirs', 'seed_folder', 'write_state']
