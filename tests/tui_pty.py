"""Runs the explorer on a pseudo-terminal and checks what it draws, that q
quits with status 0 and that the terminal is given back (the alternate
screen left).  MODE:
  sixel      (--graphics sixel) the output holds a sixel image, DCS P..q..ST
  da1-sixel  answers the DA1 probe with attribute 4: a sixel image
  da1-text   answers without 4: half blocks and no sixel image
  mouse:X:Y:KEYS  once the sweep is done, types KEYS and clicks cell
             (X, Y) (0-based) with button 1, as xterm reports it (SGR 1006)
Usage: tui_pty.py MODE HEADCAL ARGS...  (prints what went wrong, exit 1)."""
import fcntl
import os
import pty
import re
import struct
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_session import quit, read_until  # noqa: E402

SIXEL = re.compile(rb"\x1bP[0-9;]*q.*?\x1b\\", re.S)


def main():
    mode = sys.argv[1]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.argv[2], sys.argv[2:])
    # 140 x 45 cells of 10 x 20 pixels
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 140, 1400, 900))
    os.kill(pid, 28)  # SIGWINCH: the size is set after the child started
    buf = b""
    if mode.startswith("da1"):
        buf = read_until(fd, buf, lambda b: b"\x1b[c" in b, 30)
        if b"\x1b[c" not in buf:
            print("no DA1 probe: %r" % buf[-400:])
            os.kill(pid, 9)
            return 1
        os.write(fd, b"\x1b[?62;4;22c" if mode == "da1-sixel" else b"\x1b[?62;22c")
    if mode.startswith("mouse:"):
        _, x, y, keys = mode.split(":", 3)
        buf = read_until(fd, buf, lambda b: b"sweep done" in b or b"loaded from the cache" in b, 60)
        os.write(fd, keys.encode())
        read_until(fd, b"", lambda b: False, 0.5)
        for end in b"Mm":
            os.write(fd, b"\x1b[<0;%d;%d%c" % (int(x) + 1, int(y) + 1, end))
            time.sleep(0.05)
        read_until(fd, b"", lambda b: False, 0.5)
    elif mode == "da1-text":
        buf = read_until(fd, buf, lambda b: b"sweep done" in b, 60)
        if SIXEL.search(buf) or "\u2580".encode() not in buf:
            print("expected half blocks and no sixel: %r" % buf[-400:])
            os.kill(pid, 9)
            return 1
    else:
        buf = read_until(fd, buf, lambda b: SIXEL.search(b), 60)
        if not SIXEL.search(buf):
            print("no sixel image in %d bytes of output: %r" % (len(buf), buf[-400:]))
            os.kill(pid, 9)
            return 1
    buf, wrong = quit(fd, pid, 10)
    if wrong:
        print(wrong)
        return 1
    if b"\x1b[?1049l" not in buf:
        print("the alternate screen was not left: %r" % buf[-200:])
        return 1
    print("ok")
    return 0


sys.exit(main())
