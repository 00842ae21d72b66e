-- wrk script for benches/http.sh: after the run, one machine-readable line
-- with the request count and the latency percentiles wrk's --latency does
-- not print (p99.9), in microseconds. Requests are wrk's default GET.
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "HTTP_SH requests=%d duration_us=%d p50=%d p90=%d p99=%d p999=%d errors=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9),
      e.connect + e.read + e.write + e.status + e.timeout))
end
