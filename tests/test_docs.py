"""The documentation agrees with ``--help``: flags, settings tables, variables and links.

The parser is the real one (``deidentify.cli.build_parser``); its subcommands are walked
through argparse's subparsers, so ``deidentify schema check`` and ``deidentify dashboards
grafana`` are checked against their own parsers.

* Every ``--flag`` written after ``deidentify <command>`` (in a code block, in an inline code
  span, or in ``make demo DEMO_ARGS="..."``) must exist in that command's parser.
* A bare ``--flag`` in an inline code span must exist in the page's command (docs/sidecar.md:
  ``run``, docs/central.md: ``central``) or, on other pages, in some ``deidentify`` command.
* The settings tables of docs/sidecar.md and docs/central.md list every flag of ``deidentify
  run`` and ``deidentify central``, each with the variable and the one-word default its
  ``--help`` names, and every variable in them is one the settings code reads.
* Those tables also agree with the declarations the flags come from
  (``RUN_SETTINGS``, ``CENTRAL_SETTINGS``; :mod:`deidentify.runtime.settings`): every declared
  variable is in its command's table, variable-only rows show the declared default, and no
  table names a variable its command does not declare.
* Every relative link resolves, anchors included; the README stays under 200 lines.

``test_the_checks_catch_*`` feed invented flags and links through the same functions, so a
checker that silently stopped finding anything fails here.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from deidentify.central.settings import CENTRAL_SETTINGS
from deidentify.cli import build_parser
from deidentify.runtime.settings import Setting
from deidentify.sidecar.settings import RUN_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "schemas" / "README.md", ROOT / "benchmarks" / "README.md"]
PAGE_COMMAND = {"sidecar.md": ("run",), "central.md": ("central",)}
SETTINGS_TABLES = {("run",): ROOT / "docs" / "sidecar.md",
                   ("central",): ROOT / "docs" / "central.md"}
DECLARED: dict[tuple[str, ...], tuple[Setting, ...]] = {("run",): RUN_SETTINGS,
                                                        ("central",): CENTRAL_SETTINGS}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`([^`]+)`")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
ENV = re.compile(r"\b(?:DEIDENTIFY|KAFKA)_[A-Z0-9_]+\b")
# where a deidentify command ends on its line: a comment, a pipe, a redirection, a next command
COMMAND_END = re.compile(r"\s(?:#|\||>|;|&&)")


# --------------------------------------------------------------------------- the real CLI


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def all_commands() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """("run",) / ("schema", "check") / ... -> the parser of that leaf command."""
    out: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        children = subparsers(parser)
        if not children and path:
            out[path] = parser
        for name, child in children.items():
            walk((*path, name), child)
    walk((), build_parser())
    return out


COMMANDS = all_commands()
TOP = sorted({path[0] for path in COMMANDS})


def flags_of(path: tuple[str, ...]) -> set[str]:
    return {o for o in COMMANDS[path]._option_string_actions if o.startswith("--")}


def help_of(path: tuple[str, ...], flag: str) -> str:
    return COMMANDS[path]._option_string_actions[flag].help or ""


# --------------------------------------------------------------------------- reading the docs


@dataclass(frozen=True)
class Use:
    page: str
    line: int
    command: tuple[str, ...] | None     # None: a bare flag, no command written
    flag: str


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _command_spans(code: str) -> list[tuple[int, str]]:
    """(offset, text) of each logical command line of a code block: backslash continuations
    and indented ``[--flag ...]`` usage lines are joined to the line they continue."""
    out: list[tuple[int, str]] = []
    offset = 0
    for raw in code.splitlines(keepends=True):
        line = raw.rstrip("\n")
        continues = out and (out[-1][1].endswith("\\")
                             or re.match(r"\s+(\[|--)", line) is not None)
        if continues:
            start, text = out[-1]
            out[-1] = (start, text.rstrip("\\") + " " + line.strip())
        else:
            out.append((offset, line))
        offset += len(raw)
    return out


def _uses_in(text: str, page: str, base_line: int, code: str, *, bare: bool) -> list[Use]:
    """The flag uses in one command line or inline code span."""
    code = re.sub(r"make demo DEMO_ARGS=\"?", "deidentify demo ", code)
    found: list[Use] = []
    commands = list(re.finditer(r"(?<![\w/-])(?:[\w./-]*/)?deidentify\s+(" + "|".join(TOP)
                                + r")\b", code))
    for i, match in enumerate(commands):
        path: tuple[str, ...] = (match.group(1),)
        parser_children = subparsers(subparsers(build_parser())[match.group(1)])
        for word in code[match.end(1):].split():
            if word in parser_children:
                path = (*path, word)
                parser_children = subparsers(parser_children[word])
            else:
                break
        end = commands[i + 1].start() if i + 1 < len(commands) else len(code)
        segment = code[match.start():end]
        stop = COMMAND_END.search(segment)
        if stop:
            segment = segment[:stop.start()]
        for flag in FLAG.finditer(segment):
            found.append(Use(page, base_line, path, flag.group()))
    if bare and not commands and code.lstrip("[").startswith("--"):
        for flag in FLAG.finditer(code):
            found.append(Use(page, base_line, None, flag.group()))
    return found


def flag_uses(text: str, page: str, *, bare: bool = True) -> list[Use]:
    """Flag uses after ``deidentify <command>``; with ``bare``, also inline code spans that
    are a flag alone (``--bind 127.0.0.1``), checked against the page's command."""
    uses: list[Use] = []
    prose = text
    for block in FENCE.finditer(text):
        first = _line_of(text, block.start(1))
        for offset, line in _command_spans(block.group(1)):
            uses += _uses_in(text, page, first + block.group(1).count("\n", 0, offset), line,
                             bare=False)
        prose = prose.replace(block.group(0), "\n" * block.group(0).count("\n"), 1)
    for span in INLINE.finditer(prose):
        uses += _uses_in(text, page, _line_of(prose, span.start()), span.group(1), bare=bare)
    return uses


def problems(uses: list[Use]) -> list[str]:
    """Each use of a flag the real parser does not have, as ``page:line: ...``."""
    union = set().union(*(flags_of(path) for path in COMMANDS))
    out = []
    for use in uses:
        where = f"{use.page}:{use.line}"
        if use.command is None:
            page_command = PAGE_COMMAND.get(Path(use.page).name)
            known = flags_of(page_command) if page_command else union
            if use.flag not in known:
                owner = f"deidentify {page_command[0]}" if page_command else "any deidentify command"
                out.append(f"{where}: {use.flag} is not a flag of {owner}")
        elif use.command not in COMMANDS:
            out.append(f"{where}: deidentify {' '.join(use.command)} is not a full command")
        elif use.flag not in flags_of(use.command):
            out.append(f"{where}: deidentify {' '.join(use.command)} has no {use.flag} "
                       f"(see deidentify {' '.join(use.command)} --help)")
    return out


def settings_table(text: str) -> list[tuple[list[str], list[str], str]]:
    """(flags, variables, default cell) of each row of the first ``| flag | environment
    variable | default |`` table."""
    rows: list[tuple[list[str], list[str], str]] = []
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.match(r"\|\s*flag\s*\|\s*environment variable\s*\|", line))
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((FLAG.findall(cells[0]), ENV.findall(cells[1]), cells[2]))
    return rows


def table_problems(path: tuple[str, ...], text: str, page: str) -> list[str]:
    out = []
    rows = settings_table(text)
    listed = {flag for flags, _, _ in rows for flag in flags}
    for flag in sorted(flags_of(path) - {"--help"} - listed):
        out.append(f"{page}: the settings table has no row for {flag} "
                   f"(deidentify {' '.join(path)} --help lists it)")
    for flags, variables, default in rows:
        unknown = [flag for flag in flags if flag not in flags_of(path)]
        for flag in unknown:
            out.append(f"{page}: the settings table lists {flag}, which deidentify "
                       f"{' '.join(path)} does not have")
        if unknown or not flags:
            continue
        if len(variables) != len(flags):
            out.append(f"{page}: row {', '.join(flags)}: one variable per flag expected, "
                       f"found {', '.join(variables) or 'none'}")
            continue
        for flag, variable in zip(flags, variables, strict=True):
            named = re.findall(r"env ((?:DEIDENTIFY|KAFKA)_[A-Z0-9_]+)", help_of(path, flag))
            if not named:
                out.append(f"{page}: {flag}: its --help names no variable")
            elif named[0] != variable:
                out.append(f"{page}: {flag} is paired with {variable}; --help says env "
                           f"{named[0]}")
            # a one-word default in --help ("default 30s") is the table's default
            said = re.search(r"default:? ([\w.:<>-]+)(?:[;),]|$)", help_of(path, flag))
            if said and said.group(1) not in default.replace("`", "").split():
                out.append(f"{page}: {flag}: the table's default is '{default}', --help "
                           f"says {said.group(1)}")
    return out


def table_text(text: str) -> str:
    """The settings table block (header to the first blank line)."""
    table = text[text.index("| flag | environment variable"):]
    return table[:table.index("\n\n")]


def declaration_problems(path: tuple[str, ...], text: str, page: str) -> list[str]:
    """The table against the command's declarations, variable-only settings included."""
    out = []
    declared = DECLARED[path]
    table = table_text(text)
    named = set(ENV.findall(table))
    for setting in declared:
        if setting.env and setting.env not in named:
            out.append(f"{page}: {setting.env} is declared for deidentify {' '.join(path)} "
                       "but the settings table does not name it")
        if setting.flag is None and setting.shown:
            shown = setting.shown.split()[0].rstrip(",:;")
            for flags, variables, default in settings_table(text):
                if not flags and variables == [setting.env] \
                        and shown not in default.replace("`", "").split():
                    out.append(f"{page}: {setting.env}: the table's default is '{default}', "
                               f"the declaration says {shown}")
    for variable in sorted(named - {s.env for s in declared}):
        out.append(f"{page}: the settings table names {variable}, which deidentify "
                   f"{' '.join(path)} does not declare")
    return out


def code_variables() -> set[str]:
    """Every DEIDENTIFY_*/KAFKA_* name the package spells as a string literal."""
    names: set[str] = set()
    for source in (ROOT / "deidentify").rglob("*.py"):
        names.update(re.findall(r"[\"']((?:DEIDENTIFY|KAFKA)_[A-Z0-9_]+)[\"']",
                                source.read_text(encoding="utf-8")))
    return names


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def link_problems(path: Path, text: str) -> list[str]:
    out = []
    prose = FENCE.sub("", text)
    for match in re.finditer(r"\]\(([^)\s]+)\)", prose):
        target = match.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: ({target})"
        if not resolved.exists():
            out.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            out.append(f"{where}: no heading with anchor #{anchor}")
    return out


# --------------------------------------------------------------------------- the tests


def test_the_cli_has_the_commands_the_docs_describe() -> None:
    assert {("run",), ("central",), ("demo",), ("preview",), ("generate",),
            ("schema", "check"), ("schema", "test"), ("dashboards", "grafana")} <= set(COMMANDS)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_in_the_docs_exists_in_its_command(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    # schemas/ and benchmarks/ READMEs also document other programs' flags: only the
    # deidentify commands written there are checked
    bare = page == README or page in DOCS
    assert problems(flag_uses(text, str(page.relative_to(ROOT)), bare=bare)) == []


def test_the_docs_name_flags_of_every_documented_command() -> None:
    """The extraction finds what is there (a checker that finds nothing passes vacuously)."""
    seen = {use.command for page in PAGES
            for use in flag_uses(page.read_text(encoding="utf-8"), page.name)}
    for command in (("run",), ("central",), ("demo",), ("generate",), ("dashboards", "grafana")):
        assert command in seen, f"no flag of deidentify {' '.join(command)} found in the docs"


@pytest.mark.parametrize("command", sorted(SETTINGS_TABLES))
def test_the_settings_tables_match_help(command: tuple[str, ...]) -> None:
    page = SETTINGS_TABLES[command]
    assert table_problems(command, page.read_text(encoding="utf-8"),
                          str(page.relative_to(ROOT))) == []


@pytest.mark.parametrize("command", sorted(SETTINGS_TABLES))
def test_every_variable_in_the_settings_tables_is_read_by_the_code(
        command: tuple[str, ...]) -> None:
    page = SETTINGS_TABLES[command]
    variables = {v for _, vs, _ in settings_table(page.read_text(encoding="utf-8")) for v in vs}
    variables |= set(ENV.findall(table_text(page.read_text(encoding="utf-8"))))
    assert len(variables) > 10
    assert variables - code_variables() == set()


@pytest.mark.parametrize("command", sorted(SETTINGS_TABLES))
def test_the_settings_tables_match_the_declarations(command: tuple[str, ...]) -> None:
    page = SETTINGS_TABLES[command]
    assert declaration_problems(command, page.read_text(encoding="utf-8"),
                                str(page.relative_to(ROOT))) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert link_problems(page, page.read_text(encoding="utf-8")) == []


def test_the_readme_is_a_short_index_that_shows_the_ci_test_command() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    blocks = "\n".join(b.group(1) for b in FENCE.finditer(text))
    assert re.search(r"^make test(\s|$)", blocks, re.M), ".ci/run runs the README's make test"
    assert re.search(r"^make demo(\s|$)", blocks, re.M)
    for page in DOCS:
        assert f"](docs/{page.name})" in text, f"the README's index has no link to {page.name}"


# --------------------------------------------------------------------------- the checks can fail


def test_the_checks_catch_an_invented_flag() -> None:
    text = ("```sh\ndeidentify run --region eu --no-such-flag 3\n"
            "deidentify central --regions eu \\\n  --bogus-two x   # comment --ignored\n```\n"
            "Inline: `deidentify schema check --made-up`, `make demo DEMO_ARGS=\"--fake 1\"`\n"
            "and a bare `--invented-everywhere`.\n")
    found = problems(flag_uses(text, "x.md"))
    assert [f.split(":")[1] for f in found] == ["2", "3", "6", "6", "7"], found
    for flag in ("--no-such-flag", "--bogus-two", "--made-up", "--fake",
                 "--invented-everywhere"):
        assert any(flag in f for f in found), (flag, found)
    assert not any("--ignored" in f or "--region " in f for f in found)
    # a flag of another command is caught too, and a bare one on a command's page
    assert problems(flag_uses("`deidentify central --idle 5s`", "x.md"))
    assert problems(flag_uses("`--regions`", "docs/sidecar.md"))
    assert not problems(flag_uses("`--regions`", "docs/central.md"))


def test_the_checks_catch_a_drifting_settings_table() -> None:
    page = SETTINGS_TABLES[("run",)]
    text = page.read_text(encoding="utf-8")
    missing = re.sub(r"^\| `--idle` \|.*\n", "", text, count=1, flags=re.M)
    assert any("--idle" in p for p in table_problems(("run",), missing, "x.md"))
    invented = text.replace("| `--idle` |", "| `--idle`, `--idle-for` |", 1)
    assert any("--idle-for" in p for p in table_problems(("run",), invented, "x.md"))
    wrong_env = text.replace("| `DEIDENTIFY_IDLE` |", "| `DEIDENTIFY_IDLENESS` |", 1)
    assert any("DEIDENTIFY_IDLE" in p for p in table_problems(("run",), wrong_env, "x.md"))
    wrong_default = text.replace("| `DEIDENTIFY_IDLE` | `30s` |", "| `DEIDENTIFY_IDLE` | `60s` |", 1)
    assert wrong_default != text
    assert any("says 30s" in p for p in table_problems(("run",), wrong_default, "x.md"))


def test_the_checks_catch_a_table_that_drifts_from_the_declarations() -> None:
    text = SETTINGS_TABLES[("central",)].read_text(encoding="utf-8")
    assert declaration_problems(("central",), text, "x.md") == []
    wrong = text.replace("| `DEIDENTIFY_LOG_LEVEL` | `WARNING` |", "| `DEIDENTIFY_LOG_LEVEL` | "
                         "`INFO` |", 1)
    assert wrong != text
    assert any("says WARNING" in p for p in declaration_problems(("central",), wrong, "x.md"))
    dropped = re.sub(r"^\| \| `DEIDENTIFY_CENTRAL_RETENTION` \|.*\n", "", text, count=1,
                     flags=re.M)
    assert dropped != text
    assert any("DEIDENTIFY_CENTRAL_RETENTION is declared" in p
               for p in declaration_problems(("central",), dropped, "x.md"))
    invented = text.replace("`DEIDENTIFY_CENTRAL_GROUP`", "`DEIDENTIFY_CENTRAL_GROUPS`", 1)
    assert any("names DEIDENTIFY_CENTRAL_GROUPS" in p
               for p in declaration_problems(("central",), invented, "x.md"))


def test_the_checks_catch_a_broken_link(tmp_path: Path) -> None:
    page = ROOT / "docs" / "x.md"
    text = "[a](sidecar.md) [b](nope.md) [c](security.md#no-such-heading)"
    found = link_problems(page, text)
    assert len(found) == 2 and "nope.md" in found[0] and "no-such-heading" in found[1], found
    assert link_problems(ROOT / "docs" / "sidecar.md", "[d](#settings)") == []
