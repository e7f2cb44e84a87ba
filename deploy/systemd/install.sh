#!/bin/sh
# quantrac: install the services on a VM with systemd ≥ 248 (Debian 12, Ubuntu 22.04 and later),
# next to Debian's mosquitto (deploy/mosquitto/, docs/security.md). docs/deploy.md, "systemd".
#
#   sudo sh deploy/systemd/install.sh [--site DIR] [--gateway ID]
#
# Makes the quantrac user, a virtual environment in /opt/quantrac with quantrac[ftp] from this
# repository, the units (quantrac-gateway@, quantrac-collector@, quantrac-alerting,
# quantrac-api, quantrac-backup + its timer, and their shared hardening drop-in), and, where
# missing: /etc/quantrac/quantrac.env and the gateway's and first collector's env files, the
# site (a copy of DIR, default examples/hue), /etc/quantrac/credentials/ (root only) with the
# broker accounts' passwords and the store URL (SQLite under /var/lib/quantrac). Nothing that
# exists is overwritten; run it again after a `git pull` to upgrade. Then:
#   systemctl enable --now quantrac-gateway@gw-hue-1 quantrac-collector@1 \
#       quantrac-alerting quantrac-api quantrac-backup.timer
#
# ROOT=/some/dir installs under that directory instead (packaging, tests): no user is made and
# systemd is not told. NO_VENV=1 leaves /opt/quantrac as it is.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
site=$repo/examples/hue
gateway=gw-hue-1
while [ $# -gt 0 ]; do
    case $1 in
        --site) site=${2:?--site needs a directory}; shift 2 ;;
        --gateway) gateway=${2:?--gateway needs an id}; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
root=${ROOT:-/}
root=${root%/}
say() { echo "quantrac install: $*" >&2; }

if [ -z "$root" ]; then
    [ "$(id -u)" -eq 0 ] || { say "run it as root (sudo)"; exit 1; }
    getent passwd quantrac >/dev/null || {
        useradd --system --user-group --home-dir /var/lib/quantrac --shell /usr/sbin/nologin \
            quantrac
        say "made the user quantrac"
    }
    owner=quantrac
else
    owner=$(id -u)  # a staging root: everything belongs to whoever builds it
fi

if [ "${NO_VENV:-0}" != 1 ]; then
    python3 -m venv "$root/opt/quantrac"
    "$root/opt/quantrac/bin/pip" install --quiet --upgrade "$repo[ftp]"
    say "installed $("$root/opt/quantrac/bin/quantrac" --help >/dev/null && echo quantrac) in /opt/quantrac"
fi

units=$root/etc/systemd/system
install -d -m 755 "$units/quantrac-.service.d"
for unit in "$here"/quantrac-*.service "$here"/quantrac-*.timer; do
    install -m 644 "$unit" "$units/"
done
install -m 644 "$here/quantrac-.service.d/hardening.conf" "$units/quantrac-.service.d/"
install -d -m 755 "$root/usr/share/doc/quantrac"
install -m 644 "$repo/docs/deploy.md" "$root/usr/share/doc/quantrac/"

etc=$root/etc/quantrac
install -d -m 750 "$etc"
keep() {  # SOURCE TARGET MODE: install unless the target exists
    [ -e "$2" ] || { install -m "$3" "$1" "$2"; say "made ${2#"$root"}"; }
}
keep "$here/quantrac.env" "$etc/quantrac.env" 640
keep "$here/gateway.env.example" "$etc/gateway-$gateway.env" 640
keep "$here/collector.env.example" "$etc/collector-1.env" 640
[ -e "$etc/alerting.env" ] || {
    printf '# The notifiers secrets alerting.yaml names, as VARIABLE=value (root only).\n' \
        > "$etc/alerting.env"
    chmod 600 "$etc/alerting.env"
}
[ -e "$etc/site" ] || { cp -R "$site" "$etc/site"; say "copied the site $site to /etc/quantrac/site"; }

credentials=$etc/credentials
install -d -m 700 "$credentials"
[ -e "$credentials/store-url" ] || {
    (umask 077 && echo "sqlite:///var/lib/quantrac/quantrac.sqlite3" > "$credentials/store-url")
    say "made /etc/quantrac/credentials/store-url (SQLite; put an influxdb2:// URL there for InfluxDB)"
}
missing=
for name in "$gateway" collector alerting reader; do
    [ -e "$credentials/$name.password" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
    if command -v mosquitto_passwd >/dev/null || [ -x /usr/bin/mosquitto_passwd ]; then
        install -d -m 755 "$root/etc/mosquitto/quantrac"
        # shellcheck disable=SC2086  # one account per word
        sh "$repo/deploy/mosquitto/make-accounts.sh" "$root/etc/mosquitto/quantrac/passwd" \
            "$credentials" $missing
    else
        say "no mosquitto_passwd: make the broker accounts$missing with" \
            "deploy/mosquitto/make-accounts.sh (docs/security.md)"
    fi
fi

install -d -m 750 "$root/var/lib/quantrac" "$root/var/backups/quantrac"
if [ -z "$root" ]; then
    chown root:quantrac "$etc" "$etc"/*.env
    chown "$owner:$owner" /var/lib/quantrac /var/backups/quantrac
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        say "units installed; start them with systemctl enable --now quantrac-gateway@$gateway" \
            "quantrac-collector@1 quantrac-alerting quantrac-api quantrac-backup.timer"
    fi
fi
