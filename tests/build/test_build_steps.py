"""Pure instruction semantics: config changes, ARG scoping, stage splitting (no root needed)."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import DockerfileError, parse
from engine.build.expand import Lexer
from engine.build.stages import ArgScope, split_stages
from engine.build.steps import apply_meta, parse_duration


def _apply(lines: str, runtime: dict | None = None, env: dict | None = None) -> dict:
    runtime = runtime if runtime is not None else {}
    flags: dict = {}
    for ins in parse("FROM x\n" + lines).instructions[1:]:
        lexer = Lexer(env or {})
        apply_meta(ins, runtime, lexer.word, lexer.words, "\\", flags)
    return runtime


def test_env_label_forms_and_expansion():
    rt = _apply('ENV A=1 B="two words" C=${V:-dflt}\nENV LEGACY value with spaces\nENV A=3\n'
                'LABEL "com.x"="y z" k=$V\n', env={"V": "v"})
    assert rt["Env"] == ["A=3", "B=two words", "C=v", "LEGACY=value with spaces"]
    assert rt["Labels"] == {"com.x": "y z", "k": "v"}


def test_cmd_entrypoint_shell_and_reset():
    base = {"Cmd": ["inherited"], "Shell": ["/bin/bash", "-lc"]}
    rt = _apply("ENTRYPOINT run.sh --x\n", dict(base))
    assert rt["Entrypoint"] == ["/bin/bash", "-lc", "run.sh --x"] and rt["Cmd"] is None
    rt = _apply('CMD ["a"]\nENTRYPOINT ["e"]\n', dict(base))
    assert rt["Cmd"] == ["a"] and rt["Entrypoint"] == ["e"]


def test_expose_volume_user_stopsignal_shell():
    rt = _apply('EXPOSE 80 53/udp 9000-9002/tcp\nVOLUME /data /logs\nVOLUME ["/a", "/b"]\n'
                'USER app:app\nSTOPSIGNAL SIGQUIT\nSHELL ["/bin/ash", "-eo", "pipefail", "-c"]\n')
    assert set(rt["ExposedPorts"]) == {"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp"}
    assert set(rt["Volumes"]) == {"/data", "/logs", "/a", "/b"}
    assert rt["User"] == "app:app" and rt["StopSignal"] == "SIGQUIT"
    assert rt["Shell"] == ["/bin/ash", "-eo", "pipefail", "-c"]


def test_healthcheck_forms():
    rt = _apply("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=5 CMD curl -f x\n")
    assert rt["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f x"], "Interval": 90 * 10**9,
                                 "Timeout": 500 * 10**6, "StartPeriod": 2 * 10**9, "Retries": 5}
    assert _apply('HEALTHCHECK CMD ["/bin/check", "-q"]\n')["Healthcheck"]["Test"] == ["CMD", "/bin/check", "-q"]
    assert _apply("HEALTHCHECK NONE\n")["Healthcheck"] == {"Test": ["NONE"]}


@pytest.mark.parametrize("lines, message", [
    ("EXPOSE 80/xyz\n", "invalid protocol"),
    ("HEALTHCHECK --interval=soon CMD x\n", "invalid duration"),
    ("HEALTHCHECK BOGUS\n", "must be NONE or CMD"),
    ("SHELL /bin/sh -c\n", "requires the JSON form"),
    ("ENV ONLYKEY\n", "gives no value"),
])
def test_metadata_errors_name_line(lines, message):
    with pytest.raises(DockerfileError, match=message) as info:
        _apply(lines)
    assert str(info.value).startswith("Dockerfile:2:")


def test_parse_duration_units():
    ins = parse("FROM x\n").instructions[0]
    assert parse_duration(ins, "1h2m3s") == (3600 + 120 + 3) * 10**9
    assert parse_duration(ins, "1.5s") == 1_500_000_000


def test_split_stages_and_errors():
    globals_, stages = split_stages(parse("ARG V=1\nFROM a AS one\nRUN x\nFROM one\nCOPY a b\n"))
    assert [g.cmd for g in globals_] == ["ARG"]
    assert [(s.name, s.base, len(s.instructions)) for s in stages] == [("one", "a", 1), ("", "one", 1)]
    with pytest.raises(DockerfileError, match="Dockerfile:1: RUN before the first FROM"):
        split_stages(parse("RUN x\nFROM a\n"))
    with pytest.raises(DockerfileError, match="duplicate stage name"):
        split_stages(parse("FROM a AS s\nFROM b AS s\n"))
    with pytest.raises(DockerfileError, match="FROM requires one image"):
        split_stages(parse("FROM a b c d\n"))


def test_arg_scoping():
    df = parse("ARG G=global\nARG ONLYGLOBAL=og\nFROM x\nARG G\nARG L=${G}-local\nARG NODEF\nARG B=dflt\n")
    globals_, stages = split_stages(df)
    gscope = ArgScope({"B": "from-cli", "HTTP_PROXY": "http://p"})
    for ins in globals_:
        gscope.declare(ins, "\\", {})
    scope = ArgScope(gscope.build_args, gscope.values)
    for ins in stages[0].instructions:
        scope.declare(ins, "\\", {})
    assert scope.visible() == {"G": "global", "L": "global-local", "B": "from-cli"}
    assert "ONLYGLOBAL" not in scope.visible()  # not re-declared in the stage
    assert scope.run_env()["HTTP_PROXY"] == "http://p"  # predefined, no ARG needed
    assert scope.key_items() == ["B=from-cli", "G=global", "L=global-local"]
