#!/usr/bin/env bash
# Builds the Debian package: target/debian/teledesk_<version>_amd64.deb.
#
# The binary is the production build (profile `dist`, no demo and no fakes); the unit is
# systemd/teledesk.service with the binary at /usr/bin; the man page is generated from the
# binary's own --help by help2man. Needs cargo-deb (`cargo install cargo-deb --locked`) and
# help2man (`apt-get install help2man`).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

cargo build --profile dist --no-default-features --bin teledesk --locked
BIN=target/dist/teledesk
mkdir -p target/package
sed 's#/usr/local/bin/teledesk#/usr/bin/teledesk#g' systemd/teledesk.service >target/package/teledesk.service
help2man --no-info --section 1 --name "a Telegram front door for an existing helpdesk" \
    --version-string "$(cargo pkgid -p teledesk | sed 's/.*[#@]//')" "$BIN" >target/package/teledesk.1
gzip -9nf target/package/teledesk.1
cargo deb --profile dist --no-build -p teledesk
ls -l target/debian/teledesk_*.deb
