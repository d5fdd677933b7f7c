"""Static checks of the deployment files in conf/, for tests/deploy/check_deploy_files.sh.

usage: deploy_files.py SOURCE_DIR OUT_DIR

Parses every Kubernetes manifest, the Grafana dashboard and the Dockerfile, checks that they
agree with each other and with the container's gateway.json (mount paths, ports, probes, the
security settings docs/OPERATIONS.md promises), and writes what the shell script checks next
into OUT_DIR:

  runtime_packages, build_packages   the Dockerfile's apt-get install lists, one per line
  setup_packages                     scripts/setup's package list, one per line
  healthcheck_command                the HEALTHCHECK's bash -c script
  dashboard_rules.yml                every dashboard query as a recording rule (for promtool)
  metric_names                       the portcullis_* families the alerts and dashboard use
  gateway.json, policy.json          the ConfigMap's files, as mounted in the pod

Prints one line per problem and exits 1 if there is any. Needs PyYAML (Debian: python3-yaml).
"""

import json
import os
import re
import sys

import yaml

problems = []


def problem(message):
    problems.append(message)
    print("FAIL: " + message)


def check(condition, message):
    if not condition:
        problem(message)
    return condition


def load_yaml_documents(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(f"{path}: does not parse: {e}")
        return []


# --- Kubernetes ----------------------------------------------------------------------------


def check_kubernetes(source, out):
    kdir = os.path.join(source, "conf", "kubernetes")
    files = sorted(f for f in os.listdir(kdir) if f.endswith((".yaml", ".yml")))
    objects = {}
    for name in files:
        for doc in load_yaml_documents(os.path.join(kdir, name)):
            if name == "kustomization.yaml":
                continue
            ok = check(isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind")
                       and doc.get("metadata", {}).get("name"),
                       f"{name}: a document without apiVersion, kind or metadata.name")
            if ok:
                objects[(doc["kind"], doc["metadata"]["name"])] = doc

    kustomization = load_yaml_documents(os.path.join(kdir, "kustomization.yaml"))
    if check(len(kustomization) == 1, "kustomization.yaml: expected one document"):
        resources = kustomization[0].get("resources", [])
        listed = set(resources)
        present = set(files) - {"kustomization.yaml"}
        check(listed == present,
              f"kustomization.yaml resources {sorted(listed)} != the files {sorted(present)}")

    deployment = objects.get(("Deployment", "portcullis"))
    config_map = objects.get(("ConfigMap", "portcullis-config"))
    policy_map = objects.get(("ConfigMap", "portcullis-policy"))
    for what, obj in (("Deployment portcullis", deployment),
                      ("ConfigMap portcullis-config", config_map),
                      ("ConfigMap portcullis-policy", policy_map),
                      ("Service portcullis", objects.get(("Service", "portcullis"))),
                      ("PodDisruptionBudget portcullis",
                       objects.get(("PodDisruptionBudget", "portcullis"))),
                      ("NetworkPolicy portcullis", objects.get(("NetworkPolicy", "portcullis")))):
        check(obj is not None, f"conf/kubernetes has no {what}")
    if not (deployment and config_map and policy_map):
        return

    # The ConfigMap's gateway.json is the image's (conf/docker/gateway.json), byte for byte.
    gateway_json = config_map.get("data", {}).get("gateway.json", "")
    with open(os.path.join(source, "conf", "docker", "gateway.json"), encoding="utf-8") as f:
        check(gateway_json == f.read(),
              "configmap.yaml's gateway.json differs from conf/docker/gateway.json")
    policy_json = policy_map.get("data", {}).get("policy.json", "")
    check(policy_json, "ConfigMap portcullis-policy has no policy.json")
    with open(os.path.join(out, "gateway.json"), "w", encoding="utf-8") as f:
        f.write(gateway_json)
    with open(os.path.join(out, "policy.json"), "w", encoding="utf-8") as f:
        f.write(policy_json)

    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    check(deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(),
          "Deployment selector does not match its pod labels")
    pod_security = pod.get("securityContext", {})
    check(pod_security.get("runAsNonRoot") is True, "pod securityContext: runAsNonRoot")
    check(pod_security.get("runAsUser") == 10001, "pod securityContext: runAsUser 10001")
    check(pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "pod securityContext: seccompProfile RuntimeDefault")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        name = c["name"]
        check(sc.get("allowPrivilegeEscalation") is False,
              f"container {name}: allowPrivilegeEscalation false")
        check(sc.get("readOnlyRootFilesystem") is True,
              f"container {name}: readOnlyRootFilesystem true")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"],
              f"container {name}: capabilities drop ALL")
        check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
              f"container {name}: seccompProfile RuntimeDefault")
        resources = c.get("resources", {})
        check(resources.get("requests") and resources.get("limits"),
              f"container {name}: resources requests and limits")

    gateway = next((c for c in pod["containers"] if c["name"] == "gateway"), None)
    if not check(gateway is not None, "Deployment has no container named gateway"):
        return
    ports = {p["name"]: p["containerPort"] for p in gateway.get("ports", [])}
    check(ports == {"https": 8443, "admin": 9901}, f"gateway ports {ports}")
    listen = re.search(r'"listen"\s*:\s*\[\s*"[^"]*:(\d+)"', gateway_json)
    admin = re.search(r'"admin"\s*:\s*\{\s*"listen"\s*:\s*"[^"]*:(\d+)"', gateway_json)
    check(listen and int(listen.group(1)) == ports.get("https"),
          "gateway.json's listen port is not the container's https port")
    check(admin and int(admin.group(1)) == ports.get("admin"),
          "gateway.json's admin port is not the container's admin port")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = gateway.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") in ("admin", 9901),
              f"gateway {probe}: GET {path} on the admin port, got {get}")

    # Every file gateway.json names under /etc/portcullis is mounted, from the right source.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {}
    for m in gateway.get("volumeMounts", []):
        target = m["mountPath"]
        volume = volumes.get(m["name"], {})
        if "subPath" in m:
            mounts[target] = ("file", volume, m["subPath"])
        else:
            mounts[target] = ("dir", volume, None)
    paths = sorted(set(re.findall(r'"(/etc/portcullis/[^"]+)"', gateway_json)))
    check(paths, "gateway.json names no file under /etc/portcullis")
    for path in paths:
        folder, base = os.path.split(path)
        kind = mounts.get(folder)
        if not check(kind and kind[0] == "dir", f"{path}: its folder {folder} is not mounted"):
            continue
        volume = kind[1]
        if "secret" in volume:
            # The Secret's keys are tls.crt, tls.key, ca.crt (and optionally a CRL).
            check(volume["secret"].get("secretName") == "portcullis-tls",
                  f"{folder}: mounted from Secret {volume['secret'].get('secretName')}")
        elif "configMap" in volume:
            cm = objects.get(("ConfigMap", volume["configMap"]["name"]), {})
            check(base in cm.get("data", {}),
                  f"{path}: ConfigMap {volume['configMap']['name']} has no key {base}")
    config_mount = mounts.get("/etc/portcullis/gateway.json")
    check(config_mount and config_mount[0] == "file" and config_mount[2] == "gateway.json"
          and config_mount[1].get("configMap", {}).get("name") == "portcullis-config",
          "/etc/portcullis/gateway.json is not mounted from ConfigMap portcullis-config")
    check("/etc/portcullis/tls" in mounts and "/etc/portcullis/policy" in mounts,
          "the tls and policy folders must be folder mounts (the file watch needs ..data)")

    service = objects.get(("Service", "portcullis"))
    if service:
        sports = [(p.get("port"), p.get("targetPort"), p.get("protocol", "TCP"))
                  for p in service["spec"]["ports"]]
        check(sports == [(8443, "https", "TCP")], f"Service ports {sports}")
        check(service["spec"]["selector"].items() <= labels.items(),
              "Service selector does not match the pods")
    pdb = objects.get(("PodDisruptionBudget", "portcullis"))
    if pdb:
        check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(),
              "PodDisruptionBudget selector does not match the pods")
    netpol = objects.get(("NetworkPolicy", "portcullis"))
    if netpol:
        check(netpol["spec"]["podSelector"]["matchLabels"].items() <= labels.items(),
              "NetworkPolicy podSelector does not match the pods")
        allowed = sorted(p["port"] for rule in netpol["spec"].get("ingress", [])
                         for p in rule.get("ports", []))
        check(allowed == [8443, 9901], f"NetworkPolicy ingress ports {allowed}")


# --- Grafana -------------------------------------------------------------------------------


def check_dashboard(source, out):
    path = os.path.join(source, "conf", "grafana", "portcullis-dashboard.json")
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        problem(f"{path}: {e}")
        return []
    check(dashboard.get("panels"), "the dashboard has no panels")
    ids = [p.get("id") for p in dashboard.get("panels", [])]
    check(len(ids) == len(set(ids)), "the dashboard has duplicate panel ids")

    exprs = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard.get("panels", []))
    check(exprs, "the dashboard has no queries")
    # Grafana's variables replaced by what they expand to, so that promtool can parse them.
    rules = []
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")
        rules.append({"record": f"dashboard:query{i}", "expr": e})
    with open(os.path.join(out, "dashboard_rules.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    return exprs


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions(text):
    """(stage index, instruction, arguments) for each instruction; comments dropped."""
    joined = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        joined.append(current + stripped)
        current = ""
    stage = -1
    result = []
    for instruction in joined:
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.append((stage, keyword, rest.strip()))
    return result


def apt_packages(run_arguments):
    """The package names of every `apt-get install` in one RUN instruction."""
    packages = []
    for command in re.split(r"&&|;", run_arguments):
        words = command.split()
        if "apt-get" in words and "install" in words:
            for w in words[words.index("install") + 1:]:
                if not w.startswith("-"):
                    packages.append(w)
    return packages


def check_dockerfile(source, out):
    with open(os.path.join(source, "conf", "Dockerfile"), encoding="utf-8") as f:
        instructions = dockerfile_instructions(f.read())
    froms = [rest for _, kw, rest in instructions if kw == "FROM"]
    check(len(froms) == 2, f"the Dockerfile has {len(froms)} stages, expected 2")
    check(froms and froms[0].startswith("debian:bookworm ") and froms[0].endswith(" AS build"),
          f"build stage: FROM debian:bookworm AS build, got {froms[:1]}")
    check(len(froms) > 1 and froms[-1] == "debian:bookworm-slim",
          f"runtime stage: FROM debian:bookworm-slim, got {froms[-1:]}")
    last = len(froms) - 1

    def packages_of(stage):
        return [p for s, kw, rest in instructions if s == stage and kw == "RUN"
                for p in apt_packages(rest)]

    build, runtime = packages_of(0), packages_of(last)
    check(build and runtime, "no apt-get install found in one of the stages")
    for name, packages in (("build_packages", build), ("runtime_packages", runtime)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write("".join(p + "\n" for p in packages))

    runtime_of = {kw: rest for s, kw, rest in instructions if s == last}
    check(runtime_of.get("USER") in ("10001", "10001:10001"),
          f"runtime USER 10001, got {runtime_of.get('USER')}")
    check(sorted(runtime_of.get("EXPOSE", "").split()) == ["8443", "9901"],
          f"EXPOSE 8443 9901, got {runtime_of.get('EXPOSE')}")
    try:
        entrypoint = json.loads(runtime_of.get("ENTRYPOINT", ""))
    except ValueError:
        entrypoint = None
    check(entrypoint == ["portcullis", "run", "--config", "/etc/portcullis/gateway.json"],
          f"ENTRYPOINT, got {entrypoint}")
    health = runtime_of.get("HEALTHCHECK", "")
    command = None
    if check(" CMD [" in " " + health, "HEALTHCHECK ... CMD [...] (exec form) missing"):
        try:
            command = json.loads(health[health.index("CMD ") + 4:])
        except ValueError as e:
            problem(f"HEALTHCHECK's CMD is not a JSON array: {e}")
    if command is not None and check(command[:2] == ["bash", "-c"] and len(command) == 3
                                     and "/healthz" in command[2],
                                     f"HEALTHCHECK: bash -c with GET /healthz, got {command}"):
        with open(os.path.join(out, "healthcheck_command"), "w", encoding="utf-8") as f:
            f.write(command[2])

    with open(os.path.join(source, "scripts", "setup"), encoding="utf-8") as f:
        setup = f.read()
    block = re.search(r"^packages=\((.*?)^\)", setup, re.S | re.M)
    setup_packages = []
    if check(block, "scripts/setup: no packages=( ... ) list"):
        for line in block.group(1).splitlines():
            setup_packages += line.split("#")[0].split()
    with open(os.path.join(out, "setup_packages"), "w", encoding="utf-8") as f:
        f.write("".join(p + "\n" for p in setup_packages))


# --- Metric names --------------------------------------------------------------------------


def write_metric_names(source, out, dashboard_exprs):
    with open(os.path.join(source, "conf", "prometheus", "alerts.yml"), encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]] + dashboard_exprs
    names = set()
    for e in exprs:
        for name in re.findall(r"\bportcullis_[a-z0-9_]+", e):
            names.add(re.sub(r"_(bucket|sum|count)$", "", name)
                      if name.endswith(("_seconds_bucket", "_seconds_sum", "_seconds_count"))
                      else name)
    with open(os.path.join(out, "metric_names"), "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in sorted(names)))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    source, out = sys.argv[1], sys.argv[2]
    check_kubernetes(source, out)
    exprs = check_dashboard(source, out)
    check_dockerfile(source, out)
    write_metric_names(source, out, exprs)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
