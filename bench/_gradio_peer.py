"""The Gradio peer of bench/throughput.py: the demo's Keras model behind Gradio.

Run by bench/throughput.py with the benchmark's own virtualenv (gradio is no
requirement of the site), never by hand in the site's:

    var/bench-venv/bin/python bench/_gradio_peer.py --port 7860 --demo cats-vs-dogs \\
        --spec cats-vs-dogs-v3.json --model ml_models/efficientnet_lite2.keras

Gradio's best set-up for this model: one traced call for any batch size,
``batch=True`` with ``max_batch_size`` uploads per forward pass, a raised
concurrency limit, its queue on. Each answer goes through the site's own
preprocessing and postprocessing (the same pipeline class), without the
site's Grad-CAM, upload checks or storage: what a tutorial-plus Gradio app
serves. The API is ``/gradio_api/call/predict`` (an image in, JSON out).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _served_model import pipeline, traced

# Offline machine: no analytics, version checks or hub look-ups.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--demo", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    import gradio as gr
    import numpy as np

    pl = pipeline(args.demo, args.spec)
    call = traced(args.model, pl.spec["size"])
    size = pl.spec["size"]
    for n in (1, args.max_batch_size):  # trace and allocate before serving
        call(np.zeros((n, size, size, 3), np.float32)).numpy()

    def classify(images: list) -> list[list[dict]]:
        batch = np.concatenate([pl.preprocess(image.convert("RGB")) for image in images])
        probabilities = call(batch).numpy()
        answers = []
        for row in probabilities:
            outcome = pl.postprocess(row[None])
            answers.append(
                {"status": outcome.status, "label": outcome.label, "score": outcome.score}
            )
        return [answers]

    demo = gr.Interface(
        fn=classify,
        inputs=gr.Image(type="pil"),
        outputs=gr.JSON(),
        batch=True,
        max_batch_size=args.max_batch_size,
        concurrency_limit=args.concurrency,
        api_name="predict",
        flagging_mode="never",
    )
    demo.queue(max_size=None)
    print(f"serving on 127.0.0.1:{args.port}", flush=True)
    demo.launch(server_name="127.0.0.1", server_port=args.port, ssr_mode=False, quiet=True)


if __name__ == "__main__":
    main()
