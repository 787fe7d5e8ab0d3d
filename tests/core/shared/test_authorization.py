"""Who may do what is decided in ``orderly_core.shared.authorization``, and nowhere else.

Every other module of the core asks that module; none compares an actor's kind or role
itself. ``shared/context.py`` defines the kinds and roles and may compare them. The scan
reads the source with ``ast``, so comments, docstrings and plain uses such as
``Role.CUSTOMER`` as a value are not comparisons.
"""

from __future__ import annotations

import ast
from pathlib import Path

import orderly_core

CORE = Path(orderly_core.__file__).parent
ALLOWED = frozenset({CORE / "shared" / "authorization.py", CORE / "shared" / "context.py"})
ENUMS = frozenset({"ActorKind", "Role"})
COMPARISONS = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot, ast.In, ast.NotIn)


def _names_a_member(node: ast.expr) -> bool:
    """``ActorKind.USER``, ``context.Role.ADMIN``, or a tuple, list or set holding one."""
    if isinstance(node, ast.Attribute):
        owner = node.value
        return (isinstance(owner, ast.Name) and owner.id in ENUMS) or (
            isinstance(owner, ast.Attribute) and owner.attr in ENUMS
        )
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_member(item) for item in node.elts)
    return False


def actor_comparisons(source: str, filename: str = "<source>") -> list[str]:
    """Each comparison (or ``case``) with a member of ``ActorKind`` or ``Role`` in ``source``,
    as ``file:line: code``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.MatchValue) and _names_a_member(node.value):
            found.append(f"{filename}:{node.lineno}: case {ast.unparse(node.value)}")
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if isinstance(op, COMPARISONS) and (_names_a_member(left) or _names_a_member(right)):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
                break
    return found


def test_the_scan_finds_every_shape_of_comparison() -> None:
    snippet = """
if ctx.actor.kind is ActorKind.USER: ...
if actor.role != Role.ADMIN: ...
if ActorKind.SYSTEM == actor.kind: ...
if actor.kind in (ActorKind.OPERATOR, ActorKind.SYSTEM): ...
if actor.role not in {context.Role.STAFF}: ...
if 0 < n and actor.kind is not ActorKind.ANONYMOUS: ...
match actor.kind:
    case ActorKind.USER: ...
"""
    assert [line.split(":")[1] for line in actor_comparisons(snippet)] == [
        "2", "3", "4", "5", "6", "7", "9"
    ]  # fmt: skip


def test_the_scan_ignores_values_that_are_not_compared() -> None:
    snippet = """
NewUser(email, password, name, Role.CUSTOMER)
actor = Actor(ActorKind.USER, "u-1")
if status is OrderStatus.SHIPPED: ...
\"\"\"Compare with `actor.kind is ActorKind.USER` in the authorization module.\"\"\"
"""
    assert actor_comparisons(snippet) == []


def test_no_module_of_the_core_but_authorization_compares_actors() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert CORE / "orders" / "steps.py" in modules  # the scan reads the whole core

    found = [
        comparison
        for module in modules
        if module not in ALLOWED
        for comparison in actor_comparisons(module.read_text(), str(module.relative_to(CORE)))
    ]

    assert found == []
