#!/bin/sh
# restart-on-change: the SidecarPod hot-plug supervisor (HotPlugReload.restartOnChange()).
# Runs the app ("$@") and restarts it whenever git-sync points its link at a
# new version, so an interpreted app loads the new code. It needs only a POSIX
# sh, readlink and sleep in the app's image, no shared process namespace and
# no common UID with git-sync.
#
#   HOT_PLUG_LINK          the git-sync link, as this container mounts it
#   HOT_PLUG_POLL_SECONDS  how often to look at the link (default 3)
#   HOT_PLUG_WORKDIR       optional: directory to start the app in, entered
#                          afresh at every start (it may lie behind the link)
set -u
link="${HOT_PLUG_LINK:?HOT_PLUG_LINK must be set}"
poll="${HOT_PLUG_POLL_SECONDS:-3}"
child=""
watcher=""

log() { echo "restart-on-change: $*" >&2; }

stop() {
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null; fi
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi
  exit 0
}
trap stop TERM INT

until [ -e "$link" ]; do
  log "waiting for the first sync at $link"
  sleep "$poll" & wait $!
done

while :; do
  version="$(readlink "$link")"
  log "starting $1 at ${version##*/}"
  if [ -n "${HOT_PLUG_WORKDIR:-}" ]; then
    (cd "$HOT_PLUG_WORKDIR" && exec "$@") &
  else
    "$@" &
  fi
  child=$!
  # The watcher stops the app once the link moves on; the app's own exit ends it too.
  (
    while [ "$(readlink "$link")" = "$version" ] && kill -0 "$child" 2>/dev/null; do sleep "$poll"; done
    kill -TERM "$child" 2>/dev/null
  ) &
  watcher=$!
  wait "$child"
  status=$?
  child=""
  kill "$watcher" 2>/dev/null
  watcher=""
  if [ "$(readlink "$link")" = "$version" ]; then
    log "$1 exited with status $status"
    exit "$status"
  fi
  version="$(readlink "$link")"
  log "new version ${version##*/}: restarting $1"
done
