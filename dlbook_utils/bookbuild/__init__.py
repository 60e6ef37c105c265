"""The book's build machinery behind the ``dlbook`` command (not imported by lessons).

Modules: :mod:`.project` (finding lessons, pairs, the toc, ``dlbook check`` and ``golden``),
:mod:`.kernels` (the dlbook-cpu / dlbook-cuda kernel specs), :mod:`.runner` (cached, parallel,
atomic papermill execution), :mod:`.book` (staging and the Jupyter Book build, the report page),
:mod:`.cli` (the command line).

This subpackage is excluded from the lesson cache key: changing the build tool does not
re-execute lessons; changing the helpers lessons import does.
"""
