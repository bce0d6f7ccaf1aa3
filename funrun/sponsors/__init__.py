"""Sponsors who pay members' contributions: their lists of eligible people and budgets."""
