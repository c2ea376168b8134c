#!/usr/bin/env bash
# Run one flood over Kubernetes: one pod per shard (an Indexed Job), all started together.
#
#   deploy/k8s/run.sh [--render] SERVER:PORT SHARDS CONNECTIONS [BYTES]
#
# Renders job.yaml (image $FLOOD_IMAGE, default echo-flood:latest; start $FLOOD_START_DELAY
# seconds ahead, default 60: pods must be scheduled, pull the image and connect), applies
# it with kubectl, waits for every pod, saves each shard's report (the last line of its log:
# the JSON report follows the human one) in $FLOOD_REPORTS_DIR (default flood-reports/RUN)
# and merges them with $FLOOD_CLIENT (default: flood-client on PATH). Exits with merge's
# code: 0 every shard passed, 1 one failed, 2 a report is missing or bad usage.
# --render only prints the manifest.
set -euo pipefail

usage() { sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
is_count() { [[ ${1:-} =~ ^[1-9][0-9]*$ ]]; }

render_only=false
if [ "${1:-}" = --render ]; then render_only=true; shift; fi
if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi
server=$1 shards=$2 connections=$3 bytes=${4:-32KiB}
[[ $server =~ ^[A-Za-z0-9.:_-]+:[0-9]+$ ]] || { echo "run.sh: '$server' is not ADDRESS:PORT" >&2; usage; }
is_count "$shards" || { echo "run.sh: SHARDS '$shards' is not a positive count" >&2; usage; }
is_count "$connections" || { echo "run.sh: CONNECTIONS '$connections' is not a positive count" >&2; usage; }
[[ $bytes =~ ^[0-9]+[A-Za-z]*$ ]] || { echo "run.sh: BYTES '$bytes' is not a size like 512KiB" >&2; usage; }
delay=${FLOOD_START_DELAY:-60}
is_count "$delay" || { echo "run.sh: FLOOD_START_DELAY '$delay' is not a count of seconds" >&2; usage; }

start_at=$(( $(date +%s) + delay ))
run="flood-$start_at"
job="echo-$run"
manifest=$(sed -e "s|@JOB@|$job|g" -e "s|@RUN@|$run|g" -e "s|@SHARDS@|$shards|g" \
    -e "s|@SERVER@|$server|g" -e "s|@CONNECTIONS@|$connections|g" -e "s|@BYTES@|$bytes|g" \
    -e "s|@START_AT@|$start_at|g" -e "s|@IMAGE@|${FLOOD_IMAGE:-echo-flood:latest}|g" \
    "$(dirname "${BASH_SOURCE[0]}")/job.yaml")
if $render_only; then
    printf '%s\n' "$manifest"
    exit 0
fi

out=${FLOOD_REPORTS_DIR:-flood-reports/$run}
mkdir -p "$out"
printf '%s\n' "$manifest" | kubectl apply -f -
echo "run.sh: job $job: $shards shards start at $(date -u -d "@$start_at" +%FT%TZ)" >&2

# Every pod ends, passed or failed (backoffLimit 0: a failed shard is not retried late).
deadline=$(( start_at + ${FLOOD_RUN_TIMEOUT:-3600} ))
while :; do
    read -r ok failed < <(kubectl get job "$job" -o jsonpath='{.status.succeeded} {.status.failed}{"\n"}' | sed 's/^ /0 /; s/ $/ 0/')
    [ $(( ${ok:-0} + ${failed:-0} )) -ge "$shards" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "run.sh: job $job not finished by its deadline; its reports so far are merged" >&2
        break
    fi
    sleep 2
done

files=()
for (( k = 0; k < shards; k++ )); do
    file="$out/shard-$k.json"
    kubectl logs -l "job-name=$job,batch.kubernetes.io/job-completion-index=$k" --tail=1 > "$file" \
        || echo "run.sh: no log for shard $k/$shards" >&2
    files+=("$file")
done
"${FLOOD_CLIENT:-flood-client}" merge --json "${files[@]}" > "$out/merged.json"
