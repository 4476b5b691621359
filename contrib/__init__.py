"""VIP best practices: submission, review queue and publication into the knowledge base.

validate.py checks what customers send; render.py turns their Markdown into sanitized HTML;
queue.py owns submissions, revisions, comments and their audit trail; publish.py writes approved
practices into docs/practices/ and updates the index and the site.
"""
