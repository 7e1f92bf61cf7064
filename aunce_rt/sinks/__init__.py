"""Sinks: write `FrameResult`s to CSV (OpenFace 2.x style) or JSON Lines, frames to video.

The CSV has OpenFace 2.x's column names and order, so tools that read OpenFace
output read ours::

    frame, face_id, timestamp, confidence, success, x_min, y_min, x_max, y_max,
    [AU01_r, AU02_r, ...,] AU01_p, AU02_p, ..., AU01_c, AU02_c, ...

With ``pose=True`` OpenFace's gaze and pose columns (``CSV_POSE_COLUMNS``:
``gaze_0_x .. gaze_angle_y, pose_Tx .. pose_Rz``) follow ``success``, in its order
and units (radians, mm).

``frame`` is 1-based (``FrameResult.index + 1``), ``timestamp`` is in seconds with 3
decimals, ``AUxx_p`` is the probability (4 decimals) and ``AUxx_c`` the occurrence
(0/1). ``AUxx_r`` is the intensity on OpenFace's 0-5 scale (2 decimals, as OpenFace),
for the AUs whose model has one, all of them before the other AU columns as in
OpenFace 2.2; a model without an intensity output writes no ``AUxx_r`` column (the
header of older versions, so existing readers see no change). There is one row per face; a frame without a face gives one row with
``success`` 0 and 0 in every other field (``face_id``, ``confidence``, box, AUs),
as OpenFace writes its failed frames (so ``AUxx_c`` columns stay integers in
pandas). JSON Lines goes to ``.jsonl`` (or ``.ndjson``); a ``.json`` name is
refused, since ``json.load`` cannot read JSON Lines.

Every ``write`` sends the whole frame's rows to the operating system in one
unbuffered write, so the file is valid CSV at every moment and a killed process
keeps every row written before it died (``close`` also ``fsync``s to disk).

The output folder is checked when a sink is opened, before any work: a missing or
read-only folder raises `OutputError` naming it and the fix.

Example:
    >>> with CSVSink("out.csv", au_codes=(1, 2, 12)) as sink:  # doctest: +SKIP
    ...     for result in detector.stream("video.mp4"):
    ...         sink.write(result)
"""

from __future__ import annotations

from aunce_rt.sinks._csv_reader import read_au_csv
from aunce_rt.sinks._jsonl_reader import read_au_jsonl, read_au_table
from aunce_rt.sinks._paths import VIDEO_SUFFIXES, check_not_input, check_output_path, check_video_path
from aunce_rt.sinks._text import (
    CSV_BASE_COLUMNS,
    CSV_POSE_COLUMNS,
    SINK_FORMATS,
    CSVSink,
    JSONLSink,
    open_sink,
    sink_format,
)
from aunce_rt.sinks._video import VideoSink

__all__ = [
    "CSV_BASE_COLUMNS",
    "CSV_POSE_COLUMNS",
    "SINK_FORMATS",
    "VIDEO_SUFFIXES",
    "CSVSink",
    "JSONLSink",
    "VideoSink",
    "check_not_input",
    "check_output_path",
    "check_video_path",
    "open_sink",
    "read_au_csv",
    "read_au_jsonl",
    "read_au_table",
    "sink_format",
]
