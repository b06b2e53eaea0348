"""A one-shot check that the greeter answers as expected, for a Job.

GET TARGET_URL and compare the body with EXPECT. The Job may start before the
greeter is ready, so connection errors and 5xx answers are retried ATTEMPTS
times (default 5), DELAY_SECONDS apart (default 2); a wrong answer fails at
once. Exits 0 and prints "ok: ..." on a match, exits 1 otherwise.
"""
import os
import sys
import time
import urllib.error
import urllib.request


def main():
    url = os.environ["TARGET_URL"]
    expect = os.environ["EXPECT"]
    attempts = int(os.environ.get("ATTEMPTS", "5"))
    delay = float(os.environ.get("DELAY_SECONDS", "2"))
    problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            problem = f"HTTP {err.code}"
            if err.code < 500:
                break
        except (urllib.error.URLError, OSError) as err:
            problem = f"unreachable ({getattr(err, 'reason', err)})"
        else:
            if body == expect:
                print(f"ok: GET {url} answered {body!r}", flush=True)
                return 0
            print(f"fail: GET {url} answered {body!r}, expected {expect!r}", file=sys.stderr, flush=True)
            return 1
        if attempt < attempts:
            print(f"attempt {attempt}/{attempts}: {problem}, retrying in {delay:g}s", file=sys.stderr, flush=True)
            time.sleep(delay)
    print(f"fail: GET {url}: {problem}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
