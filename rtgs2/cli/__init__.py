"""The ``rtgs2`` command: one subcommand per stage, each a dataclass whose ``main()`` imports its
stage lazily and calls one library function (no logic here). A module per stage holds its
subcommands (``demo``, ``data``, ``synth``, ``recon``); each nests its stage's config.

Errors: :func:`entrypoint` parses the arguments and runs the subcommand under one handler.

- A user error prints one line ``rtgs2 <subcommand>: <message>`` on stderr and exits with status
  2 (as for arguments tyro cannot parse): an :class:`~rtgs2.utils.errors.Rtgs2Error` (a
  :class:`~rtgs2.utils.errors.UserError` -- a bad value, also one a config rejects while the
  arguments are parsed, a missing or unreadable file -- or another of rtgs2's own), or an
  ``OSError`` on a path the user gave (one named on the command line or a subcommand's default
  path, or one under either or under the rtgs2 cache), as ``<file>: <reason>``. A
  :class:`~rtgs2.utils.errors.ConfigError` names the flag that sets its field
  (``ReconConfig.dssim_weight`` -> ``--dssim-weight``). ``RTGS2_TRACEBACK=1`` re-raises it, with
  its traceback.
- Ctrl-C prints ``rtgs2 <subcommand>: interrupted`` and exits with status 130 (128 + SIGINT).
- Any other exception (a plain ``ValueError`` or ``OSError`` included) is a bug: it keeps its
  traceback and Python's exit status 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, NoReturn, get_args, get_type_hints

import tyro

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
from rtgs2.cli.synth import Synth, SynthJoin, SynthReport
from rtgs2.cli.view import View
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import ConfigError, Rtgs2Error, UserError

COMMANDS: dict[str, type] = {
    "demo": Demo, "data": Data, "synth": Synth, "synth-join": SynthJoin, "synth-report": SynthReport, "recon": Recon, "train": Train,
    "features": Features, "finetune": Finetune, "segment": Segment, "lift": Lift, "eval": Eval,
    "reproduce": Reproduce, "view": View, "export": Export,
}  # fmt: skip
"""The subcommands by name; one with subcommands of its own lists them in its ``commands``."""

USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130
TRACEBACK_ENV = "RTGS2_TRACEBACK"

DESCRIPTION = (
    "rtgs2: semantic segmentation of 3D Gaussian Splatting scenes. Exit status: 0 done, 2 a user error "
    f"(one line on stderr; {TRACEBACK_ENV}=1 shows its traceback), 130 interrupted (Ctrl-C), 1 a bug (its traceback)."
)

_ARG_CONFIG = type(tyro.conf.arg())  # the marker of tyro.conf.arg(name=...)
_POSITIONAL = get_args(tyro.conf.Positional[int])[1]


def parse(args: Sequence[str]) -> Any:
    """The subcommand object that ``rtgs2 ARGS`` describes (``.main()`` runs it). tyro prints
    ``--help`` itself and raises ``SystemExit``; arguments it rejects raise a ``UserError``
    naming the flag, and a config's own check raises its ``ConfigError``."""
    args = list(args)
    command = subcommands(COMMANDS, {"synth": Synth.defaults(args)})
    with _parse_errors_raise():
        return tyro.cli(command, args=args, prog="rtgs2", description=DESCRIPTION)


@contextlib.contextmanager
def _parse_errors_raise() -> Iterator[None]:
    """While tyro parses, each way it rejects the arguments raises (:func:`_raise_parse_error`)
    instead of printing tyro's box of several lines; ``--help`` still prints tyro's help.

    tyro 1.0.17 has no public way to do this: ``tyro.cli`` prints its box and exits with status
    2, and ``console_outputs=False`` only silences the box. Its private parse-error hook
    ``tyro._errors.on_parse_error`` is the one way, used here and nowhere else; pyproject pins
    tyro's exact version, and ``test_tyro_parse_error_hook_is_as_expected`` in
    tests/cli/test_errors.py fails if the hook or its events change."""
    import tyro._errors

    with tyro._errors.on_parse_error(_raise_parse_error):
        yield


def _raise_parse_error(event: Any) -> None:
    """Raise for a tyro parse-error event: the error a config's check raised while tyro built
    it (a ``ConfigError``; a plain ``ValueError`` there is a bug and keeps its traceback), else a
    ``UserError`` naming the flag."""
    import tyro._errors as errors  # private (see _parse_errors_raise)
    if isinstance(event, errors.InstantiationFailure):
        raised = _raised_while_building()
        if isinstance(raised, Rtgs2Error) or (raised is not None and event.argument is None):
            raise raised from None
        flag = event.argument.display_name() if event.argument is not None else ""
        message = event.message.splitlines()[0] if event.message else "invalid value"
        metavar = getattr(getattr(event.argument, "lowered", None), "metavar", None)
        if metavar and ("no type matching" in message or "invalid literal" in message):
            got = message.rpartition(" from ")[2] if " from " in message else message.rpartition(": ")[2]
            expects = metavar.replace("{None}|", "").replace("|", " or ")
            message = f"expects {expects}, got {got.rstrip('.').strip('[]')}"
        raise UserError(f"{flag}: {message}" if flag and flag not in message else message)
    if isinstance(event, errors.MissingArgs):
        missing = ", ".join(a.arg.display_name() for a in event.missing_arguments)
        extra = f"; unrecognized: {' '.join(event.unrecognized_tokens)}" if event.unrecognized_tokens else ""
        raise UserError(f"missing {missing}{extra} (see --help)")
    if isinstance(event, errors.UnrecognizedArgs):
        raise UserError(f"unrecognized: {' '.join(event.tokens)} (see --help)")
    if isinstance(event, errors.InvalidChoice):
        choices = ", ".join(event.choices)
        raise UserError(f"{event.argument.display_name()}: {event.value!r} is not one of {choices}")
    if isinstance(event, errors.BadValue):
        got = f"got {event.offending_value!r}" if event.offending_value is not None else "too few values"
        raise UserError(f"{event.argument.display_name()}: {got}")
    if isinstance(event, errors.MissingSubcommand):
        names = ", ".join(event.subcommand_spec.parser_from_name)
        found = f" (got {event.found_token!r})" if event.found_token else ""
        raise UserError(f"choose a subcommand: {names}{found}")


def _raised_while_building() -> BaseException | None:
    """The exception that a class or a value's converter raised while tyro built the subcommand
    (tyro reports it from inside its handler, wrapped in its own error for a nested config);
    None for a complaint of tyro's own."""
    e = sys.exc_info()[1]
    while e is not None and type(e).__module__.split(".")[0] == "tyro":
        e = e.__context__
    return e


def entrypoint(args: Sequence[str] | None = None) -> None:
    """Run ``rtgs2 ARGS`` (default: this process's arguments) under the error handler (module doc)."""
    args = list(sys.argv[1:] if args is None else args)
    name, command = _subcommand(args)
    parsed = None
    try:
        with _user_warnings_as_lines(name):
            parsed = parse(args)
            parsed.main()
    except KeyboardInterrupt:
        _exit(name, "interrupted", INTERRUPTED_EXIT)
    except Exception as e:
        if os.environ.get(TRACEBACK_ENV) or not _is_user_error(e, [*_words(args), *_paths(parsed)]):
            raise
        _exit(name, _message(e, _flags(command) if command else {}), USER_ERROR_EXIT)


def _is_user_error(e: BaseException, given: Sequence[str | Path]) -> bool:
    """Whether the handler prints ``e`` as one line: an ``Rtgs2Error``, or an ``OSError`` on a
    file that is one of the paths ``given`` or lies under one, or under the rtgs2 cache."""
    if isinstance(e, Rtgs2Error):
        return True
    if not isinstance(e, OSError):
        return False
    roots = [os.path.realpath(p) for p in (*given, cache_root())]
    for file in (e.filename, e.filename2):
        if isinstance(file, (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(file))
            if any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
                return True
    return False


def _words(args: Sequence[str]) -> list[str]:
    """The words of ``args`` that may be paths: not flags, and the values of ``--flag=value``."""
    words = [a.partition("=")[2] if a.startswith("--") else a for a in args]
    return [w for w in words if w and not w.startswith("-")]


def _paths(parsed: object) -> list[Path]:
    """The ``Path`` values of the parsed subcommand ``parsed`` and of what it nests, defaults
    included (``rtgs2 demo`` writes to ``outputs/demo`` unless told otherwise)."""
    if isinstance(parsed, Path):
        return [parsed]
    if isinstance(parsed, (tuple, list)):
        return [p for v in parsed for p in _paths(v)]
    if is_dataclass(parsed) and not isinstance(parsed, type):
        return [p for f in fields(parsed) for p in _paths(getattr(parsed, f.name))]
    return []


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


def _message(e: BaseException, flags: dict[str, str]) -> str:
    """``e``'s message: a config's error with its field written as its flag (``flags``); an OS
    error raised by the OS (not by rtgs2 with a message of its own) as ``<file>: <reason>``
    rather than ``[Errno 2] No such file or directory: '<file>'``."""
    if isinstance(e, ConfigError):
        return e.message(flags)
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
