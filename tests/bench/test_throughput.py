"""bench/throughput.py and bench/_stack.py: the parsing and the report, on
made-up numbers (nothing is started, nothing is timed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "bench"))

import _stack  # noqa: E402
import throughput  # noqa: E402
from throughput import Figures, Report, Result  # noqa: E402

RECIPE = """\
echo "Serving http://127.0.0.1:8000 with a Celery worker and beat (Ctrl-C stops all)"
trap 'kill 0' INT TERM EXIT; \\
.venv/bin/celery -A portfolio worker --loglevel=INFO --concurrency=1 & \\
.venv/bin/celery -A portfolio beat --loglevel=INFO & \\
.venv/bin/gunicorn portfolio.wsgi --bind 127.0.0.1:8000 --workers 2 --threads 4 \\
\t--limit-request-line 4094 & \\
wait
"""


def test_it_reads_the_three_programs_of_the_run_recipe():
    layout = _stack.parse_run_recipe(RECIPE)

    assert layout.worker.argv == [
        ".venv/bin/celery", "-A", "portfolio", "worker", "--loglevel=INFO", "--concurrency=1"
    ]  # fmt: skip
    assert layout.beat.argv == [".venv/bin/celery", "-A", "portfolio", "beat", "--loglevel=INFO"]
    assert layout.web.argv[:2] == [".venv/bin/gunicorn", "portfolio.wsgi"]
    assert layout.web.argv[-2:] == ["--limit-request-line", "4094"]


def test_it_keeps_variables_written_before_a_command():
    recipe = RECIPE.replace(
        ".venv/bin/celery -A portfolio worker",
        "TF_NUM_INTRAOP_THREADS=2 OMP_NUM_THREADS='2' .venv/bin/celery -A portfolio worker",
    )

    worker = _stack.parse_run_recipe(recipe).worker

    assert worker.env == {"TF_NUM_INTRAOP_THREADS": "2", "OMP_NUM_THREADS": "2"}
    assert worker.argv[0] == ".venv/bin/celery"
    assert worker.shell().startswith("TF_NUM_INTRAOP_THREADS=2 OMP_NUM_THREADS=2 .venv/bin/celery")


def test_it_refuses_a_recipe_without_a_worker():
    recipe = RECIPE.replace(".venv/bin/celery -A portfolio worker", "true")

    with pytest.raises(SystemExit, match="no worker"):
        _stack.parse_run_recipe(recipe)


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_it_reads_the_makefiles_own_run_target():
    # `make -n` prints the recipe without running anything.
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "setup", "run", "WORKER_CONCURRENCY=3"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip

    layout = _stack.parse_run_recipe(printed)

    assert "--concurrency=3" in layout.worker.argv


def test_it_binds_gunicorn_to_the_benchmarks_port():
    assert _stack.rebind(["gunicorn", "app", "--bind", "127.0.0.1:8000", "-w", "2"], "h:1") == [
        "gunicorn", "app", "--bind", "h:1", "-w", "2"
    ]  # fmt: skip
    assert _stack.rebind(["gunicorn", "app", "--bind=0.0.0.0:80"], "h:1") == [
        "gunicorn", "app", "--bind=h:1"
    ]  # fmt: skip
    assert _stack.rebind(["gunicorn", "app"], "h:1") == ["gunicorn", "app", "--bind", "h:1"]


def test_it_reads_the_environment_make_gives_a_recipe_without_makes_own():
    printed = b"A=1\0MAKELEVEL=1\0MAKEFLAGS=s\0B=x=y\0MULTI=line one\nline two\0"

    environment = _stack.parse_environment(printed)

    assert environment == {"A": "1", "B": "x=y", "MULTI": "line one\nline two"}


def test_it_reads_the_sites_pins_for_the_bench_virtualenv():
    requirements = "# comment\nDjango==5.2\ntensorflow-cpu==2.20.0\nkeras==3.15.1  # why\n" + (
        "pillow==13.0.0\npsycopg[binary]==3.2.9\n"
    )

    assert throughput.requirement_pins(requirements, ("tensorflow-cpu", "keras", "pillow")) == [
        "tensorflow-cpu==2.20.0", "keras==3.15.1", "pillow==13.0.0"
    ]  # fmt: skip
    with pytest.raises(SystemExit, match="numpy"):
        throughput.requirement_pins(requirements, ("numpy",))


def test_it_samples_the_same_photos_every_time():
    rows = [f"cat/{i}.jpg" for i in range(400)] + [f"dog/{i}.jpg" for i in range(400)]

    chosen = throughput.sample_rows(rows, 40)

    assert chosen == throughput.sample_rows(rows, 40)
    assert sum(p.startswith("cat/") for p in chosen) == 20
    assert throughput.sample_rows(rows[:3], 40) == rows[:3]


def test_it_measures_the_version_set_up_serves_first():
    from classifiers.catalog import version_spec

    chosen = throughput.served_spec_file("cats-vs-dogs")

    assert chosen.startswith("cats-vs-dogs-v")
    assert version_spec(chosen)["default"] is True


def test_it_interpolates_percentiles():
    assert throughput.percentile([1, 2, 3, 4, 5], 50) == 3
    assert throughput.percentile([10, 20], 95) == pytest.approx(19.5)
    assert throughput.percentile([7], 95) == 7


def test_it_counts_from_the_first_upload_to_the_last_stored_answer():
    results = [
        # sent at 100, 100.5 and 101; stored at 101, 102 and 104; known 0.25 s later
        Result(0, 100.0, 101.25, "done", "cat", stored=101.0),
        Result(1, 100.5, 102.25, "rejected", None, stored=102.0),
        Result(2, 101.0, 104.25, "done", "dog", stored=104.0),
        Result(0, 101.0, 101.1, "http 503"),
    ]

    figures = throughput.summarize(results, client_cpu_s=0.5)

    assert figures.answered == 3
    assert figures.images_per_s == pytest.approx(3 / 4)
    assert figures.p50_ms == pytest.approx(1750)  # 1250, 1750, 3250
    assert figures.server_p50_ms == pytest.approx(1500)  # 1000, 1500, 3000
    assert figures.statuses == {"done": 2, "rejected": 1, "http 503": 1}


def test_it_uses_the_clients_clock_when_the_server_gives_none():
    results = [Result(0, 10.0, 10.5, "done"), Result(1, 10.0, 11.0, "done")]

    assert throughput.summarize(results).images_per_s == pytest.approx(2.0)


def test_it_polls_as_retry_after_says():
    assert throughput.poll_delay({}) == 0.25
    assert throughput.poll_delay({"Retry-After": "0.1"}) == pytest.approx(0.1)
    assert throughput.poll_delay({"Retry-After": "60"}) == 5.0
    assert throughput.poll_delay({"Retry-After": "soon"}) == 0.25
    # The API's own hint in the body comes first.
    body = {"queue": {"ahead": 0, "eta_seconds": 0.04, "poll_after_ms": 60}}
    assert throughput.poll_delay({"Retry-After": "1"}, body) == pytest.approx(0.06)


def _figures(images_per_s: float, p50_ms: float) -> Figures:
    return Figures(images_per_s, p50_ms, p50_ms * 2, 300, {"done": 300})


def test_it_prints_the_summary_lines_of_the_issue():
    report = Report(
        raw={"batch1_images_per_s": 75.0, "batch1_p50_ms": 13.0, "batch32_images_per_s": 125.0},
        site={1: _figures(4.0, 260.0), 8: _figures(9.2, 810.0), 32: _figures(8.2, 3800.0)},
        peer={1: _figures(20.0, 50.0), 32: _figures(58.0, 510.0)},
        worker_peak_mb={"main": 110.4, "pool123": 980.6},
        worker_cold_start_s=10.46,
    )

    lines = report.render().splitlines()

    assert lines[-5:] == [
        "site_vs_raw=0.07",
        "site_vs_gradio=0.14",
        "latency_overhead_ms=247",
        "worker_peak_rss_mb=main:110 pool123:981",
        "worker_cold_start_s=10.5",
    ]
    assert any(line.startswith("site C=32") and "8.2" in line for line in lines)
    assert any(line.startswith("gradio C=1") for line in lines)


def test_it_says_n_a_for_what_was_not_measured():
    report = Report(site={1: _figures(4.0, 260.0)})

    assert report.summary_lines() == [
        "site_vs_raw=n/a",
        "site_vs_gradio=n/a",
        "latency_overhead_ms=n/a",
        "worker_peak_rss_mb=n/a",
        "worker_cold_start_s=n/a",
    ]


def test_it_counts_a_process_and_all_it_started_as_the_benchmarks():
    parents = {1: 0, 10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}

    assert throughput.descendants(10, parents) == {10, 11, 12, 13}


def test_it_shows_how_much_of_the_machine_other_work_took():
    figures = _figures(8.2, 3800.0)
    figures.others = 0.25
    report = Report(
        raw={"batch1_images_per_s": 75.0, "batch1_p50_ms": 13.0, "batch32_images_per_s": 125.0,
             "others": 0.5},
        site={32: figures},
    )  # fmt: skip

    table = report.table().splitlines()

    assert "50%" in table[1].split()  # raw batch 1
    assert "25%" in next(line for line in table if line.startswith("site C=32")).split()
