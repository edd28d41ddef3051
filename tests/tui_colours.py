"""Checks the colours of the explorer's heatmap in text mode against the
diverging map computed here, from ColorBrewer's published RdBu hues and
the metric recomputed from the cache's counts (tests/ref_metrics.py).

  tui_colours.py TERM COLORTERM CACHE_DIR HEADCAL ARGS...

Runs `HEADCAL ARGS... --graphics text` in tmux (100 x 30) with TERM and
COLORTERM ("-": unset) and reads the grid's cells with their colours.
Prints "ok direct N cells" when every head's cell is the 24-bit colour of
its value (38;2 / 48;2), "ok 256 N cells" when every one is the nearest
of the 256-colour palette's indices 16-255, or what went wrong (exit 1)."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_metrics  # noqa: E402
from tmux_session import checked, screen, wait_for  # noqa: E402

# ColorBrewer RdBu, 11 classes, deep blue to deep red; the explorer puts
# pure white at the centre so that no change reads as none.
RDBU = ["053061", "2166ac", "4393c3", "92c5de", "d1e5f0", "ffffff",
        "fddbc7", "f4a582", "d6604d", "b2182b", "67001f"]
ANCHORS = [tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in RDBU]


def diverging(v, vmax):
    """v on [-vmax, vmax] as a colour, linear between evenly spaced anchors."""
    t = max(-1.0, min(1.0, v / vmax))
    pos = (t + 1) / 2 * (len(ANCHORS) - 1)
    k = min(int(pos), len(ANCHORS) - 2)
    f = pos - k
    return tuple(a + (b - a) * f for a, b in zip(ANCHORS[k], ANCHORS[k + 1]))


def xterm256(i):
    """The RGB of xterm's palette index i (16-255)."""
    if i >= 232:
        g = 8 + 10 * (i - 232)
        return (g, g, g)
    i -= 16
    level = [0, 95, 135, 175, 215, 255]
    return (level[i // 36], level[i // 6 % 6], level[i % 6])


def dist2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


def cells(line):
    """(character, background) per column of a captured line: the
    background as ("rgb", (r, g, b)), ("index", n) or None (default)."""
    out, bg, i = [], None, 0
    while i < len(line):
        m = re.match(r"\x1b\[([0-9;:]*)m", line[i:])
        if m:
            p = [int(x) if x else 0 for x in re.split("[;:]", m.group(1))]
            j = 0
            while j < len(p):
                if p[j] == 0 or p[j] == 49:
                    bg = None
                elif p[j] == 48 and p[j + 1] == 2:
                    bg = ("rgb", tuple(p[j + 2:j + 5]))
                    j += 4
                elif p[j] == 48 and p[j + 1] == 5:
                    bg = ("index", p[j + 2])
                    j += 2
                elif p[j] == 38:
                    j += 4 if p[j + 1] == 2 else 2
                elif 40 <= p[j] <= 47:
                    bg = ("index", p[j] - 40)
                j += 1
            i += m.end()
            continue
        out.append((line[i], bg))
        i += 1
    return out


def main():
    term, colorterm, cache = sys.argv[1:4]
    cmd = " ".join("'%s'" % a for a in sys.argv[4:])
    env = "env -u COLORTERM -u NO_COLOR TERM=%s" % term + ("" if colorterm == "-" else " COLORTERM=%s" % colorterm)
    def check():
        wait_for(lambda s: "L1 " in s and ("sweep done" in s or "loaded from the cache" in s), "the whole grid", 90)
        lines = screen(True).split("\n")
        plain = [re.sub(r"\x1b\[[0-9;:]*m", "", l) for l in lines]
        top = next(i for i, l in enumerate(plain) if l.startswith("L0 "))
        heads = plain[top - 1]
        # each head label ends one column before its cell's end
        ends = [m.end() for m in re.finditer(r"\S+", heads[:60])]
        labels = heads.split()[:len(ends)]
        cols = labels.index("MLP") + 1
        cw = ends[1] - ends[0]
        x0 = ends[0] + 1 - cw
        files = [f for f in glob.glob(os.path.join(cache, "*.json")) if not f.endswith(".session.json")]
        ref = ref_metrics.results(files[0])
        rows = [i - top for i in range(top, len(plain)) if re.match(r"L\d+ ", plain[i])]
        value = {}
        for l in rows:
            for c in range(cols):
                vid = "MLP%d" % l if c == cols - 1 else "L%dH%d" % (l, c)
                value[(l, c)] = ref[vid]["delta_oc"]
        scale = {}
        for mlp in (False, True):
            vs = [abs(v) for (l, c), v in value.items() if (c == cols - 1) == mlp and v is not None]
            scale[mlp] = max(vs) if vs and max(vs) > 0 else 1.0
        mode, n = None, 0
        for l in rows:
            line = cells(lines[top + l])
            for c in range(cols):
                v = value[(l, c)]
                if v is None:
                    continue
                want = diverging(v, scale[c == cols - 1])
                for x in range(x0 + c * cw, x0 + (c + 1) * cw):
                    ch, bg = line[x]
                    if bg is None:
                        raise AssertionError("L%d column %d: no background colour" % (l, c))
                    kind = "direct" if bg[0] == "rgb" else "256"
                    if mode and kind != mode:
                        raise AssertionError("cells in both 24-bit and indexed colours: %r" % bg)
                    mode = kind
                    if kind == "direct" and max(abs(a - b) for a, b in zip(bg[1], want)) > 1:
                        raise AssertionError("L%d column %d (%g): %r, want %r" % (l, c, v, bg[1], want))
                    if kind == "256":
                        best = min(dist2(xterm256(i), want) for i in range(16, 256))
                        if not 16 <= bg[1] <= 255 or dist2(xterm256(bg[1]), want) > best + 1e-9:
                            raise AssertionError("L%d column %d (%g): index %d, want the nearest to %r"
                                                 % (l, c, v, bg[1], want))
                n += 1
        print("ok %s %d cells" % (mode, n))
        return 0

    return checked(100, 30, "%s %s --graphics text; sleep 30" % (env, cmd), check)


sys.exit(main())
