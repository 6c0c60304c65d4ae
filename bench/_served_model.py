"""The model a demo serves, outside the site: its pipeline and a traced call.

Shared by bench/throughput.py's raw measurement (run in the site's
virtualenv) and its Gradio peer (bench/_gradio_peer.py, run in the
benchmark's own virtualenv), so both read the same spec, preprocess with the
site's own code and call the network the same way. Django-free: it imports
only the ML runtime (``classifiers.inference``) and the catalog.

    .venv/bin/python bench/_served_model.py raw --demo cats-vs-dogs \\
        --spec cats-vs-dogs-v3.json --model ml_models/efficientnet_lite2.keras photo.jpg ...

prints one JSON object: images/s at batch 1 and 32, and batch-1 latency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from classifiers.catalog import DEMOS, imagenet_labels, version_spec  # noqa: E402
from classifiers.inference.imagenet import ImagenetSubsetPipeline  # noqa: E402


def demo_config(slug: str) -> dict:
    for demo in DEMOS:
        if demo["slug"] == slug:
            if demo["kind"] != ImagenetSubsetPipeline.kind:
                raise SystemExit(f"{slug} is not served by a Keras classifier")
            return demo
    raise SystemExit(f"no demo {slug!r} in classifiers/catalog.py")


def pipeline(slug: str, spec_file: str) -> ImagenetSubsetPipeline:
    """The demo's pipeline with the version's spec and fitted calibration."""
    spec = version_spec(spec_file)
    return ImagenetSubsetPipeline(
        labels=imagenet_labels(),
        spec=spec["input_spec"],
        config=demo_config(slug)["config"],
        calibration=spec.get("calibration", {}),
    )


def traced(path: Path, size: int):
    """The .keras file loaded as the worker loads it, behind one traced call
    for any batch size (no retracing between batch sizes)."""
    from classifiers.inference.runtime import load_keras_model

    model = load_keras_model(path)
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    def call(batch):
        return model(batch, training=False)

    return call


def preprocessed(pl: ImagenetSubsetPipeline, photos: list[Path]) -> np.ndarray:
    return np.concatenate([pl.preprocess(Image.open(p).convert("RGB")) for p in photos])


def measure_raw(call, inputs: np.ndarray, *, single_runs: int, batch_runs: int) -> dict:
    """Images/s of the bare call at batch 1 and 32 on preprocessed inputs."""
    count = len(inputs)
    batch = np.concatenate([inputs[i % count][None] for i in range(32)])
    for n in (1, 32, 1, 32):  # warm-up: the first calls allocate
        call(batch[:n]).numpy()
    latencies = []
    started = time.perf_counter()
    for i in range(single_runs):
        t0 = time.perf_counter()
        call(inputs[i % count][None]).numpy()
        latencies.append(time.perf_counter() - t0)
    single_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(batch_runs):
        call(batch).numpy()
    batch_s = time.perf_counter() - started
    batch_cpu_s = time.process_time() - cpu
    return {
        "batch1_images_per_s": single_runs / single_s,
        "batch1_p50_ms": statistics.median(latencies) * 1000,
        "batch32_images_per_s": 32 * batch_runs / batch_s,
        # CPU time (all threads) per image at batch 32: the model's own cost,
        # beside which the site's CPU per upload is read.
        "batch32_cpu_ms_per_image": batch_cpu_s * 1000 / (32 * batch_runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["raw"])
    parser.add_argument("--demo", required=True)
    parser.add_argument("--spec", required=True, help="the version's file in classifiers/specs")
    parser.add_argument("--model", required=True, type=Path, help="its .keras artifact")
    parser.add_argument("--single-runs", type=int, default=150)
    parser.add_argument("--batch-runs", type=int, default=12)
    parser.add_argument("photos", nargs="+", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    pl = pipeline(args.demo, args.spec)
    call = traced(args.model, pl.spec["size"])
    figures = measure_raw(
        call,
        preprocessed(pl, args.photos),
        single_runs=args.single_runs,
        batch_runs=args.batch_runs,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
