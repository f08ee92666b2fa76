#!/usr/bin/env python3
"""The Kubernetes manifests in deploy/kubernetes agree with themselves, with the image
(packaging/image/build-image) and with pywebd: every document parses, the selectors
match, the probes ask the admin listener's /healthz, the ports are the ones the
ConfigMap's server.yaml sets, the grace period outlasts the drain, and that server.yaml
passes `pywebd -t`.   Usage: check_manifests.py PYWEBD_BINARY"""

import os
import re
import subprocess
import sys
import tempfile

import yaml

TOP = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIR = os.path.join(TOP, "deploy", "kubernetes")
failures = []


def check(what, ok):
    print(("ok   - " if ok else "FAIL - ") + what)
    if not ok:
        failures.append(what)


def duration_seconds(text):
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    return int(match.group(1)) * factor


def main(binary):
    files = sorted(f for f in os.listdir(DIR) if f.endswith(".yaml"))
    docs = {}
    for name in files:
        with open(os.path.join(DIR, name)) as f:
            for doc in yaml.safe_load_all(f):
                docs.setdefault(doc["kind"], []).append(doc)
    kustomization = docs.pop("Kustomization")[0]
    check("kustomization lists every manifest",
          sorted(kustomization["resources"]) == [f for f in files if f != "kustomization.yaml"])
    for kind in ("ConfigMap", "Deployment", "Service", "PodDisruptionBudget"):
        check(f"a {kind} is there", kind in docs)

    deployment = docs["Deployment"][0]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    check("the Deployment selects its own pods", all(labels.get(k) == v for k, v in selector.items()))
    check("the Service selects them", docs["Service"][0]["spec"]["selector"] == selector)
    check("the PodDisruptionBudget selects them",
          docs["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"] == selector)

    configmaps = {c["metadata"]["name"]: c for c in docs["ConfigMap"]}
    server_yaml = configmaps["pywebd-config"]["data"]["server.yaml"]
    server = yaml.safe_load(server_yaml)
    admin_port = int(server["admin"]["address"].rsplit(":", 1)[1])
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check("the http port is server.yaml's port", ports["http"] == server["port"])
    check("the admin port is server.yaml's admin address", ports["admin"] == admin_port)
    check("the admin listener is public on purpose (probes come from the node)",
          server["admin"].get("public") is True)
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        check(f"the {probe} asks /healthz on the admin port", get["path"] == "/healthz" and get["port"] == "admin")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    check("the scrape annotations name the admin port and /metrics",
          annotations["prometheus.io/port"] == str(admin_port) and annotations["prometheus.io/path"] == "/metrics")
    service_port = docs["Service"][0]["spec"]["ports"][0]
    check("the Service sends to the http port", service_port["targetPort"] == "http")

    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    pause = int(pre_stop[1]) if pre_stop[0] == "sleep" else 0
    shutdown = duration_seconds(server["timeouts"]["shutdown"])
    check("terminationGracePeriodSeconds outlasts the preStop pause and timeouts.shutdown",
          pod["terminationGracePeriodSeconds"] > pause + shutdown)

    with open(os.path.join(TOP, "packaging", "image", "build-image")) as f:
        user = re.search(r"--user (\d+):(\d+)", f.read())
    check("the pod runs as the image's user",
          pod["securityContext"]["runAsUser"] == int(user.group(1))
          and pod["securityContext"]["runAsGroup"] == int(user.group(2)))
    with open(os.path.join(TOP, "CMakeLists.txt")) as f:
        version = re.search(r"project\(pywebd VERSION ([0-9.]+)", f.read()).group(1)
    check("the image tag is this version", container["image"] == f"localhost/pywebd:{version}")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    check("/etc/pywebd is the config ConfigMap",
          volumes[mounts["/etc/pywebd"]]["configMap"]["name"] == "pywebd-config")
    check("/srv/www is server.yaml's root", server["root"] == "/srv/www" and "/srv/www" in mounts)
    site = volumes[mounts["/srv/www"]]
    check("the site volume exists", "configMap" not in site or site["configMap"]["name"] in configmaps)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "server.yaml")
        with open(path, "w") as f:
            f.write(server_yaml)
        args = [binary, "-t", "-c", path, "-r", tmp] + (["-u", "nobody"] if os.geteuid() == 0 else [])
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        check("the ConfigMap's server.yaml passes pywebd -t" + ("" if result.returncode == 0 else ": " + result.stderr),
              result.returncode == 0)

    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
