"""Receipts: providers' delivery status callbacks."""
