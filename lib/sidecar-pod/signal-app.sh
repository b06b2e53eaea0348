#!/bin/sh
# signal-app: the SidecarPod hot-plug exec hook (HotPlugReload.signal()).
# git-sync runs it (--exechook-command) after every sync; it signals the app's
# processes through the pod's shared process namespace (shareProcessNamespace).
# A non-root process may only signal processes of its own UID, so git-sync
# runs as the app's UID. It exits non-zero (git-sync then retries the hook)
# when a matching process could not be signalled; when none runs, the app
# will load the current version as it starts, so there is nothing to do.
#
#   HOT_PLUG_SIGNAL   the signal name without SIG, e.g. HUP
#   HOT_PLUG_PROCESS  the app's process name, as in /proc/<pid>/comm
set -u
sig="${HOT_PLUG_SIGNAL:?HOT_PLUG_SIGNAL must be set}"
name="${HOT_PLUG_PROCESS:?HOT_PLUG_PROCESS must be set}"
sent=0
failed=0
for dir in /proc/[0-9]*; do
  pid="${dir#/proc/}"
  [ "$pid" = "$$" ] && continue
  comm=""
  { read -r comm < "$dir/comm"; } 2>/dev/null || continue
  [ "$comm" = "$name" ] || continue
  if kill -s "$sig" "$pid" 2>/dev/null; then
    sent=$((sent + 1))
  else
    failed=$((failed + 1))
    echo "signal-app: cannot send SIG$sig to $name (pid $pid): it must run as this UID ($(id -u 2>/dev/null || echo '?'))" >&2
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "signal-app: $failed process(es) named $name could not be signalled; git-sync retries the hook" >&2
  exit 1
fi
if [ "$sent" -eq 0 ]; then
  # Not running (yet): when it starts it loads the version the link points at.
  echo "signal-app: warning: no process named $name is running; nothing to reload" >&2
  exit 0
fi
echo "signal-app: sent SIG$sig to $sent process(es) named $name for ${GITSYNC_HASH:-an unknown hash}"
