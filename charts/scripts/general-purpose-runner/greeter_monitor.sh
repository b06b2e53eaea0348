# A periodic check that the greeter answers as expected, for a CronJob on
# busybox: only sh and busybox wget. GET $TARGET_URL, compare with $EXPECT,
# exit 0 and print "ok: ..." on a match, exit 1 otherwise.
# No `wget -T`: Debian's busybox 1.35 crashes on it; the CronJob's
# activeDeadlineSeconds bounds a hanging request instead.
set -u
if ! body=$(wget -q -O - "$TARGET_URL"); then
  echo "fail: GET $TARGET_URL: no answer" >&2
  exit 1
fi
if [ "$body" != "$EXPECT" ]; then
  echo "fail: GET $TARGET_URL answered \"$body\", expected \"$EXPECT\"" >&2
  exit 1
fi
echo "ok: GET $TARGET_URL answered \"$body\""
