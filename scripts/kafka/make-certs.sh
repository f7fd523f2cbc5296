#!/usr/bin/env bash
# Development TLS material for the local broker's SASL_SSL listener, made with keytool only
# (it comes with the JDK the broker needs anyway).
#
# usage: scripts/kafka/make-certs.sh OUT_DIR        (scripts/kafka.sh passes .kafka/tls)
#
# Writes, into OUT_DIR:
#   ca.p12          the throw-away certificate authority (key + self-signed cert)
#   ca.pem          its certificate, PEM: the cafile for Python clients (ssl.create_default_context)
#   truststore.p12  the CA certificate for Java clients
#   broker.p12      the broker key and certificate (SAN IP:127.0.0.1, DNS:localhost) + chain
#   password        the store password of the .p12 files
# Nothing here is a secret worth keeping: it protects a loopback-only development broker.
# Existing material is kept; delete OUT_DIR to make new certificates.
set -euo pipefail

out="${1:?usage: make-certs.sh OUT_DIR}"
if [[ -s "$out/broker.p12" && -s "$out/ca.pem" && -s "$out/password" ]]; then
  exit 0
fi
command -v keytool >/dev/null || { echo "make-certs.sh: keytool not found (install a JDK)" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/deid-certs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
pass="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
days=3650
san="SAN=IP:127.0.0.1,DNS:localhost"

kt() { keytool -noprompt "$@" >>"$tmp/keytool.log" 2>&1 || { cat "$tmp/keytool.log" >&2; exit 1; }; }

# 1. the CA: critical basicConstraints and keyCertSign, as strict X.509 verifiers require
kt -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity "$days" \
   -dname "CN=deidentify local dev CA" -ext bc:c=ca:true -ext KU:c=keyCertSign,cRLSign \
   -keystore "$tmp/ca.p12" -storetype PKCS12 -storepass "$pass"
kt -exportcert -rfc -alias ca -keystore "$tmp/ca.p12" -storepass "$pass" -file "$tmp/ca.pem"

# 2. the broker key, a request, the CA's signature with the loopback SANs
kt -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity "$days" \
   -dname "CN=localhost" -ext "$san" \
   -keystore "$tmp/broker.p12" -storetype PKCS12 -storepass "$pass"
kt -certreq -alias broker -keystore "$tmp/broker.p12" -storepass "$pass" -file "$tmp/broker.csr"
kt -gencert -rfc -alias ca -keystore "$tmp/ca.p12" -storepass "$pass" -validity "$days" \
   -infile "$tmp/broker.csr" -outfile "$tmp/broker.pem" \
   -ext "$san" -ext KU:c=digitalSignature,keyEncipherment -ext EKU=serverAuth
# 3. chain: CA first (trusted entry), then the signed reply replaces the self-signed cert
kt -importcert -alias ca -file "$tmp/ca.pem" -keystore "$tmp/broker.p12" -storepass "$pass"
kt -importcert -alias broker -file "$tmp/broker.pem" -keystore "$tmp/broker.p12" -storepass "$pass"
# 4. a truststore for Java clients
kt -importcert -alias ca -file "$tmp/ca.pem" -keystore "$tmp/truststore.p12" \
   -storetype PKCS12 -storepass "$pass"

mkdir -p "$out"
chmod 700 "$out"
printf '%s\n' "$pass" >"$tmp/password"
for f in ca.p12 ca.pem truststore.p12 broker.p12 password; do
  install -m 600 "$tmp/$f" "$out/$f"
done
chmod 644 "$out/ca.pem"
echo "make-certs.sh: wrote CA and broker certificate (SAN IP:127.0.0.1, DNS:localhost) to $out"
