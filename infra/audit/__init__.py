"""The auditor's side of the ledger: signed chain checkpoints, verification, the export bundle
with its standalone verifier, and personal data that can be erased without breaking the chain.
"""
