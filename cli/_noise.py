"""Third-party log noise (FFmpeg, OpenCV, MediaPipe/TFLite) silenced unless ``-vv``.

Each library reads its level from an environment variable; a variable the user
has set is left alone. FFmpeg's level is read when a capture opens and OpenCV's
is also set through ``cv2.utils.logging``, so both take effect even though
``cv2`` is already imported. MediaPipe's C++ (absl) lines at landmarker start-up
("Created TensorFlow Lite XNNPACK delegate", "Feedback manager requires ...")
ignore GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL in the mediapipe builds we pin
(the variables are still set for the builds that honour them), so the landmark
backends also point file descriptor 2 at /dev/null while a MediaPipe graph starts
and runs its first frame (``aunce_rt.landmarks.quiet_native_logs``).
"""

from __future__ import annotations

import os

# variable -> its quiet value (at -vv the libraries keep their own defaults)
QUIET_ENV: dict[str, str] = {
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # AV_LOG_QUIET
    "OPENCV_LOG_LEVEL": "ERROR",
    "GLOG_minloglevel": "2",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}
_CV_LOG_ERROR, _CV_LOG_INFO = 2, 4  # cv2.setLogLevel's levels (cv::utils::logging::LogLevel)
_SET_BY_US: dict[str, str] = {}  # what this process set, to tell it from the user's own values


def quiet_third_party_logs(verbose: int) -> dict[str, str]:
    """Quiet the libraries below ``-vv`` (their defaults at ``-vv``); return the variables set here."""
    chosen: dict[str, str] = {}
    for name, quiet in QUIET_ENV.items():
        if name in os.environ and os.environ[name] != _SET_BY_US.get(name):
            continue  # the user's choice wins
        if verbose >= 2:
            os.environ.pop(name, None)
            _SET_BY_US.pop(name, None)
        else:
            chosen[name] = quiet
    os.environ.update(chosen)
    _SET_BY_US.update(chosen)
    from aunce_rt.landmarks import quiet_native_logs

    quiet_native_logs(verbose < 2)
    if "OPENCV_LOG_LEVEL" in chosen or (verbose >= 2 and "OPENCV_LOG_LEVEL" not in os.environ):
        try:
            import cv2
        except ImportError:
            return chosen
        logging = getattr(getattr(cv2, "utils", None), "logging", None)
        if logging is not None:
            logging.setLogLevel(logging.LOG_LEVEL_INFO if verbose >= 2 else logging.LOG_LEVEL_ERROR)
        elif hasattr(cv2, "setLogLevel"):  # opencv-python 4.11 wheels: no cv2.utils.logging
            cv2.setLogLevel(_CV_LOG_INFO if verbose >= 2 else _CV_LOG_ERROR)
    return chosen
