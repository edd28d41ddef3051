"""What the tmux checks of the explorer share: a tmux server of their own
(its socket named after the process), the screen as text, with or without
its colours, keys, and waiting with a deadline."""
import os
import subprocess
import time

SOCK = "headcal-check-%d" % os.getpid()


def tmux(*args):
    return subprocess.run(["tmux", "-L", SOCK] + list(args), capture_output=True, text=True).stdout


def start(width, height, command):
    """A detached window of width x height running command (a shell line)."""
    tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height), command)


def stop():
    tmux("kill-server")


def checked(width, height, command, check):
    """Runs check() against a window running command, closed afterwards
    whatever happens; a failed check is printed and gives 1."""
    start(width, height, command)
    try:
        return check()
    except AssertionError as e:
        print(e)
        return 1
    finally:
        stop()


def screen(colours=False):
    return tmux("capture-pane", "-p", "-t", "0", *(["-e"] if colours else []))


def wait_for(pred, what, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        s = screen()
        if pred(s):
            return s
        time.sleep(0.1)
    raise AssertionError("never saw %s:\n%s" % (what, screen()))


def keys(*k):
    tmux("send-keys", "-t", "0", *k)
