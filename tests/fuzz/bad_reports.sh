#!/bin/sh
# `forkhazard report` over corrupt, truncated, empty, huge and foreign files (run by `make sanitize` with the
# sanitized CLI): each is named in one line on stderr (where the report goes too), nothing crashes or trips a sanitizer, the exit status is
# README's ("Using it": the --exitcode when a hazard remains, else 1 when a file could not be read), and the
# good file read beside the bad ones is still reported.
# Usage: tests/fuzz/bad_reports.sh CLI WORKDIR
set -u
cli=$1
work=$2
golden=tests/golden
rm -rf "$work"
mkdir -p "$work/bad"
bad=$work/bad

# ---- the files ------------------------------------------------------------------------------------------------
: >"$bad/empty.raw"
printf '\n' >"$bad/newline.raw"
head -c 4096 /dev/zero >"$bad/zeros.raw"
head -c 65536 /dev/urandom >"$bad/random.raw"
cp /bin/true "$bad/elf.raw"
gzip -c "$golden/text_deadlock.raw" >"$bad/gzip.raw"
cp README.md "$bad/markdown.raw"
printf '{"version":1,"hazards":[]}\n' >"$bad/json.raw"
printf 'forkhazard-raw v=2\nreport pid=1 ppid=0\nend\n' >"$bad/newer_version.raw"
printf 'forkhazard-raw v=\n' >"$bad/empty_version.raw"
printf 'forkhazard-raw\0 v=1\n' >"$bad/nul_in_magic.raw"
printf '\377\376f\0o\0r\0k\0' >"$bad/utf16.raw"
ln -s "$work/no-such-file" "$bad/dangling.raw"
# Truncated: each golden file cut at a quarter, a half and inside its last 'end' (mid-line, mid-block). (Cut one
# byte short, only the last newline goes: a complete file.)
for f in "$golden"/*.raw; do
  size=$(wc -c <"$f")
  name=$(basename "$f" .raw)
  for cut in $((size / 4)) $((size / 2)) $((size - 2)); do head -c "$cut" "$f" >"$bad/cut_${name}_$cut.raw"; done
done
# Corrupt: valid framing, every value malformed or out of range.
cat >"$bad/corrupt_values.raw" <<'EOF'
forkhazard-raw v=1
report pid=99999999999999999999999 ppid=-
hazard kind=%ZZ call=%4 class=%% why=%1b%5b31mred site=0xfffffffffffffffffff
lock addr=0x type=%00 symbol=-
owner tid=1e9 name=%ff%fe relation=%
acquired pcs=,,,
stack pcs=0x1,,0x2,zz,-
fork parent_pid=x forking_tid= pcs=0x raw=2
thread tid=- name= relation=forker created=0x1,
held addr=-1 type=mutex depth=99999999999999999999 pcs=-,-
overflow held=-5 threads=x sites=
module lo=0xffffffffffffffff hi=0 bias=-1 build_id=%G0 path=%2F
stray = =x KEY
end
repeats pid=abc
repeat call= site= count=-5
repeat call=malloc site=0x1 count=99999999999999999999
end
EOF
# Records out of place: held before thread, lock before hazard, end without a block, nested blocks.
cat >"$bad/misplaced.raw" <<'EOF'
forkhazard-raw v=1
end
held addr=0x1 type=mutex depth=1 pcs=0x1
lock addr=0x1 type=futex
report pid=1 ppid=0
held addr=0x1 type=mutex depth=1 pcs=0x1
lock addr=0x1 type=futex
owner tid=1
report pid=2 ppid=1
repeats pid=2
report pid=3 ppid=2
hazard kind=deadlock call=pthread_mutex_lock
lock addr=0x600010 type=futex
module lo=0x600000 hi=0x600000 bias=0x600000 path=/x
end
end
EOF
# A 1 MiB field without '=' and a value that would colour the terminal: quoted short and printable.
{
  printf 'forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call=f\nlock '
  head -c 1048576 /dev/zero | tr '\0' 'B'
  printf '\nowner tid=\033[31m\rX\nend\n'
} >"$bad/long_field.raw"
# Huge: one 16 MiB line (a field value) with no end, and 20 000 copies of one complete report block.
{
  printf 'forkhazard-raw v=1\nreport pid=1 ppid=0\nhazard kind=deadlock call='
  head -c 16777216 /dev/zero | tr '\0' 'A'
} >"$bad/huge_line.raw"
{
  echo 'forkhazard-raw v=1'
  sed -n '2,$p' "$golden/text_deadlock.raw" >"$work/block"
  i=0
  while [ $i -lt 20000 ]; do cat "$work/block"; i=$((i + 1)); done
} >"$work/huge_blocks.raw"

# ---- the checks -----------------------------------------------------------------------------------------------
failures=0
fail() {
  echo "bad_reports: FAIL: $*"
  failures=$((failures + 1))
}

# Runs the CLI on its arguments with stdout and stderr into $work/out and $work/err; sets $status. The report
# and the messages both go to stderr.
report() {
  timeout 300 "$cli" report --color=never "$@" >"$work/out" 2>"$work/err"
  status=$?
}

no_sanitizer_report() {  # $1: what ran
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$work/err"; then
    fail "$1: sanitizer report:"
    sed -n '1,40p' "$work/err"
  fi
}

# Nothing on stdout: the report and the messages are stderr's.
stdout_empty() {  # $1: what ran
  if [ -s "$work/out" ]; then fail "$1: output on stdout:"; head -3 "$work/out" | cut -c1-200; fi
}

for f in "$bad"/*.raw; do
  report "$f"
  no_sanitizer_report "$f"
  stdout_empty "$f"
  if [ "$status" -ge 124 ]; then
    fail "$f: status $status (killed or timed out)"
  elif ! grep -q "^forkhazard: $f[:]" "$work/err"; then
    fail "$f: no message naming the file (status $status):"
    head -3 "$work/err" | cut -c1-200
  elif [ "$status" != 1 ] && [ "$status" != 66 ]; then
    fail "$f: status $status, expected 1 (a file could not be read) or 66 (a complete block had a hazard)"
  elif [ "$status" = 66 ] && ! grep -q '^forkhazard: .*\[\(error\|warning\)\]' "$work/err"; then
    fail "$f: status 66 without a hazard on stdout"
  fi
  if grep "^forkhazard: $f" "$work/err" | grep -q "$(printf '[\001-\010\013-\037\177]')"; then
    fail "$f: a control character in a message naming the file"
  fi
  longest=$(awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }' "$work/err")
  if [ "$longest" -gt 4096 ]; then fail "$f: a message of $longest characters"; fi
done

# A huge but valid file: all of it read, merged into one hazard seen 20 000 times.
report "$work/huge_blocks.raw"
no_sanitizer_report huge_blocks.raw
if [ "$status" != 66 ]; then fail "huge_blocks.raw: status $status, expected 66"; fi
if ! grep -q '(20000 occurrences in process 4242)' "$work/err"; then fail "huge_blocks.raw: 20000 occurrences not reported"; fi

# All the bad files and one good one, in one run and as one directory: the good one is still reported, each bad
# one named, the status the hazard's.
cp "$golden/text_unsafe_call.raw" "$bad/zz_good.raw"
for what in files directory; do
  if [ $what = files ]; then report "$bad"/*.raw; else report "$bad"; fi
  no_sanitizer_report "all bad $what"
  stdout_empty "all bad $what"
  if [ "$status" != 66 ]; then fail "all bad $what: status $status, expected 66 (the good file's hazards)"; fi
  if ! grep -q 'setenv() is not async-signal-safe' "$work/err"; then fail "all bad $what: the good file was not reported"; fi
  for f in "$bad"/*.raw; do
    case $f in */zz_good.raw) continue ;; */dangling.raw) [ $what = files ] || continue ;; esac
    grep -q "^forkhazard: $f[:]" "$work/err" || fail "all bad $what: $f not named"
  done
done
rm -f "$bad/zz_good.raw"

# Only bad files: no hazard, so 1.
report "$bad/empty.raw" "$bad/elf.raw" "$bad/random.raw"
no_sanitizer_report "only bad"
if [ "$status" != 1 ]; then fail "only bad files: status $status, expected 1"; fi

if [ $failures -ne 0 ]; then
  echo "bad_reports: $failures failures (files in $bad)"
  exit 1
fi
echo "bad_reports: $(ls "$bad" | wc -l) bad files and a 20 000-block file read without a crash or a sanitizer report"
