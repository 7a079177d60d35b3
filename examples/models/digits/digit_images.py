"""Pictures of digits for training and measuring the digits model, and the preprocessing they go through.

- ``preprocess(grey)`` is the numpy twin of ``to-digit-pixels.ts`` (the handler's preprocessing):
  the same steps, the same constants, so the model trains on exactly what the server feeds it.
- ``draw_digit`` renders a digit as the UI's drawing canvas makes one: strokes with a round brush of
  4-48 px on a 280x280 canvas, light on dark or dark on light, from stroke models of how people
  write each digit (two hands: ``TRAIN_HAND`` for training, ``HELD_OUT_HAND`` only for measuring).
- ``print_digit`` renders a digit in a font, as a photo or screenshot of printed text would be.

Only numpy, scipy and PIL (Debian: python3-numpy, python3-scipy, python3-pil).
"""

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy.ndimage import distance_transform_edt

# --- preprocessing: keep in step with to-digit-pixels.ts ---------------------------------------

FRAME = 64
BLOCK = FRAME // 8
FIT = 48
MAX_WIDTH = 48
INK_THRESHOLD = 0.3
MIN_CONTRAST = 32
INK_SHARE = 0.3
MAX_THICKEN = 8
MAX_THIN = 1.5


@functools.lru_cache(maxsize=4096)
def _area_weights(size, to_size):
    step = size / to_size
    weights = np.zeros((to_size, size), dtype=np.float64)
    for i in range(to_size):
        start, end = i * step, (i + 1) * step
        for j in range(math.floor(start), min(size, math.ceil(end))):
            overlap = min(end, j + 1) - max(start, j)
            if overlap > 0:
                weights[i, j] = overlap / step
    return weights


def resample_area(grid, to_width, to_height):
    height, width = grid.shape
    across = (grid.astype(np.float64) @ _area_weights(width, to_width).T).astype(np.float32)
    return (_area_weights(height, to_height) @ across).astype(np.float32)


def _crop(grid, mask):
    ys, xs = np.nonzero(mask)
    return grid[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _fit(grid, size):
    height, width = grid.shape
    scale = size / max(width, height)
    w = max(1, min(size, math.floor(width * scale + 0.5)))
    h = max(1, min(size, math.floor(height * scale + 0.5)))
    return resample_area(grid, w, h)


def _fill_height(grid):
    height, width = grid.shape
    w = max(1, min(MAX_WIDTH, math.floor(width * FRAME / height + 0.5)))
    return resample_area(grid, w, FRAME)


def _paste(grid, left, top):
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    frame[top : top + grid.shape[0], left : left + grid.shape[1]] = grid
    return frame


def _place_by_mass(grid):
    height, width = grid.shape
    mass = grid.sum(dtype=np.float64)
    mx = (grid.sum(axis=0, dtype=np.float64) * (np.arange(width) + 0.5)).sum() / mass
    my = (grid.sum(axis=1, dtype=np.float64) * (np.arange(height) + 0.5)).sum() / mass

    def offset(centre, size):
        return max(0, min(FRAME - size, math.floor(FRAME / 2 - centre + 0.5)))

    return _paste(grid, offset(mx, width), offset(my, height))


def _normalise_strokes(grid, target):
    inside = grid >= INK_THRESHOLD
    depth = distance_transform_edt(inside)
    gap = distance_transform_edt(~inside)
    signed = np.where(inside, depth - 0.5, 0.5 - gap).astype(np.float32)
    ordered = np.sort(signed.ravel())[::-1]
    level = max(-MAX_THICKEN, min(MAX_THIN, float(ordered[min(signed.size, target) - 1])))
    return (signed >= np.float32(level)).astype(np.float32)


class NoDigit(ValueError):
    pass


def preprocess(grey):
    """A grey picture (2-D uint8) -> the model's 8x8 input (float32, 0..16, ink high)."""
    grey = np.asarray(grey)
    height, width = grey.shape
    border = np.concatenate([grey[0, :], grey[height - 1, :], grey[:, 0], grey[:, width - 1]]).astype(np.int32)
    # The TS interleaves top/bottom and left/right; the median does not care about order.
    background = int(np.sort(border)[len(border) // 2])
    distance = np.abs(grey.astype(np.int32) - background)
    strongest = int(distance.max())
    if strongest < MIN_CONTRAST:
        raise NoDigit("no digit found")
    ink = (distance / strongest).astype(np.float32)
    crop = _crop(ink, ink >= INK_THRESHOLD)
    fitted = _fit(crop, FIT)
    fitted = _paste(fitted, (FRAME - fitted.shape[1]) // 2, (FRAME - fitted.shape[0]) // 2)
    strokes = _normalise_strokes(fitted, math.floor(INK_SHARE * FIT * FIT + 0.5))
    bitmap = _place_by_mass(_fill_height(_crop(strokes, strokes > 0)))
    blocks = bitmap.reshape(8, BLOCK, 8, BLOCK).sum(axis=(1, 3), dtype=np.float32)
    return (blocks * 16 / (BLOCK * BLOCK)).astype(np.float32)


# --- stroke models ------------------------------------------------------------------------------
# A digit is a list of strokes; a stroke is a polyline in a unit box (x right, y down, the digit
# about 1 tall). Arcs are ellipse sections; angles in degrees, 0 = right, 90 = down, increasing
# clockwise on screen.


def _arc(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, max(4, int(abs(a1 - a0) / 360 * n * 2))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points):
    return np.array(points, dtype=np.float64)


def _join(*parts):
    return np.concatenate(parts, axis=0)


def _ends(arc):
    return tuple(arc[0]), tuple(arc[-1])


def _two():
    top = _arc(0.35, 0.28, 0.3, 0.27, 195, 380)
    return [_join(top, _line(top[-1], (0.02, 1.0), (0.72, 1.0)))]


def _two_round():
    top = _arc(0.35, 0.28, 0.3, 0.27, 190, 360)
    neck = _arc(-0.02, 0.28, 0.67, 0.7, 0, 90)
    return [_join(top, neck, _line((-0.02, 0.98), (0.7, 1.0)))]


def _two_loop():
    top = _arc(0.35, 0.28, 0.3, 0.27, 195, 380)
    loop = _arc(0.12, 0.9, 0.1, 0.1, 270, 630)
    return [_join(top, _line(top[-1], (0.05, 0.85)), loop, _line((0.12, 1.0), (0.72, 0.98)))]


def _three():
    upper = _arc(0.33, 0.25, 0.3, 0.25, 200, 450)
    lower = _arc(0.33, 0.74, 0.34, 0.26, 270, 520)
    return [_join(upper, lower)]


def _three_flat():
    lower = _arc(0.33, 0.7, 0.34, 0.3, 250, 520)
    return [_join(_line((0.05, 0.0), (0.65, 0.0), tuple(lower[0])), lower)]


def _five(hook=True):
    bowl = _arc(0.34, 0.68, 0.33, 0.32, 205, 520)
    if hook:
        return [_join(_line((0.1, 0.0), (0.07, 0.44)), bowl), _line((0.1, 0.0), (0.68, 0.0))]
    return [_join(_line((0.68, 0.0), (0.12, 0.0), (0.07, 0.44)), bowl)]


def _six(curl=0.0):
    stem = _arc(0.62, 0.66, 0.57, 0.66, 270 + curl, 180)
    loop = _arc(0.35, 0.72, 0.3, 0.28, 180, 540)
    return [_join(stem, loop)]


def _eight_loops():
    return [_arc(0.35, 0.24, 0.25, 0.24, 0, 360), _arc(0.35, 0.74, 0.32, 0.26, 0, 360)]


def _eight_stroke():
    # One stroke: over the top to the left, down across the middle, round the bottom, back up.
    upper = _arc(0.35, 0.24, 0.26, 0.24, -30, -270)
    lower = _arc(0.35, 0.74, 0.33, 0.26, 270, 270 - 360)
    return [_join(upper, _line(tuple(upper[-1]), tuple(lower[0])), lower, _line(tuple(lower[-1]), tuple(upper[0])))]


def _nine(tail="straight"):
    loop = _arc(0.36, 0.27, 0.3, 0.27, 0, -360)
    if tail == "straight":
        return [_join(loop, _line((0.66, 0.27), (0.62, 1.0)))]
    if tail == "curved":
        return [_join(loop, _arc(0.06, 0.27, 0.6, 0.73, 0, 95))]
    return [loop, _line((0.68, 0.1), (0.66, 1.0))]


def _four(kind):
    if kind == "closed":
        return [_line((0.5, 0.0), (0.0, 0.66), (0.72, 0.66)), _line((0.52, 0.25), (0.52, 1.0))]
    if kind == "open":
        return [_line((0.1, 0.0), (0.04, 0.6), (0.72, 0.6)), _line((0.56, 0.05), (0.56, 1.0))]
    return [_line((0.5, 0.0), (0.02, 0.66), (0.72, 0.66)), _line((0.5, 0.0), (0.5, 1.0))]


def _seven(kind):
    if kind == "plain":
        return [_line((0.0, 0.0), (0.7, 0.0), (0.24, 1.0))]
    if kind == "cross":
        return [_line((0.0, 0.0), (0.7, 0.0), (0.24, 1.0)), _line((0.16, 0.52), (0.62, 0.48))]
    if kind == "hook":
        return [_line((0.0, 0.18), (0.02, 0.0), (0.7, 0.0), (0.3, 1.0))]
    return [_join(_line((0.0, 0.02), (0.7, 0.0)), _arc(-0.3, 0.0, 1.0, 1.0, 0, 60))]


def _one(kind):
    if kind == "stick":
        return [_line((0.35, 0.0), (0.33, 1.0))]
    if kind == "flag":
        return [_line((0.08, 0.25), (0.42, 0.0), (0.42, 1.0))]
    return [_line((0.1, 0.22), (0.4, 0.0), (0.4, 1.0)), _line((0.12, 1.0), (0.68, 1.0))]


def _zero(kind):
    if kind == "round":
        return [_arc(0.35, 0.5, 0.33, 0.5, 270, 630)]
    if kind == "narrow":
        return [_arc(0.3, 0.5, 0.22, 0.5, 250, 620)]
    return [_join(_arc(0.35, 0.5, 0.32, 0.5, 300, 660))]


#: How the training data writes each digit (several ways each). The held-out set is written with
#: the Hershey single-stroke fonts instead, which this code never trains on.
TRAIN_HAND = {
    0: [_zero("round"), _zero("narrow"), _zero("overlap")],
    1: [_one("stick"), _one("flag"), _one("base")],
    2: [_two(), _two_round(), _two_loop()],
    3: [_three(), _three_flat()],
    4: [_four("closed"), _four("open"), _four("joined")],
    5: [_five(True), _five(False)],
    6: [_six(0), _six(25)],
    7: [_seven("plain"), _seven("cross"), _seven("hook"), _seven("curved")],
    8: [_eight_loops(), _eight_stroke()],
    9: [_nine("straight"), _nine("curved"), _nine("apart")],
}


# --- Hershey single-stroke fonts: the held-out hand -------------------------------------------

HERSHEY_DIR = "/usr/share/hershey-fonts"
#: Single-stroke faces (one pen line per stroke, as a canvas drawing is); Debian hershey-fonts-data.
HERSHEY_FACES = ["futural", "rowmans", "scripts", "cursive"]


def hershey_digit(face, digit):
    """The strokes of a digit in a Hershey .jhf font (glyphs for ASCII 32..126, one per line)."""
    with open(f"{HERSHEY_DIR}/{face}.jhf", encoding="ascii") as f:
        line = f.read().splitlines()[16 + digit]
    count = int(line[5:8])
    pairs = line[8 : 8 + 2 * count]
    strokes, current = [], []
    for i in range(1, count):  # the first pair is the glyph's left and right bounds
        a, b = pairs[2 * i], pairs[2 * i + 1]
        if a == " " and b == "R":
            strokes.append(current)
            current = []
        else:
            current.append((ord(a) - ord("R"), ord(b) - ord("R")))
    strokes.append(current)
    arrays = [np.array(s, dtype=np.float64) for s in strokes if len(s) > 0]
    points = np.concatenate(arrays)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = high[1] - low[1]
    return [(s - low) / scale for s in arrays]


# --- rendering ----------------------------------------------------------------------------------

CANVAS = 280  # the UI's drawing canvas (draw-canvas.tsx)


def _warp(strokes, rng, amount):
    """A smooth random displacement (a hand's wobble), then slant, rotation and width changes."""
    waves = [(rng.normal(0, 2.5, 2), rng.uniform(0, 2 * np.pi), rng.normal(0, amount, 2)) for _ in range(3)]
    angle = np.radians(rng.uniform(-12, 12))
    slant = rng.uniform(-0.3, 0.3)
    widen = np.exp(rng.uniform(-0.3, 0.25))
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = []
    for s in strokes:
        s = _densify(s)
        moved = s.copy()
        for frequency, phase, size in waves:
            moved += np.sin(s @ frequency + phase)[:, None] * size
        moved[:, 0] = (moved[:, 0] + slant * (0.5 - moved[:, 1])) * widen
        out.append(moved @ rotate.T)
    return out


def _densify(stroke, step=0.02):
    points = [stroke[0]]
    for a, b in zip(stroke[:-1], stroke[1:]):
        n = max(1, int(np.linalg.norm(b - a) / step))
        points.extend(a + (b - a) * (k / n) for k in range(1, n + 1))
    return np.array(points)


def draw_digit(strokes, rng, warp=0.03, brush=None, height=None, light_ink=None):
    """A digit as the UI's canvas makes it: a round brush of 4-48 px on 280x280, either polarity.

    brush, height (px) and light_ink are random unless given."""
    strokes = _warp(strokes, rng, warp)
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    height = rng.uniform(60, 250) if height is None else height
    scale = min(height / max(span[1], 1e-6), 250 / max(span[0], 1e-6))
    brush = min(np.exp(rng.uniform(np.log(4), np.log(44))) if brush is None else brush, 0.3 * span[1] * scale)
    margin = brush / 2 + 2
    size = span * scale
    left = rng.uniform(margin, max(margin, CANVAS - size[0] - margin))
    top = rng.uniform(margin, max(margin, CANVAS - size[1] - margin))
    light_ink = rng.random() < 0.7 if light_ink is None else light_ink
    supersample = 2
    image = Image.new("L", (CANVAS * supersample, CANVAS * supersample), 0)
    pen = ImageDraw.Draw(image)
    radius = brush * supersample / 2
    for s in strokes:
        xy = [(float((x - low[0]) * scale + left) * supersample, float((y - low[1]) * scale + top) * supersample) for x, y in s]
        # A round brush, as the canvas's lineCap/lineJoin 'round': segments plus a disc at every point.
        if len(xy) > 1:
            pen.line(xy, fill=255, width=max(1, int(round(brush * supersample))))
        for x, y in xy:
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    grey = np.asarray(image.resize((CANVAS, CANVAS), Image.BOX))
    return grey if light_ink else 255 - grey


def print_digit(font_file, digit, rng):
    """A digit printed in a font: a screenshot, scan or photo of it (size, margin, tilt, blur, noise)."""
    size = int(rng.uniform(20, 150))
    font = ImageFont.truetype(font_file, size)
    left, top, right, bottom = font.getbbox(str(digit))
    pad = int(rng.uniform(2, 0.6 * size + 4))
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(image).text((pad - left, pad - top), str(digit), font=font, fill=0)
    angle = rng.uniform(-6, 6)
    if abs(angle) > 0.5:
        image = image.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    grey = np.asarray(image).astype(np.float32) / 255
    paper, ink = rng.uniform(170, 255), rng.uniform(0, 110)
    grey = ink + (paper - ink) * grey
    if rng.random() < 0.3:  # a photo's sensor noise; screenshots and scans have none
        grey = grey + rng.normal(0, rng.uniform(1, 6), grey.shape)
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    return grey if rng.random() < 0.8 else 255 - grey


#: Fonts the training data is printed in (those installed; see the README for the Debian packages).
TRAIN_FONT_GLOBS = [
    "/usr/share/fonts/truetype/dejavu/DejaVu*.ttf",
    "/usr/share/fonts/truetype/freefont/Free*.ttf",
    "/usr/share/fonts/opentype/urw-base35/*.otf",
    "/usr/share/fonts/opentype/comic-neue/*.otf",
    "/usr/share/fonts/opentype/bwht/*.otf",
    "/usr/share/fonts/truetype/fifthhorseman/*.ttf",
    "/usr/share/fonts/truetype/breip/*.ttf",
    "/usr/share/fonts/truetype/femkeklaver/*.ttf",
    "/usr/share/fonts/truetype/humor-sans/*.ttf",
    "/usr/share/fonts/truetype/rufscript/*.ttf",
]
#: Fonts kept for the held-out set only (Debian fonts-liberation).
HELD_OUT_FONT_GLOB = "/usr/share/fonts/truetype/liberation/Liberation*.ttf"
#: Not digits a person would print: symbol and dingbat faces, and old-style figures.
SKIP_FONTS = ("DejaVuMathTeXGyre", "StandardSymbols", "D050000L", "Z003")
