"""Building busybox-based Dockerfiles for real: instructions, cache, stages, ignore, heredocs, args, errors."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pytest

from engine.build import BuildError

pytestmark = pytest.mark.root


def test_every_instruction_lands_in_config_and_runs(benv):
    benv.write({"app.sh": "#!/bin/sh\necho \"app as $(id -un) in $(pwd) greeting=$GREETING args=$*\"\n",
                "data/one.txt": "1\n"})
    os.chmod(os.path.join(benv.ctx, "app.sh"), 0o644)
    image = benv.build("""\
        FROM busybox:latest
        ARG VERSION=1.2
        ENV GREETING="hi there" VERSION_ENV=$VERSION
        LABEL org.example.version=$VERSION "quoted key"=v
        WORKDIR /srv/app
        COPY --chmod=0755 app.sh /usr/local/bin/app
        COPY --chown=app:app data ./data/
        ADD data/one.txt /added/
        SHELL ["/bin/sh", "-e", "-c"]
        RUN echo "$VERSION" > version && chown app /srv/app
        USER app
        EXPOSE 8080 9000/udp
        VOLUME /srv/app/state
        HEALTHCHECK --interval=10s --retries=2 CMD test -f /srv/app/version
        STOPSIGNAL SIGINT
        ENTRYPOINT ["/usr/local/bin/app"]
        CMD ["x", "y"]
        """, tags=["demo:1"])
    cfg = benv.config("demo:1")
    assert benv.store.lookup("demo:1").id == image
    assert "GREETING=hi there" in cfg["Env"] and "VERSION_ENV=1.2" in cfg["Env"]
    assert any(e.startswith("PATH=") for e in cfg["Env"])
    assert cfg["Labels"] == {"org.example.version": "1.2", "quoted key": "v"}
    assert cfg["WorkingDir"] == "/srv/app" and cfg["User"] == "app"
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "9000/udp"} and set(cfg["Volumes"]) == {"/srv/app/state"}
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /srv/app/version"],
                                  "Interval": 10 * 10**9, "Retries": 2}
    assert cfg["StopSignal"] == "SIGINT" and cfg["Shell"] == ["/bin/sh", "-e", "-c"]
    assert cfg["Entrypoint"] == ["/usr/local/bin/app"] and cfg["Cmd"] == ["x", "y"]
    code, out = benv.run("demo:1")
    assert (code, out) == (0, "app as app in /srv/app greeting=hi there args=x y\n")
    code, out = benv.run("demo:1", entrypoint=("/bin/sh", "-c"), command=(
        "stat -c '%U %a %n' /usr/local/bin/app data data/one.txt version; cat /added/one.txt",))
    assert out == "root 755 /usr/local/bin/app\napp 755 data\napp 644 data/one.txt\nroot 644 version\n1\n"


def test_rebuild_without_changes_is_all_cached_fast_and_identical(benv):
    benv.write({"a.txt": "a\n", "b.txt": "b\n"})
    dockerfile = """\
        FROM busybox:latest
        RUN echo one > /one
        COPY a.txt /a.txt
        ENV X=1
        RUN cat /a.txt > /copy
        COPY b.txt /b.txt
        CMD ["cat", "/copy"]
        """
    first = benv.build(dockerfile, tags=["c:1"])
    assert len(benv.steps("DONE")) == 5 and not benv.steps("CACHED")
    started = time.monotonic()
    second = benv.build(tags=["c:1"])
    elapsed = time.monotonic() - started
    assert second == first
    assert len(benv.steps("CACHED")) == 4, benv.lines
    assert elapsed < 0.5, f"no-change rebuild took {elapsed:.2f}s"
    assert benv.build(no_cache=True) != first and not benv.steps("CACHED")


def test_one_file_change_rebuilds_from_that_copy(benv):
    benv.write({"a.txt": "a\n", "b.txt": "b\n"})
    benv.build("""\
        FROM busybox:latest
        RUN echo one > /one
        COPY a.txt /a.txt
        RUN echo ran >> /log
        COPY b.txt /b.txt
        RUN cat /a.txt /b.txt > /both
        """, tags=["c:1"])
    benv.write({"b.txt": "B changed\n"})
    os.utime(os.path.join(benv.ctx, "a.txt"), (1, 1))  # a touch alone keeps the cache
    benv.build(tags=["c:1"])
    status = [line.split(" ", 1)[1] for line in benv.lines if line.endswith(("CACHED",)) or " DONE " in line]
    assert status[:4] == ["DONE 0.0s", "CACHED", "CACHED", "CACHED"]
    assert len(benv.steps("CACHED")) == 3 and len([s for s in benv.lines if " DONE " in s]) == 3
    assert benv.run("c:1", ("cat", "/both", "/log")) == (0, "a\nB changed\nran\n")


def test_multistage_copy_from_stage_index_image_and_target(benv):
    image = benv.build("""\
        ARG BASE=busybox:latest
        FROM $BASE AS build
        RUN mkdir -p /out && echo compiled > /out/bin && ln -s bin /out/link
        FROM busybox:latest AS unused
        RUN false
        FROM scratch AS final
        COPY --from=build /out/ /app/
        COPY --from=0 /out/bin /app/bin2
        COPY --from=busybox:latest /bin/busybox /bin/sh
        CMD ["/bin/sh", "-c", "cat /app/bin /app/bin2; readlink /app/link"]
        """, tags=["ms:1"])
    assert not [line for line in benv.lines if "[unused" in line]  # stages not needed are skipped
    assert len(benv.store.lookup(image).layer_dirs) == 3
    assert benv.run("ms:1") == (0, "compiled\ncompiled\nbin\n")
    benv.build(target="build", tags=["ms:build"])
    assert benv.run("ms:build", ("cat", "/out/bin")) == (0, "compiled\n")
    with pytest.raises(BuildError, match="target stage 'nope' could not be found"):
        benv.build(target="nope")


def test_dockerignore_excludes_files_from_copy_and_cache(benv):
    benv.write({".dockerignore": "*.log\nsecret/\n!keep.log\n", "app/a.py": "a", "debug.log": "x",
                "keep.log": "k", "secret/key": "s", "app/cache.log": "c"})
    benv.build("FROM busybox:latest\nCOPY . /ctx/\n", tags=["ig:1"])
    code, out = benv.run("ig:1", ("find", "/ctx", "-type", "f"))
    # "*.log" matches only at the top, like Docker; "!keep.log" re-includes that file
    assert sorted(out.split()) == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/app/a.py", "/ctx/app/cache.log",
                                   "/ctx/keep.log"]
    assert "/ctx/debug.log" not in out and "secret" not in out
    benv.write({"debug.log": "changed"})  # ignored files do not invalidate the cache
    benv.build(tags=["ig:1"])
    assert len(benv.steps("CACHED")) == 1
    with pytest.raises(BuildError, match=r"Dockerfile:2: COPY: secret/key: not found .*dockerignore"):
        benv.build("FROM busybox:latest\nCOPY secret/key /k\n")


def test_heredocs_in_run_and_copy(benv):
    benv.build("""\
        FROM busybox:latest
        ARG WHO=world
        RUN <<EOF
        set -e
        echo "script for $WHO" > /script.out
        EOF
        RUN <<EOF
        #!/bin/sh
        echo "shebang $0" > /shebang.out
        EOF
        RUN cat > /inline.out <<EOT
        inline $WHO
        EOT
        COPY <<EOF /etc/app.conf
        who=$WHO
        EOF
        COPY <<"EOF" /etc/literal.conf
        who=$WHO
        EOF
        """, tags=["hd:1"])
    code, out = benv.run("hd:1", ("cat", "/script.out", "/shebang.out", "/inline.out", "/etc/app.conf",
                                  "/etc/literal.conf"))
    assert out == "script for world\nshebang /dev/pipes/EOF\ninline world\nwho=world\nwho=$WHO\n"


def test_build_args_scope_and_cache(benv):
    dockerfile = """\
        ARG TAG=latest
        ARG GLOBAL_ONLY=g
        FROM busybox:${TAG}
        ARG TAG
        ARG MODE=debug
        RUN echo "tag=$TAG mode=$MODE global=${GLOBAL_ONLY:-unset} proxy=$http_proxy" > /args
        """
    benv.build(dockerfile, tags=["a:1"], build_args={"http_proxy": "http://127.0.0.1:9", "EXTRA": "1"})
    assert benv.run("a:1", ("cat", "/args")) == (0, "tag=latest mode=debug global=unset proxy=http://127.0.0.1:9\n")
    assert any("build-args ['EXTRA'] were not consumed" in line for line in benv.lines)
    assert "http_proxy" not in " ".join(benv.config("a:1")["Env"])
    benv.build(tags=["a:1"], build_args={"http_proxy": "http://127.0.0.1:10"})
    assert len(benv.steps("CACHED")) == 1  # proxies stay out of the cache key, like Docker
    benv.build(tags=["a:1"], build_args={"MODE": "release"})
    assert not benv.steps("CACHED")
    assert benv.run("a:1", ("cat", "/args")) == (0, "tag=latest mode=release global=unset proxy=\n")


def test_failing_run_names_line_and_exit_code_and_leaves_nothing(benv):
    with pytest.raises(BuildError) as info:
        benv.build("FROM busybox:latest\nRUN echo ok\n\nRUN echo boom >&2; exit 3\n")
    assert str(info.value).startswith("Dockerfile:4: RUN: ")
    assert "exit code 3" in str(info.value)
    assert "#3 boom" in benv.lines
    assert benv.engine.list() == []
    assert os.listdir(benv.store.tmp) == []
    with pytest.raises(BuildError, match="Dockerfile:2: RUN: .*nosuchcmd"):
        benv.build('FROM busybox:latest\nRUN ["/nosuchcmd"]\n')


@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox:latest\nFROOM x\n", "Dockerfile:2: unknown instruction: FROOM"),
    ("FROM busybox:latest\nCOPY missing.txt /x\n", "Dockerfile:2: COPY: missing.txt: not found in the build context"),
    ("FROM busybox:latest\nCOPY a b c\n", "Dockerfile:2: COPY: .*must be a directory and end with a /"),
    ("FROM busybox:latest\nADD https://example.com/x.tgz /x\n", "Dockerfile:2: ADD from a URL"),
    ("FROM scratch\nRUN true\n", "Dockerfile:2: RUN: RUN needs a filesystem"),
    ("FROM busybox:latest\nCOPY --chown=nobody-here a /a\n", "Dockerfile:2: COPY: unable to find user nobody-here"),
    ("FROM busybox:latest\nRUN --mount=type=cache,target=/x true\n", "Dockerfile:2: RUN --mount"),
])
def test_errors_are_clear_and_name_the_line(benv, dockerfile, message):
    benv.write({"a": "a", "b": "b"})
    with pytest.raises(BuildError, match=message):
        benv.build(dockerfile, puller=_no_pull)


def _no_pull(store, ref):
    raise RuntimeError("pulling is disabled in tests")


def test_missing_base_image_tries_pull_and_reports(benv):
    with pytest.raises(BuildError, match="Dockerfile:1: .*nothere:1.*pulling is disabled"):
        benv.build("FROM nothere:1\n", puller=_no_pull)


def _layer_names(benv, image: str, index: int) -> list[str]:
    img = benv.store.lookup(image)
    data = open(benv.store.blob_path(img.manifest["layers"][index]["digest"]), "rb").read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getnames()


def test_run_deletions_become_whiteouts_and_mountpoints_stay_out(benv):
    benv.build("FROM busybox:latest\nRUN rm /etc/group && rm -r /home/app && mkdir /made\n", tags=["w:1"])
    names = _layer_names(benv, "w:1", -1)
    assert "etc/.wh.group" in names and "home/.wh.app" in names and "made" in names
    assert not {"etc/hosts", "etc/resolv.conf", "etc/hostname"} & set(names)
    assert benv.run("w:1", ("sh", "-c", "test -e /etc/group || test -e /home/app || echo gone"))[1] == "gone\n"


def test_add_extracts_local_tar_and_workdir_makes_layer_only_when_needed(benv):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("pkg/hello.txt")
        info.size, info.uid, info.mode = 6, 1000, 0o640
        tf.addfile(info, io.BytesIO(b"hello\n"))
    with open(os.path.join(benv.ctx, "pkg.tar.gz"), "wb") as f:
        f.write(buf.getvalue())
    image = benv.build("FROM busybox:latest\nWORKDIR /tmp\nWORKDIR /opt\nADD pkg.tar.gz /opt/\n"
                       "COPY pkg.tar.gz /raw/\n", tags=["add:1"])
    assert len(benv.store.lookup(image).layer_dirs) == 4  # /tmp exists: no layer for it
    code, out = benv.run("add:1", ("sh", "-c", "stat -c '%u %a' /opt/pkg/hello.txt; cat /opt/pkg/hello.txt; "
                                   "ls /raw"))
    assert out == "1000 640\nhello\npkg.tar.gz\n"


def test_onbuild_triggers_run_in_child_builds(benv):
    benv.build("FROM busybox:latest\nONBUILD RUN echo triggered > /onbuild\n", tags=["parent:1"])
    assert benv.config("parent:1")["OnBuild"] == ["RUN echo triggered > /onbuild"]
    benv.build("FROM parent:1\nRUN cat /onbuild > /seen\n", tags=["child:1"])
    assert benv.run("child:1", ("cat", "/seen")) == (0, "triggered\n")
    assert not benv.config("child:1").get("OnBuild")


def test_labels_tags_inline_dockerfile_and_other_dockerfile_name(benv):
    benv.write({"sub/Custom.Dockerfile": "FROM busybox:latest\nLABEL from=file\n"})
    image = benv.build(dockerfile="sub/Custom.Dockerfile", labels={"com.example.x": "1"}, tags=["l:1", "l:2"])
    img = benv.store.lookup("l:2")
    assert img.id == image and set(img.names) >= {"docker.io/library/l:1", "docker.io/library/l:2"}
    assert img.config["config"]["Labels"] == {"from": "file", "com.example.x": "1"}
    benv.build(dockerfile_inline="FROM busybox:latest\nCMD [\"echo\", \"inline\"]\n", tags=["inline:1"])
    assert benv.run("inline:1") == (0, "inline\n")


def test_stage_on_stage_output_order_and_run_network_none(benv):
    benv.build("""\
        FROM busybox:latest AS base
        RUN echo base > /base
        FROM base AS child
        RUN --network=none sh -c 'ip link 2>/dev/null | grep -c "^[0-9]" > /links || echo 1 > /links'
        """, tags=["st:1"])
    headers = [line.split(" ", 2)[1:] for line in benv.lines if line.startswith("#") and " [" in line]
    assert [h[0] for h in headers] == ["[base", "[base", "[child", "[child"]
    assert benv.run("st:1", ("cat", "/base", "/links")) == (0, "base\n1\n")


def _tree(root: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else b""
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_rdev, data,
                                                os.readlink(path) if os.path.islink(path) else "")
    return out


def test_layer_blobs_unpack_to_the_stored_layer_dirs(benv, tmp_path):
    from engine.images.layers import is_opaque, unpack_layer
    benv.write({"f.txt": "f"})
    image = benv.build("""\
        FROM busybox:latest
        RUN mkdir -p /d/sub && echo old > /d/sub/old && ln -s /d/sub/old /d/link
        RUN rm -rf /d && mkdir /d && echo new > /d/new && chmod 4755 /d/new && rm /etc/passwd
        COPY --chown=1000:1000 --chmod=600 f.txt /d/f.txt
        """, tags=["lay:1"])
    img = benv.store.lookup(image)
    assert "d/.wh..wh..opq" in _layer_names(benv, "lay:1", 2)
    for index, (desc, layer_dir) in enumerate(zip(img.manifest["layers"], reversed(img.layer_dirs))):
        dest = str(tmp_path / f"unpacked{index}")
        unpack_layer(benv.store.blob_path(desc["digest"]), "tar", dest, desc["digest"])
        assert _tree(dest) == _tree(layer_dir), f"layer {index} differs"
        assert is_opaque(os.path.join(dest, "d")) == (index == 2)
    code, out = benv.run("lay:1", ("sh", "-c", "ls /d; stat -c '%a %u' /d/new /d/f.txt; test -e /etc/passwd || echo nopw"))
    assert out == "f.txt\nnew\n4755 0\n600 1000\nnopw\n"


def test_bad_context_is_a_clear_error(benv):
    from engine.build import build
    for ctx, message in (("https://github.com/x/y.git", "remote contexts are not supported"),
                         ("/nonexistent/ctx", "is not a directory")):
        with pytest.raises(BuildError, match=message):
            build(ctx, store=benv.store, engine=benv.engine)


def test_pull_option_and_missing_images_go_through_the_puller(benv):
    pulled: list[str] = []

    def puller(store, ref):
        pulled.append(ref)
        return store.tag("busybox:latest", ref)
    benv.build("FROM mirror.local/tools:1\nCOPY --from=other:2 /bin/busybox /bb\n", puller=puller, tags=["p:1"])
    assert pulled == ["mirror.local/tools:1", "other:2"]
    benv.build(puller=puller, pull=True)
    assert pulled[2:] == ["mirror.local/tools:1", "other:2"]  # --pull always asks again
