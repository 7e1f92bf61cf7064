"""MediaPipe FaceMesh must find SynthAU faces, and put the eyes where SynthAU's truth says."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aunce_rt.synthau import SynthAU

mp = pytest.importorskip("mediapipe")

N_FRAMES = 120


def test_facemesh_finds_faces_up_to_20_degrees_yaw():
    ds = SynthAU(seed=11, split="test", max_pose=(20.0, 20.0, 20.0))
    found, errors = 0, []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True
    ) as mesh:
        for i in range(N_FRAMES):
            s = ds.render_sample(i)
            assert abs(s.pose[0]) <= 20.0
            res = mesh.process(cv2.cvtColor(s.image, cv2.COLOR_BGR2RGB))
            if not res.multi_face_landmarks:
                continue
            found += 1
            h, w = s.image.shape[:2]
            pts = np.array([(p.x * w, p.y * h) for p in res.multi_face_landmarks[0].landmark])
            mp_eyes = np.stack([pts[[33, 133]].mean(0), pts[[362, 263]].mean(0)])
            true_eyes = np.stack([s.landmarks[36:42].mean(0), s.landmarks[42:48].mean(0)])
            iod = np.linalg.norm(true_eyes[1] - true_eyes[0])
            errors.append(np.linalg.norm(mp_eyes - true_eyes, axis=1).mean() / iod)
    assert found >= 0.99 * N_FRAMES, f"FaceMesh found {found}/{N_FRAMES} faces"
    assert np.median(errors) < 0.06, f"median eye-centre error {np.median(errors):.3f} IOD"
