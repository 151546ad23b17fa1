"""Inference time of the predictor on CPU: a 320x320x20 MR study and a 256x256x128 CT volume.

Uses the shipped default model when present, else a freshly initialised network of the default
architecture (the JSON says which: speed does not depend on the weights). Times cover the whole
``Predictor.predict`` (preprocess, sliding window, resampling back to the native grid, argmax).
Prints one JSON line. Usage: python benchmarks/bench_inference.py [--threads T] [--tta | --no-tta]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                        help="mirrored test-time augmentation on/off (default: as the model ships it)")
    args = parser.parse_args()
    import numpy as np
    import torch

    from spinedetect.io.volume import Volume
    from spinedetect.model import Predictor, build_network, default_checkpoint
    from spinedetect.training.config import TrainConfig

    torch.set_num_threads(args.threads)
    ckpt = default_checkpoint()
    if ckpt is not None:
        predictor = Predictor.from_checkpoint(ckpt, device="cpu", tta=args.tta)
        weights = "default model"
    else:
        torch.manual_seed(0)
        config = TrainConfig()
        predictor = Predictor(build_network(config.network), config, torch.device("cpu"), tta=args.tta)
        weights = "freshly initialised default architecture (no default model installed)"
    rng = np.random.default_rng(0)
    cases = {
        # sagittal MR: 0.6875 mm in-plane, 4 mm slices (i = A->P... expressed through the affine)
        "mr_320x320x20": Volume(rng.normal(300, 80, (320, 320, 20)).astype(np.float32),
                                np.array([[0, 0, 4.0, -40], [0, -0.6875, 0, 110], [-0.6875, 0, 0, 110], [0, 0, 0, 1]]),
                                modality="MR"),
        "ct_256x256x128": Volume(rng.normal(0, 300, (256, 256, 128)).astype(np.float32),
                                 np.diag([0.8, 0.8, 2.0, 1.0]), modality="CT"),
    }
    result = {"benchmark": "inference_cpu", "weights": weights, "threads": args.threads, "tta": predictor.tta,
              "model_spacing_mm": list(predictor.config.preprocess.spacing_mm),
              "window": list(predictor.config.augment.patch_size)}
    for name, vol in cases.items():
        t0 = time.perf_counter()
        out = predictor.predict(vol)
        result[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        assert out.shape == vol.shape
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
