"""Read the config a checkpoint stores (``meta['cfg']``) as data, never as code.

mmengine writes ``Config.pretty_text`` there: Python source made of ``name = value``
lines whose values are literals and ``dict(key=value)`` calls. ``Config.fromstring`` would
execute that source (and import its ``custom_imports``, read its ``_base_`` files); here
each value is evaluated by ``ast.literal_eval`` after ``dict(...)`` calls are turned into
dict literals, so anything else (a function call, a name, an import) is refused with the
line it is on.
"""
import ast

from mmengine.config import Config


class StoredConfigError(ValueError):
    """A stored config text is not plain data."""


class _DictCallsToLiterals(ast.NodeTransformer):
    """``dict(a=1, b=x)`` -> ``{'a': 1, 'b': x}``; other calls are left for
    ``literal_eval`` to refuse."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if (isinstance(node.func, ast.Name) and node.func.id == 'dict' and not node.args
                and all(kw.arg is not None for kw in node.keywords)):
            return ast.Dict(keys=[ast.Constant(kw.arg) for kw in node.keywords],
                            values=[kw.value for kw in node.keywords])
        return node


def config_from_text(text: str, source: str) -> Config:
    """A :class:`Config` from the ``pretty_text`` of one, without executing it.

    Raises:
        StoredConfigError: naming ``source`` and the line that is not ``name = literal``.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise StoredConfigError(f'{source}: the stored config is not Python source '
                                f'(line {e.lineno}: {e.msg})') from None
    values = {}
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise StoredConfigError(f'{source}: line {statement.lineno} of the stored '
                                    'config is not a `name = value` assignment; it is read '
                                    'as data and never run')
        value = _DictCallsToLiterals().visit(statement.value)
        try:
            values[statement.targets[0].id] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise StoredConfigError(
                f'{source}: line {statement.lineno} of the stored config '
                f'({ast.get_source_segment(text, statement)[:80]!r}) is not a literal '
                'value; it is read as data and never run') from None
    return Config(values)
