#!/bin/sh
# The one-shot admin step of docker-compose.yml (it runs in the temporalio/admin-tools image):
# wait for the Temporal frontend, create the namespace if it is missing, and register every
# custom search attribute of core/search_attributes.py. Idempotent: run it any number of
# times, also by hand against another self-hosted cluster, e.g.
#
#   TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=disputes sh deploy/temporal-setup.sh
#
# The temporal CLI reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and, when set, TEMPORAL_TLS* and
# TEMPORAL_API_KEY from the environment itself. (Temporal Cloud: use tcld, see docs/deployment.md.)
set -eu

: "${TEMPORAL_ADDRESS:=localhost:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
: "${NAMESPACE_RETENTION:=30d}"  # how long closed cases stay readable in the UI
: "${SETUP_ATTEMPTS:=60}"        # tries of each step, 2 seconds apart
: "${TEMPORAL_CLI:=temporal}"
export TEMPORAL_ADDRESS TEMPORAL_NAMESPACE

# Name=Type, one a line: exactly core.search_attributes.ALL (tests/test_compose.py checks it).
# SQL visibility (PostgreSQL here) holds at most 10 Keyword and 3 of every other type per namespace:
# 10 Keyword (full), 3 Datetime (full) and 2 Bool are used.
SEARCH_ATTRIBUTES='
CaseKind=Keyword
DisputeStatus=Keyword
OrderId=Keyword
BuyerId=Keyword
SellerId=Keyword
CareReplyDueAt=Datetime
SlaBreached=Bool
TicketStatus=Keyword
TicketTopic=Keyword
CasePriority=Keyword
UserId=Keyword
NeedsAttention=Bool
NextDeadlineAt=Datetime
CareDecisionDueAt=Datetime
CareAssignee=Keyword
'

log() { echo "temporal-setup: $*"; }

# retry WHAT COMMAND...: run COMMAND until it succeeds, at most SETUP_ATTEMPTS times.
retry() {
    what=$1
    shift
    attempt=1
    until "$@"; do
        if [ "$attempt" -ge "$SETUP_ATTEMPTS" ]; then
            log "$what: still failing after $attempt attempts" >&2
            exit 1
        fi
        attempt=$((attempt + 1))
        sleep 2
    done
}

ensure_namespace() {
    if "$TEMPORAL_CLI" operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
        log "namespace $TEMPORAL_NAMESPACE exists"
        return 0
    fi
    # A failed create (e.g. a concurrent run created it first) is retried: describe then succeeds.
    "$TEMPORAL_CLI" operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
        --retention "$NAMESPACE_RETENTION" --description "Marketplace dispute cases"
}

# ensure_search_attribute NAME TYPE: add it, or accept it when it already exists with TYPE.
ensure_search_attribute() {
    if out=$("$TEMPORAL_CLI" operator search-attribute create --name "$1" --type "$2" 2>&1); then
        log "search attribute $1 ($2) registered"
        return 0
    fi
    case $out in
        *"different type"*)
            # Never "fix" this by force: cases already carry the old type. Needs a new name.
            log "search attribute $1 exists with another type than $2: $out" >&2
            exit 1
            ;;
        *"already exists"* | *AlreadyExists*)
            log "search attribute $1 ($2) already registered"
            return 0
            ;;
    esac
    log "search attribute $1: $out" >&2
    return 1
}

# all_listed: every attribute shows up with its type (the namespace cache catches up in seconds).
all_listed() {
    listed=$("$TEMPORAL_CLI" operator search-attribute list) || return 1
    for entry in $SEARCH_ATTRIBUTES; do
        name=${entry%%=*}
        type=${entry#*=}
        if ! printf '%s\n' "$listed" | grep -Eq "^[[:space:]]*$name[[:space:]]+$type[[:space:]]*$"; then
            log "waiting for $name ($type) to be listed"
            return 1
        fi
    done
}

log "waiting for the Temporal frontend at $TEMPORAL_ADDRESS"
retry "cluster health" "$TEMPORAL_CLI" operator cluster health
retry "namespace $TEMPORAL_NAMESPACE" ensure_namespace
for entry in $SEARCH_ATTRIBUTES; do
    retry "search attribute ${entry%%=*}" ensure_search_attribute "${entry%%=*}" "${entry#*=}"
done
retry "listing the search attributes" all_listed
log "namespace $TEMPORAL_NAMESPACE is ready with its search attributes"
