"""Counters and the QR codes printed for them.

- `counters`: which counters get posters, key rotation and revocation.
- `qr_tokens`: signed, revocable counter tokens in the survey URL.
- `qr_images`: the QR code of a survey URL as SVG or PNG.
- `posters`: printable posters and sheets (HTML and PDF from the same templates).
"""
