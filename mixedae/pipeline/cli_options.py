"""Turn a dict of config overrides into ``--cfg-options`` arguments of tools/train.py.

Nested dicts become dotted keys; every value is checked to come back unchanged through
mmengine's own ``DictAction`` parser, so what a stage runs is what the pipeline config says.
"""
from mmengine.config import DictAction


def flatten(options: dict, prefix: str = '') -> dict:
    """``{'a': {'b': 1}, 'c.d': 2}`` -> ``{'a.b': 1, 'c.d': 2}``."""
    flat = {}
    for key, value in options.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def format_value(value) -> str:
    """A value as ``DictAction`` reads it: lists ``[a,b]``, tuples ``(a,b)``."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(format_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    return str(value)


def to_cli_options(options: dict) -> list[str]:
    """``KEY=VALUE`` strings for ``--cfg-options``.

    Raises:
        ValueError: a value that ``DictAction`` would read back differently (e.g. a string
            holding spaces, commas or brackets, or a number given as a string); the
            message names the key.
    """
    args = []
    for key, value in flatten(options).items():
        text = format_value(value)
        if DictAction._parse_iterable(text) != value:
            raise ValueError(f'{key}={value!r} cannot be passed as --cfg-options '
                             f'(it would be read back as '
                             f'{DictAction._parse_iterable(text)!r})')
        args.append(f'{key}={text}')
    return args
