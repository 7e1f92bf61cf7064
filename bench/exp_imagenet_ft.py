"""Issue 15 lever R13: an ImageNet-started MobileNetV2 FINE-TUNED on SynthAU with strong appearance randomisation, fused with R7 for the texture AUs.

The last lever of ``bench/EXP_REALFACES.md``'s list ("appearance that crosses the domain"):
frozen ImageNet features with a SynthAU-fitted head (R10/R11) and the SynthAU-trained CNN (R3)
both hurt real faces. Here the network itself is trained, from Google's ImageNet weights, on
SynthAU renders whose appearance is randomised hard, and it enters the model only for AU04,
AU10 and AU14 (texture AUs where geometry is weakest), with a fusion weight NOT fitted on
SynthAU (R3 shows what a SynthAU-fitted fusion does).

ckplus_dev is EVALUATION ONLY: nothing here trains on it or chooses anything on it.

Settings, fixed BEFORE any of them was scored on anything (2026-12-02, fourteenth session)
-----------------------------------------------------------------------------------------
Crops: the runtime's own path (FaceMesh still-image mode with the retry, most confident face,
``aunce_rt.align.aligned_input(..., "mediapipe", input_size=112)``, uint8 RGB) on SynthAU
``split="train"`` seed 0 samples 0..3999 (training) and ``split="test"`` seed 0 samples
0..999 (held-out, a sanity check), and on the CC BY real faces (unlabelled here: only for the
fusion scale below). Network: ``timm mobilenetv2_100`` (pad "same") with the weights of
``../shared/models/imagenet/mobilenet_v2_1.0_224_quant.tflite`` read by
``aunce_rt.models.read_tflite_mobilenetv2``, classifier replaced by Linear(1280, 12); input
turned to grey in the graph (0.299 R + 0.587 G + 0.114 B, 3 channels), ``x / 127.5 - 1``.
Training: every layer, 8 epochs, batch 64, AdamW lr 5e-4, weight decay 1e-4, cosine decay,
seed 0, loss BCE with per-AU pos_weight = negatives / positives (WCE). Appearance
randomisation per sample (torch, on the uint8 crop): random resized crop (scale 0.80-1.00,
ratio 0.9-1.1, back to 112), horizontal flip p 0.5 (labels kept: SynthAU AUs are bilateral),
brightness x U(0.5, 1.5), contrast x U(0.5, 1.5), gamma U(0.6, 1.6), Gaussian blur p 0.5
(sigma U(0.3, 1.5)), Gaussian noise p 0.5 (sd U(0, 0.06) of the range), JPEG-like 8x8 block
averaging p 0.2, random erasing p 0.3 (area 0.02-0.15).
R13a = that CNN alone (image-only graph, thresholds 0.5): scored for the table, never ships.
R13  = R7 (the calibrated geometry head of ``runs/real-faces``, identical per AU to the bundled
       default) with the logits of AU04, AU10 and AU14 replaced by
       0.5 * z_R7 + 0.5 * s_k * z_CNN, s_k = sd(z_R7) / sd(z_CNN) over the CC BY real faces
       (no labels used: it only puts the two on one scale). Other AUs and every threshold: R7's.
Shipping rule: R13 replaces R7 as the bundled default only if its ckplus_dev mean AUC is
>= R7's 0.841 + 0.006 (2 seed sd) AND none of AU04/AU10/AU14 falls AND the full pipeline
still runs >= 100 frames/s in ``bench/bench_runtime.py``.

    .venv/bin/python bench/exp_imagenet_ft.py --cache runs/imagenet_ft --geometry runs/real-faces
    .venv/bin/python bench/bench_ckplus.py --no-teacher --model R13a=runs/imagenet_ft/R13a.onnx \\
        --model R13=runs/imagenet_ft/R13.onnx
"""
