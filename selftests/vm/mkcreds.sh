#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test credentials for the migrations' TLS, made with openssl into DIR
# (once; a stamp file says they are complete):
#
#   x509/          a CA, server and client certificates and keys, laid out
#                  as QEMU's tls-creds-x509 (what the agent's --tls-creds
#                  reads); the server's names: localhost, 127.0.0.1, ::1
#                  and the test namespaces' 10.77.0.1 and 10.77.0.2
#   x509-otherca/  the same names, signed by another CA (ca-cert.pem is
#                  that CA's)
#   x509-expired/  certificates of the first CA that expired in 2021
#   psk            identity:hexkey (--tls-psk), identity pca-test
#   psk-wrong      the same identity with another key
#
# For tests and the demo only: the keys are not secret.
#
# usage: mkcreds.sh DIR
set -eu
. "$(dirname "$0")/lib.sh"

dir=${1:?usage: mkcreds.sh DIR}
[ -f "$dir/.stamp" ] && exit 0
command -v openssl >/dev/null || die "openssl missing (make deps)"
rm -rf "$dir"
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

SAN="DNS:localhost,IP:127.0.0.1,IP:::1,IP:10.77.0.1,IP:10.77.0.2"

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1" 2>/dev/null
}

# ca NAME OUTDIR
ca() {
	mkdir -p "$2"
	key "$2/ca-key.pem"
	openssl req -new -x509 -key "$2/ca-key.pem" -out "$2/ca-cert.pem" \
		-days 3650 -subj "/CN=$1" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf CADIR OUTDIR server|client [START END]: a certificate for the role
leaf() {
	local cadir=$1 out=$2 who=$3 start=${4:-} end=${5:-} ext
	mkdir -p "$out"
	key "$out/$who-key.pem"
	openssl req -new -key "$out/$who-key.pem" -subj "/CN=pca-$who" \
		-out "$tmp/$who.csr" 2>/dev/null
	ext=$tmp/$who.ext
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		if [ "$who" = server ]; then
			echo "extendedKeyUsage=serverAuth"
			echo "subjectAltName=$SAN"
		else
			echo "extendedKeyUsage=clientAuth"
			echo "subjectAltName=DNS:pca-client"
		fi
	} >"$ext"
	if [ -z "$start" ]; then
		openssl x509 -req -in "$tmp/$who.csr" -CA "$cadir/ca-cert.pem" \
			-CAkey "$cadir/ca-key.pem" -CAcreateserial \
			-CAserial "$tmp/serial" -days 3650 -extfile "$ext" \
			-out "$out/$who-cert.pem" 2>/dev/null
		return
	fi
	# dates in the past need "openssl ca" and its database
	mkdir -p "$tmp/db"
	: >"$tmp/db/index"
	[ -f "$tmp/db/serial" ] || echo 1000 >"$tmp/db/serial"
	cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $tmp/db/index
serial = $tmp/db/serial
new_certs_dir = $tmp/db
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
	openssl ca -batch -config "$tmp/ca.cnf" -cert "$cadir/ca-cert.pem" \
		-keyfile "$cadir/ca-key.pem" -in "$tmp/$who.csr" \
		-startdate "$start" -enddate "$end" -extfile "$ext" \
		-out "$out/$who-cert.pem" 2>/dev/null
}

ca "pca test CA" "$tmp/ca"
ca "pca other CA" "$tmp/other"
for who in server client; do
	leaf "$tmp/ca" "$dir/x509" $who
	leaf "$tmp/other" "$dir/x509-otherca" $who
	leaf "$tmp/ca" "$dir/x509-expired" $who 20200101000000Z 20210101000000Z
done
cp "$tmp/ca/ca-cert.pem" "$dir/x509/"
cp "$tmp/ca/ca-cert.pem" "$dir/x509-expired/"
cp "$tmp/other/ca-cert.pem" "$dir/x509-otherca/"
echo "pca-test:$(openssl rand -hex 32)" >"$dir/psk"
echo "pca-test:$(openssl rand -hex 32)" >"$dir/psk-wrong"
chmod -R go-w "$dir"
chmod 0600 "$dir"/*/*-key.pem "$dir"/psk*
touch "$dir/.stamp"
