"""Drives the explorer in tmux at one size and TERM and checks that its
panels fit: the grid's labels and cells stay intact with the QK panel and
the help open, nothing is drawn past the window, and the colour mode of
the TERM reads (8 colours: shades over white, never black; monochrome,
or NO_COLOR in the environment: signs, and series told apart by their
strokes in the curves' legend).

  tui_layout.py WIDTH HEIGHT TERM HEADCAL ARGS...

Prints "ok" or what went wrong (exit 1)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tmux_session import checked, keys, screen, wait_for  # noqa: E402


def grid_rows(s):
    """The grid's lines: the head numbers and one per layer, left part."""
    lines = s.split("\n")
    top = next(i for i, l in enumerate(lines) if re.match(r"L0 ", l))
    rows = [lines[top - 1]]
    for l in lines[top:]:
        if not re.match(r"L\d+ ", l):
            break
        rows.append(l)
    return rows


def check_grid(s, width, cols):
    rows = grid_rows(s)
    heads = rows[0][:5 + 4 * cols].split()
    if heads != [str(h) for h in range(cols - 1)] + ["MLP"]:
        raise AssertionError("head numbers are not intact: %r" % rows[0])
    for l, line in enumerate(rows[1:]):
        if not line.startswith("L%d " % l):
            raise AssertionError("layer label %d is not intact: %r" % (l, line))
    return [line[:5 + 4 * cols] for line in rows]


def main():
    width, height, term = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    cmd = " ".join("'%s'" % a for a in sys.argv[4:])
    def check():
        s = wait_for(lambda s: "L1 " in s and "partial" not in s, "the sweep finish", 90)
        cols = grid_rows(s)[0].split().index("MLP") + 1
        before = check_grid(s, width, cols)
        # a narrow title may have no room for "partial": the sweep is over
        # once the grid stops changing
        for _ in range(60):
            time.sleep(1)
            s = screen()
            now = check_grid(s, width, cols)
            if now == before and "partial" not in s:
                break
            before = now
        # the QK panel beside the grid, never over it
        keys("b")
        # its rows, not just its title: while the job runs, the text
        # curves can still cover "computing..." at 80 x 24
        s = wait_for(lambda s: "QK of" in s and ("query" in s or "q W_U" in s), "the QK panel's rows")
        if check_grid(s, width, cols) != before:
            raise AssertionError("the QK panel changed the grid:\n%s" % s)
        if "query" not in s and "q W_U" not in s:
            raise AssertionError("the QK panel's rows are missing:\n%s" % s)
        keys("b")
        keys("?")
        # the whole box, not just its title: the rows under it may still
        # be on their way (the curves' legend, after a restored selection)
        s = wait_for(lambda s: "explorer: keys" in s and ("Ctrl-C" in s or "more:" in s), "the help")
        # a help taller than the window scrolls: every line must be
        # reachable, down to its last (the quit key's)
        for _ in range(10):
            if "Ctrl-C" in s or "more:" not in s:
                break
            keys("Space")  # a page down that every TERM has
            time.sleep(0.2)
            s = screen(False)
        if "Ctrl-C" not in s:
            raise AssertionError("the help is cut:\n%s" % s)
        keys("Escape")
        s = wait_for(lambda s: "explorer: keys" not in s and "Ctrl-C" not in s, "the help close")
        check_grid(s, width, cols)
        coloured = screen(True)
        layer_lines = [l for l in coloured.split("\n") if re.match(r"(\x1b\[[0-9;]*m)*L\d+ ", l)]
        text = "".join(re.sub(r"\x1b\[[0-9;]*m", "", l)[5:5 + 4 * cols] for l in layer_lines)
        if term in ("xterm", "xterm-color"):
            if not re.search("[\u2591\u2592\u2588]", text):
                raise AssertionError("no shade characters in 8-colour mode: %r" % text)
            grid = "".join(re.sub(r"(\x1b\[[0-9;]*m|\s)+$", "", l.split("\u2580")[0]) for l in layer_lines)
            if re.search(r"\x1b\[([0-9;]*;)?40m", grid):
                raise AssertionError("a black cell in 8-colour mode:\n%s" % "\n".join(layer_lines))
        if term in ("vt100", "dumb", "xterm-mono") or os.environ.get("NO_COLOR"):
            if not re.search(r"[+\-]", text):
                raise AssertionError("no signs in monochrome mode: %r" % text)
            # without colours the curves differ by stroke, and the legend
            # says which: two heads selected, three distinct marks
            keys("space")
            keys("l")
            keys("space")
            legend = re.compile(r"(?:^|\s)([1-3]) (\S\S) \S+ OC ")
            s = wait_for(lambda s: len(legend.findall(s)) == 3, "three series in the legend")
            marks = dict(legend.findall(s))
            if len(set(marks.values())) != 3:
                raise AssertionError("monochrome legend marks are not distinct: %r" % marks)
            keys("u")  # the next check restores this session: leave it as found
        keys("q")
        print("ok")
        return 0

    return checked(width, height, "env TERM=%s %s --graphics text; sleep 30" % (term, cmd), check)


sys.exit(main())
