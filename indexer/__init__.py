"""Turns the docs folder into articles, a Whoosh index and a static site.

Imports none of kb's other packages: analytics, contrib and kbserver build on it.
"""
