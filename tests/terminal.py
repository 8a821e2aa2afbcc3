"""A pseudo-terminal for the tests, and what a user would see on it once a command is done.

``screen`` replays what was written to the terminal (text, carriage returns, line feeds, and the escape sequences
a progress bar uses to redraw itself: cursor up, erase line, colours) and returns the lines left on the screen.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_ESCAPE = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>]")


def screen(raw: str) -> list[str]:
    """Return the lines left on a terminal after ``raw`` was written to it, trailing blanks removed."""
    lines: list[list[str]] = [[]]
    row = col = 0
    position = 0
    while position < len(raw):
        escape = _ESCAPE.match(raw, position)
        if escape:
            params, command = escape.group(1) or "", escape.group(2)
            count = int(params) if params.isdigit() else 1
            if command == "A":
                row = max(0, row - count)
            elif command == "K":
                line = lines[row]
                lines[row] = [] if params == "2" else line[:col]  # 2: the whole line; 0 (default): to its end
            elif command == "G":
                col = count - 1
            position = escape.end()
            continue
        char = raw[position]
        position += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            if row == len(lines):
                lines.append([])
        elif char >= " ":
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = char
            else:
                line.append(char)
            col += 1
    shown = ["".join(line).rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


class Terminal:
    """A pseudo-terminal of ``columns`` x 50 whose output is read, as it comes, by a thread of its own."""

    def __init__(self, columns: int = 160) -> None:
        self._master, self.slave_fd = pty.openpty()
        fcntl.ioctl(self.slave_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        self._chunks: list[bytes] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._master], [], [], 0.1)
                if ready:
                    data = os.read(self._master, 65536)
                    if not data:
                        return
                    self._chunks.append(data)
            except OSError:  # every slave side is closed and everything was read
                return

    def slave(self) -> TextIO:
        """Return a text stream on the terminal's slave side (what a program writes to), line-buffered."""
        return open(os.dup(self.slave_fd), "w", encoding="utf-8", buffering=1)

    def close(self) -> str:
        """Close the terminal once every writer is done with it; return everything written to it."""
        if not self._closed:
            self._closed = True
            os.close(self.slave_fd)
            self._reader.join(timeout=10)
            os.close(self._master)
        return b"".join(self._chunks).decode("utf-8", "replace")


@contextmanager
def terminal(columns: int = 160) -> Iterator[Terminal]:
    """Yield a pseudo-terminal; close it afterwards."""
    made = Terminal(columns)
    try:
        yield made
    finally:
        made.close()
