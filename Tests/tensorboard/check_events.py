#!/usr/bin/env python3
"""check_events.py RUN_DIR TAG [TAG...]

Loads the TensorBoard event files in RUN_DIR with TensorBoard's own reader (EventAccumulator, every
scalar kept) and prints, for each TAG, its number of points and its last (step, value). Exits 1 with
one line when a tag is missing or has no points, 2 on bad usage. Needs `pip install tensorboard`
(TensorFlow is not needed).
"""
import logging
import os
import sys


def main(argv):
    if len(argv) < 3:
        print("usage: check_events.py RUN_DIR TAG [TAG...]", file=sys.stderr)
        return 2
    run_dir, tags = argv[1], argv[2:]
    if not os.path.isdir(run_dir):
        print(f"check_events.py: '{run_dir}' is not a directory", file=sys.stderr)
        return 2
    if not any("tfevents" in f for f in os.listdir(run_dir)):
        print(f"check_events.py: no events.out.tfevents.* file in '{run_dir}'", file=sys.stderr)
        return 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # quiet the reader's notices, e.g. the purge of points a resumed run replaced
    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    acc.Reload()
    have = set(acc.Tags().get("scalars", []))
    for tag in tags:
        if tag not in have:
            found = ", ".join(sorted(have)) or "none"
            print(f"check_events.py: tag '{tag}' not found in '{run_dir}' (scalar tags: {found})", file=sys.stderr)
            return 1
        points = acc.Scalars(tag)
        if not points:
            print(f"check_events.py: tag '{tag}' has no points in '{run_dir}'", file=sys.stderr)
            return 1
        last = points[-1]
        print(f"{tag}: {len(points)} points, last step {last.step} value {last.value:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
