#!/usr/bin/env bash
# A real Prometheus server (Debian's) scrapes the gateway's /metrics on
# loopback; the test queries its HTTP API for a gateway series. promtool
# check metrics passes on the gateway's output.
. "$(dirname "$0")/lib.sh"
: "${PROMETHEUS:=prometheus}" "${PROMTOOL:=promtool}"
start_gateway gw --heartbeat-s 1
start_sim sim --devices 20 --connect 127.0.0.1:$GW_TCP --heartbeat-s 1
wait_for 20 online_is 20 || fail "devices"
curl -fsS "http://127.0.0.1:$GW_HTTP/metrics" >"$work/metrics.txt"
"$PROMTOOL" check metrics <"$work/metrics.txt" || fail "promtool check metrics"
# every family has HELP and TYPE
fams=$(grep -v '^#' "$work/metrics.txt" | sed 's/[{ ].*//; s/_\(bucket\|sum\|count\)$//' | sort -u)
for f in $fams; do
	grep -q "^# HELP $f " "$work/metrics.txt" || grep -q "^# HELP ${f}_" "$work/metrics.txt" ||
		fail "no HELP for $f"
done
free_port() {
	local p
	for p in $(shuf -i 20000-32000 -n 50); do
		(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
	done
	return 1
}
pport=$(free_port)
cat >"$work/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: flotilla-gateway
    static_configs:
      - targets: ['127.0.0.1:$GW_HTTP']
CFG
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
	--web.listen-address="127.0.0.1:$pport" >"$work/prometheus.log" 2>&1 &
pids+=("$!")
prom() {
	local out
	out=$(curl -fsS --max-time 5 -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1") ||
		return 1
	[ -n "$out" ] || return 1
	printf '%s' "$out" | jq -e "$2" >/dev/null
}
q='flotilla_gateway_devices{state="online"}'
wait_for 60 prom "$q" '.data.result[0].value[1] == "20"' ||
	fail "prometheus query: $(curl -sS -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$q")"
prom 'up{job="flotilla-gateway"}' '.data.result[0].value[1] == "1"' || fail "target not up"
prom 'flotilla_gateway_build_info' '.data.result[0].metric.version | length > 0' || fail "build info"
echo "prometheus: OK (port $pport scraped 127.0.0.1:$GW_HTTP)"
