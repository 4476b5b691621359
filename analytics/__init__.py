"""The event log and, from it, the work for knowledge managers. store.py opens the database."""
