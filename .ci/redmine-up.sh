#!/bin/bash
# A copy of ../shared/helpdesks/redmine-up.sh that also makes teledesk's issue custom fields (all
# projects and trackers) for the live tests; Redmine's REST API cannot create custom fields:
# `Contract` (string, an intake field, REDMINE_INTAKE_FIELD), `Telegram chat` (string) and
# `Announcement` (bool) that address a staff issue to a chat (REDMINE_CHAT_FIELD,
# REDMINE_ANNOUNCEMENT_FIELD), and `Registered` (string, REDMINE_REGISTERED_FIELD). Everything
# else is unchanged.
# redmine-up.sh [PORT] - bring up Debian's Redmine 5 (SQLite, thin via rackup) on
# 127.0.0.1:PORT with the REST API on, a known admin password and API key, a test project
# and a requester user (Reporter role). Idempotent: a second run reuses the install, the
# database, the key and a server that is already up on that port. Last two lines:
#   REDMINE_URL=http://127.0.0.1:PORT
#   REDMINE_KEY=<40 hex>
# Stop it with: kill "$(cat /run/redmine-ci.pid)"
set -euo pipefail

PORT="${1:-3000}"
case "$PORT" in ''|*[!0-9]*) echo "usage: $0 [PORT]" >&2; exit 2;; esac
ADMIN_PASS="${REDMINE_ADMIN_PASS:-ci-admin-pass}"
PROJECT="${REDMINE_PROJECT:-ci-support}"
PIDFILE=/run/redmine-ci.pid
PORTFILE=/run/redmine-ci.port
LOG=/var/log/redmine/default/server-ci.log
APP=/usr/share/redmine
URL="http://127.0.0.1:$PORT"
export DEBIAN_FRONTEND=noninteractive
log() { echo "[redmine-up] $*" >&2; }
as_www() {  # run as www-data in the app dir with the instance environment, no PAM/fork
  (cd "$APP" && exec setpriv --reuid=www-data --regid=www-data --init-groups \
     env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/cache/redmine/default/tmp LANG=C.UTF-8 \
     REDMINE_INSTANCE=default RAILS_ENV=production "$@")
}

# ---------- 1. install (once) ----------
if ! dpkg-query -W -f='${Status}' redmine 2>/dev/null | grep -q 'ok installed' \
   || ! dpkg-query -W -f='${Status}' redmine-sqlite 2>/dev/null | grep -q 'ok installed' \
   || ! dpkg-query -W -f='${Status}' thin 2>/dev/null | grep -q 'ok installed'; then
  t0=$(date +%s)
  debconf-set-selections <<'EOF'
redmine redmine/current-instances string default
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/db/basepath string /var/lib/dbconfig-common/sqlite3/redmine/instances/default
redmine redmine/instances/default/db/dbname string redmine_default
EOF
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get update -q >/dev/null
  # thin: README.Debian's "rackup" (WEBrick) fails under bundler; the Gemfile loads thin if present
  apt-get install -y -q --no-install-recommends redmine redmine-sqlite thin curl >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  log "installed in $(( $(date +%s) - t0 ))s"
fi
# the package regenerates Gemfile.lock on install/trigger; make sure it has thin in it
if ! grep -q '^    thin ' /var/lib/redmine/Gemfile.lock 2>/dev/null; then
  (cd "$APP" && rm -f /var/lib/redmine/Gemfile.lock && bundle install --local --quiet 2>/dev/null \
     && chown www-data:www-data /var/lib/redmine/Gemfile.lock)
fi

command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null

# ---------- 2. mail goes to files, not SMTP ----------
CONF=/etc/redmine/default/configuration.yml
if [ ! -f "$CONF" ]; then
  cat > "$CONF" <<'EOF'
# written by redmine-up.sh: keep outgoing mail as files under the instance tmp dir
default:
  email_delivery:
    delivery_method: :file
    file_settings:
      location: /var/cache/redmine/default/tmp/mails
EOF
  chown root:www-data "$CONF"; chmod 640 "$CONF"
fi

# ---------- 3. reuse a running server of ours ----------
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
            && grep -q rackup "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; }
if running && [ "$(cat "$PORTFILE" 2>/dev/null)" != "$PORT" ]; then
  pid=$(cat "$PIDFILE"); log "stopping our previous server (pid $pid)"
  kill -TERM "$pid"; for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PIDFILE" "$PORTFILE"
fi

# ---------- 4. provision (idempotent): REST on, admin password + key, project, requester ----------
KEY=$(as_www env REDMINE_ADMIN_PASS="$ADMIN_PASS" REDMINE_PROJECT="$PROJECT" bin/rails runner '
  Setting.rest_api_enabled = "1" unless Setting.rest_api_enabled?
  admin = User.find_by_login("admin")
  unless admin.check_password?(ENV["REDMINE_ADMIN_PASS"]) && !admin.must_change_passwd?
    admin.password = admin.password_confirmation = ENV["REDMINE_ADMIN_PASS"]
    admin.must_change_passwd = false
    admin.save!
  end
  p = Project.find_by_identifier(ENV["REDMINE_PROJECT"]) || Project.new(name: "CI Support",
        identifier: ENV["REDMINE_PROJECT"], is_public: false)
  if p.new_record?
    p.enabled_module_names = %w(issue_tracking)
    p.trackers = Tracker.all
    p.save!
  end
  # teledesk issue custom fields for every project and tracker: an intake field (issue 14.1), the
  # chat staff address an issue to and the announcement mark (14.3), the registration time (14.4)
  # "Telegram chat" is a filter: teledesk polls for issues where it is set (cf_<id>=*)
  [["Contract", "string", false], ["Telegram chat", "string", true], ["Announcement", "bool", false],
   ["Registered", "string", false]].each do |name, format, filter|
    field = IssueCustomField.find_by_name(name) || IssueCustomField.create!(name: name,
      field_format: format, is_for_all: true, visible: true, trackers: Tracker.all)
    field.update!(is_filter: filter) unless field.is_filter == filter
  end
  alice = User.find_by_login("alice") || User.new(firstname: "Alice", lastname: "Customer",
        mail: "alice@example.test")
  if alice.new_record?
    alice.login = "alice"
    alice.password = alice.password_confirmation = "alice-pass-1"
    alice.save!
  end
  unless Member.where(user_id: alice.id, project_id: p.id).exists?
    Member.create!(principal: alice, project: p, role_ids: [Role.find_by_name("Reporter").id])
  end
  puts admin.api_key
' 2>&1 | tail -1 || true)
case "$KEY" in [0-9a-f]*) [ ${#KEY} -eq 40 ] || { log "provisioning failed: $KEY"; exit 1; };;
  *) log "provisioning failed: $KEY"; exit 1;; esac

# ---------- 5. start the server ----------
if ! running; then
  t0=$(date +%s.%N)
  mkdir -p /var/log/redmine/default
  rm -f "$PIDFILE"
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    setpriv --reuid=www-data --regid=www-data --init-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/cache/redmine/default/tmp LANG=C.UTF-8 \
    REDMINE_INSTANCE=default RAILS_ENV=production \
    sh -c "cd $APP && exec rackup -s thin -E production -o 127.0.0.1 -p $PORT" \
    >>"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
  echo "$PORT" > "$PORTFILE"
  ok=""
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Redmine-API-Key: $KEY" "$URL/users/current.json")" = 200 ]; then ok=1; break; fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ok" ]; then log "server did not come up; see $LOG"; tail -20 "$LOG" >&2; exit 1; fi
  log "server pid $(cat "$PIDFILE") up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
else
  log "server pid $(cat "$PIDFILE") already up"
fi
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Redmine-API-Key: $KEY" "$URL/projects/$PROJECT.json")" = 200 ] \
  || { log "key or project check failed"; exit 1; }
echo "REDMINE_PID=$(cat "$PIDFILE")"
echo "REDMINE_URL=$URL"
echo "REDMINE_KEY=$KEY"
