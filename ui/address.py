"""A page's address (its query string): followed as a link when the app did not write it, and
written whole by one call.

A page writes its full state with :func:`write` at the end of its run and of every fragment's
run (a fragment's rerun runs only the fragment, so a write in the main script alone would miss
the fragment's controls; :func:`fragment` adds the write). The address the app wrote is
remembered, so an address the app did not write (a fresh link, a page link with parameters, the
browser's back button) is recognised by :func:`incoming` and restored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

import streamlit as st

WRITTEN = "address_written"
"""Session key: the address the app last wrote (any page: the pages share one query string)."""


def incoming() -> dict[str, str]:
    """The address's parameters when they are a link to follow, else ``{}``: the address differs
    from the one the app last wrote (a first visit, a link, a page link with parameters)."""
    params = st.query_params.to_dict()
    return {} if st.session_state.get(WRITTEN) == params else params


def write(params: dict[str, str], owned: Iterable[str]) -> None:
    """Set the address to ``params`` in place of every ``owned`` parameter (others are kept) and
    remember it as the app's own."""
    current = st.query_params.to_dict()
    owned = set(owned)
    wanted = {k: v for k, v in current.items() if k not in owned} | params
    if wanted != current:
        st.query_params.from_dict(wanted)
    st.session_state[WRITTEN] = wanted


def fragment(write_state: Callable[[], None]) -> Callable[[Callable], Callable]:
    """``st.fragment`` whose every run ends with ``write_state()`` (the page's :func:`write`)."""

    def decorate(function: Callable) -> Callable:
        @wraps(function)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                function(*args, **kwargs)
            finally:
                write_state()

        return st.fragment(run)

    return decorate


@dataclass(frozen=True)
class ViewParam:
    """A control outside the settings whose value is in the address: its widget's session key
    and its default (left out of the address; its type decodes the text: bool "0"/"1", float,
    str; None: a str always written)."""

    state: str
    default: bool | float | str | None = None

    def encode(self, value: Any) -> str | None:
        """The parameter's text, or None when the value is the default (or not set)."""
        if value is None or value == self.default:
            return None
        if isinstance(value, bool):
            return "1" if value else "0"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def decode(self, text: str) -> bool | float | str:
        if isinstance(self.default, bool):
            if text not in ("0", "1"):
                raise ValueError("expected 0 or 1")
            return text == "1"
        return float(text) if isinstance(self.default, float) else text


def view_params(params: dict[str, ViewParam]) -> dict[str, str]:
    """The non-default values of the controls ``params`` (query key -> :class:`ViewParam`)."""
    texts = {key: param.encode(st.session_state.get(param.state)) for key, param in params.items()}
    return {key: text for key, text in texts.items() if text is not None}


def restore_view(params: dict[str, ViewParam], link: dict[str, str]) -> list[str]:
    """Set the controls named in ``link`` (others back to their default); a value that cannot be
    read is left out with a note."""
    notes = []
    for key, param in params.items():
        if key not in link:
            if param.default is None:
                st.session_state.pop(param.state, None)
            else:
                st.session_state[param.state] = param.default
            continue
        try:
            st.session_state[param.state] = param.decode(link[key])
        except ValueError as error:
            notes.append(f"URL parameter {key}={link[key][:60]!r} ignored: {error}")
    return notes
