# Shared by the Redis side-by-side runners (sourced, not run): a scratch directory removed on
# exit with every server started in it, redis-server and dotdo (release build) starters, and
# a process's CPU clock ticks. Expects CARGO_TARGET_DIR set and the release binary built.

work=$(mktemp -d)
# Servers are started inside $(...) subshells, so their pids go to a file, not a variable.
cleanup() {
  while read -r p; do kill "$p" 2>/dev/null || true; done < "$work/pids"
  sleep 0.5
  rm -rf "$work"
}
touch "$work/pids"
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_redis() { # name, extra args... (prints the port; the pid goes to $work/<name>.pid)
  local name=$1; shift
  local port; port=$(free_port)
  mkdir -p "$work/$name"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/$name" --save '' "$@" >"$work/$name.log" 2>&1 &
  echo $! >> "$work/pids"
  echo $! > "$work/$name.pid"
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
  echo "$port"
}

start_dotdo() { # extra --set assignments... (prints the Redis port; pid in $work/dotdo.pid)
  local sets=()
  for s in "$@"; do sets+=("--set=$s"); done
  "$CARGO_TARGET_DIR/release/dotdo" serve --ephemeral-ports \
    --set "backend.embedded.data_dir=\"$work/dotdo\"" --set admin.enabled=false "${sets[@]}" \
    >"$work/dotdo.out" 2>"$work/dotdo.log" &
  echo $! >> "$work/pids"
  echo $! > "$work/dotdo.pid"
  until grep -q DOTDO_LISTENING "$work/dotdo.out" 2>/dev/null; do sleep 0.1; done
  grep -o '"redis":"[^"]*"' "$work/dotdo.out" | sed 's/.*:\([0-9]*\)"$/\1/'
}

# CPU clock ticks (utime + stime) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
