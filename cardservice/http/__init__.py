"""HTTP pieces both apps share (admin/holder app and merchant API), importing neither.

Problem details (RFC 9457), bearer parsing, bounded bodies with their media types, and the
client address behind a trusted proxy. The admin API and `merchant_api` both build on these,
so the read side needs nothing from `cardservice.api`.
"""
