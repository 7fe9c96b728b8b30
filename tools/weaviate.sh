#!/usr/bin/env bash
# Weaviate for pinrec's backend tests and benchmark: build the server once, run 1 or 3 nodes on
# 127.0.0.1, stop them by PID.
#
#   tools/weaviate.sh build                 build weaviate-server into .cache/weaviate/bin (once)
#   tools/weaviate.sh start 1|3 [DIR]       start a cluster whose state lives in DIR, wait until ready
#   tools/weaviate.sh stop [DIR]            stop every node of DIR (TERM, then KILL after 15 s)
#   tools/weaviate.sh status [DIR]          print each node's PID, ports and health
#   tools/weaviate.sh kill NODE [DIR]       kill -9 one node (fault tests)
#   tools/weaviate.sh restart NODE [DIR]    start a killed or stopped node again, wait until ready
#
# With WEAVIATE_WATCH_PID=PID, start also leaves a watcher that stops the cluster once PID exits
# (a test binary killed by a timeout cannot stop it itself).
#
# DIR defaults to .cache/weaviate/run. It holds one folder per node (data/, log), pids, and
# cluster.env, which `start` also prints:
#   WEAVIATE_NODES=3
#   WEAVIATE_HTTP=127.0.0.1:P0,127.0.0.1:P1,127.0.0.1:P2   (REST/GraphQL, node 0 first)
#   WEAVIATE_GRPC=127.0.0.1:G0,...
#   WEAVIATE_URL=weaviate://127.0.0.1:P0,127.0.0.1:P1,127.0.0.1:P2   (add /COLLECTION)
#
# Ports: node i uses BASE+10*i+{0 http, 1 grpc, 2 gossip, 3 data, 4 raft, 5 raft rpc, 6 profiling}.
# BASE is WEAVIATE_PORT_BASE, or the first free block found from a random start in 21000-38900.
# REST, gossip, data and Raft listeners bind to 127.0.0.1 and nodes advertise 127.0.0.1 (anonymous
# access, telemetry off). Weaviate 1.35.2 has no bind-address setting for its gRPC and profiling
# listeners: they listen on every interface, on the ports above (on a shared host, firewall them).
set -euo pipefail

VERSION=${WEAVIATE_VERSION:-1.35.2}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${WEAVIATE_CACHE:-$ROOT/.cache/weaviate}
BIN=$CACHE/bin/weaviate-server
READY_TIMEOUT=${WEAVIATE_READY_TIMEOUT:-180}

die() { echo "weaviate.sh: $*" >&2; exit 1; }

# built: is $BIN there, from the wanted Weaviate version (Go's build info says)?
built() { [ -x "$BIN" ] && go version -m "$BIN" 2>/dev/null | grep -Eq "^[[:space:]]mod[[:space:]]github.com/weaviate/weaviate[[:space:]]v$VERSION[[:space:]]"; }

build() {
	built && return 0
	mkdir -p "$CACHE/bin"
	# One build at a time, even when several test runs start together.
	exec 9>"$CACHE/build.lock"
	flock 9
	built && return 0
	echo "weaviate.sh: building weaviate-server v$VERSION (a few minutes, once; log $CACHE/build.log)" >&2
	if ! GOBIN="$CACHE/bin.tmp" GOWORK=off go install "github.com/weaviate/weaviate/cmd/weaviate-server@v$VERSION" >"$CACHE/build.log" 2>&1; then
		tail -20 "$CACHE/build.log" >&2
		die "build failed"
	fi
	mv "$CACHE/bin.tmp/weaviate-server" "$BIN"
	rmdir "$CACHE/bin.tmp" 2>/dev/null || true
	exec 9>&-
}

# listening PORT: is anything accepting connections on 127.0.0.1:PORT?
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_base() {
	local n=$1 base tries i p busy
	if [ -n "${WEAVIATE_PORT_BASE:-}" ]; then
		echo "$WEAVIATE_PORT_BASE"
		return
	fi
	for tries in $(seq 1 40); do
		base=$((21000 + (RANDOM % 180) * 100))
		busy=
		for i in $(seq 0 $((n - 1))); do
			for p in 0 1 2 3 4 5 6; do
				if listening $((base + 10 * i + p)); then busy=1; break 2; fi
			done
		done
		[ -z "$busy" ] && { echo "$base"; return; }
	done
	die "no free block of ports found"
}

# node_env I N BASE: the environment of node I of N.
node_env() {
	local i=$1 n=$2 base=$3 p j join=
	p=$((base + 10 * i))
	for j in $(seq 0 $((n - 1))); do
		join+="${join:+,}weaviate-$j:$((base + 10 * j + 4))"
	done
	cat <<EOF
PERSISTENCE_DATA_PATH=$DIR/node-$i/data
CLUSTER_HOSTNAME=weaviate-$i
CLUSTER_IN_LOCALHOST=true
CLUSTER_BIND_ADDR=127.0.0.1
CLUSTER_ADVERTISE_ADDR=127.0.0.1
CLUSTER_GOSSIP_BIND_PORT=$((p + 2))
CLUSTER_DATA_BIND_PORT=$((p + 3))
RAFT_PORT=$((p + 4))
RAFT_INTERNAL_RPC_PORT=$((p + 5))
RAFT_JOIN=$join
RAFT_BOOTSTRAP_EXPECT=$n
GO_PROFILING_PORT=$((p + 6))
GRPC_PORT=$((p + 1))
AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true
AUTHORIZATION_ADMINLIST_ENABLED=false
DEFAULT_VECTORIZER_MODULE=none
ENABLE_MODULES=
DISABLE_TELEMETRY=true
PROMETHEUS_MONITORING_ENABLED=false
QUERY_DEFAULTS_LIMIT=25
LOG_LEVEL=${WEAVIATE_LOG_LEVEL:-warning}
HTTP_PORT=$p
EOF
	if [ -n "${WEAVIATE_GOMEMLIMIT:-}" ]; then
		echo "GOMEMLIMIT=$WEAVIATE_GOMEMLIMIT" # per node, e.g. 2GiB: the Go GC works harder above it
	fi
	if [ "$i" != 0 ]; then
		echo "CLUSTER_JOIN=127.0.0.1:$((base + 2))"
	fi
}

# launch I: start node I from its saved environment, record its PID.
launch() {
	local i=$1 port pid
	local nd=$DIR/node-$i
	mkdir -p "$nd/data"
	port=$(sed -n 's/^HTTP_PORT=//p' "$nd/env")
	(
		set -a
		# shellcheck disable=SC1090
		. "$nd/env"
		# A restarted node 0 joins the nodes that kept running (restart sets RESTART_JOIN); on
		# the first start it is the one the others join.
		if [ -n "${RESTART_JOIN:-}" ]; then CLUSTER_JOIN=$RESTART_JOIN; fi
		set +a
		exec "$BIN" --scheme http --host 127.0.0.1 --port "$port" >>"$nd/log" 2>&1
	) &
	pid=$!
	echo "$pid" >"$nd/pid"
}

# wait_port PORT PID: until PORT listens, or the process died, or the time is up.
wait_port() {
	local port=$1 pid=$2 t
	for t in $(seq 1 $((READY_TIMEOUT * 5))); do
		listening "$port" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# wait_ready I: until node I answers ready, bounded.
wait_ready() {
	local i=$1 port pid t
	local nd=$DIR/node-$i
	port=$(sed -n 's/^HTTP_PORT=//p' "$nd/env")
	pid=$(cat "$nd/pid")
	for t in $(seq 1 $((READY_TIMEOUT * 2))); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v1/.well-known/ready")" = 200 ]; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { tail -5 "$nd/log" >&2; die "node $i (pid $pid) exited; log $nd/log"; }
		sleep 0.5
	done
	tail -5 "$nd/log" >&2
	die "node $i not ready after ${READY_TIMEOUT}s; log $nd/log"
}

# wait_healthy N: until /v1/nodes on node 0 lists N HEALTHY nodes, bounded.
wait_healthy() {
	local n=$1 port t got
	port=$(sed -n 's/^HTTP_PORT=//p' "$DIR/node-0/env")
	for t in $(seq 1 $((READY_TIMEOUT * 2))); do
		got=$(curl -s --max-time 2 "http://127.0.0.1:$port/v1/nodes" | grep -o '"status":"HEALTHY"' | wc -l || true)
		[ "$got" -ge "$n" ] && return 0
		sleep 0.5
	done
	die "cluster not healthy after ${READY_TIMEOUT}s ($got of $n nodes HEALTHY)"
}

stop() {
	local nd pid pids=() t
	if [ -f "$DIR/watcher.pid" ] && [ "${WATCHING:-}" != 1 ]; then
		kill "$(cat "$DIR/watcher.pid")" 2>/dev/null || true
		rm -f "$DIR/watcher.pid"
	fi
	for nd in "$DIR"/node-*; do
		[ -f "$nd/pid" ] || continue
		pid=$(cat "$nd/pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for t in $(seq 1 75); do
		local alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.2
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	rm -f "$DIR"/node-*/pid
}

start() {
	local n=$1 base i p0
	case "$n" in 1 | 3) ;; *) die "start: 1 or 3 nodes, not $n" ;; esac
	command -v curl >/dev/null || die "curl is needed"
	build
	mkdir -p "$DIR"
	stop # a previous run's leftovers in the same folder
	base=$(pick_base "$n")
	local http= grpc=
	for i in $(seq 0 $((n - 1))); do
		mkdir -p "$DIR/node-$i"
		node_env "$i" "$n" "$base" >"$DIR/node-$i/env"
		http+="${http:+,}127.0.0.1:$((base + 10 * i))"
		grpc+="${grpc:+,}127.0.0.1:$((base + 10 * i + 1))"
	done
	# Node 0 first: the others join its gossip port, and exit if it is not listening yet.
	launch 0
	wait_port $((base + 2)) "$(cat "$DIR/node-0/pid")" || { tail -5 "$DIR/node-0/log" >&2; die "node 0 did not start; log $DIR/node-0/log"; }
	for i in $(seq 1 $((n - 1))); do launch "$i"; done
	for i in $(seq 0 $((n - 1))); do wait_ready "$i"; done
	wait_healthy "$n"
	if [ -n "${WEAVIATE_WATCH_PID:-}" ]; then
		# Detached from our stdout so that callers reading it see EOF when start returns.
		nohup "$0" watch "$WEAVIATE_WATCH_PID" "$DIR" >/dev/null 2>&1 &
		echo "$!" >"$DIR/watcher.pid"
	fi
	cat >"$DIR/cluster.env" <<EOF
WEAVIATE_NODES=$n
WEAVIATE_HTTP=$http
WEAVIATE_GRPC=$grpc
WEAVIATE_URL=weaviate://$http
EOF
	cat "$DIR/cluster.env"
}

status() {
	local nd pid port state
	for nd in "$DIR"/node-*; do
		[ -f "$nd/env" ] || continue
		port=$(sed -n 's/^HTTP_PORT=//p' "$nd/env")
		pid=$(cat "$nd/pid" 2>/dev/null || echo -)
		state=stopped
		if [ "$pid" != - ] && kill -0 "$pid" 2>/dev/null; then
			state=running
			if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v1/.well-known/ready")" = 200 ]; then
				state=ready
			fi
		fi
		echo "$(basename "$nd") pid=$pid http=127.0.0.1:$port $state"
	done
}

cmd=${1:-}

# running PID: the process exists and is not a zombie (a killed node whose parent has not reaped
# it yet still answers kill -0).
running() {
	kill -0 "$1" 2>/dev/null || return 1
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

case "$cmd" in
build) build ;;
start)
	[ $# -ge 2 ] || die "usage: start 1|3 [DIR]"
	DIR=$(realpath -m "${3:-$CACHE/run}")
	start "$2"
	;;
stop)
	DIR=$(realpath -m "${2:-$CACHE/run}")
	stop
	;;
status)
	DIR=$(realpath -m "${2:-$CACHE/run}")
	status
	;;
kill)
	[ $# -ge 2 ] || die "usage: kill NODE [DIR]"
	DIR=$(realpath -m "${3:-$CACHE/run}")
	pid=$(cat "$DIR/node-$2/pid")
	kill -KILL "$pid"
	# SIGKILL is delivered asynchronously: return once the process is gone (or a zombie).
	for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
	;;
restart)
	[ $# -ge 2 ] || die "usage: restart NODE [DIR]"
	DIR=$(realpath -m "${3:-$CACHE/run}")
	pid=$(cat "$DIR/node-$2/pid" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
		if running "$pid"; then die "node $2 is running (pid $pid)"; fi
	fi
	# Node 0 has no CLUSTER_JOIN of its own: restarted alone, it would form a cluster of one
	# (/v1/nodes on it lists itself only). It joins the others' gossip ports instead.
	# Restarted with the others down (all nodes restarted together), it starts as the seed.
	# The others wait for node 0's gossip port before they start: they exit if it is not up.
	if [ "$2" = 0 ]; then
		RESTART_JOIN=
		for nd in "$DIR"/node-*; do
			[ "$nd" = "$DIR/node-0" ] && continue
			gp=$(($(sed -n 's/^HTTP_PORT=//p' "$nd/env") + 2))
			if listening "$gp"; then RESTART_JOIN+="${RESTART_JOIN:+,}127.0.0.1:$gp"; fi
		done
		export RESTART_JOIN
	else
		gp=$(($(sed -n 's/^HTTP_PORT=//p' "$DIR/node-0/env") + 2))
		for _ in $(seq 1 $((READY_TIMEOUT * 5))); do listening "$gp" && break; sleep 0.2; done
	fi
	launch "$2"
	wait_ready "$2"
	wait_healthy "$(sed -n 's/^WEAVIATE_NODES=//p' "$DIR/cluster.env")"
	;;
watch)
	DIR=$(realpath -m "$3")
	while kill -0 "$2" 2>/dev/null; do sleep 2; done
	WATCHING=1 stop
	;;
*)
	sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
