"""How well `bounces.parse` reads our own bounce corpus (tests/events/bounces, manifest.json), per set:
`tuned` (the mails the classifier was written against) and `holdout` (written after it, never tuned to).
Prints JSON.

    .venv/bin/python -m bench.bounces_bench [--corpus DIR]

For each set: mails, and how many were told apart right (bounce, delay, delivery, feedback, auto-reply,
challenge-response, none); over the recipients the manifest expects in bounces and delays: found (%), hard/soft
agreement (%), reason agreement (%); and how many expected-soft recipients were read as hard (the costly mistake: it
suppresses a good address). A recipient not found counts as a disagreement on both.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

from emailplatform.events import bounces

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "events" / "bounces"


def score(corpus: Path) -> dict:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    tallies: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, expected in manifest.items():
        report = bounces.parse((corpus / name).read_bytes())
        tally = tallies[expected.get("set", "tuned")]
        tally["mails"] += 1
        tally["kind_right"] += report.kind == expected["kind"]
        read = {r.email: r for r in report.recipients}
        for wanted in expected["recipients"] if expected["kind"] in ("bounce", "delay") else []:
            got = read.get(wanted["email"])
            tally["recipients"] += 1
            tally["found"] += got is not None
            tally["hard_soft_agree"] += got is not None and got.hard == wanted["hard"]
            tally["reason_agree"] += got is not None and got.reason == wanted["reason"]
            tally["soft_read_as_hard"] += got is not None and got.hard and not wanted["hard"]
    return {name: _figures(tally) for name, tally in sorted(tallies.items())}


def _figures(tally: dict[str, int]) -> dict:
    def percent(part: str, whole: str) -> float:
        return round(100 * tally[part] / tally[whole], 1) if tally[whole] else 0.0

    return {
        "mails": tally["mails"],
        "kind_right_pct": percent("kind_right", "mails"),
        "recipients": tally["recipients"],
        "found_pct": percent("found", "recipients"),
        "hard_soft_agreement_pct": percent("hard_soft_agree", "recipients"),
        "reason_agreement_pct": percent("reason_agree", "recipients"),
        "soft_read_as_hard": tally["soft_read_as_hard"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    print(json.dumps({"benchmark": "bounces", "corpus": str(args.corpus), "sets": score(args.corpus)}, indent=1))


if __name__ == "__main__":
    main()
