# Processes a step leaves outside its process group (setsid, a double fork, setpgid) live on
# for the later steps but not beyond the run: `pipewright run` adopts them (child subreaper)
# and ends them when the run ends, also when it is cancelled; each is named in a warning and
# an audit record.
set -e
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/ws"
# numbers of this test's own, so that other tests' sleeps never count
cat >"$WORK/ws/strays.yml" <<'YML'
version: 1
steps:
  - name: setsid-out
    command: 'setsid sleep 3104 & sleep 0.3; echo daemon'
  - name: setsid-quiet
    command: 'setsid sleep 3105 >/dev/null 2>&1 </dev/null & sleep 0.3'
  - name: double-fork
    command: |
      python3 -c '
      import os
      if os.fork() == 0:
          os.setsid()
          if os.fork() == 0:
              fd = os.open("/dev/null", os.O_RDWR)
              for i in (0, 1, 2): os.dup2(fd, i)
              os.execvp("sleep", ["sleep", "3106"])
          os._exit(0)
      os.wait()
      '
  - name: own-group
    command: |
      python3 -c '
      import os
      if os.fork() == 0:
          os.setpgid(0, 0)
          fd = os.open("/dev/null", os.O_RDWR)
          for i in (0, 1, 2): os.dup2(fd, i)
          os.execvp("sleep", ["sleep", "3107"])
      '
      sleep 0.3
  - name: still-there
    command: pgrep -x -f 'sleep 3105' >/dev/null && echo service-up
  - name: last
    when: always
    command: echo last
YML
start=$(date +%s)
run_pw s run "$WORK/ws/strays.yml" --run-id strays-1 --progress plain
end=$(date +%s)
check "exit status 0" [ "$STATUS" -eq 0 ]
check "done within seconds" [ $((end - start)) -lt 10 ]
check "the setsid step holding stdout still ended" contains "$WORK/s.out" "setsid-out | daemon"
check "a later step saw the background service" contains "$WORK/s.out" "still-there | service-up"
for n in 3104 3105 3106 3107; do
	check "sleep $n is gone" no_process "^slee[p] $n\$"
	check "sleep $n named in a warning" contains "$WORK/s.err" "sleep $n"
	check "sleep $n in the audit log" contains "$WORK/ws/.pipewright/runs/strays-1/audit.jsonl" "sleep $n"
done
check "the warning names the step" contains "$WORK/s.err" "left running by step 'setsid-quiet'"
check "no process of the run left" no_run_process strays-1

# one that ignores SIGTERM is killed after the grace
cat >"$WORK/ws/stubborn.yml" <<'YML'
version: 1
steps:
  - name: stubborn
    command: setsid sh -c "trap '' TERM; sleep 3108" >/dev/null 2>&1 & sleep 0.3
YML
start=$(date +%s)
run_pw st run "$WORK/ws/stubborn.yml" --run-id strays-2 --progress plain
end=$(date +%s)
check "stubborn: exit status 0" [ "$STATUS" -eq 0 ]
check "stubborn: killed after the grace" [ $((end - start)) -ge 4 ]
check "stubborn: within bounds" [ $((end - start)) -lt 15 ]
check "stubborn: gone" no_process "^slee[p] 3108\$"
check "stubborn: no process of the run left" no_run_process strays-2

# cancelled: what was started in the background is ended too
cat >"$WORK/ws/cancel.yml" <<'YML'
version: 1
steps:
  - name: service
    command: setsid sleep 3109 >/dev/null 2>&1 </dev/null & sleep 0.3
  - name: long
    command: echo started; sleep 60
YML
python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PW_CLI" run "$WORK/ws/cancel.yml" --run-id strays-3 --progress plain >"$WORK/c.out" 2>"$WORK/c.err" </dev/null &
pid=$!
wait_for_text "$WORK/c.out" "long | started"
signal_and_wait INT $pid
check "cancel: exit status 130" [ "$STATUS" -eq 130 ]
check "cancel: the service is gone" no_process "^slee[p] 3109\$"
check "cancel: named in a warning" contains "$WORK/c.err" "sleep 3109"
check "cancel: no process of the run left" no_run_process strays-3
finish
