#!/usr/bin/env bash
# librdkafka produces to kbench's null sink without a single failed delivery, at every acks
# level, into an auto-"existing" topic and into one created with CreateTopics.
# Usage: null_sink_smoke.sh path/to/kbench
set -euo pipefail
KBENCH=$1
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KBENCH" null-sink --port "$PORT" --partitions 4 2>/dev/null &
SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.05; done

check() {  # kbench exits non-zero on any failed or missing delivery; the line must say so too
  local line
  line=$("$KBENCH" produce --brokers 127.0.0.1:"$PORT" "$@" --label null)
  echo "$line"
  [[ $line =~ ^target=null\ mode=produce\ .*\ rec_per_s=[0-9]+\ mb_per_s=[0-9.]+$ ]]
}
check --topic auto --records 20000 --size 100 --acks 1
check --topic auto --records 20000 --size 1024 --acks all
check --topic created --partitions 3 --records 20000 --size 100 --acks 0
check --topic created --partitions 3 --records 5000 --size 100000 --acks 1
