"""aioloop's benchmark suite: ``python -m aioloop bench``.

One file per concern:

- ``cli.py``: the command's options, the run's header, its output files;
- ``runner.py``: rounds, the interleaving of loops, one cell at a time;
- ``echo.py``, ``http.py``, ``micro.py``: the workload families, each with its
  server or benchmark side (run in a worker process under the loop being
  measured) and its driver side (run in the bench process);
- ``worker.py``: the entry point of those worker processes;
- ``loadclient.py`` and ``csrc/``: the echo load client (C, with a Python
  fallback) and the C reference server, built by ``cbuild.py``;
- ``proc.py``: child processes and the /proc CPU-time reading;
- ``loops.py``: which loops, and how a worker makes one;
- ``report.py``, ``plot.py``, ``progress.py``: what the user sees.
"""
