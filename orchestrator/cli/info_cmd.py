"""`shoal top|port|ls|version|wait|stats` and the project-wide `images`/`pull` (see project_pull)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from orchestrator.cli.client import Client, error, project_name

__all__ = ["register", "client_version", "format_ls", "format_top", "format_stats",
           "human_size", "project_images", "project_pull", "add_project_pull_flags", "wants_project"]


def client_version() -> str:
    """The installed shoal version (pyproject), `0.1.0` style."""
    try:
        from importlib.metadata import version
        return version("shoal")
    except Exception:  # noqa: BLE001 - running from a checkout without metadata
        return "0.1.0"


def human_size(n: float) -> str:
    """Docker's decimal units: 1.5MB, 64MiB is written 67.1MB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{int(n)}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return str(n)


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    cells = [header] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "".join("   ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() + "\n"
                   for c in cells)


def format_ls(projects: list[dict], fmt: str, quiet: bool) -> str:
    """`shoal ls` as compose prints it: table NAME STATUS CONFIG FILES, JSON array, or names."""
    projects = sorted(projects, key=lambda p: p.get("name", ""))
    if quiet:
        return "".join(p.get("name", "") + "\n" for p in projects)
    files = [_files(p.get("config_files")) for p in projects]
    if fmt == "json":
        return json.dumps([{"Name": p.get("name", ""), "Status": p.get("status", ""), "ConfigFiles": f}
                           for p, f in zip(projects, files)]) + "\n"
    return _table(("NAME", "STATUS", "CONFIG FILES"),
                  [(p.get("name", ""), p.get("status", ""), f) for p, f in zip(projects, files)])


def _files(value: Any) -> str:
    """config_files as compose prints them: comma-joined (the daemon may send a list or a string)."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value or "")


def _ls(args: argparse.Namespace) -> int:
    projects = Client().call("GET", "/projects", query={"all": args.all}) or []
    for flt in args.filter or []:
        key, _, value = flt.partition("=")
        if key != "name":
            raise error(f"ls: unsupported filter {key!r} (only name=...)")
        projects = [p for p in projects if value in p.get("name", "")]
    print(format_ls(projects, args.format, args.quiet), end="")
    return 0


def _version(args: argparse.Namespace) -> int:
    v = client_version()
    if args.short:
        print(v)
    elif args.format == "json":
        print(json.dumps({"version": f"v{v}"}))
    else:
        print(f"shoal version v{v}")
    return 0


def format_top(name: str, top: dict) -> str:
    """One container's processes: its name, then a table of compose's `top` columns."""
    titles = tuple(top.get("titles") or ())
    return name + "\n" + _table(titles, [tuple(p) for p in top.get("processes") or []])


def _containers(args: argparse.Namespace, client: Client, all_: bool = False) -> tuple[str, list[dict]]:
    name = project_name(args)
    rows = client.call("GET", f"/projects/{name}/containers",
                       query={"all": all_, "services": list(getattr(args, "services", []) or [])}) or []
    return name, sorted(rows, key=lambda r: r.get("Name", ""))


def _top(args: argparse.Namespace) -> int:
    client = Client()
    _, rows = _containers(args, client)
    out = [format_top(r.get("Name", ""), client.call("GET", f"/containers/{r.get('ID')}/top") or {})
           for r in rows]
    print("\n".join(out), end="")
    return 0


def _port(args: argparse.Namespace) -> int:
    port, _, proto = args.private_port.partition("/")
    answer = Client().call("GET", f"/projects/{project_name(args)}/port", query={
        "service": args.service, "port": port, "protocol": proto or args.protocol,
        "index": args.index}) or {}
    if not answer.get("host_port"):
        raise error(f"no port {args.private_port} published for service {args.service!r}")
    print(f"{answer.get('host_ip') or '0.0.0.0'}:{answer['host_port']}")
    return 0


def _wait(args: argparse.Namespace) -> int:
    client = Client(timeout=None)  # blocks until a container exits, however long that takes
    answer = client.call("POST", f"/projects/{project_name(args)}/wait",
                         {"services": list(args.services), "down_project": args.down_project}) or {}
    return int(answer.get("exit_code") or 0)


def format_stats(rows: list[tuple[dict, dict]]) -> str:
    """docker stats' table from (container summary, stats) pairs."""
    def pct(s: dict) -> str:
        limit = s.get("memory_limit") or 0
        return f"{100 * (s.get('memory_usage') or 0) / limit:.2f}%" if limit else "0.00%"
    table = [(str(r.get("ID", ""))[:12], r.get("Name", ""), f"{s.get('cpu_percent') or 0:.2f}%",
              f"{human_size(s.get('memory_usage') or 0)} / {human_size(s.get('memory_limit') or 0)}",
              pct(s), f"{human_size(s.get('net_rx') or 0)} / {human_size(s.get('net_tx') or 0)}",
              f"{human_size(s.get('block_read') or 0)} / {human_size(s.get('block_write') or 0)}",
              s.get("pids") or 0) for r, s in rows]
    return _table(("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                   "BLOCK I/O", "PIDS"), table)


def _stats(args: argparse.Namespace) -> int:
    client = Client()
    clear = sys.stdout.isatty() and not args.no_stream
    while True:
        _, rows = _containers(args, client, all_=args.all)
        pairs = [(r, client.call("GET", f"/containers/{r.get('ID')}/stats", query={"stream": "0"}) or {})
                 for r in rows]
        if args.format == "json":
            text = "".join(json.dumps(dict(s, Name=r.get("Name"), ID=r.get("ID"))) + "\n" for r, s in pairs)
        else:
            text = format_stats(pairs)
        sys.stdout.write(("\x1b[2J\x1b[H" if clear else "") + text)
        sys.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(1.0)


def project_images(args: argparse.Namespace) -> int:
    """Compose's `images`: the images the project's containers use (CONTAINER REPOSITORY TAG ...)."""
    from engine.images.store import ImageStore
    from orchestrator.cli.images_cmd import store_root
    _, rows = _containers(args, Client(), all_=True)
    store = ImageStore(store_root())
    out = []
    for r in rows:
        ref = r.get("Image", "")
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        try:
            image = store.lookup(ref)
            short, size = image.short_id, human_size(image.size)
        except Exception:  # noqa: BLE001 - image deleted since the container was made
            short, size = "<missing>", "0B"
        out.append((r.get("Name", ""), repo, tag, short, size))
    if getattr(args, "quiet", False):
        print("".join(dict.fromkeys(o[3] + "\n" for o in out if o[3] != "<missing>")), end="")
    elif getattr(args, "format", "table") == "json":
        print(json.dumps([{"ContainerName": o[0], "Repository": o[1], "Tag": o[2], "ID": o[3], "Size": o[4]}
                          for o in out]))
    else:
        print(_table(("CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"), out), end="")
    return 0


def wants_project(args: argparse.Namespace, names: list[str]) -> bool:
    """Should `pull NAMES` / `images NAMES` act on the compose project (else the image store)?

    Yes with -f or -p; no without a compose file here or above; otherwise yes when no names are
    given or every name is one of the project's services.
    """
    from orchestrator.compose.errors import ComposeError
    from orchestrator.compose.files import find_config_files
    if getattr(args, "files", None) or getattr(args, "project_name", None):
        return True
    try:
        find_config_files(None, os.environ, os.getcwd(), getattr(args, "project_directory", None))
    except ComposeError:
        return False
    if not names:
        return True
    from orchestrator.compose.loader import ProjectOptions, load_project
    try:
        services = load_project(ProjectOptions.from_args(args)).data.get("services") or {}
    except ComposeError:
        return False
    return all(n in services for n in names)


def add_project_pull_flags(p: argparse.ArgumentParser) -> None:
    """compose `pull` flags, for the parser that dispatches to project_pull."""
    p.add_argument("--ignore-pull-failures", action="store_true", help="pull what it can")
    p.add_argument("--include-deps", action="store_true", help="also pull services declared as dependencies")
    p.add_argument("--policy", choices=("missing", "always"), default="always", help="pull policy")


def project_pull(args: argparse.Namespace) -> int:
    """Compose's `pull [SERVICE...]`: pull every service image of the project into the image store."""
    from engine.images.pull import pull
    from engine.images.store import ImageStore
    from orchestrator.cli.client import load_project_body
    from orchestrator.cli.images_cmd import store_root
    from orchestrator.cli.progress import Progress
    names = tuple(getattr(args, "services", None) or getattr(args, "images", None) or ())
    _, body = load_project_body(args, names)
    services = body["project"].get("services") or {}
    wanted = [s for s in services if not names or s in names]
    store = ImageStore(store_root())
    quiet = getattr(args, "quiet", False)
    progress = Progress("quiet" if quiet else getattr(args, "progress", "auto"), title="Pulling")
    failed = 0
    insecure = os.environ.get("SHOAL_INSECURE_REGISTRIES", "").split(",")
    for service in wanted:
        image = services[service].get("image")
        if not image or services[service].get("pull_policy") in ("never", "build"):
            continue
        if getattr(args, "policy", "always") == "missing" and _has(store, image):
            progress.update({"id": service, "kind": "image", "status": "Skipped"})
            continue
        progress.update({"id": service, "kind": "image", "status": "Pulling"})
        try:
            pull(store, image, platform=services[service].get("platform"), insecure=insecure)
            progress.update({"id": service, "kind": "image", "status": "Pulled"})
        except Exception as exc:  # noqa: BLE001 - one line per failed service
            failed += 1
            progress.update({"id": service, "kind": "image", "status": "Error", "message": str(exc)})
            if not getattr(args, "ignore_pull_failures", False):
                progress.finish()
                raise error(f"service {service!r}: pull {image}: {exc}") from exc
    progress.finish()
    return 0


def _has(store: Any, image: str) -> bool:
    try:
        store.lookup(image)
        return True
    except Exception:  # noqa: BLE001 - any lookup failure means not present
        return False


def register(sub: Any) -> None:
    """Add top, port, ls, version, wait and stats (images/pull: see project_images, project_pull)."""
    p = sub.add_parser("top", help="Display the running processes")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=_top)
    p = sub.add_parser("port", help="Print the public port for a port binding")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("private_port", metavar="PRIVATE_PORT")
    p.add_argument("--protocol", choices=("tcp", "udp"), default="tcp")
    p.add_argument("--index", type=int, default=None, help="index of the container if replicas")
    p.set_defaults(func=_port)
    p = sub.add_parser("ls", help="List running compose projects")
    p.add_argument("-a", "--all", action="store_true", help="show all stopped projects")
    p.add_argument("-q", "--quiet", action="store_true", help="only display project names")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--filter", action="append", metavar="name=NAME")
    p.set_defaults(func=_ls)
    p = sub.add_parser("version", help="Show the shoal version information")
    p.add_argument("--short", action="store_true", help="only the version number")
    p.add_argument("-f", "--format", choices=("pretty", "json"), default="pretty")
    p.set_defaults(func=_version)
    p = sub.add_parser("wait", help="Block until containers of all (or specified) services stop")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("--down-project", action="store_true", help="drop the project once a container stops")
    p.set_defaults(func=_wait)
    p = sub.add_parser("stats", help="Live resource usage of the project's containers")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("--no-stream", action="store_true", help="print one snapshot and exit")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-a", "--all", action="store_true", help="also stopped containers")
    p.set_defaults(func=_stats)
