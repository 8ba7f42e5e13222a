"""The package's shape, read from its source: imports point one way and nothing reaches up.

- No import cycle inside `webauth/`, counting imports inside functions too (a function-level
  import hides a cycle from Python's loader, not from a reader).
- Nothing inside `webauth/` imports from the package's `__init__` (the app factory sits on top
  of everything: keys live in `keys.py`, paths in `config.py`, the CSP in `security_headers.py`),
  and code outside it takes only `create_app` from there.
- Only views know the views, and the foundation (models, crypto, OTP, config) knows no domain.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "webauth"
# The modules everything else stands on: they import nothing of webauth but each other.
FOUNDATION = {
    "webauth.config", "webauth.extensions", "webauth.models", "webauth.crypto", "webauth.otp", "webauth.otpauth",
    "webauth.clock",
}


def modules_of(package: Path) -> dict[str, Path]:
    """Every module of a package by dotted name (a package by its own name, for its `__init__`)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = modules_of(PACKAGE)


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The module an imported name lands in: itself if it is one, else its nearest enclosing module."""
    while name not in modules:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module imported from, names taken, line) for each import of webauth in the file, at any depth."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "webauth" or alias.name.startswith("webauth."):
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            if base == "webauth" or base.startswith("webauth."):
                yield base, [alias.name for alias in node.names], node.lineno


def edges(modules: dict[str, Path] = MODULES) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        for base, names, _line in imports_of(module, path):
            targets = [_resolve(f"{base}.{name}", modules) for name in names] or [_resolve(base, modules)]
            graph[module].update(target for target in targets if target != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(edges()) == []


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """The checks can fail: a cycle hidden in functions, one through relative imports, a reach into `__init__`."""
    package = tmp_path / "webauth"
    (package / "casdoor").mkdir(parents=True)
    files = {
        "__init__.py": "from webauth import admin\nROOT = 1\n",
        "admin.py": "from webauth import settings\n",
        "settings.py": "def f():\n    from webauth import casdoor\n",
        "casdoor/__init__.py": "def g():\n    from webauth import admin\n",
        "casdoor/sync.py": "from . import client\nfrom webauth import ROOT\n",
        "casdoor/client.py": "from .sync import x\n",
        "vault.py": "import webauth.otp\n",
        "otp.py": "",
    }
    for name, source in files.items():
        (package / name).write_text(source)
    modules = modules_of(package)
    assert cycles(edges(modules)) == [
        ["webauth.admin", "webauth.casdoor", "webauth.settings"],
        ["webauth.casdoor.client", "webauth.casdoor.sync"],
    ]
    assert upward_imports(modules) == ["webauth/casdoor/sync.py:2 imports ROOT from webauth"]


def _init_names() -> set[str]:
    """What `webauth/__init__.py` defines (functions, classes, assignments) and imports."""
    names: set[str] = set()
    for node in ast.parse((PACKAGE / "__init__.py").read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names - {name for name in names if f"webauth.{name}" in MODULES}


def upward_imports(modules: dict[str, Path] = MODULES) -> list[str]:
    """Imports, by a module of the package, of what its `__init__` defines (or of the bare package)."""
    offenders = []
    for module, path in modules.items():
        if module == "webauth":
            continue
        for base, names, line in imports_of(module, path):
            if base != "webauth":
                continue
            upward = [name for name in names if f"webauth.{name}" not in modules] or (["webauth"] if not names else [])
            if upward:
                where = path.relative_to(modules["webauth"].parent.parent).as_posix()
                offenders.append(f"{where}:{line} imports {', '.join(upward)} from webauth")
    return offenders


def test_nothing_in_the_package_reaches_up_into_its_init() -> None:
    assert upward_imports() == []


OUTSIDE = [
    path
    for folder in ("tests", "bench", "scripts", "migrations")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if ".venv" not in path.parts and "node_modules" not in path.parts
] + [ROOT / "wsgi.py"]


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda path: str(path.relative_to(ROOT)))
def test_code_outside_the_package_takes_only_create_app_from_its_init(path: Path) -> None:
    defined = _init_names()
    taken = [
        (node.lineno, alias.name)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and node.module == "webauth" and not node.level
        for alias in node.names
        if alias.name in defined and alias.name != "create_app"
    ]
    assert taken == []


def test_only_views_import_views() -> None:
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in edges().items()
        if module != "webauth" and not module.startswith("webauth.views")
        for target in targets
        if target.startswith("webauth.views")
    )
    assert offenders == []


def test_the_foundation_imports_nothing_above_it() -> None:
    graph = edges()
    offenders = sorted(
        f"{module} -> {target}" for module in FOUNDATION for target in graph[module] if target not in FOUNDATION
    )
    assert offenders == []


# A module past this is split along the seams it has (the developers' guide: "under about 600").
MODULE_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES
    }
    assert long == {}, f"split these along their seams: {long}"


# The caller owns the transaction ---------------------------------------------------------------

# Where a commit may be outside views and CLI commands: entry points that own a unit of work, and
# the few steps that must be durable whatever their caller does next. Keyed "module:function".
COMMIT_ALLOWED = {
    # The bridge between the cookie and the session records: a cookie never names a record that
    # is not committed, and the "last seen" touch of a GET (which commits nothing) must stick.
    "webauth.auth_session:_load_user": "the per-request 'last seen' touch, before any view runs",
    "webauth.auth_session:sign_in": "the session record is durable before the cookie names it",
    "webauth.auth_session:sign_out": "the session ends for good before the cookie forgets it",
    "webauth.proxy_auth:follow_proxy": "a before-request hook: the proxy's sign-out or refusal, before any view",
    # Durable before something that cannot roll back.
    "webauth.admin:delete_user": "the deletion is durable before the user's backups are removed",
    "webauth.passkeys.challenges:consume": "a spent challenge stays spent when the caller rolls back (replay)",
    # Cross-process locks: a lock that is not committed locks nobody else out.
    "webauth.casdoor.lease:acquire": "the sync lease, seen by other processes",
    "webauth.casdoor.lease:release": "the sync lease, freed for other processes",
    "webauth.transfer.guard:_mark": "the user's import marker, seen by other processes",
    "webauth.transfer.guard:one_import_at_a_time": "the import marker goes, whatever the import did",
    # Runner entry points: a unit of work per user, with its own transactions.
    "webauth.backups.run:backup_user": "one user's backup, with no write lock held during uploads",
    "webauth.backups.removal:attempt": "one owed removal under the user's lock, its outcome kept per file removed",
    "webauth.backups.sweep:owe_removals": "each orphan's removal owed while its user's lock is held",
    "webauth.casdoor.sync:_Sync._access_token": "Casdoor rotates refresh tokens: new ones are kept at once",
    "webauth.casdoor.sync:_Sync._sync": "the groups Casdoor names, kept before the rounds' network calls",
    "webauth.casdoor.sync:_Sync._apply": "a sync's final transaction (plan, base, marks, status)",
    "webauth.casdoor.sync:_Sync._fail": "a failed sync's status and backoff",
    "webauth.casdoor.sync:_Sync._store": "the push is remembered before it is sent to Casdoor",
}
# The callers: they own the transaction.
COMMITTING_PACKAGES = ("webauth.views", "webauth.cli")


def commits_of(path: Path) -> Iterator[tuple[str, int]]:
    """(enclosing function, line) of each `.commit()` call in a file, methods as `Class.method`."""

    def visit(node: ast.AST, scope: list[str]) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from visit(child, [*scope, child.name])
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr == "commit":
                yield ".".join(scope) or "<module>", child.lineno
            yield from visit(child, scope)

    yield from visit(ast.parse(path.read_text(), str(path)), [])


def domain_commits(modules: dict[str, Path] = MODULES) -> dict[str, list[int]]:
    """Commits outside the views and CLI commands, as {"module:function": [lines]}."""
    found: dict[str, list[int]] = {}
    for module, path in modules.items():
        if any(module == package or module.startswith(f"{package}.") for package in COMMITTING_PACKAGES):
            continue
        for function, line in commits_of(path):
            found.setdefault(f"{module}:{function}", []).append(line)
    return found


def test_domain_modules_leave_the_commit_to_their_callers() -> None:
    """The caller owns the transaction, so a view can do two domain steps in one (issue 14)."""
    unexpected = {where: lines for where, lines in domain_commits().items() if where not in COMMIT_ALLOWED}
    assert unexpected == {}, "commit in the view or command that calls these, or name the reason in COMMIT_ALLOWED"


def test_every_allowed_commit_is_still_there() -> None:
    """An exception whose commit went away is dropped from the list, so the list stays the truth."""
    assert sorted(set(COMMIT_ALLOWED) - set(domain_commits())) == []


def test_the_commit_check_finds_commits_in_functions_methods_and_nested_code(tmp_path: Path) -> None:
    package = tmp_path / "webauth"
    (package / "views").mkdir(parents=True)
    (package / "cli").mkdir()
    files = {
        "__init__.py": "",
        "users.py": "def f():\n    if x:\n        db.session.commit()\n",
        "sync.py": "class Run:\n    def go(self):\n        with s:\n            session.commit()\n",
        "views/__init__.py": "",
        "views/me.py": "def page():\n    db.session.commit()\n",
        "cli/users.py": "def command():\n    db.session.commit()\n",
    }
    for name, source in files.items():
        (package / name).write_text(source)
    assert domain_commits(modules_of(package)) == {"webauth.users:f": [3], "webauth.sync:Run.go": [4]}
