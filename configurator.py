"""
Command-line configuration for the top-level scripts.

A script defines its settings as plain module globals, each with a comment, then calls

    config = configure(globals())

which applies, in order, every config file named on the command line (trusted Python, executed over the
script's globals) and every --key=value override, and returns the final settings as a dict. Values parse
as Python literals, else as strings. Mistakes end the program with one line on stderr and exit status 2.
"""
import ast
import difflib
import os
import re
import sys

SIMPLE_TYPES = (bool, int, float, str, type(None), tuple, list)
# names users bring from other trainers, mapped to ours
COMMON_NAMES = {'lr': 'learning_rate', 'bs': 'batch_size', 'wd': 'weight_decay', 'epochs': 'max_iters',
                'steps': 'max_iters', 'iters': 'max_iters', 'ctx': 'block_size', 'context_length': 'block_size',
                'seq_len': 'block_size', 'layers': 'n_layer', 'heads': 'n_head', 'dim': 'n_embd'}


def fail(message, status=2):
    """One line on stderr and exit: status 2 for a usage mistake, 1 for bad input data or files."""
    print(f'error: {message}', file=sys.stderr)
    sys.exit(status)


def check_minimums(settings, minimums):
    """fail() for the first key whose value is None or below its lowest allowed value (minimums: key -> low)."""
    for key, low in minimums.items():
        if settings[key] is None or settings[key] < low:
            fail(f"{key} must be {'0 or more' if low == 0 else f'at least {low}'}, not {settings[key]}")


def config_keys(namespace):
    return [k for k, v in namespace.items()
            if not k.startswith('_') and isinstance(v, SIMPLE_TYPES) and not callable(v)]


def unknown_key(key, keys):
    # what other tools call it ('lr'), then initials ('gas'), then similar spellings ('max_iter')
    close = [k for k in [COMMON_NAMES.get(key)] if k in keys]
    close = close or [k for k in keys if '_' in k and ''.join(w[0] for w in k.split('_')) == key][:1]
    close = close or difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ''
    fail(f"unknown config key '{key}'{hint}")


def parse_value(text):
    if text in ('true', 'false'):
        return text == 'true'
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text  # a bare string such as --device=cuda


def check_type(key, default, value, source):
    """The value to use for key, or exit when it cannot stand in for the default's type."""
    if value is None or default is None:
        return value  # None is allowed for any key; a key defaulting to None takes anything
    expected = type(default)
    if expected is float and type(value) is int:
        return float(value)
    if expected is str and not isinstance(value, str):
        return str(value) if source == 'command line' else _wrong(key, expected, value, source)
    if expected is tuple and isinstance(value, list):
        return tuple(value)
    if type(value) is not expected:
        _wrong(key, expected, value, source)
    return value


def _wrong(key, expected, value, source):
    fail(f"config key '{key}' expects {expected.__name__}, got {value!r} ({type(value).__name__}) from {source}")


def help_text(namespace, keys, script):
    """Every key with its default and the comment written beside it in the script."""
    comments = {}
    try:
        with open(script, encoding='utf-8') as f:
            for line in f:
                m = re.match(r'^(\w+)\s*=.*?#\s*(.*)$', line.rstrip())
                if m and m.group(1) not in comments:
                    comments[m.group(1)] = m.group(2)
    except OSError:
        pass
    name = os.path.basename(script)
    doc = (namespace.get('__doc__') or '').strip()
    lines = [doc, '', f'usage: python {name} [config/file.py ...] [--key=value ...]', '', 'keys (default):']
    width = max((len(k) for k in keys), default=0)
    for k in keys:
        lines.append(f'  --{k.ljust(width)} = {namespace[k]!r:<14} {comments.get(k, "")}'.rstrip())
    return '\n'.join(lines).strip()


def configure(namespace, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    keys = config_keys(namespace)
    defaults = {k: namespace[k] for k in keys}
    if '-h' in argv or '--help' in argv:
        try:
            print(help_text(namespace, keys, namespace.get('__file__', sys.argv[0])), flush=True)
        except BrokenPipeError:  # --help | head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    for arg in argv:
        if not arg.startswith('--'):
            if arg.startswith('-') or '=' in arg:
                fail(f"cannot parse argument '{arg}': use --key=value")
            if not os.path.isfile(arg):
                fail(f"'{arg}' is neither a config file nor --key=value")
            with open(arg, encoding='utf-8') as f:
                code = f.read()
            before = dict(namespace)
            try:
                exec(compile(code, arg, 'exec'), namespace)
            except Exception as e:  # config files are trusted Python, but say which one broke
                fail(f'config file {arg} failed: {type(e).__name__}: {e}')
            for k, v in list(namespace.items()):
                if k.startswith('_') or not isinstance(v, SIMPLE_TYPES) or (k in before and before[k] is v):
                    continue
                if k not in defaults:
                    unknown_key(k, keys)
                namespace[k] = check_type(k, defaults[k], v, arg)
        else:
            if '=' not in arg:
                fail(f"argument '{arg}' has no value: use {arg}=VALUE")
            key, text = arg[2:].split('=', 1)
            if key not in defaults:
                unknown_key(key, keys)
            namespace[key] = check_type(key, defaults[key], parse_value(text), 'command line')
    return {k: namespace[k] for k in keys}
