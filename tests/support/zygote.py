"""A process that imports rcflow once and forks a fresh rcflow run per request.

Importing rcflow's CLI costs ~0.7 s of CPU, several times what a crashed run does after it; the
chaos tests start hundreds of runs, so each is forked from this already-loaded process instead.
A forked child is a whole process of its own: its own session (so a crash kills it and every git
it started, and nothing else), its own environment, working directory and output files.

Protocol, one JSON object per line: the parent sends {"args", "cwd", "env", "out", "err"}; this
process answers {"pid"} as soon as the child exists, then {"status"} when it ended (a negative
status: killed by that signal).
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _child(request: dict[str, object]) -> None:
    os.setsid()
    try:
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, key in ((1, "out"), (2, "err")):
            target = os.open(str(request[key]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
        args = [str(a) for a in request["args"]]  # type: ignore[attr-defined]
        sys.argv = ["rcflow", *args]
        from rcflow.cli.main import main

        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a traceback is what `python -m rcflow` would print: exit 1
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    # Everything a run can import, loaded once here (the lazy GitPython and PyGithub included).
    import git  # noqa: F401
    import github  # noqa: F401

    import rcflow.cli.app
    import rcflow.cli.main
    import rcflow.commands.run

    rcflow.cli.app.app  # noqa: B018 - the typer app, built
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"status": code}), flush=True)


if __name__ == "__main__":
    serve()
