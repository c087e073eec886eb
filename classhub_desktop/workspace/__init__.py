"""The application layer between the data layers (store, remote, offline) and the front ends (ui, cli).

`open_workspace` (in `workspace.connect`) is the one way a target -- a profile and its secrets, or a
command line's `--db` / `--profile` / `--api` (`workspace.targets`) -- becomes an open `Workspace`;
the GUI, every CLI command and the sandbox launcher (`workspace.sandbox`) use it.
"""

from classhub_desktop.workspace.session import Workspace

__all__ = ["Workspace"]
