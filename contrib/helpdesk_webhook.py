"""Wire kb into a helpdesk: a worked example of the agent API.

A helpdesk (Zendesk, Freshdesk, a home-grown one ...) can call a webhook when a ticket is created.
Point that webhook at this script (or copy its three calls into your integration):

    python contrib/helpdesk_webhook.py --kb http://127.0.0.1:8000 --token kb_... ticket.json
    echo '{"id": "ZD-1", "subject": "导入Excel报错", "body": "您好..."}' | python contrib/helpdesk_webhook.py -

It prints the suggested articles; with --link N it records article N as sent on the ticket and
prints the Markdown link to paste into the reply; with --outcome solved|not_helped REF it reports
what happened. Only the standard library is used, so it runs anywhere Python does.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request


def call(kb: str, token: str, path: str, payload: dict) -> dict:
    """POST JSON to kb with the token; returns the JSON answer (errors included)."""
    request = urllib.request.Request(kb.rstrip("/") + path, data=json.dumps(payload).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read().decode("utf-8") or "{}")
        except ValueError:
            return {"error": {"message": f"HTTP {exc.code} from {kb}"}}
    except (urllib.error.URLError, OSError) as exc:
        return {"error": {"message": f"cannot reach kb at {kb}: {getattr(exc, 'reason', exc)}"}}


def _failed(answer: dict) -> bool:
    if "error" in answer:
        print(f"kb refused: {answer['error'].get('message')}", file=sys.stderr)
        return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Suggest kb articles for a helpdesk ticket.")
    parser.add_argument("ticket", nargs="?", help="ticket JSON file ({id, subject, body}); - for stdin")
    parser.add_argument("--kb", default="http://127.0.0.1:8000", help="kb's address")
    parser.add_argument("--token", required=True, help="an agent's API token (kb users add NAME --role agent)")
    parser.add_argument("--link", type=int, help="record suggestion N (1-based) as sent and print its link")
    parser.add_argument("--outcome", nargs=2, metavar=("OUTCOME", "REF"), help="report solved|not_helped for a ref")
    args = parser.parse_args(argv)
    if args.outcome:
        answer = call(args.kb, args.token, "/api/agent/outcome", {"outcome": args.outcome[0], "ref": args.outcome[1]})
        if _failed(answer):
            return 1
        print(f"recorded: {answer['outcome']} for {answer['slug']} on ticket {answer['ticket_id']}")
        return 0
    if not args.ticket:
        parser.error("give a ticket file (or - for stdin)")
    source = sys.stdin if args.ticket == "-" else open(args.ticket, encoding="utf-8")
    ticket = json.load(source)
    answer = call(args.kb, args.token, "/api/agent/suggest", {"subject": ticket.get("subject", ""),
                                                             "body": ticket.get("body", "")})
    if _failed(answer):
        return 1
    print("key phrases: " + " / ".join(answer["phrases"]))
    for i, hit in enumerate(answer["results"], 1):
        print(f"{i}. {hit['title']}  ({hit['slug']})")
    if args.link:
        if not 1 <= args.link <= len(answer["results"]):
            print(f"--link must be between 1 and {len(answer['results'])}", file=sys.stderr)
            return 2
        hit = answer["results"][args.link - 1]
        link = call(args.kb, args.token, "/api/agent/links", {"ticket_id": str(ticket.get("id", "")), "slug": hit["slug"],
                                                               "phrases": answer["phrases"]})
        if _failed(link):
            return 1
        print(link["formats"]["markdown"])
        print(f"ref: {link['ref']}  (report the outcome later with --outcome solved|not_helped {link['ref']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
