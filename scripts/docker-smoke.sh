#!/usr/bin/env bash
# End-to-end check of the Docker image on a machine with a Docker engine (minutes; CI does not run it):
# builds the image, runs it on the host network against the test suite's fake OpenAI upstream, sends
# a non-streaming and a streaming request, checks both spans are in the container's /data volume (and
# the API key is not), waits for the healthcheck to say healthy, then stops it with SIGTERM and checks
# it exited 0 after flushing.
#
#   scripts/docker-smoke.sh        # env: IMAGE (default llmtap:smoke), PORT (default 18780)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-llmtap:smoke}
PORT=${PORT:-18780}
NAME=llmtap-smoke-$$
VOLUME=llmtap-smoke-$$
KEY=sk-smoke-$$-do-not-store
work=$(mktemp -d)
fake_pid=

cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm "$VOLUME" >/dev/null 2>&1 || true
  if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  docker logs "$NAME" 2>&1 | tail -20 >&2 || true
  exit 1
}
header() { tr -d '\r' <"$2" | awk -v name="$1" 'tolower($1) == name ":" { print $2 }'; }

step "docker build -t $IMAGE ."
started=$(date +%s)
docker build --network host -t "$IMAGE" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail 'docker build failed'; }
echo "built in $(($(date +%s) - started)) s; image size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

step 'fake OpenAI upstream (test/support/fake-openai.ts) on 127.0.0.1'
npx --no-install tsc --ignoreConfig --outDir "$work/fake" --module nodenext --target es2022 --types node --skipLibCheck test/support/fake-openai.ts
echo '{"type":"module"}' >"$work/fake/package.json"
node --input-type=module -e "
  import { startFakeOpenAI } from '$work/fake/fake-openai.js';
  console.log((await startFakeOpenAI()).url);" >"$work/fake.url" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/fake.url" ] && break; sleep 0.1; done
upstream=$(cat "$work/fake.url")
[ -n "$upstream" ] || fail 'the fake upstream did not start'
echo "upstream $upstream"

step "docker run --network host (LLMTAP_PORT=$PORT, volume $VOLUME on /data)"
docker run -d --name "$NAME" --network host -e LLMTAP_PORT="$PORT" -e LLMTAP_UPSTREAM_URL="$upstream" -v "$VOLUME:/data" "$IMAGE" >/dev/null
started=$(date +%s)
status=
for _ in $(seq 90); do
  status=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
  [ "$status" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail 'the container exited'
  sleep 1
done
[ "$status" = healthy ] || fail "healthcheck status is '$status' after 90 s"
echo "healthy after $(($(date +%s) - started)) s; runs as $(docker exec "$NAME" id -un), PID 1 is $(docker exec "$NAME" cat /proc/1/comm)"
version=$(docker exec "$NAME" llmtap --version) || fail 'the llmtap command is not on the PATH in the image'
echo "$version on the PATH"

base=http://127.0.0.1:$PORT/v1
request() { # $1: name, $2: extra JSON fields
  curl -sS -N --max-time 30 -D "$work/$1.headers" -o "$work/$1.body" "$base/chat/completions" \
    -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]$2}"
}

step 'POST /v1/chat/completions (non-streaming)'
request plain ''
grep -q '"object":"chat.completion"' "$work/plain.body" || fail "unexpected body: $(cat "$work/plain.body")"
plain_span=$(header x-llmtap-span-id "$work/plain.headers")
echo "200, span $plain_span"

step 'POST /v1/chat/completions (streaming, curl -N)'
request stream ',"stream":true'
grep -q '^data: \[DONE\]' "$work/stream.body" || fail 'the stream did not end with [DONE]'
stream_span=$(header x-llmtap-span-id "$work/stream.headers")
echo "$(grep -c '^data: ' "$work/stream.body") events, span $stream_span"

step 'spans in the volume (/data/llmtap.db, read inside the container)'
stored=
for _ in $(seq 50); do
  stored=$(docker exec "$NAME" node -e "
    const db = new (require('better-sqlite3'))('/data/llmtap.db', { readonly: true });
    for (const r of db.prepare('SELECT span_id, status_code, model, attributes FROM spans ORDER BY seq').all())
      console.log(r.span_id, r.status_code, r.model, JSON.stringify(JSON.parse(r.attributes)['output.value']).slice(0, 60));")
  grep -q "^$plain_span OK" <<<"$stored" && grep -q "^$stream_span OK" <<<"$stored" && break
  sleep 0.1
done
echo "$stored"
grep -q "^$plain_span OK" <<<"$stored" || fail "span $plain_span not stored"
grep -q "^$stream_span OK" <<<"$stored" || fail "span $stream_span not stored"
if docker exec "$NAME" grep -rlF "$KEY" /data; then fail 'the API key is in the volume'; fi
echo 'the API key is nowhere in /data'

step 'docker kill --signal TERM, then wait for the exit'
docker kill --signal TERM "$NAME" >/dev/null
code=$(timeout 60 docker wait "$NAME") || fail 'no exit within 60 s of SIGTERM'
docker logs "$NAME" 2>&1 | tail -3
[ "$code" = 0 ] || fail "exit code $code"
docker logs "$NAME" 2>&1 | grep -q '"msg":"stopped"' || fail 'no "stopped" log line'
echo 'exit code 0'

printf '\ndocker smoke: OK\n'
