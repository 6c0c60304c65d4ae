"""The layout's rules, checked on every run (see README "Layout").

- import-linter's contracts (.importlinter): the ML runtime imports no Django
  and nothing else of the project; in each domain imports run views -> forms
  -> services -> tasks -> worker -> reads; workers never reach up.
- No import loop between any two modules of the project.
- The runtime imports and runs with Django not even configured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent


def test_it_keeps_the_import_contracts():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--config", str(REPO / ".importlinter"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_it_has_no_import_loop_between_modules():
    graph = grimp.build_graph("classifiers", "portfolio", cache_dir=None)
    loops = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                loops.append(f"{module} <-> {imported}")
    assert loops == []


def test_the_ml_runtime_imports_and_runs_without_django():
    code = """
import importlib, pkgutil, sys
import numpy as np
import classifiers.inference as runtime
for info in pkgutil.iter_modules(runtime.__path__):
    importlib.import_module(f"classifiers.inference.{info.name}")
from classifiers.inference.kinds import KINDS, pipeline_class
classes = [pipeline_class(kind) for kind in KINDS]
pipeline = pipeline_class("imagenet-subset")(
    config={"groups": {"cat": [[281, 285]], "dog": [[151, 268]]}},
    labels=[str(i) for i in range(1000)],
)
p = np.zeros((1, 1000)); p[0, 281] = 1.0
assert pipeline.postprocess(p).label == "cat"
assert not [name for name in sys.modules if name == "django" or name.startswith("django.")]
print("ok", len(classes))
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok 2"
