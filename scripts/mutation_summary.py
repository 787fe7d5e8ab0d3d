"""Kill rates per module of the last mutation run (`make mutation`, docs/mutation.md).

Reads `mutmut results --all true` on standard input, run in `.mutation/`. Each mutant is
sorted into one of: killed (by a failing or timed-out test run), killed on PostgreSQL (listed
in docs/mutation.md: the fakes cannot see it, the PostgreSQL tests do), equivalent (listed in
docs/mutation.md with the reason), error text (it changes only the wording of a refusal or of
an exception), or not killed. The rate is killed / (all - equivalent - error texts).
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / ".mutation" / "mutants" / "src"
NOTES = ROOT / "docs" / "mutation.md"
TARGET = 0.90

_RESULT = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+)$")
_LISTED = re.compile(r"`(orderly_core\.[^`\s]+__mutmut_\d+)`")

# Calls whose arguments from this position on are the words of a refusal or an exception.
_MESSAGE_ARGUMENTS = {
    "Forbidden": 0,
    "MoneyError": 0,
    "LookupError": 0,
    "TypeError": 0,
    "ValueError": 0,
    "fail": 1,
    "single": 1,
    "_denied_unless": 1,
}


def listed_in_notes() -> tuple[set[str], set[str]]:
    """The mutants docs/mutation.md lists as equivalent, and as killed on PostgreSQL."""
    equivalent: set[str] = set()
    on_postgres: set[str] = set()
    section: set[str] | None = None
    for line in NOTES.read_text().splitlines():
        if line.startswith("## "):
            heading = line.lower()
            if "equivalent" in heading:
                section = equivalent
            elif "postgresql" in heading:
                section = on_postgres
            else:
                section = None
        elif section is not None:
            section.update(_LISTED.findall(line))
    return equivalent, on_postgres


def _functions(module: str) -> dict[str, ast.AST]:
    path = MUTANTS / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        path = MUTANTS / Path(*module.split(".")) / "__init__.py"
    tree = ast.parse(path.read_text())
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _differences(original: ast.AST, mutant: ast.AST) -> Iterator[ast.AST]:
    """The smallest subtrees of ``original`` that the mutant changed."""
    if type(original) is not type(mutant):
        yield original
        return
    for field in original._fields:
        if field == "name" and isinstance(original, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        before, after = getattr(original, field, None), getattr(mutant, field, None)
        if not isinstance(before, list):
            before, after = [before], [after]
        if not isinstance(after, list) or len(before) != len(after):
            yield original
            return
        for old, new in zip(before, after, strict=True):
            if isinstance(old, ast.AST) and isinstance(new, ast.AST):
                yield from _differences(old, new)
            elif old != new:
                yield original
                return


def _in_message(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Raise):
            return True
        if isinstance(parent, ast.FunctionDef) and parent.name.startswith("xǁ"):
            return parent.name.split("ǁ")[-1].startswith("detail__mutmut")
        if isinstance(parent, ast.Call) and child in parent.args:
            callee = parent.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            first = 1 if name.endswith("_denied") else _MESSAGE_ARGUMENTS.get(name)
            return first is not None and parent.args.index(child) >= first
        child, parent = parent, parents.get(parent)
    return False


def changes_only_a_message(name: str, cache: dict[str, dict[str, ast.AST]]) -> bool:
    module, _, function = name.rpartition(".")
    # a method's mutants carry its class in their name: module.xǁClassǁmethod__mutmut_3
    if module not in cache:
        cache[module] = _functions(module)
    functions = cache[module]
    mutant = functions.get(function)
    original = functions.get(function.rpartition("__mutmut_")[0] + "__mutmut_orig")
    if mutant is None or original is None:
        return False
    parents = {child: node for node in ast.walk(original) for child in ast.iter_child_nodes(node)}
    changed = list(_differences(original, mutant))
    return bool(changed) and all(_in_message(node, parents) for node in changed)


def main() -> int:
    equivalent, on_postgres = listed_in_notes()
    cache: dict[str, dict[str, ast.AST]] = {}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in sys.stdin:
        found = _RESULT.match(line)
        if found is None:
            continue
        name, status = found["name"], found["status"].strip()
        module = name.split(".x_")[0].split(".xǁ")[0]
        if name in equivalent:
            kind = "equivalent"
        elif changes_only_a_message(name, cache):
            kind = "error text"
        elif status in ("killed", "timeout"):
            kind = "killed"
        elif name in on_postgres:
            kind = "killed on PostgreSQL"
        else:
            kind = "not killed"
            survivors.append(f"{name}: {status}")
        counts[module][kind] += 1

    header = ("module", "mutants", "error text", "equivalent", "killed", "on PG", "left", "rate")
    rows: list[tuple[str, ...]] = [header]
    total: Counter[str] = Counter()
    for module in sorted(counts):
        count = counts[module]
        total.update(count)
        rows.append(_row(module, count))
    rows.append(_row("all", total))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    if survivors:
        lines += ["", "Not killed (neither equivalent nor an error text):"]
        lines += [f"  {survivor}" for survivor in survivors]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _row(module: str, count: Counter[str]) -> tuple[str, ...]:
    judged = count.total() - count["equivalent"] - count["error text"]
    killed = count["killed"] + count["killed on PostgreSQL"]
    rate = f"{killed / judged:.1%}" if judged else "-"
    return (
        module.removeprefix("orderly_core."),
        str(count.total()),
        str(count["error text"]),
        str(count["equivalent"]),
        str(count["killed"]),
        str(count["killed on PostgreSQL"]),
        str(count["not killed"]),
        rate,
    )


if __name__ == "__main__":
    sys.exit(main())
