"""Tabulate MixedAE studies: measured metrics from mmengine work dirs next to published ones.

Work-dir convention. Each study root passed to `tools/tabulate.py` is laid out as::

    ROOT/<method>/<task>/<YYYYmmdd_HHMMSS>/      one mmengine run (its `log_dir`)
        vis_data/scalars.json                    JSON lines: train lines (lr, time, iter,
                                                 [epoch], loss..., step), val lines (metrics, step)
        <YYYYmmdd_HHMMSS>.json                   test metrics, one dict (after tools/test.py)

i.e. the runner's `work_dir` is `ROOT/<method>/<task>`. `<method>` is any folder name
(`mae` is the baseline unless told otherwise, e.g. `naive_mix`, `mixedae`); `<task>` is one of

- `pretrain`: the logged step time (median `time`, s/iter, for information) and the
  training curves (`training_curves.png`); the cost column comes from the study's cost
  stage, `ROOT/cost/step_time.json` (:mod:`.cost`), blank without it;
- `cls_finetune`, `cls_linear`: `accuracy/top1` (mmpretrain, percent);
- `det_coco`: `coco/bbox_mAP`, `coco/segm_mAP` (mmdet CocoMetric, fractions; shown x100);
- `seg_ade20k`: `mIoU` (mmseg IoUMetric, percent).

A metric comes from the newest run that holds it: its test results, else its last
validation line; the protocol it was measured with comes from that run's `run_info.json`
(written by `mixedae.engine.RunInfoHook` from the config's `protocol.name`). Step times,
the schedule label (`2 iters`, `1 epoch`) and, for pre-training, the backbone and the
length of a finished epoch schedule come from the newest run that has train lines.

Each study's measured rows (`measured (<schedules>)`, with `; weights FILE sha256:PREFIX`
for a method the pipeline was given as a checkpoint) are followed by the published
references of `benchmarks/published_results.json` that measured the same thing: same
protocol as one of the row's tasks, same backbone, same pre-training length, and a run of
that task that matched the protocol's recipe (:mod:`.protocol_check`: total batch,
finished schedule, precision, evaluation resize; the row's note names each difference).
They are labelled `published (<protocol>)`, or `derived (<protocol>)` where a paper's
published delta was added to the reference of that same protocol. Missing values stay
blank.

Runs made elsewhere (e.g. with mmseg's own `tools/train.py`: `work_dirs/<cfg>/<timestamp>/`)
join a table one by one, `runs[method][task] = <run folder or work_dir>`: they take the
place of that task in the first study root, or form a study of their own without one.
"""
import re
from pathlib import Path
from typing import Optional

from ..atomic_write import write_atomically
from .collect import collect
from .curves import plot_training_curves, study_curves
from .plots import plot_accuracy_vs_cost, plot_deltas
from .published import Published, load_published, matching_references
from .render import references_markdown, to_csv, to_latex, to_markdown, to_text
from .rows import METRICS, Metric, Row, TabulateError
from .uncertainty import Bootstrap, add_intervals

__all__ = ['METRICS', 'Bootstrap', 'Metric', 'Published', 'Row', 'TabulateError', 'collect',
           'load_published', 'matching_references', 'references_markdown', 'study_rows',
           'tabulate', 'to_csv', 'to_latex', 'to_markdown', 'to_text']


def study_rows(roots: list[Path], published: Path, baseline: str = 'mae',
               runs: Optional[dict[str, dict[str, Path]]] = None,
               bootstrap: Optional[Bootstrap] = None) -> list[Row]:
    """Every root's measured rows (and `runs`, see above) with their intervals, each
    study followed by the published references of the same protocols and pre-training
    length."""
    labels = study_labels(roots)
    studies = [collect(root, baseline, label, runs if index == 0 else None)
               for index, (root, label) in enumerate(zip(roots, labels))]
    if not roots:
        studies = [collect(None, baseline, '', runs or {})]
    references = load_published(published)
    rows = []
    for measured in studies:
        add_intervals(measured, bootstrap)
        rows += measured + matching_references(measured, references)
    return rows


def study_labels(roots: list[Path]) -> list[str]:
    """Row-name prefixes: none for one study, else the folder names (or paths)."""
    labels = [root.name for root in roots] if len(roots) > 1 else ['']
    return labels if len(set(labels)) == len(labels) else [str(root) for root in roots]


def tabulate(roots: list[Path], published: Path, out_dir: Path, baseline: str = 'mae',
             runs: Optional[dict[str, dict[str, Path]]] = None,
             bootstrap: Optional[Bootstrap] = None) -> tuple[str, list[Path]]:
    """Collect every root (and `runs`, see above) with the intervals `bootstrap` draws,
    put beside each study the published references of the same protocols and
    pre-training length, write tables and plots to `out_dir`; return (text table, paths)."""
    labels = study_labels(roots)
    titles = {p.id: p.title for p in load_published(published).protocols.values()}
    rows = study_rows(roots, published, baseline, runs, bootstrap)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = to_text(rows, titles)
    written = []
    for name, content in (('results.md', to_markdown(rows, titles)),
                          ('results.csv', to_csv(rows)),
                          ('results.tex', to_latex(rows, titles))):
        write_atomically(out_dir / name, content)   # a reader never sees half a table
        written.append(out_dir / name)
    for name, plot in (('deltas_vs_mae.png', plot_deltas),
                       ('accuracy_vs_cost.png', plot_accuracy_vs_cost)):
        plot(rows, out_dir / name)
        written.append(out_dir / name)
    for root, label in zip(roots, labels):   # one figure of training curves per study
        name = f'training_curves_{re.sub(r"[^A-Za-z0-9_.-]", "_", label)}.png' if label \
            else 'training_curves.png'
        plot_training_curves(study_curves(root), out_dir / name, label or root.name)
        written.append(out_dir / name)
    return text, written
