"""Training curves of a study's pre-training runs, from their logged scalars.

One figure per study: ``loss``, ``loss_rec``, ``loss_hc`` and ``homo_acc`` against the
iteration, one line per method, read from ``ROOT/<method>/pretrain/<run>/vis_data/
scalars.json``. A method that logs ``loss`` and no other ``loss_*`` term (mmpretrain's
MAE) has its loss drawn in the ``loss_rec`` panel too, labelled so: it is its pixel
reconstruction loss. ``homo_acc`` gets the chance level 1/r of every mix ratio r found in
the runs' configs (``vis_data/config.py``, read as text: its ``mix_ratio`` literal).
"""
import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..study import SCALARS, run_dirs
from .runs import is_train_line, read_json_lines
from .plots import empty, new_figure, save_figure

PANELS = ('loss', 'loss_rec', 'loss_hc', 'homo_acc')


@dataclass
class Curves:
    """Logged training scalars of one method: key -> (iterations, values)."""
    method: str
    series: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    mix_ratio: Optional[int] = None

    def only_loss(self) -> bool:
        """Logs ``loss`` and no other loss term (its loss is its reconstruction loss)."""
        return 'loss' in self.series and not any(
            k.startswith('loss_') for k in self.series)


def train_history(task_dir: Path) -> list[dict]:
    """Train lines of every run of a task, oldest run first; a later run (a resume or a
    restart) replaces the earlier lines from its first iteration on."""
    lines: list[dict] = []
    for run in reversed(run_dirs(task_dir)):
        path = run / SCALARS
        if not path.is_file():
            continue
        new = [r for r in read_json_lines(path) if is_train_line(r) and 'iter' in r]
        if new:
            lines = [r for r in lines if r['iter'] < new[0]['iter']] + new
    return lines


def literal_mix_ratio(config: Path) -> Optional[int]:
    """The ``mix_ratio=<int>`` of a dumped config, parsed without running the file."""
    try:
        tree = ast.parse(config.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'mix_ratio':
            value = node.value
        elif isinstance(node, ast.Dict):
            value = next((v for k, v in zip(node.keys, node.values)
                          if isinstance(k, ast.Constant) and k.value == 'mix_ratio'), None)
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            return value.value
    return None


def read_curves(method_dir: Path) -> Optional[Curves]:
    """The pre-training curves of ``ROOT/<method>/`` (None without logged train lines)."""
    task_dir = method_dir / 'pretrain'
    if not task_dir.is_dir():
        return None
    lines = train_history(task_dir)
    if not lines:
        return None
    curves = Curves(method_dir.name)
    for key in PANELS:
        points = [(r['iter'], float(r[key])) for r in lines if key in r]
        if points:
            curves.series[key] = tuple(map(list, zip(*points)))
    for run in run_dirs(task_dir):
        if (r := literal_mix_ratio(run / 'vis_data' / 'config.py')) is not None:
            curves.mix_ratio = r
            break
    return curves


def study_curves(root: Path) -> list[Curves]:
    """Curves of every method of a study root that logged pre-training."""
    found = [read_curves(p) for p in sorted(root.iterdir()) if p.is_dir()]
    return [c for c in found if c is not None]


def plot_training_curves(curves: list[Curves], path: Path, title: str = '') -> None:
    """Four panels (loss, loss_rec, loss_hc, homo_acc with 1/r) against iterations."""
    fig = new_figure(16, 4)
    axes = fig.subplots(1, len(PANELS))
    colours = {c.method: f'C{i % 10}' for i, c in enumerate(curves)}
    for ax, key in zip(axes, PANELS):
        ax.set_title(key, fontsize=10)
        drawn = False
        for c in curves:
            if key in c.series:
                ax.plot(*c.series[key], color=colours[c.method], label=c.method, lw=1.2)
                drawn = True
            elif key == 'loss_rec' and c.only_loss():
                ax.plot(*c.series['loss'], color=colours[c.method], lw=1.2, ls='--',
                        label=f'{c.method} (loss: its only term)')
                drawn = True
        if key == 'homo_acc' and drawn:
            for r in sorted({c.mix_ratio for c in curves if c.mix_ratio}):
                ax.axhline(1 / r, color='grey', ls=':', lw=1,
                           label=f'chance 1/r = 1/{r}')
        if not drawn:
            empty(ax, f'no method logged {key}')
            continue
        ax.set_xlabel('iteration')
        ax.legend(fontsize=7)
    fig.suptitle(f'Pre-training curves{": " + title if title else ""} '
                 '(logged scalars, vis_data/scalars.json)', fontsize=10)
    save_figure(fig, path, dpi=110)
