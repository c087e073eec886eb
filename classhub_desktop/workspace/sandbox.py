"""`classhub-desktop sandbox`: start the embedded ClassHub, migrate it, seed it once, serve its API and
register the "Sandbox" profile for both.

The steps live in `sandbox.launcher`; this puts them together because the sandbox connects the one way
the whole application does: the profile it registers is opened as a workspace (`open_workspace`), whose
engine migrates the schema and tells whether the demo data must be seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from classhub_desktop.config.credentials import RememberMode, default_store
from classhub_desktop.core.progress import CancelToken, Progress
from classhub_desktop.sandbox import launcher
from classhub_desktop.sandbox.launcher import (
    FILES,
    PROFILE_NAME,
    TRUTH,
    Sandbox,
    SandboxOptions,
    SignalGuard,
    StopRequested,
)
from classhub_desktop.sandbox.serve import ApiProcess
from classhub_desktop.store import migrations
from classhub_desktop.workspace.connect import Require, open_workspace
from classhub_desktop.workspace.targets import profile_target

__all__ = ["Sandbox", "SandboxOptions", "SignalGuard", "StopRequested", "start_sandbox"]


def start_sandbox(options: SandboxOptions, say: Callable[[str], None] = lambda _m: None) -> Sandbox:
    """Start (or restart) the sandbox; on any failure (a StopRequested from a signal too) what was started is
    stopped again."""
    directory, cluster = launcher.start_database(options, say)
    api: ApiProcess | None = None
    try:
        profile = launcher.sandbox_profile(cluster)
        target = profile_target(profile, default_store())
        assert target.database is not None  # an administrator profile
        workspace = open_workspace(target, progress=Progress(), cancel=CancelToken(), require=Require.LOGIN)
        try:
            status = migrations.upgrade(workspace.engine)
            say(f"Schema at revision {', '.join(status.current)}.")
            empty = launcher.is_empty(workspace.engine)
        finally:
            workspace.close()
        conninfo = target.database.conninfo
        remember: RememberMode | None = None
        if empty:
            remember = launcher.seed_demo_data(conninfo, directory, options, say)
        else:
            launcher.check_demo_password(conninfo, directory, say)
        (directory / FILES).mkdir(parents=True, exist_ok=True)
        if options.serve_api:
            api = launcher.serve_api(conninfo, directory, options, say)
        launcher.register_profile(replace(profile, api_base_url=api.base_url if api else ""), remember, say,
                                  directory)
    except BaseException:
        if api is not None:
            api.stop()
        cluster.stop()
        raise
    return Sandbox(cluster, directory, conninfo, directory / FILES, directory / TRUTH, PROFILE_NAME, api)
