"""Process set-up for every SQLMesh command that loads or runs this project: no materialization
is defined here.

config.yaml cannot hold code, so the project's glue (:func:`benefits_mesh.runtime.prepare`:
owner-only files, logs in ``logs/``, the settings checked in one line each, waiting for a busy
warehouse, a bad landing file named first, the landing report at the end of every run) starts
from the one project folder SQLMesh imports in every such command: ``materializations/``. It is
imported first when SQLMesh loads the project (plan, test, lint, format, the UI), and by
``sqlmesh run``, which loads no other project file, before it evaluates anything (after it has
opened the warehouse for its janitor: see DESIGN.md, "config.yaml and the glue").
"""

from benefits_mesh.runtime import prepare

prepare()
