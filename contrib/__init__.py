"""VIP best practices: submission, review and publication (issue 4; not built yet)."""
