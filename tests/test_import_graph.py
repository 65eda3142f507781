"""The import graph of mixedae/ (file to file, imports inside functions included, read
with ``ast``): no circle between files, and no subpackage importing one that imports it
back. Importing a module runs its packages' ``__init__`` too, but only explicit imports
are edges here: those are the dependencies the code states."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'mixedae'


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob('*.py')}


def imported(module: str, node: ast.AST) -> list[str]:
    """The project modules an import statement names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        package = module.split('.') if MODULES[module].name == '__init__.py' \
            else module.split('.')[:-1]
        base = package[:len(package) - node.level + 1] if node.level else []
        target = '.'.join(base + ([node.module] if node.module else []))
        names = [target] + [f'{target}.{a.name}' for a in node.names]
    return [n for n in names if n in MODULES and n != module]


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[module] = {target for node in ast.walk(tree)
                         if isinstance(node, (ast.Import, ast.ImportFrom))
                         for target in imported(module, node)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path around each circle found (depth-first search)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 'open'
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 'open':
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 'closed'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def subpackage(module: str) -> str:
    """``mixedae.pipeline.stages.train`` -> ``pipeline``; a top-level module is its own."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else parts[0]


def test_graph_reads_the_imports():
    graph = import_graph()
    assert 'mixedae.study.layout' in graph['mixedae.study']
    assert 'mixedae.pipeline.stages' in graph['mixedae.pipeline.plan']
    # an import inside a function counts
    assert 'mixedae.convert' in graph['mixedae.pipeline.stages.convert']


def test_no_circle_between_files():
    assert cycles(import_graph()) == []


def test_no_subpackage_imports_one_that_imports_it_back():
    edges = {(subpackage(a), subpackage(b)) for a, targets in import_graph().items()
             for b in targets if subpackage(a) != subpackage(b)}
    assert sorted((a, b) for a, b in edges if (b, a) in edges) == []


@pytest.mark.parametrize('light', ['mixedae', 'mixedae.study', 'mixedae.atomic_write',
                                   'mixedae.stats', 'mixedae.tabulate', 'mixedae.pipeline'])
def test_light_modules_import_no_model_library(light):
    """What the driver and the tables import, transitively at module level, names none of
    torch and the OpenMMLab model libraries."""
    heavy = ('torch', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'submitit', 'timm')
    todo, seen, found = [light], set(), []
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse(MODULES[module].read_text())
        for node in tree.body:   # module level only: a function imports when it runs
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name.split('.')[0] in heavy]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found += [node.module] if node.module.split('.')[0] in heavy else []
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                todo += imported(module, node)
    assert found == []
