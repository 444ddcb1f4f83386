"""wrk's report, parsed (benchmark 4 reads the rate and latency percentiles from it)."""

from __future__ import annotations

import pytest

from bench.wrk import parse

REPORT = """Running 1s test @ http://127.0.0.1:18555/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   540.37us    0.97ms  10.38ms   90.69%
    Req/Sec     7.29k     1.76k    9.57k    60.00%
  Latency Distribution
     50%  238.00us
     75%  375.00us
     90%    1.39ms
     99%    1.05s
  7263 requests in 1.00s, 1.03MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   7228.84
Transfer/sec:      1.03MB
"""


def test_rate_and_percentiles_in_milliseconds_whatever_wrk_s_unit() -> None:
    got = parse(REPORT, connections=2)
    assert got.rate == pytest.approx(7228.84)
    assert got.requests == 7263
    assert got.p50_ms == pytest.approx(0.238)
    assert got.p99_ms == pytest.approx(1050.0)
    assert got.errors == "Non-2xx or 3xx responses: 12"


def test_a_report_without_figures_is_an_error_not_zeroes() -> None:
    with pytest.raises(RuntimeError, match="no figures"):
        parse("unable to connect to 127.0.0.1:1 Connection refused\n", connections=1)
