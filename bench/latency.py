"""Single-image latency of each ImageNet model version on this machine.

    .venv/bin/python bench/latency.py [--runs 50]

Prints p50/p90 in milliseconds for the bare model call, and for the whole
pipeline a worker runs per upload (decode the stored JPEG, preprocess,
predict with the Grad-CAM explanation, postprocess). Networks shared by two
demos are measured once; a flip-averaged version (two views a photo) apart.
"""

import argparse
import json
import statistics
import time

import _setup
import imagenet_eval

from classifiers.catalog import DEMOS, version_spec
from classifiers.inference.images import decode_upload


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=10)[8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    data = imagenet_eval.LATENCY_PHOTO.read_bytes()
    print(f"{'version':<34}{'model p50':>10}{'p90':>8}{'pipeline p50':>14}{'p90':>8}")
    seen = set()
    for demo in DEMOS:
        if demo["kind"] != "imagenet-subset":
            continue
        for filename in demo["versions"]:
            spec = version_spec(filename)
            network = (spec["artifact"], json.dumps(spec["input_spec"], sort_keys=True))
            if network in seen:
                continue
            seen.add(network)
            loaded = imagenet_eval.model(spec)
            pipeline = imagenet_eval.pipeline(demo, spec)
            batch = pipeline.preprocess(
                decode_upload(data, max_bytes=10**8, max_pixels=10**8).image
            )
            for _ in range(3):  # warm-up: graph tracing, allocations
                loaded.predict_on_batch(batch)
                pipeline.run(loaded, decode_upload(data, max_bytes=10**8, max_pixels=10**8).image)
            model_ms, pipeline_ms = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                loaded.predict_on_batch(batch)
                t1 = time.perf_counter()
                image = decode_upload(data, max_bytes=10**8, max_pixels=10**8).image
                pipeline.run(loaded, image)
                t2 = time.perf_counter()
                model_ms.append((t1 - t0) * 1000)
                pipeline_ms.append((t2 - t1) * 1000)
            m50, m90 = percentiles(model_ms)
            p50, p90 = percentiles(pipeline_ms)
            name = f"{spec['name']}"
            print(f"{name:<34}{m50:>10.1f}{m90:>8.1f}{p50:>14.1f}{p90:>8.1f}")


if __name__ == "__main__":
    _setup  # noqa: B018  (imported for its Django set-up)
    main()
