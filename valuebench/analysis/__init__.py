"""Analyses of value space: MDS maps, silhouettes against value labels, task-by-task agreement, figures
and a static HTML report. Each module is one idea; the leaderboard imports the figures and MDS from here.
"""
