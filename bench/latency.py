"""Single-image latency of each shipped model version on this machine.

    .venv/bin/python bench/latency.py [--runs 50]

Prints p50/p90 in milliseconds for the model call alone and for the whole
pipeline a worker runs per image (decode the stored JPEG, preprocess,
predict, postprocess).
"""

import argparse
import statistics
import time

import _setup

from classifiers.catalog import DEMOS, imagenet_labels, version_spec
from classifiers.inference.images import decode_upload
from classifiers.inference.pipelines import PIPELINES
from classifiers.inference.runtime import load_keras_model

PHOTO = _setup.REPO / "static" / "classifiers" / "examples" / "golden-retriever.jpg"


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=10)
    return statistics.median(samples), q[8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    data = PHOTO.read_bytes()
    print(f"{'demo':<16}{'version':<26}{'model p50':>10}{'p90':>8}{'pipeline p50':>14}{'p90':>8}")
    for demo in DEMOS:
        for filename in demo["versions"]:
            spec = version_spec(filename)
            model = load_keras_model(_setup.settings.ML_MODELS_DIR / spec["artifact"])
            pipeline = PIPELINES[demo["kind"]](
                labels=imagenet_labels(), spec=spec["input_spec"], config=demo["config"]
            )
            batch = pipeline.preprocess(
                decode_upload(data, max_bytes=10**8, max_pixels=10**8).image
            )
            for _ in range(3):
                model.predict_on_batch(batch)  # warm-up: graph tracing, allocations
            model_ms, pipeline_ms = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                model.predict_on_batch(batch)
                t1 = time.perf_counter()
                image = decode_upload(data, max_bytes=10**8, max_pixels=10**8).image
                pipeline.postprocess(pipeline.predict(model, pipeline.preprocess(image)))
                t2 = time.perf_counter()
                model_ms.append((t1 - t0) * 1000)
                pipeline_ms.append((t2 - t1) * 1000)
            m50, m90 = percentiles(model_ms)
            p50, p90 = percentiles(pipeline_ms)
            name = f"v{spec['number']} {spec['name']}"
            print(f"{demo['slug']:<16}{name:<26}{m50:>10.1f}{m90:>8.1f}{p50:>14.1f}{p90:>8.1f}")


if __name__ == "__main__":
    main()
