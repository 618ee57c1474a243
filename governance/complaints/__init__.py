"""Complaints, refunds, attestations and their disputes, with business-hours SLAs."""
