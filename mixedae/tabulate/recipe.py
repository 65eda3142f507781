"""A protocol's published recipe: the facts a run must share with it to stand beside its
published numbers, each with the primary source it was read from.

In `benchmarks/published_results.json` a protocol's `recipe` holds any of::

    "total_batch":   {"value": 64, "source": "..."}          images per optimizer step
    "precision":     {"value": "amp-fp16", "source": "..."}  fp32 / amp-fp16 / amp-bf16
    "interpolation": {"value": "bilinear", "source": "..."}  of the evaluation resize
    "schedule":      {"value": {"vit-base-p16": {"max_iters": 184375}}, "source": "..."}

A fact no primary source states is left out and named, with the reason, in the
protocol's `not_checked` (`{"precision": "..."}`): it is not checked. A protocol without a
published reference needs no recipe.
"""
from dataclasses import dataclass, field
from typing import Any, Optional

FACTS = ('total_batch', 'precision', 'interpolation', 'schedule')
PRECISIONS = {'fp32': 'fp32', 'amp-fp16': 'AMP fp16', 'amp-bf16': 'AMP bf16'}
INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')
SCHEDULE_UNITS = {'max_epochs': 'epochs', 'max_iters': 'iters'}


@dataclass(frozen=True)
class Fact:
    """One recipe fact and where it was read."""
    value: Any
    source: str


@dataclass(frozen=True)
class Recipe:
    """The checked facts of a protocol's recipe and the reasons for those left out."""
    facts: dict[str, Fact] = field(default_factory=dict)
    not_checked: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The fact's value, None where the recipe leaves it out."""
        return self.facts[name].value if name in self.facts else None


def show_precision(precision: Optional[str]) -> str:
    """'AMP fp16' for 'amp-fp16' (another recorded name as it is)."""
    return PRECISIONS.get(precision, str(precision))


def show_schedule(schedule: dict) -> str:
    """'100 epochs' for {'max_epochs': 100}."""
    (key, length), = schedule.items()
    return f'{length} {SCHEDULE_UNITS[key]}'


def check_schedule(value: Any) -> None:
    if not isinstance(value, dict) or not value:
        raise ValueError('schedule.value: expected {arch: {"max_epochs" or "max_iters": N}}')
    for arch, schedule in value.items():
        if not (isinstance(schedule, dict) and len(schedule) == 1
                and set(schedule) <= set(SCHEDULE_UNITS)
                and all(isinstance(n, int) and n > 0 for n in schedule.values())):
            raise ValueError(f'schedule.value.{arch}: expected {{"max_epochs" or '
                             f'"max_iters": a positive integer}}, got {schedule!r}')


def check_value(name: str, value: Any) -> None:
    """A ValueError naming the fact when its value is not of its kind."""
    if name == 'total_batch' and not (isinstance(value, int) and value > 0):
        raise ValueError(f'total_batch.value: {value!r} is not a positive integer')
    if name == 'precision' and value not in PRECISIONS:
        raise ValueError(f'precision.value: {value!r} is not one of {sorted(PRECISIONS)}')
    if name == 'interpolation' and value not in INTERPOLATIONS:
        raise ValueError(f'interpolation.value: {value!r} is not one of {INTERPOLATIONS}')
    if name == 'schedule':
        check_schedule(value)


def read_recipe(recipe: Any, not_checked: Any) -> Recipe:
    """A protocol's `recipe` and `not_checked` entries; every fact is either stated with
    a value and a source or named with a reason. ValueError messages name the key."""
    if not isinstance(recipe, dict) or not isinstance(not_checked, dict):
        raise ValueError('"recipe" and "not_checked" must be objects')
    unknown = sorted((set(recipe) | set(not_checked)) - set(FACTS))
    if unknown:
        raise ValueError(f'unknown fact(s) {unknown}; facts: {", ".join(FACTS)}')
    facts = {}
    for name in FACTS:
        if (name in recipe) == (name in not_checked):
            raise ValueError(f'{name}: give it in "recipe" (value and source) or name it in '
                             '"not_checked" with the reason, not both or neither')
        if name in not_checked:
            if not isinstance(not_checked[name], str) or not not_checked[name]:
                raise ValueError(f'not_checked.{name}: give the reason')
            continue
        entry = recipe[name]
        if not isinstance(entry, dict) or set(entry) != {'value', 'source'} \
                or not entry['source']:
            raise ValueError(f'recipe.{name}: expected {{"value": ..., "source": "where it '
                             'is stated"}}')
        check_value(name, entry['value'])
        facts[name] = Fact(entry['value'], entry['source'])
    return Recipe(facts, dict(not_checked))


def fact_cell(recipe: Recipe, name: str) -> str:
    """A fact for the recipe table: its value, or 'not checked'."""
    if name not in recipe.facts:
        return 'not checked'
    value = recipe.facts[name].value
    if name == 'precision':
        return show_precision(value)
    if name == 'schedule':
        return ', '.join(f'{arch} {show_schedule(s)}' for arch, s in value.items())
    return str(value)


def recipes_markdown(recipes: dict[str, Optional[Recipe]]) -> str:
    """The recipes of `recipes` (protocol id -> recipe) as a Markdown table, then each
    fact's source and each left-out fact's reason (docs/published.md)."""
    out = ['| protocol | total batch | precision | evaluation resize | schedule |',
           '|---|---:|---|---|---|']
    notes = []
    for pid, recipe in recipes.items():
        if recipe is None:
            continue
        out.append(f'| {pid} | ' + ' | '.join(fact_cell(recipe, name) for name in FACTS)
                   + ' |')
        notes += [f'- `{pid}` {name.replace("_", " ")}: {fact.source}'
                  for name, fact in recipe.facts.items()]
        notes += [f'- `{pid}` {name.replace("_", " ")} not checked: {reason}'
                  for name, reason in recipe.not_checked.items()]
    return '\n'.join(out + [''] + notes) + '\n'
