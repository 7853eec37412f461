#!/usr/bin/env python3
"""mail_drop.py DIR - a real SMTP server for the browser checks: prints the
KREISEL_* variables that point Kreisel at it as one JSON line, then writes
every delivered message to DIR/NNNN.json ({"to", "subject", "text"}) until
it is terminated.  The checks read the files to follow links in mails."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from smtp_sink import SmtpSink  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    with SmtpSink() as sink:
        print(json.dumps(sink.env(mail_poll_interval="1s")), flush=True)
        written = 0
        while running[0]:
            for m in sink.messages[written:]:
                path = os.path.join(out, "%04d.json" % written)
                with open(path + ".tmp", "w") as f:
                    json.dump({"to": m.to, "subject": m.message["Subject"], "text": m.text()}, f)
                os.rename(path + ".tmp", path)
                written += 1
            time.sleep(0.1)


if __name__ == "__main__":
    main()
