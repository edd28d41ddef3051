"""Runs the explorer on a pseudo-terminal that answers its probes like a
sixel terminal with a given largest image, and checks that every sixel
image it sends fits that limit.

  tui_pty_sixel.py MAX_W MAX_H COLS ROWS HEADCAL ARGS...

The terminal is COLS x ROWS cells of 10 x 20 pixels; it answers
XTSMGRAPHICS (CSI ? 2 ; 1 S) with MAX_W x MAX_H, CSI 16 t with 20 x 10 and
DA1 with attribute 4.  Each image's size is read from its raster
attributes and checked against its bands.  Prints "ok N images", then
"fallback to text" when the status bar said a panel is drawn as text and
half blocks were drawn, or what went wrong (exit 1)."""
import fcntl
import os
import pty
import re
import struct
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_session import quit, read_until  # noqa: E402

SIXEL = re.compile(rb"\x1bP[0-9;]*q(.*?)\x1b\\", re.S)
RASTER = re.compile(rb'^"(\d+);(\d+);(\d+);(\d+)')


def image_size(body):
    """Width and height of one sixel image: the raster attributes, which
    must agree with the longest band and the number of bands."""
    m = RASTER.match(body)
    if not m:
        raise ValueError("an image without raster attributes")
    w, h = int(m.group(3)), int(m.group(4))
    data = body[m.end():]
    bands = data.split(b"-")
    if bands and not bands[-1].strip():
        bands = bands[:-1]
    if (len(bands) - 1) * 6 >= h or len(bands) * 6 < h:
        raise ValueError("%d bands for a height of %d" % (len(bands), h))
    widest = 0
    for band in bands:
        for row in band.split(b"$"):
            row = re.sub(rb"#\d+(;\d+;\d+;\d+;\d+)?", b"", row)
            n = 0
            for rep, _ in re.findall(rb"(?:!(\d+))?([?-~])", row):
                n += int(rep) if rep else 1
            widest = max(widest, n)
    if widest > w:
        raise ValueError("a band %d pixels wide in an image of width %d" % (widest, w))
    return w, h


def main():
    max_w, max_h, cols, rows = (int(x) for x in sys.argv[1:5])
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[5], sys.argv[5:])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, cols * 10, rows * 20))
    os.kill(pid, 28)  # SIGWINCH: the size is set after the child started
    buf = read_until(fd, b"", lambda b: b"\x1b[c" in b, 30)
    if b"\x1b[c" not in buf:
        print("no DA1 probe: %r" % buf[-400:])
        os.kill(pid, 9)
        return 1
    if b"\x1b[?2;1S" not in buf:
        print("no XTSMGRAPHICS probe: %r" % buf[-400:])
        os.kill(pid, 9)
        return 1
    os.write(fd, b"\x1b[?2;0;%d;%dS\x1b[6;20;10t\x1b[?62;4;22c" % (max_w, max_h))
    settled = (b"sweep done", b"loaded from the cache", b" as text: ")
    buf = read_until(fd, b"", lambda b: any(s in b for s in settled), 90)
    buf = read_until(fd, buf, lambda b: False, 2)  # the frame after
    rest, wrong = quit(fd, pid, 5)
    buf += rest
    if wrong:
        print(wrong)
        return 1
    images = SIXEL.findall(buf)
    for body in images:
        try:
            w, h = image_size(body)
        except ValueError as e:
            print(e)
            return 1
        if w > max_w or h > max_h:
            print("an image of %dx%d past the terminal's %dx%d" % (w, h, max_w, max_h))
            return 1
    print("ok %d images" % len(images))
    if re.search(rb"(curves|heatmap) as text", buf) and "\u2580".encode() in buf:
        print("fallback to text")
    return 0


sys.exit(main())
