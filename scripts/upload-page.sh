#!/usr/bin/env bash
# Serves the upload page on 127.0.0.1 for trying it by hand, with no AWS
# account: the test suite's stand-in of the deployment (an OIDC sign-in page
# that takes any user name, the HTTP API with its JWT check in front of the
# real `presign` function, S3 as moto behind s3s-fs's POST policy check, and
# the real classifier run on every upload). Open the printed URL, sign in,
# drop an agent-log.txt. Ctrl-C stops it.
#
#   scripts/upload-page.sh                     # 100 MB upload limit
#   MAX_OBJECT_BYTES=1048576 scripts/upload-page.sh
#
# Installs the same pinned tools as scripts/test (moto, s3s-fs) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
export BROWSER_TESTS=0
exec scripts/test --test lambda -- --ignored --nocapture \
  --exact upload_page::serve_the_upload_page_for_a_person
