#!/usr/bin/env bash
# The DeployFiles test (tests/CMakeLists.txt): checks the container, Kubernetes, Prometheus and
# Grafana files of conf/ without Docker or a cluster (neither exists on a build machine).
#
# usage: check_deploy_files.sh SOURCE_DIR PORTCULLIS_BINARY
#
#  1. promtool accepts the alert rules, and their unit tests (alerts_test.yml) pass;
#  2. the manifests, the dashboard and the Dockerfile parse and agree with each other and with
#     the container's gateway.json (deploy_files.py);
#  3. every dashboard query parses as PromQL;
#  4. the Dockerfile's build packages are scripts/setup's, its runtime packages exist in the
#     Debian archive (apt-cache), and they cover the shared libraries the binary links;
#  5. the container's gateway.json and policy, on a test PKI laid out like the mounted Secret,
#     pass `portcullis check` and run: the HEALTHCHECK command succeeds against the admin port,
#     /readyz is 200, every metric the alerts and the dashboard use is exported, the audit log
#     goes to stdout, nothing is written next to the mounted files, and SIGTERM exits 0.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR PORTCULLIS_BINARY" >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
portcullis=$2
here="$source_dir/tests/deploy"
if [ ! -x "$portcullis" ]; then
  echo "FAIL: no portcullis binary at $portcullis (build first)"
  exit 1
fi

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

work=$(mktemp -d)
gateway_pid=""
cleanup() {
  if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill -KILL "$gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. Alert rules ------------------------------------------------------------------------
if ! command -v promtool >/dev/null; then
  fail "promtool not found (Debian package prometheus; scripts/setup installs it)"
else
  if promtool check rules "$source_dir/conf/prometheus/alerts.yml"; then
    pass "promtool check rules conf/prometheus/alerts.yml"
  else
    fail "promtool check rules conf/prometheus/alerts.yml"
  fi
  if promtool test rules "$here/alerts_test.yml"; then
    pass "promtool test rules tests/deploy/alerts_test.yml"
  else
    fail "promtool test rules tests/deploy/alerts_test.yml"
  fi
fi

# --- 2. Static checks ----------------------------------------------------------------------
# Debian's python3-yaml is installed for /usr/bin/python3; another python3 first on PATH may
# lack it.
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
    python=$candidate
    break
  fi
done
static="$work/static"
mkdir -p "$static"
if [ -z "$python" ]; then
  fail "no python3 with PyYAML (Debian package python3-yaml; scripts/setup installs it)"
  echo "deploy files: $failures failure(s)"
  exit 1
fi
if "$python" "$here/deploy_files.py" "$source_dir" "$static"; then
  pass "manifests, dashboard and Dockerfile parse and agree"
else
  fail "deploy_files.py (above)"
fi

# --- 3. Dashboard queries ------------------------------------------------------------------
if command -v promtool >/dev/null && [ -f "$static/dashboard_rules.yml" ]; then
  if promtool check rules "$static/dashboard_rules.yml" >/dev/null; then
    pass "every dashboard query parses"
  else
    promtool check rules "$static/dashboard_rules.yml" || true
    fail "a dashboard query does not parse"
  fi
fi

# --- 4. Packages ---------------------------------------------------------------------------
if [ -f "$static/build_packages" ] && [ -f "$static/setup_packages" ]; then
  while read -r package; do
    grep -qxF "$package" "$static/setup_packages" ||
      fail "Dockerfile build stage installs $package, which scripts/setup does not"
  done <"$static/build_packages"
fi
runtime_packages=()
if [ -f "$static/runtime_packages" ]; then
  mapfile -t runtime_packages <"$static/runtime_packages"
fi
if ! command -v apt-cache >/dev/null; then
  echo "skip: apt-cache not found; runtime package names not checked"
else
  for package in "${runtime_packages[@]}"; do
    if apt-cache show "$package" >/dev/null 2>&1; then
      pass "runtime package $package exists"
    else
      fail "runtime package $package is not in the Debian archive (apt-cache show)"
    fi
  done
fi
# The libraries the binary links must come from the runtime stage's packages. libc6 and
# libgcc-s1 are in every Debian image; a sanitizer build's runtimes are not for the image.
if command -v ldd >/dev/null && command -v dpkg >/dev/null; then
  while read -r library; do
    owner=$(dpkg -S "$(readlink -f "$library")" 2>/dev/null | head -n1 | cut -d: -f1) || true
    case "$owner" in
      "" | libc6 | libgcc-s1 | libasan* | libubsan* | liblsan* | libtsan*) continue ;;
    esac
    if printf '%s\n' "${runtime_packages[@]}" | grep -qxF "$owner"; then
      pass "$(basename "$library") comes from runtime package $owner"
    else
      fail "the binary links $library from $owner, which the Dockerfile's runtime stage lacks"
    fi
  done < <(ldd "$portcullis" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
else
  echo "skip: ldd or dpkg not found; linked libraries not checked"
fi

# --- 5. The container's configuration, on a test PKI ---------------------------------------
# The layout of the pod: etc/portcullis/{gateway.json, tls/, policy/} under a temp folder.
root="$work/etc/portcullis"
mkdir -p "$root/tls" "$root/policy"
if ! "$portcullis" pki init --out "$work/pki" >/dev/null; then
  fail "portcullis pki init"
  echo "deploy files: $failures failure(s)"
  exit 1
fi
cp "$work/pki/server.crt" "$root/tls/tls.crt"
cp "$work/pki/server.key" "$root/tls/tls.key"
cp "$work/pki/ca.crt" "$root/tls/ca.crt"
cp "$static/policy.json" "$root/policy/policy.json"
sed "s#/etc/portcullis/#$root/#g" "$static/gateway.json" >"$root/gateway.json"
if "$portcullis" check --config "$root/gateway.json"; then
  pass "portcullis check accepts the container's gateway.json and policy"
else
  fail "portcullis check --config (the container's gateway.json on a test PKI)"
fi

# Run it, on loopback ports the kernel picks.
sed 's#"0\.0\.0\.0:[0-9]*"#"127.0.0.1:0"#g' "$root/gateway.json" >"$work/run.json"
mv "$work/run.json" "$root/gateway.json"
find "$root" | sort >"$work/files.before"
"$portcullis" run --config "$root/gateway.json" >"$work/stdout" 2>"$work/stderr" &
gateway_pid=$!
admin_port=""
for _ in $(seq 1 100); do # at most 10 s
  admin_port=$(sed -n 's/.*admin listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$work/stderr")
  if [ -n "$admin_port" ] || ! kill -0 "$gateway_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

# GET PATH on the admin port; the whole response on stdout. Bash's /dev/tcp, as in the image.
# shellcheck disable=SC2016  # $1 and $2 are the inner bash's arguments
admin_get() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$2" >&3 &&
    cat <&3' _ "$admin_port" "$1"
}

if [ -z "$admin_port" ]; then
  fail "the gateway did not start with the container's config:"
  cat "$work/stderr"
else
  if [ -f "$static/healthcheck_command" ] &&
    PORTCULLIS_HEALTHCHECK_PORT=$admin_port timeout 10 bash -c \
      "$(cat "$static/healthcheck_command")"; then
    pass "the Dockerfile's HEALTHCHECK succeeds against the admin listener"
  else
    fail "the Dockerfile's HEALTHCHECK command fails against a running gateway"
  fi
  if admin_get /readyz | head -n1 | grep -q '^HTTP/1.1 200 '; then
    pass "/readyz is 200"
  else
    fail "/readyz is not 200"
  fi
  admin_get /metrics >"$work/metrics" || true
  while read -r metric; do
    grep -q "^# TYPE $metric " "$work/metrics" ||
      fail "the alerts or the dashboard use $metric, which /metrics does not export"
  done <"$static/metric_names"
  pass "/metrics exports every family the alerts and the dashboard use ($(wc -l \
    <"$static/metric_names") checked)"
fi

if kill -0 "$gateway_pid" 2>/dev/null; then
  kill -TERM "$gateway_pid"
fi
status=0
for _ in $(seq 1 150); do # at most 15 s
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if kill -0 "$gateway_pid" 2>/dev/null; then
  fail "the gateway did not exit within 15 s of SIGTERM"
else
  wait "$gateway_pid" || status=$?
  gateway_pid=""
  if [ "$status" -eq 0 ]; then
    pass "SIGTERM: exit 0"
  else
    fail "SIGTERM: exit status $status"
    cat "$work/stderr"
  fi
fi
if grep -q '"event":"gateway.started"' "$work/stdout"; then
  pass "the audit log goes to stdout"
else
  fail "no gateway.started audit record on stdout"
fi
find "$root" | sort >"$work/files.after"
if diff "$work/files.before" "$work/files.after"; then
  pass "nothing written next to the mounted files"
else
  fail "the gateway created files next to its config (a read-only mount in the container)"
fi

# --- Optional: kustomize ------------------------------------------------------------------
if command -v kubectl >/dev/null; then
  if kubectl kustomize "$source_dir/conf/kubernetes" >/dev/null; then
    pass "kubectl kustomize conf/kubernetes"
  else
    fail "kubectl kustomize conf/kubernetes"
  fi
else
  echo "skip: kubectl not found; kustomization not rendered"
fi

if [ "$failures" -ne 0 ]; then
  echo "deploy files: $failures failure(s)"
  exit 1
fi
echo "deploy files: all checks passed"
