"""Baselines a practitioner would reach for instead of RefSR."""
