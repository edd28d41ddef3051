"""Checks where the explorer's ranked list is scrolled.

  tui_rank_view.py SCREEN.txt

SCREEN.txt is the terminal's text (tmux capture-pane) with the ranked list
open.  The cursor's component is the one the detail panel names.  Where its
entry is on the first page of the list (its rank at most the number of
entries the panel shows), the panel must show the list from entry 1: no
entry may be hidden above while there is room for it.  Prints "ok top"
when the cursor's entry is the first, "ok page R" when it is entry R > 1
of the first page, "ok below R" when it is further down (entry 1 may then
be out of view)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tui_rank_check import ENTRY  # noqa: E402

CURSOR = re.compile(r"^(L\d+H\d+|MLP\d+) \((?:layer \d+, head \d+|layer \d+'s MLP)\)")


def main():
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    cursor = next((m[1] for m in map(CURSOR.match, lines) if m), None)
    if cursor is None:
        sys.exit("no component named by the detail panel")
    shown = {}
    for line in lines:
        m = ENTRY.search(line)
        if m:
            shown[int(m[1])] = m[2]
    if not shown:
        sys.exit("no ranked entries on the screen")
    ranks = sorted(shown)
    if ranks != list(range(ranks[0], ranks[0] + len(ranks))):
        sys.exit("the entries shown are not consecutive: %r" % ranks)
    mine = [r for r, ident in shown.items() if ident == cursor]
    if not mine:
        sys.exit("the cursor's entry %s is not in view (ranks %d-%d)" % (cursor, ranks[0], ranks[-1]))
    rank = mine[0]
    if rank <= len(ranks) and ranks[0] != 1:
        sys.exit("entry %d (%s) fits the first page of %d, but the list starts at %d"
                 % (rank, cursor, len(ranks), ranks[0]))
    print("ok top" if rank == 1 else "ok page %d" % rank if rank <= len(ranks) else "ok below %d" % rank)


main()
