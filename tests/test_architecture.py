"""No Orderly module imports itself through other modules.

A circle of imports means no module in it can be read, tested or moved without the others:
the core's layers (import-linter's `layers` contract) keep contexts from importing upwards,
and this test keeps every package free of circles, inside a layer too. Every import counts,
those under `TYPE_CHECKING` and those inside functions included.
"""

from __future__ import annotations

import grimp
from grimp import ImportGraph

PACKAGES = ("orderly_core", "orderly_db", "orderly_http", "orderly_cli", "orderly_worker")


def _tangles(graph: ImportGraph) -> list[frozenset[str]]:
    """The strongly connected components of the graph (Tarjan's algorithm): the groups of
    modules each of which imports every other through the rest of the group."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in on_stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            component: set[str] = set()
            while module not in component:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
            found.append(frozenset(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def import_cycles(graph: ImportGraph) -> list[tuple[str, ...]]:
    """One shortest circle through each tangle, as ``(a, b, ..., a)``, a module that imports
    itself as ``(a, a)``."""
    cycles: list[tuple[str, ...]] = []
    for tangle in _tangles(graph):
        start = min(tangle)
        imported = graph.find_modules_directly_imported_by(start)
        if len(tangle) > 1:
            step = min(imported & tangle)
            back = graph.find_shortest_chain(importer=step, imported=start)
            assert back is not None, f"{step} is in {start}'s tangle but does not reach it"
            cycles.append((start, *back))
        elif start in imported:
            cycles.append((start, start))
    return sorted(cycles)


def test_no_orderly_package_has_an_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert {module.split(".")[0] for module in graph.modules} == set(PACKAGES)

    assert import_cycles(graph) == []


def test_the_cycle_finder_reports_each_circle_and_nothing_else() -> None:
    graph = ImportGraph()
    for importer, imported in [
        ("shop.orders", "shop.catalogue"),
        ("shop.catalogue", "shop.stock"),
        ("shop.stock", "shop.orders"),  # closes orders -> catalogue -> stock -> orders
        ("shop.http", "shop.orders"),  # imports into the circle, is not part of it
        ("shop.audit", "shop.clock"),
        ("shop.clock", "shop.audit"),  # a second, shorter circle
        ("shop.http", "shop.clock"),
    ]:
        graph.add_import(importer=importer, imported=imported)

    assert import_cycles(graph) == [
        ("shop.audit", "shop.clock", "shop.audit"),
        ("shop.catalogue", "shop.stock", "shop.orders", "shop.catalogue"),
    ]

    graph.remove_import(importer="shop.stock", imported="shop.orders")
    graph.remove_import(importer="shop.clock", imported="shop.audit")
    assert import_cycles(graph) == []
