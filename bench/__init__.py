"""``make bench``: figures of the Items API, each side by side with a baseline in the same run.

Run with ``python -m bench``; results go to ``bench/results.json``. Times are medians of many
repetitions and are reported as ratios, because these machines are noisy.
"""
