#!/bin/sh
# Secrets for docker/compose.yaml, for development on one machine: a throwaway CA, the API's
# TLS certificate, a client certificate (for trying mutual TLS), two API keys and the Redis
# password, written to docker/secrets/ (or the folder given as the only argument). Needs openssl.
#
#   docker/dev-certs.sh                      # once, before `docker compose ... up`
#   docker/dev-certs.sh --renew              # new server and client certificates, same keys
#
# Files (compose mounts each one at /run/secrets/NAME, only in the services that need it):
#   ca.crt ca.key            the dev CA: clients trust ca.crt (RUNWIRE_CA_FILE, grpcurl -cacert)
#   tls.crt tls.key          the API's certificate, for runwire, localhost, 127.0.0.1 and ::1
#   client.crt client.key    a client certificate, CN "ops-cli" (mutual TLS, docs/security.md)
#   api-key-ops api-key-app  the API keys docker/runwire.toml names (key_file), no newline
#   redis-password           Redis's requirepass, also read by Runwire (RUNWIRE_REDIS_PASSWORD_FILE)
#
# Keys and the password are made once and kept (a rerun keeps them; delete a file to replace
# it). Certificates are valid 90 days; --renew rewrites tls.crt/tls.key and client.crt/
# client.key in place, and the running API serves the new certificate to new connections
# without a restart. In place matters: compose bind-mounts each file, and a file replaced by
# another (mv) would not be seen in the container.
#
# The folder is mode 0700; the files in it are 0644 because compose bind-mounts them with the
# host's owner and mode, and the containers' users (uid 10001, Redis's 999) must read them.
# Never for production: there, certificates come from your CA (cert-manager on Kubernetes) and
# secrets from your secret store.
set -eu

renew=false
if [ "${1:-}" = "--renew" ]; then
    renew=true
    shift
fi
out=${1:-"$(dirname "$0")/secrets"}
days=90

umask 077
mkdir -p "$out"
chmod 0700 "$out"
cd "$out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A random secret: 32 bytes as 64 hex digits, no newline.
secret() {
    if [ ! -s "$1" ]; then
        openssl rand -hex 32 | tr -d '\n' >"$1"
        echo "made $out/$1"
    fi
}

# issue NAME CN EXTENSIONS: a P-256 key (kept if present) and a certificate signed by the CA,
# both rewritten in place.
issue() {
    if [ ! -s "$1.key" ]; then
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key"
        cat "$work/$1.key" >"$1.key"
    fi
    printf '%s\n' "$3" >"$work/$1.ext"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$work/$1.csr"
    openssl x509 -req -in "$work/$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -CAserial "$work/ca.srl" -days "$days" -sha256 -extfile "$work/$1.ext" \
        -out "$work/$1.crt"
    cat "$work/$1.crt" >"$1.crt"
    echo "issued $out/$1.crt (CN $2, $days days)"
}

if [ ! -s ca.key ] || [ ! -s ca.crt ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
    openssl req -new -x509 -key ca.key -subj "/CN=Runwire dev CA" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
    echo "made $out/ca.crt (the CA clients trust)"
fi

if $renew || [ ! -s tls.crt ]; then
    issue tls runwire "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:runwire,DNS:localhost,IP:127.0.0.1,IP:::1"
fi
if $renew || [ ! -s client.crt ]; then
    issue client ops-cli "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:spiffe://runwire.dev/ops-cli"
fi

secret api-key-ops
secret api-key-app
secret redis-password

chmod 0644 ./*
chmod 0600 ca.key
