"""Image commands: shoal pull, images, image ls|rm|prune|inspect|load|save|import|tag, login, logout."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

from engine.images import archive, auth
from engine.images.errors import ImageError
from engine.images.pull import pull
from engine.images.reference import parse as parse_ref
from engine.images.registry import RegistryClient
from engine.images.store import Image, ImageStore

__all__ = ["register", "store_root"]


def store_root() -> str:
    """$SHOAL_ROOT/images (default /var/lib/shoal/images)."""
    return os.path.join(os.environ.get("SHOAL_ROOT", "/var/lib/shoal"), "images")


def _fail(exc: Exception) -> "Exception":
    from orchestrator.cli.errors import ShoalError
    return ShoalError(str(exc))


def _run(fn: Callable[[argparse.Namespace, ImageStore], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler: open the store and turn image errors into one-line ShoalErrors."""
    def handler(args: argparse.Namespace) -> int:
        try:
            return fn(args, ImageStore(store_root()))
        except (ImageError, OSError) as exc:
            raise _fail(exc) from exc
    return handler


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _rows(images: list[Image]) -> list[dict[str, Any]]:
    rows = []
    for image in images:
        for name in image.names or ["<none>:<none>"]:
            repo, tag = (parse_ref(name).with_tag("").familiar(), parse_ref(name).tag) \
                if image.names else ("<none>", "<none>")
            rows.append({"Repository": repo, "Tag": tag, "ID": image.short_id, "Digest": image.digest,
                         "CreatedAt": image.created, "Size": _size(image.size)})
    return rows


def _cmd_pull(args: argparse.Namespace, store: ImageStore) -> int:
    quiet = args.quiet or args.progress == "quiet"

    def progress(status: str, digest: str, cur: int, total: int) -> None:
        if not quiet and status != "Downloading":
            print(f"{digest[7:19]}: {status}", file=sys.stderr)
    for ref in args.images:
        image = pull(store, ref, platform=args.platform, progress=progress,
                     insecure=os.environ.get("SHOAL_INSECURE_REGISTRIES", "").split(","))
        print(f"Digest: {image.digest}" if not quiet else str(parse_ref(ref)))
        if not quiet:
            print(f"Status: pulled {parse_ref(ref).familiar()}")
    return 0


def _cmd_ls(args: argparse.Namespace, store: ImageStore) -> int:
    rows = _rows(store.list())
    if args.quiet:
        print("\n".join(dict.fromkeys(r["ID"] for r in rows)))
    elif args.format == "json":
        print(json.dumps(rows))
    else:
        print(f"{'REPOSITORY':40} {'TAG':16} {'IMAGE ID':13} {'SIZE':>8}")
        for r in rows:
            print(f"{r['Repository']:40} {r['Tag']:16} {r['ID']:13} {r['Size']:>8}")
    return 0


def _cmd_rm(args: argparse.Namespace, store: ImageStore) -> int:
    for ref in args.images:
        for line in store.remove(ref, force=args.force):
            print(line)
    return 0


def _cmd_prune(args: argparse.Namespace, store: ImageStore) -> int:
    for image_id in store.prune(set(), dangling_only=not args.all):
        print(f"Deleted: {image_id}")
    return 0


def _cmd_inspect(args: argparse.Namespace, store: ImageStore) -> int:
    out = []
    for ref in args.images:
        i = store.lookup(ref)
        out.append({"Id": i.id, "RepoTags": [parse_ref(n).familiar() for n in i.names],
                    "RepoDigests": i.repo_digests, "Created": i.created, "Size": i.size,
                    "Architecture": i.config.get("architecture"), "Os": i.config.get("os"),
                    "Config": i.config.get("config", {}),
                    "RootFS": i.config.get("rootfs", {}), "Manifest": i.digest,
                    "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": ":".join(i.layer_dirs)}}})
    print(json.dumps(out, indent=4))
    return 0


def _cmd_load(args: argparse.Namespace, store: ImageStore) -> int:
    source = args.input if args.input else sys.stdin.buffer
    for image in archive.load(store, source):
        print("Loaded image: " + (", ".join(parse_ref(n).familiar() for n in image.names) or image.id))
    return 0


def _cmd_save(args: argparse.Namespace, store: ImageStore) -> int:
    if not args.output and sys.stdout.isatty():
        raise _fail(ValueError("refusing to write an image archive to a terminal (use -o FILE)"))
    archive.save(store, args.images, args.output or sys.stdout.buffer, fmt=args.format)
    return 0


def _cmd_import(args: argparse.Namespace, store: ImageStore) -> int:
    image = archive.import_rootfs(store, args.source, args.reference, platform=args.platform)
    print(image.id)
    return 0


def _cmd_tag(args: argparse.Namespace, store: ImageStore) -> int:
    store.tag(args.source, args.target)
    return 0


def _cmd_login(args: argparse.Namespace, store: ImageStore) -> int:
    server = args.server or "docker.io"
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not args.username or password is None:
        raise _fail(ValueError("login: --username and --password or --password-stdin are required"))
    domain = parse_ref(server + "/x").domain if "/" not in server else server.split("/")[0]
    insecure = server in os.environ.get("SHOAL_INSECURE_REGISTRIES", "").split(",")
    RegistryClient(domain, (args.username, password), insecure=insecure).ping()
    auth.login(store.root, domain, args.username, password)
    print("Login Succeeded")
    return 0


def _cmd_logout(args: argparse.Namespace, store: ImageStore) -> int:
    server = args.server or "docker.io"
    domain = parse_ref(server + "/x").domain
    if auth.logout(store.root, domain):
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0


def _add_image_commands(sub: Any) -> None:
    ls = sub.add_parser("ls", aliases=["list"], help="list images")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=_run(_cmd_ls))
    rm = sub.add_parser("rm", aliases=["remove"], help="remove images")
    rm.add_argument("images", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    rm.set_defaults(func=_run(_cmd_rm))
    pr = sub.add_parser("prune", help="remove unused images (dangling only unless -a)")
    pr.add_argument("-a", "--all", action="store_true")
    pr.add_argument("-f", "--force", action="store_true", help="do not prompt")
    pr.set_defaults(func=_run(_cmd_prune))
    ins = sub.add_parser("inspect", help="show image details as JSON")
    ins.add_argument("images", nargs="+")
    ins.set_defaults(func=_run(_cmd_inspect))
    ld = sub.add_parser("load", help="load a docker-save tar or oci-archive")
    ld.add_argument("-i", "--input")
    ld.set_defaults(func=_run(_cmd_load))
    sv = sub.add_parser("save", help="save images to a tar archive")
    sv.add_argument("images", nargs="+")
    sv.add_argument("-o", "--output")
    sv.add_argument("--format", choices=("docker", "oci"), default="docker")
    sv.set_defaults(func=_run(_cmd_save))
    im = sub.add_parser("import", help="create an image from a rootfs tarball or directory")
    im.add_argument("source")
    im.add_argument("reference", nargs="?")
    im.add_argument("--platform")
    im.set_defaults(func=_run(_cmd_import))
    tg = sub.add_parser("tag", help="give an image another name")
    tg.add_argument("source")
    tg.add_argument("target")
    tg.set_defaults(func=_run(_cmd_tag))


def _project_or(project_fn: Callable[[argparse.Namespace], int],
                store_fn: Callable[[argparse.Namespace], int], names: str) -> Callable[[argparse.Namespace], int]:
    """Dispatch `pull`/`images` to the compose project (as docker compose) or to the image store."""
    from orchestrator.cli import info_cmd

    def handler(args: argparse.Namespace) -> int:
        if info_cmd.wants_project(args, list(getattr(args, names))):
            return project_fn(args)
        if names == "images" and not args.images:
            raise _fail(ValueError("pull: name an image, or run it next to a compose file"))
        return store_fn(args)
    return handler


def register(subparsers: Any) -> None:
    """Add the image commands to the shoal parser."""
    from orchestrator.cli import info_cmd

    p = subparsers.add_parser("pull", help="pull service images of the project, or the images named")
    p.add_argument("images", nargs="*", metavar="SERVICE|IMAGE")
    p.add_argument("--platform")
    p.add_argument("-q", "--quiet", action="store_true")
    info_cmd.add_project_pull_flags(p)
    p.set_defaults(func=_project_or(info_cmd.project_pull, _run(_cmd_pull), "images"))
    ls = subparsers.add_parser("images", help="list images used by the project's containers, or the store's")
    ls.add_argument("services", nargs="*", metavar="SERVICE")
    ls.add_argument("-q", "--quiet", action="store_true")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=_project_or(info_cmd.project_images, _run(_cmd_ls), "services"))
    image = subparsers.add_parser("image", help="manage images")
    _add_image_commands(image.add_subparsers(dest="image_command", metavar="COMMAND", required=True))
    li = subparsers.add_parser("login", help="log in to a registry")
    li.add_argument("server", nargs="?")
    li.add_argument("-u", "--username")
    li.add_argument("-p", "--password")
    li.add_argument("--password-stdin", action="store_true")
    li.set_defaults(func=_run(_cmd_login))
    lo = subparsers.add_parser("logout", help="log out from a registry")
    lo.add_argument("server", nargs="?")
    lo.set_defaults(func=_run(_cmd_logout))
