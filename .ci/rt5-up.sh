#!/bin/bash
# A copy of ../shared/helpdesks/rt5-up.sh that also makes teledesk's ticket custom fields on the
# CI queue for the live tests (REST2 cannot create custom fields): `Contract` (an intake field,
# RT_INTAKE_FIELD), `Telegram chat` and `Announcement` (a select with the one value `yes`) that
# address a staff ticket to a chat (RT_CHAT_FIELD, RT_ANNOUNCEMENT_FIELD), and `Registered`
# (RT_REGISTERED_FIELD). Everything else is unchanged.
# rt5-up.sh [PORT] - bring up Debian's Request Tracker 5 (SQLite, built-in Starlet server)
# on 127.0.0.1:PORT with REST 2.0, an admin auth token, a test queue and a requester user.
# Idempotent: a second run reuses the install, the database, the token and a server that
# is already up on that port. Last two lines of output:
#   RT_URL=http://127.0.0.1:PORT
#   RT_TOKEN=1-14-...
# Stop it with: kill "$(cat /run/rt5-ci.pid)"   (the Starlet master; its workers follow)
set -euo pipefail

PORT="${1:-8080}"
case "$PORT" in ''|*[!0-9]*) echo "usage: $0 [PORT]" >&2; exit 2;; esac
WORKERS="${RT_WORKERS:-2}"
ROOT_PASS="${RT_ROOT_PASS:-ci-root-pass}"
QUEUE="${RT_QUEUE:-CI Support}"
PIDFILE=/run/rt5-ci.pid
PORTFILE=/run/rt5-ci.port
TOKFILE=/var/lib/request-tracker5/ci-root-token
LOG=/var/log/request-tracker5/rt-server-ci.log
LIBEXEC=/usr/share/request-tracker5/libexec
URL="http://127.0.0.1:$PORT"
export DEBIAN_FRONTEND=noninteractive
log() { echo "[rt5-up] $*" >&2; }

# ---------- 1. install (once) ----------
if ! dpkg-query -W -f='${Status}' request-tracker5 2>/dev/null | grep -q 'ok installed' \
   || ! dpkg-query -W -f='${Status}' rt5-db-sqlite 2>/dev/null | grep -q 'ok installed'; then
  t0=$(date +%s)
  debconf-set-selections <<EOF
request-tracker5 request-tracker5/rtname string helpdesk.test
request-tracker5 request-tracker5/organization string helpdesk.test
request-tracker5 request-tracker5/correspondaddress string rt@helpdesk.test
request-tracker5 request-tracker5/commentaddress string rt-comment@helpdesk.test
request-tracker5 request-tracker5/webbaseurl string $URL
request-tracker5 request-tracker5/webpath string /rt
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/initial-root-password password $ROOT_PASS
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/db/dbname string rtdb
request-tracker5 request-tracker5/db/basepath string /var/lib/dbconfig-common/sqlite3/request-tracker5
EOF
  # keep apt from starting daemons (exim4) where no policy says so already
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends \
      request-tracker5 rt5-db-sqlite rt5-standalone w3m curl >/dev/null
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  log "installed in $(( $(date +%s) - t0 ))s"
fi

command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null

# ---------- 2. site config for this port ----------
CONF=/etc/request-tracker5/RT_SiteConfig.d/99-ci.pm
NEWCONF=$(cat <<EOF
# written by rt5-up.sh: serve at / on loopback, log to stderr, keep outgoing mail in an mbox
Set(\$WebPath, "");
Set(\$WebDomain, "127.0.0.1");
Set(\$WebPort, $PORT);
Set(\$WebBaseURL, "$URL");
Set(\$Timezone, "UTC");
Set(\$LogToSyslog, undef);
Set(\$LogToSTDERR, "warning");
Set(\$MailCommand, "mbox");
# cost 12 (default) makes every basic-auth or token request spend ~0.3 s per bcrypt check
Set(\$BcryptCost, 4);
1;
EOF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEWCONF" ]; then
  printf '%s\n' "$NEWCONF" > "$CONF"; chown root:www-data "$CONF"; chmod 640 "$CONF"
  CONF_CHANGED=1
else
  CONF_CHANGED=""
fi

# ---------- 3. reuse a running server of ours ----------
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
            && grep -q rt-server "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; }
if running && { [ -n "$CONF_CHANGED" ] || [ "$(cat "$PORTFILE" 2>/dev/null)" != "$PORT" ]; }; then
  pid=$(cat "$PIDFILE"); log "stopping our previous server (pid $pid)"
  kill -TERM "$pid"; for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PIDFILE" "$PORTFILE"
fi

# ---------- 4. provision: root password, queue, requester + rights, token (idempotent) ----------
TOKEN=$(RT_TOKFILE="$TOKFILE" RT_ROOT_PASS="$ROOT_PASS" RT_QUEUE="$QUEUE" \
  perl -I/usr/share/request-tracker5/lib -MRT -e '
  use strict; use warnings;
  RT::LoadConfig(); RT::Init();
  my $sys = RT->SystemUser;
  my $root = RT::User->new($sys); $root->Load("root") or die "no root user\n";
  my $cheap = sub { ($_[0]->__Value($_[1]) // "") =~ /^!bcrypt!0?4!/ };
  $root->SetPassword($ENV{RT_ROOT_PASS})
      unless $root->IsPassword($ENV{RT_ROOT_PASS}) && $cheap->($root, "Password");
  my $q = RT::Queue->new($sys); $q->Load($ENV{RT_QUEUE});
  unless ($q->id) {
    my ($ok, $m) = $q->Create(Name => $ENV{RT_QUEUE}, Description => "CI test queue",
        CorrespondAddress => "support\@helpdesk.test", CommentAddress => "support-comment\@helpdesk.test");
    die "queue: $m\n" unless $ok;
  }
  # teledesk ticket custom fields on the queue: an intake field (issue 14.1), the chat staff
  # address a ticket to and the announcement mark (14.3), the Telegram registration time (14.4)
  for my $spec (["Contract", "FreeformSingle", "teledesk intake field"],
                ["Telegram chat", "FreeformSingle", "teledesk: the Telegram chat (id or name) a staff ticket goes to"],
                ["Announcement", "SelectSingle", "teledesk: yes makes a staff ticket a notice without replies"],
                ["Registered", "FreeformSingle", "teledesk: when the client sent the Telegram message (RFC 3339, UTC)"]) {
    my ($name, $type, $description) = @$spec;
    my $cf = RT::CustomField->new($sys);
    $cf->LoadByName(Name => $name, LookupType => RT::Ticket->CustomFieldLookupType);
    unless ($cf->id) {
      my ($ok, $m) = $cf->Create(Name => $name, Type => $type,
          LookupType => RT::Ticket->CustomFieldLookupType, Description => $description);
      die "custom field $name: $m\n" unless $ok;
      if ($type eq "SelectSingle") {
        ($ok, $m) = $cf->AddValue(Name => "yes", SortOrder => 1);
        die "custom field $name value: $m\n" unless $ok;
      }
    }
    $cf->AddToObject($q) unless $cf->IsAdded($q->id);
  }
  my $u = RT::User->new($sys); $u->Load("alice");
  unless ($u->id) {
    my ($ok, $m) = $u->Create(Name => "alice", EmailAddress => "alice\@example.test",
        RealName => "Alice Customer", Password => "alice-pass-1", Privileged => 0);
    die "user: $m\n" unless $ok;
  }
  $u->SetPassword("alice-pass-1") unless $u->IsPassword("alice-pass-1") && $cheap->($u, "Password");
  # requesters (unprivileged) may create tickets and see/reply to their own; comments stay hidden
  my $unpriv = RT::Group->new($sys); $unpriv->LoadSystemInternalGroup("Unprivileged");
  $unpriv->PrincipalObj->GrantRight(Right => $_, Object => $q) for qw(SeeQueue CreateTicket);
  $q->RoleGroup("Requestor")->PrincipalObj->GrantRight(Right => $_, Object => $q)
      for qw(ShowTicket ReplyToTicket);
  my $f = $ENV{RT_TOKFILE};
  if (open my $fh, "<", $f) {
    chomp(my $auth = <$fh> // ""); close $fh;
    my ($user, $tok) = RT::Authen::Token->UserForAuthString($auth);
    if ($user && $user->id == $root->id && $cheap->($tok, "Token")) { print "$auth\n"; exit 0 }
  }
  # every request checks the presented token against each token of its owner in turn
  # (one bcrypt each), so drop the stale ones
  my $old = RT::AuthTokens->new($sys); $old->LimitOwner(VALUE => $root->id);
  while (my $o = $old->Next) { $o->Delete }
  my $t = RT::AuthToken->new(RT::CurrentUser->new($root));
  my ($id, $msg, $auth) = $t->Create(Owner => $root->id, Description => "ci");
  die "token: $msg\n" unless $id;
  umask 077; open my $out, ">", $f or die "$f: $!\n"; print $out "$auth\n"; close $out;
  print "$auth\n";
' 2>&1 | grep -v 'internal HTML converter' | tail -1 || true)
case "$TOKEN" in [0-9]*-[0-9]*-*) ;; *) log "provisioning failed: $TOKEN"; exit 1;; esac

# ---------- 5. start the server ----------
if ! running; then
  t0=$(date +%s.%N)
  cd /
  rm -f "$PIDFILE"
  # the pid written is the Starlet master's: sh records its own pid, then becomes rt-server
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
      "$LIBEXEC/rt-server" --listen "127.0.0.1:$PORT" --max-workers "$WORKERS" \
      >>"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
  echo "$PORT" > "$PORTFILE"
  ok=""
  for _ in $(seq 1 600); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $TOKEN" "$URL/REST/2.0/rt")" = 200 ]; then ok=1; break; fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ok" ]; then log "server did not come up; see $LOG"; tail -20 "$LOG" >&2; exit 1; fi
  log "server pid $(cat "$PIDFILE") up in $(awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN{printf \"%.1f\", b-a}")s"
else
  log "server pid $(cat "$PIDFILE") already up"
fi
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $TOKEN" "$URL/REST/2.0/queue/$(printf %s "$QUEUE" | sed 's/ /%20/g')")" = 200 ] \
  || { log "token or queue check failed"; exit 1; }
echo "RT_PID=$(cat "$PIDFILE")"
echo "RT_URL=$URL"
echo "RT_TOKEN=$TOKEN"
