#!/usr/bin/env sh
# Installs Portkey's gateway into bench/.portkey (gitignored) so that `npm run bench` compares against it.
# The version is pinned (PORTKEY_VERSION overrides it): issue 19's baseline was measured with 1.15.2.
# @hono/node-server is forced to 1.13.5 everywhere: @hono/node-ws makes npm nest node-server >= 1.19
# under the gateway, and that version reuses the upstream's immutable fetch Headers, so every streamed
# request through Portkey fails with "TypeError: immutable".
set -eu
PORTKEY_VERSION="${PORTKEY_VERSION:-1.15.2}"
cd "$(dirname "$0")"
mkdir -p .portkey
cat > .portkey/package.json <<'JSON'
{
  "private": true,
  "overrides": { "@hono/node-server": "$@hono/node-server" }
}
JSON
npm install --prefix .portkey --save-exact --no-audit --no-fund "@portkey-ai/gateway@$PORTKEY_VERSION" @hono/node-server@1.13.5
