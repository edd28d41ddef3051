"""What the pseudo-terminal checks of the explorer share: reading its
output with a deadline, and quitting it with q and checking it exits 0."""
import os
import select
import time


def read_until(fd, buf, pred, timeout):
    """Appends the child's output to buf until pred(buf) or the deadline."""
    end = time.time() + timeout
    while not pred(buf) and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def quit(fd, pid, wait):
    """Presses q, reads the rest of the output for `wait` seconds and
    reaps the child: (output, None), or (output, what went wrong)."""
    os.write(fd, b"q")
    buf = read_until(fd, b"", lambda b: False, wait)
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        return buf, "still running after q"
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return buf, "exit status %r" % status
    return buf, None
