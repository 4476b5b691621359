"""The command line in the company's language: kb's help and messages through the catalogues, click's own
words (Usage:, Options:, Error: …) through a small Chinese catalogue of click's strings.

The language is kb's one setting (``--language`` / KB_LANGUAGE, declared in settings.py), read before
click parses anything so even a mistyped option is reported in it. Help texts are catalogue msgids
(Chinese) translated when the help is shown, not when the command is defined: the language is only
known once the command line has been read.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import click

from indexer.i18n import CLICK_DOMAIN, LANGUAGES, current_language, gettext, reset_language, set_language, translations

from .settings import BY_NAME

# click's modules that mark words with the standard library's gettext (click 8.1–8.3).
CLICK_MODULES = ("core", "exceptions", "decorators", "types", "parser", "termui", "utils", "formatting",
                 "shell_completion", "_termui_impl")


def click_gettext(message: str) -> str:
    """One of click's own messages in kb's current language."""
    return translations(current_language(), CLICK_DOMAIN).gettext(message)


def click_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language(), CLICK_DOMAIN).ngettext(singular, plural, n)


def speak_click_in_kb_language() -> None:
    """Rebind click's gettext to kb's catalogue.

    click calls the standard library's gettext, whose language comes from the process' LANGUAGE variable;
    rebinding its ``_`` and ``ngettext`` lets kb's setting decide, without changing an environment variable
    every subprocess would inherit."""
    for name in CLICK_MODULES:
        with contextlib.suppress(ImportError):
            module = importlib.import_module(f"click.{name}")
            if hasattr(module, "_"):
                module._ = click_gettext
            if hasattr(module, "ngettext"):
                module.ngettext = click_ngettext


def language_from_environment() -> str:
    """KB_LANGUAGE when it names a language kb speaks, else the first (a wrong value is reported by load_settings)."""
    value = os.environ.get(BY_NAME["language"].env, "")
    return value if value in LANGUAGES else LANGUAGES[0]


def language_of(args) -> str:
    """The language a command line asks for: its ``--language`` (anywhere: the group's or a command's flag),
    else KB_LANGUAGE, else the first. Read before click parses, so ``kb --language en serve --help`` and a
    usage error are already in English; a value kb does not speak is left for the option's own check."""
    flag = BY_NAME["language"].flag
    chosen = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag and i + 1 < len(args):
            chosen = args[i + 1]
        elif arg.startswith(flag + "="):
            chosen = arg.split("=", 1)[1]
    return chosen if chosen in LANGUAGES else language_from_environment()


@contextlib.contextmanager
def _help_translated(thing):
    """thing's help (and short help) in the current language for the duration of the block."""
    saved = thing.help, getattr(thing, "short_help", None)
    thing.help = gettext(thing.help) if thing.help else thing.help
    if saved[1]:
        thing.short_help = gettext(saved[1])
    try:
        yield
    finally:
        thing.help = saved[0]
        if saved[1]:
            thing.short_help = saved[1]


class _Translated:
    """Help shown in the current language; the command line's language set before parsing."""

    def main(self, args=None, *rest, **kwargs):
        token = set_language(language_of(sys.argv[1:] if args is None else list(args)))
        try:
            return super().main(args, *rest, **kwargs)
        finally:
            reset_language(token)

    def get_help_option(self, ctx):
        """click builds --help once per command (with its text in the language of that moment) and keeps it."""
        help_option = super().get_help_option(ctx)
        if help_option is not None:
            help_option.help = click_gettext("Show this message and exit.")
        return help_option

    def format_help_text(self, ctx, formatter):
        with _help_translated(self):
            super().format_help_text(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        with _help_translated(self):
            return super().get_short_help_str(limit)


class KBCommand(_Translated, click.Command):
    pass


class KBGroup(_Translated, click.Group):
    command_class = KBCommand
    group_class = type  # subgroups are KBGroups too


class KBOption(click.Option):
    """An option whose help is a catalogue msgid; ``setting`` (a settings.py name) adds its variable and default."""

    def __init__(self, *args, setting: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.setting = setting

    def get_help_record(self, ctx):
        saved = self.help
        self.help = gettext(saved) if saved else saved
        if self.setting:
            self.help = f"{self.help} {setting_note(self.setting)}"
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = saved


def setting_note(name: str) -> str:
    """"[环境变量 KB_PORT；默认 8000]": where else a setting is read from and what it is when unset."""
    s = BY_NAME[name]
    if s.type is bool:
        default = gettext("开") if s.default else gettext("关")
    else:
        default = str(s.default) if s.default not in (None, "") else gettext("见说明")
    return gettext("[环境变量 %(env)s；默认 %(default)s]", env=s.env, default=default)


def option(*param_decls, **attrs):
    """click.option with kb's translated help."""
    return click.option(*param_decls, cls=KBOption, **attrs)
