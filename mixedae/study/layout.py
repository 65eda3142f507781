"""Where a study keeps everything: one place that names the folders and files that the
pipeline writes and the tables, the report and the tools read::

    ROOT/
      prepare/                          the tiny datasets' stage
      <method>/pretrain/                an mmengine work_dir (its runs: <YYYYmmdd_HHMMSS>/)
      <method>/convert/<target>.pth     converted weights (weights.json: given weights)
      <method>/<task>/                  a transfer work_dir; with seeds one per seed:
      <method>/<task>/seed_<s>/
      cost/step_time.json               the pre-training steps timed side by side
      tables/results.{txt,md,csv,tex}   and the plots
      report/report.html

Every stage folder holds ``stage.json`` (its state), ``stage.log`` and ``.stage.lock``;
a SLURM job's files go to its ``slurm/`` folder. Every mmengine run folder holds
``vis_data/scalars.json``, ``run_info.json`` and, after ``tools/test.py``,
``<run>.json``. A stage named ``<method>/<task>[/seed_<s>]`` works in the folder of the
same name; the other stages in the folders above.
"""
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

TASKS = ('pretrain', 'cls_finetune', 'cls_linear', 'det_coco', 'seg_ade20k')
TRANSFER_TASKS = TASKS[1:]
CONVERT_TARGETS = ('mmpretrain', 'mmdet', 'mmseg', 'timm')

RUN_DIR = re.compile(r'^\d{8}_\d{6}$')    # mmengine's run folder: YYYYmmdd_HHMMSS
SCALARS = Path('vis_data') / 'scalars.json'   # mmengine's LocalVisBackend, JSON lines
RUN_INFO = 'run_info.json'                    # mixedae.engine.RunInfoHook
WEIGHTS_RECORD = 'weights.json'   # <method>/convert/: the weights a method was given as
SEED = re.compile(r'^seed_(\d+)$')

# the tiny datasets (tools/make_tiny_datasets.py): name -> folder under its --out
TINY_DATASETS = {'imagenet': 'imagenet', 'coco': 'coco', 'ade20k': 'ade'}
TINY_DATASET_RECORD = 'tiny_dataset.json'   # in each: the seed and generator it was made with
# sizes a study may set (tools/make_tiny_datasets.py's --coco-val etc.; ImageNet: per class)
TINY_SIZES = ('imagenet_train', 'imagenet_val', 'coco_train', 'coco_val', 'ade_train',
              'ade_val')

# study-level stages and their folders (not methods: a method may not take these names)
FOLDERS = {'prepare': 'prepare', 'cost': 'cost', 'tabulate': 'tables', 'report': 'report'}
RESERVED = frozenset(FOLDERS.values())


def seed_folder(seed: int) -> str:
    """``seed_3``: the folder (and last part of the stage name) of one seed's run."""
    return f'seed_{seed}'


def seed_of(folder: Path) -> Optional[int]:
    """The seed of a ``seed_<s>`` folder, else None."""
    match = SEED.match(folder.name)
    return int(match[1]) if match else None


@dataclass(frozen=True)
class Study:
    """The paths of one study root."""
    root: Path

    def stage_dir(self, stage: str) -> Path:
        """The folder of a stage: ``tables`` for ``tabulate``, ``ROOT/<name>`` otherwise."""
        return self.root / FOLDERS.get(stage, stage)

    def method_dir(self, method: str) -> Path:
        return self.root / method

    def task_dir(self, method: str, task: str) -> Path:
        return self.root / method / task

    def converted(self, method: str, target: str, seed: Optional[int] = None) -> Path:
        """The weights the convert stage wrote for ``target``."""
        folder = self.root / method / 'convert'
        return (folder if seed is None else folder / seed_folder(seed)) / f'{target}.pth'

    def weights_record(self, method: str) -> Path:
        """``weights.json``: the file a method was given as (name, sha256, format)."""
        return self.root / method / 'convert' / WEIGHTS_RECORD

    @property
    def cost_file(self) -> Path:
        return self.root / FOLDERS['cost'] / 'step_time.json'

    @property
    def tables(self) -> Path:
        return self.root / FOLDERS['tabulate']

    @property
    def report(self) -> Path:
        return self.root / FOLDERS['report'] / 'report.html'

    def methods(self) -> list[Path]:
        """Folders of the root that hold at least one task folder."""
        return sorted(p for p in self.root.iterdir()
                      if p.is_dir() and any((p / t).is_dir() for t in TASKS))


def seed_dirs(task_dir: Path) -> list[Path]:
    """The ``seed_<s>`` folders of a task dir in seed order ([] for a single run)."""
    if not task_dir.is_dir():
        return []
    return sorted((p for p in task_dir.iterdir() if p.is_dir() and seed_of(p) is not None),
                  key=seed_of)


def run_dirs(task_dir: Path) -> list[Path]:
    """The mmengine run folders of a work_dir, newest first; a run folder is its own only
    run."""
    if RUN_DIR.match(task_dir.name):
        return [task_dir]
    runs = [p for p in task_dir.iterdir() if p.is_dir() and RUN_DIR.match(p.name)]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def newest_run_with(work_dir: Path, relative: Callable[[Path], Path]) -> Optional[Path]:
    """``relative(run)`` of the newest run folder where that file exists."""
    for run in run_dirs(work_dir):
        if relative(run).is_file():
            return relative(run)
    return None
