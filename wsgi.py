"""The WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import gc

from funrun import create_app

app = create_app()
# What start-up made lives as long as the process: the garbage collector need not walk it
# again. Without this a worker's full collection walked its ~157,000 start-up objects, 82-97
# ms idle and 136-212 ms in a rush (bench/opening.py: one in each worker a run) while it
# answered nothing; frozen, 7-25 ms.
gc.freeze()
