#!/usr/bin/env bash
# Checks everything under deploy/ plus docker-compose.yml:
#   - Prometheus: promtool check rules, test rules (alerts_test.yml), check config
#   - alert hygiene: every alert has a severity, a summary and a description,
#     and unit tests where it fires and where it does not
#   - Grafana: every JSON parses; every panel has a data source and queries
#     with an expression
#   - every clienting_* metric named in the dashboard or the alert rules is
#     listed in deploy/metrics.txt (which the Go tests compare with a scrape)
#   - every YAML file parses (compose, Kubernetes, provisioning, Prometheus)
#   - docker compose config -q, when a Docker engine answers
#
# Usage: scripts/check-deploy.sh   (from anywhere; it works in the repo root)
# Needs: promtool (Debian package prometheus), python3 with PyYAML (Debian
# package python3-yaml; installed when missing and possible).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- promtool
command -v promtool >/dev/null 2>&1 ||
	die "promtool not found: install the Debian package prometheus (apt-get install prometheus)"

step "promtool check rules"
promtool check rules deploy/prometheus/alerts.yml
step "promtool test rules"
promtool test rules deploy/prometheus/alerts_test.yml
step "promtool check config"
promtool check config deploy/prometheus/prometheus.yml

# ------------------------------------------------------------------ python
# A python3 that imports yaml: the one on PATH, else the system one (where
# the Debian package python3-yaml installs), installing PyYAML if needed.
find_python() {
	local py
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' >/dev/null 2>&1; then
			echo "$py"
			return 0
		fi
	done
	return 1
}
if ! PY="$(find_python)"; then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		step "PyYAML missing: apt-get install python3-yaml"
		apt-get install -y -qq python3-yaml >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get install -y -qq python3-yaml >/dev/null; } || true
	fi
	if ! PY="$(find_python)"; then
		step "PyYAML missing: pip install pyyaml"
		python3 -m pip install --quiet pyyaml >/dev/null 2>&1 || true
		PY="$(find_python)" || die "python3 cannot import yaml: install the Debian package python3-yaml (or pip install pyyaml)"
	fi
fi

step "JSON under deploy/grafana (python3 -m json.tool)"
json_files=()
while IFS= read -r -d '' f; do json_files+=("$f"); done < <(find deploy/grafana -name '*.json' -print0 | sort -z)
((${#json_files[@]} > 0)) || die "no JSON files under deploy/grafana"
for f in "${json_files[@]}"; do
	"$PY" -m json.tool "$f" >/dev/null || die "$f: invalid JSON"
	echo "  ok $f"
done

step "YAML files, dashboard panels, alert coverage, metric names"
yaml_files=(docker-compose.yml)
while IFS= read -r -d '' f; do yaml_files+=("$f"); done < <(find deploy \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z)

# The dashboard's queries, with Grafana's variables replaced, as recording
# rules for promtool to parse.
exprs_file="$(mktemp --suffix=.yml)"
trap 'rm -f "$exprs_file"' EXIT

EXPRS_FILE="$exprs_file" "$PY" - "${json_files[@]}" -- "${yaml_files[@]}" <<'PYEOF'
import json
import os
import re
import sys

import yaml

args = sys.argv[1:]
sep = args.index("--")
json_files, yaml_files = args[:sep], args[sep + 1:]
errors = []


def err(msg):
    errors.append(msg)


# --- YAML: every file parses (all documents).
docs = {}
for f in yaml_files:
    try:
        with open(f) as fh:
            docs[f] = [d for d in yaml.safe_load_all(fh) if d is not None]
    except yaml.YAMLError as e:
        err(f"{f}: invalid YAML: {e}")
        continue
    if not docs[f]:
        err(f"{f}: empty")
    print(f"  ok {f} ({len(docs.get(f, []))} documents)")

# --- Known metric names.
with open("deploy/metrics.txt") as fh:
    known = {line.strip() for line in fh if line.strip() and not line.startswith("#")}
for m in sorted(known):
    if not re.fullmatch(r"clienting_[a-z0-9_]+", m):
        err(f"deploy/metrics.txt: {m!r} is not a clienting_ metric name")

METRIC = re.compile(r"\bclienting_[a-z0-9_]*[a-z0-9]")


reported = set()


def check_names(where, text):
    """Reports each unknown name once per file (where starts with the file)."""
    for name in sorted(set(METRIC.findall(text))):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        key = (where.split(":")[0], name)
        if name in known or base in known or key in reported:
            continue
        reported.add(key)
        err(f"{where}: metric {name} is not in deploy/metrics.txt")


# --- Grafana dashboards: data source and expressions on every panel.
def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


expr_groups = []
for f in json_files:
    with open(f) as fh:
        d = json.load(fh)
    if "panels" not in d:
        continue  # not a dashboard
    n = 0
    for p in walk_panels(d["panels"]):
        title = f"{f}: panel {p.get('id')} {p.get('title')!r}"
        if p.get("type") == "row":
            continue
        n += 1
        ds = p.get("datasource")
        if not isinstance(ds, dict) or not ds.get("uid"):
            err(f"{title}: no datasource uid")
        targets = p.get("targets") or []
        if not targets:
            err(f"{title}: no targets")
        for t in targets:
            if not str(t.get("expr", "")).strip():
                err(f"{title}: target {t.get('refId')} has no expr")
            check_names(title, t.get("expr", ""))
    rules = []
    for p in walk_panels(d["panels"]):
        for t in p.get("targets") or []:
            expr = str(t.get("expr", ""))
            for var, val in (("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h")):
                expr = expr.replace(var, val)
            expr = re.sub(r"\$\{?\w+\}?", ".*", expr)  # $job, ${instance}: match-all regexps
            rules.append({"record": f"panel_{p.get('id')}_{t.get('refId')}", "expr": expr})
    expr_groups.append({"name": f, "rules": rules})
    ids = [p.get("id") for p in walk_panels(d["panels"])]
    if len(ids) != len(set(ids)):
        err(f"{f}: duplicate panel ids")
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        check_names(f"{f}: variable {v.get('name')}", json.dumps(q))
    check_names(f, json.dumps(d))
    print(f"  ok {f} ({n} panels)")

with open(os.environ["EXPRS_FILE"], "w") as fh:
    yaml.safe_dump({"groups": expr_groups}, fh)

# --- Alert rules: labels, annotations, metric names, unit-test coverage.
rules_file = "deploy/prometheus/alerts.yml"
tests_file = "deploy/prometheus/alerts_test.yml"
alerts = {}
for g in docs[rules_file][0]["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        a = r["alert"]
        alerts[a] = r
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            err(f"{rules_file}: {a}: severity label must be critical, warning or info")
        for k in ("summary", "description"):
            if not r.get("annotations", {}).get(k, "").strip():
                err(f"{rules_file}: {a}: no {k} annotation")
        check_names(f"{rules_file}: {a}", r["expr"] + " " + " ".join(r.get("annotations", {}).values()))
with open(rules_file) as fh:
    check_names(rules_file, fh.read())

fires, quiet = set(), set()
for t in docs[tests_file][0]["tests"]:
    for c in t.get("alert_rule_test", []):
        a = c["alertname"]
        if a not in alerts:
            err(f"{tests_file}: test {t.get('name')!r} names unknown alert {a}")
        (fires if c.get("exp_alerts") else quiet).add(a)
for a in alerts:
    if a not in fires:
        err(f"{tests_file}: no case where {a} fires")
    if a not in quiet:
        err(f"{tests_file}: no case where {a} does not fire")
print(f"  ok {rules_file}: {len(alerts)} alerts, each tested firing and not firing")

# --- Kubernetes and compose: the points that break clienting at start-up.
cm = docs["deploy/kubernetes/configmap.yaml"][0]
cfg = yaml.safe_load(cm["data"]["clienting.yaml"])
extra = set(cfg) - {"kafka", "redis", "processor", "events", "scoring", "http", "log"}
if extra:
    err(f"deploy/kubernetes/configmap.yaml: unknown top-level keys {sorted(extra)}")
dep = docs["deploy/kubernetes/deployment.yaml"][0]
spec = dep["spec"]["template"]["spec"]
if spec.get("enableServiceLinks") is not False:
    err("deploy/kubernetes/deployment.yaml: enableServiceLinks must be false "
        "(service links inject CLIENTING_* variables that clienting rejects)")
grace = spec.get("terminationGracePeriodSeconds", 30)
shutdown = str(cfg.get("processor", {}).get("shutdown_timeout", "30s"))
m = re.fullmatch(r"(\d+)s", shutdown)
if m and grace <= int(m.group(1)):
    err(f"deploy/kubernetes/deployment.yaml: terminationGracePeriodSeconds {grace} "
        f"must exceed processor.shutdown_timeout {shutdown}")
compose = docs["docker-compose.yml"][0]
for svc in ("kafka", "topics", "redis", "clienting", "gen", "prometheus", "grafana"):
    if svc not in compose.get("services", {}):
        err(f"docker-compose.yml: no service {svc}")
print("  ok kubernetes and compose essentials")

if errors:
    for e in errors:
        print("FAIL", e, file=sys.stderr)
    sys.exit(1)
PYEOF

step "dashboard queries parse (promtool check rules)"
promtool check rules "$exprs_file" >/dev/null || {
	promtool check rules "$exprs_file" >&2 || true
	die "a dashboard query does not parse (panel_<id>_<refId> above)"
}
echo "  ok"

# ---------------------------------------------------------- docker compose
step "docker compose config"
if ! command -v docker >/dev/null 2>&1; then
	echo "  skipped: no docker command"
elif ! docker info >/dev/null 2>&1; then
	echo "  skipped: no Docker engine answers (docker info failed)"
elif docker compose version >/dev/null 2>&1; then
	docker compose config -q
	echo "  ok docker-compose.yml"
elif command -v docker-compose >/dev/null 2>&1; then
	docker-compose config -q
	echo "  ok docker-compose.yml (docker-compose)"
else
	echo "  skipped: the Docker engine answers but the compose plugin is missing"
fi

echo "check-deploy: all checks passed"
