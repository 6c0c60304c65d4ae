"""Fit every ImageNet demo version, measure it, pick the served default.

    .venv/bin/python bench/calibrate.py [--write-specs]

For each version (the same network and input spec serve vN of both demos):

1. fit on the fit pool (calibration/ and the fit half of breeds-kaggle/, see
   bench/imagenet_eval.py) the cat-or-dog rule (evidence threshold and prior
   shift, by what they cost: real cats and dogs turned away or confused,
   other photos answered), the confidence map and the breed temperature;
   cats vs dogs and dog breeds get the same rule, so they agree on what is a
   dog;
2. measure on photos never used for fitting: the other half of
   breeds-kaggle/, catsdogs-kaggle/, and calibration/'s other photos by
   5-fold cross-fitting;
3. time one upload (preprocess, predict with its heatmap, postprocess).

The default is chosen on the fit pool only, never on the photos reported:
each photo is answered by a calibration fitted without it (5-fold), and a
version's cost is the rule's cost plus the breed error on the fit-pool
dogs. Of the versions within one standard error (paired, photo by photo) of
the cheapest cost, the one that answers fastest is served, by both demos
(one network for both, so they never disagree on what is a dog).

With --write-specs all of it goes into classifiers/specs/*.json.
"""

from __future__ import annotations

import argparse
import json

import _setup  # noqa: F401  (Django set-up)
import imagenet_eval
import numpy as np

from classifiers.catalog import DEMOS, SPECS_DIR, version_spec

RULE_KEYS = ("threshold", "prior_shift", "map")
CHOICE_MARK = " Served by default"


def imagenet_demos() -> dict[str, dict]:
    return {demo["slug"]: demo for demo in DEMOS if demo["kind"] == "imagenet-subset"}


def version_numbers(demos: dict[str, dict]) -> list[int]:
    numbers = [{version_spec(f)["number"] for f in demo["versions"]} for demo in demos.values()]
    return sorted(set.intersection(*numbers))


def spec_file(slug: str, number: int) -> str:
    return f"{slug}-v{number}.json"


def fit_and_measure(number: int, demos: dict[str, dict]) -> dict[str, dict]:
    specs = {slug: version_spec(spec_file(slug, number)) for slug in demos}
    networks = {
        (s["artifact"], json.dumps(s["input_spec"], sort_keys=True)) for s in specs.values()
    }
    if len(networks) != 1:
        raise SystemExit(f"v{number} differs between the demos: {sorted(networks)}")
    for slug, spec in specs.items():
        spec["calibration"] = imagenet_eval.fit(demos[slug], spec)
    rules = {json.dumps([s["calibration"][k] for k in RULE_KEYS]) for s in specs.values()}
    assert len(rules) == 1, f"v{number}: the demos fitted different rules {rules}"
    for slug, spec in specs.items():
        metrics = imagenet_eval.evaluate(demos[slug], spec)
        speed = imagenet_eval.speed(demos[slug], spec)
        metrics.update(speed)
        metrics["figures"].append(imagenet_eval.latency_figure(metrics))
        spec["metrics"] = metrics
    return specs


def choose(
    losses: dict[int, np.ndarray], latency: dict[int, float]
) -> tuple[int, dict[int, tuple[float, float]]]:
    """The fastest version whose cost is within one standard error of the least."""
    best = min(losses, key=lambda n: losses[n].sum())
    gaps = {}
    for n, loss in losses.items():
        diff = loss - losses[best]
        gaps[n] = (float(diff.sum()), float(np.sqrt(len(diff)) * diff.std()))
    eligible = [n for n, (gap, se) in gaps.items() if gap <= se]
    return min(eligible, key=lambda n: latency[n]), gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write-specs", action="store_true")
    args = parser.parse_args()
    if not (_setup.SHARED_DATA / "breeds-kaggle").exists():
        raise SystemExit(f"{_setup.SHARED_DATA} not found: fitting needs ../shared/data")
    demos = imagenet_demos()
    results: dict[int, dict[str, dict]] = {}
    losses: dict[int, np.ndarray] = {}
    latency: dict[int, float] = {}
    for number in version_numbers(demos):
        specs = fit_and_measure(number, demos)
        results[number] = specs
        losses[number] = imagenet_eval.selection_losses(specs["cats-vs-dogs"], demos)
        latency[number] = float(np.mean([s["metrics"]["latency_p50_ms"] for s in specs.values()]))
        c = specs["dog-breeds"]["calibration"]
        name = specs["cats-vs-dogs"]["name"]
        print(
            f"v{number} {name:<36} threshold={c['threshold']:.2f} shift={c['prior_shift']:.2f} "
            f"a={c['map']['a']:.2f} breed T={c['temperature']:.2f} "
            f"fit cost={c['fit']['cost']:.4f} | cross-fitted cost={losses[number].sum():.4f} "
            f"| p50={latency[number]:.1f} ms"
        )
        for slug, spec in specs.items():
            for f in spec["metrics"]["figures"]:
                if f["format"] == "percent":
                    print(f"    {slug:<13} {f['label']:<40} {f['value']:.1%} of {f['n']}")
    default, gaps = choose(losses, latency)
    for n, (gap, se) in sorted(gaps.items()):
        verdict = "within noise" if gap <= se else "worse"
        print(
            f"v{n}: cost {losses[n].sum():.4f}, +{gap:.4f} over the least (SE {se:.4f}): {verdict}"
        )
    choice = (
        f"{CHOICE_MARK} for both ImageNet demos (one network, so they agree on what is a "
        f"dog): on the fit photos, answered with calibrations fitted without them, its cost "
        f"(cats and dogs turned away or confused, other photos answered, wrong breeds) is "
        f"{losses[default].sum():.3f}, within one standard error of the least "
        f"({min(losses[n].sum() for n in losses):.3f}), and it is the fastest such version "
        f"({latency[default]:.0f} ms a photo)."
    )
    print(f"default: v{default} {results[default]['cats-vs-dogs']['name']}")
    print(choice.strip())
    if args.write_specs:
        for number, specs in results.items():
            for slug, spec in specs.items():
                spec["default"] = number == default
                notes = spec.get("notes", "").split(CHOICE_MARK)[0].rstrip()
                spec["notes"] = notes + (choice if number == default else "")
                (SPECS_DIR / spec_file(slug, number)).write_text(json.dumps(spec, indent=2) + "\n")
        print(f"wrote {sum(len(s) for s in results.values())} specs to {SPECS_DIR}")


if __name__ == "__main__":
    main()
