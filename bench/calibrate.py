"""Fit each ImageNet demo version's rejection threshold and calibration on
shared/data/calibration, measure it on shared/data/pets, pick the default.

    .venv/bin/python bench/calibrate.py [--write-specs]

The threshold keeps 95% of the real targets of calibration/ answered; the
calibration map (inverse temperature and prior shift) minimises the expected
calibration error there. The figures come from pets/, never from the photos
a value was fitted on. The default version of a demo is the most accurate
one whose single-image latency p50 is under 150 ms on this machine.
With --write-specs all of it goes into classifiers/specs/*.json.
"""

from __future__ import annotations

import argparse
import json

import _setup  # noqa: F401  (Django set-up)
import imagenet_eval

from classifiers.catalog import DEMOS, SPECS_DIR, version_spec

LATENCY_BUDGET_MS = 150


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-specs", action="store_true")
    args = parser.parse_args()
    for demo in DEMOS:
        if demo["kind"] != "imagenet-subset":
            continue
        results = []
        for filename in demo["versions"]:
            spec = version_spec(filename)
            spec["calibration"] = imagenet_eval.fit(demo, spec)
            spec["metrics"] = {
                **imagenet_eval.evaluate(demo, spec),
                **imagenet_eval.speed(demo, spec),
            }
            results.append((filename, spec))
            m, c = spec["metrics"], spec["calibration"]
            print(
                f"{demo['slug']:<13} v{spec['number']} {spec['name']:<30} "
                f"threshold={c['threshold']:.3f} a={c['map']['a']:.2f} b={c['map']['b']:.2f} | "
                f"top1={m['accuracy']:.3f} top3={m['top3']:.3f} ece={m['ece']:.3f} "
                f"rejects others={m['rejection_rate']:.2f} "
                f"rejects targets={m['false_rejection_rate']:.2f} p50={m['latency_p50_ms']} ms"
            )
        fast = [(f, s) for f, s in results if s["metrics"]["latency_p50_ms"] < LATENCY_BUDGET_MS]
        best_file, _ = max(
            fast,
            key=lambda fs: (
                fs[1]["metrics"]["accuracy"],
                fs[1]["metrics"]["top3"],
                -fs[1]["metrics"]["ece"],
                -fs[1]["metrics"]["false_rejection_rate"],
            ),
        )
        print(f"{demo['slug']}: default -> {best_file}")
        if args.write_specs:
            for filename, spec in results:
                spec["default"] = filename == best_file
                (SPECS_DIR / filename).write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    main()
