"""The container: command/args, environment, resources, security, probes, ports."""

from __future__ import annotations

from k8s_helpers import container, find, keys, project

from orchestrator.k8s import convert, lint


def _c(svc: dict, **kw) -> dict:
    return container(convert(project({"s": svc}), **kw).manifests, "Deployment", "s")


def test_entrypoint_is_command_and_command_is_args_with_dollars_kept_literal():
    c = _c({"image": "i", "entrypoint": ["/bin/sh", "-c"], "command": ["echo $HOSTNAME $(date)"]})
    assert c["command"] == ["/bin/sh", "-c"]
    # Kubernetes expands $(VAR) and $$: doubled dollars reach the shell unchanged
    assert c["args"] == ["echo $$HOSTNAME $$(date)"]


def test_command_alone_keeps_the_image_entrypoint():
    c = _c({"image": "i", "command": ["serve", "--port", "80"]})
    assert "command" not in c and c["args"] == ["serve", "--port", "80"]


def test_environment_inline_with_unset_variables_left_out():
    c = _c({"image": "i", "environment": {"A": "1", "B": None, "C": "x$y"}})
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "x$$y"}]


def test_env_file_goes_to_a_configmap_and_credentials_to_a_secret():
    data = project({"s": {"image": "i", "env_file": [{"path": "/p/app.env"}],
                          "environment": {"MODE": "prod", "DB_PASSWORD": "hunter2"}}})
    result = convert(data)
    c = container(result.manifests, "Deployment", "s")
    assert c["envFrom"] == [{"configMapRef": {"name": "s-env"}}, {"secretRef": {"name": "s-env"}}]
    assert find(result.manifests, "ConfigMap", "s-env")["data"] == {"MODE": "prod"}
    assert find(result.manifests, "Secret", "s-env")["stringData"] == {"DB_PASSWORD": "hunter2"}
    assert lint(result.manifests) == []


def test_resources_from_deploy_and_from_the_short_keys():
    c = _c({"image": "i", "deploy": {"resources": {"limits": {"cpus": 0.5, "memory": "67108864"},
                                                   "reservations": {"memory": "16777216"}}}})
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"memory": "16Mi"}}
    c = _c({"image": "i", "mem_limit": "1g", "cpus": 2, "mem_reservation": "1000"})
    assert c["resources"] == {"limits": {"memory": "1Gi", "cpu": "2"}, "requests": {"memory": "1000"}}


def test_security_context_from_user_caps_read_only_and_privileged():
    c = _c({"image": "i", "user": "1000:2000", "cap_add": ["NET_ADMIN"], "cap_drop": ["CAP_ALL"],
            "read_only": True, "privileged": True, "security_opt": ["no-new-privileges:true"]})
    sc = c["securityContext"]
    assert sc["runAsUser"] == 1000 and sc["runAsGroup"] == 2000 and sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"add": ["NET_ADMIN"], "drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["privileged"] is True
    assert "allowPrivilegeEscalation" not in sc  # conflicts with privileged


def test_user_name_cannot_be_expressed_and_is_warned():
    result = convert(project({"s": {"image": "i", "user": "www-data"}}))
    assert "securityContext" not in container(result.manifests, "Deployment", "s")
    assert ("s", "user") in keys(result.warnings)


def test_healthcheck_becomes_liveness_readiness_and_startup_probes_with_its_timings():
    c = _c({"image": "i", "healthcheck": {"test": ["CMD-SHELL", "curl -f http://localhost/"],
                                          "interval": "1m30s", "timeout": "10s", "retries": 5,
                                          "start_period": "40s", "start_interval": "5s"}})
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert probe["exec"]["command"] == ["/bin/sh", "-c", "curl -f http://localhost/"]
        assert (probe["periodSeconds"], probe["timeoutSeconds"], probe["failureThreshold"]) == (90, 10, 5)
    # 40s of grace at 5s steps, then the usual 5 retries
    assert c["startupProbe"]["periodSeconds"] == 5
    assert c["startupProbe"]["failureThreshold"] == 8 + 5


def test_healthcheck_defaults_are_dockers_and_disabled_checks_give_no_probe():
    c = _c({"image": "i", "healthcheck": {"test": ["CMD", "true"]}})
    assert (c["livenessProbe"]["periodSeconds"], c["livenessProbe"]["timeoutSeconds"]) == (30, 30)
    assert "startupProbe" not in c
    assert "livenessProbe" not in _c({"image": "i", "healthcheck": {"test": ["NONE"]}})
    assert "livenessProbe" not in _c({"image": "i", "healthcheck": {"disable": True, "test": ["CMD", "x"]}})


def test_container_ports_come_from_ports_and_expose_without_duplicates():
    c = _c({"image": "i", "expose": ["8080", "9000-9001", "53/udp"],
            "ports": [{"target": 8080, "published": "80", "protocol": "tcp", "mode": "ingress"}]})
    got = [(p["containerPort"], p["protocol"]) for p in c["ports"]]
    assert got == [(8080, "TCP"), (9000, "TCP"), (9001, "TCP"), (53, "UDP")]


def test_build_only_service_runs_the_image_compose_would_tag_and_warns():
    result = convert(project({"app": {"build": {"context": "/src"}}}))
    assert container(result.manifests, "Deployment", "app")["image"] == "demo-app"
    assert ("app", "build") in keys(result.warnings)


def test_tty_stdin_workdir_hosts_dns_and_grace_period():
    data = project({"s": {"image": "i", "tty": True, "stdin_open": True, "working_dir": "/app",
                          "extra_hosts": ["db=10.0.0.5", "cache=10.0.0.5"], "dns": ["1.1.1.1"],
                          "dns_search": ["corp"], "dns_opt": ["ndots:2"], "stop_grace_period": "1m30s"}})
    spec = find(convert(data).manifests, "Deployment", "s")["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert (c["tty"], c["stdin"], c["workingDir"]) == (True, True, "/app")
    assert spec["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db", "cache"]}]
    assert spec["dnsConfig"] == {"nameservers": ["1.1.1.1"], "searches": ["corp"],
                                 "options": [{"name": "ndots", "value": "2"}]}
    assert spec["terminationGracePeriodSeconds"] == 90


def test_string_and_map_forms_of_list_settings_are_accepted():
    data = project({"s": {"image": "i", "dns": "9.9.9.9", "tmpfs": "/run",
                          "extra_hosts": {"db": "10.0.0.5", "cache": ["10.0.0.6"]}}})
    spec = find(convert(data).manifests, "Deployment", "s")["spec"]["template"]["spec"]
    assert spec["dnsConfig"] == {"nameservers": ["9.9.9.9"]}
    assert spec["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db"]}, {"ip": "10.0.0.6", "hostnames": ["cache"]}]
    assert spec["containers"][0]["volumeMounts"][0]["mountPath"] == "/run"
