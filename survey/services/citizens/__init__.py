"""Citizens' side: a scanned code to a survey, and a submitted form to one stored response.

- `surveys`: the counter a token names, and the instrument its unit uses that day.
- `form_nonce`: the signed single-use nonce issued with every form (one response per form).
- `submissions`: strict validation of a posted form, then storing it exactly once.
- `text`: the canonical form of free text before it is checked and stored.
- `intake`: an accepted form through the limits and the plausibility flags to one stored response.
- `limits`: submission limits per browser, address and counter, in a store shared by all workers.
- `browser_cookie`: the signed first-party cookie that tells browsers behind one address apart.
- `plausibility`: the flags raised in the submit path, their reason codes and wording.
- `flag_review`: managers' list of flagged responses, and their reinstate/confirm decisions.
- `receipts`: one response per dossier: the receipt number, canonicalised, kept only as an HMAC.
- `receipt_links`: the single-use per-dossier survey link (QR on the slip) minted through the API.
- `kiosk_queue`: answers a registered tablet queued offline: its nonce stock and the queue's window.
"""
