# Sourced by scripts/test. container_check builds deploy/Dockerfile and
# starts the image when a container engine answers (docker or podman), and
# checks that the broker serves /healthz from a fresh volume as its non-root
# user. Without an engine it says so: a docker CLI alone is not an engine.

container_check() {
  local engine=""
  for e in docker podman; do
    if command -v "$e" >/dev/null 2>&1 && timeout 10 "$e" info >/dev/null 2>&1; then engine=$e; break; fi
  done
  if [ -z "$engine" ]; then
    echo "skipped: no container engine answers here ('docker info' / 'podman info' failed or absent); deploy/deploy_test.go still checks the Dockerfile and manifests"
    return 0
  fi
  local tag="broker:test-$$" name="broker-test-$$" vol="broker-test-data-$$" port
  "$engine" build -q -f deploy/Dockerfile -t "$tag" . >/dev/null
  port=$(( (RANDOM % 20000) + 30000 ))
  "$engine" volume create "$vol" >/dev/null
  "$engine" run -d --name "$name" -p "127.0.0.1:$port:8080" -v "$vol:/var/lib/broker" \
    -e BROKER_LISTEN=0.0.0.0:8080 "$tag" >/dev/null
  local ok=""
  for _ in $(seq 1 30); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
    sleep 1
  done
  if [ -z "$ok" ]; then "$engine" logs "$name" | tail -20; fi
  "$engine" rm -f "$name" >/dev/null; "$engine" volume rm "$vol" >/dev/null; "$engine" rmi "$tag" >/dev/null
  [ -n "$ok" ] || { echo "the image did not serve /healthz"; return 1; }
  echo "image built and served /healthz from a fresh volume ($engine)"
}
