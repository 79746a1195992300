"""The README stays true: its set-up commands exist, its settings table is the schema's, its bgblur commands parse."""
import re
import shlex

import pytest

from bgblur_core.commands import build_parser
from bgblur_core.settings import schema_markdown
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_it_opens_with_the_two_set_up_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["scripts/demo.sh", "scripts/test.sh"]
    for script in commands:
        assert (ROOT / script).stat().st_mode & 0o111


def test_the_settings_table_is_the_schema():
    assert schema_markdown() in README


def bgblur_lines():
    for block in re.findall(r"```(?:sh|console)\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if re.match(r"(\.venv/bin/)?bgblur ", line):
                yield line.split("&&")[0].strip()


@pytest.mark.parametrize("line", sorted(set(bgblur_lines())))
def test_every_bgblur_command_in_the_readme_parses(line):
    argv = shlex.split(line)[1:]
    build_parser().parse_args(argv)  # exits (SystemExit) on an unknown subcommand or flag


def test_the_images_it_shows_exist():
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / path).is_file(), path
