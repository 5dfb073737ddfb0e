#!/usr/bin/env python3
"""The naive baseline that scripts/bench.sh compares ccp-disconnect with.

Loads the whole CCP log (a JSON array) with json.load, then applies the
Knowledge Center rule by regular expression on each entry's text: the first
`<id> SIGNALING TalkingState => PendingRemoteHangupState` is an agent hang-up,
`... => PendingLocalHangupState` a customer hang-up. No snapshot/bye race, no
missed calls, no network failures: this is the manual ritual, automated.

Usage: bench_baseline.py agent-log.txt
"""

import json
import re
import sys

KC = re.compile(
    r"(\S+) SIGNALING TalkingState => (PendingRemoteHangupState|PendingLocalHangupState)"
)
# A cheap substring test first: the unanchored `\S+` would otherwise backtrack
# quadratically over every long text without spaces (metrics, reports).
NEEDLE = "SIGNALING TalkingState => "


def main(path):
    with open(path, encoding="utf-8") as f:
        logs = json.load(f)
    verdicts = {}
    for entry in logs:
        text = entry.get("text")
        if not isinstance(text, str):
            continue
        m = NEEDLE in text and KC.search(text)
        if m and m.group(1) not in verdicts:
            verdicts[m.group(1)] = (
                "agent" if m.group(2) == "PendingRemoteHangupState" else "customer"
            )
    agent = sum(1 for v in verdicts.values() if v == "agent")
    print(
        json.dumps(
            {
                "entries": len(logs),
                "calls": len(verdicts),
                "agent": agent,
                "customer": len(verdicts) - agent,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
