"""Controller choice, replicas, pod template content and restart policies."""

from __future__ import annotations

from k8s_helpers import container, find, keys, project

from orchestrator.k8s import convert, lint


def test_plain_service_is_a_deployment_with_replicas_and_matching_selector():
    result = convert(project({"web": {"image": "nginx", "deploy": {"replicas": 3}}}))
    dep = find(result.manifests, "Deployment", "web")
    assert dep["apiVersion"] == "apps/v1"
    assert dep["spec"]["replicas"] == 3
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels["app.kubernetes.io/name"] == "web"
    assert labels["app.kubernetes.io/instance"] == "demo"
    assert labels["app.kubernetes.io/managed-by"] == "shoal"
    assert lint(result.manifests) == []


def test_scale_wins_over_deploy_replicas_and_can_be_left_to_the_cluster():
    data = project({"web": {"image": "nginx", "scale": 2, "deploy": {"replicas": 5}}})
    assert find(convert(data).manifests, "Deployment", "web")["spec"]["replicas"] == 2
    spec = find(convert(data, replicas_from_scale=False).manifests, "Deployment", "web")["spec"]
    assert "replicas" not in spec


def test_global_mode_is_a_daemonset():
    result = convert(project({"agent": {"image": "a", "deploy": {"mode": "global"}}}))
    ds = find(result.manifests, "DaemonSet", "agent")
    assert "replicas" not in ds["spec"]
    assert ds["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_one_shot_service_waited_for_completion_is_a_job_and_dependents_wait_for_it():
    data = project({
        "migrate": {"image": "m", "restart": "no"},
        "api": {"image": "a", "depends_on": {"migrate": {
            "condition": "service_completed_successfully", "required": True}}},
    })
    result = convert(data, namespace="prod")
    job = find(result.manifests, "Job", "migrate")
    assert job["apiVersion"] == "batch/v1"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    api = find(result.manifests, "Deployment", "api")["spec"]["template"]["spec"]
    (init,) = api["initContainers"]
    assert init["command"][:3] == ["kubectl", "wait", "--for=condition=Complete"]
    assert "job/migrate" in init["command"]
    # the waiting container may read Jobs: a ServiceAccount bound to a Role that allows it
    assert api["serviceAccountName"] == "demo-wait"
    role = find(result.manifests, "Role", "demo-wait")
    assert any("jobs" in r["resources"] and "watch" in r["verbs"] for r in role["rules"])
    binding = find(result.manifests, "RoleBinding", "demo-wait")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "demo-wait", "namespace": "prod"}]
    assert lint(result.manifests) == []


def test_on_failure_job_retries_as_many_times_as_compose_would():
    data = project({
        "seed": {"image": "s", "restart": "on-failure:4"},
        "app": {"image": "a", "depends_on": {"seed": {"condition": "service_completed_successfully"}}},
    })
    job = find(convert(data).manifests, "Job", "seed")
    assert job["spec"]["backoffLimit"] == 4
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_service_healthy_waits_for_ready_pods_of_the_dependency():
    data = project({
        "db": {"image": "postgres", "expose": ["5432"],
               "healthcheck": {"test": ["CMD", "pg_isready"], "interval": "5s"}},
        "app": {"image": "a", "depends_on": {"db": {"condition": "service_healthy"}}},
    })
    result = convert(data)
    (init,) = find(result.manifests, "Deployment", "app")["spec"]["template"]["spec"]["initContainers"]
    assert "--for=condition=Ready" in init["command"]
    assert "--selector=app.kubernetes.io/name=db,app.kubernetes.io/instance=demo" in init["command"]
    db = container(result.manifests, "Deployment", "db")
    assert db["readinessProbe"]["exec"]["command"] == ["pg_isready"]


def test_service_started_dependencies_are_not_kept_and_say_so():
    data = project({"db": {"image": "d", "expose": ["1"]},
                    "app": {"image": "a", "depends_on": {"db": {"condition": "service_started"}}}})
    result = convert(data)
    assert "initContainers" not in find(result.manifests, "Deployment", "app")["spec"]["template"]["spec"]
    assert ("app", "depends_on") in keys(result.warnings)
    assert not any(m["kind"] == "Role" for m in result.manifests)


def test_named_volume_owned_by_one_service_makes_a_statefulset_with_claim_templates():
    data = project(
        {"db": {"image": "postgres", "deploy": {"replicas": 2}, "expose": ["5432"],
                "volumes": [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}]}},
        volumes={"pgdata": {"x-kubernetes": {"size": "20Gi", "storage_class": "fast"}}},
    )
    result = convert(data)
    sts = find(result.manifests, "StatefulSet", "db")
    assert sts["spec"]["serviceName"] == "db-headless"
    assert sts["spec"]["replicas"] == 2
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "pgdata"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    mount = container(result.manifests, "StatefulSet", "db")["volumeMounts"][0]
    assert mount == {"mountPath": "/var/lib/postgresql/data", "name": "pgdata"}
    assert find(result.manifests, "Service", "db-headless")["spec"]["clusterIP"] == "None"
    assert not any(m["kind"] == "PersistentVolumeClaim" for m in result.manifests)
    assert lint(result.manifests) == []


def test_controller_can_be_chosen_with_the_x_kubernetes_extension():
    data = project({"w": {"image": "w", "x-kubernetes": {"controller": "daemonset"}}})
    assert find(convert(data).manifests, "DaemonSet", "w")


def test_restart_no_on_a_long_running_service_is_warned():
    result = convert(project({"w": {"image": "w", "restart": "no"}}))
    assert find(result.manifests, "Deployment", "w")["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert ("w", "restart") in keys(result.warnings)


def test_update_config_order_chooses_surge_or_unavailable():
    first = project({"w": {"image": "w", "deploy": {"update_config": {"parallelism": 2, "order": "start-first"}}}})
    rolling = find(convert(first).manifests, "Deployment", "w")["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 2, "maxUnavailable": 0}
    stop = project({"w": {"image": "w", "deploy": {"update_config": {"parallelism": 1, "order": "stop-first"}}}})
    rolling = find(convert(stop).manifests, "Deployment", "w")["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 0, "maxUnavailable": 1}


def test_labels_that_kubernetes_cannot_hold_become_annotations():
    data = project({"w": {"image": "w", "labels": {"tier": "front", "com.example.description": "A web app"},
                          "annotations": {"note": "kept"}}})
    meta = find(convert(data).manifests, "Deployment", "w")["spec"]["template"]["metadata"]
    assert meta["labels"]["tier"] == "front"
    assert meta["annotations"] == {"com.example.description": "A web app", "note": "kept"}


def test_namespace_is_set_everywhere_and_created_first():
    data = project({"w": {"image": "w", "expose": ["80"]}})
    result = convert(data, namespace="team-a")
    assert result.manifests[0]["kind"] == "Namespace"
    assert all(m["metadata"].get("namespace") == "team-a" for m in result.manifests[1:])


def test_service_names_are_made_dns_safe_and_the_rename_is_warned():
    data = project({"My_Service": {"image": "w", "expose": ["80"]}, "1db": {"image": "d"}})
    result = convert(data)
    assert find(result.manifests, "Deployment", "my-service")
    assert find(result.manifests, "Service", "my-service")
    assert find(result.manifests, "Deployment", "x-1db")
    assert ("My_Service", "name") in keys(result.warnings)
    assert lint(result.manifests) == []


def test_platform_and_placement_constraints_become_a_node_selector():
    data = project({"w": {"image": "w", "platform": "linux/arm64", "deploy": {"placement": {
        "constraints": ["node.labels.zone==eu-1", "node.role==manager"]}}}})
    result = convert(data)
    spec = find(result.manifests, "Deployment", "w")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64", "zone": "eu-1"}
    assert ("w", "deploy.placement.constraints") in keys(result.warnings)


def test_replicated_one_shot_job_runs_every_replica_to_completion():
    data = project({
        "seed": {"image": "s", "deploy": {"replicas": 3}},
        "app": {"image": "a", "depends_on": {"seed": {"condition": "service_completed_successfully"}}},
    })
    spec = find(convert(data).manifests, "Job", "seed")["spec"]
    assert (spec["completions"], spec["parallelism"]) == (3, 3)
