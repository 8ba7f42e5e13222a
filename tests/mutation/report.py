"""The kill rate of `make mutation`, per mutated module, from the results mutmut left in `mutants/`.

Killed counts a mutant a test failed on (or that timed out: a mutant that loops is caught);
every other outcome (survived, no tests) counts against the module. Survivors are listed so
that each is either killed by a new test or named in tests/mutation/EQUIVALENT.md;
`--diffs` shows what each survivor changed.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

GOAL = 90.0
CAUGHT = {"killed", "timeout", "caught by type check"}
EQUIVALENT_LIST = Path(__file__).with_name("EQUIVALENT.md")


def equivalent_names() -> set[tuple[str, str]]:
    """(module path, mutant) for each mutant EQUIVALENT.md names under that module's heading.

    A mutant is written `x_function__mutmut_N`, or `_N` after a named one of the same function.
    """
    names: set[tuple[str, str]] = set()
    module = ""
    for line in EQUIVALENT_LIST.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            module = line[3:].strip()
            continue
        last = ""
        for token in re.findall(r"`([^`]+)`", line):
            if "__mutmut_" in token:
                last = token
                names.add((module, token))
            elif re.fullmatch(r"_\d+", token) and last:
                names.add((module, last.rsplit("_", 1)[0] + token))
    return names


def main(show_diffs: bool = False) -> int:
    if not Path("mutants").is_dir():
        print("No mutants/ folder: run `make mutation` first.")
        return 1
    rows: list[tuple[str, int, int, Counter[str]]] = []
    survivors: list[tuple[str, str, str]] = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses = Counter(status_by_exit_code[code] for code in data.exit_code_by_key.values())
        total = sum(statuses.values())
        if not total:
            continue
        caught = sum(statuses[status] for status in CAUGHT)
        rows.append((str(path), caught, total, statuses))
        survivors += sorted(
            (name, str(path), status_by_exit_code[code])
            for name, code in data.exit_code_by_key.items()
            if status_by_exit_code[code] not in CAUGHT
        )
    equivalent = equivalent_names()
    listed = {
        path: sum(1 for name, where, _ in survivors if where == path and (path, name.split(".")[-1]) in equivalent)
        for path, *_ in rows
    }
    print(f"{'module':40} {'killed':>7} {'total':>6} {'rate':>7} {'equiv.':>6} {'rate without':>13}  goal {GOAL:g}%")
    below = []
    for path, caught, total, statuses in rows:
        rate = 100 * caught / total
        adjusted = 100 * caught / max(total - listed[path], 1)
        other = ", ".join(f"{count} {status}" for status, count in statuses.items() if status not in CAUGHT)
        mark = "" if adjusted >= GOAL else "  below goal"
        below += [path] if adjusted < GOAL else []
        print(f"{path:40} {caught:7} {total:6} {rate:6.1f}% {listed[path]:6} {adjusted:12.1f}%{mark}  {other}")
    caught_all, total_all = sum(row[1] for row in rows), sum(row[2] for row in rows)
    print(f"{'all':40} {caught_all:7} {total_all:6} {100 * caught_all / max(total_all, 1):6.1f}%")
    if survivors:
        print("\nNot killed, and not listed in tests/mutation/EQUIVALENT.md:")
        for name, path, status in survivors:
            if (path, name.split(".")[-1]) in equivalent:
                continue
            print(f"  {name}" + ("" if status == "survived" else f"  ({status})"))
            if show_diffs:
                changed = get_diff_for_mutant(name, path=path).splitlines()
                shown = [line for line in changed if line[:1] in "+-" and line[:3] not in ("+++", "---")]
                print("\n".join(f"      {line}" for line in shown))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(show_diffs="--diffs" in sys.argv[1:]))
