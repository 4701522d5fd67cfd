#!/usr/bin/env python3
"""Offline check of deploy/k8s (Kustomize base) and deploy/helm/loadtester (Helm chart).

Run by tests/integration/k8s.rs with the venv that .ci/run creates (kubernetes-validate,
pyyaml). There is no `helm` binary in the package registries we use, so the chart is
rendered here with the small subset of Go templates that its templates are limited to:
`{{ .Values.a.b }}`, `{{ .Release.Name }}`, `{{ .Chart.Name }}`, pipes `| quote`,
`| nindent N`, `| indent N`, `toYaml X`, `{{- if X }} … {{- end }}` and the `{{-`/`-}}`
trim markers. Anything else is an error, so the subset cannot drift silently.

Every manifest (Kustomize resources and the chart rendered with default and overridden
values) is validated strictly against the Kubernetes schemas of the oldest and newest
versions checked, then cross-checked: Indexed Job, parallelism = completions = workers,
the seed commands verbatim, the Service the workers dial selects the coordinator, the
plan ConfigMap is mounted at /plan, the token comes from a Secret. The plans found are
written to OUT_DIR for the Rust test to validate with `loadtester validate`.

usage: check.py REPO_ROOT OUT_DIR
"""

import os
import re
import sys

import kubernetes_validate
import yaml

# 1.29: the oldest whose schema takes a podFailurePolicy rule without onPodConditions.
VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
WORKER_CMD = ["loadtester", "--plan", "/plan/loadplan.yaml", "--role", "worker",
              "--coordinator", "http://{svc}:{port}"]
COORD_CMD = ["loadtester", "--role", "coordinator", "--plan", "/plan/loadplan.yaml",
             "--workers", "{n}", "--listen", "0.0.0.0:{port}"]

problems = []


def fail(where, msg):
    problems.append(f"{where}: {msg}")


# ---------------------------------------------------------------- template subset

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class Unsupported(Exception):
    pass


def lookup(path, ctx, used):
    if not path.startswith("."):
        raise Unsupported(f"`{path}` is not a field reference")
    parts = path[1:].split(".")
    if parts[0] == "Values":
        used.add(".".join(parts[1:]))
    cur = ctx
    for p in parts:
        if not isinstance(cur, dict) or p not in cur:
            raise Unsupported(f"`{path}` is not defined (Helm would print <no value>)")
        cur = cur[p]
    return cur


def to_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        raise Unsupported(f"a map or list printed without toYaml: {v!r}")
    return str(v)


def evaluate(expr, ctx, used):
    stages = [s.strip() for s in expr.split("|")]
    head = stages[0].split()
    if head[0] == "toYaml" and len(head) == 2:
        val = yaml.safe_dump(lookup(head[1], ctx, used), default_flow_style=False,
                             sort_keys=False).rstrip("\n")
    elif len(head) == 1:
        val = lookup(head[0], ctx, used)
    else:
        raise Unsupported(f"`{stages[0]}`")
    for st in stages[1:]:
        words = st.split()
        if words == ["quote"]:
            val = '"' + to_text(val).replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif len(words) == 2 and words[0] in ("nindent", "indent") and words[1].isdigit():
            pad = " " * int(words[1])
            text = to_text(val)
            val = "\n".join(pad + line if line else line for line in text.split("\n"))
            if words[0] == "nindent":
                val = "\n" + val
        else:
            raise Unsupported(f"pipe `{st}`")
    return val


def render(text, ctx, used):
    out = []
    stack = [True]  # whether the current block is emitted
    pos = 0
    trim_next = False
    for m in ACTION.finditer(text):
        lit = text[pos:m.start()]
        if trim_next:
            lit = lit.lstrip()
        if m.group(1):
            lit = lit.rstrip()
        if all(stack):
            out.append(lit)
        pos = m.end()
        trim_next = bool(m.group(3))
        body = m.group(2)
        if body.startswith("/*"):
            continue
        if body.startswith("if "):
            stack.append(all(stack) and bool(evaluate(body[3:], ctx, used)))
        elif body == "end":
            if len(stack) == 1:
                raise Unsupported("`end` without `if`")
            stack.pop()
        elif all(stack):
            out.append(to_text(evaluate(body, ctx, used)))
        else:
            evaluate(body, ctx, used)
    if len(stack) != 1:
        raise Unsupported("`if` without `end`")
    lit = text[pos:]
    out.append(lit.lstrip() if trim_next else lit)
    return "".join(out)


def leaves(d, prefix=""):
    for k, v in d.items():
        p = f"{prefix}{k}"
        if isinstance(v, dict) and v and p not in ("coordinator.resources", "resources"):
            yield from leaves(v, p + ".")
        else:
            yield p


def deep_merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render_chart(chart_dir, overrides, release="lt"):
    with open(os.path.join(chart_dir, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(chart_dir, "values.yaml")) as f:
        values = yaml.safe_load(f)
    for key in ("apiVersion", "name", "version", "appVersion", "description"):
        if key not in chart:
            fail("Chart.yaml", f"missing `{key}`")
    if chart.get("apiVersion") != "v2" or chart.get("name") != "loadtester":
        fail("Chart.yaml", "expected apiVersion v2 and name loadtester")
    ctx = {"Values": deep_merge(values, overrides),
           "Release": {"Name": release, "Namespace": "default"},
           "Chart": {"Name": chart.get("name"), "Version": chart.get("version"),
                     "AppVersion": chart.get("appVersion")}}
    used, docs = set(), []
    tdir = os.path.join(chart_dir, "templates")
    for name in sorted(os.listdir(tdir)):
        where = f"templates/{name}"
        with open(os.path.join(tdir, name)) as f:
            text = f.read()
        try:
            rendered = render(text, ctx, used)
        except Unsupported as e:
            fail(where, f"outside the checked template subset: {e}")
            continue
        if not name.endswith(".yaml"):
            continue
        try:
            docs += [(where, d) for d in yaml.safe_load_all(rendered) if d]
        except yaml.YAMLError as e:
            fail(where, f"renders to invalid YAML: {e}\n{rendered}")
    for leaf in leaves(values):
        if not any(u == leaf or u.startswith(leaf + ".") or leaf.startswith(u + ".") for u in used):
            fail("values.yaml", f"`{leaf}` is used by no template")
    return ctx["Values"], docs


# ---------------------------------------------------------------- manifests

def validate_schema(docs):
    for where, d in docs:
        for v in VERSIONS:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except Exception as e:  # ValidationError, SchemaNotFoundError…
                fail(f"{where} ({d.get('kind')}, Kubernetes {v})", str(e).split("\n")[0])


def by_kind(docs, kind):
    return [(w, d) for w, d in docs if d.get("kind") == kind]


def one(docs, kind, where):
    found = by_kind(docs, kind)
    if len(found) != 1:
        fail(where, f"expected one {kind}, found {len(found)}")
        return None
    return found[0][1]


def pod_container(obj):
    spec = obj["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def check_pod(where, spec, c, configmaps, secret):
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get("LOADTESTER_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
    if ref.get("name") != secret or ref.get("key") != "token":
        fail(where, f"LOADTESTER_TOKEN must come from Secret `{secret}` key `token`, found {ref}")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    plan_vol = [n for n, p in mounts.items() if p == "/plan"]
    if not plan_vol:
        fail(where, "no volume mounted at /plan")
    else:
        cm = vols.get(plan_vol[0], {}).get("configMap", {}).get("name")
        if cm not in configmaps:
            fail(where, f"/plan is not the plan ConfigMap (found `{cm}`, have {sorted(configmaps)})")
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot") or sc.get("runAsUser", 0) == 0:
        fail(where, "pods must run as a non-root user")
    if not c.get("resources"):
        fail(where, "container has no resources")


def check_set(label, docs, workers, svc_name, port, secret, plan_out):
    job = one(docs, "Job", label)
    dep = one(docs, "Deployment", label)
    svc = one(docs, "Service", label)
    cms = {d["metadata"]["name"]: d for _, d in by_kind(docs, "ConfigMap")}
    if not (job and dep and svc):
        return
    for name, cm in cms.items():
        plan = cm.get("data", {}).get("loadplan.yaml")
        if plan is None:
            fail(f"{label} ConfigMap {name}", "has no `loadplan.yaml` key")
        else:
            with open(plan_out, "w") as f:
                f.write(plan)
    js = job["spec"]
    if js.get("completionMode") != "Indexed":
        fail(f"{label} Job", "completionMode must be Indexed")
    if not (js.get("parallelism") == js.get("completions") == workers):
        fail(f"{label} Job", f"parallelism {js.get('parallelism')} and completions "
             f"{js.get('completions')} must both be the {workers} workers")
    spec, c = pod_container(job)
    if spec.get("restartPolicy") != "Never":
        fail(f"{label} Job", "restartPolicy must be Never (a retried pod keeps its index)")
    want = [w.format(svc=svc_name, port=port) for w in WORKER_CMD]
    if c.get("command") != want:
        fail(f"{label} Job", f"worker command {c.get('command')} is not the seed command {want}")
    check_pod(f"{label} Job", spec, c, cms, secret)
    spec, c = pod_container(dep)
    want = [w.format(n=workers, port=port) for w in COORD_CMD]
    if c.get("command") != want:
        fail(f"{label} Deployment", f"coordinator command {c.get('command')} is not {want}")
    check_pod(f"{label} Deployment", spec, c, cms, secret)
    if dep["spec"].get("replicas") != 1:
        fail(f"{label} Deployment", "exactly one coordinator")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    sel = svc["spec"].get("selector", {})
    if svc["metadata"]["name"] != svc_name:
        fail(f"{label} Service", f"named `{svc['metadata']['name']}`, workers dial `{svc_name}`")
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        fail(f"{label} Service", f"selector {sel} does not select the coordinator {labels}")
    if [p.get("port") for p in svc["spec"]["ports"]] != [port]:
        fail(f"{label} Service", f"must expose port {port}")
    if labels == job["spec"]["template"]["metadata"]["labels"]:
        fail(label, "workers and coordinator pods must have different labels")


def load_kustomize(base):
    with open(os.path.join(base, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    if k.get("kind") != "Kustomization":
        fail("kustomization.yaml", "kind must be Kustomization")
    docs = []
    listed = set(k.get("resources", []))
    for name in sorted(os.listdir(base)):
        if name.endswith(".yaml") and name != "kustomization.yaml" and name not in listed:
            fail("deploy/k8s", f"{name} is not listed in kustomization.yaml resources")
    for r in k.get("resources", []):
        path = os.path.join(base, r)
        if not os.path.isfile(path):
            fail("kustomization.yaml", f"resource {r} does not exist")
            continue
        with open(path) as f:
            docs += [(f"deploy/k8s/{r}", d) for d in yaml.safe_load_all(f) if d]
    return docs


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    docs = load_kustomize(os.path.join(root, "deploy/k8s"))
    validate_schema(docs)
    job = one(docs, "Job", "deploy/k8s")
    workers = job["spec"].get("completions") if job else 0
    check_set("deploy/k8s", docs, workers, "coordinator-svc", 8080, "loadtester-token",
              os.path.join(out, "k8s-loadplan.yaml"))
    chart = os.path.join(root, "deploy/helm/loadtester")
    cases = [("helm (default values)", {}),
             ("helm (workers 5, token, port 9000)",
              {"workers": 5, "token": "s3cret", "coordinator": {"port": 9000}})]
    for i, (label, over) in enumerate(cases):
        values, hdocs = render_chart(chart, over)
        validate_schema(hdocs)
        secrets = by_kind(hdocs, "Secret")
        if bool(values["token"]) != bool(secrets):
            fail(label, "a Secret must be rendered exactly when `token` is set")
        check_set(label, hdocs, values["workers"], values["coordinator"]["serviceName"],
                  values["coordinator"]["port"], "lt-token",
                  os.path.join(out, f"helm-loadplan-{i}.yaml"))
        print(f"{label}: {len(hdocs)} manifests rendered")
    print(f"deploy/k8s: {len(docs)} manifests; strict Kubernetes schemas {', '.join(VERSIONS)}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
