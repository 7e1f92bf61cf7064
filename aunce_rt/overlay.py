"""Draw detection results on a frame: face boxes with ids, AU probability bars, FPS.

Each face gets a box and an ``id N`` label in its own colour. Each face also gets a
panel of horizontal bars, one per AU (label ``AU12``, bar length = probability,
filled in the face's colour when the AU occurs, grey otherwise, tick at 0.5; a thin
white strip along its lower edge shows the intensity, full at 5, where the model has one);
panels shrink their rows so that every AU fits the frame height, and each goes
where it covers the least of the faces and of the panels placed before it:
side by side from the top-left corner when that covers no face (one face, or
faces away from the corner), else along the top or bottom edge or beside the
face (``_place``; in group shots the panels keep off the faces). The FPS goes in
the top-right corner.

Example:
    >>> annotated = draw_overlay(frame_bgr, result, fps=28.5)  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

from aunce_rt.aus import au_label
from aunce_rt.results import FaceResult, FrameResult

# BGR colours per face id (cycled).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (80, 200, 255),
    (255, 160, 60),
    (120, 230, 90),
    (200, 110, 240),
    (60, 90, 255),
    (230, 220, 70),
)
_GREY = (150, 150, 150)
_WHITE = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MARGIN = 6


def face_colour(face_id: int) -> tuple[int, int, int]:
    """BGR colour of a face id: ``PALETTE`` for the first ids, then a hue per id (golden-ratio steps)."""
    if 0 <= face_id < len(PALETTE):
        return PALETTE[face_id]
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((face_id * 0.618033988749895) % 1.0, 0.7, 1.0)
    return (int(b * 255), int(g * 255), int(r * 255))


def draw_overlay(
    image_bgr: np.ndarray,
    result: FrameResult,
    *,
    fps: float | None = None,
    show_landmarks: bool = False,
) -> np.ndarray:
    """Return a copy of ``image_bgr`` with ``result`` drawn on it.

    Args:
        image_bgr: ``(H, W, 3)`` uint8 BGR frame; not modified.
        result: the detections of that frame.
        fps: frames per second to print in the top-right corner (None: not drawn).
        show_landmarks: draw each face's landmarks as small dots.

    Returns:
        ``(H, W, 3)`` uint8 BGR annotated copy.

    Example:
        >>> out = draw_overlay(frame, result, fps=30.0, show_landmarks=True)  # doctest: +SKIP
    """
    canvas = image_bgr.copy()
    h, w = canvas.shape[:2]
    scale = max(0.35, min(h, w) / 900.0)
    thick = max(1, round(scale * 2))
    for face in result.faces:
        colour = face_colour(face.face_id)
        if show_landmarks:
            _draw_landmarks(canvas, face.landmarks, colour)
        _draw_box(canvas, face, colour, scale, thick)
    faces = np.array([f.box for f in result.faces], np.float64).reshape(-1, 4)
    placed: list[tuple[int, int, int, int]] = []
    x = _MARGIN
    for face in result.faces:
        pw, ph = _panel_size(canvas, face, scale)
        if pw + 2 * _MARGIN > w:
            break
        x0, y0 = _place(w, h, pw, ph, x, faces, placed)
        _draw_panel(canvas, face, x0, y0, scale)
        placed.append((x0, y0, x0 + pw, y0 + ph))
        x = max(x, x0 + pw + _MARGIN) if y0 == _MARGIN else x
    if not result.faces:
        _text(canvas, "no face", (_MARGIN, _MARGIN + int(24 * scale)), scale * 0.9, _WHITE, thick)
    if fps is not None:
        label = f"{fps:.1f} FPS"
        (tw, th), _ = cv2.getTextSize(label, _FONT, scale * 0.9, thick)
        _text(canvas, label, (w - tw - _MARGIN, _MARGIN + th), scale * 0.9, _WHITE, thick)
    return canvas


def _draw_box(
    canvas: np.ndarray, face: FaceResult, colour: tuple[int, int, int], scale: float, thick: int
) -> None:
    x1, y1, x2, y2 = (int(round(float(v))) for v in face.box)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick, cv2.LINE_8)
    label = f"id {face.face_id}"
    (tw, th), base = cv2.getTextSize(label, _FONT, scale * 0.8, thick)
    ty = y1 - 4 if y1 - th - base - 4 >= 0 else y2 + th + 4
    cv2.rectangle(canvas, (x1, ty - th - 2), (x1 + tw + 4, ty + base), colour, -1)
    cv2.putText(canvas, label, (x1 + 2, ty), _FONT, scale * 0.8, (0, 0, 0), thick, cv2.LINE_AA)


def _draw_landmarks(canvas: np.ndarray, landmarks: np.ndarray, colour: tuple[int, int, int]) -> None:
    """2x2-pixel dots, vectorised (hundreds of points cost no cv2 call each)."""
    pts = np.rint(np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)).astype(np.intp)
    h, w = canvas.shape[:2]
    for dx in (0, 1):
        for dy in (0, 1):
            x, y = pts[:, 0] + dx, pts[:, 1] + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            canvas[y[ok], x[ok]] = colour


def _panel_layout(
    canvas: np.ndarray, face: FaceResult, scale: float
) -> tuple[int, int, int, int, int, int, float]:
    """(row_h, title_h, label_w, bar_w, panel_w, panel_h) and the font of one face's AU panel."""
    h = canvas.shape[0]
    k = len(face.au_codes)
    title_h = int(22 * scale) + 4
    row_h = int(np.clip((h - 2 * _MARGIN - title_h) / max(k, 1), 6, 32 * scale))
    font = max(0.25, min(scale * 0.55, row_h / 30.0))
    label_w = cv2.getTextSize("AU00", _FONT, font, 1)[0][0] + 6
    bar_w = int(160 * scale)
    panel_h = min(title_h + row_h * k + 4, h - _MARGIN)
    return row_h, title_h, label_w, bar_w, label_w + bar_w + 8, panel_h, font


def _panel_size(canvas: np.ndarray, face: FaceResult, scale: float) -> tuple[int, int]:
    layout = _panel_layout(canvas, face, scale)
    return int(layout[4]), int(layout[5])


def _place(
    w: int, h: int, pw: int, ph: int, x_next: int, faces: np.ndarray, placed: list[tuple[int, int, int, int]]
) -> tuple[int, int]:
    """Top-left corner of a ``pw`` x ``ph`` panel covering the least of the faces, then of other panels.

    Candidates, in order of preference: the next slot of the top-left row (``x_next``),
    every slot along the top and the bottom edge, and left or right of each face; the
    first with the least covered face area wins (ties: least covered panel area).
    """
    step = max(pw // 2, 1)
    xs = [x_next] + list(range(_MARGIN, max(w - pw - _MARGIN, _MARGIN) + 1, step)) + [w - pw - _MARGIN]
    cands = [(x, _MARGIN) for x in xs] + [(x, h - ph - _MARGIN) for x in xs]
    for x1, y1, x2, _ in faces:
        y = int(np.clip(y1, _MARGIN, h - ph - _MARGIN))
        cands += [(int(x1) - pw - _MARGIN, y), (int(x2) + _MARGIN, y)]
    cands = [(x, y) for x, y in cands if _MARGIN <= x <= w - pw - _MARGIN and 0 <= y <= h - ph]
    if not cands:
        return x_next, _MARGIN

    def cost(c: tuple[int, int]) -> tuple[float, float]:
        rect = np.array([c[0], c[1], c[0] + pw, c[1] + ph], np.float64)
        return _overlap(rect, faces), _overlap(rect, np.array(placed, np.float64).reshape(-1, 4))

    return min(cands, key=cost)


def _overlap(rect: np.ndarray, boxes: np.ndarray) -> float:
    """Total area of ``boxes`` (N, 4) inside ``rect`` (4,)."""
    if not len(boxes):
        return 0.0
    lt = np.maximum(boxes[:, :2], rect[:2])
    rb = np.minimum(boxes[:, 2:], rect[2:])
    return float(np.clip(rb - lt, 0, None).prod(-1).sum())


def _draw_panel(canvas: np.ndarray, face: FaceResult, x0: int, y0: int, scale: float) -> None:
    """Draw one face's AU bars with their top-left corner at ``(x0, y0)``."""
    h = canvas.shape[0]
    row_h, title_h, label_w, bar_w, panel_w, panel_h, font = _panel_layout(canvas, face, scale)
    roi = canvas[y0 : y0 + panel_h, x0 : x0 + panel_w]
    roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken: bars stay readable on any frame
    colour = face_colour(face.face_id)
    _text(canvas, f"id {face.face_id}", (x0 + 4, y0 + title_h - 6), font * 1.2, colour, 1)
    half = x0 + label_w + bar_w // 2
    for i, (code, p, occurs, r) in enumerate(
        zip(face.au_codes, face.probabilities, face.occurrences, face.intensities, strict=True)
    ):
        top = y0 + title_h + i * row_h
        if top + row_h > h:
            break
        _text(canvas, au_label(code), (x0 + 4, top + row_h - max(2, row_h // 5)), font, _WHITE, 1)
        bx = x0 + label_w
        length = int(round(float(np.clip(p, 0.0, 1.0)) * bar_w))
        pad = max(1, row_h // 6)
        cv2.rectangle(canvas, (bx, top + pad), (bx + bar_w, top + row_h - pad), (70, 70, 70), -1)
        if length > 0:
            cv2.rectangle(
                canvas, (bx, top + pad), (bx + length, top + row_h - pad), colour if occurs else _GREY, -1
            )
        cv2.line(canvas, (half, top + pad), (half, top + row_h - pad), _WHITE, 1)
        if np.isfinite(r):  # intensity (0-5): a white strip along the bar's lower edge, full at 5
            r_len = int(round(float(np.clip(r, 0.0, 5.0)) / 5.0 * bar_w))
            if r_len > 0:
                cv2.rectangle(
                    canvas, (bx, top + row_h - 2 * pad), (bx + r_len, top + row_h - pad), _WHITE, -1
                )


def _text(
    canvas: np.ndarray, text: str, org: tuple[int, int], font: float, colour: tuple[int, int, int], thick: int
) -> None:
    """Text with a dark outline, readable on bright and dark frames."""
    cv2.putText(canvas, text, org, _FONT, font, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(canvas, text, org, _FONT, font, colour, thick, cv2.LINE_AA)
