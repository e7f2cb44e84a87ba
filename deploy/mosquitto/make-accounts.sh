#!/bin/sh
# Create the broker's password file with one account per name, each with a new random
# password, and write each password to DIR/<name>.password (mode 600) for the service's
# QUANTRAC_MQTT_PASSWORD_FILE. No password is ever on a command line (`ps` shows those):
# mosquitto_passwd -U hashes the plain file in place.
#
#   sh deploy/mosquitto/make-accounts.sh /etc/mosquitto/quantrac/passwd /etc/quantrac/secrets \
#       gw-hue-1 gw-hue-2 collector alerting reader kim_long phu_oc
#
# Existing accounts in the file are kept; a name given again gets a new password (rotation).
set -eu
if [ $# -lt 3 ]; then
    echo "usage: $0 PASSWORD_FILE SECRETS_DIR NAME..." >&2
    exit 2
fi
passwd_file=$1
secrets_dir=$2
shift 2
command -v mosquitto_passwd >/dev/null || {
    echo "mosquitto_passwd not found: apt-get install -y mosquitto" >&2
    exit 1
}
umask 077
mkdir -p "$secrets_dir"
plain=$(mktemp)
trap 'rm -f "$plain"' EXIT
for name in "$@"; do
    case $name in *:*|*' '*) echo "bad account name: $name" >&2; exit 2 ;; esac
    password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
    printf '%s\n' "$password" > "$secrets_dir/$name.password"
    printf '%s:%s\n' "$name" "$password" >> "$plain"
done
mosquitto_passwd -U "$plain"
if [ -f "$passwd_file" ]; then
    for name in "$@"; do
        grep -v "^$name:" "$passwd_file" > "$passwd_file.new" || true
        mv "$passwd_file.new" "$passwd_file"
    done
    cat "$plain" >> "$passwd_file"
else
    cp "$plain" "$passwd_file"
fi
chmod 640 "$passwd_file"
# Mosquitto drops to the "mosquitto" user: it must read the file.
chgrp mosquitto "$passwd_file" 2>/dev/null || true
echo "$# account(s) in $passwd_file; passwords in $secrets_dir/<name>.password" >&2
