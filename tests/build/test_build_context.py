"""Build context: .dockerignore rules (with ! and **), COPY globs and content hashing."""

from __future__ import annotations

import os

import pytest

from engine.build.context import BuildContext, ContextError, glob_regex


def _tree(root, files):
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)


@pytest.fixture
def ctx_dir(tmp_path):
    _tree(str(tmp_path), {"a.txt": "a", "b.log": "b", "src/main.py": "m", "src/x.log": "x",
                          "src/deep/keep.log": "k", "node_modules/p/i.js": "i", "Dockerfile": "FROM x"})
    return str(tmp_path)


def test_dockerignore_rules(ctx_dir):
    ctx = BuildContext(ctx_dir, ignore_text="# comment\n*.log\n**/*.log\n!src/deep/keep.log\n/node_modules\n")
    assert ctx.ignored("b.log") and ctx.ignored("src/x.log")
    assert not ctx.ignored("src/deep/keep.log")
    assert ctx.ignored("node_modules/p/i.js")  # a parent directory matches
    assert not ctx.ignored("a.txt") and not ctx.ignored("src/main.py")
    assert "node_modules" not in " ".join(ctx.walk())


def test_dockerignore_file_next_to_dockerfile_wins(ctx_dir):
    _tree(ctx_dir, {".dockerignore": "a.txt\n", "Dockerfile.dockerignore": "b.log\n"})
    ctx = BuildContext(ctx_dir, dockerfile="Dockerfile")
    assert ctx.ignored("b.log") and not ctx.ignored("a.txt")
    os.unlink(os.path.join(ctx_dir, "Dockerfile.dockerignore"))
    assert BuildContext(ctx_dir).ignored("a.txt")


def test_sources_globs_and_missing(ctx_dir):
    ctx = BuildContext(ctx_dir, ignore_text="src/x.log\n")
    assert ctx.sources("*.txt") == ["a.txt"]
    assert ctx.sources("src/**/*.log") == ["src/deep/keep.log"]  # src/x.log is ignored
    assert ctx.sources("./src/../a.txt") == ["a.txt"]
    assert ctx.sources(".") == [""]
    with pytest.raises(ContextError, match="nope.txt: not found"):
        ctx.sources("nope.txt")
    with pytest.raises(ContextError, match="excluded by .dockerignore"):
        ctx.sources("src/x.log")
    with pytest.raises(ContextError, match="no source files"):
        ctx.sources("*.none")


def test_glob_regex_segments():
    assert glob_regex("*.py").match("a.py") and not glob_regex("*.py").match("d/a.py")
    assert glob_regex("**/a.py").match("a.py") and glob_regex("**/a.py").match("x/y/a.py")
    assert glob_regex("f[0-9]?").match("f1x") and not glob_regex("f[!0-9]").match("f1")


def test_hash_ignores_mtime_but_not_content_or_mode(ctx_dir):
    ctx = BuildContext(ctx_dir)
    first = ctx.hash_sources(["src"])
    path = os.path.join(ctx_dir, "src", "main.py")
    os.utime(path, (1, 1))
    assert BuildContext(ctx_dir).hash_sources(["src"]) == first
    os.chmod(path, 0o755)
    moded = BuildContext(ctx_dir).hash_sources(["src"])
    assert moded != first
    with open(path, "w") as f:
        f.write("changed")
    assert BuildContext(ctx_dir).hash_sources(["src"]) not in (first, moded)
    ignored = BuildContext(ctx_dir, ignore_text="src/x.log\n")
    before = ignored.hash_sources(["src"])
    with open(os.path.join(ctx_dir, "src", "x.log"), "w") as f:
        f.write("noise")
    assert BuildContext(ctx_dir, ignore_text="src/x.log\n").hash_sources(["src"]) == before
