"""The code's structure, as a contract: the layers of .importlinter hold, and no module
imports itself back through others, function-level imports included."""

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("envs", "monitor", "gymapi")


def test_the_layers_hold():
    assert lint_imports(config_filename=str(BASE_DIR / ".importlinter")) == 0


def test_no_module_imports_itself_back():
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    modules = sorted(name for name in graph.modules if ".tests" not in name and ".migrations" not in name)
    cycles = [component for component in strongly_connected(graph, modules) if len(component) > 1]
    assert cycles == []


def strongly_connected(graph, modules):
    """Tarjan's components of the import graph among ``modules``."""
    index, low, stack, on_stack, components, counter = {}, {}, [], set(), [], [0]
    wanted = set(modules)

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & wanted:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            components.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return components
