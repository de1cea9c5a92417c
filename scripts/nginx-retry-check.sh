#!/bin/bash
# Checks docs/scaling.md's nginx settings against two real `s2s serve` replicas (by hand; not part of CI):
#   scripts/nginx-retry-check.sh MODEL_DIR        (needs Debian's nginx-light: apt-get install -y nginx-light)
# Replica A's queue is kept full (--max-queue 1 and one sentence held by a 10-minute batch window), so A answers
# every /translate with 503 + Retry-After; replica B is normal. Through nginx:
#   1. with `proxy_next_upstream error timeout http_503 non_idempotent`, every POST /translate must get a 200;
#   2. with nginx's default retry settings (error timeout), the 503s of A reach the client (the control), and so
#      they do with http_503 alone: nginx passes a POST that reached a server to the next one only with non_idempotent;
#   3. A is sent SIGTERM (it drains: its held request keeps it alive, its listener is closed): still only 200s.
set -euo pipefail
MODEL=${1:?usage: scripts/nginx-retry-check.sh MODEL_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
S2S="node $ROOT/bin/s2s.js"
TMP=$(mktemp -d)
PA=18081 PB=18082 PN=18080 N=${N:-20}
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
nginx -v

wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.1; done; echo "port $1 never answered" >&2; exit 1; }
$S2S serve --model "$MODEL" --port $PA --max-queue 1 --max-batch 2 --batch-window 600000 2>"$TMP/a.log" & pa=$!; pids+=($pa)
$S2S serve --model "$MODEL" --port $PB 2>"$TMP/b.log" & pb=$!; pids+=($pb)
wait_port $PA; wait_port $PB
body='{"text":"I am happy."}'
post() { curl -s -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' -d "$body" "$1/translate"; }
# Fill A's queue: this request stays queued (the batch window is 10 minutes, the batch needs 2 sentences).
curl -s -o /dev/null -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$PA/translate" & pids+=($!)
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$PA/ready" | grep -q busy && break; sleep 0.05; done
echo "replica A directly: /translate $(post http://127.0.0.1:$PA), /ready $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PA/ready), /health $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PA/health); Retry-After: $(curl -s -D - -o /dev/null -H 'content-type: application/json' -d "$body" http://127.0.0.1:$PA/translate | tr -d '\r' | sed -n 's/^retry-after: //Ip')"

conf() { # $1: the proxy_next_upstream line
  mkdir -p "$TMP/logs"
  cat > "$TMP/nginx.conf" <<CONF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  upstream s2s {
    server 127.0.0.1:$PA max_fails=0;
    server 127.0.0.1:$PB max_fails=0;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$PN;
    location / {
      proxy_pass http://s2s;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      $1
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 10s;
    }
  }
}
CONF
}
run_nginx() { nginx -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;' & ngx=$!; pids+=($ngx); wait_port $PN; }
stop_nginx() { kill "$ngx"; wait "$ngx" 2>/dev/null || true; }
count() { sort | uniq -c | awk '{printf "%s×%s ", $1, $2}'; echo; }

conf 'proxy_next_upstream error timeout http_503 non_idempotent;'; run_nginx
echo "1. retry on 503 (http_503 non_idempotent), $N requests: $(for _ in $(seq 1 $N); do post http://127.0.0.1:$PN; done | count)"
stop_nginx
conf 'proxy_next_upstream error timeout;'; run_nginx
echo "2. nginx default retries (error timeout), $N requests: $(for _ in $(seq 1 $N); do post http://127.0.0.1:$PN; done | count)"
stop_nginx
conf 'proxy_next_upstream error timeout http_503;'; run_nginx
echo "2b. http_503 without non_idempotent (POST is not retried), $N requests: $(for _ in $(seq 1 $N); do post http://127.0.0.1:$PN; done | count)"
stop_nginx
conf 'proxy_next_upstream error timeout http_503 non_idempotent;'; run_nginx
kill -TERM $pa; sleep 0.5
echo "3. replica A draining after SIGTERM (new connections: $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PA/health || true)), $N requests: $(for _ in $(seq 1 $N); do post http://127.0.0.1:$PN; done | count)"
stop_nginx
