#!/usr/bin/python3
"""Writes the held-out set of drawn and printed digits the digits model is measured on (never trained on).

- drawn: the Hershey single-stroke fonts (futural, rowmans, scripts, cursive; Debian
  hershey-fonts-data) drawn as the UI's canvas draws, with a wobble, slant, rotation, size,
  position, brush (4-44 px on 280x280) and polarity of their own: a hand the training data
  (digit_images.TRAIN_HAND) does not have;
- printed: the 16 Liberation faces (Sans, Sans Narrow, Serif, Mono; regular, bold, italic, bold
  italic; Debian fonts-liberation), which the training data is not printed in, at 20-150 px with
  margins, tilt, blur, noise and either polarity.

It also writes the UI's one-click examples, examples/0.png .. 9.png: each digit drawn as on the
canvas (its default 20 px brush, light on dark) in the training hand's first style.

Seeded, so a rerun writes the same files. Output, beside this file:
  held-out/digits.png   a sheet of CELL x CELL grey pictures, COLUMNS a row, in the order of
  held-out/digits.json  {"cell", "columns", "seed", "label": [...], "kind": [...], "source": [...]}

    /usr/bin/python3 examples/models/digits/make_heldout.py
"""

import glob
import json
import os

import numpy as np
from PIL import Image

import digit_images as D

SEED = 20240611
CELL = 96
COLUMNS = 20
DRAWN_PER_FACE = 8  # per digit: 4 faces x 8 = 32 drawn pictures of each digit
PRINTED_PER_FACE = 2  # per digit: 16 faces x 2 = 32 printed pictures of each digit
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "held-out")


def to_cell(grey):
    """Into a CELL x CELL square, padded with its own background, shrunk (box filter) if larger."""
    height, width = grey.shape
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    side = max(height, width)
    square = np.full((side, side), int(np.median(border)), dtype=np.uint8)
    square[(side - height) // 2 : (side - height) // 2 + height, (side - width) // 2 : (side - width) // 2 + width] = grey
    image = Image.fromarray(square)
    return np.asarray(image.resize((CELL, CELL), Image.BOX) if side != CELL else image)


def held_out_set():
    rng = np.random.default_rng(SEED)
    fonts = sorted(glob.glob(D.HELD_OUT_FONT_GLOB))
    if len(fonts) != 16:
        raise SystemExit(f"expected the 16 Liberation faces (Debian fonts-liberation), found {len(fonts)}")
    items = []
    for digit in range(10):
        for face in D.HERSHEY_FACES:
            strokes = D.hershey_digit(face, digit)
            for _ in range(DRAWN_PER_FACE):
                items.append((to_cell(D.draw_digit(strokes, rng)), {"label": digit, "kind": "drawn", "source": face}))
        for font in fonts:
            name = os.path.splitext(os.path.basename(font))[0]
            for _ in range(PRINTED_PER_FACE):
                items.append((to_cell(D.print_digit(font, digit, rng)), {"label": digit, "kind": "printed", "source": name}))
    return items


def write_examples():
    rng = np.random.default_rng(SEED + 1)
    os.makedirs(os.path.join(HERE, "examples"), exist_ok=True)
    for digit in range(10):
        grey = D.draw_digit(D.TRAIN_HAND[digit][0], rng, warp=0.015, brush=20, height=200, light_ink=True)
        Image.fromarray(grey).save(os.path.join(HERE, "examples", f"{digit}.png"), optimize=True)


def main():
    write_examples()
    items = held_out_set()
    rows = (len(items) + COLUMNS - 1) // COLUMNS
    sheet = np.full((rows * CELL, COLUMNS * CELL), 128, dtype=np.uint8)
    for i, (cell, _) in enumerate(items):
        y, x = divmod(i, COLUMNS)
        sheet[y * CELL : (y + 1) * CELL, x * CELL : (x + 1) * CELL] = cell
    os.makedirs(OUT, exist_ok=True)
    Image.fromarray(sheet).save(os.path.join(OUT, "digits.png"), optimize=True)
    with open(os.path.join(OUT, "digits.json"), "w") as f:
        metas = [meta for _, meta in items]
        columns = {key: [m[key] for m in metas] for key in ("label", "kind", "source")}
        json.dump({"cell": CELL, "columns": COLUMNS, "seed": SEED, **columns}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(items)} pictures to {OUT}")


if __name__ == "__main__":
    main()
