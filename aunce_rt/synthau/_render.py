"""The rasteriser: one face (identity + expression) in one scene -> a BGR frame and its landmarks.

The head's height field is sampled on a grid, lit (Lambert + Blinn specular +
concavity darkening), rotated, projected (weak perspective) and splatted with a
z-buffer into a low-resolution buffer, which is warped into the frame (smooth
shading, soft silhouette). Eyes, brows, nostrils, lips, wrinkles and glasses are
then painted as anti-aliased shapes through the projected 3D points, so every
feature sits exactly where its landmarks say.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from aunce_rt.synthau._expressions import Expression
from aunce_rt.synthau._face import IOD_MM, ZC, gaussian_bumps, rotation_matrix
from aunce_rt.synthau._identity import Identity
from aunce_rt.synthau._paint import Painter, catmull_rom, three_channels
from aunce_rt.synthau._scene import Scene

_GRID_STEP = 2.5  # mm between head-grid samples
_BUFFER_PPM = 0.34  # head-buffer pixels per mm (at most)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class _HeadGrid(NamedTuple):
    """One identity's head grid and everything about it that no expression changes."""

    x: np.ndarray  # (ny, nx) float32 mm (gaussian_bumps works in float32)
    y: np.ndarray  # (ny, nx) float32 mm
    z0: np.ndarray  # (ny, nx) float32 neutral heights
    fade: np.ndarray  # (ny, nx) expression bumps fade out towards the silhouette
    sel: np.ndarray  # (P,) flat indices of the grid points inside the head's outline
    xy_sel: np.ndarray  # (P, 2) their coordinates
    albedo: np.ndarray  # (P, 3) their unlit colour: skin and hair mixed by their hair fraction
    spec_gain: np.ndarray  # (P,) specular gain (hair is duller than skin)
    ao_gain: np.ndarray  # (P,) concavity-darkening gain (none on hair)


@lru_cache(maxsize=256)
def _head_grid(identity: Identity) -> _HeadGrid:
    """Grid coordinates, neutral heights, bump fade and the in-outline points of one identity."""
    head = identity.head
    xs = np.arange(-96.0, 96.0 + 1e-6, _GRID_STEP)
    ys = np.arange(head.profile_y[0], head.profile_y[-1] + 1e-6, _GRID_STEP)
    x, y = np.meshgrid(xs, ys)
    z = head.height(x, y)
    if identity.hair_style == "bald":
        hair = np.zeros_like(x)
    else:
        w = head.width_at(y)
        line = identity.hairline - 7.0 * (np.abs(x) / 50.0) ** 2
        cap = _smoothstep((line - y) / 3.0)
        side_w = 10.0 + identity.hair_thickness
        low = 12.0 if identity.hair_style == "long" else 2.0
        sides = _smoothstep((np.abs(x) - (w - side_w)) / 3.0) * _smoothstep((low - y) / 4.0)
        hair = np.maximum(cap, sides)
    width = head.width_at(y)
    fade = np.clip((1.0 - np.abs(x) / np.maximum(width, 1e-3)) * 4.0, 0.0, 1.0)
    sel = np.flatnonzero(np.abs(x) < width).astype(np.int32)
    xy_sel = np.column_stack([x.ravel()[sel], y.ravel()[sel]])
    hf = hair.astype(np.float32).ravel()[sel]
    return _HeadGrid(
        x.astype(np.float32),
        y.astype(np.float32),
        z.astype(np.float32),
        fade,
        sel,
        xy_sel,
        identity.skin[None] * (1.0 - hf[:, None]) + identity.hair[None] * hf[:, None],
        1.0 - 0.7 * hf,
        1.0 - hf,
    )


class _Projector:
    """Face frame (mm) -> image pixels under one pose (weak perspective)."""

    def __init__(self, scene: Scene, pose: tuple[float, float, float] | None = None) -> None:
        self.rot = rotation_matrix(*(pose or scene.pose))
        self.scale = scene.iod_px / IOD_MM
        self.center = np.asarray(scene.center, dtype=np.float64)

    def __call__(self, pts3: np.ndarray) -> np.ndarray:
        c = np.asarray(pts3, dtype=np.float64).reshape(-1, 3) @ self.rot.T
        return self.center + self.scale * c[:, :2]


def _lift(identity: Identity, expr: Expression, xy: np.ndarray, dz: float = 0.0) -> np.ndarray:
    """Points (P, 2) of the face frame -> (P, 3) on the skin surface (plus ``dz``)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    z = identity.head.height(xy[:, 0], xy[:, 1], expr.bumps) + dz
    return np.column_stack([xy, z])


def landmarks_3d(identity: Identity, expr: Expression) -> np.ndarray:
    """iBUG-68 landmarks (68, 3) on the skin surface."""
    pts = _lift(identity, expr, expr.shape)
    pts[36:48, 2] -= 1.0  # lids sit a little behind the socket rim
    pts[17:27, 2] += 0.8
    return pts


def _background(scene: Scene, size: tuple[int, int]) -> np.ndarray:
    """Out-of-focus background (H, W, 3) float32: a gradient, a texture and clutter."""
    w, h = size
    rng = np.random.default_rng(scene.background_seed)
    lw, lh = max(w // 4, 8), max(h // 4, 8)
    c1, c2 = rng.uniform(15, 240, 3), rng.uniform(15, 240, 3)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    t = (np.cos(ang) * xx / lw + np.sin(ang) * yy / lh + 1.0) / 2.0
    img = (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.float32)
    tex = cv2.resize(rng.normal(0, 1, (6, 6)).astype(np.float32), (lw, lh), interpolation=cv2.INTER_CUBIC)
    img += (tex * rng.uniform(5, 30))[..., None]
    painter = Painter(img)
    for _ in range(int(rng.integers(0, 7))):
        cx, cy = rng.uniform(0, lw), rng.uniform(0, lh)
        rx, ry = rng.uniform(2, lw / 3), rng.uniform(2, lh / 3)
        if rng.random() < 0.5:
            poly = np.array([[cx - rx, cy - ry], [cx + rx, cy - ry], [cx + rx, cy + ry], [cx - rx, cy + ry]])
        else:
            a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            poly = np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)
        painter.paint(painter.mask([poly]), rng.uniform(10, 245, 3), alpha=float(rng.uniform(0.4, 1.0)))
    fine = rng.standard_normal((lh, lw, 1), dtype=np.float32) * np.float32(rng.uniform(0, 6))
    img = cv2.resize(img + fine, (w, h), interpolation=cv2.INTER_LINEAR)
    return img


def _light_gain(scene: Scene, normal: np.ndarray) -> float:
    return float(scene.ambient + scene.diffuse * max(0.0, float(np.dot(normal, scene.light_dir))))


def _body(
    painter: Painter, identity: Identity, scene: Scene, proj_body: _Projector, proj: _Projector
) -> None:
    """Torso, long hair behind, neck and ears (all drawn before the head)."""
    head = identity.head
    front = np.array([0.0, 0.0, 1.0])
    torso = np.array(
        [[-50, 165], [-120, 178], [-185, 215], [-215, 420], [215, 420], [185, 215], [120, 178], [50, 165]],
        dtype=np.float64,
    )
    t3 = np.column_stack([torso, np.full(len(torso), ZC - 10.0)])
    gain = _light_gain(scene, proj_body.rot @ front)
    painter.paint(painter.mask([proj_body(t3)]), identity.clothes * gain)
    if identity.hair_style == "long":
        top = head.profile_y[0]
        wmax = float(head.half_width.max())
        ys = np.linspace(top + 10, -30, 8)
        right = np.column_stack([head.width_at(ys) + 6.0, ys])
        length = 120.0 + (identity.identity_id % 5) * 15.0
        side = np.vstack([right, [[wmax + 12.0, 60.0], [wmax + 18.0, length], [40.0, length + 10]]])
        poly = np.vstack([side, (side * [-1, 1])[::-1]])
        pts = np.column_stack([poly, np.full(len(poly), ZC - 25.0)])
        painter.paint(painter.mask([proj(pts)], blur=1.0), identity.hair * gain * 0.55)
    nw = identity.neck_width * 0.85
    neck = np.array([[-nw, 60], [nw, 60], [nw * 1.08, 200], [0, 215], [-nw * 1.08, 200]], dtype=np.float64)
    n3 = np.column_stack([neck, np.full(len(neck), ZC + 12.0)])
    painter.paint(painter.mask([proj_body(n3)], blur=0.8), identity.skin * gain * 0.72)
    # Ears: a rim sticking out of the head's side, angled backwards.
    ye = 20.0
    wy = float(head.width_at(np.array([ye]))[0])
    t = np.linspace(0.0, np.pi, 12)
    hgt = identity.ear_size
    out = 13.0 * np.sin(t) * (1.0 + 0.25 * np.cos(t))
    for side in (-1.0, 1.0):
        rim = np.column_stack([side * (wy - 6.0 + out), ye - hgt / 2 * np.cos(t) - 4.0, ZC - 6.0 - 0.7 * out])
        inner = np.column_stack(
            [side * (wy - 3.0 + 0.5 * out), ye - 0.35 * hgt * np.cos(t) - 2.0, ZC - 7.0 - 0.4 * out]
        )
        normal = proj.rot @ np.array([side * 0.7, 0.0, 0.7])
        g = _light_gain(scene, normal / np.linalg.norm(normal))
        painter.paint(painter.mask([proj(rim)], blur=0.6), identity.skin * g * 0.9)
        painter.tint(painter.mask([proj(inner)], blur=1.2), 0.7)


def _head(canvas: np.ndarray, identity: Identity, expr: Expression, scene: Scene, proj: _Projector) -> None:
    """Skin and hair of the head, lit and splatted with a z-buffer, blended into ``canvas``."""
    grid = _head_grid(identity)
    z = grid.z0
    if len(expr.bumps):
        z = (grid.z0 + grid.fade * gaussian_bumps(grid.x, grid.y, expr.bumps)).astype(np.float32)
    sel = grid.sel
    gy, gx = np.gradient(z, _GRID_STEP)
    n = np.stack([-gx, -gy, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    lap = cv2.Laplacian(z, cv2.CV_32F) / (_GRID_STEP * _GRID_STEP)
    pts = np.column_stack([grid.xy_sel, z.ravel()[sel]])
    nc = n.reshape(-1, 3)[sel] @ proj.rot.T
    cam = pts @ proj.rot.T
    ldir = scene.light_dir.astype(np.float64)
    half = ldir + [0.0, 0.0, 1.0]
    half /= np.linalg.norm(half)
    diff = np.clip(nc @ ldir, 0.0, None)
    spec = np.clip(nc @ half, 0.0, None) ** 12 * scene.specular * grid.spec_gain
    ao = 1.0 - np.clip(lap.ravel()[sel] * 1.6, -0.08, 0.35) * grid.ao_gain
    shade = (scene.ambient + scene.diffuse * diff) * ao
    col = grid.albedo * shade[:, None]
    col += 255.0 * spec[:, None]
    # Splat into a low-resolution buffer, nearest surface last (z to the camera).
    k = min(_BUFFER_PPM, proj.scale) / proj.scale  # buffer pixels per image pixel
    uv = proj.center + proj.scale * cam[:, :2]
    u0, v0 = uv.min(0) - 2.0 / k
    bw = int(np.ceil((uv[:, 0].max() - u0) * k)) + 3
    bh = int(np.ceil((uv[:, 1].max() - v0) * k)) + 3
    bi = np.round((uv - [u0, v0]) * k).astype(np.int64)
    order = np.argsort(cam[:, 2], kind="stable")
    flat = bi[order, 1] * bw + bi[order, 0]
    # Colour and coverage in separate contiguous buffers: every later step is per channel,
    # and blending contiguous planes is several times faster than strided views of one.
    color = np.zeros((bh * bw, 3), np.float32)
    color[flat] = col[order]
    mask = np.zeros(bh * bw, np.float32)
    mask[flat] = 1.0
    color, mask = color.reshape(bh, bw, 3), mask.reshape(bh, bw)
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    holes = (closed > 0.5) & (mask < 0.5)
    if holes.any():
        num = cv2.blur(color * mask[..., None], (3, 3))
        den = cv2.blur(mask, (3, 3))[..., None]
        color = np.where(holes[..., None], num / np.maximum(den, 1e-6), color).astype(np.float32, copy=False)
        mask = closed
    # Premultiplied (colour is 0 where the mask is), so colour and coverage blur together.
    color = cv2.GaussianBlur(color, (0, 0), 0.6)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.6)
    # Buffer -> frame: only over the head's bounding box.
    h, w = canvas.shape[:2]
    x0, y0 = max(int(u0), 0), max(int(v0), 0)
    x1, y1 = min(int(u0 + bw / k) + 1, w), min(int(v0 + bh / k) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    m = np.array([[1.0 / k, 0.0, u0 - x0], [0.0, 1.0 / k, v0 - y0]])
    box = (x1 - x0, y1 - y0)
    layer = cv2.warpAffine(color, m, box, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpAffine(mask, m, box, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    roi = canvas[y0:y1, x0:x1]
    roi *= three_channels(1.0 - alpha)
    roi += layer  # colours were splatted premultiplied by the (binary) mask


def _eyes(
    painter: Painter, identity: Identity, expr: Expression, scene: Scene, proj: _Projector, lm2: np.ndarray
) -> None:
    s = proj.scale
    gain = scene.ambient + scene.diffuse * 0.8
    for idx in (np.arange(36, 42), np.arange(42, 48)):
        pts = lm2[idx]
        upper = catmull_rom(pts[[0, 1, 2, 3]], 5)
        lower = catmull_rom(pts[[3, 4, 5, 0]], 5)
        outline = np.vstack([upper, lower[1:-1]])
        width = float(np.linalg.norm(pts[3] - pts[0]))
        if width < 2.0:
            continue
        mask = painter.mask([outline], blur=0.35 * max(1.0, s))
        if mask is None:
            continue
        m, (x0, y0, x1, y1) = mask
        layer = np.empty((y1 - y0, x1 - x0, 3), np.float32)
        layer[:] = np.array([205.0, 212.0, 222.0], np.float32) * gain * 0.92
        # Iris and pupil: on the eyeball, behind the lid opening.
        centre3 = _lift(identity, expr, expr.shape[idx].mean(0)[None] + np.array(scene.gaze)[None], dz=1.0)
        c = proj(centre3)[0] - [x0, y0]
        r = 0.2 * width
        q = 4
        cc = (int(round(c[0] * q)), int(round(c[1] * q)))
        cv2.circle(layer, cc, int(round(r * q)), (identity.iris * gain * 0.55).tolist(), -1, cv2.LINE_AA, 2)
        cv2.circle(layer, cc, int(round(r * 0.82 * q)), (identity.iris * gain).tolist(), -1, cv2.LINE_AA, 2)
        cv2.circle(layer, cc, int(round(r * 0.42 * q)), (12.0, 10.0, 10.0), -1, cv2.LINE_AA, 2)
        hl = (int(round((c[0] - 0.3 * r) * q)), int(round((c[1] - 0.3 * r) * q)))
        cv2.circle(layer, hl, max(1, int(round(r * 0.18 * q))), (235.0, 240.0, 245.0), -1, cv2.LINE_AA, 2)
        # The upper lid casts a shadow on the eyeball.
        shadow = painter.mask(
            [upper + [0.0, 0.12 * width]], fill=False, thickness=0.18 * width, blur=0.15 * width
        )
        if shadow is not None:
            sm, (sx0, sy0, sx1, sy1) = shadow
            full = np.zeros(m.shape, np.float32)
            ix0, iy0 = max(sx0, x0), max(sy0, y0)
            ix1, iy1 = min(sx1, x1), min(sy1, y1)
            if ix1 > ix0 and iy1 > iy0:
                full[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = sm[
                    iy0 - sy0 : iy1 - sy0, ix0 - sx0 : ix1 - sx0
                ]
            layer *= 1.0 - 0.45 * full[..., None]
        painter.layer(mask, layer)
        lash = max(1.0, 0.075 * width)
        painter.tint(painter.mask([upper], fill=False, thickness=lash, blur=0.3 * lash), 0.18)
        painter.tint(painter.mask([lower], fill=False, thickness=max(1.0, 0.03 * width), blur=0.4), 0.75)
        crease3 = _lift(identity, expr, expr.shape[idx[[0, 1, 2, 3]]] + [0.0, -0.28 * width / s * 1.0])
        crease = catmull_rom(proj(crease3), 4)
        painter.tint(
            painter.mask([crease], fill=False, thickness=max(1.0, 0.04 * width), blur=0.06 * width), 0.72
        )


def _brows(
    painter: Painter, identity: Identity, expr: Expression, proj: _Projector, skin: np.ndarray
) -> None:
    ratio = np.clip((identity.brows + 8.0) / np.maximum(identity.skin, 1.0), 0.08, 1.0)
    profile = np.array([0.45, 0.75, 0.95, 1.0, 0.95])
    for idx in (np.arange(17, 22), np.arange(26, 21, -1)):  # outer -> inner
        c = expr.shape[idx]
        half = identity.brow_thickness * profile / 2.0
        top = np.column_stack([c[:, 0], c[:, 1] - half])
        bot = np.column_stack([c[:, 0], c[:, 1] + half * 0.8])
        poly = np.vstack(
            [
                catmull_rom(proj(_lift(identity, expr, top, 1.0)), 3),
                catmull_rom(proj(_lift(identity, expr, bot, 1.0)), 3)[::-1],
            ]
        )
        painter.tint(painter.mask([poly], blur=0.5 * max(1.0, proj.scale)), ratio)


def _nose(painter: Painter, identity: Identity, expr: Expression, proj: _Projector) -> None:
    s = expr.shape
    for a, b, side in ((31, 32, -1.0), (35, 34, 1.0)):
        c = (s[a] * 0.55 + s[b] * 0.45) + [0.0, -1.2]
        t = np.linspace(0, 2 * np.pi, 14, endpoint=False)
        ell = np.column_stack([c[0] + 3.2 * np.cos(t), c[1] + 1.6 * np.sin(t) - side * 0.6 * np.cos(t)])
        painter.tint(painter.mask([proj(_lift(identity, expr, ell, 0.5))], blur=0.6 * proj.scale), 0.35)
        ala = np.array(
            [
                [s[a, 0] + side * 1.5, s[a, 1] + 0.5],
                [s[a, 0] - side * 1.0, s[a, 1] - 4.0],
                [s[a, 0] + side * 2.0, s[a, 1] - 9.0],
            ]
        )
        line = catmull_rom(proj(_lift(identity, expr, ala, 0.5)), 4)
        painter.tint(
            painter.mask([line], fill=False, thickness=max(1.0, 0.9 * proj.scale), blur=0.6 * proj.scale),
            0.78,
        )


def _lips(painter: Painter, identity: Identity, expr: Expression, proj: _Projector, lm2: np.ndarray) -> None:
    ratio = np.clip(identity.lips / np.maximum(identity.skin, 1.0), 0.3, 1.3)
    s = proj.scale
    up_outer = catmull_rom(lm2[[48, 49, 50, 51, 52, 53, 54]], 4)
    up_inner = catmull_rom(lm2[[60, 61, 62, 63, 64]], 4)
    lo_outer = catmull_rom(lm2[[54, 55, 56, 57, 58, 59, 48]], 4)
    lo_inner = catmull_rom(lm2[[64, 65, 66, 67, 60]], 4)
    painter.tint(painter.mask([np.vstack([up_outer, up_inner[::-1]])], blur=0.45 * s), ratio * 0.93)
    painter.tint(painter.mask([np.vstack([lo_outer, lo_inner[::-1]])], blur=0.45 * s), ratio)
    if expr.gap > 0.05:
        gap = np.vstack([up_inner, (lo_inner + [0.0, expr.gap * s * 0.5])])
        painter.tint(painter.mask([gap], blur=0.3 * s), 0.25)
    painter.tint(painter.mask([up_inner], fill=False, thickness=max(1.0, 0.9 * s), blur=0.4 * s), 0.45)
    c = lm2[57] * 0.6 + lm2[66] * 0.4
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    w = 0.18 * float(np.linalg.norm(lm2[54] - lm2[48]))
    hl = np.column_stack([c[0] + w * np.cos(t), c[1] + 0.35 * w * np.sin(t)])
    painter.tint(painter.mask([hl], blur=0.5 * w), 1.15)


def _wrinkles(painter: Painter, identity: Identity, expr: Expression, proj: _Projector) -> None:
    if not expr.wrinkles:
        return
    pts = [np.asarray(wr.points, dtype=np.float64).reshape(-1, 2) for wr in expr.wrinkles]
    lifted = np.split(proj(_lift(identity, expr, np.vstack(pts), 0.3)), np.cumsum([len(p) for p in pts])[:-1])
    lines = [catmull_rom(ln, 3) for ln in lifted]  # one surface lookup for all the lines
    widths = [wr.width for wr in expr.wrinkles]
    width = max(1.0, float(np.mean(widths)) * proj.scale * 0.8)
    mask = painter.mask(
        lines, fill=False, thickness=width, blur=0.45 * width, values=[wr.strength for wr in expr.wrinkles]
    )
    painter.tint(mask, 0.52)
    # A faint highlight below each line gives the fold some relief.
    lit = painter.mask(
        [ln + [0.0, width] for ln in lines],
        fill=False,
        thickness=width,
        blur=0.6 * width,
        values=[wr.strength for wr in expr.wrinkles],
    )
    painter.tint(lit, 1.12)


def _glasses(painter: Painter, identity: Identity, expr: Expression, proj: _Projector) -> None:
    if identity.glasses is None:
        return
    color, thick, round_ = identity.glasses
    frames = []
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    p = 2.0 + 6.0 * (1.0 - round_)  # superellipse exponent: 2 = round, 8 = rectangular
    for idx in (np.arange(36, 42), np.arange(42, 48)):
        c = expr.shape[idx].mean(0) + [0.0, 1.5]
        rx, ry = 22.0, 15.0
        x = c[0] + rx * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** (2 / p)
        y = c[1] + ry * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** (2 / p)
        z = identity.head.height(np.array([c[0]]), np.array([c[1]]), expr.bumps)[0] + 14.0
        frames.append(np.column_stack([x, y, np.full_like(x, z)]))
    bridge = np.array([frames[0][np.argmin(np.abs(t - np.pi / 2 * 0) + 0)], frames[1][12]])
    w = identity.head.width_at(np.array([0.0]))[0]
    temples = [
        np.array([frames[0][12], [-w, 2.0, ZC + 40.0]]),
        np.array([frames[1][0], [w, 2.0, ZC + 40.0]]),
    ]
    shapes = [proj(f) for f in frames]
    mask = painter.mask(
        shapes + [proj(bridge)] + [proj(tm) for tm in temples],
        fill=False,
        closed=True,
        thickness=max(1.0, thick * proj.scale),
        blur=0.3,
    )
    painter.paint(mask, color)


def _degrade(canvas: np.ndarray, scene: Scene) -> np.ndarray:
    """Camera blur, sensor noise, 8-bit rounding and JPEG; ``canvas`` (float32) is used up."""
    if scene.blur > 0.05:
        canvas = cv2.GaussianBlur(canvas, (0, 0), scene.blur)
    if scene.noise > 0.05:
        rng = np.random.default_rng(scene.noise_seed)
        grain = rng.standard_normal(canvas.shape[:2] + (1,), dtype=np.float32)
        grain *= np.float32(scene.noise)
        canvas += grain
    canvas += np.float32(0.5)
    np.maximum(canvas, 0, out=canvas)  # np.clip's float path is several times slower
    np.minimum(canvas, 255, out=canvas)
    img = canvas.astype(np.uint8)
    if scene.jpeg_quality > 0:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(scene.jpeg_quality)])
        if ok:
            img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img


def render(
    identity: Identity,
    expr: Expression,
    scene: Scene,
    size: tuple[int, int],
    background: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one frame.

    Args:
        identity: the person.
        expr: the person's face with AUs applied (``_expressions.apply_aus``).
        scene: pose, framing, light, camera.
        size: (width, height) of the frame.
        background: optional (H, W, 3) float32 background to reuse (clips).

    Returns:
        (image (H, W, 3) uint8 BGR, landmarks (68, 2) float32 iBUG-68 pixels).
    """
    w, h = size
    canvas = _background(scene, size) if background is None else background.copy()
    painter = Painter(canvas)
    proj = _Projector(scene)
    yaw, pitch, roll = scene.pose
    proj_body = _Projector(scene, (0.35 * yaw, 0.2 * pitch, 0.5 * roll))
    _body(painter, identity, scene, proj_body, proj)
    _head(canvas, identity, expr, scene, proj)
    lm2 = proj(landmarks_3d(identity, expr))
    skin = identity.skin
    _brows(painter, identity, expr, proj, skin)
    _wrinkles(painter, identity, expr, proj)
    _nose(painter, identity, expr, proj)
    _lips(painter, identity, expr, proj, lm2)
    _eyes(painter, identity, expr, scene, proj, lm2)
    _glasses(painter, identity, expr, proj)
    canvas *= scene.light_color * scene.exposure
    return _degrade(canvas, scene), lm2.astype(np.float32)
