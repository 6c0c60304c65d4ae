"""Time from upload to answer through a running site (web + queue + worker).

    make run   # in another terminal
    .venv/bin/python bench/upload_to_result.py [--url http://127.0.0.1:8000] [--runs 10]

Uploads a photo the way the demo page's script does, polls the status URL
every 50 ms and prints the wall time until the answer is there. The first
run includes the worker loading the model (once per worker process).
"""

import argparse
import http.cookiejar
import json
import statistics
import time
import urllib.request
import uuid
from pathlib import Path

PHOTO = Path(__file__).resolve().parent.parent / "static/classifiers/examples/cat.jpg"


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--demo", default="cats-vs-dogs")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = f"{args.url}/demos/{args.demo}/"
    opener.open(page).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    body, content_type = multipart("image", PHOTO.name, PHOTO.read_bytes())
    timings = []
    for run in range(args.runs):
        request = urllib.request.Request(
            page,
            data=body,
            headers={
                "Content-Type": content_type,
                "Accept": "application/json",
                "X-CSRFToken": csrf,
                "Referer": page,
            },
        )
        started = time.perf_counter()
        created = json.load(opener.open(request))
        while True:
            status = json.load(opener.open(args.url + created["status_url"]))
            if status["finished"]:
                break
            time.sleep(0.05)
        elapsed = (time.perf_counter() - started) * 1000
        timings.append(elapsed)
        print(
            f"run {run + 1}: {status['status']} {status['result'].get('label')} in {elapsed:.0f} ms"
        )
    warm = timings[1:] or timings
    print(
        f"first (cold worker): {timings[0]:.0f} ms; warm median: {statistics.median(warm):.0f} ms"
    )


if __name__ == "__main__":
    main()
