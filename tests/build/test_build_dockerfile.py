"""Dockerfile parsing: directives, continuations, forms, flags, heredocs, and errors naming the line."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import DockerfileError, parse, raw_words


def test_continuations_comments_and_line_numbers():
    df = parse("FROM busybox\n# a comment\nRUN echo a \\\n  # inside\n\n    && echo b\nCMD x\n")
    run = df.instructions[1]
    assert run.cmd == "RUN"
    assert run.args == "echo a     && echo b"
    assert (run.line, run.end_line) == (3, 6)
    assert df.instructions[2].line == 7


def test_directives_only_at_top_and_backtick_escape():
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\n")
    assert df.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    assert df.escape == "`"
    assert df.instructions[1].args == "a  b"
    late = parse("FROM x\n# escape=`\nRUN a \\\n b\n")
    assert late.escape == "\\" and late.instructions[1].args == "a  b"


def test_json_and_shell_forms():
    df = parse('FROM x\nCMD ["sh", "-c", "echo hi"]\nENTRYPOINT echo hi\nRUN [not json\n')
    assert df.instructions[1].json == ("sh", "-c", "echo hi")
    assert df.instructions[2].json is None
    assert df.instructions[3].json is None and df.instructions[3].args == "[not json"


def test_flags_parsed_and_checked():
    df = parse("FROM --platform=linux/amd64 x AS b\nCOPY --from=b --chown=1:2 --chmod=755 --link a /b\n")
    copy = df.instructions[1]
    assert copy.flag("from") == "b" and copy.flag("chown") == "1:2" and copy.flag("chmod") == "755"
    assert copy.flag("link") == "" and copy.args == "a /b"
    assert df.instructions[0].flag("platform") == "linux/amd64"


@pytest.mark.parametrize("text, message", [
    ("FROM x\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
    ("FROM x\nCOPY --bogus a b\n", "Dockerfile:2: unknown flag: --bogus for COPY"),
    ("FROM x\n\nRUN --mount=type=cache,target=/c true\n", "Dockerfile:3: RUN --mount"),
    ("FROM x\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc <<EOF"),
    ("FROM x\nONBUILD FROM y\n", "ONBUILD FROM is not allowed"),
    ("# only a comment\n", "no instructions"),
])
def test_errors_name_the_line(text, message):
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert message in str(info.value)


def test_heredocs_run_and_copy():
    text = ("FROM x\nRUN <<EOF\necho one\n  echo two\nEOF\n"
            "COPY <<-\"A\" <<B /dst/\n\tliteral $X\n\tA\nexpanded $X\nB\nCMD done\n")
    df = parse(text)
    run, copy, cmd = df.instructions[1:]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo one\n  echo two\n"
    assert [h.name for h in copy.heredocs] == ["A", "B"]
    assert copy.heredocs[0].content == "literal $X\n" and copy.heredocs[0].expand is False
    assert copy.heredocs[1].content == "expanded $X\n" and copy.heredocs[1].expand is True
    assert cmd.cmd == "CMD" and cmd.line == 11


def test_onbuild_keeps_inner_instruction():
    df = parse("FROM x\nONBUILD RUN echo hi\n")
    ins = df.instructions[1]
    assert ins.cmd == "ONBUILD" and ins.sub.cmd == "RUN" and ins.args == "RUN echo hi"


def test_lowercase_instructions_and_raw_words():
    df = parse("from x\nrun true\n")
    assert [i.cmd for i in df.instructions] == ["FROM", "RUN"]
    assert raw_words('a="x y" b=\\ c \'d e\'') == ['a="x y"', "b=\\ c", "\'d e\'"]
