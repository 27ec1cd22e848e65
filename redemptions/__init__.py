"""Redemptions: the benefits merchants granted, as events in their own context.

Written by the merchant API, which holds no secret: the events carry ids, counts, region
codes and times, no personal data, so the store needs no cipher key. It never imports the
write side's applications or API (an import-linter contract).
"""
