#!/bin/sh
# The temporal-namespace service (temporalio/admin-tools): once the server answers, make
# sure NAMESPACE exists with RETENTION. Closed onboardings are read back for weeks and
# months (restart after a no-show, duplicate contracts), so compose declares the retention
# and this applies it on every start, to a namespace it creates or one already there.
set -eu
NAMESPACE=${NAMESPACE:-default}
: "${RETENTION:?set RETENTION, e.g. 87600h}"
ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
ATTEMPTS=${ATTEMPTS:-60}

attempt=1
until temporal operator cluster health --address "$ADDRESS" 2>/dev/null | grep -q SERVING; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "temporal-namespace: Temporal at $ADDRESS not serving after $ATTEMPTS tries" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

# Retried: right after a create (or a server start) the frontend's namespace cache can
# still say "not found" to an update for a few seconds.
attempt=1
while :; do
  if temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS" >/dev/null 2>&1; then
    if temporal operator namespace update --namespace "$NAMESPACE" --retention "$RETENTION" --address "$ADDRESS"; then
      echo "temporal-namespace: $NAMESPACE exists, retention $RETENTION"
      exit 0
    fi
  elif temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION" --address "$ADDRESS"; then
    echo "temporal-namespace: $NAMESPACE created, retention $RETENTION"
    exit 0
  fi
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "temporal-namespace: could not apply $NAMESPACE's retention after $ATTEMPTS tries" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
