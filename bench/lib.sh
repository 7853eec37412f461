# bench/lib.sh - what the benchmarks share (sourced by bench/run and
# bench/catalogue): a release build, a throwaway Kreisel with the demo
# county, nginx serving bytes Kreisel rendered, wrk figures.  Never fails
# on speed; fails when a figure would be void (error responses, nginx not
# serving the same bytes).
#
#   BENCH_SECONDS (10)  duration of each wrk run
#   BENCH_CONNECTIONS (64), BENCH_THREADS (2)

bench_init() {
  cd "$(dirname "$0")/.."
  root=$PWD
  seconds=${BENCH_SECONDS:-10}
  conns=${BENCH_CONNECTIONS:-64}
  threads=${BENCH_THREADS:-2}
  if [ ! -f build-bench/build.ninja ]; then
    meson setup build-bench --buildtype=release -Db_ndebug=true >/dev/null
  fi
  ninja -C build-bench >/dev/null
  bin=$root/build-bench/kreisel
  tmp=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
  # Kreisel with the demo county, SQLite, access log on (as in production).
  export KREISEL_DATA_DIR=$tmp/var KREISEL_SHARE_DIR=$root KREISEL_LOG_LEVEL=info
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  rm -rf "$tmp"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Migrate and seed the demo county (once per run).
bench_seed() {
  "$bin" migrate >/dev/null
  "$bin" seed-demo >/dev/null
}

# Start kreisel serve on a free port: sets kport.
bench_start_kreisel() {
  kport=$(free_port)
  KREISEL_LISTEN=127.0.0.1:$kport "$bin" serve 2>"$tmp/kreisel.log" &
  pids+=($!)
}

# Fetch path from Kreisel into $tmp/www/index.html (waits for the start).
bench_fetch_page() {
  mkdir -p "$tmp/www"
  for _ in $(seq 300); do
    python3 -c "import urllib.request,sys; open('$tmp/www/index.html','wb').write(urllib.request.urlopen('http://127.0.0.1:$kport$1').read())" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "kreisel does not answer $1" >&2
  exit 1
}

# nginx serving $tmp/www/index.html with its access log on: sets nport.
bench_start_nginx() {
  # nginx's workers drop root: let them read the file.
  chmod 755 "$tmp" "$tmp/www"
  chmod 644 "$tmp/www/index.html"
  nport=$(free_port)
  cat >"$tmp/nginx.conf" <<NGINX
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log $tmp/nginx-access.log;
  sendfile on;
  server {
    listen 127.0.0.1:$nport;
    root $tmp/www;
    location / { try_files /index.html =404; default_type "text/html; charset=utf-8"; }
  }
}
NGINX
  nginx -c "$tmp/nginx.conf" -p "$tmp" 2>/dev/null &
  pids+=($!)
  sleep 0.5
  python3 - "$nport" "$tmp/www/index.html" <<'PY' || { echo "nginx does not serve the page" >&2; exit 1; }
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/").read()
assert body == open(sys.argv[2], "rb").read()
PY
}

# url -> requests per second on stdout; latency lines on stderr; the p99
# in $tmp/p99.
bench_measure() {
  wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "$1" >"$tmp/wrk.out"
  grep -E 'Latency|Requests/sec|50%|99%|Non-2xx|Socket errors' "$tmp/wrk.out" | sed 's/^/    /' >&2
  if grep -q 'Non-2xx' "$tmp/wrk.out"; then echo "error responses: the figure is void" >&2; exit 1; fi
  awk '/ 99%/ { print $2 }' "$tmp/wrk.out" >"$tmp/p99"
  awk '/Requests\/sec/ { print $2 }' "$tmp/wrk.out"
}

# Compare kreisel (url) with nginx; prints the summary line.
bench_compare() {
  local bytes k kp n np
  bytes=$(wc -c <"$tmp/www/index.html")
  echo "page $2: $bytes bytes; wrk -t$threads -c$conns -d${seconds}s; $(nproc) CPUs" >&2
  echo "kreisel (render, $(grep -o '"threads":[0-9]*' "$tmp/kreisel.log" | cut -d: -f2) threads):" >&2
  k=$(bench_measure "$1")
  kp=$(cat "$tmp/p99")
  echo "nginx (static file, same bytes):" >&2
  n=$(bench_measure "http://127.0.0.1:$nport/")
  np=$(cat "$tmp/p99")
  python3 - "$k" "$n" "$kp" "$np" <<PY
import sys
k, n = float(sys.argv[1]), float(sys.argv[2])
print(f"kreisel {k:,.0f} req/s (p99 {sys.argv[3]}), nginx {n:,.0f} req/s (p99 {sys.argv[4]}): "
      f"kreisel reaches {k / n:.2f} of nginx")
PY
}
