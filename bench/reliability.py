"""Add what a reliability diagram draws to each shipped ImageNet version's spec.

    .venv/bin/python bench/reliability.py [--write-specs]

For every version of cats-vs-dogs and dog-breeds: its answers, with its
stored calibration, on the photos its figures were measured on (as
bench/calibrate.py measures them, never the fitting photos), counted per
band of the confidence shown (``metrics["reliability"]``, see
classifiers/inference/evaluation.py). Nothing else in the specs changes;
the ECE recomputed from the same answers is printed beside the stored one
as a check. bench/calibrate.py --write-specs writes the same bins.
"""

from __future__ import annotations

import argparse
import json

import _setup  # noqa: F401  (Django set-up)
import imagenet_eval

from classifiers.catalog import DEMOS, SPECS_DIR, version_spec
from classifiers.inference import evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-specs", action="store_true")
    args = parser.parse_args()
    print(f"{'version':<22} {'answered':>8} {'ece stored':>10} {'ece now':>8}  bins (n)")
    for demo in DEMOS:
        if demo["kind"] != "imagenet-subset":
            continue
        for filename in demo["versions"]:
            spec = version_spec(filename)
            assessment, described = imagenet_eval.measured_assessment(demo, spec)
            record = evaluation.reliability_record(assessment, measured_on=described)
            stored = spec.get("metrics", {}).get("ece")
            now = round(assessment.ece, 4) if assessment.ece is not None else None
            counts = " ".join(str(b["n"]) for b in (record or {}).get("bins", []))
            print(f"{filename:<22} {assessment.ece_n:>8} {stored!s:>10} {now!s:>8}  {counts}")
            if args.write_specs and record is not None:
                spec.setdefault("metrics", {})["reliability"] = record
                (SPECS_DIR / filename).write_text(json.dumps(spec, indent=2) + "\n")


if __name__ == "__main__":
    main()
