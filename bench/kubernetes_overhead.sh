#!/bin/sh
# Kubernetes connector overhead against the local fake API server (tests/kubernetes/
# fake_apiserver.py, pods run as local processes): step start -> Job created and pod terminated ->
# step finished (median ms over N sequential steps), and pipewright's peak RSS while it follows a
# 100 MiB pod log.
. "$(dirname "$0")/lib.sh"
N=${N:-20}
LOG_MIB=${LOG_MIB:-100}
D=$SCRATCH
(cd "$D" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
		-days 2 -subj '/CN=bench CA' &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
		-subj '/CN=kube-apiserver' &&
	printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
		-extfile ext.cnf) >/dev/null 2>&1
mkfifo "$D/ctl"
python3 "$ROOT/tests/kubernetes/fake_apiserver.py" --cert "$D/srv.pem" --key "$D/srv.key" \
	--token bench-token-123456 --workdir "$D" <"$D/ctl" >"$D/server.out" &
SERVER=$!
exec 9>"$D/ctl" # the server stops when this closes
i=0
while ! grep -q READY "$D/server.out" 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "kubernetes_overhead: the fake API server did not start" >&2; exit 1; }
done
PORT=$(sed -n 's/^PORT //p' "$D/server.out")
cat >"$D/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: fake
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: ca.pem}
users:
- name: bench
  user: {token: bench-token-123456}
contexts:
- name: bench
  context: {cluster: fake, user: bench, namespace: ci}
KC
{
	echo "version: 1"
	echo "steps:"
	i=0
	while [ $i -lt "$N" ]; do
		echo "  - name: k$i"
		echo "    step_type: kubernetes"
		[ $i -gt 0 ] && echo "    needs: [k$((i - 1))]"
		echo "    config: { kubeconfig: $D/kubeconfig, image: busybox, command: \"true\" }"
		i=$((i + 1))
	done
} >"$D/steps.yml"
state() { curl -s --cacert "$D/ca.pem" "https://127.0.0.1:$PORT/_test/$1" ${2:+-d "$2"}; }
state reset '{}' >/dev/null
"$PW" run "$D/steps.yml" -q -w "$D" >/dev/null 2>&1 || { echo "kubernetes_overhead: the run failed" >&2; exit 1; }
state state | python3 -c '
import json, sys, statistics
t = json.load(sys.stdin)["timeline"]
by = {}
for what, job, at in t:
    by.setdefault(job, {})[what] = at
jobs = sorted(by.values(), key=lambda j: j["job_created"])
# the gap from the previous step ending (its Job deleted) to this Job created: the runner starting
# the step, the connector building the manifests and the POST
start = [(b["job_created"] - a["job_deleted"]) * 1000 for a, b in zip(jobs, jobs[1:])]
end = [(j["job_deleted"] - j["pod_terminated"]) * 1000 for j in jobs]
print("kubernetes_overhead: %d steps; step start -> Job created %.1f ms, pod terminated -> step finished "
      "(Job deleted) %.1f ms (medians)" % (len(jobs), statistics.median(start), statistics.median(end)))
'
# peak RSS while following a big log: LOG_MIB of 1000-byte lines
cat >"$D/biglog.yml" <<YML
version: 1
steps:
  - name: biglog
    step_type: kubernetes
    timeout: 600
    config:
      kubeconfig: $D/kubeconfig
      image: busybox
      command: "head -c $((LOG_MIB * 1024 * 1024)) /dev/zero | tr '\\\\0' x | fold -w 999"
YML
/usr/bin/time -f '%M' -o "$D/rss" "$PW" run "$D/biglog.yml" -q -w "$D" >/dev/null 2>&1 ||
	{ echo "kubernetes_overhead: the big-log run failed" >&2; exit 1; }
echo "kubernetes_overhead: following a ${LOG_MIB} MiB log, pipewright's peak RSS $(cat "$D/rss") KiB"
exec 9>&-
wait $SERVER 2>/dev/null || true
