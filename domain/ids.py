"""Workflow ids come from business keys, in one place."""


def dispute_workflow_id(order_id: str) -> str:
    """One dispute per order."""
    return f"dispute-{order_id}"


def ticket_workflow_id(ticket_id: str) -> str:
    """One workflow per help-center report."""
    return f"care-ticket-{ticket_id}"
