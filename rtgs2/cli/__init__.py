"""The ``rtgs2`` command: one subcommand per stage, each a dataclass whose ``main()`` imports its
stage lazily and calls one library function (no logic here). A module per stage holds its
subcommands (``demo``, ``data``, ``synth``, ``recon``); each nests its stage's config.

Errors: :func:`entrypoint` parses the arguments and runs the subcommand under one handler.

- A user error -- ``ValueError`` (a bad value, also one a config rejects while the arguments are
  parsed), ``OSError`` (a missing, unreadable or misplaced file or folder) or
  :class:`~rtgs2.utils.errors.Rtgs2Error` -- prints one line ``rtgs2 <subcommand>: <message>``
  on stderr and exits with status 2 (as for arguments tyro cannot parse). Config field names in
  the message are written as the flags that set them (``ReconConfig.dssim_weight`` ->
  ``--dssim-weight``). ``RTGS2_TRACEBACK=1`` re-raises it, with its traceback.
- Ctrl-C prints ``rtgs2 <subcommand>: interrupted`` and exits with status 130 (128 + SIGINT).
- Any other exception is a bug: it keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, NoReturn, get_args, get_type_hints

import tyro
import tyro._errors

from rtgs2.cli.common import subcommands
from rtgs2.cli.data import Data
from rtgs2.cli.demo import Demo
from rtgs2.cli.eval import Eval
from rtgs2.cli.export import Export
from rtgs2.cli.features import Features, Train
from rtgs2.cli.fusion import Finetune
from rtgs2.cli.lift import Lift
from rtgs2.cli.recon import Recon
from rtgs2.cli.reproduce import Reproduce
from rtgs2.cli.segment import Segment
from rtgs2.cli.synth import Synth, SynthReport
from rtgs2.cli.view import View
from rtgs2.utils.errors import Rtgs2Error

COMMANDS: dict[str, type] = {
    "demo": Demo, "data": Data, "synth": Synth, "synth-report": SynthReport, "recon": Recon, "train": Train,
    "features": Features, "finetune": Finetune, "segment": Segment, "lift": Lift, "eval": Eval,
    "reproduce": Reproduce, "view": View, "export": Export,
}  # fmt: skip
"""The subcommands by name; one with subcommands of its own lists them in its ``commands``."""

USER_ERRORS = (ValueError, OSError, Rtgs2Error)
USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130
TRACEBACK_ENV = "RTGS2_TRACEBACK"

DESCRIPTION = (
    "rtgs2: semantic segmentation of 3D Gaussian Splatting scenes. Exit status: 0 done, 2 a user error "
    f"(one line on stderr; {TRACEBACK_ENV}=1 shows its traceback), 130 interrupted (Ctrl-C)."
)

_ARG_CONFIG = type(tyro.conf.arg())  # the marker of tyro.conf.arg(name=...)
_POSITIONAL = get_args(tyro.conf.Positional[int])[1]


def parse(args: Sequence[str]) -> Any:
    """The subcommand object that ``rtgs2 ARGS`` describes (``.main()`` runs it). tyro prints
    usage errors and ``--help`` itself and raises ``SystemExit``; a config's own check raises."""
    args = list(args)
    command = subcommands(COMMANDS, {"synth": Synth.defaults(args)})
    with tyro._errors.on_parse_error(_raise_config_error):
        return tyro.cli(command, args=args, prog="rtgs2", description=DESCRIPTION)


def _raise_config_error(event: Any) -> None:
    """Turn every way tyro rejects the arguments into one line naming the flag (a
    ``ValueError`` for the handler) instead of tyro's box of several lines; ``--help`` still
    prints tyro's help. (tyro's hook API is private: pyproject pins tyro's version.)"""
    errors = tyro._errors
    if isinstance(event, errors.InstantiationFailure):
        flag = event.argument.display_name() if event.argument is not None else ""
        message = event.message.splitlines()[0] if event.message else "invalid value"
        metavar = getattr(getattr(event.argument, "lowered", None), "metavar", None)
        if metavar and ("no type matching" in message or "invalid literal" in message):
            got = message.rpartition(" from ")[2] if " from " in message else message.rpartition(": ")[2]
            expects = metavar.replace("{None}|", "").replace("|", " or ")
            message = f"expects {expects}, got {got.rstrip('.').strip('[]')}"
        raise ValueError(f"{flag}: {message}" if flag and flag not in message else message)
    if isinstance(event, errors.MissingArgs):
        missing = ", ".join(a.arg.display_name() for a in event.missing_arguments)
        extra = f"; unrecognized: {' '.join(event.unrecognized_tokens)}" if event.unrecognized_tokens else ""
        raise ValueError(f"missing {missing}{extra} (see --help)")
    if isinstance(event, errors.UnrecognizedArgs):
        raise ValueError(f"unrecognized: {' '.join(event.tokens)} (see --help)")
    if isinstance(event, errors.InvalidChoice):
        choices = ", ".join(event.choices)
        raise ValueError(f"{event.argument.display_name()}: {event.value!r} is not one of {choices}")
    if isinstance(event, errors.BadValue):
        got = f"got {event.offending_value!r}" if event.offending_value is not None else "too few values"
        raise ValueError(f"{event.argument.display_name()}: {got}")
    if isinstance(event, errors.MissingSubcommand):
        names = ", ".join(event.subcommand_spec.parser_from_name)
        found = f" (got {event.found_token!r})" if event.found_token else ""
        raise ValueError(f"choose a subcommand: {names}{found}")


def entrypoint(args: Sequence[str] | None = None) -> None:
    """Run ``rtgs2 ARGS`` (default: this process's arguments) under the error handler (module doc)."""
    args = list(sys.argv[1:] if args is None else args)
    name, command = _subcommand(args)
    try:
        with _user_warnings_as_lines(name):
            parse(args).main()
    except KeyboardInterrupt:
        _exit(name, "interrupted", INTERRUPTED_EXIT)
    except USER_ERRORS as e:
        if os.environ.get(TRACEBACK_ENV):
            raise
        _exit(name, _as_flags(_message(e), _flags(command) if command else {}), USER_ERROR_EXIT)


@contextlib.contextmanager
def _user_warnings_as_lines(name: str) -> Iterator[None]:
    """Print plain ``UserWarning``s (rtgs2 raises those) as ``rtgs2 <subcommand>: warning: ...``, one
    line without a source location; other categories keep Python's format."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 (warnings' signature)
        if category is UserWarning:
            print(f"rtgs2 {name}: warning: {message}" if name else f"rtgs2: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = default


def _exit(name: str, message: str, status: int) -> NoReturn:
    print(f"rtgs2 {name}: {message}" if name else f"rtgs2: {message}", file=sys.stderr)
    raise SystemExit(status)


def _subcommand(args: Sequence[str]) -> tuple[str, type | None]:
    """The subcommand words that lead ``args`` and the class they name: ``("data check",
    DataCheck)`` for ``data check DIR --out O``; ``("", None)`` without a subcommand."""
    words: list[str] = []
    command, commands = None, COMMANDS
    for word in args:
        if word not in commands:
            break
        words.append(word)
        command = commands[word]
        commands = getattr(command, "commands", {})
    return " ".join(words), command


def _message(e: BaseException) -> str:
    """``e``'s message; an OS error raised by the OS (not by rtgs2 with a message of its own)
    as ``<file>: <reason>`` rather than ``[Errno 2] No such file or directory: '<file>'``."""
    if isinstance(e, OSError) and e.strerror and e.filename is not None:
        files = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
        return f"{files}: {e.strerror}"
    return str(e) or type(e).__name__


def _flags(cls: type, prefix: str = "") -> dict[str, str]:
    """The flag (or positional name) of each field of the dataclass ``cls`` and of the
    dataclasses it nests, as tyro names them, keyed by ``Class.field`` and by ``field``."""
    flags: dict[str, str] = {}
    hints = get_type_hints(cls, include_extras=True)
    for f in fields(cls):
        meta = getattr(hints[f.name], "__metadata__", ())
        renamed = [m.name for m in meta if isinstance(m, _ARG_CONFIG) and m.name is not None]
        name = renamed[0] if renamed else f.name
        typ = get_args(hints[f.name])[0] if meta else hints[f.name]
        if is_dataclass(typ):  # nested config: its fields are flags, under "name." unless name is ""
            for key, flag in _flags(typ, f"{prefix}{name}." if name else prefix).items():
                flags.setdefault(key, flag)
            continue
        flag = name.upper() if _POSITIONAL in meta else "--" + (prefix + name).replace("_", "-")
        flags[f"{cls.__name__}.{f.name}"] = flags[f.name] = flag
    return flags


def _as_flags(message: str, flags: dict[str, str]) -> str:
    """``message`` with the config fields it names written as flags: ``Class.field`` and
    ``snake_case`` names anywhere, a one-word name only as the subject of "<field> must ..."
    (elsewhere it may be a plain word: "data", "scene")."""

    def flag(m: re.Match[str]) -> str:
        return flags.get(m.group(0), m.group(0))

    message = re.sub(r"\b[A-Z]\w*\.\w+\b", flag, message)
    message = re.sub(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", flag, message)
    return re.sub(r"^\w+(?= must )", flag, message)
