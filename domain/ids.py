"""Workflow ids come from business keys, in one place."""


def dispute_workflow_id(order_id: str) -> str:
    """One dispute per order."""
    return f"dispute-{order_id}"
