"""Whether a measured task ran its protocol's published recipe (:mod:`.recipe`).

Same protocol name, backbone and pre-training length are not enough for a published
number to measure the same thing as a run. A reference stands beside a task only if its
run (the ``run_info.json`` of mixedae's ``RunInfoHook`` and the logged scalars)

- held the recipe's total batch (not ``protocol.batch_mismatch=scale``d away from it),
- planned the recipe's schedule and finished it (last logged epoch / iteration),
- trained at the recipe's precision and evaluated with its resize interpolation.

Each difference is named (`total batch 512 scaled from the recipe's 1024 (lr x 0.5)`,
`schedule stopped at 40 of 100 epochs`, `precision fp32, recipe AMP fp16`). A fact the
recipe leaves out is not checked. A fact the run did not record (a ``run_info.json``
written before these fields existed, a run without train lines) is named as not
verified and does not withhold the reference.

The training facts come from the run that trained: the run the metric came from, or,
for a ``tools/test.py`` run, the newest run of the same work dir that has train lines;
the interpolation comes from the run the metric came from.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .recipe import SCHEDULE_UNITS, Recipe, show_precision, show_schedule
from .runs import is_train_line, newest_train_run, run_info, scalars


@dataclass
class Verdict:
    """What keeps a task's run from its recipe, and what could not be verified."""
    differences: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    def note(self, task: str) -> str:
        """'cls_finetune: precision fp32, recipe AMP fp16' ('' if nothing to say)."""
        if self.differences:
            return f'{task}: {"; ".join(self.differences)}'
        if self.unverified:
            return f'{task}: recipe not verified: {"; ".join(self.unverified)}'
        return ''


def training_run(run: Path) -> tuple[Optional[Path], list[dict]]:
    """The run that trained: `run` if it has train lines, else the newest run of its work
    dir that has (`run` made by tools/test.py), and its train lines."""
    lines = [r for r in scalars(run) if is_train_line(r)]
    return (run, lines) if lines else newest_train_run(run.parent)


def logged_length(run: Path, lines: list[dict], unit: str) -> int:
    """The last epoch, or iteration (train lines and validation steps), a run logged."""
    if unit == 'max_epochs':
        return max((r.get('epoch', 0) for r in lines), default=0)
    steps = [r['step'] for r in scalars(run) if not is_train_line(r) and 'step' in r]
    return max([r.get('iter', 0) for r in lines] + steps)


def recorded(record: dict, key: str, wanted: Any, label: str, verdict: Verdict) -> bool:
    """Whether the recipe states the fact (`wanted` not None) and the run recorded it
    under `key`; a fact the run did not record is named not verified."""
    if wanted is None:
        return False
    if key not in record:
        verdict.unverified.append(f'{label} not in run_info.json')
        return False
    return True


def check_batch(batch: dict, recipe: Recipe, verdict: Verdict) -> None:
    """The run's total batch (recipe_batch.py's record) against the recipe's."""
    published = recipe.value('total_batch')
    if not recorded(batch, 'total_batch', published, 'total batch', verdict):
        return
    total, held = batch['total_batch'], batch.get('recipe_total_batch', batch['total_batch'])
    if total != held:
        verdict.differences.append(f"total batch {total} scaled from the recipe's {held} "
                                   f'(lr x {batch.get("lr_scale", total / held):g})')
    elif total != published:
        verdict.differences.append(f'total batch {total}, recipe {published}')


def check_schedule(run: Optional[Path], lines: list[dict], info: dict, batch: dict,
                   recipe: Recipe, arch: Optional[str], verdict: Verdict) -> None:
    """The planned schedule (in the recipe's iterations: accumulation and scaling
    undone) against the recipe's for `arch`, and whether the run logged its end."""
    planned = info.get('schedule') or {}
    if len(planned) != 1 or not set(planned) <= set(SCHEDULE_UNITS):
        verdict.unverified.append('schedule not in run_info.json')
        return
    (unit, length), = planned.items()
    wanted = (recipe.value('schedule') or {}).get(arch)
    if wanted is not None:
        scale = batch.get('iteration_scale', 1.0) if unit == 'max_iters' else 1.0
        as_recipe = {unit: round(length / scale)}
        if as_recipe != wanted:
            verdict.differences.append(f'schedule {show_schedule(as_recipe)}, recipe '
                                       f'{show_schedule(wanted)}')
    if run is None:
        verdict.unverified.append('end of schedule: no train lines logged')
        return
    reached = logged_length(run, lines, unit)
    if reached < length:
        verdict.differences.append(f'schedule stopped at {reached} of {length} '
                                   f'{SCHEDULE_UNITS[unit]}')


def check_precision(info: dict, recipe: Recipe, verdict: Verdict) -> None:
    wanted = recipe.value('precision')
    if recorded(info, 'precision', wanted, 'precision', verdict) and \
            info['precision'] != wanted:
        verdict.differences.append(f'precision {show_precision(info["precision"])}, '
                                   f'recipe {show_precision(wanted)}')


def check_interpolation(info: dict, recipe: Recipe, verdict: Verdict) -> None:
    """Every resize of the run's evaluation pipeline against the recipe's interpolation."""
    wanted = recipe.value('interpolation')
    if not recorded(info, 'eval_resize', wanted, 'evaluation resize', verdict):
        return
    used = list(dict.fromkeys(r.get('interpolation') for r in info['eval_resize']))
    if not used:
        verdict.differences.append(f'no resize in the evaluation pipeline, recipe {wanted}')
    elif None in used:
        verdict.unverified.append('evaluation resize interpolation unknown')
    elif used != [wanted]:
        verdict.differences.append(f'evaluation resize {"/".join(used)}, recipe {wanted}')


def check_run(run: Optional[Path], recipe: Optional[Recipe], arch: Optional[str]) -> Verdict:
    """`run` (the run a task's metric came from; None if unknown) against `recipe`, the
    schedule that of `arch`."""
    verdict = Verdict()
    if run is None:
        verdict.unverified.append('run folder not recorded')
        return verdict
    recipe = recipe or Recipe()
    trained, lines = training_run(run)
    info = run_info(trained) if trained is not None else run_info(run)
    batch = info.get('batch') or {}
    check_batch(batch, recipe, verdict)
    check_schedule(trained, lines, info, batch, recipe, arch, verdict)
    check_precision(info, recipe, verdict)
    check_interpolation(run_info(run) or info, recipe, verdict)
    return verdict
