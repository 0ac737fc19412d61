"""The exercise checker every notebook uses.

A learner's function (or value) is compared with the reference on a few cases. The checker
prints a clear pass, or the first failing case with expected vs got and a hint; it never lets a
bare traceback through, and it returns ``True``/``False`` so a notebook can branch on it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

PASS, FAIL = "\u2705", "\u274c"


def _to_numpy(x: Any) -> np.ndarray | None:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    return None


SHOWN_VALUES = 20
"""An array is shown by its shape and at most this many leading values (a 3000x3000 answer stays short)."""


def _values(values: np.ndarray) -> str:
    def rounded(v: np.ndarray) -> list:
        return v.tolist() if v.dtype == bool else np.round(v, 4).tolist()

    if values.size <= SHOWN_VALUES:
        return str(rounded(values))
    return f"first values {rounded(values.reshape(-1)[:SHOWN_VALUES])} ... ({values.size - SHOWN_VALUES} more)"


def _short(x: Any, limit: int = 200) -> str:
    if isinstance(x, torch.Tensor):
        text = f"tensor(shape={tuple(x.shape)}, dtype={x.dtype}) {_values(x.detach().cpu().numpy())}"
    elif isinstance(x, np.ndarray):
        text = f"array(shape={x.shape}) {_values(x)}"
    else:
        text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """Return ``None`` when ``got`` matches ``expected``, else a sentence saying how it differs."""
    exp_arr = _to_numpy(expected)
    if exp_arr is not None or isinstance(expected, float):
        got_arr = _to_numpy(got)
        if got_arr is None:
            if isinstance(got, int | float | np.number) and not isinstance(got, bool):
                got_arr = np.asarray(got, dtype=float)
            elif isinstance(got, list | tuple):
                try:
                    got_arr = np.asarray(got, dtype=float)
                except (TypeError, ValueError):
                    return f"expected an array-like, got {type(got).__name__}"
            else:
                return f"expected a number or tensor, got {type(got).__name__}"
        exp_arr = np.asarray(expected if exp_arr is None else exp_arr, dtype=float)
        if got_arr.shape != exp_arr.shape:
            return f"shape differs: expected {exp_arr.shape}, got {got_arr.shape}"
        got_arr = got_arr.astype(float)
        if not np.allclose(got_arr, exp_arr, atol=atol, rtol=rtol, equal_nan=True):
            worst = np.unravel_index(np.argmax(np.abs(got_arr - exp_arr)), exp_arr.shape)
            where = f" (largest difference at index {tuple(int(i) for i in worst)})" if exp_arr.ndim else ""
            return f"values differ{where}"
        return None
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping) or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected)}, got {_short(got)}"
        for key in expected:
            problem = compare(got[key], expected[key], atol, rtol)
            if problem:
                return f"key {key!r}: {problem}"
        return None
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(got, Sequence) or isinstance(got, str) or len(got) != len(expected):
            return f"expected a sequence of length {len(expected)}, got {_short(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, e, atol, rtol)
            if problem:
                return f"item {i}: {problem}"
        return None
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(got, float):
        return None if abs(got - expected) <= atol else "values differ"
    return None if got == expected else "values differ"


def _as_call(case: Any) -> tuple[tuple, dict]:
    if isinstance(case, Mapping):
        return (), dict(case)
    if isinstance(case, tuple):
        return case, {}
    return (case,), {}


def _clone(value: Any) -> Any:
    """Copy tensors/arrays so a learner's in-place edit cannot change the reference's input."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def check(
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Any],
    *,
    name: str | None = None,
    hint: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Check a learner's ``fn`` against ``reference`` on ``cases``.

    Each case is a tuple of positional arguments, a dict of keyword arguments, or a single
    argument. Prints a pass line, or the first failing case (inputs, expected, got) and ``hint``.
    """
    label = name or getattr(fn, "__name__", "your function")
    cases = list(cases)
    for number, case in enumerate(cases, start=1):
        args, kwargs = _as_call(case)
        expected = reference(*_clone(args), **_clone(kwargs))
        try:
            got = fn(*_clone(args), **_clone(kwargs))
        except NotImplementedError:
            print(f"{FAIL} {label}: not implemented yet - fill in the cell above and run it again.")
            return False
        except SystemExit as exc:  # sys.exit()/exit() in the learner's code would end the checker (or the kernel)
            print(f"{FAIL} {label}: case {number} called sys.exit({exc.code!r}); return a value instead of exiting.\n"
                  f"   inputs: {_describe(args, kwargs)}")
            return False
        except Exception as exc:  # the learner's bug: report it, never a bare traceback
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"   at line {frame.lineno}: {frame.line}\n" if frame.line else ""
            print(
                f"{FAIL} {label}: case {number} raised {type(exc).__name__}: {exc}\n"
                f"{where}   inputs: {_describe(args, kwargs)}"
            )
            if hint:
                print(f"   hint: {hint}")
            return False
        problem = compare(got, expected, atol=atol, rtol=rtol)
        if problem:
            print(
                f"{FAIL} {label}: case {number} - {problem}.\n   inputs:   {_describe(args, kwargs)}\n"
                f"   expected: {_short(expected)}\n   got:      {_short(got)}"
            )
            if hint:
                print(f"   hint: {hint}")
            return False
    print(f"{PASS} {label}: all {len(cases)} cases pass.")
    return True


def check_value(
    got: Any, expected: Any, *, name: str = "your answer", hint: str = "", atol: float = 1e-5, rtol: float = 1e-4
) -> bool:
    """Check a single value (a number, tensor, list...) against the expected one."""
    problem = compare(got, expected, atol=atol, rtol=rtol)
    if problem:
        print(f"{FAIL} {name}: {problem}.\n   expected: {_short(expected)}\n   got:      {_short(got)}")
        if hint:
            print(f"   hint: {hint}")
        return False
    print(f"{PASS} {name}: correct.")
    return True


def _describe(args: tuple, kwargs: dict) -> str:
    parts = [_short(a, 80) for a in args] + [f"{k}={_short(v, 80)}" for k, v in kwargs.items()]
    return ", ".join(parts)
