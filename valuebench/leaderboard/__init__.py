"""The leaderboard: from a submission folder to the page.

``submissions`` (read and validate a folder or an upload) → ``submit`` (write a submission, open a Hub PR) →
``integrity`` (checks on the numbers: scores above a task's noise bound, private held-out tasks) →
``table`` (every score recomputed with ``scoring.score_many``; aggregates and ties) → ``build`` (everything the
page shows, written once into ``leaderboard/data/``) → ``view`` (table and filters over the built data) →
``app`` (the Gradio app; needs the ``leaderboard`` extra). The top-level ``leaderboard/`` folder is the Space:
its ``app.py`` only launches ``app.main``.
"""
