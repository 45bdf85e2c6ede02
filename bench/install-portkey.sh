#!/usr/bin/env sh
# Installs Portkey's gateway into bench/.portkey (gitignored) so that `npm run bench` compares against it.
# @hono/node-server is forced to 1.13.5 everywhere: @hono/node-ws makes npm nest node-server >= 1.19
# under the gateway, and that version reuses the upstream's immutable fetch Headers, so every streamed
# request through Portkey fails with "TypeError: immutable".
set -eu
cd "$(dirname "$0")"
mkdir -p .portkey
cat > .portkey/package.json <<'JSON'
{
  "private": true,
  "overrides": { "@hono/node-server": "$@hono/node-server" }
}
JSON
npm install --prefix .portkey --save-exact --no-audit --no-fund @portkey-ai/gateway @hono/node-server@1.13.5
