#!/usr/bin/env bash
# Checks the deployment template and builds the Lambda artifact.
#
#   1. cfn-lint  infra/template.yaml           (0 errors, 0 warnings)
#   2. checkov   infra/template.yaml           (0 failed checks; skips are in
#                                               the template, each with a reason)
#      both again on copies whose parameter defaults select the other modes
#      (buffered + SSE-KMS, existing bucket, the upload page with Cognito and
#      with another OIDC provider)
#   3. sam validate --lint                     (skipped, loudly, if aws-sam-cli
#                                               cannot be installed; INFRA_SAM=0
#                                               skips it on purpose)
#   4. cargo lambda build --release --arm64 -p ccp-disconnect-lambda
#                                              (both binaries: bootstrap, presign;
#                                               prints each artifact's size;
#                                               INFRA_BUILD=0 skips it)
#
# Tools come from PyPI at pinned versions, each in its own virtualenv under
# target/ci-tools/ (nothing is installed globally). Re-runs reuse them.
#
# Pins:
#   cfn-lint 1.53.3: the last release that still applies the SAM transform,
#     so it checks AWS::Serverless::Function's Runtime and Architectures
#     (1.54 and later silently skip them). aws-sam-translator is pinned with it.
#   checkov 3.3.30: runs offline with --skip-download.
#   cargo-lambda 1.9.2 + ziglang 0.17.1: cross-compiles to aarch64 with zig;
#     the venv's bin/ goes first on PATH so cargo-lambda's python finds ziglang.
#   aws-sam-cli 1.170.0: `sam validate --lint` works offline without credentials.
set -euo pipefail

CFN_LINT_VERSION=1.53.3
SAM_TRANSLATOR_VERSION=1.115.0
CHECKOV_VERSION=3.3.30
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1
SAM_CLI_VERSION=1.170.0
VIRTUALENV_VERSION=21.15.8  # fallback only, when python has no venv module

cd "$(dirname "$0")/.."
ROOT=$PWD
TEMPLATE=infra/template.yaml
TOOLS=$ROOT/target/ci-tools
PYTHON=${PYTHON:-python3}

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

step() { printf '\n== %s\n' "$*"; }

# make_venv DIR: a virtualenv with a working pip. Falls back to the
# `virtualenv` package when the interpreter has no `venv`/`ensurepip`
# (Debian without python3-venv).
make_venv() {
  local dir=$1
  [ -x "$dir/bin/pip" ] && return 0
  rm -rf "$dir"
  if ! "$PYTHON" -m venv "$dir" >/dev/null 2>&1; then
    rm -rf "$dir"
    echo "python -m venv is unavailable; using the virtualenv package instead"
    if [ ! -d "$TOOLS/.virtualenv/virtualenv-$VIRTUALENV_VERSION.dist-info" ]; then
      rm -rf "$TOOLS/.virtualenv"
      PIP_BREAK_SYSTEM_PACKAGES=1 "$PYTHON" -m pip install -q --target "$TOOLS/.virtualenv" \
        "virtualenv==$VIRTUALENV_VERSION" || return 1
    fi
    PYTHONPATH="$TOOLS/.virtualenv" "$PYTHON" -m virtualenv -q "$dir" || return 1
  fi
}

# install NAME REQUIREMENT...: venv target/ci-tools/NAME holding exactly these
# pins; skipped when a previous run installed the same ones.
install() {
  local name=$1; shift
  local dir=$TOOLS/$name stamp="$*"
  if [ -f "$dir/.pins" ] && [ "$(cat "$dir/.pins")" = "$stamp" ]; then
    return 0
  fi
  make_venv "$dir" || return 1
  "$dir/bin/pip" install -q "$@" || return 1
  echo "$stamp" > "$dir/.pins"
}

mkdir -p "$TOOLS"
"$PYTHON" --version

step "install cfn-lint $CFN_LINT_VERSION, checkov $CHECKOV_VERSION"
install lint "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
install checkov "checkov==$CHECKOV_VERSION"

step "cfn-lint $TEMPLATE"
"$TOOLS/lint/bin/cfn-lint" --version
"$TOOLS/lint/bin/cfn-lint" "$TEMPLATE"
echo "cfn-lint: no errors, no warnings"

step "checkov $TEMPLATE"
"$TOOLS/checkov/bin/checkov" --version
"$TOOLS/checkov/bin/checkov" -f "$TEMPLATE" --framework cloudformation --skip-download --compact --quiet
echo "checkov: no failed checks"

# checkov evaluates Conditions with the parameters' defaults, so resources of
# the other modes (ingest queue, EventBridge rule, KMS grants) are only seen
# in variants whose defaults select them.
step "cfn-lint + checkov on non-default parameter variants"
VARIANTS=$TOOLS/variants
mkdir -p "$VARIANTS"
"$TOOLS/lint/bin/python" - "$TEMPLATE" "$VARIANTS" <<'PY'
import json, sys
from cfnlint.decode import cfn_yaml

src, out = sys.argv[1], sys.argv[2]
key = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"
variants = {
    "buffered-kms": {"BufferedMode": "true", "KmsKeyArn": key},
    "existing-bucket": {"ExistingBucketName": "example-existing-bucket",
                        "AlarmTopicArn": "arn:aws:sns:us-east-1:111122223333:alarms",
                        "MaxObjectBytes": 104857600, "ReservedConcurrency": -1},
    # The upload page with each identity provider (docs/upload.md).
    "upload-cognito-kms": {"UploadPage": "true", "IdentityProvider": "cognito",
                           "KmsKeyArn": key, "MaxObjectBytes": 104857600},
    "upload-oidc-existing-bucket": {
        "UploadPage": "true", "IdentityProvider": "oidc",
        "ExistingBucketName": "example-existing-bucket",
        "OidcIssuer": "https://idp.example.com/oauth2/default",
        "OidcAudience": "0oa1example2client3id",
        "OidcAuthorizeUrl": "https://idp.example.com/oauth2/default/v1/authorize",
        "OidcTokenUrl": "https://idp.example.com/oauth2/default/v1/token",
        "OidcLogoutUrl": "https://idp.example.com/oauth2/default/v1/logout",
        "CollectorOrigins": "https://ccp.example.com",
        "ReservedConcurrency": -1},
}
for name, defaults in variants.items():
    template = cfn_yaml.load(src)
    for param, value in defaults.items():
        template["Parameters"][param]["Default"] = value
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(template, f, indent=1)
PY
for variant in "$VARIANTS"/*.json; do
  echo "-- ${variant#"$ROOT"/}"
  "$TOOLS/lint/bin/cfn-lint" "$variant"
  "$TOOLS/checkov/bin/checkov" -f "$variant" --framework cloudformation --skip-download --compact --quiet
done
echo "variants: no errors, no failed checks"

if [ "${INFRA_SAM:-1}" = 1 ]; then
  step "sam validate --lint (aws-sam-cli $SAM_CLI_VERSION)"
  if install sam "aws-sam-cli==$SAM_CLI_VERSION"; then
    "$TOOLS/sam/bin/sam" --version
    "$TOOLS/sam/bin/sam" validate --lint -t "$TEMPLATE"
    for variant in "$VARIANTS"/*.json; do
      "$TOOLS/sam/bin/sam" validate --lint -t "$variant"
    done
  else
    echo "SKIPPED: aws-sam-cli $SAM_CLI_VERSION could not be installed" >&2
  fi
fi

if [ "${INFRA_BUILD:-1}" = 1 ]; then
  step "cargo lambda build --release --arm64 -p ccp-disconnect-lambda (bootstrap, presign)"
  install lambda "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
  export PATH="$TOOLS/lambda/bin:$PATH"
  if command -v rustup >/dev/null 2>&1; then
    rustup target add aarch64-unknown-linux-gnu >/dev/null
  fi
  cargo lambda --version
  # Both binaries in one build: they share every dependency, and SAM
  # deploys each from target/lambda/<binary>/bootstrap.
  cargo lambda build --release --arm64 -p ccp-disconnect-lambda
  for ARTIFACT in target/lambda/bootstrap/bootstrap target/lambda/presign/bootstrap; do
    if command -v file >/dev/null 2>&1; then file "$ARTIFACT"; fi
    BYTES=$(stat -c %s "$ARTIFACT")
    echo "artifact: $ARTIFACT $BYTES bytes ($((BYTES / 1024)) KiB)"
  done
fi

step "infra checks passed"
