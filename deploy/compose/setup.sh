#!/bin/sh
# quantrac: prepare the compose stack's settings and secrets (docs/deploy.md, "Docker Compose").
#
#   sh deploy/compose/setup.sh [--store influxdb|victoriametrics] [PROJECT_DIR]
#
# PROJECT_DIR (default: the repository this script is in) gets
#   .env                    from .env.example, if there is none yet (settings, no secret);
#   secrets/                mode 700: the broker's password file and one password per service
#                           account (deploy/mosquitto/make-accounts.sh), the InfluxDB admin
#                           password and token, Grafana's admin password, the store URL the
#                           collector and the API read (QUANTRAC_STORE_URL_FILE), and
#                           gateway.env / alerting.env for the site's own secrets;
#   backups/, the TT10 inbox  folders the quantrac containers write.
# Run it as root (sudo): each secret is then given to the container user that reads it and to
# nobody else. Run again, it makes only what is missing: nothing is overwritten (to rotate a
# password, delete its file and run it again, then restart the stack).
set -eu

store=
project=
while [ $# -gt 0 ]; do
    case $1 in
        --store) store=${2:?--store needs influxdb or victoriametrics}; shift 2 ;;
        --store=*) store=${1#--store=}; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "unknown option: $1" >&2; exit 2 ;;
        *) project=$1; shift ;;
    esac
done
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
project=$(cd "${project:-$repo}" && pwd)
cd "$project"

# The users the images run as: quantrac's own (Dockerfile), Mosquitto's, Grafana's.
QUANTRAC_UID=10001
MOSQUITTO_GID=1883
GRAFANA_UID=472

if [ ! -f .env ]; then
    store=${store:-influxdb}
    case $store in
        influxdb|victoriametrics) ;;
        *) echo "--store: influxdb or victoriametrics, not $store" >&2; exit 2 ;;
    esac
    sed -e "s/^COMPOSE_PROFILES=.*/COMPOSE_PROFILES=$store/" \
        -e "s/^QUANTRAC_STORE=.*/QUANTRAC_STORE=$store/" "$repo/.env.example" > .env
    echo "made .env (store: $store); edit it for the site" >&2
fi
set -a
. ./.env
set +a
if [ -n "$store" ] && [ "$store" != "${QUANTRAC_STORE:-}" ]; then
    echo "--store $store, but .env says QUANTRAC_STORE=${QUANTRAC_STORE:-}: edit .env" >&2
    exit 2
fi
store=${QUANTRAC_STORE:-influxdb}
GATEWAY_ID=${GATEWAY_ID:-gw-hue-1}
INFLUXDB_ORG=${INFLUXDB_ORG:-quantrac}
INFLUXDB_BUCKET=${INFLUXDB_BUCKET:-quantrac}
MOSQUITTO_IMAGE=${MOSQUITTO_IMAGE:-eclipse-mosquitto:2.0.20}

umask 077
mkdir -p secrets/mosquitto/certs
chmod 700 secrets

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
new_secret() {  # FILE: a new random secret unless it exists
    [ -f "$1" ] || { random_secret > "$1"; echo "made $1" >&2; }
}
new_secret secrets/influxdb-admin-password
new_secret secrets/influxdb-admin-token
new_secret secrets/grafana-admin-password

# Broker accounts: the gateway, the services, a reader for the boards' own tools.
missing=
for name in "$GATEWAY_ID" collector alerting reader; do
    [ -f "secrets/mosquitto/$name.password" ] || missing="$missing $name"
done
if [ -n "$missing" ]; then
    if ! command -v mosquitto_passwd >/dev/null && command -v docker >/dev/null; then
        # No Mosquitto on this host: its tool from the broker's image, on the same files.
        shim=$(mktemp -d)
        cat > "$shim/mosquitto_passwd" <<SHIM
#!/bin/sh
exec docker run --rm -v /tmp:/tmp -v "$project/secrets:$project/secrets" \
    --entrypoint mosquitto_passwd "$MOSQUITTO_IMAGE" "\$@"
SHIM
        chmod 755 "$shim/mosquitto_passwd"
        PATH="$shim:$PATH"
    fi
    # shellcheck disable=SC2086  # one account per word
    sh "$repo/deploy/mosquitto/make-accounts.sh" secrets/mosquitto/passwd secrets/mosquitto $missing
fi

if [ ! -f secrets/store-url ]; then
    if [ "$store" = influxdb ]; then
        printf 'influxdb2://influxdb:8086?org=%s&bucket=%s&token=%s\n' \
            "$INFLUXDB_ORG" "$INFLUXDB_BUCKET" "$(cat secrets/influxdb-admin-token)" \
            > secrets/store-url
    else
        echo "victoriametrics://victoriametrics:8428" > secrets/store-url
    fi
    echo "made secrets/store-url ($store)" >&2
fi
for service in gateway alerting; do
    [ -f "secrets/$service.env" ] || cat > "secrets/$service.env" <<EOF
# quantrac $service: the site's own secrets, as VARIABLE=value lines (docs/deploy.md).
# gateway: the TT10 stations' FTP passwords (QUANTRAC_FTP_NT01=…, docs/tt10.md).
# alerting: what alerting.yaml names (QUANTRAC_IOC_SECRET=…, QUANTRAC_ESMS_API_KEY=…).
EOF
done

# Folders others may look into (an FTP server writes the TT10 inbox).
(umask 022 && mkdir -p backups "${TT10_INBOX_DIR:-./data/tt10-inbox}")

# Each secret readable by the user of the container that reads it, and by nobody else.
give() {  # OWNER[:GROUP] MODE FILE…
    owner=$1 mode=$2
    shift 2
    if [ "$(id -u)" -eq 0 ]; then
        chown "$owner" "$@" && chmod "$mode" "$@"
    else
        # Not root: readable by all, inside secrets/ (mode 700), which no container sees whole.
        chmod a+r "$@"
    fi
}
give "$QUANTRAC_UID" 600 secrets/mosquitto/"$GATEWAY_ID".password \
    secrets/mosquitto/collector.password secrets/mosquitto/alerting.password secrets/store-url
give "0:$MOSQUITTO_GID" 640 secrets/mosquitto/passwd
give "$GRAFANA_UID" 600 secrets/grafana-admin-password secrets/influxdb-admin-token
chmod 600 secrets/gateway.env secrets/alerting.env secrets/influxdb-admin-password
if [ "$(id -u)" -eq 0 ]; then
    chown "$QUANTRAC_UID:$QUANTRAC_UID" backups "${TT10_INBOX_DIR:-./data/tt10-inbox}"
else
    echo "not root: secrets made readable by all users inside secrets/ (mode 700), and" \
        "backups/ and the TT10 inbox must be made writable by uid $QUANTRAC_UID" >&2
fi
echo "ready: docker compose build && docker compose up -d   (in $project)" >&2
