"""Tests of the delivery providers against local servers that speak the vendors' protocols."""
