"""A confusion matrix as a PNG, written with zlib alone (no plotting library in the base install).

Rows are the gold labels, columns the predictions (numbered as the rows); each cell shows its
count on a blue scale of the row's share, the diagonal in green. Text uses a built-in 5x7 font.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

# 5x7 glyphs, one string of 7 rows of 5 bits per character (lower case draws as upper case).
_FONT_ROWS = {
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
    "_": "00000 00000 00000 00000 00000 00000 11111", "-": "00000 00000 00000 11111 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100", ",": "00000 00000 00000 00000 01100 00100 01000",
    ":": "00000 01100 01100 00000 01100 01100 00000", "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000", "/": "00001 00010 00010 00100 01000 01000 10000",
    "%": "11000 11001 00010 00100 01000 10011 00011", "=": "00000 00000 11111 00000 11111 00000 00000",
    " ": "00000 00000 00000 00000 00000 00000 00000", "?": "01110 10001 00001 00010 00100 00000 00100",
}
FONT = {ch: np.array([[bit == "1" for bit in row] for row in rows.split()], dtype=bool)
        for ch, rows in _FONT_ROWS.items()}
SCALE = 2
CHAR_W, CHAR_H = 6 * SCALE, 8 * SCALE
CELL = 44
MARGIN = 12


def _text(canvas: np.ndarray, x: int, y: int, text: str, colour: tuple[int, int, int]) -> None:
    for i, ch in enumerate(text):
        glyph = FONT.get(ch.upper(), FONT["?"])
        big = np.kron(glyph, np.ones((SCALE, SCALE), dtype=bool))
        left = x + i * CHAR_W
        region = canvas[y : y + big.shape[0], left : left + big.shape[1]]
        region[big[: region.shape[0], : region.shape[1]]] = colour


def _png(image: np.ndarray) -> bytes:
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[row].astype(np.uint8).tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def confusion_png(path: str | Path, labels: list[str], matrix: np.ndarray, title: str) -> None:
    """Write the confusion matrix (rows gold, columns predicted) as a PNG at `path`."""
    count = len(labels)
    names = [f"{i + 1} {label}" for i, label in enumerate(labels)]
    left = MARGIN + max(len(n) for n in names) * CHAR_W + MARGIN
    top = MARGIN + 2 * CHAR_H + MARGIN + CHAR_H + 6
    caption = "rows: gold label. colour: share of the row"
    width = max(left + count * CELL + MARGIN, MARGIN * 2 + max(len(title), len(caption)) * CHAR_W)
    height = top + count * CELL + MARGIN + CHAR_H + MARGIN
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    black = (30, 30, 30)
    _text(canvas, MARGIN, MARGIN, title, black)
    _text(canvas, left, MARGIN + CHAR_H + 6, "predicted", (90, 90, 90))
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    for j in range(count):
        label = str(j + 1)
        _text(canvas, left + j * CELL + (CELL - len(label) * CHAR_W) // 2, top - CHAR_H - 4, label, black)
    for i, name in enumerate(names):
        y = top + i * CELL
        _text(canvas, MARGIN, y + (CELL - CHAR_H) // 2 + SCALE, name, black)
        for j in range(count):
            x = left + j * CELL
            base = np.array((46, 160, 67) if i == j else (33, 102, 172), dtype=float)
            colour = (255 - share[i, j] * (255 - base)).astype(np.uint8)
            canvas[y + 1 : y + CELL - 1, x + 1 : x + CELL - 1] = colour
            value = str(int(matrix[i, j]))
            ink = (255, 255, 255) if share[i, j] > 0.55 else black
            _text(canvas, x + (CELL - len(value) * CHAR_W) // 2 + SCALE, y + (CELL - CHAR_H) // 2 + SCALE, value, ink)
    _text(canvas, MARGIN, height - MARGIN - CHAR_H, caption, (90, 90, 90))
    Path(path).write_bytes(_png(canvas))
