# Shared shell helpers for scripts/*: sourced, never run. Puts the project's Node 24 and pnpm on PATH.
# shellcheck shell=bash
TANDEM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TANDEM_TOOLS="$TANDEM_ROOT/.tools"
TANDEM_DATA="${TANDEM_DATA:-$TANDEM_ROOT/.data}"
NODE_WANT_MAJOR=24
PNPM_VERSION=12.4.2

# Color only on a terminal: logs read by CI or a file stay plain text (NO_COLOR is honored too).
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then _c_info=$'\033[36m' _c_err=$'\033[31m' _c_off=$'\033[0m'
else _c_info='' _c_err='' _c_off=''; fi
log() { printf '%s[tandem]%s %s\n' "$_c_info" "$_c_off" "$*" >&2; }
die() { printf '%s[tandem] error:%s %s\n' "$_c_err" "$_c_off" "$*" >&2; exit 1; }
need() { # need CMD "how to get it"
  command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not installed. $2"
}

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Prefer a system Node >= 22; otherwise the node@24 package from the npm registry, kept under .tools/.
tandem_path() {
  if [ -x "$TANDEM_TOOLS/node/node_modules/node/bin/node" ]; then
    PATH="$TANDEM_TOOLS/node/node_modules/node/bin:$PATH"
  fi
  if [ -x "$TANDEM_TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
    PATH="$TANDEM_TOOLS/pnpm/node_modules/.bin:$PATH"
  fi
  PATH="$TANDEM_ROOT/node_modules/.bin:$PATH"
  export PATH
}
tandem_path

# The local stack's S3 (S3Proxy on scripts/stack's port) and its credentials.
LOCAL_S3_ENDPOINT="${TANDEM_LOCAL_S3_ENDPOINT:-http://127.0.0.1:9000}"
LOCAL_S3_ACCESS_KEY_ID=tandem
LOCAL_S3_SECRET_ACCESS_KEY=tandemsecret

# Whether the caller brought AWS credentials or an S3 endpoint of its own: then the local stack's
# must not be filled in, and the AWS SDK's default chain (env, profile, web identity, container or
# instance role) applies.
has_own_s3_settings() {
  [ -n "${S3_ENDPOINT:-}${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ]
}

# Where the code finds its services (the local stack of scripts/stack by default; see infra/README.md).
# Defaults only: a value already in the environment wins, e.g. REDIS_URL of an existing Redis or
# S3_ENDPOINT of a MinIO, and scripts/stack then uses that service instead of starting its own.
: "${KAFKA_BROKERS:=localhost:9092}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
: "${AWS_REGION:=us-east-1}"
: "${TANDEM_S3_BUCKET:=tandem}"
export KAFKA_BROKERS REDIS_URL AWS_REGION TANDEM_S3_BUCKET
# The developer scripts (stack, demo, test, benchmarks) are the local stack by definition. The
# `tandem` command (TANDEM_CLI=1, packages/cli/bin/tandem) is not: it fills in the local S3 only when
# that is what it talks to (use_local_stack_s3 there), so a deployment's S3 and IAM role just work.
if [ -z "${TANDEM_CLI:-}" ]; then
  : "${S3_ENDPOINT:=$LOCAL_S3_ENDPOINT}"
  : "${AWS_ACCESS_KEY_ID:=$LOCAL_S3_ACCESS_KEY_ID}"
  : "${AWS_SECRET_ACCESS_KEY:=$LOCAL_S3_SECRET_ACCESS_KEY}"
  export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
fi

# For the `tandem` command: the local stack's S3 endpoint and credentials, only when nothing of the
# caller's own says otherwise and the local stack's S3 answers on its port (a deployment has none).
use_local_stack_s3() {
  has_own_s3_settings && return 0
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/${LOCAL_S3_ENDPOINT##*:}" 2>/dev/null || return 0
  export S3_ENDPOINT="$LOCAL_S3_ENDPOINT" AWS_ACCESS_KEY_ID="$LOCAL_S3_ACCESS_KEY_ID" \
    AWS_SECRET_ACCESS_KEY="$LOCAL_S3_SECRET_ACCESS_KEY"
}
