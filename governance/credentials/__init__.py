"""Attestations as Open Badges 3.0 credentials: issuance, Data Integrity proofs, status lists, verification.

This package sits above the domains (it reads complaints' attestations and vetting's
decisions) and below the wiring, which plugs it into the attestation hooks.
"""
