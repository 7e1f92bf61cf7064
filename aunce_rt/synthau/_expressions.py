"""The 12 Action Units as deformations of the face: landmark moves, skin bulges, wrinkles.

Each AU has a visible signature that follows its FACS description (Ekman, Friesen
& Hager 2002), scaled by a continuous intensity in [0, 1]:

    AU1  inner brow points up; horizontal forehead lines in the centre.
    AU2  outer brow points up; forehead lines at the sides.
    AU4  brows down and drawn together; vertical glabella lines, bunching.
    AU6  cheeks up: lower lids pushed up from below, cheek bulge, crow's feet,
         infraorbital furrow.
    AU7  lids tightened: lower lid raised and straightened, upper lid lowered.
    AU10 upper lip and nostril wings up; deeper nasolabial fold.
    AU12 lip corners up and out; nasolabial fold, cheek bulge.
    AU14 lip corners tightened inwards; dimples beside the corners.
    AU15 lip corners down; short lines below them.
    AU17 lower lip and chin boss pushed up; chin bulge, deeper mentolabial
         furrow, chin-boss wrinkles.
    AU23 lips tightened: red parts narrowed, mouth slightly narrower.
    AU24 lips pressed together: thinner lips, bulges above and below them.

All lengths are mm in the face frame (see ``_face``). Displacements are sized so
that an apex (intensity 1) moves a feature by a few mm: clearly visible at 224 px
but far smaller than the changes that pose, identity and lighting make.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SUPPORTED_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


@dataclass(frozen=True)
class Wrinkle:
    """A soft dark line on the skin.

    Attributes:
        points: (P, 2) polyline in the face frame (mm).
        width: line width in mm.
        strength: darkness in [0, 1].
    """

    points: np.ndarray
    width: float
    strength: float


@dataclass(frozen=True)
class Expression:
    """A face with its AUs applied.

    Attributes:
        shape: (68, 2) landmark positions in the face frame.
        bumps: (B, 5) skin bulges (see ``_face.gaussian_bumps``).
        wrinkles: wrinkles to draw.
        gap: opening between the lips in mm (0 = closed).
    """

    shape: np.ndarray
    bumps: np.ndarray
    wrinkles: tuple[Wrinkle, ...]
    gap: float


def _arc(x0: float, x1: float, y: float, bend: float, n: int = 9) -> np.ndarray:
    """Polyline from (x0, y) to (x1, y) bowing by ``bend`` mm (negative = up in the middle)."""
    t = np.linspace(0.0, 1.0, n)
    return np.stack([x0 + (x1 - x0) * t, y + bend * 4.0 * t * (1.0 - t)], axis=1)


def _line(a: tuple[float, float], b: tuple[float, float], n: int = 4) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.asarray(a) * (1.0 - t) + np.asarray(b) * t


def close_eyes(expr: Expression, closure: float) -> Expression:
    """``expr`` with both upper lids lowered: 0 = as is, 1 = shut (on the lower lid).

    The iBUG-68 upper-lid points (37, 38 and 43, 44) move towards the lower-lid points
    below them (41, 40 and 47, 46), so the eye opening the renderer fills shrinks to
    nothing; AU45 (blink) and AU43 (eyes closed) when at 1.
    """
    c = min(max(float(closure), 0.0), 1.0)
    if c == 0.0:
        return expr
    shape = expr.shape.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        shape[upper] = shape[upper] + c * (shape[lower] - shape[upper])
    return replace(expr, shape=shape)


def apply_aus(shape: np.ndarray, intensity: dict[int, float], chin_pattern: np.ndarray) -> Expression:
    """Deform a neutral face by AU intensities.

    Args:
        shape: (68, 2) neutral landmarks (mm, face frame).
        intensity: AU code -> intensity in [0, 1]; missing codes are 0.
        chin_pattern: (M, 2) unit-square offsets of the chin-boss dimples (per identity).

    Returns:
        The deformed landmarks with the AUs' bulges and wrinkles.
    """
    p = shape.astype(np.float64).copy()
    s0 = shape
    bumps: list[tuple[float, float, float, float, float]] = []
    wr: list[Wrinkle] = []
    a = {code: float(np.clip(intensity.get(code, 0.0), 0.0, 1.0)) for code in SUPPORTED_AUS}
    brow_y = float(s0[17:27, 1].mean())
    ey = float(s0[36:48, 1].mean())
    r_corner, l_corner = s0[48], s0[54]

    def move(idx: list[int], dx: float, dy: float, mirror: bool = True) -> None:
        for i in idx:
            sign = 1.0 if (not mirror or s0[i, 0] >= 0) else -1.0
            p[i, 0] += sign * dx
            p[i, 1] += dy

    if a[1]:
        v = a[1]
        move([21, 22], 0.0, -7.0 * v)
        move([20, 23], 0.0, -5.0 * v)
        move([19, 24], 0.0, -2.5 * v)
        move([18, 25], 0.0, -0.8 * v)
        for k, dy in enumerate((-13.0, -20.0, -27.0)):
            wr.append(Wrinkle(_arc(-20.0 + 3 * k, 20.0 - 3 * k, brow_y + dy - 3.0 * v, -2.5), 0.9, 0.75 * v))
    if a[2]:
        v = a[2]
        move([17, 26], 0.0, -7.0 * v)
        move([18, 25], 0.0, -5.5 * v)
        move([19, 24], 0.0, -3.5 * v)
        move([20, 23], 0.0, -1.2 * v)
        for side in (-1.0, 1.0):
            for k, dy in enumerate((-14.0, -21.0, -28.0)):
                x0, x1 = side * 16.0, side * (52.0 - 4 * k)
                wr.append(Wrinkle(_arc(x0, x1, brow_y + dy - 3.5 * v, -2.0), 0.9, 0.7 * v))
    if a[4]:
        v = a[4]
        move([21, 22], -3.5 * v, 4.5 * v)
        move([20, 23], -2.0 * v, 4.0 * v)
        move([19, 24], -1.0 * v, 3.0 * v)
        move([18, 25], 0.0, 2.0 * v)
        move([17, 26], 0.0, 1.0 * v)
        move([37, 38, 43, 44], 0.0, 1.0 * v)
        inner = float(s0[21, 1])
        for x in (-4.5, 4.5):
            wr.append(Wrinkle(_line((x, inner - 9.0), (x * 0.8, inner + 5.0)), 0.9, 0.85 * v))
        bumps.append((0.0, inner, 9.0, 7.0, 2.0 * v))
    if a[6]:
        v = a[6]
        move([40, 41, 46, 47], 0.0, -2.2 * v)
        move([36, 45], 0.0, -0.8 * v)
        for side in (-1.0, 1.0):
            corner = s0[45] if side > 0 else s0[36]
            bumps.append((side * 40.0, ey + 27.0, 15.0, 11.0, 4.0 * v))
            cx, cy = abs(float(corner[0])) + 5.0, float(corner[1])
            for ang in (-30.0, 0.0, 28.0):
                t = np.deg2rad(ang)
                a0 = (side * cx, cy + 2.0 * np.sin(t))
                a1 = (side * (cx + 11.0 * np.cos(t)), cy + 11.0 * np.sin(t))
                wr.append(Wrinkle(_line(a0, a1), 0.8, 0.8 * v))
            lid = s0[[39, 40, 41, 36]] if side < 0 else s0[[42, 47, 46, 45]]
            x0, x1 = float(lid[0, 0]), float(lid[3, 0])
            wr.append(Wrinkle(_arc(x0, x1, float(lid[1:3, 1].mean()) + 6.5, 2.5), 1.0, 0.55 * v))
    if a[7]:
        v = a[7]
        move([40, 41, 46, 47], 0.0, -2.8 * v)
        for pair in ((40, 41), (46, 47)):  # straighten the lower lid
            y = p[list(pair), 1].mean()
            p[list(pair), 1] += (y - p[list(pair), 1]) * 0.7 * v
        move([37, 38, 43, 44], 0.0, 1.3 * v)
        move([39, 42], -0.6 * v, 0.0)
    if a[10]:
        v = a[10]
        move([50, 51, 52], 0.0, -3.5 * v)
        move([49, 53], 0.0, -3.0 * v)
        move([61, 62, 63], 0.0, -1.8 * v)
        move([31, 35], 0.8 * v, -1.5 * v)
        move([32, 33, 34], 0.0, -1.0 * v)
        bumps.append((0.0, float(s0[51, 1]) - 4.0, 13.0, 4.5, 1.5 * v))
    if a[12]:
        v = a[12]
        move([48, 54], 3.5 * v, -4.5 * v)
        move([60, 64], 3.0 * v, -4.0 * v)
        move([49, 53, 59, 55], 1.5 * v, -2.0 * v)
        move([61, 63, 67, 65], 1.0 * v, -1.2 * v)
        move([56, 57, 58], 0.0, -0.8 * v)
        for side in (-1.0, 1.0):
            bumps.append((side * 38.0, float(s0[33, 1]) + 6.0, 13.0, 11.0, 3.0 * v))
    if a[10] or a[12]:
        depth = max(0.9 * a[10], 0.6 * a[12])
        for side in (-1.0, 1.0):
            ala = s0[35] if side > 0 else s0[31]
            corner = p[54] if side > 0 else p[48]
            a0 = (float(ala[0]) + side * 4.0, float(ala[1]) - 3.0)
            mid = (float(corner[0]) + side * 7.0 - side * 0.0, (float(ala[1]) + float(corner[1])) / 2.0)
            a1 = (float(corner[0]) + side * 5.5, float(corner[1]) + 4.0)
            pts = np.vstack(
                [_line(a0, (mid[0] + side * 2.0, mid[1]), 4), _line((mid[0] + side * 2.0, mid[1]), a1, 4)[1:]]
            )
            wr.append(Wrinkle(pts, 1.3, depth))
    if a[14]:
        v = a[14]
        move([48, 54], -2.0 * v, 0.0)
        move([60, 64], -1.8 * v, 0.0)
        for side, c in ((-1.0, r_corner), (1.0, l_corner)):
            cx, cy = float(c[0]) + side * 5.0, float(c[1])
            crescent = np.array([[cx, cy - 4.0], [cx + side * 1.2, cy], [cx, cy + 4.0]])
            wr.append(Wrinkle(crescent, 1.2, 0.9 * v))
            bumps.append((cx, cy, 3.0, 4.0, -2.5 * v))
            bumps.append((cx + side * 5.0, cy, 5.0, 6.0, 1.5 * v))
    if a[15]:
        v = a[15]
        move([48, 54], 0.0, 4.0 * v)
        move([60, 64], 0.0, 3.5 * v)
        move([59, 55], 0.5 * v, 1.5 * v)
        move([49, 53], 0.0, 1.0 * v)
        for side, c in ((-1.0, p[48]), (1.0, p[54])):
            cx, cy = float(c[0]), float(c[1])
            wr.append(Wrinkle(_line((cx + side * 1.5, cy + 4.0), (cx + side * 3.5, cy + 14.0)), 1.0, 0.6 * v))
            bumps.append((cx + side * 2.0, cy + 7.0, 6.0, 6.0, 1.5 * v))
    if a[17]:
        v = a[17]
        move([55, 56, 58, 59], 0.0, -2.5 * v)
        move([57], 0.0, -3.2 * v)
        move([65, 66, 67], 0.0, -1.2 * v)
        move([61, 62, 63], 0.0, -0.8 * v)
        move([7, 8, 9], 0.0, -1.5 * v)
        chin_y = float(s0[8, 1])
        bumps.append((0.0, chin_y - 15.0, 13.0, 8.0, 3.5 * v))
        wr.append(Wrinkle(_arc(-12.0, 12.0, float(p[57, 1]) + 7.0, 2.0), 1.3, 0.75 * v))
        for dx, dy in chin_pattern:
            c = (dx * 22.0 - 11.0, chin_y - 22.0 + dy * 14.0)
            wr.append(Wrinkle(_line(c, (c[0] + 1.2, c[1] + 0.6), 2), 1.0, 0.55 * v))
    if a[23]:
        v = a[23]
        line = float(s0[62, 1])
        for i in (49, 50, 51, 52, 53, 55, 56, 57, 58, 59):
            p[i, 1] += (line - p[i, 1]) * 0.45 * v
        move([48, 54], -1.5 * v, 0.0)
        move([60, 64], -1.3 * v, 0.0)
        wr.append(Wrinkle(p[[49, 50, 51, 52, 53]] + [0.0, -0.8], 0.7, 0.45 * v))
    if a[24]:
        v = a[24]
        line = float(s0[62, 1])
        for i in (50, 51, 52, 56, 57, 58):
            p[i, 1] += (line - p[i, 1]) * 0.35 * v
        for i in (49, 53, 55, 59):
            p[i, 1] += (line - p[i, 1]) * 0.25 * v
        bumps.append((0.0, float(s0[51, 1]) - 5.0, 15.0, 3.5, 2.5 * v))
        bumps.append((0.0, float(s0[57, 1]) + 5.0, 13.0, 3.5, 2.5 * v))
        wr.append(Wrinkle(p[[60, 61, 62, 63, 64]], 1.0, 0.5 * v))
    # Lips part slightly when the upper lip rises without the lower (AU10 without 17/24).
    gap = max(0.0, 1.6 * a[10] - 1.2 * a[17] - 1.5 * a[24] - 1.0 * a[23])
    return Expression(p, np.array(bumps, dtype=np.float32).reshape(-1, 5), tuple(wr), gap)
