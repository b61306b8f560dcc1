#!/usr/bin/env python3
"""Reads a run's TensorBoard folder with the real `tensorboard` package and prints what it sees.

    python3 -m venv .venv-tb && .venv-tb/bin/pip install tensorboard
    .venv-tb/bin/python scripts/check_tensorboard.py output/<run>/runs [TAG ...]

Prints each event file (in the order TensorBoard reads them) with its file_version and
SessionLog START steps, then every scalar tag with its (step, value) list as TensorBoard's
EventAccumulator keeps them (orphaned steps purged). Exits 1 when a TAG given on the command
line is missing, 2 when the folder holds no event file.
"""

import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    logdir, expected = argv[1], argv[2:]
    files = sorted(f for f in os.listdir(logdir) if "tfevents" in f)
    if not files:
        print(f"no event files in {logdir}", file=sys.stderr)
        return 2
    for name in files:
        # EventFileLoader checks both masked CRC32Cs of every record.
        events = list(event_file_loader.EventFileLoader(os.path.join(logdir, name)).Load())
        versions = [e.file_version for e in events if e.HasField("file_version")]
        starts = [
            e.step
            for e in events
            if e.HasField("session_log") and e.session_log.status == event_pb2.SessionLog.START
        ]
        print(f"{name}: {len(events)} events, file_version {versions}, START at steps {starts}")

    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.SCALARS: 0}
    )
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in sorted(tags):
        points = [(s.step, round(s.value, 6)) for s in acc.Scalars(tag)]
        print(f"{tag}: {points}")
    missing = [t for t in expected if t not in tags]
    if missing:
        print(f"missing tags: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
